/* bertology forward: the engine on explicit token ids, raw outputs as .npy files.
 *
 * For checking the engine against other implementations and for researchers who tokenise
 * elsewhere. Sequences are packed in file order into batches of at most --batch-tokens tokens. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/engine.h"
#include "bertology/model.h"
#include "bertology/npy.h"
#include "commands.h"
#include "run_opts.h"

typedef struct {
    int n;        /* lines */
    int *len;     /* [n] values per line */
    int *off;     /* [n] first value of each line */
    double *val;  /* all values */
    int total;
} number_lines;

static void lines_free(number_lines *f) {
    free(f->len), free(f->off), free(f->val);
    memset(f, 0, sizeof *f);
}

/* Appends v to out (line structure kept by the caller); checked growth. */
static int push_value(number_lines *out, size_t *cap_v, double v, bt_error *err) {
    if (bt_grow((void **)&out->val, cap_v, (size_t)out->total + 1, sizeof(double), "the numbers of a file", err))
        return BT_EINTERNAL;
    out->val[out->total++] = v;
    return BT_OK;
}

/* Reads whitespace-separated numbers, one record per line (blank lines are records of 0). */
static int read_lines(const char *path, number_lines *out, bt_error *err) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) return bt_error_set(err, BT_EINPUT, "%s: %s", path, strerror(errno));
    size_t cap_len = 0, cap_off = 0, cap_v = 0;
    char *line = NULL;
    size_t lcap = 0;
    int rc = BT_OK;
    while (!rc && getline(&line, &lcap, f) != -1) {
        if (out->n == INT32_MAX) {
            rc = bt_error_set(err, BT_EINPUT, "%s: too many lines", path);
            break;
        }
        if (bt_grow((void **)&out->len, &cap_len, (size_t)out->n + 1, sizeof(int), "the lines of a file", err) ||
            bt_grow((void **)&out->off, &cap_off, (size_t)out->n + 1, sizeof(int), "the lines of a file", err)) {
            rc = BT_EINTERNAL;
            break;
        }
        out->off[out->n] = out->total;
        int k = 0;
        char *p = line, *end;
        for (;;) {
            while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
            if (!*p) break;
            errno = 0;
            const double v = strtod(p, &end);
            if (end == p || errno) {
                const int w = (int)strcspn(p, " \t\r\n");
                rc = bt_error_set(err, BT_EINPUT, "%s:%d: '%.*s' is not a number", path, out->n + 1, w < 32 ? w : 32, p);
                break;
            }
            if (out->total == INT32_MAX) rc = bt_error_set(err, BT_EINPUT, "%s: too many numbers", path);
            if (rc || (rc = push_value(out, &cap_v, v, err))) break;
            k++;
            p = end;
        }
        if (!rc) out->len[out->n++] = k;
    }
    free(line);
    fclose(f);
    if (rc) lines_free(out);
    return rc;
}

static int write_npy(const char *dir, const char *name, bt_npy_dtype dt, int ndim, const int64_t *shape,
                     const void *data, bt_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return bt_npy_write(path, dt, ndim, shape, data, err);
}

/* The flags forward reads (its rows of the flag table, bertology/run.h). */
typedef bt_run_options forward_args;

typedef struct {
    number_lines ids, types, labels;
    float *gates;
    int max_len;
} forward_inputs;

static void inputs_free(forward_inputs *in) {
    lines_free(&in->ids), lines_free(&in->types), lines_free(&in->labels);
    free(in->gates);
}

/* Line b of the inputs against the model; messages name the file and the line. */
static int check_line(const forward_args *a, const forward_inputs *in, const bt_config *c, int b, bt_error *err) {
    const number_lines *ids = &in->ids, *types = &in->types, *labels = &in->labels;
    if (ids->len[b] < 1) return bt_error_set(err, BT_EINPUT, "%s:%d: empty sequence", a->ids_path, b + 1);
    if (a->types_path && (types->n <= b || types->len[b] != ids->len[b]))
        return bt_error_set(err, BT_EINPUT, "%s:%d: %d token types for %d ids", a->types_path, b + 1,
                            types->n <= b ? 0 : types->len[b], ids->len[b]);
    if (a->labels_path && (labels->n <= b || labels->len[b] != 1))
        return bt_error_set(err, BT_EINPUT, "%s:%d: expected one label", a->labels_path, b + 1);
    if (ids->len[b] > c->max_pos - c->pos_offset)
        return bt_error_set(err, BT_EINPUT, "%s:%d: %d tokens exceed the model's %d positions", a->ids_path, b + 1,
                            ids->len[b], c->max_pos - c->pos_offset);
    /* checked here, not only by the engine, so that the message names the file and line */
    const int n_types = c->type_vocab > 0 ? c->type_vocab : 1;
    for (int t = 0; t < ids->len[b]; t++) {
        const double id = ids->val[ids->off[b] + t];
        if (id != (int)id || id < 0 || id >= c->vocab_size)
            return bt_error_set(err, BT_EINPUT, "%s:%d: token %d is %g, outside the vocabulary 0..%d", a->ids_path, b + 1,
                                t + 1, id, c->vocab_size - 1);
        const double ty = a->types_path ? types->val[types->off[b] + t] : 0;
        if (a->types_path && (ty != (int)ty || ty < 0 || ty >= n_types))
            return bt_error_set(err, BT_EINPUT, "%s:%d: token type %g outside 0..%d", a->types_path, b + 1, ty, n_types - 1);
    }
    if (a->labels_path && c->head == BT_HEAD_CLASSIFY) {
        const double y = labels->val[b];
        if (y != (int)y || y < 0 || y >= c->n_labels)
            return bt_error_set(err, BT_EINPUT, "%s:%d: label %g outside the model's classes 0..%d", a->labels_path, b + 1,
                                y, c->n_labels - 1);
    }
    if (a->labels_path && c->head == BT_HEAD_REGRESS && !isfinite(labels->val[b]))
        return bt_error_set(err, BT_EINPUT, "%s:%d: regression target is not a finite number", a->labels_path, b + 1);
    return BT_OK;
}

static int read_gates(const char *path, int L, int H, float **gates, bt_error *err) {
    bt_npy_info info;
    int rc = bt_npy_read_f32(path, &info, gates, err);
    if (rc) return rc;
    if (info.ndim != 2 || info.shape[0] != L || info.shape[1] != H)
        return bt_error_set(err, BT_EINPUT, "%s: gates must have shape [%d, %d]", path, L, H);
    for (int i = 0; i < L * H; i++)
        if (!isfinite((*gates)[i]))
            return bt_error_set(err, BT_EINPUT, "%s: gate [%d, %d] is not a finite number", path, i / H, i % H);
    return BT_OK;
}

static int load_inputs(forward_args *a, const bt_config *c, forward_inputs *in, bt_error *err) {
    memset(in, 0, sizeof *in);
    int rc = read_lines(a->ids_path, &in->ids, err);
    if (!rc && a->types_path) rc = read_lines(a->types_path, &in->types, err);
    if (!rc && a->labels_path) rc = read_lines(a->labels_path, &in->labels, err);
    if (rc) return rc;
    if (in->ids.n == 0) return bt_error_set(err, BT_EINPUT, "%s: no sequences", a->ids_path);
    for (int b = 0; b < in->ids.n; b++) {
        if ((rc = check_line(a, in, c, b, err))) return rc;
        in->max_len = in->ids.len[b] > in->max_len ? in->ids.len[b] : in->max_len;
    }
    if (a->batch_tokens <= 0) a->batch_tokens = in->ids.total;
    if (a->batch_tokens < in->max_len)
        return bt_error_set(err, BT_EINPUT, "`batch_tokens` %d is below the longest sequence (%d)", a->batch_tokens,
                            in->max_len);
    return a->gates_path ? read_gates(a->gates_path, c->n_layers, c->n_heads, &in->gates, err) : BT_OK;
}

/* Engine inputs and the per-sequence outputs gathered over all batches. */
typedef struct {
    int *ids, *types, *labels;
    float *targets, *tmp, *logits;
    double *loss, *gg, *gt, *ent;
} forward_buffers;

static void buffers_free(forward_buffers *f) {
    free(f->ids), free(f->types), free(f->labels), free(f->targets), free(f->tmp), free(f->logits);
    free(f->loss), free(f->gg), free(f->gt), free(f->ent);
}

static int buffers_alloc(const forward_args *a, const forward_inputs *in, const bt_config *c, forward_buffers *f,
                         bt_error *err) {
    memset(f, 0, sizeof *f);
    const size_t B = (size_t)in->ids.n, LH = (size_t)c->n_layers * c->n_heads, T = (size_t)in->max_len;
    const size_t C = c->n_labels > 0 ? (size_t)c->n_labels : 1, D = (size_t)c->d_model, H = (size_t)c->n_heads;
    if (!(f->ids = bt_malloc((size_t)in->ids.total, sizeof(int), "token ids", err)) ||
        !(f->types = bt_malloc((size_t)in->ids.total, sizeof(int), "token types", err)) ||
        !(f->labels = bt_malloc(B, sizeof(int), "labels", err)) ||
        !(f->targets = bt_malloc(B, sizeof(float), "targets", err)) ||
        !(f->logits = bt_calloc(B * C, sizeof(float), "logits", err)) ||
        !(f->loss = bt_calloc(B, sizeof(double), "losses", err)) ||
        !(f->gg = bt_calloc(B * LH, sizeof(double), "gate gradients", err)) ||
        !(f->gt = bt_calloc(B * LH, sizeof(double), "gate gradients", err)) ||
        !(f->ent = bt_calloc(B * LH, sizeof(double), "entropies", err)) ||
        !(f->tmp = bt_malloc((size_t)(c->n_layers + 1) * T * (D > H * T ? D : H * T), sizeof(float),
                             "one sequence's tensors", err)))
        return BT_EINTERNAL;
    for (int i = 0; i < in->ids.total; i++) {
        f->ids[i] = (int)in->ids.val[i];
        f->types[i] = a->types_path ? (int)in->types.val[i] : 0;
    }
    for (int b = 0; b < in->ids.n && a->labels_path; b++) {
        f->labels[b] = (int)in->labels.val[b];
        f->targets[b] = (float)in->labels.val[b];
        if (c->head == BT_HEAD_CLASSIFY && (double)f->labels[b] != in->labels.val[b])
            return bt_error_set(err, BT_EINPUT, "%s:%d: class label must be an integer", a->labels_path, b + 1);
    }
    return BT_OK;
}

/* Attention and hidden states of sequence k of the batch (global index seq) as .npy files. */
static int write_sequence_tensors(const forward_args *a, const bt_engine *e, const bt_config *c, int k, int seq, int T,
                                  float *tmp, bt_error *err) {
    const int L = c->n_layers, H = c->n_heads, D = c->d_model;
    char name[64];
    int rc = BT_OK;
    if (a->want_attentions) {
        for (int l = 0; l < L && !rc; l++) rc = bt_engine_copy_attention(e, k, l, tmp + (size_t)l * H * T * T, err);
        const int64_t shape[4] = {L, H, T, T};
        snprintf(name, sizeof name, "attn_%d.npy", seq);
        if (!rc) rc = write_npy(a->out, name, BT_NPY_F32, 4, shape, tmp, err);
    }
    if (a->want_hidden) {
        for (int l = 0; l <= L && !rc; l++) rc = bt_engine_copy_hidden(e, k, l, tmp + (size_t)l * T * D, err);
        const int64_t shape[3] = {L + 1, T, D};
        snprintf(name, sizeof name, "hidden_%d.npy", seq);
        if (!rc) rc = write_npy(a->out, name, BT_NPY_F32, 3, shape, tmp, err);
    }
    return rc;
}

/* The sequences in file order, packed into batches of at most --batch-tokens tokens. */
static int run_batches(const forward_args *a, const forward_inputs *in, const bt_config *c, bt_engine *e, int train,
                       forward_buffers *f, bt_error *err) {
    const number_lines *ids = &in->ids;
    const int B = ids->n, LH = c->n_layers * c->n_heads, C = c->n_labels > 0 ? c->n_labels : 1;
    for (int b0 = 0; b0 < B;) {
        int nb = 0, ntok = 0;
        while (b0 + nb < B && ntok + ids->len[b0 + nb] <= a->batch_tokens) ntok += ids->len[b0 + nb++];
        const int first = ids->off[b0];
        bt_batch batch = {.n_seqs = nb, .lens = ids->len + b0, .ids = f->ids + first, .types = f->types + first,
                          .labels = a->labels_path ? f->labels + b0 : NULL,
                          .targets = a->labels_path ? f->targets + b0 : NULL};
        int rc = bt_engine_forward(e, &batch, in->gates, BT_FWD_ENTROPY, err);
        if (rc) {
            bt_error_prefix(err, "%s: sequences %d..%d", a->ids_path, b0 + 1, b0 + nb);
            return rc;
        }
        if (train && (rc = bt_engine_backward(e, err))) return rc;
        if (c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS)
            memcpy(f->logits + (size_t)b0 * C, bt_engine_logits(e), sizeof(float) * nb * C);
        memcpy(f->ent + (size_t)b0 * LH, bt_engine_entropy(e), sizeof(double) * nb * LH);
        if (train) {
            memcpy(f->loss + b0, bt_engine_loss(e), sizeof(double) * nb);
            memcpy(f->gg + (size_t)b0 * LH, bt_engine_gate_grad(e), sizeof(double) * nb * LH);
            memcpy(f->gt + (size_t)b0 * LH, bt_engine_gate_grad_tok(e), sizeof(double) * nb * LH);
        }
        for (int k = 0; k < nb && !rc; k++) rc = write_sequence_tensors(a, e, c, k, b0 + k, ids->len[b0 + k], f->tmp, err);
        if (rc) return rc;
        b0 += nb;
    }
    return BT_OK;
}

static int write_outputs(const forward_args *a, const bt_config *c, int B, int train, const forward_buffers *f,
                         bt_error *err) {
    const int C = c->n_labels > 0 ? c->n_labels : 1;
    const int64_t s_bc[2] = {B, C}, s_b[1] = {B}, s_blh[3] = {B, c->n_layers, c->n_heads};
    int rc = BT_OK;
    if (c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS)
        rc = write_npy(a->out, "logits.npy", BT_NPY_F32, 2, s_bc, f->logits, err);
    if (!rc) rc = write_npy(a->out, "entropy.npy", BT_NPY_F64, 3, s_blh, f->ent, err);
    if (!rc && train) rc = write_npy(a->out, "loss.npy", BT_NPY_F64, 1, s_b, f->loss, err);
    if (!rc && train) rc = write_npy(a->out, "gate_grad.npy", BT_NPY_F64, 3, s_blh, f->gg, err);
    if (!rc && train) rc = write_npy(a->out, "gate_grad_tok.npy", BT_NPY_F64, 3, s_blh, f->gt, err);
    return rc;
}

int bt_cmd_forward(int argc, char **argv) {
    forward_args a;
    int rc = run_opts_parse(&a, BT_CMD_FORWARD, "forward", argc, argv, 0);
    if (rc) return rc < 0 ? 0 : rc;
    if (a.threads > 0) bt_engine_set_threads(a.threads);
    bt_error err = {0};
    bt_model m = {0};
    forward_inputs in = {0};
    forward_buffers f = {0};
    bt_engine *e = NULL;
    rc = bt_model_load(a.model, &m, &err);
    if (!rc) rc = load_inputs(&a, &m.cfg, &in, &err);
    if (rc) goto out;
    const bt_config *c = &m.cfg;
    /* a language model's loss is next-token: it needs no labels */
    const int train = c->head == BT_HEAD_LM ||
                      (a.labels_path != NULL && (c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS));
    bt_engine_limits lim = {.max_tokens = a.batch_tokens, .max_seqs = in.ids.n, .max_len = in.max_len,
                            .backward = train, .attentions = a.want_attentions, .hidden = a.want_hidden};
    rc = bt_engine_create(c, &m.params, &lim, &e, &err);
    if (!rc) rc = bt_mkdir_p(a.out, BT_EINPUT, &err);
    if (!rc) rc = buffers_alloc(&a, &in, c, &f, &err);
    if (!rc) rc = run_batches(&a, &in, c, e, train, &f, &err);
    if (!rc) rc = write_outputs(&a, c, in.ids.n, train, &f, &err);
out:
    if (rc) run_fail(0, "forward", &err);
    bt_engine_free(e);
    bt_model_free(&m);
    inputs_free(&in);
    buffers_free(&f);
    return rc;
}
