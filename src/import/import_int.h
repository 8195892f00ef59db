/* SPDX-License-Identifier: MIT */
/* import_int.h: what the importer's files share: Vietnamese text decoding and detection (text.c,
 * vn_tables.c), CRS detection (crsdetect.c), geometry repair (geomfix.c), attribute mapping
 * (attrs.c), source reading (source.c), the manifest (manifest.c), the per-layer report
 * (report.c) and the batch (batch.c). */
#ifndef SPP_IMPORT_INT_H
#define SPP_IMPORT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "import.h"

/* ---- Vietnamese letters in every encoding (vn_tables.c, generated) ---- */
#define VN_N_LETTERS 134
struct vn_letter {
    uint32_t cp;      /* NFC code point */
    const char *utf8; /* NFC UTF-8 */
    uint8_t tcvn3[2]; /* TCVN3 (ABC) bytes */
    int n_tcvn3;
    uint8_t vni[2]; /* VNI-Windows: base + mark, or one byte */
    int n_vni;
    uint8_t cp1258[2]; /* Windows-1258: precomposed, or base + combining tone */
    int n_cp1258;
    const char *viqr; /* RFC 1456 */
};
extern const struct vn_letter vn_letters[VN_N_LETTERS];
extern const uint16_t vn_cp1252_high[128]; /* bytes 0x80..0xFF -> Unicode, 0 = undefined */
extern const uint16_t vn_cp1258_high[128];

/* ---- Text (text.c) ---- */
enum text_enc {
    ENC_ASCII,
    ENC_UTF8,        /* NFC Unicode */
    ENC_NFD,         /* decomposed Unicode (or Unikey "to hop"), normalised to NFC */
    ENC_DOUBLE_UTF8, /* UTF-8 read as CP1252 and written again as UTF-8 */
    ENC_TCVN3,
    ENC_VNI,
    ENC_CP1258,
    ENC_VIQR,
    ENC_CP1252, /* Western text (no Vietnamese): kept as CP1252 */
    ENC_N
};
const char *text_enc_name(enum text_enc e);
/* "UTF-8", "TCVN3", "VNI", "CP1258", "VIQR"... (case-insensitive); 0 or ERR_PARAM. */
int text_enc_parse(const char *s, enum text_enc *out);
/* 1 if s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
int text_utf8_valid(const char *s, size_t len);
/* Maps UTF-8 text whose characters all exist in CP1252 back to those bytes (what GDAL did when
 * it recoded legacy bytes as CP1252/Latin-1). Appends to out; ERR_PARAM if not representable. */
int text_back_to_cp1252(const char *s, size_t len, struct buf *out);
/* Decodes s[0..len) taken as encoding e into NFC UTF-8, appended to out. For the legacy 8-bit
 * encodings, valid UTF-8 input that maps back to CP1252 is first mapped back (GDAL recoded it);
 * other valid UTF-8 is kept. ERR_PARAM when e cannot apply (e.g. DOUBLE_UTF8 on plain text). */
int text_decode(const char *s, size_t len, enum text_enc e, struct buf *out);
/* Counts the letter tokens of NFC UTF-8 text and those that are valid Vietnamese syllables. */
void text_score(const char *s, size_t len, int *n_tokens, int *n_valid);
/* 1 if one token (NFC UTF-8, any case) is a valid Vietnamese syllable. */
int text_syllable_ok(const char *s, size_t len);
/* Drops an incomplete UTF-8 sequence at the end of s (what a byte-counted cut leaves). */
void text_utf8_clip(char *s);
/* Folds a name for matching: NFC, no diacritics, d for đ, lower case, only [a-z0-9]. Caller frees.
 */
char *text_fold(const char *s);

/* Per-field detection: feed sample values, then decide. */
struct text_detect {
    long n_values;   /* non-empty values seen */
    long n_nonascii; /* values with a byte >= 0x80 */
    long n_nfd;      /* valid UTF-8 values that are not NFC */
    long n_viqr;     /* ASCII values with VIQR signatures */
    long tokens[ENC_N], valid[ENC_N];
    int impossible[ENC_N];
};
void text_detect_init(struct text_detect *d);
void text_detect_add(struct text_detect *d, const char *s, size_t len);
/* The best encoding and its confidence (fraction of valid syllables, 1.0 for ASCII). */
enum text_enc text_detect_result(const struct text_detect *d, double *confidence);

/* ---- CRS (crsdetect.c) ---- */
struct crs_sample {
    double *xy; /* sample coordinates in the source's numbers, x first */
    size_t n;
    void **geoms; /* sample GEOS geometries (source numbers), for the overlay test */
    int n_geoms;
    int geom_dim; /* 0 points, 1 lines, 2 polygons */
};
struct crs_context {
    struct geo_ctx *geo;
    int storage_srid;
    int has_area;
    struct bbox area;    /* expected area in the storage CRS */
    char area_from[192]; /* where the expected area comes from */
    void *ref_tree;      /* GEOSSTRtree of reference polygons (storage CRS) or NULL */
    void **ref_geoms;    /* owned reference polygons */
    int n_ref;
    char *ref_public; /* per reference parcel: all its land-use codes are public-use */
    int want_public;  /* points of public facilities: expect public-use parcels */
    char ref_from[64];
    double city[4]; /* config city_extent: minlon, minlat, maxlon, maxlat (all 0: none) */
};
struct crs_decision {
    int srid;           /* the CRS the numbers are really in */
    int swap_xy;        /* 1: the source x is the northing (survey X=N, Y=E) */
    char declared[128]; /* what the source says ("none", "EPSG:5897", WKT summary) */
    char detected[64];  /* "EPSG:5897" */
    char reason[1024];
    int repaired; /* 1 if the decision differs from the declaration */
};
/* Decides the CRS of a source. srs is an OGRSpatialReferenceH (may be NULL); pinned > 0 is the
 * manifest's CRS. ERR_PARAM with a reason naming path when undecidable. */
int crs_decide(struct crs_context *cx, const char *path, void *srs, int pinned,
               const struct crs_sample *smp, struct crs_decision *out, struct err *err);
/* Describes an OGR SRS briefly ("EPSG:5897", "TM lon_0=105 k=0.9999 datum WGS84"). */
void crs_describe(void *srs, char *out, size_t n);
void crs_context_fini(struct crs_context *cx);
/* When the expected area is only the storage CRS's area of use (an empty store), narrows it to
 * the configured city extent (cx->city, lon/lat): plausibility never rests on data in the store. */
void crs_prefer_city(struct crs_context *cx);

/* ---- Sources (manifest.c, source.c) ---- */
struct src_spec {
    char *path;     /* as written in the manifest or on the command line */
    char *abs_path; /* resolved against the manifest's directory */
    const struct layer_def *layer;
    int crs; /* pinned EPSG code, 0 = detect */
    int has_enc;
    enum text_enc enc; /* pinned encoding */
    char **rename_from, **rename_to;
    int n_rename;
    void *values;     /* json_t {field: {source value: value}}, borrowed */
    void *defaults;   /* json_t {field: value}, borrowed */
    char *filter;     /* OGR attribute filter */
    char *sheet;      /* source layer (sheet) name */
    int order;        /* position in the manifest */
    int allow_shrink; /* "allow_shrink": true: this source's layer may shrink past the limit */
};
struct manifest {
    char *batch_name;
    struct src_spec *specs;
    int n_specs;
    void *root;       /* json_t, owns values/defaults */
    void *owned;      /* json_t array owning the defaults objects --set created */
    int allow_shrink; /* batch-level "allow_shrink": true */
};
/* Reads a manifest file. ERR_IO / ERR_PARAM naming the file and the key. */
int manifest_load(struct manifest *m, const char *path, const struct catalog *cat, struct err *err);
/* Builds a manifest from --layer ID SOURCE... */
int manifest_from_args(struct manifest *m, const char *layer, char **sources, int n,
                       const struct catalog *cat, struct err *err);
/* Applies the command line's --set FIELD=VALUE (as a source's "defaults") and --rename SRC=DST
 * (as its "rename") to every source whose layer has FIELD / DST; a source's own manifest pins
 * win. ERR_PARAM, one line, for a string without '=' or an empty side, or a field that no layer
 * of the batch has. */
int manifest_apply_cli(struct manifest *m, char **sets, int n_sets, char **renames, int n_renames,
                       struct err *err);
void manifest_fini(struct manifest *m);

/* One record of a source: raw field values (NULL = null) and the geometry as ISO WKB. */
struct rec {
    int64_t row;              /* 1-based position in the source */
    char **vals;              /* n_fields values, borrowed until the next read */
    const unsigned char *wkb; /* NULL when the feature has no geometry */
    size_t wkb_len;
    const double *num;  /* numeric fields read as numbers (NULL: none) */
    const char *is_num; /* per field: num[i] holds the value */
};
struct rec_src; /* an opened source */
/* Field i goes to a numeric column: hand over the number, skip formatting it as text. */
void rec_src_numeric_only(struct rec_src *rs, int i);
/* Opens spec's file with GDAL (raw bytes for shapefiles), picks the layer, applies the filter and
 * assembles CAD drawings (closed polylines + text labels) and coordinate tables into records.
 * want is the catalog geometry type. ERR_IO / ERR_PARAM naming the file. */
/* 1 if a column name (or a manifest rename target) names a coordinate of a table: X, Y, lon,
 * lat, E, N, "Tọa độ X (m)", "Kinh độ", "Đông", "Bắc"... */
int source_coord_name(const char *name);
int rec_src_open(const struct src_spec *spec, enum geom_type want, struct rec_src **out,
                 struct err *err);
int rec_src_n_fields(const struct rec_src *rs);
const char *rec_src_field_name(const struct rec_src *rs, int i); /* raw bytes */
/* 1: field i is a KML's own (Name, description...) beside attributes read from each placemark's
 * description table: it maps to a catalog field only when no attribute does. */
int rec_src_field_weak(const struct rec_src *rs, int i);
/* Coordinate tables: corner rows whose blank key was taken from the row above (merged cells);
 * the sheet row (1-based) of a header found below a title, 0 when it is the first row. */
int rec_src_keys_filled(const struct rec_src *rs);
int rec_src_header_row(const struct rec_src *rs);
const char *rec_src_format(const struct rec_src *rs);
const char *rec_src_mode(const struct rec_src *rs); /* "features", "cad drawing", ... */
void *rec_src_srs(const struct rec_src *rs);        /* OGRSpatialReferenceH or NULL */
/* A coordinate table's columns of the first and second number of each point: 1, or 0 if the
 * source is not a coordinate table. */
int rec_src_coord_columns(const struct rec_src *rs, int *cx, int *cy);
int64_t rec_src_count(const struct rec_src *rs); /* -1 if unknown */
/* Next record: 1, 0 at the end, or an error code < 0 with err set. */
int rec_src_next(struct rec_src *rs, struct rec *r, struct err *err);
void rec_src_rewind(struct rec_src *rs);
void rec_src_close(struct rec_src *rs);

/* ---- numbers and dates (attrs.c) ---- */
/* Parses "1.234,5", "1,234.5", "1234,5", "12" ... 0 or ERR_PARAM. One value alone: a single
 * separator is the decimal mark ("2.099" is 2.099). */
int attr_parse_number(const char *s, double *out);
/* What one text value says about its column's decimal mark: NUMEV_DOT ("12.25", "1,234.5",
 * "1,234,567"), NUMEV_COMMA ("1,5", "1.234,5", "1.234.567"), NUMEV_AMBIG (one separator and
 * three digits after it: "2.099", "1,234"), NUMEV_NONE (no separator, or not a number). */
enum { NUMEV_NONE, NUMEV_DOT, NUMEV_COMMA, NUMEV_AMBIG };
int attr_number_evidence(const char *s);
/* Parses with the column's decimal mark dec ('.' or ','; the other one groups thousands): 0; 1
 * when the value does not follow it and was read by attr_parse_number alone; ERR_PARAM when not a
 * number. dec 0: attr_parse_number. */
int attr_parse_number_dec(const char *s, char dec, double *out);
/* Parses an angle written in degrees, minutes and seconds as survey sheets give coordinates:
 * "10°02'15.3\"N", "105° 46′ 20,1″ E", "N 10°02'15.3\"", "10d02m15.3s", "10 02 15.3 S",
 * "10°02.255'" (degree sign, or 'º' typed for it; straight, typographic or doubled quotes; a
 * decimal comma in the last part; the hemisphere letter before or after; S and W negative).
 * Decimal degrees: the value. 0, or ERR_PARAM when s is a plain number or not such an angle
 * (minutes or seconds of 60 or more included). Read by PROJ's proj_dmstor once normalised. */
int attr_parse_dms(const char *s, double *deg);
/* A column's number format, decided from all its values (not value by value: in a column of
 * "1.234,5", "2.099" is 2099). Feed the text values, then decide. */
struct numcol {
    long dot, comma;         /* values showing '.' or ',' as the decimal mark */
    long amb_dot, amb_comma; /* values that could be either ("2.099", "2,099") */
    long contrary;           /* values read later that did not follow the decision */
    char dec;                /* the decision: '.', ',' or 0 (value by value) */
    int ambiguous, mixed;    /* decided by neither: reported */
};
void numcol_add(struct numcol *c, const char *v);
/* Decides c->dec. integer: the column holds whole numbers, so "2.099" can only be 2099. hint:
 * the decimal mark the source's other columns show ('.', ',' or 0), taken by a column of only
 * 2.099-like values. Returns 1 when the column stays ambiguous or mixes both marks (a finding),
 * else 0; why says how. */
int numcol_decide(struct numcol *c, int integer, char hint, char *why, size_t wn);
/* ISO date from "2022-02-28", "28/02/2022", "2022/02/28", "28-02-2022", "28.02.2022". */
int attr_parse_date(const char *s, char out[11]);
/* 1/0 from 1/0, true/false, có/không, x ... */
int attr_parse_bool(const char *s, int *out);
/* Normalises a coded value through fd->codelist: the whole value first (code, name vi/en with or
 * without diacritics, alias, old code through the crosswalk), then, for fd->multi, its parts
 * between '+', ';', '/' and ',' ("ODT+CLN", "Đất ở tại đô thị, Đất trồng cây lâu năm"). Appends
 * the codes to out; how says what was done ("code", "name", "alias", "crosswalk BHK->HNK").
 * Returns 0 if all known; 1 if some were unknown: then out gets the value as the source wrote it
 * (trimmed) and unknown the parts that are not in the list. */
int attr_code(const struct field_def *fd, const char *v, struct buf *out, char *how, size_t how_n,
              char *unknown, size_t unknown_n);

/* ---- geometry (geomfix.c) ---- */
struct geomfix;
struct geomfix *geomfix_new(struct geo_ctx *geo);
void geomfix_free(struct geomfix *gf);
/* Normalises one source geometry (ISO WKB in the source's numbers): closes rings, turns closed
 * lines into polygons for polygon layers, swaps X/Y if asked, transforms src -> dst, makes valid
 * (GEOS STRUCTURE, collapsed parts dropped), promotes to the layer's type. Writes WKB to out,
 * the area (m2) or length (m) to *measure, a repair note to repaired ("" if none). Returns 0, or 1
 * with a rejection reason in why, or an error code < 0. */
int geomfix_run(struct geomfix *gf, const unsigned char *wkb, size_t len, int swap, int src,
                int dst, enum geom_type want, struct buf *out, double *measure, struct bbox *box,
                char *repaired, size_t rn, char *why, size_t wn);
/* Consecutive duplicate vertices geomfix_run has removed so far (all geometries). */
int64_t geomfix_dups_removed(const struct geomfix *gf);

#endif
