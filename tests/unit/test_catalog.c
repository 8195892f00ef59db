/* SPDX-License-Identifier: MIT */
/* test_catalog.c: the real catalog loads (24 layers, code lists, common fields), and each kind of
 * malformed definition is rejected with file and field in the message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"
#include "config/config.h"

static char tmpdir[64];

static void write_file(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static const char *codelist_ok =
    "{\"id\":\"kinds\",\"title\":{\"vi\":\"Loại\",\"en\":\"Kinds\"},\"codes\":["
    "{\"code\":\"a\",\"name\":{\"vi\":\"A\",\"en\":\"A\"},\"color\":\"#FF0000\"},"
    "{\"code\":\"b\",\"name\":{\"vi\":\"B\",\"en\":\"B\"}}]}";
static const char *common_ok =
    "{\"fields\":[{\"name\":\"note\",\"type\":\"text\",\"label\":{\"vi\":\"Ghi chú\",\"en\":"
    "\"Note\"},\"role\":\"public\"}]}";

static const char *meta_ok =
    "{\"defaults\":{\"organisation\":{\"vi\":\"Sở\",\"en\":\"Dept\"},\"contact\":{\"name\":"
    "\"GIS\",\"email\":\"gis@example.org\"},\"licence\":{\"name\":\"CC BY 4.0\"},"
    "\"scale_denominator\":2000,\"accuracy_m\":1},\"layers\":{\"things\":{\"keywords\":{"
    "\"vi\":[\"vật\"],\"en\":[\"things\"]}}}}";

static const char *meta_text; /* NULL: meta_ok */

/* Writes a one-layer catalog whose field list is `fields` and returns the load result. */
static int load_with(const char *layer_extra, const char *fields, const char *codelist,
                     struct err *err)
{
    char sub[400];
    snprintf(sub, sizeof sub, "rm -rf %s && mkdir -p %s/codelists %s/meta", tmpdir, tmpdir, tmpdir);
    if (system(sub) != 0) return -1;
    write_file("meta/metadata.json", meta_text ? meta_text : meta_ok);
    write_file("codelists/kinds.json", codelist ? codelist : codelist_ok);
    write_file("common.json", common_ok);
    char layer[4096];
    snprintf(layer, sizeof layer,
             "{\"id\":\"things\",\"number\":1,\"title\":{\"vi\":\"Vật\",\"en\":\"Things\"},"
             "\"group\":\"land\",\"geometry\":\"POINT\",\"min_role\":\"public\","
             "\"style\":\"things\",\"zoom\":{\"min\":10,\"max\":20}%s,\"fields\":[%s]}",
             layer_extra, fields);
    write_file("things.json", layer);
    struct catalog cat;
    err_clear(err);
    int rc = catalog_load(&cat, tmpdir, err);
    if (!rc) catalog_fini(&cat);
    return rc;
}

#define F_OK_TEXT                                                                                  \
    "{\"name\":\"name\",\"type\":\"text\",\"label\":{\"vi\":\"Tên\",\"en\":\"Name\"},\"role\":"   \
    "\"public\"}"

static void expect_reject(const char *what, const char *extra, const char *fields,
                          const char *codelist, const char *needle)
{
    struct err err;
    int rc = load_with(extra, fields, codelist, &err);
    int ok = rc == ERR_PARAM && strstr(err.msg, needle) != NULL;
    if (!ok) fprintf(stderr, "%s: rc=%d msg=%s (want \"%s\")\n", what, rc, err.msg, needle);
    CHECK(ok);
}

static void test_real_catalog(void)
{
    struct catalog cat;
    struct err err;
    err_clear(&err);
    int rc = catalog_load(&cat, "layers", &err);
    if (rc) fprintf(stderr, "catalog: %s\n", err.msg);
    CHECK(rc == 0);
    if (rc) return;
    CHECK(cat.n_layers == 24);
    for (int i = 0; i < cat.n_layers; i++)
        CHECK(cat.layers[i].number == i + 1);
    const struct layer_def *p = catalog_layer(&cat, "cadastral_parcels");
    CHECK(p && p->geom == GT_MULTIPOLYGON && p->key >= 0);
    if (p) {
        int owner = layer_field_index(p, "owner_name");
        CHECK(owner >= 0 && p->fields[owner].personal && p->fields[owner].role == ROLE_PLANNER);
        CHECK(access_field(p, owner, ROLE_PLANNER) && !access_field(p, owner, ROLE_INVESTOR));
        CHECK(access_field_index(p, "owner_name", ROLE_PUBLIC) == -1);
        CHECK(access_field_index(p, "owner_name", ROLE_ADMIN) == owner);
        CHECK(access_field_index(p, "no_such_field", ROLE_ADMIN) == -1);
        CHECK(layer_field_index(p, "src_file") >= 0 && layer_field_index(p, "valid_from") >= 0);
        /* layers/meta/metadata.json: defaults merged under the layer's own entry. */
        CHECK(p->meta.org_vi && p->meta.contact_email && strchr(p->meta.contact_email, '@'));
        CHECK(p->meta.scale_denominator == 1000 && p->meta.accuracy_m > 0);
        int found = 0;
        for (int i = 0; i < p->meta.n_keywords_vi; i++)
            found |= strcmp(p->meta.keywords_vi[i], "thửa đất") == 0;
        CHECK(found && p->meta.n_keywords_en > 0);
    }
    for (int i = 0; i < cat.n_layers; i++)
        CHECK(cat.layers[i].meta.licence_name && cat.layers[i].meta.n_keywords_vi > 0);
    const struct codelist *lu = catalog_codelist(&cat, "land_use");
    CHECK(lu != NULL);
    if (lu) {
        const struct code_def *odt = codelist_find(lu, "ODT", NULL);
        CHECK(odt && odt->has_color && odt->rgb == 0xFFA0FF);
        CHECK(codelist_find(lu, "BHK", "TT27_2018") != NULL);
        CHECK(codelist_find(lu, "BHK", "TT08_2024") == NULL);
        CHECK(codelist_find(lu, "HNK", "TT08_2024") != NULL);
        int bhk = 0;
        for (int i = 0; i < lu->n_crosswalk; i++)
            bhk |= strcmp(lu->crosswalk[i].from, "BHK") == 0 &&
                   strcmp(lu->crosswalk[i].to, "HNK") == 0;
        CHECK(bhk);
    }
    catalog_fini(&cat);
}

static void test_rejections(void)
{
    struct err err;
    CHECK(load_with("", F_OK_TEXT, NULL, &err) == 0);
    meta_text = "{\"defaults\":{},\"layers\":{}}";
    expect_reject("metadata without the layer", "", F_OK_TEXT, NULL,
                  "missing entry for layer \"things\"");
    meta_text = "{\"layers\":{\"things\":{},\"nope\":{}}}";
    expect_reject("metadata of an unknown layer", "", F_OK_TEXT, NULL, "no catalog layer \"nope\"");
    meta_text = "{\"layers\":{\"things\":{\"organisation\":{\"vi\":\"S\",\"en\":\"D\"},"
                "\"contact\":{\"name\":\"G\",\"email\":\"no-at\"},\"licence\":{\"name\":\"L\"},"
                "\"scale_denominator\":1,\"accuracy_m\":1,\"keywords\":{\"vi\":[\"a\"],"
                "\"en\":[\"a\"]}}}}";
    expect_reject("metadata bad e-mail", "", F_OK_TEXT, NULL, "not an e-mail address");
    meta_text = NULL;
    expect_reject("unknown type", "",
                  "{\"name\":\"x\",\"type\":\"txt\",\"label\":{\"vi\":\"X\",\"en\":\"X\"},\"role\":"
                  "\"public\"}",
                  NULL, "things.json: fields[0]: field \"x\": unknown type \"txt\"");
    expect_reject("duplicate field", "", F_OK_TEXT "," F_OK_TEXT, NULL,
                  "fields[1]: duplicate field \"name\"");
    expect_reject("missing code list", "",
                  "{\"name\":\"k\",\"type\":\"text\",\"codelist\":\"nope\",\"label\":{\"vi\":\"K\","
                  "\"en\":\"K\"},\"role\":\"public\"}",
                  NULL, "code list \"nope\" missing");
    expect_reject(
        "bad colour", "", F_OK_TEXT,
        "{\"id\":\"kinds\",\"title\":{\"vi\":\"L\",\"en\":\"K\"},\"codes\":[{\"code\":\"a\","
        "\"name\":{\"vi\":\"A\",\"en\":\"A\"},\"color\":\"#GG0000\"}]}",
        "kinds.json: codes[0]: bad colour \"#GG0000\"");
    expect_reject(
        "duplicate code", "", F_OK_TEXT,
        "{\"id\":\"kinds\",\"title\":{\"vi\":\"L\",\"en\":\"K\"},\"codes\":[{\"code\":\"a\","
        "\"name\":{\"vi\":\"A\",\"en\":\"A\"}},{\"code\":\"a\",\"name\":{\"vi\":\"A\",\"en\":\"A\"}"
        "}]}",
        "duplicate code \"a\"");
    expect_reject("unknown key", ",\"colour\":1", F_OK_TEXT, NULL, "unknown key \"colour\"");
    expect_reject("unknown role", "",
                  "{\"name\":\"x\",\"type\":\"text\",\"label\":{\"vi\":\"X\",\"en\":\"X\"},"
                  "\"role\":\"boss\"}",
                  NULL, "unknown role \"boss\"");
    expect_reject("personal public", "",
                  "{\"name\":\"owner\",\"type\":\"text\",\"personal\":true,\"label\":{\"vi\":\"X\","
                  "\"en\":\"X\"},\"role\":\"public\"}",
                  NULL, "personal data must need role planner");
    expect_reject(
        "bad name", "",
        "{\"name\":\"Bad "
        "Name\",\"type\":\"text\",\"label\":{\"vi\":\"X\",\"en\":\"X\"},\"role\":\"public\"}",
        NULL, "bad field name \"Bad Name\"");
    expect_reject("missing label", "", "{\"name\":\"x\",\"type\":\"text\",\"role\":\"public\"}",
                  NULL, "fields[0]: missing \"label\"");
    expect_reject("common clash", "",
                  "{\"name\":\"note\",\"type\":\"text\",\"label\":{\"vi\":\"X\",\"en\":\"X\"},"
                  "\"role\":\"public\"}",
                  NULL, "is a common field");
    expect_reject("bad key", ",\"key\":\"nope\"", F_OK_TEXT, NULL, "key: no field \"nope\"");
    expect_reject("derive not real", "",
                  "{\"name\":\"a\",\"type\":\"text\",\"derive\":\"area\",\"label\":{\"vi\":\"X\","
                  "\"en\":\"X\"},\"role\":\"public\"}",
                  NULL, "derive needs type real");
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/spp-test-catalog-%d", (int)getpid());
    test_real_catalog();
    test_rejections();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    CHECK_DONE();
}
