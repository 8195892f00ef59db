/* SPDX-License-Identifier: MIT */
/* download: whole-layer downloads (issue 21) at /collections/{layer}/download?f=gpkg|shp|geojson|
 * csv, written by GDAL/OGR into a temporary file from the one query path (so field rules, row
 * rules, agreements and the audit apply) and streamed from that file (memory stays flat whatever
 * the layer's size). Each carries the layer's metadata and licence.
 *
 * Owns: the export formats and their temporary files (removed when the answer is done). Must
 * not: read features any other way than the store's one query path, or keep a file after the
 * request. */
#ifndef SPP_DOWNLOAD_H
#define SPP_DOWNLOAD_H

#include "../core/request.h"

/* GET /collections/{layer}/download. ERR_NOT_FOUND for a layer the caller may not read, ERR_PARAM
 * for a bad f=, ERR_IO if the file cannot be written. */
int download_layer(struct request *req, struct response *res, struct err *err);

#endif
