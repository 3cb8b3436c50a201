/* vocab.json of the BPE tokenizers (GPT-2/RoBERTa byte-level, openai-gpt's </w> form): one
 * reader for both, so that both check the same things (docs/hostile_inputs.md). */
#ifndef BT_TOK_VOCAB_JSON_H
#define BT_TOK_VOCAB_JSON_H

#include "bertology/error.h"
#include "wordpiece.h" /* bt_wp_table */

/* Largest token id a vocabulary may name. */
#define BT_VOCAB_MAX_ID ((1 << 24) - 1)

/* dir/vocab.json: its strings in file order into vocab, entry_id[k] the id of string k,
 * id_entry[i] the string of id i (-1 where none), *n_ids = 1 + the largest id. Every token
 * must be valid UTF-8 and every id an integer in [0, BT_VOCAB_MAX_ID]. The arrays are the
 * caller's to free. */
int bt_vocab_json_read(const char *dir, bt_wp_table *vocab, int **entry_id, int **id_entry, int *n_ids,
                       bt_error *err);

#endif
