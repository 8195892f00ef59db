/* SPDX-License-Identifier: MIT */
/* fuzz_manifest.c: libFuzzer target for the import manifest reader (manifest_load: JSON, keys
 * checked against the catalog, pins, renames, values, defaults). The input is handed over as a
 * memory file (memfd) so the reader's own file path is exercised; nothing on disk is touched and
 * no source is opened (sources are opened by the batch, after the manifest is accepted). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"
#include "import/import_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct catalog cat;
static int loaded;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err err;
    err_clear(&err);
    if (!loaded) {
        if (catalog_load(&cat, "layers", &err)) abort();
        loaded = 1;
    }
    int fd = memfd_create("manifest", 0);
    if (fd < 0) abort();
    for (size_t off = 0; off < size;) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) abort();
        off += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    struct manifest m = {0};
    manifest_load(&m, path, &cat, &err);
    manifest_fini(&m);
    close(fd);
    return 0;
}
