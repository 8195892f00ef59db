/* SPDX-License-Identifier: MIT */
/* fields.c: which fields of a layer a writer shows: those access.c lets the role read, in
 * catalog order. The one place every format's field list comes from (issue 23); the decision
 * itself stays in access.c. */
#include "encode_int.h"

int encode_fields(const struct layer_def *l, enum role role, int *out, int max)
{
    int n = 0;
    for (int i = 0; i < l->n_fields && n < max; i++)
        if (access_field(l, i, role)) out[n++] = i;
    return n;
}
