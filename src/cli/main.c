#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bertology/engine.h"

#include "commands.h"

typedef struct {
    const char *name;
    bt_command_fn fn;
    const char *help;
} command;

static const command COMMANDS[] = {
    {"importance", bt_cmd_importance, "head importance and attention entropy on a GLUE split"},
    {"mask", bt_cmd_mask, "masking search: switch off heads by importance until the score drops"},
    {"prune", bt_cmd_prune, "remove masked heads from the weights, write a smaller model"},
    {"ablate", bt_cmd_ablate, "score change when each single head is masked"},
    {"syntax", bt_cmd_syntax, "which heads attend to syntactic heads (Clark et al.) on a CoNLL-U treebank"},
    {"cat", bt_cmd_cat, "CAT-probing: how far attention follows the syntax tree of code (Chen et al.)"},
    {"eval", bt_cmd_eval, "score a model (optionally head-masked) on a GLUE split"},
    {"tokenize", bt_cmd_tokenize, "print the token ids of lines read from stdin"},
    {"forward", bt_cmd_forward, "run the engine on token ids and write its raw outputs (.npy)"},
    {"bench", bt_cmd_bench, "engine speed against the sgemm rate of this machine"},
    {"schema", bt_cmd_schema, "the layout of run.h5 as JSON (what the analysis package reads)"},
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

#ifdef BT_MARCH_LEVEL
/* The release build runs instructions of BT_MARCH_LEVEL from its first loop on: on an older CPU
 * that is a SIGILL somewhere. This runs before main, compiled for the baseline x86-64, and says
 * what to do instead. */
__attribute__((constructor, target("arch=x86-64"))) static void cpu_check(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports(BT_MARCH_LEVEL)) return;
    fputs("bertology: this build needs a CPU of " BT_MARCH_LEVEL " (AVX2 and FMA for x86-64-v3) and this one is "
          "older: rebuild with cmake -DBT_MARCH=x86-64-v2 (docs/engine.md)\n", stderr);
    _exit(2);
}
#endif

static void usage(FILE *f) {
    fprintf(f, "usage: bertology <command> [options]   (bertology <command> --help)\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-11s %s\n", COMMANDS[i].name, COMMANDS[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    /* BT_GEMM=blas|onednn|onednn-bf16: the backend for every command (a --gemm flag overrides it); the
     * tests run each reference comparison once per built backend this way. */
    const char *gemm = getenv("BT_GEMM");
    int kind;
    bt_error err;
    if (gemm && *gemm && (bt_gemm_parse(gemm, &kind) || bt_engine_set_gemm(kind, &err))) {
        fprintf(stderr, "bertology: BT_GEMM=%s: this build has auto, blas%s%s\n", gemm,
                bt_gemm_available(BT_GEMM_ONEDNN) ? ", onednn" : "",
                bt_gemm_available(BT_GEMM_ONEDNN_BF16) ? ", onednn-bf16" : "");
        return 2;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], COMMANDS[i].name)) continue;
        return COMMANDS[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "bertology: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
