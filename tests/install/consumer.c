/* A program outside the project that embeds the installed library: it is built against an
 * installed prefix both through pkg-config and through find_package(bertology) (see
 * check_install.sh), so it may use only the public headers.
 *
 *   consumer MODEL_DIR "sentence" ["second sentence"]
 *
 * Prints the token ids on one line and the logits of one forward on the next, in %.9g so that
 * the caller can compare them bitwise with `bertology forward` on the same ids. */
#include <stdio.h>
#include <stdlib.h>

#include "bertology/engine.h"
#include "bertology/model.h"
#include "bertology/tokenizer.h"

enum { MAX_LEN = 128 };

static int fail(const bt_error *err) {
    fprintf(stderr, "consumer: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: consumer MODEL_DIR SENTENCE [SENTENCE_B]\n");
        return 2;
    }
    bt_error err = {0};
    bt_model m = {0};
    bt_tok *tok = NULL;
    bt_engine *e = NULL;
    int rc = 1;
    int ids[MAX_LEN], types[MAX_LEN], n = 0;

    bt_engine_set_threads(1);
    if (bt_model_load(argv[1], &m, &err) || bt_tok_load(argv[1], &tok, &err) ||
        bt_tok_encode(tok, argv[2], argc == 4 ? argv[3] : NULL, MAX_LEN, ids, types, &n, &err)) {
        rc = fail(&err);
        goto out;
    }
    const bt_engine_limits lim = {.max_tokens = n, .max_seqs = 1, .max_len = n};
    if (bt_engine_create(&m.cfg, &m.params, &lim, &e, &err)) {
        rc = fail(&err);
        goto out;
    }
    const bt_batch batch = {.n_seqs = 1, .lens = &n, .ids = ids, .types = types};
    if (bt_engine_forward(e, &batch, NULL, 0, &err)) {
        rc = fail(&err);
        goto out;
    }
    for (int i = 0; i < n; i++) printf("%s%d", i ? " " : "", ids[i]);
    printf("\n");
    const float *logits = bt_engine_logits(e);
    for (int c = 0; c < m.cfg.n_labels; c++) printf("%s%.9g", c ? " " : "", logits[c]);
    printf("\n");
    rc = 0;
out:
    bt_engine_free(e);
    bt_tok_free(tok);
    bt_model_free(&m);
    return rc;
}
