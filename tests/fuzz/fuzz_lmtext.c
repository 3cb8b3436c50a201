/* Language-model text (--text): one document per line, cut into windows of max_len GPT-2
 * tokens. The first input byte picks max_len (2..65); the rest is the file. The windows must
 * tile the kept tokens exactly. */
#include <stdlib.h>

#include "bertology/dataset.h"
#include "fuzz_util.h"

static char dir[300];
static bt_tok *tok;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        fz_subdir("text", dir, sizeof dir);
        tok = fz_gpt2_tokenizer("gpt2");
    }
    if (size < 1) return 0;
    const int max_len = 2 + data[0] % 64;
    fz_write(dir, "x.txt", data + 1, size - 1);
    char path[400];
    snprintf(path, sizeof path, "%s/x.txt", dir);
    bt_dataset d;
    bt_lmtext_stats st;
    bt_error err = {0};
    int rc = bt_dataset_from_text(path, tok, max_len, &d, &st, &err);
    fz_check_failure(rc, &err);
    if (rc) return 0;
    int64_t total = 0;
    for (int i = 0; i < d.n; i++) {
        if (d.len[i] < 2 || d.len[i] > max_len || d.off[i] != total || d.line[i] < 1 || d.line[i] > st.lines) abort();
        for (int t = 0; t < d.len[i]; t++)
            if (d.ids[total + t] < 0 || d.ids[total + t] >= bt_tok_vocab_size(tok) || d.types[total + t]) abort();
        total += d.len[i];
    }
    if (total != d.n_tokens || st.windows != d.n || st.tokens != total) abort();
    bt_dataset_free(&d);
    return 0;
}
