/* SPDX-License-Identifier: MIT */
/* fuzz_kml_desc.c: libFuzzer target for the KML description reader (src/import/kmldesc.c: the
 * name/value rows of an HTML table, as ArcGIS's Layer To KML writes a placemark's attributes).
 * The input is the description's text; every pair found is looked up again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "import/source_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    struct kml_pairs kp;
    if (kml_desc_parse(s, &kp) == 0) {
        for (int i = 0; i < kp.n; i++) {
            int found = 0;
            (void)kml_pairs_get(&kp, kp.names[i], &found);
            if (!found) abort();
        }
        kml_pairs_fini(&kp);
    }
    free(s);
    return 0;
}
