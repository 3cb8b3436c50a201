/* The fuzz targets without libFuzzer: feeds every file of the directories (or files) given on
 * the command line to LLVMFuzzerTestOneInput once, so that the ordinary (gcc, ASan) test build
 * replays the seed corpus and every crash the fuzzers ever found (tests/fuzz/regress/<name>/). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            uint8_t *b = realloc(buf, cap = cap ? 2 * cap : 4096);
            if (!b) abort();
            buf = b;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        if (!got) break;
        len += got;
    }
    fclose(f);
    /* an exact-size copy, so that ASan sees reads one past the input as libFuzzer would */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) abort();
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    int files = 0, bad = 0;
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat(argv[a], &st) != 0) continue; /* an absent regress/ directory: nothing found yet */
        if (!S_ISDIR(st.st_mode)) {
            bad += run_file(argv[a]);
            files++;
            continue;
        }
        struct dirent **list;
        int n = scandir(argv[a], &list, NULL, NULL);
        if (n < 0) {
            perror(argv[a]);
            return 1;
        }
        char **names = malloc(sizeof *names * (size_t)(n + 1));
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (list[i]->d_name[0] != '.') {
                size_t l = strlen(argv[a]) + strlen(list[i]->d_name) + 2;
                names[k] = malloc(l);
                snprintf(names[k++], l, "%s/%s", argv[a], list[i]->d_name);
            }
            free(list[i]);
        }
        free(list);
        qsort(names, (size_t)k, sizeof *names, cmp);
        for (int i = 0; i < k; i++) {
            bad += run_file(names[i]);
            files++;
            free(names[i]);
        }
        free(names);
    }
    printf("replayed %d inputs\n", files);
    return bad || files == 0;
}
