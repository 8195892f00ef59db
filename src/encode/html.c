/* SPDX-License-Identifier: MIT */
/* html.c: features in HTML: a table cell's value (the OGC API items page) and a feature as a
 * two-column table of labels and values (WMS GetFeatureInfo text/html). Every value and label is
 * escaped here. Pages, titles, links and maps around them are the services'. */
#include "encode_int.h"

int encode_html_value(struct buf *b, const struct field_def *fd, const struct value *v)
{
    if (v->type == VAL_TEXT) return buf_put_xml(b, v->s);
    if (v->type == VAL_NULL) return 0;
    return encode_json_value(b, fd, v);
}

int encode_html_table(struct buf *b, const struct layer_def *l, int64_t fid, const int *fields,
                      const struct value *values, int n)
{
    int rc = buf_puts(b, "<table border=\"1\"><tr><th>fid</th><td>");
    if (!rc) rc = encode_int(b, (long long)fid);
    if (!rc) rc = buf_puts(b, "</td></tr>\n");
    for (int k = 0; k < n && !rc; k++) {
        const struct field_def *fd = &l->fields[fields[k]];
        rc = buf_puts(b, "<tr><th>");
        if (!rc) rc = buf_put_xml(b, fd->label_vi ? fd->label_vi : fd->name);
        if (!rc) rc = buf_puts(b, "</th><td>");
        if (!rc) rc = encode_info_value(b, ENCODE_INFO_HTML, &values[k]);
        if (!rc) rc = buf_puts(b, "</td></tr>\n");
    }
    return rc ? rc : buf_puts(b, "</table>\n");
}
