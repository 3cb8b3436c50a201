/* GLUE readers: the shared real files (row counts from data/SOURCES.md, label counts from awk),
 * hand-made files with real-world quirks, and every bad input the reader must reject. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bertology/glue.h"
#include "testutil.h"

static const bt_glue_task *task(const char *name) {
    bt_error err = {0};
    const bt_glue_task *t = bt_glue_task_find(name, &err);
    ck_assert_msg(t != NULL, "%s", err.msg);
    return t;
}

static char g_dir[256];

/* Writes a file in a fresh directory and reads it as split `split` of task `name`. */
static int read_str(const char *name, const char *split, const char *file, const char *data,
                    size_t len, const bt_glue_read_opts *opts, bt_glue_examples *out,
                    bt_error *err) {
    snprintf(g_dir, sizeof g_dir, "%s", tu_tmpdir());
    tu_write_file(g_dir, file, data, len);
    return bt_glue_read(task(name), g_dir, split, opts, out, err);
}
#define READ(name, split, file, lit, opts, out, err) \
    read_str(name, split, file, lit, sizeof(lit) - 1, opts, out, err)

/* Reads a malformed file and checks the code and that the message holds every fragment. */
static void expect_bad(const char *name, const char *split, const char *file, const char *data,
                       size_t len, const char *frag1, const char *frag2) {
    bt_glue_examples ex;
    bt_error err = {0};
    int rc = read_str(name, split, file, data, len, NULL, &ex, &err);
    ck_assert_int_eq(rc, BT_EINPUT);
    ck_assert_int_eq(err.code, BT_EINPUT);
    ck_assert_msg(strstr(err.msg, frag1), "message '%s' lacks '%s'", err.msg, frag1);
    if (frag2) ck_assert_msg(strstr(err.msg, frag2), "message '%s' lacks '%s'", err.msg, frag2);
    ck_assert_msg(strchr(err.msg, '\n') == NULL, "multi-line message");
    ck_assert_ptr_null(ex.ex);
    ck_assert_uint_eq(ex.n, 0);
    bt_glue_examples_free(&ex);
}
#define BAD(name, split, file, lit, f1, f2) expect_bad(name, split, file, lit, sizeof(lit) - 1, f1, f2)

START_TEST(task_names) {
    ck_assert_str_eq(task("SST-2")->name, "sst-2");
    ck_assert_str_eq(task("sst2")->name, "sst-2");
    ck_assert_str_eq(task("StsB")->name, "sts-b");
    ck_assert_str_eq(task("sts_b")->name, "sts-b");
    ck_assert_str_eq(task("MNLI-MM")->name, "mnli-mm");
    ck_assert_str_eq(task("mnli_mismatched")->name, "mnli-mm");
    ck_assert_str_eq(task("mnli_matched")->name, "mnli");
    ck_assert_str_eq(task("CoLA")->name, "cola");
    int n;
    const bt_glue_task *all = bt_glue_tasks(&n);
    ck_assert_int_eq(n, 10);
    for (int i = 0; i < n; i++) ck_assert_ptr_eq(task(all[i].name), &all[i]);

    bt_error err = {0};
    ck_assert_ptr_null(bt_glue_task_find("sst-3", &err));
    ck_assert_int_eq(err.code, BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "sst-3") && strstr(err.msg, "cola") && strstr(err.msg, "wnli") &&
                      strstr(err.msg, "mnli-mm"),
                  "%s", err.msg);
    ck_assert_ptr_null(bt_glue_task_find(NULL, &err));
    ck_assert_ptr_null(bt_glue_task_find("", &err));
}
END_TEST

/* The metrics each task reports and the one it is scored by (SPEC table). */
START_TEST(task_metrics) {
    bt_error err = {0};
    const bt_glue_task *t = bt_glue_task_find("STS-B", &err);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->metrics.default_metric, BT_METRIC_CORR);
    ck_assert_int_eq(t->metrics.n, 3);
    ck_assert_ptr_nonnull(t = bt_glue_task_find("qqp", &err));
    ck_assert_int_eq(t->metrics.ids[0], BT_METRIC_ACC);
    ck_assert_int_eq(t->metrics.ids[1], BT_METRIC_F1);
    ck_assert_int_eq(t->metrics.default_metric, BT_METRIC_ACC_AND_F1);
    ck_assert_ptr_nonnull(t = bt_glue_task_find("cola", &err));
    ck_assert_int_eq(t->metrics.default_metric, BT_METRIC_MCC);
    ck_assert_int_eq(t->metrics.n, 1);
    ck_assert_ptr_null(bt_glue_task_find("squad", &err));
}
END_TEST

START_TEST(task_tables) {
    /* HF get_labels() orders and glue_tasks_num_labels. */
    const bt_glue_task *m = task("mnli");
    ck_assert_int_eq(m->num_labels, 3);
    ck_assert_str_eq(m->labels[0], "contradiction");
    ck_assert_str_eq(m->labels[1], "entailment");
    ck_assert_str_eq(m->labels[2], "neutral");
    ck_assert_str_eq(task("qnli")->labels[1], "not_entailment");
    ck_assert_str_eq(task("rte")->labels[0], "entailment");
    ck_assert_int_eq(task("sts-b")->num_labels, 1);
    ck_assert_int_eq(task("sts-b")->is_regression, 1);
    ck_assert_int_eq(task("cola")->is_pair, 0);
    ck_assert_int_eq(task("mrpc")->is_pair, 1);
    /* SPEC metric table */
    ck_assert_int_eq(task("cola")->metrics.default_metric, BT_METRIC_MCC);
    ck_assert_int_eq(task("mrpc")->metrics.default_metric, BT_METRIC_ACC_AND_F1);
    ck_assert_int_eq(task("qqp")->metrics.n, 3);
    ck_assert_int_eq(task("sts-b")->metrics.default_metric, BT_METRIC_CORR);
    ck_assert_int_eq(task("sts-b")->metrics.ids[1], BT_METRIC_SPEARMANR);
    ck_assert_int_eq(task("mnli-mm")->metrics.default_metric, BT_METRIC_ACC);

    const char *file;
    int labelled;
    bt_error err = {0};
    ck_assert_int_eq(bt_glue_split_file(m, "dev", &file, &labelled, &err), 0);
    ck_assert_str_eq(file, "dev_matched.tsv");
    ck_assert_int_eq(bt_glue_split_file(task("mnli-mm"), "dev", &file, &labelled, &err), 0);
    ck_assert_str_eq(file, "dev_mismatched.tsv");
    ck_assert_int_eq(bt_glue_split_file(m, "dev_mismatched", &file, &labelled, &err), 0);
    ck_assert_str_eq(file, "dev_mismatched.tsv");
    ck_assert_int_eq(bt_glue_split_file(task("mnli-mm"), "test", &file, &labelled, &err), 0);
    ck_assert_str_eq(file, "test_mismatched.tsv");
    ck_assert_int_eq(labelled, 0);
    ck_assert_int_eq(bt_glue_split_file(task("rte"), "dev_mismatched", &file, &labelled, &err),
                     BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "dev_mismatched") && strstr(err.msg, "train, dev, test"), "%s",
                  err.msg);
}
END_TEST

/* Rows = lines minus header (SOURCES.md); label counts from `cut -f | sort | uniq -c`. */
START_TEST(shared_files) {
    static const struct {
        const char *task, *dir, *split;
        size_t rows;
        size_t label0; /* examples with label id 0 */
    } files[] = {
        {"cola", "CoLA", "dev", 1043, 322},     {"cola", "CoLA", "train", 8551, 2528},
        {"sst-2", "SST-2", "dev", 872, 428},    {"sst-2", "SST-2", "train", 67349, 29780},
        {"qnli", "QNLI", "dev", 5463, 2702},    {"rte", "RTE", "dev", 277, 146},
        {"rte", "RTE", "train", 2490, 1249},    {"wnli", "WNLI", "dev", 71, 40},
        {"wnli", "WNLI", "train", 635, 323},
    };
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/glue/%s", tu_data_dir(), files[f].dir);
        bt_glue_examples ex;
        bt_error err = {0};
        int rc = bt_glue_read(task(files[f].task), dir, files[f].split, NULL, &ex, &err);
        ck_assert_msg(rc == 0, "%s", err.msg);
        ck_assert_msg(ex.n == files[f].rows, "%s/%s: %zu rows", files[f].dir, files[f].split, ex.n);
        size_t zeros = 0;
        for (size_t i = 0; i < ex.n; i++) {
            zeros += ex.ex[i].label == 0;
            ck_assert_int_ge(ex.ex[i].label, 0);
            ck_assert_int_eq(ex.ex[i].text_b != NULL, ex.task->is_pair);
        }
        ck_assert_uint_eq(zeros, files[f].label0);
        ck_assert_uint_eq(ex.skipped, 0);
        /* physical line of the last row = line count of the file */
        ck_assert_int_eq(ex.ex[ex.n - 1].line, (int64_t)files[f].rows + (files[f].dir[0] != 'C'));
        bt_glue_examples_free(&ex);
    }
}
END_TEST

START_TEST(shared_contents) {
    char dir[1024];
    bt_glue_examples ex;
    bt_error err = {0};
    snprintf(dir, sizeof dir, "%s/glue/CoLA", tu_data_dir());
    ck_assert_int_eq(bt_glue_read(task("cola"), dir, "dev", NULL, &ex, &err), 0);
    ck_assert_str_eq(ex.ex[0].text_a, "The sailors rode the breeze clear of the rocks.");
    ck_assert_ptr_null(ex.ex[0].text_b);
    ck_assert_int_eq(ex.ex[0].label, 1);
    ck_assert_int_eq(ex.ex[0].line, 1);
    /* last line has no final newline: the text must still be complete */
    const char *last = ex.ex[ex.n - 1].text_a;
    ck_assert_msg(strlen(last) > 8 && strcmp(last + strlen(last) - 8, "himself.") == 0, "%s", last);
    bt_glue_examples_free(&ex);

    /* the GLUE root works as data dir too */
    snprintf(dir, sizeof dir, "%s/glue", tu_data_dir());
    ck_assert_int_eq(bt_glue_read(task("qnli"), dir, "dev", NULL, &ex, &err), 0);
    ck_assert_str_eq(ex.ex[0].text_a, "What came into force after the new constitution was herald?");
    ck_assert_str_eq(ex.ex[0].text_b, "As of that day, the new constitution heralding the Second "
                                      "Republic came into force.");
    ck_assert_int_eq(ex.ex[0].label, 0);
    ck_assert_int_eq(ex.ex[0].line, 2);
    ck_assert_msg(strstr(ex.path, "/QNLI/dev.tsv"), "%s", ex.path);
    bt_glue_examples_free(&ex);

    /* SST-2 keeps the trailing space of its tokenised sentences (HF does not strip) */
    bt_glue_read_opts opts = {.max_examples = 3};
    ck_assert_int_eq(bt_glue_read(task("sst2"), dir, "dev", &opts, &ex, &err), 0);
    ck_assert_uint_eq(ex.n, 3);
    ck_assert_str_eq(ex.ex[0].text_a, "it 's a charming and often affecting journey . ");
    ck_assert_int_eq(ex.ex[2].line, 4);
    bt_glue_examples_free(&ex);

    /* WNLI dev line 22 has double quotes inside the text: kept verbatim */
    snprintf(dir, sizeof dir, "%s/glue/WNLI", tu_data_dir());
    ck_assert_int_eq(bt_glue_read(task("wnli"), dir, "dev", NULL, &ex, &err), 0);
    ck_assert_int_eq(ex.ex[20].line, 22);
    ck_assert_msg(strstr(ex.ex[20].text_a, "saying simply: \"There's plenty.\""), "%s",
                  ex.ex[20].text_a);
    bt_glue_examples_free(&ex);
}
END_TEST

START_TEST(quirks) {
    bt_glue_examples ex;
    bt_error err = {0};
    /* BOM, CRLF, no final newline, unbalanced quotes, a quoted tab-free field */
    const char data[] = "\xEF\xBB\xBFindex\tsentence1\tsentence2\tlabel\r\n"
                        "0\tHe said \"hi.\tShe \"left\"\tentailment\r\n"
                        "1\t\"quoted whole\"\t'single\tnot_entailment\r\n"
                        "2\tnon-ASCII: caf\xC3\xA9 \xE2\x80\x94 \xF0\x9F\x98\x80\t\tentailment";
    ck_assert_int_eq(READ("rte", "dev", "dev.tsv", data, NULL, &ex, &err), 0);
    ck_assert_uint_eq(ex.n, 3);
    ck_assert_str_eq(ex.ex[0].text_a, "He said \"hi.");
    ck_assert_str_eq(ex.ex[0].text_b, "She \"left\"");
    ck_assert_int_eq(ex.ex[0].label, 0);
    ck_assert_str_eq(ex.ex[1].text_a, "\"quoted whole\"");
    ck_assert_str_eq(ex.ex[1].text_b, "'single");
    ck_assert_int_eq(ex.ex[1].label, 1);
    ck_assert_str_eq(ex.ex[2].text_a, "non-ASCII: caf\xC3\xA9 \xE2\x80\x94 \xF0\x9F\x98\x80");
    ck_assert_str_eq(ex.ex[2].text_b, ""); /* empty field is a valid (empty) text */
    ck_assert_int_eq(ex.ex[2].line, 4);
    ck_assert(isnan(ex.ex[2].target));
    ck_assert_int_eq(ex.lines_read, 4);
    bt_glue_examples_free(&ex);

    /* CoLA: no header, BOM on the first data row */
    const char cola[] = "\xEF\xBB\xBFgj04\t1\t\tOne.\ngj04\t0\t*\tTwo two.\n";
    ck_assert_int_eq(READ("cola", "train", "train.tsv", cola, NULL, &ex, &err), 0);
    ck_assert_uint_eq(ex.n, 2);
    ck_assert_str_eq(ex.ex[0].text_a, "One.");
    ck_assert_int_eq(ex.ex[1].label, 0);
    ck_assert_int_eq(ex.ex[1].line, 2);
    bt_glue_examples_free(&ex);

    /* CoLA test: header, sentence in column 1, unlabelled */
    const char colat[] = "id\tsentence\n0\tBill whistled past the house.\n";
    ck_assert_int_eq(READ("cola", "test", "test.tsv", colat, NULL, &ex, &err), 0);
    ck_assert_uint_eq(ex.n, 1);
    ck_assert_int_eq(ex.labelled, 0);
    ck_assert_str_eq(ex.ex[0].text_a, "Bill whistled past the house.");
    ck_assert_int_eq(ex.ex[0].label, -1);
    bt_glue_examples_free(&ex);
}
END_TEST

START_TEST(other_layouts) {
    bt_glue_examples ex;
    bt_error err = {0};
    const char mrpc[] = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
                        "1\t702876\t702977\tAmrozi accused.\tReferring to him.\n";
    ck_assert_int_eq(READ("mrpc", "train", "train.tsv", mrpc, NULL, &ex, &err), 0);
    ck_assert_str_eq(ex.ex[0].text_a, "Amrozi accused.");
    ck_assert_str_eq(ex.ex[0].text_b, "Referring to him.");
    ck_assert_int_eq(ex.ex[0].label, 1);
    bt_glue_examples_free(&ex);

    const char stsb[] = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\t"
                        "sentence2\tscore\n"
                        "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA man.\tA guy.\t5.000\n"
                        "1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA.\tB.\t3.8\n";
    ck_assert_int_eq(READ("sts-b", "dev", "dev.tsv", stsb, NULL, &ex, &err), 0);
    ck_assert_uint_eq(ex.n, 2);
    ck_assert_str_eq(ex.ex[0].text_a, "A man.");
    ck_assert_str_eq(ex.ex[0].text_b, "A guy.");
    ck_assert(ex.ex[0].target == 5.0f);
    ck_assert(ex.ex[1].target == 3.8f);
    ck_assert_int_eq(ex.ex[1].label, -1);
    bt_glue_examples_free(&ex);

    const char qqp[] = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
                       "133273\t213221\t213222\tHow is it?\tWhat is it?\t0\n";
    ck_assert_int_eq(READ("qqp", "dev", "dev.tsv", qqp, NULL, &ex, &err), 0);
    ck_assert_str_eq(ex.ex[0].text_a, "How is it?");
    ck_assert_str_eq(ex.ex[0].text_b, "What is it?");
    bt_glue_examples_free(&ex);
    const char qqpt[] = "id\tquestion1\tquestion2\n0\tQ one?\tQ two?\n";
    ck_assert_int_eq(READ("qqp", "test", "test.tsv", qqpt, NULL, &ex, &err), 0);
    ck_assert_str_eq(ex.ex[0].text_b, "Q two?");
    bt_glue_examples_free(&ex);

    /* MNLI: train has 12 fields, dev 16; the gold label is the last one. */
    const char mtrain[] = "index\tpromptID\tpairID\tgenre\ts1bp\ts2bp\ts1p\ts2p\tsentence1\t"
                          "sentence2\tlabel1\tgold_label\n"
                          "0\t1\t1n\tgov\t(\t(\t(\t(\tPremise.\tHypo.\tneutral\tneutral\n";
    ck_assert_int_eq(READ("mnli", "train", "train.tsv", mtrain, NULL, &ex, &err), 0);
    ck_assert_str_eq(ex.ex[0].text_a, "Premise.");
    ck_assert_int_eq(ex.ex[0].label, 2);
    bt_glue_examples_free(&ex);
    const char mdev[] = "index\tpromptID\tpairID\tgenre\ts1bp\ts2bp\ts1p\ts2p\tsentence1\t"
                        "sentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n"
                        "0\t1\t1c\tgov\t(\t(\t(\t(\tP.\tH.\tneutral\tcontradiction\tcontradiction"
                        "\tcontradiction\tcontradiction\tcontradiction\n";
    ck_assert_int_eq(READ("mnli-mm", "dev", "dev_mismatched.tsv", mdev, NULL, &ex, &err), 0);
    ck_assert_int_eq(ex.ex[0].label, 0);
    bt_glue_examples_free(&ex);
    /* a dev row that lost a field no longer matches the header's width */
    const char mbad[] = "index\tpromptID\tpairID\tgenre\ts1bp\ts2bp\ts1p\ts2p\tsentence1\t"
                        "sentence2\tlabel1\tgold_label\n"
                        "0\t1\t1n\tgov\t(\t(\t(\t(\tPremise.\tHypo.\tneutral\n";
    BAD("mnli", "dev", "dev_matched.tsv", mbad, "dev_matched.tsv:2:", "expected 12");
    BAD("mnli", "train", "train.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tneutral\n",
        "train.tsv:1:", "at least 11");
}
END_TEST

START_TEST(bad_inputs) {
    /* wrong field counts, expected vs found */
    BAD("rte", "dev", "dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tentailment\n",
        "dev.tsv:2: expected 4 tab-separated fields", "found 3");
    BAD("rte", "dev", "dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tc\tentailment\n",
        "dev.tsv:2:", "found 5");
    BAD("sst-2", "dev", "dev.tsv", "index\tsentence1\tsentence2\tlabel\n", "dev.tsv:1: header",
        "expects 2");
    BAD("rte", "dev", "dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n\n",
        "dev.tsv:3:", "blank line");
    /* labels outside the set, including near misses */
    BAD("rte", "dev", "dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tneutral\n",
        "dev.tsv:2: label 'neutral'", "'entailment', 'not_entailment'");
    BAD("sst-2", "dev", "dev.tsv", "sentence\tlabel\nok .\t1 \n", "dev.tsv:2: label '1 '", NULL);
    BAD("sst-2", "dev", "dev.tsv", "sentence\tlabel\nok .\t2\n", "dev.tsv:2: label '2'", NULL);
    /* only one CR is a line end; the other is shown, not printed raw */
    BAD("sst-2", "dev", "dev.tsv", "sentence\tlabel\nok .\t1\r\r\n", "dev.tsv:2: label '1?'", NULL);
    BAD("sst-2", "dev", "dev.tsv",
        "sentence\tlabel\nok\t0123456789012345678901234567890123456789\xC3\xA9\n",
        "label '0123456789012345678901234567890123456789...'", NULL);
    BAD("sst-2", "dev", "dev.tsv",
        "sentence\tlabel\nok\t012345678901234567890123456789012345678\xC3\xA9\n",
        "label '012345678901234567890123456789012345678...'", NULL);
    BAD("cola", "dev", "dev.tsv", "source\tlabel\tx\tsentence\n", "dev.tsv:1: label 'label'", NULL);
    /* scores */
    const char head[] = "i\tg\tf\ty\to\ts1\ts2\tsentence1\tsentence2\tscore\n";
    char buf[512];
    const char *scores[] = {"abc", "", "nan", "inf", "3.5x", "1e999", "1e39", " "};
    for (size_t i = 0; i < sizeof scores / sizeof scores[0]; i++) {
        int len = snprintf(buf, sizeof buf, "%s0\tg\tf\ty\to\ts\ts\tA.\tB.\t%s\n", head, scores[i]);
        expect_bad("sts-b", "dev", "dev.tsv", buf, (size_t)len, "dev.tsv:2: score", "field 10");
    }
    /* invalid UTF-8: truncated sequence, overlong NUL, lone surrogate, lone continuation */
    BAD("sst-2", "dev", "dev.tsv", "sentence\tlabel\nok\t1\nbad \xC3\x28 x\t1\n",
        "dev.tsv:3: invalid UTF-8", "byte 5");
    BAD("sst-2", "dev", "dev.tsv", "sentence\tlabel\n\xC0\x80\t1\n", "dev.tsv:2: invalid UTF-8",
        NULL);
    BAD("sst-2", "dev", "dev.tsv", "sentence\tlabel\n\xED\xA0\x80\t1\n",
        "dev.tsv:2: invalid UTF-8", NULL);
    BAD("sst-2", "dev", "dev.tsv", "sentence\tlabel\nx\x80\t0\n", "dev.tsv:2: invalid UTF-8",
        "byte 2");
    BAD("sst-2", "dev", "dev.tsv", "sentence\xFF\tlabel\nx\t0\n", "dev.tsv:1: invalid UTF-8", NULL);
    BAD("sst-2", "dev", "dev.tsv", "sentence\tlabel\nnul\0byte\t0\n", "dev.tsv:2: NUL byte",
        "byte 4");
    /* empty files and files without data */
    BAD("sst-2", "dev", "dev.tsv", "", "dev.tsv: empty file", NULL);
    BAD("sst-2", "dev", "dev.tsv", "\xEF\xBB\xBF", "dev.tsv: empty file", NULL);
    BAD("sst-2", "dev", "dev.tsv", "sentence\tlabel\n", "dev.tsv: no data rows", NULL);
    /* missing file, unknown split */
    BAD("sst-2", "train", "dev.tsv", "sentence\tlabel\nx\t0\n", "train.tsv: no such file",
        "SST-2/train.tsv");
    BAD("sst-2", "validation", "dev.tsv", "sentence\tlabel\nx\t0\n", "unknown split 'validation'",
        "train, dev, test");
    /* a directory where the file should be */
    bt_glue_examples ex;
    bt_error err = {0};
    ck_assert_int_eq(bt_glue_read_file(task("rte"), tu_tmpdir(), 1, NULL, &ex, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "not a regular file"), "%s", err.msg);
}
END_TEST

START_TEST(skip_and_subset) {
    const char data[] = "index\tsentence1\tsentence2\tlabel\n"
                        "0\ta\tb\tentailment\n"
                        "1\tmissing field\tentailment\n"
                        "2\tc\td\tnot_entailment\n"
                        "3\te\tf\tmaybe\n"
                        "4\tg\th\tentailment\n";
    bt_glue_examples ex;
    bt_error err = {0};
    bt_glue_read_opts opts = {.skip_bad_lines = 1};
    ck_assert_int_eq(READ("rte", "dev", "dev.tsv", data, &opts, &ex, &err), 0);
    ck_assert_uint_eq(ex.n, 3);
    ck_assert_uint_eq(ex.skipped, 2);
    ck_assert_msg(strstr(ex.first_skipped, "dev.tsv:3: expected 4"), "%s", ex.first_skipped);
    ck_assert_str_eq(ex.ex[1].text_a, "c");
    ck_assert_int_eq(ex.ex[1].line, 4);
    ck_assert_int_eq(ex.ex[2].line, 6);
    /* skipped rows leave nothing behind: a, b, c, d, g, h with their NULs */
    ck_assert_uint_eq(ex.arena_bytes, 12);
    bt_glue_examples_free(&ex);
    bt_glue_examples_free(&ex); /* freeing twice is harmless */

    /* strict mode stops at the first bad row */
    ck_assert_int_eq(READ("rte", "dev", "dev.tsv", data, NULL, &ex, &err), BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "dev.tsv:3:"), "%s", err.msg);

    /* the first N examples, bad rows skipped do not count; reading stops there */
    opts.max_examples = 2;
    ck_assert_int_eq(READ("rte", "dev", "dev.tsv", data, &opts, &ex, &err), 0);
    ck_assert_uint_eq(ex.n, 2);
    ck_assert_str_eq(ex.ex[1].text_b, "d");
    ck_assert_int_eq(ex.lines_read, 4);
    bt_glue_examples_free(&ex);
    opts = (bt_glue_read_opts){.max_examples = 1};
    ck_assert_int_eq(READ("rte", "dev", "dev.tsv", data, &opts, &ex, &err), 0);
    ck_assert_uint_eq(ex.n, 1);
    bt_glue_examples_free(&ex);

    /* every row bad: an error that shows the first reason */
    opts = (bt_glue_read_opts){.skip_bad_lines = 1};
    ck_assert_int_eq(READ("rte", "dev", "dev.tsv", "index\ts1\ts2\tlabel\n0\tx\n1\ty\n", &opts,
                          &ex, &err),
                     BT_EINPUT);
    ck_assert_msg(strstr(err.msg, "all 2 data rows are bad") && strstr(err.msg, ":2: expected 4"),
                  "%s", err.msg);
}
END_TEST

/* Big unused columns (MNLI's parse trees) make the arena's file-size bound loose; the reader
 * then shrinks it and the texts must survive the move. */
START_TEST(arena_shrink) {
    const int rows = 3000;
    static char data[4 << 20];
    size_t k = (size_t)snprintf(data, sizeof data,
                                "index\tpromptID\tpairID\tgenre\ts1bp\ts2bp\ts1p\ts2p\t"
                                "sentence1\tsentence2\tlabel1\tgold_label\n");
    char parse[1001];
    memset(parse, '(', 1000);
    parse[1000] = '\0';
    for (int i = 0; i < rows; i++)
        k += (size_t)snprintf(data + k, sizeof data - k,
                              "%d\t1\t1n\tgov\t%s\t(\t(\t(\tpremise %d\thypo %d\tx\t%s\n", i,
                              parse, i, 7 * i, i % 3 ? "neutral" : "entailment");
    bt_glue_examples ex;
    bt_error err = {0};
    ck_assert_msg(read_str("mnli", "train", "train.tsv", data, k, NULL, &ex, &err) == 0, "%s",
                  err.msg);
    ck_assert_uint_eq(ex.n, (size_t)rows);
    size_t bytes = 0;
    for (int i = 0; i < rows; i++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "premise %d", i);
        snprintf(b, sizeof b, "hypo %d", 7 * i);
        ck_assert_str_eq(ex.ex[i].text_a, a);
        ck_assert_str_eq(ex.ex[i].text_b, b);
        ck_assert_int_eq(ex.ex[i].label, i % 3 ? 2 : 1);
        bytes += strlen(a) + strlen(b) + 2;
    }
    ck_assert_uint_eq(ex.arena_bytes, bytes);
    bt_glue_examples_free(&ex);

    /* a small subset of a real file */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/glue/QNLI", tu_data_dir());
    bt_glue_read_opts opts = {.max_examples = 2};
    ck_assert_int_eq(bt_glue_read(task("qnli"), dir, "dev", &opts, &ex, &err), 0);
    ck_assert_str_eq(ex.ex[0].text_a, "What came into force after the new constitution was herald?");
    ck_assert_uint_eq(ex.arena_bytes, strlen(ex.ex[0].text_a) + strlen(ex.ex[0].text_b) +
                                          strlen(ex.ex[1].text_a) + strlen(ex.ex[1].text_b) + 4);
    bt_glue_examples_free(&ex);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("glue");
    TCase *tc = tcase_create("glue");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, task_names);
    tcase_add_test(tc, task_tables);
    tcase_add_test(tc, task_metrics);
    tcase_add_test(tc, shared_files);
    tcase_add_test(tc, shared_contents);
    tcase_add_test(tc, quirks);
    tcase_add_test(tc, other_layouts);
    tcase_add_test(tc, bad_inputs);
    tcase_add_test(tc, skip_and_subset);
    tcase_add_test(tc, arena_shrink);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite()); }
