/* SPDX-License-Identifier: MIT */
/* lineage.c: what `spp check` needs to know about past imports, recorded with each batch in the
 * same transaction: every source file of the batch with its layer and absolute path
 * (spp_sources), and each touched layer's feature count after the batch (spp_layer_history).
 * check reads them to find a layer that was emptied since it had features, and a source file
 * of a layer's last import that is gone or unreadable. */
#include <string.h>

#include "batch_int.h"

static int exec_bound(struct batch *b, sqlite3_stmt *s, const char *what, struct err *err)
{
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store_db_error(b->st, err, what);
    sqlite3_reset(s);
    return rc;
}

int batch_record_lineage(struct batch *b, struct err *err)
{
    sqlite3_stmt *src = NULL, *hist = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(b->db,
                           "INSERT OR REPLACE INTO spp_sources (batch, layer, path, abs_path,"
                           " position) VALUES (?, ?, ?, ?, ?)",
                           -1, &src, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(b->db,
                           "INSERT OR REPLACE INTO spp_layer_history (batch, layer, n_features, at)"
                           " SELECT ?, layer, n_features, updated FROM spp_layers WHERE layer = ?",
                           -1, &hist, NULL) != SQLITE_OK) {
        rc = store_db_error(b->st, err, "spp_sources");
        goto out;
    }
    for (int i = 0; i < b->m->n_specs && !rc; i++) {
        const struct src_spec *sp = &b->m->specs[i];
        sqlite3_bind_text(src, 1, b->batch_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(src, 2, sp->layer->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(src, 3, sp->path, -1, SQLITE_STATIC);
        sqlite3_bind_text(src, 4, sp->abs_path, -1, SQLITE_STATIC);
        sqlite3_bind_int(src, 5, i);
        rc = exec_bound(b, src, "spp_sources", err);
        int first = 1; /* one history row per layer */
        for (int j = 0; j < i; j++)
            if (b->m->specs[j].layer == sp->layer) first = 0;
        if (rc || !first) continue;
        sqlite3_bind_text(hist, 1, b->batch_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(hist, 2, sp->layer->id, -1, SQLITE_STATIC);
        rc = exec_bound(b, hist, "spp_layer_history", err);
    }
out:
    sqlite3_finalize(src);
    sqlite3_finalize(hist);
    return rc;
}
