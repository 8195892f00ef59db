/* SPDX-License-Identifier: MIT */
/* test_import_trust.c: the importer's trust rules that need no files (issue 16): the exit code
 * scheme of `spp import` and the diff of a layer against its previous batch (features added,
 * removed and changed, matched by identity). */
#include <stdio.h>
#include <string.h>

#include "../check.h"
#include "import/batch_int.h"

static void test_exit_codes(void)
{
    struct import_summary s;
    memset(&s, 0, sizeof s);
    CHECK(import_exit_code(0, &s) == IMPORT_EXIT_OK);
    s.n_rejected = 1;
    CHECK(import_exit_code(0, &s) == IMPORT_EXIT_REJECTED);
    CHECK(import_exit_code(ERR_PARAM, &s) == IMPORT_EXIT_FAILED);
    CHECK(import_exit_code(ERR_IO, &s) == IMPORT_EXIT_FAILED);
    s.n_rejected = 0, s.n_refused = 1;
    CHECK(import_exit_code(0, &s) == IMPORT_EXIT_FAILED);
    s.n_refused = 0, s.n_failed = 1;
    CHECK(import_exit_code(0, &s) == IMPORT_EXIT_FAILED);
    CHECK(import_exit_code(0, NULL) == IMPORT_EXIT_OK);
    CHECK(IMPORT_EXIT_OK == 0 && IMPORT_EXIT_FAILED == 1 && IMPORT_EXIT_REJECTED == 3);
}

static void test_diff(void)
{
    /* sorted by (key, content) as batch_write_changes sorts them */
    struct feathash old[] = {
        {1, 10, 0, 0, 1}, {2, 20, 0, 0, 2}, {3, 30, 0, 0, 3}, {5, 50, 0, 0, 4}};
    struct feathash nw[] = {{1, 10, 0, 0, 1}, {2, 21, 0, 0, 2}, {4, 40, 0, 0, 3}, {5, 50, 0, 0, 4}};
    int64_t a, r, c;
    batch_feature_diff(old, 4, nw, 4, &a, &r, &c);
    CHECK(a == 1 && r == 1 && c == 1);
    batch_feature_diff(old, 4, old, 4, &a, &r, &c);
    CHECK(a == 0 && r == 0 && c == 0);
    batch_feature_diff(old, 4, NULL, 0, &a, &r, &c);
    CHECK(a == 0 && r == 4 && c == 0);
    batch_feature_diff(NULL, 0, nw, 4, &a, &r, &c);
    CHECK(a == 4 && r == 0 && c == 0);
    /* a key held by several features: equal contents pair up, the rest are changes */
    struct feathash o2[] = {{7, 1, 0, 0, 1}, {7, 2, 0, 0, 2}, {7, 3, 0, 0, 3}};
    struct feathash n2[] = {{7, 2, 0, 0, 1}, {7, 9, 0, 0, 2}};
    batch_feature_diff(o2, 3, n2, 2, &a, &r, &c);
    CHECK(a == 0 && r == 1 && c == 1);
}

int main(void)
{
    test_exit_codes();
    test_diff();
    CHECK_DONE();
}
