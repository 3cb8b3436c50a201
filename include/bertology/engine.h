/* engine: pure compute for BERT-family encoders and GPT-family decoders with head gates.
 *
 * Knows nothing of files, MPI, HDF5 or GLUE. Input: packed token ids, token types, sequence
 * lengths, head gates, labels. Output: logits, per-example loss, per-example gate gradients,
 * per-example attention entropy and, on request, attention probabilities and hidden states.
 *
 * Shapes use these names throughout:
 *   L layers, D d_model, H heads per layer as configured, dh head size, Hl heads present in
 *   layer l (pruning removes heads), Dl = Hl*dh, F d_ff, V vocab, P max positions,
 *   C labels, B sequences in a batch, T_b length of sequence b, N = sum_b T_b tokens.
 * Sequences are packed without padding: token i of sequence b sits at row off_b + i of every
 * [N, ...] buffer, off_b = T_0 + ... + T_{b-1}.
 */
#ifndef BERTOLOGY_ENGINE_H
#define BERTOLOGY_ENGINE_H

#include <signal.h>
#include <stddef.h>

#include "bertology/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BT_MAX_LAYERS 64
#define BT_MAX_HEADS 64

typedef enum {
    BT_ARCH_BERT = 0, /* post-LayerNorm encoder, bidirectional (BERT, RoBERTa, DistilBERT) */
    BT_ARCH_GPT2 = 1, /* pre-LayerNorm decoder, causal, final ln_f */
    BT_ARCH_GPT = 2   /* post-LayerNorm decoder, causal (openai-gpt) */
} bt_arch;

typedef enum {
    BT_ACT_GELU = 0,      /* x/2 (1 + erf(x/sqrt 2)) */
    BT_ACT_GELU_TANH = 1, /* gelu_new: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    BT_ACT_RELU = 2
} bt_act;

typedef enum {
    BT_HEAD_NONE = 0,     /* encoder only (BertModel): forward and tensor dumps, no loss */
    BT_HEAD_CLASSIFY = 1, /* pooler (if has_pooler) + linear classifier, cross-entropy */
    BT_HEAD_REGRESS = 2,  /* as CLASSIFY with C = 1 and squared error */
    BT_HEAD_LM = 3        /* tied LM head, mean next-token cross-entropy */
} bt_head_kind;

typedef enum {
    BT_POOL_TANH = 0,
    BT_POOL_RELU = 1
} bt_pooler_act;

typedef struct {
    int arch;            /* bt_arch */
    int n_layers;        /* L */
    int d_model;         /* D */
    int n_heads;         /* H, as configured (before pruning) */
    int d_head;          /* dh = D / H */
    int d_ff;            /* F */
    int vocab_size;      /* V */
    int max_pos;         /* P, rows of the position table */
    int type_vocab;      /* rows of the token-type table; 0 = the model has none */
    int pos_offset;      /* position id of a sequence's first token (RoBERTa: padding_idx + 1) */
    int n_labels;        /* C (1 for regression, 0 for BT_HEAD_NONE / BT_HEAD_LM) */
    int head;            /* bt_head_kind */
    int has_pooler;      /* a dense layer act(W h + b) before the classifier: BERT's pooler, RoBERTa's
                            classifier.dense (tanh), DistilBERT's pre_classifier (relu) */
    int pooler_act;      /* bt_pooler_act */
    int cls_last;        /* classify from the last token (GPT-2) instead of the first (BERT) */
    int act;             /* bt_act */
    float ln_eps;
    int layer_heads[BT_MAX_LAYERS];                    /* Hl */
    signed char head_id[BT_MAX_LAYERS][BT_MAX_HEADS];  /* original index of present head j */
} bt_config;

/* Fills layer_heads = H and head_id = identity for every layer (an unpruned model). */
void bt_config_unpruned(bt_config *cfg);

/* Checks dimensions for consistency (D = H*dh, head ids distinct and < H, limits). */
int bt_config_check(const bt_config *cfg, bt_error *err);

/* Views into the one contiguous parameter block. Matrices are row-major [out, in] (a linear
 * layer computes y = x W^T + b), whatever layout the weights file stored. */
typedef struct {
    float *wqkv, *bqkv;   /* [3*Dl, D], [3*Dl]: query rows of every present head, then key, value */
    float *wo, *bo;       /* [D, Dl], [D] */
    float *ln1_g, *ln1_b; /* [D]: BERT after attention; GPT-2 before attention */
    float *w1, *b1;       /* [F, D], [F] */
    float *w2, *b2;       /* [D, F], [D] */
    float *ln2_g, *ln2_b; /* [D]: BERT after the FFN; GPT-2 before the FFN */
} bt_layer_params;

typedef struct {
    float *wte;                 /* [V, D] */
    float *wpe;                 /* [P, D] */
    float *wtt;                 /* [type_vocab, D] or NULL */
    float *emb_ln_g, *emb_ln_b; /* [D] embedding LayerNorm (BERT) or NULL */
    bt_layer_params layer[BT_MAX_LAYERS];
    float *lnf_g, *lnf_b;       /* [D] final LayerNorm (GPT-2) or NULL */
    float *pool_w, *pool_b;     /* [D, D], [D] or NULL */
    float *cls_w, *cls_b;       /* [C, D], [C] or NULL (LM head is tied to wte); weights
                                   without a classifier bias (GPT-2's score) load zeros */
} bt_params;

/* Number of floats of the parameter block for cfg. */
size_t bt_params_count(const bt_config *cfg);
/* Points every view of p into block (which holds bt_params_count(cfg) floats). */
void bt_params_map(const bt_config *cfg, float *block, bt_params *p);

/* What the engine must be able to hold; buffers are sized once from these. */
typedef struct {
    int max_tokens;    /* N per batch */
    int max_seqs;      /* B per batch */
    int max_len;       /* longest T_b (<= P - pos_offset) */
    int backward;      /* keep what the backward pass to the gates needs */
    int attentions;    /* keep every layer's attention probabilities for bt_engine_copy_attention */
    int hidden;        /* keep every layer's hidden states for bt_engine_copy_hidden */
    int attention_grad; /* with backward: keep one layer's gradient with respect to its
                           probabilities for bt_engine_copy_attention_grad (the attribution) */
} bt_engine_limits;

typedef struct {
    int n_seqs;         /* B */
    const int *lens;    /* [B] T_b >= 1 */
    const int *ids;     /* [N] token ids */
    const int *types;   /* [N] token-type ids, or NULL for all 0 */
    const int *labels;  /* [B] class ids (BT_HEAD_CLASSIFY), or NULL */
    const float *targets; /* [B] regression targets (BT_HEAD_REGRESS), or NULL */
} bt_batch;

enum {
    BT_FWD_ENTROPY = 1 /* compute the per-head attention entropy */
};

typedef struct bt_engine bt_engine;

/* params is borrowed and must outlive the engine. */
int bt_engine_create(const bt_config *cfg, const bt_params *params, const bt_engine_limits *lim,
                     bt_engine **out, bt_error *err);
void bt_engine_free(bt_engine *e);
/* Bytes of activation buffers the engine allocated (parameters not included). */
size_t bt_engine_bytes(const bt_engine *e);
/* A stop request, polled before every layer of a forward or backward and twice inside one (NULL,
 * the default: none). Once *stop is non-zero (it must then stay so until the call returns) the
 * call abandons the batch and returns BT_EINTERRUPTED; the batch's results are undefined, the
 * next forward starts afresh. The flag is the caller's (set by a thread taking signals,
 * bertology/signals.h): a bert-base batch of 2048 tokens takes seconds, the longest stretch
 * between two polls (its feed-forward block) about 50 ms on one core. */
void bt_engine_set_stop(bt_engine *e, const volatile sig_atomic_t *stop);

/* Threads for BLAS and for the engine's own loops (process-wide setting). */
void bt_engine_set_threads(int n);
/* The thread count in use (the last bt_engine_set_threads, else OpenMP's default). */
int bt_engine_threads(void);

/* NULL, or a one-line warning when the CBLAS backend is in use and OpenBLAS runs kernels far
 * below what the CPU can do (never for oneDNN, which picks its kernels by CPUID): OpenBLAS
 * 0.3.21 (Debian bookworm) does not know recent Xeons and falls back to its generic SSE3
 * "Prescott" kernels, about 5x slower than its AVX-512 ones, unless OPENBLAS_CORETYPE says
 * which to use. The CLI prints it; the engine never prints. */
const char *bt_engine_blas_warning(void);

/* GEMM backends (docs/engine.md "GEMM backends"): every product of the engine goes through one
 * of them. BT_GEMM_AUTO takes oneDNN when it is built in, else CBLAS (a rule, so that every rank
 * chooses the same). Process-wide, like the thread count; results differ between backends in the
 * last bits only. */
enum { BT_GEMM_AUTO = 0, BT_GEMM_BLAS = 1, BT_GEMM_ONEDNN = 2, BT_GEMM_ONEDNN_BF16 = 3 };
/* BT_GEMM_ONEDNN_BF16: reduced precision, only when asked for (auto never takes it): the dense
 * products in bfloat16 with float32 accumulation, on CPUs with AVX512_BF16 or AMX; results
 * differ from float32 beyond the last bits (docs/engine.md "bf16 products"). */
/* "auto", "blas", "onednn", "onednn-bf16" -> BT_GEMM_*; -1 for anything else. */
int bt_gemm_parse(const char *name, int *kind);
const char *bt_gemm_name(int kind);
/* 1 if this build has the backend. */
int bt_gemm_available(int kind);
/* Library, version and kernel of a built backend ("dnnl_sgemm, oneDNN 2.6.3, ISA avx512_core_bf16",
 * "cblas_sgemm, OpenBLAS 0.3.21 ... Haswell ..., core Haswell"); NULL if not built. */
const char *bt_gemm_info(int kind);
/* BT_EINPUT when the backend is not built in. */
int bt_engine_set_gemm(int kind, bt_error *err);
/* The backend in use (auto resolved): BT_GEMM_BLAS or BT_GEMM_ONEDNN. */
int bt_engine_gemm(void);
/* The backend in use and bt_gemm_info of it, e.g.
 * "onednn (dnnl_sgemm, oneDNN 2.6.3, ISA avx512_core_bf16)"; for run.h5 and --verbose. */
const char *bt_engine_gemm_info(void);
/* Instruction-set levels of oneDNN's kernels (docs/engine.md "What is bitwise"): kernels of
 * different levels sum in different orders, so every rank of a run, and a resumed run, must run
 * the same. */
enum { BT_ISA_NONE = 0, BT_ISA_SSE41, BT_ISA_AVX, BT_ISA_AVX2, BT_ISA_AVX512, BT_ISA_AVX512_BF16, BT_ISA_AMX };
const char *bt_isa_name(int level); /* "sse41" ... "avx512_core_amx" */
/* The highest level oneDNN may use in this process: the CPU's, capped by ONEDNN_MAX_CPU_ISA or
 * DNNL_MAX_CPU_ISA as oneDNN reads them, and by bt_engine_cap_isa. Does not fix oneDNN's
 * choice. BT_ISA_NONE without oneDNN. */
int bt_engine_isa_level(void);
/* oneDNN runs kernels of at most `level` from now on. Only before oneDNN's first product or
 * bt_gemm_info/bt_engine_kernels (BT_EINTERNAL after); a no-op without oneDNN. */
int bt_engine_cap_isa(int level, bt_error *err);
/* The instruction set a built backend's kernels use ("avx2", "avx512_core", for OpenBLAS by its
 * core: "avx512", "avx2", "sse4.2" ...); NULL if not built. */
const char *bt_gemm_isa(int kind);
/* The kernels of the backend in use, as a short id that is equal exactly when two processes
 * compute the same bits for the same product on the same thread count: "onednn/avx512_core"
 * (float32: the levels above avx512_core run its kernels), "onednn-bf16/avx512_core_amx",
 * "blas/Haswell" (OpenBLAS's core). */
const char *bt_engine_kernels(void);
/* C[M,N] = alpha op(A) op(B) + beta C (row-major, ta/tb 'N' or 'T') with the backend in use:
 * for `bertology bench`, which measures the products the engine runs. */
void bt_engine_sgemm(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc);

/* gates: [L, H] indexed by original head id, or NULL for all ones. Labels/targets are needed
 * only for the loss; without them loss is not computed and backward is refused. */
int bt_engine_forward(bt_engine *e, const bt_batch *batch, const float *gates, int flags,
                      bt_error *err);
/* The same forward, starting at layer `first` from a given hidden state x_in [N, D] (the input of
 * layer `first`, as bt_engine_copy_hidden(..., first, ...) returned it for the same batch). Layers
 * below `first` are not run: for ablation, whose masks differ only from some layer up. Entropy
 * of the skipped layers is reported as 0. */
int bt_engine_forward_from(bt_engine *e, const bt_batch *batch, const float *gates, int flags,
                           int first, const float *x_in, bt_error *err);
/* The same forward from layer `first`, with layer `layer`'s attention probabilities of sequence
 * b multiplied by alpha[b] (on top of the gates): the attribution's scaled copies of an example
 * travel as one batch, each copy with its own alpha (docs/attribution.md). The scale applies to
 * this forward and to the backward after it. */
int bt_engine_forward_scaled(bt_engine *e, const bt_batch *batch, const float *gates, int flags, int first,
                             const float *x_in, int layer, const float *alpha, bt_error *err);
/* The packed hidden state l of the last forward, [N, D] (needs limits.hidden, or l = L). */
const float *bt_engine_hidden(const bt_engine *e, int l);

/* Backward from the sum of the per-example losses down to the gates of layer 0. Because the
 * sequences do not interact, this gives every example's own gate gradient. */
int bt_engine_backward(bt_engine *e, bt_error *err);

/* What a backward differentiates: the sum over sequences of their loss, or of their target F_b:
 * the probability of the label's class (a classifier; the label may be any class, e.g. the
 * predicted one) or the output itself (a regressor). */
enum { BT_SEED_LOSS = 0, BT_SEED_TARGET = 1 };
/* Backward from the seed down to layer `layer` only (layers below it untouched, their gate
 * gradients left as they were), keeping dF/dX of layer `layer`'s probabilities X (gated and
 * scaled, as the layer used them) for bt_engine_copy_attention_grad. Needs limits.attention_grad,
 * a sequence head with labels (targets for a regressor), and a forward that ran layer `layer`
 * (bt_engine_forward_from/_scaled with first <= layer). */
int bt_engine_backward_attention(bt_engine *e, int layer, int seed, bt_error *err);
/* dF/dX of sequence b from the last bt_engine_backward_attention into dst [H, T_b, T_b] (absent
 * heads zero). */
int bt_engine_copy_attention_grad(const bt_engine *e, int b, float *dst, bt_error *err);

/* What stays valid after which call. The buffers are carved once at creation (engine.c carve(),
 * regions listed in engine_internal.h), and a forward-only engine shares one slot between its
 * layers, so a result is only what the last call wrote:
 *   bt_engine_forward       logits, loss (with labels or an LM head), entropy (BT_FWD_ENTROPY,
 *                           else 0); attention of every layer with limits.attentions or
 *                           .backward, else of the last layer only; hidden state of every layer
 *                           with limits.hidden, else of the last two (L-1 and L). The gate
 *                           gradients are those of an earlier backward until bt_engine_backward.
 *   bt_engine_forward_from  the same for layers >= first. Attention below `first` is refused by
 *     (first)               bt_engine_copy_attention (it belongs to an earlier forward), entropy
 *                           below it is 0, and hidden states below it are left as an earlier
 *                           forward wrote them (the ablation's cache: only the caller knows for
 *                           which batch).
 *   bt_engine_backward      gate_grad and gate_grad_tok; the forward's results stay valid.
 * The next forward of either kind overwrites all of them. */
const float *bt_engine_logits(const bt_engine *e);        /* [B, C] */
const double *bt_engine_loss(const bt_engine *e);         /* [B] */
const double *bt_engine_gate_grad(const bt_engine *e);    /* [B, L, H] g[l,h](x); absent heads 0 */
const double *bt_engine_gate_grad_tok(const bt_engine *e);/* [B, L, H] sum_t |<dL/d(xi ctx)_t, ctx_t>| */
const double *bt_engine_entropy(const bt_engine *e);      /* [B, L, H] sum over query tokens */

/* Gated (and scaled, bt_engine_forward_scaled) attention probabilities of sequence b in layer l
 * into dst [H, T_b, T_b] (absent heads zero); needs limits.attentions (or .backward), and layer l computed by the last forward (not
 * below the `first` of bt_engine_forward_from): otherwise an error, never stale numbers. */
int bt_engine_copy_attention(const bt_engine *e, int b, int l, float *dst, bt_error *err);
/* Attention rollout (Abnar & Zuidema 2020; docs/spec.md) of sequence b of the last forward into
 * dst [T_b]: row `row` of Â_{L-1} ... Â_0, where Â_l = rownormalise(0.5 mean_j(g_j P_j) + 0.5 I)
 * over layer l's present heads j (gated probabilities, as bt_engine_copy_attention gives them;
 * a layer without heads is I). Needs limits.attentions and a full forward (not
 * bt_engine_forward_from with first > 0). Uses scratch carved at creation: not for two threads
 * on one engine at once. */
int bt_engine_rollout(const bt_engine *e, int b, int row, float *dst, bt_error *err);
/* Hidden state l (0 = embeddings output, l = output of layer l-1) of sequence b into
 * dst [T_b, D]; needs limits.hidden. */
int bt_engine_copy_hidden(const bt_engine *e, int b, int l, float *dst, bt_error *err);

#ifdef __cplusplus
}
#endif
#endif
