/* GPT-2's byte-to-unicode map and its pre-tokenisation regex, written out by hand.
 *
 * The pattern is  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * and the alternatives are tried in that order at each position (leftmost-first, greedy).
 * The one subtle branch is \s+(?!\S): a whitespace run followed by a non-space character
 * backtracks one character, leaving its last whitespace character to start the next piece
 * (so " Hello" keeps its space and "\n =" splits as "\n", " ="); a run of one such character
 * falls through to the plain \s+. A run that ends the text is taken whole.
 *
 * Character classes are those of Python's `regex` module, which both openai/gpt-2 and
 * transformers use: \p{L} and \p{N} are the general categories L* and N* (from utf8proc);
 * \s is the Unicode White_Space property, which unlike Python's str.isspace() leaves out
 * U+001C..U+001F (llama.cpp's tables, generated with that module, agree).
 */
#include <utf8proc.h>

#include "bpe.h"

enum { C_OTHER = 0, C_LETTER = 1, C_NUMBER = 2, C_SPACE = 3 };

int32_t bt_bpe_byte_char(uint8_t b) {
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return b;
    /* the others in byte order: 0x00-0x20, 0x7F, 0x80-0xA0, 0xAD */
    int k = b <= 0x20 ? b : b == 0x7F ? 33 : b <= 0xA0 ? 34 + (b - 0x80) : 67;
    return 256 + k;
}

static inline int white_space(int32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

static inline int char_class(int32_t c) {
    if (c < 0x80) {
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return C_LETTER;
        if (c >= '0' && c <= '9') return C_NUMBER;
        return white_space(c) ? C_SPACE : C_OTHER;
    }
    if (white_space(c)) return C_SPACE;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return C_LETTER;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return C_NUMBER;
    default:
        return C_OTHER;
    }
}

/* Class of the character at byte i; *w = its length in bytes. A malformed sequence (callers
 * validate first, so only a misuse) counts as one byte of class other. */
static inline int class_at(const uint8_t *s, size_t len, size_t i, int32_t *cp, size_t *w) {
    if (s[i] < 0x80) {
        *cp = s[i];
        *w = 1;
        return char_class(s[i]);
    }
    utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), cp);
    if (k <= 0) {
        *cp = -1;
        *w = 1;
        return C_OTHER;
    }
    *w = (size_t)k;
    return char_class(*cp);
}

/* End of the run of class k that starts at byte j. */
static size_t run_end(const uint8_t *s, size_t len, size_t j, int k) {
    int32_t cp;
    size_t w;
    while (j < len && class_at(s, len, j, &cp, &w) == k) j += w;
    return j;
}

size_t bt_bpe_piece_end(const uint8_t *s, size_t len, size_t i) {
    /* 's|'t|'re|'ve|'m|'ll|'d : ASCII, case-sensitive, whatever follows */
    if (s[i] == '\'' && i + 1 < len) {
        const uint8_t a = s[i + 1];
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if (i + 2 < len) {
            const uint8_t b = s[i + 2];
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
                return i + 3;
        }
    }
    int32_t cp;
    size_t w;
    const int k = class_at(s, len, i, &cp, &w);
    size_t j = i + w;
    /* ' ?X+' for X = letter, number, other: a space (U+0020 only) joins the run after it */
    if (cp == ' ' && j < len) {
        int32_t cp2;
        size_t w2;
        const int k2 = class_at(s, len, j, &cp2, &w2);
        if (k2 != C_SPACE) return run_end(s, len, j + w2, k2);
    }
    if (k != C_SPACE) return run_end(s, len, j, k);
    /* \s+(?!\S) then \s+ */
    size_t last = i; /* start of the last whitespace character of the run */
    while (j < len) {
        if (class_at(s, len, j, &cp, &w) != C_SPACE) break;
        last = j;
        j += w;
    }
    if (j == len) return len;
    return last > i ? last : j;
}
