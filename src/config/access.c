/* SPDX-License-Identifier: MIT */
/* access.c: the one place that decides what a role may read (DESIGN.md security model). Every
 * output path (WMS, WFS, OGC API, tiles, CSV, the land API, capabilities) asks here. */
#include "config.h"

int access_layer(const struct layer_def *layer, enum role role)
{
    return layer && role >= layer->min_role;
}

int access_field(const struct layer_def *layer, int field, enum role role)
{
    if (!access_layer(layer, role) || field < 0 || field >= layer->n_fields) return 0;
    return role >= layer->fields[field].role;
}

int access_field_index(const struct layer_def *layer, const char *name, enum role role)
{
    int i = layer_field_index(layer, name);
    return access_field(layer, i, role) ? i : -1;
}

int access_row_rule(const struct layer_def *layer, enum role role, int *field,
                    const struct value **value)
{
    if (!layer || layer->row_field < 0 || role >= layer->row_exempt) return 0;
    *field = layer->row_field;
    *value = &layer->row_value;
    return 1;
}
