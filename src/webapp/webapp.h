/* SPDX-License-Identifier: MIT */
/* webapp: what the browser map needs from spp besides the data services: the page itself and its
 * static files (src/web/, MapLibre GL JS from node_modules/maplibre-gl/dist), the catalog as the
 * page reads it (groups, titles, field labels, code lists; filtered by role), and SDF label glyphs
 * rendered from a Debian font with FreeType, as Martin and fontnik serve them, so labels with
 * Vietnamese diacritics show with no internet access. Static files and glyph ranges are kept in
 * memory once read or rendered (gzip bytes too) and never touch the store; only the search box
 * (search.c) reads it.
 *
 * Owns: /map, /web/FILE, /fonts/RANGE.pbf and /web/catalog.json, and the search box's ranked
 * search. Must not: serve a file outside the web directory, or show the page a layer or field the
 * caller's role may not read. */
#ifndef SPP_WEBAPP_H
#define SPP_WEBAPP_H

#include "../core/request.h"

/* Pages and static files. */
/* The map page (src/web/index.html) for GET / from a browser and GET /map. */
int webapp_page(struct request *req, struct response *res, struct err *err);
/* GET /web/{file}: a file of src/web/ (names [A-Za-z0-9._-], no leading dot, known types only).
 * ERR_NOT_FOUND for anything else. ETag / If-None-Match -> 304, gzip when accepted. */
int webapp_static(struct request *req, struct response *res, struct err *err);
/* GET /web/vendor/{file}: a file of node_modules/maplibre-gl/dist (installed by `npm ci`). */
int webapp_vendor(struct request *req, struct response *res, struct err *err);

/* Catalog for the page. */
/* GET /web/catalog.json: groups, layers (titles, group, zooms, key and label fields, the fields
 * the caller's role may read with their labels) and the code lists those fields use. */
int webapp_catalog(struct request *req, struct response *res, struct err *err);

/* Glyphs. */
/* GET /fonts/{fontstack}/{range}.pbf: 256 glyphs ("0-255", "7680-7935"...) as the MapLibre
 * glyphs protobuf, SDF 24 px, buffer 3, radius 8, cutoff 0.25 (fontnik's parameters).
 * A stack names fonts by family and style ("DejaVu Sans Book,Noto Sans Regular"); the first one
 * spp has is used, a stack with none of them falls back to DejaVu Sans (Bold when the name says
 * so). ERR_PARAM for a malformed range, ERR_NOT_FOUND when the font file is missing. */
int webapp_glyphs(struct request *req, struct response *res, struct err *err);

/* Renders one glyph range of a font file into glyphs protobuf bytes (caller frees *out).
 * name is written as the fontstack name. For tests and for webapp_glyphs. ERR_IO when the font
 * cannot be opened, ERR_PARAM for a start that is not a multiple of 256 below 65536. */
int webapp_glyph_range(const char *font_path, const char *name, unsigned start, char **out,
                       size_t *out_len, struct err *err);

/* Compresses data as gzip (caller frees *out). ERR_NOMEM / ERR_INTERNAL. */
int webapp_gzip(const char *data, size_t len, char **out, size_t *out_len, struct err *err);

/* GET /api/v1/search?q=&limit=: the map's search box (search.c): certificate number (roles that
 * may read it), sheet/parcel, commune by its name before or after the 2025 merger, address. */
int webapp_search(struct request *req, struct response *res, struct err *err);

#endif
