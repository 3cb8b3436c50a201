/* GLUE metrics of a pass, from predictions gathered in example order. Gathering (a few bytes
 * per example) rather than reducing confusion counts keeps one code path for every metric,
 * Spearman included, and makes the order of floating-point sums independent of the ranks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bertology/common.h"
#include "bertology/dist.h"
#include "score.h"

void sweep_record_set(sweep_record *r, const float *logits, int C, int label, float target) {
    int best = 0;
    for (int c = 1; c < C; c++)
        if (logits[c] > logits[best]) best = c;
    r->pred = best;
    r->value = logits[0];
    r->label = label;
    r->target = target;
}

static double metric_value(bt_metric_id id, const bt_metric_confusion *cm, const bt_metric_corr_result *cr) {
    switch (id) {
    case BT_METRIC_ACC: return bt_metric_acc(cm);
    case BT_METRIC_F1: return bt_metric_f1(cm);
    case BT_METRIC_ACC_AND_F1: return bt_metric_acc_and_f1(cm);
    case BT_METRIC_MCC: return bt_metric_mcc(cm);
    case BT_METRIC_PEARSON: return cr->pearson;
    case BT_METRIC_SPEARMANR: return cr->spearmanr;
    case BT_METRIC_CORR: return cr->corr;
    default: return NAN;
    }
}

int sweep_score(MPI_Comm comm, const bt_plan *plan, const bt_plan_assignment *asg, const sweep_record *mine,
                const bt_sweep_options *o, const bt_config *cfg, bt_sweep_result *res, bt_error *err) {
    const bt_metric_set *set = o->metrics;
    int rank;
    MPI_Comm_rank(comm, &rank);
    res->n_metrics = 0;
    res->score = NAN;
    const int classify = cfg->head == BT_HEAD_CLASSIFY, regress = cfg->head == BT_HEAD_REGRESS;
    if (cfg->head == BT_HEAD_LM && res->n_examples > 0) {
        /* The Python GPT-2 script scores by 1/loss (its loss is a sum over batches, which only
         * rescales the score, not the masking threshold's ratio); perplexity too, inverted so
         * that for every metric larger is better. */
        const double mean = res->loss_sum / (double)res->n_examples;
        static const char *names[4] = {"loss", "perplexity", "inv_loss", "inv_perplexity"};
        const double values[4] = {mean, exp(mean), 1.0 / mean, exp(-mean)};
        res->n_metrics = 4;
        for (int k = 0; k < 4; k++) {
            snprintf(res->metric_names[k], sizeof res->metric_names[k], "%s", names[k]);
            res->metric_values[k] = values[k];
        }
        res->score = sweep_lm_score(mean, o->lm_perplexity);
        return BT_OK;
    }
    if (!set || (!classify && !regress)) return BT_OK;
    const int n = plan->n_examples;
    bt_error local = {0};
    sweep_record *all = rank == 0 ? bt_malloc((size_t)n, sizeof(sweep_record), "the predictions of a pass", &local) : NULL;
    /* the gather is collective: every rank learns of rank 0's failure before it */
    int rc = bt_dist_agree(comm, rank == 0 && !all ? BT_EINTERNAL : BT_OK, &local, err);
    if (rc) return rc;
    rc = bt_dist_gather_examples(comm, plan, asg, mine, sizeof(sweep_record), all, 0, err);
    double values[BT_METRIC_SET_MAX + 1];
    int ok = 1;
    if (!rc && rank == 0) {
        bt_metric_confusion cm;
        bt_metric_corr_result cr = {NAN, NAN, NAN};
        if (classify) {
            ok = !bt_metric_confusion_init(&cm, cfg->n_labels, err);
            for (int i = 0; i < n && ok; i++) {
                if (all[i].label < 0) { ok = 0; break; } /* unlabelled split: no metric */
                ok = !bt_metric_confusion_add(&cm, all[i].pred, all[i].label, err);
            }
        } else {
            double *p = bt_malloc((size_t)n, sizeof(double), "the predictions of a pass", err);
            double *t = p ? bt_malloc((size_t)n, sizeof(double), "the targets of a pass", err) : NULL;
            if (!t) rc = BT_EINTERNAL;
            for (int i = 0; i < n && t; i++) p[i] = all[i].value, t[i] = all[i].target;
            ok = t && !isnan(n ? t[0] : NAN) && !bt_metric_correlations(p, t, n, &cr, err);
            free(p), free(t);
        }
        for (int k = 0; k < set->n; k++) values[k] = ok ? metric_value(set->ids[k], &cm, &cr) : NAN;
        values[set->n] = ok ? metric_value(set->default_metric, &cm, &cr) : NAN;
    }
    free(all);
    rc = bt_dist_agree(comm, rc, err, err);
    if (rc) return rc;
    MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
    MPI_Bcast(values, set->n + 1, MPI_DOUBLE, 0, comm);
    if (!ok) return BT_OK;
    res->n_metrics = set->n;
    for (int k = 0; k < set->n; k++) {
        snprintf(res->metric_names[k], sizeof res->metric_names[k], "%s", bt_metric_name(set->ids[k]));
        res->metric_values[k] = values[k];
    }
    res->score = values[set->n];
    return BT_OK;
}

double sweep_lm_score(double mean_loss, int perplexity) { return perplexity ? exp(-mean_loss) : 1.0 / mean_loss; }
