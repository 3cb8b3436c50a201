/* CodeSearchNet JSON lines (src/corpus/code_jsonl.c): the first input byte sets skip_bad_lines,
 * max_examples and whether the languages are restricted to the four with grammars; the rest is
 * the file. What loads is tokenised with GPT-2's byte-level BPE and every token's byte range
 * found (src/tok/tok_ranges.c), as --task code does: the ranges must tile a prefix of the code. */
#include <stdlib.h>

#include "bertology/code.h"
#include "bertology/code_jsonl.h"
#include "bertology/tokenizer.h"
#include "fuzz_util.h"

static char dir[300];
static bt_tok *tok;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        fz_subdir("jsonl", dir, sizeof dir);
        tok = fz_gpt2_tokenizer("bpe");
    }
    if (size < 1) return 0;
    const char *langs[BT_CODE_N_LANGS];
    for (int g = 0; g < BT_CODE_N_LANGS; g++) langs[g] = bt_code_lang_name(g);
    const bt_code_jsonl_opts o = {.skip_bad_lines = data[0] & 1, .max_examples = data[0] & 2 ? 2 : 0,
                                  .max_code_bytes = data[0] & 4 ? 64 : BT_CODE_MAX_BYTES,
                                  .n_languages = data[0] & 8 ? BT_CODE_N_LANGS : 0, .languages = langs};
    fz_write(dir, "x.jsonl", data + 1, size - 1);
    char path[400];
    snprintf(path, sizeof path, "%s/x.jsonl", dir);
    bt_code_jsonl c;
    bt_error err = {0};
    int rc = bt_code_jsonl_read(path, &o, &c, &err);
    fz_check_failure(rc, &err);
    if (rc) return 0;
    if (c.n < 1 || (o.max_examples && c.n > o.max_examples)) abort();
    int ids[64];
    int64_t s[64], e[64];
    for (size_t i = 0; i < c.n; i++) {
        if (c.code_len[i] > o.max_code_bytes || c.line[i] < 1 || c.line[i] > c.lines_read) abort();
        if (o.n_languages && bt_code_lang_find(c.language[i]) < 0) abort();
        int n = 0;
        rc = bt_tok_tokenize(tok, c.code[i], c.code_len[i], ids, 64, &n, &err);
        if (rc) abort(); /* the reader let only valid UTF-8 through */
        rc = bt_tok_byte_ranges(tok, c.code[i], c.code_len[i], ids, n, s, e, &err);
        if (rc) abort();
        int64_t at = 0;
        for (int k = 0; k < n; k++) {
            if (s[k] != at || e[k] <= s[k]) abort();
            at = e[k];
        }
        if (at > (int64_t)c.code_len[i] || (n < 64 && at != (int64_t)c.code_len[i])) abort();
    }
    bt_code_jsonl_free(&c);
    return 0;
}
