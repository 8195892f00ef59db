/* SPDX-License-Identifier: MIT */
/* audit: the log of restricted reads (issue 21). Every answer that carried a field above public,
 * or rows the public may not see, is one entry per layer: time, key and agency, client address,
 * layer, the restricted fields, the feature count and the request path. The log is DB.audit
 * beside the store, JSON lines, append-only, each entry chained to the one before by SHA-256
 * (nettle) over the previous hash and the entry, so an edited or removed entry is found by
 * `spp audit verify`. An entry is written (one write(2), O_APPEND) before the response leaves,
 * so a crash after the answer never loses it.
 *
 * Owns: DB.audit, its chain and its verification. Must not: decide what is restricted (the store
 * notes restricted reads, access.c defines them) or let an answer with restricted data leave
 * unrecorded (an entry that cannot be written fails the request: router.c answers 503). */
#ifndef SPP_AUDIT_H
#define SPP_AUDIT_H

#include <stdint.h>

#include "../core/core.h"
#include "../core/request.h"
#include "../store/store.h"

/* Writing (the server). */
/* Appends one entry per restricted read of reads for req (key, agency, client, path). Opens
 * DB.audit on first use (one descriptor per process, entries chained under a mutex). ERR_IO. */
int audit_record(const struct request *req, const char *agency, const struct store_reads *reads,
                 struct err *err);

/* Reading (spp audit). */
struct audit_filter {
    const char *since;  /* ISO time or date; entries at or after it, NULL = all */
    const char *agency; /* exact agency, NULL = all */
    const char *layer;  /* layer id, NULL = all */
};
/* Prints the matching entries of the log beside db_path, tab-separated with a header, to out.
 * ERR_IO if the log cannot be read (a store without restricted reads has none: 0 entries). */
int audit_print(const char *db_path, const struct audit_filter *f, void *out_file,
                int64_t *n_printed, struct err *err);
/* Checks the chain: 0 with *n entries when intact; ERR_PARAM with the first broken entry (its
 * line, and whether it was edited, removed or reordered) in err. */
int audit_verify(const char *db_path, int64_t *n, struct err *err);

#endif
