/* The run floor's options (src/run/flags.c): the flag table is consistent, every default is the
 * one --help shows and bt_run_options_init sets, values are bounds-checked, the options JSON holds
 * what each command stores, the checks between flags refuse what they say, and library messages
 * get their flag names. */
#include <check.h>
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/engine.h"
#include "bertology/plan.h"
#include "bertology/run.h"
#include "testutil.h"

static const int COMMANDS[] = {BT_CMD_IMPORTANCE, BT_CMD_EVAL, BT_CMD_MASK, BT_CMD_ABLATE, BT_CMD_PRUNE,
                               BT_CMD_SYNTAX, BT_CMD_FORWARD, BT_CMD_BENCH, BT_CMD_TOKENIZE, BT_CMD_SCHEMA};
#define N_COMMANDS ((int)(sizeof COMMANDS / sizeof COMMANDS[0]))

static int takes_value(bt_flag_kind k) {
    return k == BT_FLAG_STRING || k == BT_FLAG_INT || k == BT_FLAG_DOUBLE || k == BT_FLAG_CHOICE;
}

/* Every row says what its kind needs; a name is one flag per command; a key is one flag name. */
START_TEST(table_is_consistent) {
    int n;
    const bt_flag *f = bt_run_flags(&n);
    ck_assert_int_gt(n, 30);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(f[i].name && f[i].key && f[i].help && f[i].commands, "row %d", i);
        ck_assert_msg(!takes_value(f[i].kind) == !f[i].arg, "--%s: a value iff a placeholder", f[i].name);
        if (f[i].kind == BT_FLAG_INT || f[i].kind == BT_FLAG_DOUBLE || f[i].kind == BT_FLAG_CHOICE)
            ck_assert_msg(f[i].bad, "--%s: no message for a bad value", f[i].name);
        ck_assert_msg((f[i].kind == BT_FLAG_CHOICE) == (f[i].choices != NULL), "--%s: choices", f[i].name);
        ck_assert_msg(!(f[i].def && f[i].def_note), "--%s: two defaults", f[i].name);
        ck_assert_msg(!f[i].stored || f[i].kind != BT_FLAG_HELP, "--%s", f[i].name);
        for (int j = i + 1; j < n; j++) {
            ck_assert_msg(strcmp(f[i].name, f[j].name) || !(f[i].commands & f[j].commands),
                          "--%s twice for one command", f[i].name);
            ck_assert_msg(strcmp(f[i].key, f[j].key) || !strcmp(f[i].name, f[j].name),
                          "key %s names --%s and --%s", f[i].key, f[i].name, f[j].name);
            ck_assert_msg(!f[i].stored || !f[j].stored || strcmp(f[i].key, f[j].key), "key %s stored twice", f[i].key);
        }
    }
    for (int c = 0; c < N_COMMANDS; c++)
        ck_assert_msg(bt_run_flag_find("help", COMMANDS[c]), "command %d has --help", COMMANDS[c]);
    ck_assert_ptr_null(bt_run_flag_find("threshold", BT_CMD_IMPORTANCE));
    ck_assert_ptr_nonnull(bt_run_flag_find("threshold", BT_CMD_MASK));
    /* one name, two meanings: bench's --layers is a count, importance's a list */
    ck_assert_int_eq(bt_run_flag_find("layers", BT_CMD_BENCH)->kind, BT_FLAG_INT);
    ck_assert_int_eq(bt_run_flag_find("layers", BT_CMD_IMPORTANCE)->kind, BT_FLAG_STRING);
}
END_TEST

/* bt_run_options_init sets each row's default, which is what applying the default as given on
 * the command line sets; rows without one leave zero (CLEAR rows: one). */
START_TEST(defaults_from_the_table) {
    int n;
    const bt_flag *f = bt_run_flags(&n);
    bt_run_options o;
    bt_run_options_init(&o, BT_CMD_MASK, "mask");
    for (int i = 0; i < n; i++) {
        if (f[i].kind == BT_FLAG_HELP) continue;
        /* a field with a row of the command's own (cat's --max-seq-length) takes that row's default */
        int shadowed = 0;
        for (int j = 0; j < n; j++)
            shadowed |= j != i && f[j].offset == f[i].offset && f[j].kind != BT_FLAG_HELP &&
                        (f[j].commands & BT_CMD_MASK) && !(f[i].commands & BT_CMD_MASK);
        if (shadowed) continue;
        bt_run_options z;
        memset(&z, 0, sizeof z);
        bt_error err = {0};
        if (f[i].def) ck_assert_msg(bt_run_flag_apply(&z, &f[i], f[i].def, &err) == BT_OK, "--%s %s: %s", f[i].name, f[i].def, err.msg);
        if (f[i].kind == BT_FLAG_CLEAR) *(int *)((char *)&z + f[i].offset) = 1;
        const size_t size = f[i].kind == BT_FLAG_STRING ? sizeof(char *) : f[i].kind == BT_FLAG_DOUBLE ? sizeof(double) : sizeof(int);
        ck_assert_msg(!memcmp((char *)&o + f[i].offset, (char *)&z + f[i].offset, size), "--%s: init differs", f[i].name);
    }
    /* the values the documentation promises */
    ck_assert_str_eq(o.split, "dev");
    ck_assert_int_eq(o.max_seq_length, 128);
    ck_assert(o.threshold == 0.9 && o.amount == 0.1 && o.max_output_gb == 20.0 && o.checkpoint_every == 30.0);
    ck_assert(o.layer_norm && o.global_norm && o.token_norm && o.dtype_f16 && o.granularity == BT_GRAN_EXAMPLE);
    ck_assert_int_eq(o.min_arcs, 100);
    bt_run_options c;
    bt_run_options_init(&c, BT_CMD_CAT, "cat"); /* the authors' 256 for cat, whatever the row order */
    ck_assert_int_eq(c.max_seq_length, 256);
    ck_assert_int_eq(bt_run_flag_find("max-seq-length", BT_CMD_CAT)->def[0], '2');
    ck_assert_int_eq(c.cat_plain, 0);
    ck_assert_int_eq(o.batch_tokens, 0); /* the plan's default, resolved when the plan is made */
    ck_assert(o.bench_layers == 12 && o.reps == 5);
    ck_assert(o.command == BT_CMD_MASK && !strcmp(o.name, "mask"));
}
END_TEST

/* --help shows each row's default, and the tools' rows only for the tools. */
START_TEST(help_shows_defaults) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    bt_run_options_usage(f, BT_CMD_MASK, "mask");
    fclose(f);
    ck_assert_msg(strstr(buf, "usage: bertology mask --model DIR --task TASK --data DIR --out DIR"), "%s", buf);
    ck_assert(strstr(buf, "--threshold X") && strstr(buf, "(default 0.9)"));
    ck_assert(strstr(buf, "(default 128)") && strstr(buf, "(default 2048)") && strstr(buf, "(default 30)"));
    ck_assert(!strstr(buf, "--ids") && !strstr(buf, "--reps"));
    free(buf);
    buf = NULL;
    f = open_memstream(&buf, &len);
    bt_run_options_usage(f, BT_CMD_BENCH, "bench");
    fclose(f);
    ck_assert(strstr(buf, "--reps R") && strstr(buf, "(default 5)") && strstr(buf, "--layers L"));
    ck_assert(!strstr(buf, "--threshold") && !strstr(buf, "--save-attentions"));
    free(buf);
}
END_TEST

static int apply(bt_run_options *o, int command, const char *name, const char *value, bt_error *err) {
    const bt_flag *f = bt_run_flag_find(name, command);
    ck_assert_msg(f != NULL, "--%s", name);
    return bt_run_flag_apply(o, f, value, err);
}

START_TEST(values_are_checked) {
    bt_run_options o;
    bt_run_options_init(&o, BT_CMD_MASK, "mask");
    bt_error err = {0};
    ck_assert_int_eq(apply(&o, BT_CMD_MASK, "subset", "0", &err), BT_EINPUT);
    ck_assert_str_eq(err.msg, "`subset` 0: need a positive integer");
    ck_assert_int_eq(apply(&o, BT_CMD_MASK, "subset", "12x", &err), BT_EINPUT);
    ck_assert_int_eq(apply(&o, BT_CMD_MASK, "subset", "12", &err), BT_OK);
    ck_assert_int_eq(o.subset, 12);
    ck_assert_int_eq(apply(&o, BT_CMD_MASK, "max-seq-length", "2", &err), BT_EINPUT);
    /* DOUBLE bounds are open */
    ck_assert_int_eq(apply(&o, BT_CMD_MASK, "threshold", "1", &err), BT_EINPUT);
    ck_assert_int_eq(apply(&o, BT_CMD_MASK, "threshold", "0", &err), BT_EINPUT);
    ck_assert_int_eq(apply(&o, BT_CMD_MASK, "threshold", "nan", &err), BT_EINPUT);
    ck_assert_int_eq(apply(&o, BT_CMD_MASK, "threshold", "0.5", &err), BT_OK);
    ck_assert(o.threshold == 0.5);
    ck_assert_int_eq(apply(&o, BT_CMD_MASK, "checkpoint-every", "0", &err), BT_OK);
    ck_assert_int_eq(apply(&o, BT_CMD_MASK, "checkpoint-every", "-1", &err), BT_EINPUT);
    ck_assert_int_eq(apply(&o, BT_CMD_MASK, "granularity", "tokens", &err), BT_EINPUT);
    ck_assert_str_eq(err.msg, "`granularity` tokens: one of example, token, batch");
    ck_assert_int_eq(apply(&o, BT_CMD_MASK, "granularity", "batch", &err), BT_OK);
    ck_assert_int_eq(o.granularity, BT_GRAN_BATCH);
    ck_assert_int_eq(apply(&o, BT_CMD_IMPORTANCE, "dtype", "float32", &err), BT_OK);
    ck_assert_int_eq(o.dtype_f16, 0);
    ck_assert_int_eq(apply(&o, BT_CMD_MASK, "no-layer-norm", NULL, &err), BT_OK);
    ck_assert_int_eq(o.layer_norm, 0);
    ck_assert_int_eq(apply(&o, BT_CMD_MASK, "exact", NULL, &err), BT_OK);
    ck_assert_int_eq(o.exact, 1);
    /* bench refuses a backend the build lacks as it parses; auto is always there */
    ck_assert_int_eq(apply(&o, BT_CMD_BENCH, "gemm", "auto", &err), BT_OK);
    ck_assert_int_eq(apply(&o, BT_CMD_BENCH, "gemm", "blas", &err), BT_OK);
    if (!bt_gemm_available(BT_GEMM_ONEDNN)) ck_assert_int_eq(apply(&o, BT_CMD_BENCH, "gemm", "onednn", &err), BT_EINPUT);
}
END_TEST

/* The checks between flags, and what needs a value of which command. */
START_TEST(checks_between_flags) {
    bt_run_options o;
    bt_error err = {0};
#define FRESH(cmd, nm)                                  \
    bt_run_options_init(&o, cmd, nm);                   \
    o.model = "m", o.task = "sst-2", o.data = "d", o.out = "o"
    FRESH(BT_CMD_IMPORTANCE, "importance");
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_OK);
    o.model = NULL;
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_EINPUT);
    ck_assert_str_eq(err.msg, "`model` is required");
    FRESH(BT_CMD_IMPORTANCE, "importance");
    o.text = "t.txt";
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_EINPUT); /* --text and --task */
    o.task = o.data = NULL;
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_OK);
    FRESH(BT_CMD_IMPORTANCE, "importance");
    o.out = NULL;
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_EINPUT);
    FRESH(BT_CMD_EVAL, "eval");
    o.out = NULL; /* eval scores without writing */
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_OK);
    FRESH(BT_CMD_PRUNE, "prune");
    o.task = o.data = NULL; /* prune without scoring */
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_EINPUT);
    ck_assert_str_eq(err.msg, "`head_mask` (the heads to remove: 0 entries), or `scores` or `method` attattr with "
                              "`percent`, is required");
    o.head_mask_path = "mask.npy";
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_OK);
    o.scores_path = "scores.npy"; /* both choose the heads */
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_EINPUT);
    ck_assert_str_eq(err.msg, "`head_mask` and `scores` both choose the heads to remove: give one or the other");
    o.head_mask_path = NULL; /* scores alone need a share */
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_EINPUT);
    ck_assert_str_eq(err.msg, "`scores` needs `percent` P: the share of all heads to remove");
    o.percent = 30;
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_OK);
    o.scores_path = NULL; /* a share of nothing */
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_EINPUT);
    ck_assert_str_eq(err.msg, "`percent` goes with `scores` or `method` attattr");
    o.method = BT_SWEEP_ATTATTR; /* the attribution on the run's data chooses them */
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_EINPUT);
    ck_assert_str_eq(err.msg, "`method` attattr scores the heads on data: `task` and `data` are required");
    o.task = "sst-2", o.data = "glue";
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_OK);
    o.save_attributions = 1; /* importance's alone */
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_OK);
    o.method = BT_SWEEP_GATE;
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_EINPUT);
    ck_assert_str_eq(err.msg, "`save_attributions` needs `method` attattr");
    FRESH(BT_CMD_IMPORTANCE, "importance");
    o.batch_size = 8, o.batch_tokens = 512;
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_EINPUT);
    FRESH(BT_CMD_IMPORTANCE, "importance");
    o.hf_compat = 1;
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_EINPUT);
    o.granularity = BT_GRAN_BATCH;
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_EINPUT); /* batch granularity needs --batch-size */
    o.batch_size = 4;
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_OK);
    FRESH(BT_CMD_IMPORTANCE, "importance");
    o.layers = "0,1";
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_EINPUT);
    o.save_hidden = 1;
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_OK);
    FRESH(BT_CMD_SYNTAX, "syntax");
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "`task` sst-2: syntax reads dependency trees"), "%s", err.msg);
    o.task = "ud";
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_OK);
    /* the tools */
    bt_run_options_init(&o, BT_CMD_FORWARD, "forward");
    o.model = "m", o.out = "o";
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_EINPUT);
    o.ids_path = "ids";
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_OK);
    bt_run_options_init(&o, BT_CMD_TOKENIZE, "tokenize");
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_EINPUT);
    bt_run_options_init(&o, BT_CMD_BENCH, "bench");
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_OK);
    o.batch_tokens = 64;
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_EINPUT);
    bt_run_options_init(&o, BT_CMD_SCHEMA, "schema");
    ck_assert_int_eq(bt_run_options_check(&o, &err), BT_OK);
#undef FRESH
}
END_TEST

/* Which commands keep a checkpoint: the resumable ones, with --out and a positive period. */
START_TEST(resumable_commands) {
    bt_run_options o;
    const int yes[] = {BT_CMD_IMPORTANCE, BT_CMD_EVAL, BT_CMD_MASK, BT_CMD_ABLATE};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        bt_run_options_init(&o, yes[i], "x");
        ck_assert(!bt_run_resumable(&o)); /* no --out */
        o.out = "o";
        ck_assert(bt_run_resumable(&o));
        o.checkpoint_every = 0;
        ck_assert(!bt_run_resumable(&o));
    }
    bt_run_options_init(&o, BT_CMD_PRUNE, "prune");
    o.out = "o";
    ck_assert(!bt_run_resumable(&o));
    bt_run_options_init(&o, BT_CMD_FORWARD, "forward");
    o.out = "o";
    ck_assert(!bt_run_resumable(&o));
}
END_TEST

static cJSON *options_json(int command, const char *name) {
    bt_run_options o;
    bt_run_options_init(&o, command, name);
    o.model = "m", o.task = "sst-2", o.data = "d", o.out = "o";
    char *s = bt_run_options_json(&o);
    ck_assert_ptr_nonnull(s);
    cJSON *j = cJSON_Parse(s);
    free(s);
    ck_assert_ptr_nonnull(j);
    return j;
}

/* Every command stores the ALWAYS flags, the others only where they apply; never --out. */
START_TEST(options_json_keys) {
    cJSON *imp = options_json(BT_CMD_IMPORTANCE, "importance"), *mask = options_json(BT_CMD_MASK, "mask");
    ck_assert_str_eq(cJSON_GetObjectItem(imp, "command")->valuestring, "importance");
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(imp, "max_output_gb"));
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(mask, "max_output_gb")); /* stored where it does not apply */
    ck_assert_ptr_null(cJSON_GetObjectItem(imp, "threshold"));
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(mask, "threshold"));
    ck_assert(cJSON_GetObjectItem(mask, "threshold")->valuedouble == 0.9);
    ck_assert_ptr_null(cJSON_GetObjectItem(imp, "out"));
    ck_assert_ptr_null(cJSON_GetObjectItem(imp, "ids"));
    ck_assert_ptr_null(cJSON_GetObjectItem(imp, "reps"));
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(imp, "layer_norm")));
    ck_assert_int_eq(cJSON_GetObjectItem(imp, "batch_tokens")->valueint, BT_PLAN_DEFAULT_BATCH_TOKENS);
    ck_assert_str_eq(cJSON_GetObjectItem(imp, "dtype")->valuestring, "f16");
    /* the keys in table order: model first, verbose last */
    ck_assert_str_eq(imp->child->next->string, "model");
    cJSON *last = imp->child;
    while (last->next) last = last->next;
    ck_assert_str_eq(last->string, "verbose");
    cJSON_Delete(imp);
    cJSON_Delete(mask);
}
END_TEST

static const char *named(const char *msg) {
    static char buf[BT_ERROR_MSG_MAX];
    snprintf(buf, sizeof buf, "%s", msg);
    bt_run_flag_names(buf, sizeof buf);
    return buf;
}

/* Library messages name options by key; the command line turns each known key into its flag. */
START_TEST(flag_names_in_messages) {
    ck_assert_str_eq(named("`percents` 90 masks 129 of 144 heads, but `min_heads_per_layer` 2 keeps 24 of them"),
                     "--percents 90 masks 129 of 144 heads, but --min-heads-per-layer 2 keeps 24 of them");
    ck_assert_str_eq(named("`layer_norm` off"), "--no-layer-norm off");
    ck_assert_str_eq(named("rank 1: `head_mask` x.npy and `out`"), "rank 1: --head-mask x.npy and --out");
    ck_assert_str_eq(named("an interrupted `importance` run"), "an interrupted `importance` run");
    ck_assert_str_eq(named("one ` alone"), "one ` alone");
    ck_assert_str_eq(named("no keys at all"), "no keys at all");
    ck_assert_str_eq(named("``"), "``");
    char small[12] = "`subset` 12";
    bt_run_flag_names(small, sizeof small);
    ck_assert_str_eq(small, "--subset 12");
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("run_flags");
    TCase *tc = tcase_create("flags");
    tcase_add_test(tc, table_is_consistent);
    tcase_add_test(tc, defaults_from_the_table);
    tcase_add_test(tc, help_shows_defaults);
    tcase_add_test(tc, values_are_checked);
    tcase_add_test(tc, checks_between_flags);
    tcase_add_test(tc, resumable_commands);
    tcase_add_test(tc, options_json_keys);
    tcase_add_test(tc, flag_names_in_messages);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite()); }
