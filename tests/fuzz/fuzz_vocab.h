/* Small tokenizer directories for the fuzz targets that fuzz one file of a tokenizer and keep
 * the others fixed: loading a real 30k/50k vocabulary on every input would cost most of the
 * time, and a small one reaches the same code. */
#ifndef BT_FUZZ_VOCAB_H
#define BT_FUZZ_VOCAB_H

#include "fuzz_util.h"

/* vocab.txt: BERT's special tokens, the bytes of ASCII, a few words and continuations. */
static inline void fz_small_wordpiece(const char *dir) {
    char buf[4096];
    size_t k = 0;
    static const char *const fixed[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<s>", "</s>", "the",
                                        "un", "##aff", "##able", "runn", "##ing", "##s", "é", "中", "##é"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) k += (size_t)snprintf(buf + k, sizeof buf - k, "%s\n", fixed[i]);
    for (int c = 33; c < 127; c++) k += (size_t)snprintf(buf + k, sizeof buf - k, "%c\n##%c\n", c, c);
    fz_write(dir, "vocab.txt", buf, k);
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the rest to 256 + n. */
static inline int fz_byte_char(int b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return b;
    int n = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) n++;
    return 256 + n;
}

static inline size_t fz_utf8(int cp, char *out) {
    if (cp < 0x80) return out[0] = (char)cp, 1;
    out[0] = (char)(0xC0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

/* Appends "key":id, to buf, escaping the two characters JSON needs escaped here. */
static inline size_t fz_json_entry(char *buf, size_t k, size_t cap, const char *key, size_t klen, int id) {
    if (k + 2 * klen + 16 >= cap) abort();
    buf[k++] = '"';
    for (size_t i = 0; i < klen; i++) {
        if (key[i] == '"' || key[i] == '\\') buf[k++] = '\\';
        buf[k++] = key[i];
    }
    return k + (size_t)snprintf(buf + k, cap - k, "\":%d,", id);
}

/* vocab.json with the 256 byte symbols, a few merges and the special tokens of GPT-2 and
 * RoBERTa; merges.txt with those merges. */
static inline void fz_small_bpe(const char *dir) {
    static char buf[16384];
    size_t k = 0;
    int id = 0;
    buf[k++] = '{';
    for (int b = 0; b < 256; b++) {
        char u[4];
        const size_t n = fz_utf8(fz_byte_char(b), u);
        k = fz_json_entry(buf, k, sizeof buf, u, n, id++);
    }
    static const char *const more[] = {"\xc4\xa0t", "he", "\xc4\xa0the", "in", "ing", "\u0120a", "er",
                                       "<|endoftext|>", "<s>", "</s>", "<pad>", "<unk>", "<mask>"};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) k = fz_json_entry(buf, k, sizeof buf, more[i], strlen(more[i]), id++);
    buf[k - 1] = '}'; /* over the last comma */
    fz_write(dir, "vocab.json", buf, k);
    static const char merges[] = "#version: 0.2\n\xc4\xa0 t\nh e\n\xc4\xa0t he\ni n\nin g\n\xc4\xa0 a\ne r\n";
    fz_write(dir, "merges.txt", merges, sizeof merges - 1);
}

/* What every loaded tokenizer must survive: the input as text, alone and as a pair. */
static inline void fz_exercise_tokenizer(bt_tok *tok, const uint8_t *text, size_t len) {
    int ids[96], types[96], n = 0;
    bt_error err = {0};
    int rc = bt_tok_tokenize(tok, (const char *)text, len, ids, 96, &n, &err);
    fz_check_failure(rc, &err);
    if (!rc && (n < 0 || n > 96)) abort();
    for (int i = 0; !rc && i < n; i++) {
        size_t tl;
        if (!bt_tok_id_to_token(tok, ids[i], &tl) && ids[i] >= bt_tok_vocab_size(tok)) abort();
    }
    const size_t half = len / 2;
    for (int max_len = 1; max_len <= 64; max_len *= 8) {
        rc = bt_tok_encode_n(tok, (const char *)text, half, (const char *)text + half, len - half, max_len, ids, types,
                             &n, &err);
        fz_check_failure(rc, &err);
        if (!rc && (n < 0 || n > max_len)) abort();
        rc = bt_tok_encode_n(tok, (const char *)text, len, NULL, 0, max_len, ids, NULL, &n, &err);
        fz_check_failure(rc, &err);
        if (!rc && (n < 0 || n > max_len)) abort();
    }
}

#endif
