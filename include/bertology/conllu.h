/* conllu: Universal Dependencies treebanks (CoNLL-U) as sentences of syntactic words, and their
 * word-by-word tokenisation into the model's input (docs/spec.md "Syntax and probing").
 *
 * A sentence is its syntactic words: lines whose ID is an integer. Multiword-token ranges
 * ("3-4") and empty nodes ("8.1") are skipped, comments ("# ...") too. Every line must have the
 * ten tab-separated columns; word IDs run 1, 2, 3, ...; HEAD is an integer within the sentence
 * (0 = root) and exactly one word per sentence is the root; the file is UTF-8. Every error
 * names "FILE:LINE". Labels are interned: UPOS, the full DEPREL ("nmod:poss") and its universal
 * part before any ':' ("nmod"), each numbered in byte order of the names, so the numbering
 * depends only on the set of labels in the file.
 */
#ifndef BERTOLOGY_CONLLU_H
#define BERTOLOGY_CONLLU_H

#include <stddef.h>
#include <stdint.h>

#include "bertology/dataset.h"
#include "bertology/error.h"
#include "bertology/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int n;
    char **name; /* [n] sorted (strcmp), distinct */
} bt_conllu_names;

typedef struct {
    char *path;
    int n_sents;
    int64_t n_words;
    int64_t *sent_word;  /* [n_sents + 1] words of sentence s: sent_word[s] .. sent_word[s+1] */
    int64_t *sent_line;  /* [n_sents] line of the sentence's first word */
    /* per word, [n_words] */
    char **form;         /* FORM, NUL-terminated (points into an internal pool) */
    int *upos;           /* index into upos_names */
    int *head;           /* 0 = root, else the 1-based ID of a word of the same sentence */
    int *deprel;         /* index into deprel_names: the full label */
    int *rel;            /* index into rel_names: the universal relation (before ':') */
    int64_t *line;       /* source line */
    bt_conllu_names upos_names, deprel_names, rel_names;
    char *pool;
} bt_conllu;

/* Reads a whole CoNLL-U file. max_sents > 0 keeps only the first max_sents sentences (the rest
 * is not read). A file without a single sentence is an error. */
int bt_conllu_read(const char *path, int max_sents, bt_conllu *out, bt_error *err);
/* The same from memory (len bytes, may contain NUL bytes, which are an error); path names the
 * text in messages. */
int bt_conllu_parse(const char *path, const char *text, size_t len, int max_sents, bt_conllu *out,
                    bt_error *err);
void bt_conllu_free(bt_conllu *c);

/* The word pieces of the sentences that fit (docs/spec.md): each word tokenised on its own
 * (WordPiece: basic + WordPiece of the word; byte-level BPE: every word but the first with a
 * leading space, as HF's is_split_into_words=True), the sequence being the model's own
 * special tokens around w1-pieces ... wn-pieces ([CLS] ... [SEP], <s> ... </s>, or nothing for
 * GPT-2). Sentences longer than max_len are skipped and counted, never cut; so is a sentence
 * with a word that gives no piece at all (e.g. only characters BERT's basic tokenizer drops).
 * Example i of the dataset is sentence sent[i]; its words are word_off[i] .. word_off[i+1] of
 * the per-word arrays, in sentence order. */
typedef struct {
    int n;                   /* sentences kept (= examples of the dataset) */
    int *sent;               /* [n] sentence index in the file */
    int64_t *word_off;       /* [n + 1] */
    int *first;              /* [words] position of the word's first piece in the example */
    int *count;              /* [words] pieces of the word (>= 1) */
    int *upos, *head, *deprel, *rel; /* [words] copies of the treebank's (ids as in bt_conllu) */
    int n_prefix, n_suffix;  /* special tokens before the first / after the last word */
    int64_t skipped_long;    /* sentences of more than max_len tokens */
    int64_t skipped_empty;   /* sentences with a word of no pieces */
} bt_conllu_pieces;

/* Builds the dataset (ids, token types 0, no labels, line = the sentence's first word line) and
 * the word alignment. max_len >= 1. Errors name "FILE:LINE" of the word at fault. */
int bt_conllu_encode(const bt_conllu *c, bt_tok *tok, int max_len, bt_dataset *out,
                     bt_conllu_pieces *pieces, bt_error *err);
void bt_conllu_pieces_free(bt_conllu_pieces *p);

#ifdef __cplusplus
}
#endif
#endif
