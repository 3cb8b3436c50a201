/* Byte-level BPE internals (GPT-2, RoBERTa): the vocabulary and merge ranks read from
 * vocab.json + merges.txt, the conventions of the model family, and the tokenizer with its
 * scratch buffers. Public entry: bertology/tokenizer.h. */
#ifndef BT_TOK_BPE_H
#define BT_TOK_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "bertology/error.h"
#include "bertology/tokenizer.h"
#include "wordpiece.h" /* bt_wp_table: the string -> index hash table both tokenizers use */

/* Model inputs as the family's Hugging Face tokenizer builds them. */
typedef enum {
    BT_BPE_GPT2 = 1,   /* GPT2Tokenizer: no special tokens added, a pair is a + b */
    BT_BPE_ROBERTA = 2 /* RobertaTokenizer: <s> a </s>, pair <s> a </s></s> b </s> */
} bt_bpe_style;

/* One merge rule "left right" of merges.txt, keyed by the vocabulary ids of both sides. */
typedef struct {
    uint64_t key; /* ((uint64_t)left << 32 | right) + 1; 0 marks an empty slot */
    int32_t rank; /* line order: lower merges first */
    int32_t id;   /* vocabulary id of the merged string */
} bt_bpe_merge;

/* A token cut out of the raw text before pre-tokenisation (HF's added tokens: the special
 * tokens and added_tokens_decoder). lstrip / rstrip: it swallows the whitespace on its left /
 * right (RoBERTa's <mask> has lstrip). */
enum { BT_BPE_LSTRIP = 1, BT_BPE_RSTRIP = 2 };

/* One heap entry of the merge loop: the pair starting at node pos, with the symbols it had
 * when pushed (a merge since then makes it stale). */
typedef struct {
    uint64_t key; /* rank << 32 | pos: lowest rank first, leftmost first on a tie */
    int32_t left, right;
} bt_bpe_cand;

/* The merge loop's min-heap of candidates (both BPE tokenizers): inline, it is the hot path. */
static inline void bt_bpe_heap_push(bt_bpe_cand *h, size_t *n, bt_bpe_cand c) {
    size_t i = (*n)++;
    while (i) {
        size_t p = (i - 1) / 2;
        if (h[p].key <= c.key) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static inline bt_bpe_cand bt_bpe_heap_pop(bt_bpe_cand *h, size_t *n) {
    bt_bpe_cand top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1].key < h[c].key) c++;
        if (last.key <= h[c].key) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

/* A fixed-size memo of piece -> ids (2-way set associative, 1 MiB): text repeats its words,
 * and BPE of a word is the costly part, its merge-table lookups missing the CPU caches. HF
 * keeps an unbounded dict; a fixed table bounds the memory. On SST-2 train it answers ~92% of
 * the pieces of more than one byte. Pieces longer than BT_BPE_CACHE_BYTES, or of more than
 * BT_BPE_CACHE_IDS tokens, are not kept. */
#define BT_BPE_CACHE_SLOTS 16384
#define BT_BPE_CACHE_BYTES 22
#define BT_BPE_CACHE_IDS 7
typedef struct {
    uint32_t hash;
    uint8_t len, n_ids; /* len 0 = empty slot */
    char bytes[BT_BPE_CACHE_BYTES];
    int32_t ids[BT_BPE_CACHE_IDS];
} bt_bpe_cache_entry;

typedef struct {
    int style;
    int add_prefix_space;  /* tokenizer_config.json add_prefix_space (default false) */
    long model_max_length; /* 0 = not given */

    bt_wp_table vocab; /* vocab.json strings in file order */
    int *entry_id;     /* [vocab.n] id of each string */
    int *id_entry;     /* [n_ids] index in vocab of id, -1 when no string has that id */
    int n_ids;         /* 1 + the largest id (vocab.json or added tokens) */
    int byte_id[256];  /* id of the one-character token of each byte, -1 if absent */

    bt_bpe_merge *merge; /* open addressing, n_merge_slots a power of two */
    size_t n_merge_slots;
    int n_merges;

    bt_wp_table added;  /* strings of the added tokens */
    int *added_id;      /* [added.n] */
    uint8_t *added_flags; /* [added.n] BT_BPE_LSTRIP | BT_BPE_RSTRIP */
    int special_id[BT_TOK_N_SPECIAL]; /* -1 when the model has none */
    int unk;            /* id for a byte the vocabulary lacks, -1 = none (then none lacks) */

    /* Scratch, grown to the longest piece / text seen. */
    int32_t *sym, *next, *prev; size_t node_cap; /* linked list of the symbols of a piece */
    bt_bpe_cand *heap, *batch; size_t heap_cap;
    char *text; size_t text_cap; /* " " + text when add_prefix_space */
    bt_bpe_cache_entry *cache;   /* [BT_BPE_CACHE_SLOTS] */
} bt_bpe;

int bt_bpe_load(const char *dir, bt_bpe *bpe, bt_error *err);
void bt_bpe_free(bt_bpe *bpe);
/* See bt_tok_tokenize. */
int bt_bpe_tokenize(bt_bpe *bpe, const char *text, size_t len, int *ids, int cap, int *n,
                    bt_error *err);
/* The token string of id (vocab.json or an added token), NULL if none. */
const char *bt_bpe_id_to_token(const bt_bpe *bpe, int id, size_t *len);
/* HF convert_tokens_to_ids: added tokens first, then vocab.json; -1 if neither. */
int bt_bpe_token_to_id(const bt_bpe *bpe, const char *token, size_t len);

/* The merge table's key of a pair of ids, and the slot holding key or the empty slot where it
 * would go (n_merge_slots must be non-zero). */
uint64_t bt_bpe_merge_key(int32_t left, int32_t right);
size_t bt_bpe_merge_slot(const bt_bpe *bpe, uint64_t key);

/* GPT-2's bytes_to_unicode: the code point standing for byte b in vocab.json (printable
 * Latin-1 bytes stand for themselves, the other 68 for U+0100 + their order). */
int32_t bt_bpe_byte_char(uint8_t b);

/* The pre-tokenisation regex of GPT-2,
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * as Python's `regex` module matches it: returns the end (byte offset) of the piece that
 * starts at byte i of s[0..len), which must be valid UTF-8 with i < len. */
size_t bt_bpe_piece_end(const uint8_t *s, size_t len, size_t i);

#endif
