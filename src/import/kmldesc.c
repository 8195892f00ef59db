/* SPDX-License-Identifier: MIT */
/* kmldesc.c: attributes a KML carries only in each placemark's description, as an HTML table of
 * name/value rows: what ArcGIS's "Layer To KML" (and many portals' exports) write instead of
 * ExtendedData. The description is parsed with libxml2's HTML parser; every table row of exactly
 * two cells whose first cell is not empty is one attribute ("MAKHUDAT" | "QDT-NK-001"); ArcGIS's
 * "<Null>" is no value. Must not: decide what a name means (the aliases do) or read anything
 * else of the source (source.c). */
#include "source_int.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

#include <strings.h>

static char *cell_text(xmlNodePtr cell)
{
    xmlChar *t = xmlNodeGetContent(cell);
    if (!t) return NULL;
    /* trimmed, inner runs of white space (HTML source line breaks) made one space */
    const char *s = (const char *)t;
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    size_t k = 0;
    int space = 0;
    for (size_t i = 0; out && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = k > 0;
            continue;
        }
        if (c == 0xC2 && (unsigned char)s[i + 1] == 0xA0) { /* &nbsp; */
            space = k > 0, i++;
            continue;
        }
        if (space) out[k++] = ' ';
        space = 0;
        out[k++] = (char)c;
    }
    if (out) out[k] = 0;
    xmlFree(t);
    return out;
}

static int add_pair(struct kml_pairs *p, char *name, char *value)
{
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 16;
        char **names = realloc(p->names, (size_t)cap * sizeof *names);
        if (!names) return ERR_NOMEM;
        p->names = names;
        char **values = realloc(p->values, (size_t)cap * sizeof *values);
        if (!values) return ERR_NOMEM;
        p->values = values;
        p->cap = cap;
    }
    p->names[p->n] = name, p->values[p->n] = value, p->n++;
    return 0;
}

static int walk(xmlNodePtr node, struct kml_pairs *p)
{
    for (xmlNodePtr n = node; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (strcasecmp((const char *)n->name, "tr") == 0) {
            xmlNodePtr cells[3];
            int k = 0;
            for (xmlNodePtr c = n->children; c && k < 3; c = c->next)
                if (c->type == XML_ELEMENT_NODE && (strcasecmp((const char *)c->name, "td") == 0 ||
                                                    strcasecmp((const char *)c->name, "th") == 0))
                    cells[k++] = c;
            /* a row holding a nested table is a frame: its rows are read below */
            int nested = 0;
            for (int i = 0; i < k && !nested; i++)
                for (xmlNodePtr c = cells[i]->children; c && !nested; c = c->next)
                    nested = c->type == XML_ELEMENT_NODE &&
                             strcasecmp((const char *)c->name, "table") == 0;
            if (k == 2 && !nested) {
                char *name = cell_text(cells[0]), *value = cell_text(cells[1]);
                if (!name || !value) {
                    free(name), free(value);
                    return ERR_NOMEM;
                }
                if (!*name || strcmp(value, "<Null>") == 0) free(value), value = NULL;
                if (!*name) {
                    free(name);
                    continue;
                }
                if (add_pair(p, name, value)) {
                    free(name), free(value);
                    return ERR_NOMEM;
                }
                continue;
            }
        }
        int rc = walk(n->children, p);
        if (rc) return rc;
    }
    return 0;
}

int kml_desc_parse(const char *html, struct kml_pairs *out)
{
    memset(out, 0, sizeof *out);
    if (!html || !strcasestr(html, "<tr")) return 0; /* no table: nothing to parse */
    htmlDocPtr doc = htmlReadMemory(html, (int)strlen(html), NULL, "UTF-8",
                                    HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
                                        HTML_PARSE_NOBLANKS);
    if (!doc) return 0;
    int rc = walk(xmlDocGetRootElement(doc), out);
    xmlFreeDoc(doc);
    if (rc) kml_pairs_fini(out);
    return rc;
}

const char *kml_pairs_get(const struct kml_pairs *p, const char *name, int *found)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->names[i], name) == 0) {
            if (found) *found = 1;
            return p->values[i];
        }
    if (found) *found = 0;
    return NULL;
}

void kml_pairs_fini(struct kml_pairs *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->names[i]), free(p->values[i]);
    free(p->names), free(p->values);
    memset(p, 0, sizeof *p);
}
