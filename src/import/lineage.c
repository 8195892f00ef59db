/* SPDX-License-Identifier: MIT */
/* lineage.c: what `spp check` needs to know about past imports, recorded with each batch in the
 * same transaction: every source file of the batch with its layer and absolute path
 * (spp_sources), and each touched layer's feature count after the batch (spp_layer_history).
 * check reads them to find a layer that was emptied since it had features, and a source file
 * of a layer's last import that is gone or unreadable. Written through the store's load API. */
#include "batch_int.h"

int batch_record_lineage(struct batch *b, struct err *err)
{
    int rc = 0;
    for (int i = 0; i < b->m->n_specs && !rc; i++) {
        const struct src_spec *sp = &b->m->specs[i];
        rc = store_load_source(b->ld, sp->layer, sp->path, sp->abs_path, i, err);
        int first = 1; /* one history row per layer */
        for (int j = 0; j < i; j++)
            if (b->m->specs[j].layer == sp->layer) first = 0;
        if (!rc && first) rc = store_load_history(b->ld, sp->layer, err);
    }
    return rc;
}
