/* Dense operations on packed token rows: linear layers (the GEMM layer, gemm.h), LayerNorm, activations. */
#include <math.h>
#include <string.h>

#include "bertology/engine.h"
#include "gemm.h"
#include "ops.h"
#include "vmath.h"

/* ------------------------------------------------------------------------------------------ */
/* linear: y = x W^T + b */

void op_linear_forward(float *y, const float *x, const float *w, const float *b, int N, int IC, int OC) {
    if (N == 0 || OC == 0) return;
    float beta = 0.0f;
    if (b) {
        /* Seeding y with the bias lets sgemm add the product with beta = 1: one pass over y. */
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) memcpy(y + (size_t)n * OC, b, (size_t)OC * sizeof(float));
        beta = 1.0f;
    }
    if (IC == 0) {
        if (!b) memset(y, 0, (size_t)N * OC * sizeof(float));
        return;
    }
    eng_gemm('N', 'T', N, OC, IC, 1.0f, x, IC, w, IC, beta, y, OC);
}

void op_linear_backward(float *dx, const float *dy, const float *w, int N, int IC, int OC, int accumulate) {
    if (N == 0 || IC == 0) return;
    if (OC == 0) {
        if (!accumulate) memset(dx, 0, (size_t)N * IC * sizeof(float));
        return;
    }
    eng_gemm('N', 'N', N, IC, OC, 1.0f, dy, OC, w, IC, accumulate ? 1.0f : 0.0f, dx, IC);
}

void op_add_inplace(float *y, const float *x, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

/* ------------------------------------------------------------------------------------------ */
/* LayerNorm over the last dimension (biased variance, as torch.nn.LayerNorm) */

void op_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *g,
                          const float *b, int N, int D, float eps) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * D;
        float *o = out + (size_t)n * D;
        /* Two passes in double: the mean of 768 floats near 1e2 loses digits in float. */
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (int i = 0; i < D; i++) s += xr[i];
        const double m = s / D;
        double v = 0.0;
#pragma omp simd reduction(+ : v)
        for (int i = 0; i < D; i++) {
            const double d = xr[i] - m;
            v += d * d;
        }
        const float r = (float)(1.0 / sqrt(v / D + (double)eps));
        const float mf = (float)m;
#pragma omp simd
        for (int i = 0; i < D; i++) o[i] = (xr[i] - mf) * r * g[i] + b[i];
        if (mean) mean[n] = mf;
        if (rstd) rstd[n] = r;
    }
}

void op_layernorm_backward(float *dx, const float *dout, const float *x, const float *mean,
                           const float *rstd, const float *g, int N, int D) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * D, *dr = dout + (size_t)n * D;
        float *o = dx + (size_t)n * D;
        const float m = mean[n], r = rstd[n];
        /* dx = r * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dout * g */
        float s1 = 0.0f, s2 = 0.0f;
#pragma omp simd reduction(+ : s1, s2)
        for (int i = 0; i < D; i++) {
            const float dxh = dr[i] * g[i];
            s1 += dxh;
            s2 += dxh * (xr[i] - m) * r;
        }
        s1 /= (float)D;
        s2 /= (float)D;
#pragma omp simd
        for (int i = 0; i < D; i++) o[i] = r * (dr[i] * g[i] - s1 - (xr[i] - m) * r * s2);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* activations */

#define SQRT_HALF 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f
#define SQRT_2_OVER_PI 0.79788456080286535588f
#define GELU_TANH_C 0.044715f

void op_act_forward(float *out, const float *in, size_t n, int act) {
    switch (act) {
    case BT_ACT_GELU:
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) out[i] = 0.5f * in[i] * (1.0f + erff(in[i] * SQRT_HALF));
        break;
    case BT_ACT_GELU_TANH:
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) {
            const float x = in[i];
            out[i] = 0.5f * x * (1.0f + tanhf(SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x)));
        }
        break;
    default:
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
        break;
    }
}

void op_act_backward(float *d, const float *in, size_t n, int act) {
    switch (act) {
    case BT_ACT_GELU:
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) {
            const float x = in[i];
            const float cdf = 0.5f * (1.0f + erff(x * SQRT_HALF));
            const float pdf = INV_SQRT_2PI * expf(-0.5f * x * x);
            d[i] *= cdf + x * pdf;
        }
        break;
    case BT_ACT_GELU_TANH:
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) {
            const float x = in[i];
            const float u = SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x);
            const float t = tanhf(u);
            const float du = SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_TANH_C * x * x);
            d[i] *= 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
        }
        break;
    default:
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) d[i] = in[i] > 0.0f ? d[i] : 0.0f;
        break;
    }
}
