/* SPDX-License-Identifier: MIT */
/* replay.c: runs a fuzz target (tests/fuzz/fuzz_NAME.c, built with this driver instead of
 * libFuzzer) over every file of its seed corpus tests/fuzz/corpus/NAME/, so that `make unit`
 * (and `make asan`) replays the seeds and every crash ever found. Prints "N passed, 0 failed";
 * an input that crashes the target stops the program (run_unit.sh reports it). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#ifndef FUZZ_NAME
#error "build with -DFUZZ_NAME=\"name\""
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", FUZZ_NAME);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: no seed corpus\n", dir);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    char *names[4096];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096)
        if (e->d_name[0] != '.') names[n++] = str_dup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], by_name);
    struct err err;
    for (int i = 0; i < n; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t len = 0;
        err_clear(&err);
        char *data = str_read_file(path, &len, &err);
        if (data) LLVMFuzzerTestOneInput((const uint8_t *)data, len);
        free(data);
        free(names[i]);
    }
    printf("%d passed, 0 failed\n", n);
    return 0;
}
