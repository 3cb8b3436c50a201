/* WordPiece tokenization with the semantics of transformers' slow BertTokenizer:
 *
 *   PreTrainedTokenizer.tokenize: with do_lower_case, every character outside special tokens is
 *     lowercased one at a time (a regex substitution over single characters, so Python's
 *     Final_Sigma rule never applies: 'Σ' -> 'σ' always); special tokens in the raw text are
 *     cut out and kept whole.
 *   BasicTokenizer: drop NUL, U+FFFD and category C* (except \t \n \r); whitespace -> ' ';
 *     spaces around CJK ideographs; split on whitespace; strip accents (NFD, drop Mn); split
 *     off every punctuation character.
 *   WordpieceTokenizer: greedy longest-match-first with '##' continuations; a word of more
 *     than 100 code points, or one that cannot be covered, becomes a single [UNK].
 *
 * The text is streamed: one whitespace-delimited token at a time goes through the scratch
 * buffers of the tokenizer, and the work stops as soon as cap ids are out.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "bertology/common.h"
#include "textio.h"
#include "wordpiece.h"

enum { C_OTHER = 0, C_DROP = 1, C_SPACE = 2, C_CJK = 3 };

typedef struct {
    int *ids;
    int cap, n;
} sink;

static inline void emit(sink *o, int id) {
    if (o->n < o->cap) o->ids[o->n++] = id;
}
static inline int full(const sink *o) { return o->n >= o->cap; }

/* transformers' _is_chinese_char: the CJK Unified Ideographs blocks, not Hangul or kana. */
static inline int is_cjk(int32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

static inline int ascii_class(int32_t c) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return C_SPACE;
    if (c < 0x20 || c == 0x7F) return C_DROP;
    return C_OTHER;
}

/* _clean_text + _tokenize_chinese_chars + the whitespace split, for one code point.
 * U+2028/U+2029 are not whitespace to _is_whitespace but Python's str.split() splits there. */
static inline int char_class(int32_t cp, int chinese) {
    if (cp < 0x80) return ascii_class(cp);
    if (cp == 0xFFFD) return C_DROP;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
        return C_DROP;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
        return C_SPACE;
    default:
        return chinese && is_cjk(cp) ? C_CJK : C_OTHER;
    }
}

/* _is_punctuation: the ASCII symbol ranges (so '$', '+', '^', '`' count) or category P*. */
static inline int is_punct(int32_t cp) {
    if (cp < 0x80)
        return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
               (cp >= 123 && cp <= 126);
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return 1;
    default:
        return 0;
    }
}

/* Scratch growth on the hot path: the caller words the failure. */
static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    return bt_grow(p, cap, need < 256 ? 256 : need, elem, "WordPiece scratch", NULL) ? -1 : 0;
}

static size_t encode_utf8(const int32_t *cp, size_t n, uint8_t *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (cp[i] < 0x80)
            out[k++] = (uint8_t)cp[i];
        else
            k += (size_t)utf8proc_encode_char(cp[i], out + k);
    }
    return k;
}

/* Greedy longest-match-first over one word of n code points. */
static void wordpiece_word(const bt_wordpiece *wp, const int32_t *cp, size_t n, sink *o) {
    if (wp->word_fn) {
        o->n += wp->word_fn(wp->word_ctx, cp, n, o->ids + o->n, o->cap - o->n);
        return;
    }
    const int unk = wp->special_id[BT_TOK_UNK];
    if (n > BT_WP_MAX_WORD_CHARS) {
        emit(o, unk);
        return;
    }
    char s[4 * BT_WP_MAX_WORD_CHARS];
    int at[BT_WP_MAX_WORD_CHARS + 1]; /* byte offset of each code point */
    at[0] = 0;
    for (size_t i = 0; i < n; i++) {
        int k = cp[i] < 0x80 ? (s[at[i]] = (char)cp[i], 1)
                             : (int)utf8proc_encode_char(cp[i], (uint8_t *)s + at[i]);
        at[i + 1] = at[i] + k;
    }
    int piece[BT_WP_MAX_WORD_CHARS], np = 0;
    const int maxb = wp->vocab.max_len;
    size_t start = 0;
    while (start < n) {
        const int pre = start ? 2 : 0;
        size_t end = n;
        /* no vocabulary entry is longer than maxb bytes: skip the hopeless candidates */
        while (end > start && at[end] - at[start] + pre > maxb) end--;
        int id = -1;
        for (; end > start; end--) {
            const char *p = s + at[start];
            size_t len = (size_t)(at[end] - at[start]);
            id = start ? bt_wp_table_find_cont(&wp->vocab, p, len)
                       : bt_wp_table_find(&wp->vocab, p, len);
            if (id >= 0) break;
        }
        if (id < 0) {
            emit(o, unk);
            return;
        }
        piece[np++] = id;
        start = end;
    }
    for (int i = 0; i < np; i++) emit(o, piece[i]);
}

/* Never-split and special strings are kept whole: the first as the vocabulary id of the string
 * (BertTokenizer._tokenize appends them untouched), the second through WordPiece (they reach
 * BasicTokenizer as never_split only, e.g. "[CLS]" rejoined after a dropped control char). */
static int keep_whole(bt_wordpiece *wp, const int32_t *cp, size_t n, sink *o) {
    /* every code point takes at least one byte: longer tokens cannot match */
    if (n > (size_t)wp->never.max_len && n > (size_t)wp->special.max_len) return 0;
    uint8_t *u = wp->u8;
    size_t len = encode_utf8(cp, 1, u); /* first character: a cheap filter */
    if (!wp->never.first[u[0]] && !wp->special.first[u[0]]) return 0;
    len = encode_utf8(cp, n, u);
    int id = bt_wp_table_find(&wp->never, (const char *)u, len);
    if (id >= 0) {
        id = bt_wp_table_find(&wp->vocab, (const char *)u, len);
        emit(o, id >= 0 ? id : wp->special_id[BT_TOK_UNK]);
        return 1;
    }
    if (bt_wp_table_find(&wp->special, (const char *)u, len) >= 0) {
        wordpiece_word(wp, cp, n, o);
        return 1;
    }
    return 0;
}

/* One whitespace-delimited token of the cleaned text (code points in wp->cp[0..n)). */
static int basic_token(bt_wordpiece *wp, size_t n, sink *o) {
    int32_t *t = wp->cp;
    if (!wp->basic) {
        wordpiece_word(wp, t, n, o);
        return 0;
    }
    int ascii = 1;
    for (size_t i = 0; i < n && ascii; i++) ascii = t[i] < 0x80;

    if (wp->do_lower) {
        if (ascii) {
            for (size_t i = 0; i < n; i++)
                if (t[i] >= 'A' && t[i] <= 'Z') t[i] += 'a' - 'A';
        } else {
            /* str.lower() of one character: the simple mapping, except U+0130 whose full
             * lowercase is 'i' + U+0307 (SpecialCasing); grow for that worst case */
            if (grow((void **)&wp->cp2, &wp->cp2_cap, 2 * n, sizeof *wp->cp2)) return -1;
            size_t m = 0;
            for (size_t i = 0; i < n; i++) {
                if (t[i] == 0x130) {
                    wp->cp2[m++] = 'i';
                    wp->cp2[m++] = 0x307;
                } else {
                    wp->cp2[m++] = utf8proc_tolower(t[i]);
                }
            }
            /* swap buffers so that wp->cp holds the token again (the raw token is no longer
             * needed: the next one overwrites wp->cp anyway) */
            int32_t *tmp = wp->cp;
            size_t tcap = wp->cp_cap;
            wp->cp = wp->cp2;
            wp->cp_cap = wp->cp2_cap;
            wp->cp2 = tmp;
            wp->cp2_cap = tcap;
            t = wp->cp;
            n = m;
        }
    }
    if (grow((void **)&wp->u8, &wp->u8_cap, 4 * n + 1, 1)) return -1;
    if (keep_whole(wp, t, n, o)) return 0;

    if ((wp->strip || wp->nfd) && !ascii) {
        size_t len = encode_utf8(t, n, wp->u8);
        if (grow((void **)&wp->cp2, &wp->cp2_cap, n, sizeof *wp->cp2)) return -1;
        utf8proc_option_t opt = UTF8PROC_DECOMPOSE | UTF8PROC_STABLE;
        utf8proc_ssize_t m;
        for (;;) {
            m = utf8proc_decompose(wp->u8, (utf8proc_ssize_t)len, wp->cp2,
                                   (utf8proc_ssize_t)wp->cp2_cap, opt);
            if (m < 0) return -1; /* the input was validated: cannot happen */
            if ((size_t)m <= wp->cp2_cap) break;
            if (grow((void **)&wp->cp2, &wp->cp2_cap, (size_t)m, sizeof *wp->cp2)) return -1;
        }
        size_t k = 0;
        for (utf8proc_ssize_t i = 0; i < m; i++)
            if (!wp->strip || utf8proc_category(wp->cp2[i]) != UTF8PROC_CATEGORY_MN) wp->cp2[k++] = wp->cp2[i];
        if (k == 0) return 0;
        t = wp->cp2;
        n = k;
        if (grow((void **)&wp->u8, &wp->u8_cap, 4 * n + 1, 1)) return -1;
        if (keep_whole(wp, t, n, o)) return 0;
    }

    /* _run_split_on_punc: every punctuation character is a word of its own */
    size_t w = 0;
    for (size_t i = 0; i < n && !full(o); i++) {
        if (!is_punct(t[i])) continue;
        if (i > w) wordpiece_word(wp, t + w, i - w, o);
        wordpiece_word(wp, t + i, 1, o);
        w = i + 1;
    }
    if (w < n && !full(o)) wordpiece_word(wp, t + w, n - w, o);
    return 0;
}

/* Python's str.isspace(), which str.split() uses: bidi class WS, B or S, or category Zs. */
static inline int py_isspace(int32_t cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
    if (cp == 0x85) return 1;
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

/* Unicode White_Space (Rust's char::is_whitespace), where BertPreTokenizer splits when no
 * BertNormalizer cleaned the text first. */
static inline int white_space(int32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Splits len bytes of validated UTF-8 into whitespace tokens and feeds them on. */
static int basic_segment(bt_wordpiece *wp, const uint8_t *s, size_t len, sink *o) {
    size_t i = 0, n = 0;
    while (i < len && !full(o)) {
        int32_t cp;
        if (s[i] < 0x80)
            cp = s[i++];
        else {
            utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
            if (k < 0) return -1; /* validated by the caller: cannot happen */
            i += (size_t)k;
        }
        int c;
        if (wp->basic)
            c = wp->no_clean ? (white_space(cp) ? C_SPACE : C_OTHER) : char_class(cp, wp->chinese);
        else /* do_basic_tokenize=False: WordPiece on str.split() of the raw text */
            c = py_isspace(cp) ? C_SPACE : C_OTHER;
        if (c == C_DROP) continue;
        if (c != C_OTHER && n) {
            if (basic_token(wp, n, o)) return -1;
            n = 0;
        }
        if (c == C_SPACE) continue;
        if (grow((void **)&wp->cp, &wp->cp_cap, n + 1, sizeof *wp->cp)) return -1;
        wp->cp[n++] = cp;
        if (c == C_CJK) {
            if (basic_token(wp, n, o)) return -1;
            n = 0;
        }
    }
    if (n && !full(o) && basic_token(wp, n, o)) return -1;
    return 0;
}

/* Length of the special token starting at s[0..len), 0 if none (the longest one wins). */
static size_t special_at(const bt_wordpiece *wp, const uint8_t *s, size_t len) {
    size_t best = 0;
    const bt_wp_table *t = &wp->special;
    for (int id = 0; id < t->n; id++) {
        size_t l = (size_t)t->len[id];
        if (l > best && l <= len && !memcmp(s, t->bytes + t->off[id], l)) best = l;
    }
    return best;
}

int bt_wp_tokenize(bt_wordpiece *wp, const char *text, size_t len, int *ids, int cap, int *n,
                   bt_error *err) {
    *n = 0;
    const uint8_t *s = (const uint8_t *)text;
    /* Validate everything first, so that the verdict on a text does not depend on cap. */
    const size_t bad = bt_tok_utf8_error(text, len);
    if (bad < len) return bt_error_set(err, BT_EINPUT, "invalid UTF-8 at byte %zu", bad);
    sink o = {ids, cap > 0 ? cap : 0, 0};
    const bt_wp_table *sp = &wp->special;
    /* Special tokens in the raw text are cut out first (the added-tokens trie of
     * PreTrainedTokenizer.tokenize); the pieces between them are tokenized independently. */
    size_t seg = 0, i = 0;
    while (i < len && !full(&o)) {
        size_t l = sp->first[s[i]] ? special_at(wp, s + i, len - i) : 0;
        if (!l) {
            i++;
            continue;
        }
        if (i > seg && basic_segment(wp, s + seg, i - seg, &o))
            return bt_error_set(err, BT_EINTERNAL, "tokenizer: out of memory");
        int id = bt_wp_table_find(&wp->vocab, (const char *)s + i, l);
        emit(&o, id >= 0 ? id : wp->special_id[BT_TOK_UNK]);
        i += l;
        seg = i;
    }
    if (seg < len && !full(&o) && basic_segment(wp, s + seg, len - seg, &o))
        return bt_error_set(err, BT_EINTERNAL, "tokenizer: out of memory");
    *n = o.n;
    return BT_OK;
}
