/* SPDX-License-Identifier: MIT */
/* meta: each layer's metadata record (issue 21), built from the catalog's static part
 * (layers/meta/metadata.json) and the store (extent, feature count, last import, lineage), and
 * served as ISO 19115/19139 XML, CSW 2.0.2 (csw:Record and gmd:MD_Metadata), an OGC API
 * Records-style JSON record and DCAT JSON-LD. A layer the caller may not read is not
 * discoverable on any of them.
 *
 * Owns: the record and its encodings, CSW's own constraint tree (csw_filter.c), the change feed
 * and the quality report. Must not: serve features (records describe layers, features are the
 * services'), write to the store, or decide access itself (config/access.c does). */
#ifndef SPP_META_H
#define SPP_META_H

#include "../config/config.h"
#include "../core/request.h"
#include "../geo/geo.h"
#include "../store/store.h"

/* One layer's record as the caller sees it. */
struct meta_record {
    const struct layer_def *layer; /* borrowed from the catalog */
    int64_t n_features;            /* rows the caller's role may read */
    int has_extent;                /* 0 for an empty layer */
    int srid;                      /* storage CRS */
    struct bbox extent;            /* storage CRS */
    struct bbox wgs84;             /* lon/lat, through the official EPSG:6960 transformation */
    struct store_lineage lineage;
};

/* Records. */
/* Fills r for layer as req's caller sees it. ERR_NOT_FOUND if the caller may not read layer
 * (undiscoverable: the same answer as an unknown id), ERR_DB. */
int meta_record_load(struct request *req, const struct layer_def *layer, struct meta_record *r,
                     struct err *err);
/* Writes the ISO 19139 gmd:MD_Metadata element of r (no XML declaration) to b. */
int meta_iso_write(struct buf *b, const struct request *req, const struct meta_record *r);
/* The date part (YYYY-MM-DD) of r's last import into out, or "" (out: 11 bytes). */
void meta_date(const struct meta_record *r, char out[11]);

/* Routes. */
/* GET and POST /csw: CSW 2.0.2 GetCapabilities, GetRecords, GetRecordById (KVP and XML).
 * Errors are ERR_PARAM / ERR_UNSUPPORTED with err->ogc_code (an OWS ExceptionReport). */
int meta_csw(struct request *req, struct response *res, struct err *err);
/* GET /collections/{layer}/metadata: the record as JSON (OGC API Records style), or ISO 19139
 * XML with f=xml. ERR_NOT_FOUND for a layer the caller may not read. */
int meta_collection_metadata(struct request *req, struct response *res, struct err *err);
/* GET /api/v1/changes (feed.c): the change feed of a layer (spp_feature_changes). ERR_PARAM,
 * ERR_NOT_FOUND for a layer the caller may not read. */
int meta_changes(struct request *req, struct response *res, struct err *err);
/* GET /api/v1/quality[?layer=ID] (quality.c): completeness per field, findings of the last
 * import by kind, its age; GET /quality: the same as a page, for planners and admins (403). */
int meta_quality(struct request *req, struct response *res, struct err *err);
int meta_quality_page(struct request *req, struct response *res, struct err *err);
/* GET /catalog.jsonld: DCAT 2 catalog (JSON-LD) of every layer the caller may read. */
int meta_dcat(struct request *req, struct response *res, struct err *err);

#endif
