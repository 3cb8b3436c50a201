/* Vector variants of libm's float functions for the engine's elementwise loops.
 *
 * glibc's libmvec has AVX2/AVX-512 versions of expf, logf, erff and tanhf (at most 4 ulp of
 * error), but math.h announces them only under -ffast-math, which would also let the compiler
 * reorder sums and drop inf/NaN handling everywhere. Declaring the simd attribute here, for
 * these four functions only, gives the loops marked `omp simd` the vector calls without
 * fast-math. Without it GELU's erff alone costs about as much as a third of the layer's GEMMs. */
#ifndef BT_ENGINE_VMATH_H
#define BT_ENGINE_VMATH_H

#include <math.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__FAST_MATH__) && !defined(BT_NO_LIBMVEC)
float expf(float) __attribute__((simd("notinbranch")));
float logf(float) __attribute__((simd("notinbranch")));
float erff(float) __attribute__((simd("notinbranch")));
float tanhf(float) __attribute__((simd("notinbranch")));
#endif

#endif
