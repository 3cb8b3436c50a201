/* bertology forward: the engine on explicit token ids, raw outputs as .npy files.
 *
 * For checking the engine against other implementations and for researchers who tokenise
 * elsewhere. Sequences are packed in file order into batches of at most --batch-tokens tokens. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bertology/engine.h"
#include "bertology/model.h"
#include "bertology/npy.h"
#include "commands.h"

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

/* Reads whitespace-separated numbers, one record per line (blank lines are records of 0). */
static int read_lines(const char *path, number_lines *out, bt_error *err) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) return bt_error_set(err, BT_EINPUT, "%s: %s", path, strerror(errno));
    int cap_l = 64, cap_v = 1024;
    out->len = malloc(cap_l * sizeof(int));
    out->off = malloc(cap_l * sizeof(int));
    out->val = malloc(cap_v * sizeof(double));
    char *line = NULL;
    size_t lcap = 0;
    int rc = BT_OK;
    while (getline(&line, &lcap, f) != -1) {
        if (out->n == cap_l) {
            cap_l *= 2;
            out->len = realloc(out->len, cap_l * sizeof(int));
            out->off = realloc(out->off, cap_l * sizeof(int));
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
                goto done;
            }
            if (out->total == cap_v) out->val = realloc(out->val, (cap_v *= 2) * sizeof(double));
            out->val[out->total++] = v;
            k++;
            p = end;
        }
        out->len[out->n++] = k;
    }
done:
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

static void usage(FILE *f) {
    fprintf(f, "usage: bertology forward --model DIR --ids FILE [--types FILE] [--labels FILE] [--gates G.npy]\n"
               "                         [--batch-tokens N] [--attentions] [--hidden] [--threads N] --out DIR\n");
}

int bt_cmd_forward(int argc, char **argv) {
    const char *model_dir = NULL, *ids_path = NULL, *types_path = NULL, *labels_path = NULL,
               *gates_path = NULL, *out_dir = NULL;
    int batch_tokens = 0, want_attn = 0, want_hidden = 0, threads = 0;
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"ids", required_argument, 0, 'i'},
        {"types", required_argument, 0, 'y'}, {"labels", required_argument, 0, 'l'},
        {"gates", required_argument, 0, 'g'}, {"batch-tokens", required_argument, 0, 'b'},
        {"attentions", no_argument, 0, 'a'},  {"hidden", no_argument, 0, 'H'},
        {"threads", required_argument, 0, 't'}, {"out", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'm': model_dir = optarg; break;
        case 'i': ids_path = optarg; break;
        case 'y': types_path = optarg; break;
        case 'l': labels_path = optarg; break;
        case 'g': gates_path = optarg; break;
        case 'b': batch_tokens = atoi(optarg); break;
        case 'a': want_attn = 1; break;
        case 'H': want_hidden = 1; break;
        case 't': threads = atoi(optarg); break;
        case 'o': out_dir = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!model_dir || !ids_path || !out_dir || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (threads > 0) bt_engine_set_threads(threads);

    bt_error err = {0};
    bt_model m = {0};
    number_lines ids = {0}, types = {0}, labels = {0};
    float *gates = NULL;
    bt_engine *e = NULL;
    int *ibuf = NULL, *tbuf = NULL, *lbuf = NULL;
    float *fbuf = NULL, *tmp = NULL, *logits = NULL;
    double *loss = NULL, *gg = NULL, *gt = NULL, *ent = NULL;
    int rc = bt_model_load(model_dir, &m, &err);
    if (!rc) rc = read_lines(ids_path, &ids, &err);
    if (!rc && types_path) rc = read_lines(types_path, &types, &err);
    if (!rc && labels_path) rc = read_lines(labels_path, &labels, &err);
    if (rc) goto out;
    const bt_config *c = &m.cfg;
    const int B = ids.n, L = c->n_layers, H = c->n_heads, D = c->d_model,
              C = c->n_labels > 0 ? c->n_labels : 1;
    if (B == 0) {
        rc = bt_error_set(&err, BT_EINPUT, "%s: no sequences", ids_path);
        goto out;
    }
    int maxT = 0;
    for (int b = 0; b < B; b++) {
        if (ids.len[b] < 1) {
            rc = bt_error_set(&err, BT_EINPUT, "%s:%d: empty sequence", ids_path, b + 1);
            goto out;
        }
        if (types_path && (types.n <= b || types.len[b] != ids.len[b])) {
            rc = bt_error_set(&err, BT_EINPUT, "%s:%d: %d token types for %d ids", types_path, b + 1,
                              types.n <= b ? 0 : types.len[b], ids.len[b]);
            goto out;
        }
        if (labels_path && (labels.n <= b || labels.len[b] != 1)) {
            rc = bt_error_set(&err, BT_EINPUT, "%s:%d: expected one label", labels_path, b + 1);
            goto out;
        }
        if (ids.len[b] > c->max_pos - c->pos_offset) {
            rc = bt_error_set(&err, BT_EINPUT, "%s:%d: %d tokens exceed the model's %d positions", ids_path, b + 1,
                              ids.len[b], c->max_pos - c->pos_offset);
            goto out;
        }
        /* checked here, not only by the engine, so that the message names the file and line */
        for (int t = 0; t < ids.len[b]; t++) {
            const double id = ids.val[ids.off[b] + t];
            if (id != (int)id || id < 0 || id >= c->vocab_size) {
                rc = bt_error_set(&err, BT_EINPUT, "%s:%d: token %d is %g, outside the vocabulary 0..%d", ids_path, b + 1,
                                  t + 1, id, c->vocab_size - 1);
                goto out;
            }
            const double ty = types_path ? types.val[types.off[b] + t] : 0;
            if (types_path && (ty != (int)ty || ty < 0 || ty >= (c->type_vocab > 0 ? c->type_vocab : 1))) {
                rc = bt_error_set(&err, BT_EINPUT, "%s:%d: token type %g outside 0..%d", types_path, b + 1, ty,
                                  (c->type_vocab > 0 ? c->type_vocab : 1) - 1);
                goto out;
            }
        }
        if (labels_path && c->head == BT_HEAD_CLASSIFY) {
            const double y = labels.val[b];
            if (y != (int)y || y < 0 || y >= c->n_labels) {
                rc = bt_error_set(&err, BT_EINPUT, "%s:%d: label %g outside the model's classes 0..%d", labels_path, b + 1, y,
                                  c->n_labels - 1);
                goto out;
            }
        }
        if (labels_path && c->head == BT_HEAD_REGRESS && !isfinite(labels.val[b])) {
            rc = bt_error_set(&err, BT_EINPUT, "%s:%d: regression target is not a finite number", labels_path, b + 1);
            goto out;
        }
        maxT = ids.len[b] > maxT ? ids.len[b] : maxT;
    }
    if (batch_tokens <= 0) batch_tokens = ids.total;
    if (batch_tokens < maxT) {
        rc = bt_error_set(&err, BT_EINPUT, "--batch-tokens %d is below the longest sequence (%d)", batch_tokens, maxT);
        goto out;
    }
    if (gates_path) {
        bt_npy_info info;
        rc = bt_npy_read_f32(gates_path, &info, &gates, &err);
        if (rc) goto out;
        if (info.ndim != 2 || info.shape[0] != L || info.shape[1] != H) {
            rc = bt_error_set(&err, BT_EINPUT, "%s: gates must have shape [%d, %d]", gates_path, L, H);
            goto out;
        }
        for (int i = 0; i < L * H; i++)
            if (!isfinite(gates[i])) {
                rc = bt_error_set(&err, BT_EINPUT, "%s: gate [%d, %d] is not a finite number", gates_path, i / H, i % H);
                goto out;
            }
    }
    /* a language model's loss is next-token: it needs no labels */
    const int train = c->head == BT_HEAD_LM ||
                      (labels_path != NULL && (c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS));
    bt_engine_limits lim = {.max_tokens = batch_tokens, .max_seqs = B, .max_len = maxT,
                            .backward = train, .attentions = want_attn, .hidden = want_hidden};
    rc = bt_engine_create(c, &m.params, &lim, &e, &err);
    if (rc) goto out;
    if (mkdir(out_dir, 0777) && errno != EEXIST) {
        rc = bt_error_set(&err, BT_EINPUT, "%s: %s", out_dir, strerror(errno));
        goto out;
    }
    ibuf = malloc(sizeof(int) * ids.total);
    tbuf = malloc(sizeof(int) * ids.total);
    lbuf = malloc(sizeof(int) * B);
    fbuf = malloc(sizeof(float) * B);
    logits = calloc((size_t)B * C, sizeof(float));
    loss = calloc(B, sizeof(double));
    gg = calloc((size_t)B * L * H, sizeof(double));
    gt = calloc((size_t)B * L * H, sizeof(double));
    ent = calloc((size_t)B * L * H, sizeof(double));
    tmp = malloc(sizeof(float) * (size_t)(L + 1) * maxT * (D > H * maxT ? D : H * maxT));
    for (int i = 0; i < ids.total; i++) {
        ibuf[i] = (int)ids.val[i];
        tbuf[i] = types_path ? (int)types.val[i] : 0;
    }
    for (int b = 0; b < B && labels_path; b++) {
        lbuf[b] = (int)labels.val[b];
        fbuf[b] = (float)labels.val[b];
        if (c->head == BT_HEAD_CLASSIFY && (double)lbuf[b] != labels.val[b]) {
            rc = bt_error_set(&err, BT_EINPUT, "%s:%d: class label must be an integer", labels_path, b + 1);
            goto out;
        }
    }
    for (int b0 = 0; b0 < B;) {
        int nb = 0, ntok = 0;
        while (b0 + nb < B && ntok + ids.len[b0 + nb] <= batch_tokens) ntok += ids.len[b0 + nb++];
        const int first = ids.off[b0];
        bt_batch batch = {.n_seqs = nb, .lens = ids.len + b0, .ids = ibuf + first, .types = tbuf + first,
                          .labels = labels_path ? lbuf + b0 : NULL, .targets = labels_path ? fbuf + b0 : NULL};
        rc = bt_engine_forward(e, &batch, gates, BT_FWD_ENTROPY, &err);
        if (rc) {
            bt_error_prefix(&err, "%s: sequences %d..%d", ids_path, b0 + 1, b0 + nb);
            goto out;
        }
        if (train && (rc = bt_engine_backward(e, &err))) goto out;
        if (c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS)
            memcpy(logits + (size_t)b0 * C, bt_engine_logits(e), sizeof(float) * nb * C);
        memcpy(ent + (size_t)b0 * L * H, bt_engine_entropy(e), sizeof(double) * nb * L * H);
        if (train) {
            memcpy(loss + b0, bt_engine_loss(e), sizeof(double) * nb);
            memcpy(gg + (size_t)b0 * L * H, bt_engine_gate_grad(e), sizeof(double) * nb * L * H);
            memcpy(gt + (size_t)b0 * L * H, bt_engine_gate_grad_tok(e), sizeof(double) * nb * L * H);
        }
        for (int k = 0; k < nb; k++) {
            const int T = ids.len[b0 + k];
            char name[64];
            if (want_attn) {
                for (int l = 0; l < L && !rc; l++)
                    rc = bt_engine_copy_attention(e, k, l, tmp + (size_t)l * H * T * T, &err);
                const int64_t shape[4] = {L, H, T, T};
                snprintf(name, sizeof name, "attn_%d.npy", b0 + k);
                if (!rc) rc = write_npy(out_dir, name, BT_NPY_F32, 4, shape, tmp, &err);
            }
            if (want_hidden) {
                for (int l = 0; l <= L && !rc; l++)
                    rc = bt_engine_copy_hidden(e, k, l, tmp + (size_t)l * T * D, &err);
                const int64_t shape[3] = {L + 1, T, D};
                snprintf(name, sizeof name, "hidden_%d.npy", b0 + k);
                if (!rc) rc = write_npy(out_dir, name, BT_NPY_F32, 3, shape, tmp, &err);
            }
            if (rc) goto out;
        }
        b0 += nb;
    }
    const int64_t s_bc[2] = {B, C}, s_b[1] = {B}, s_blh[3] = {B, L, H};
    if (c->head == BT_HEAD_CLASSIFY || c->head == BT_HEAD_REGRESS)
        rc = write_npy(out_dir, "logits.npy", BT_NPY_F32, 2, s_bc, logits, &err);
    if (!rc) rc = write_npy(out_dir, "entropy.npy", BT_NPY_F64, 3, s_blh, ent, &err);
    if (!rc && train) rc = write_npy(out_dir, "loss.npy", BT_NPY_F64, 1, s_b, loss, &err);
    if (!rc && train) rc = write_npy(out_dir, "gate_grad.npy", BT_NPY_F64, 3, s_blh, gg, &err);
    if (!rc && train) rc = write_npy(out_dir, "gate_grad_tok.npy", BT_NPY_F64, 3, s_blh, gt, &err);
out:
    if (rc) fprintf(stderr, "bertology forward: %s\n", err.msg);
    bt_engine_free(e);
    bt_model_free(&m);
    lines_free(&ids), lines_free(&types), lines_free(&labels);
    free(gates), free(ibuf), free(tbuf), free(lbuf), free(fbuf), free(tmp), free(logits);
    free(loss), free(gg), free(gt), free(ent);
    return rc;
}
