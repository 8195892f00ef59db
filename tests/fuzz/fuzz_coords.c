/* SPDX-License-Identifier: MIT */
/* fuzz_coords.c: libFuzzer target for the coordinate-table reader (src/import/table.c via source.c: CSV and
 * XLSX lists of X/Y, lon/lat or E/N with Vietnamese and unit-carrying headers, one point per row
 * or one polygon per key ordered by Moc/STT). The first input byte picks the container (CSV or
 * XLSX) and the catalog layer (points: geodetic_control; polygons: vacant_land_fund); the rest is
 * the file, handed to GDAL as an in-memory file. Every record is read to the end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_vsi.h>

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
    if (size < 1) return 0;
    int xlsx = data[0] & 1, polygons = (data[0] >> 1) & 1;
    const char *path = xlsx ? "/vsimem/fuzz_coords.xlsx" : "/vsimem/fuzz_coords.csv";
    VSILFILE *f = VSIFileFromMemBuffer(path, (GByte *)data + 1, (vsi_l_offset)(size - 1), FALSE);
    if (!f) return 0;
    VSIFCloseL(f);
    const struct layer_def *l = catalog_layer(&cat, polygons ? "vacant_land_fund" : "geodetic_control");
    if (!l) abort();
    struct src_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.path = (char *)path;
    spec.abs_path = (char *)path;
    spec.layer = l;
    struct rec_src *rs = NULL;
    if (rec_src_open(&spec, l->geom, &rs, &err) == 0) {
        for (int i = 0; i < rec_src_n_fields(rs); i++)
            (void)source_coord_name(rec_src_field_name(rs, i));
        struct rec r;
        int n = 0;
        while (n++ < 100000 && rec_src_next(rs, &r, &err) > 0) {
        }
        rec_src_close(rs);
    }
    VSIUnlink(path);
    return 0;
}
