/* tokenizer: text -> token ids for a Hugging Face model directory.
 *
 * One interface for every tokenizer kind; bt_tok_load picks the implementation from the files
 * in the directory (the kinds are a table of operations, src/tok/tok_ops.h, tried in this order):
 *   vocab.txt (+ tokenizer_config.json, special_tokens_map.json)  -> WordPiece, exactly as
 *       transformers' BertTokenizer (BasicTokenizer + WordpieceTokenizer, slow Python version)
 *   vocab.json + merges.txt                                        -> byte-level BPE, exactly
 *       as transformers' GPT2Tokenizer / RobertaTokenizer (slow Python versions; for plain text
 *       also openai/gpt-2's encoder.py). The family comes from tokenizer_config.json's
 *       tokenizer_class, else config.json's model_type (gpt2, roberta), else GPT-2. Added
 *       tokens (<|endoftext|>, <s>, <mask>, ...) written in the text are kept whole, as HF does.
 *   vocab.json + merges.txt of an openai-gpt model (tokenizer_class OpenAIGPTTokenizer, else
 *       config.json model_type openai-gpt)                           -> OpenAI GPT's BPE, exactly
 *       as transformers' OpenAIGPTTokenizer without ftfy/spacy: BERT's BasicTokenizer with
 *       lowercasing, then BPE over characters with "</w>" word ends; nothing added to inputs.
 *   tokenizer.json alone (no classic files)                       -> WordPiece or byte-level
 *       BPE with the semantics of the tokenizers library (fast tokenizers): its normalizer,
 *       pre-tokenizer, added tokens and post-processor template; unknown components refused.
 * The classic layouts also read added_tokens.json (tokens added after the vocabulary).
 * docs/model_files.md lists every accepted file.
 *
 * A bt_tok owns scratch buffers that grow to the longest input seen, so after warm-up encoding
 * does not allocate. For the same reason a bt_tok is not thread-safe: load one per thread.
 */
#ifndef BERTOLOGY_TOKENIZER_H
#define BERTOLOGY_TOKENIZER_H

#include <stddef.h>

#include <stdint.h>

#include "bertology/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bt_tok bt_tok;

typedef enum {
    BT_TOK_WORDPIECE = 1,
    BT_TOK_BPE = 2,
    BT_TOK_OPENAI_BPE = 3 /* openai-gpt: BasicTokenizer + BPE with "</w>" word ends */
} bt_tok_kind;

/* Roles of special tokens, for bt_tok_special_id. */
typedef enum {
    BT_TOK_UNK = 0,
    BT_TOK_CLS = 1,
    BT_TOK_SEP = 2,
    BT_TOK_PAD = 3,
    BT_TOK_MASK = 4,
    BT_TOK_N_SPECIAL = 5
} bt_tok_special;

/* Loads the tokenizer of model_dir into *out (NULL on failure). Errors (BT_EINPUT) name the
 * file and the line or field at fault. */
int bt_tok_load(const char *model_dir, bt_tok **out, bt_error *err);
void bt_tok_free(bt_tok *tok);

int bt_tok_kind_of(const bt_tok *tok);
int bt_tok_vocab_size(const bt_tok *tok);
/* model_max_length of tokenizer_config.json (clamped to INT_MAX), 0 when absent. */
int bt_tok_model_max_length(const bt_tok *tok);
/* Id of a special token role, -1 if the model has none. GPT-2 has only BT_TOK_UNK
 * (<|endoftext|>, id 50256, which is also its bos and eos) unless its files name more. */
int bt_tok_special_id(const bt_tok *tok, int role);
/* How many special tokens bt_tok_encode adds (HF num_special_tokens_to_add): BERT 2 / 3 (pair),
 * RoBERTa 2 / 4, GPT-2 and GPT 0. */
int bt_tok_num_special_tokens(const bt_tok *tok, int pair);
/* "WordPiece (BERT)", "byte-level BPE (GPT-2)", "byte-level BPE (RoBERTa)" or
 * "BPE with </w> word ends (OpenAI GPT)", for messages. */
const char *bt_tok_name(const bt_tok *tok);

/* The token string of id (not NUL-terminated in general: use *len), NULL if id is out of range. */
const char *bt_tok_id_to_token(const bt_tok *tok, int id, size_t *len);
/* The id of an exact token string, -1 if it is not in the vocabulary. */
int bt_tok_token_to_id(const bt_tok *tok, const char *token, size_t len);

/* Byte offset of the first invalid UTF-8 sequence in s (len bytes), or len when it is all valid:
 * where bt_tok_tokenize would refuse the text. Readers of text files call it to name the line. */
size_t bt_tok_utf8_error(const char *s, size_t len);

/* Token ids of one text (len bytes of UTF-8, may contain NUL bytes) without special tokens
 * added. At most cap ids are produced: tokenization stops there, so a huge text costs only what
 * is kept. *n = ids written. Invalid UTF-8 -> BT_EINPUT naming the byte offset (the caller
 * prefixes file:line). */
int bt_tok_tokenize(bt_tok *tok, const char *text, size_t len, int *ids, int cap, int *n,
                    bt_error *err);

/* Model input for a text or a text pair, as transformers' tokenizer(text_a, text_b,
 * truncation=True, max_length=max_len) builds it. WordPiece: [CLS] a [SEP] (b [SEP]),
 * token types 0 for [CLS] a [SEP] and 1 for b [SEP]. RoBERTa: <s> a </s> (</s> b </s>);
 * GPT-2 and GPT: a (b), nothing added; all with token types 0 (transformers' tokenizers of these
 * models return none).
 * When too long, truncation 'longest_first' removes the last token of the longer of a and b,
 * of b on a tie, until the total fits. text_b may be NULL (single sequence). ids and types
 * (types may be NULL) hold max_len entries; max_len must be >= 1 and leave room for the
 * special tokens (bt_tok_num_special_tokens). */
int bt_tok_encode(bt_tok *tok, const char *text_a, const char *text_b, int max_len, int *ids,
                  int *types, int *n, bt_error *err);
/* The same with explicit byte lengths (texts may contain NUL bytes); b_len is ignored when
 * text_b is NULL. */
int bt_tok_encode_n(bt_tok *tok, const char *text_a, size_t a_len, const char *text_b,
                    size_t b_len, int max_len, int *ids, int *types, int *n, bt_error *err);

/* Byte ranges in text[0..len) of tokens ids[0..n) that a byte-level BPE tokenizer (GPT-2,
 * RoBERTa) made of it: token k covers [start[k], end[k]); the special tokens encoding adds around
 * the text (the first and last, when the tokenizer adds any) get -1, -1. The tokens
 * must spell a prefix of the text (truncation keeps one): BT_EINPUT naming the first token that
 * does not, or when the tokenizer is not byte-level BPE. */
int bt_tok_byte_ranges(const bt_tok *tok, const char *text, size_t len, const int *ids, int n, int64_t *start,
                       int64_t *end, bt_error *err);

#ifdef __cplusplus
}
#endif
#endif
