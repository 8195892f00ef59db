/* SPDX-License-Identifier: MIT */
/* test_import_text.c: every Vietnamese letter of data/vn_charsets.tsv, written in TCVN3,
 * VNI-Windows, CP1258, VIQR and decomposed Unicode (bytes from the table's own columns), decodes to
 * exactly the NFC original; detection picks the encoding a field was written in; syllables and name
 * folding. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "import/import_int.h"

static int hexbytes(const char *hex, char *out)
{
    int n = 0;
    unsigned v;
    while (*hex && sscanf(hex, "%2x", &v) == 1) {
        out[n++] = (char)v;
        hex += 2;
    }
    return n;
}

static int cp_to_utf8(const char *field, char *out)
{
    /* "U+0041 U+0301" -> UTF-8 */
    int n = 0;
    unsigned cp;
    const char *p = field;
    while ((p = strstr(p, "U+")) && sscanf(p + 2, "%x", &cp) == 1) {
        if (cp < 0x80)
            out[n++] = (char)cp;
        else if (cp < 0x800)
            out[n++] = (char)(0xC0 | cp >> 6), out[n++] = (char)(0x80 | (cp & 0x3F));
        else
            out[n++] = (char)(0xE0 | cp >> 12), out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F)),
            out[n++] = (char)(0x80 | (cp & 0x3F));
        p += 2;
    }
    out[n] = 0;
    return n;
}

/* decodes prefix + letter bytes + suffix and compares with prefix + NFC + suffix */
static int decodes_to(enum text_enc e, const char *pre, const char *bytes, int n, const char *post,
                      const char *want)
{
    char in[64], exp[64];
    size_t pl = strlen(pre);
    memcpy(in, pre, pl);
    memcpy(in + pl, bytes, (size_t)n);
    strcpy(in + pl + n, post);
    snprintf(exp, sizeof exp, "%s%s%s", pre, want, post);
    struct buf b;
    buf_init(&b);
    int ok = text_decode(in, pl + (size_t)n + strlen(post), e, &b) == 0 && b.data &&
             strcmp(b.data, exp) == 0;
    if (!ok)
        fprintf(stderr, "  %s: %s -> %s, want %s\n", text_enc_name(e), pre, b.data ? b.data : "",
                exp);
    buf_fini(&b);
    return ok;
}

static void test_letters(void)
{
    FILE *f = fopen("data/vn_charsets.tsv", "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[512];
    int rows = 0;
    CHECK(fgets(line, sizeof line, f) != NULL); /* header */
    while (fgets(line, sizeof line, f)) {
        char *col[7];
        int n = 0;
        for (char *tok = strtok(line, "\t\n"); tok && n < 7; tok = strtok(NULL, "\t\n"))
            col[n++] = tok;
        if (n < 7) continue;
        rows++;
        const char *nfc = col[0];
        int upper = strcmp(nfc, "a") < 0 || (unsigned char)nfc[0] < 0x80 ? 0 : 0;
        (void)upper;
        char b[16], nfd[32];
        int k;
        /* is the letter uppercase? its NFC differs from a lowercase fold of itself */
        char *fold = text_fold(nfc);
        int is_upper = 0;
        {
            /* VIQR's first character carries the case */
            is_upper = col[6][0] >= 'A' && col[6][0] <= 'Z';
        }
        free(fold);
        const char *pre = is_upper ? "BB" : "bb", *post = is_upper ? "B" : "b";
        k = hexbytes(col[3], b);
        CHECK(decodes_to(ENC_TCVN3, pre, b, k, post, nfc));
        k = hexbytes(col[4], b);
        CHECK(decodes_to(ENC_VNI, pre, b, k, post, nfc));
        k = hexbytes(col[5], b);
        CHECK(decodes_to(ENC_CP1258, pre, b, k, post, nfc));
        CHECK(decodes_to(ENC_VIQR, " ", col[6], (int)strlen(col[6]), " ", nfc));
        k = cp_to_utf8(col[2], nfd);
        CHECK(decodes_to(ENC_NFD, pre, nfd, k, post, nfc));
        /* GDAL's CP1252 recoding of the legacy bytes maps back (TAB WindowsLatin1, DXF ANSI_1252)
         */
        k = hexbytes(col[4], b);
        struct buf moj;
        buf_init(&moj);
        for (int i = 0; i < k; i++) {
            unsigned char c = (unsigned char)b[i];
            uint32_t cp = c < 0x80 ? c : vn_cp1252_high[c - 0x80];
            char tmp[4];
            int m =
                cp < 0x800
                    ? (tmp[0] = (char)(0xC0 | cp >> 6), tmp[1] = (char)(0x80 | (cp & 0x3F)), 2)
                    : (tmp[0] = (char)(0xE0 | cp >> 12), tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
                       tmp[2] = (char)(0x80 | (cp & 0x3F)), 3);
            if (cp < 0x80) tmp[0] = (char)cp, m = 1;
            buf_append(&moj, tmp, (size_t)m);
        }
        CHECK(decodes_to(ENC_VNI, pre, moj.data, (int)moj.len, post, nfc));
        buf_fini(&moj);
    }
    fclose(f);
    CHECK(rows == 134);
}

static enum text_enc detect(const char *const *vals, int n, double *conf)
{
    struct text_detect d;
    text_detect_init(&d);
    for (int i = 0; i < n; i++)
        text_detect_add(&d, vals[i], strlen(vals[i]));
    return text_detect_result(&d, conf);
}

static void test_detect(void)
{
    double c;
    /* DOMAIN.md 2.3: "Đất ở tại đô thị", "Cần Thơ", "Quy hoạch phân khu" */
    const char *tcvn3[] = {"\xa7\xca"
                           "t \xeb t\xb9i \xae\xab th\xde",
                           "C\xc7"
                           "n Th\xac",
                           "Quy ho\xb9"
                           "ch ph\xa9n khu"};
    CHECK(detect(tcvn3, 3, &c) == ENC_TCVN3 && c > 0.9);
    const char *vni[] = {"\xd1\x61\xe1"
                         "t \xf4\xfb ta\xef"
                         "i \xf1o\xe2 th\xf2",
                         "Ca\xe0"
                         "n Th\xf4",
                         "Quy hoa\xef"
                         "ch pha\xe2"
                         "n khu"};
    CHECK(detect(vni, 3, &c) == ENC_VNI && c > 0.9);
    const char *cp1258[] = {"C\xe2\xcc"
                            "n Th\xf5",
                            "\xd0\xe2\xec"
                            "t \xf5\xd2 ta\xf2i \xf0\xf4 thi\xf2"};
    CHECK(detect(cp1258, 2, &c) == ENC_CP1258 && c > 0.9);
    const char *utf8[] = {"Cần Thơ", "Đất ở tại đô thị"};
    CHECK(detect(utf8, 2, &c) == ENC_UTF8 && c > 0.9);
    const char *dbl[] = {"C\xc3\xa1\xc2\xba\xc2\xa7n Th\xc3\x86\xc2\xa1"}; /* "Cáº§n ThÆ¡" */
    CHECK(detect(dbl, 1, &c) == ENC_DOUBLE_UTF8);
    const char *nfd[] = {"Ca\xcc\x82\xcc\x80n Tho\xcc\x9b"};
    CHECK(detect(nfd, 1, &c) == ENC_NFD);
    const char *ascii[] = {"Can Tho", "Ninh Kieu"};
    CHECK(detect(ascii, 2, &c) == ENC_ASCII);
    const char *viqr[] = {"Ca^`n Tho+", "DDa^'t o+? ta.i ddo^ thi."};
    CHECK(detect(viqr, 2, &c) == ENC_VIQR);
    /* VNI bytes that GDAL recoded as CP1252 (MIF WindowsLatin1) */
    const char *vni_moj[] = {"Caàn Thô", "Ñaát ôû taïi ñoâ thò"};
    CHECK(detect(vni_moj, 2, &c) == ENC_VNI);
    struct buf b;
    buf_init(&b);
    CHECK(text_decode(vni_moj[1], strlen(vni_moj[1]), ENC_VNI, &b) == 0 &&
          strcmp(b.data, "Đất ở tại đô thị") == 0);
    buf_fini(&b);
}

int main(void)
{
    test_letters();
    test_detect();
    CHECK(text_syllable_ok("nghiêng", strlen("nghiêng")));
    CHECK(text_syllable_ok("Thơ", strlen("Thơ")));
    CHECK(!text_syllable_ok("Cáº", strlen("Cáº")));
    CHECK(!text_syllable_ok("êt", strlen("êt"))); /* stop coda needs sắc or nặng */
    char *f = text_fold("Số hiệu điểm");
    CHECK(f && strcmp(f, "sohieudiem") == 0);
    free(f);
    f = text_fold("MA_THUA");
    CHECK(f && strcmp(f, "mathua") == 0);
    free(f);
    enum text_enc e;
    CHECK(text_enc_parse("tcvn3", &e) == 0 && e == ENC_TCVN3);
    CHECK(text_enc_parse("klingon", &e) != 0);
    CHECK_DONE();
}
