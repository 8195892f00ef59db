/* SPDX-License-Identifier: MIT */
/* fold.c: diacritic folding for matching Vietnamese names typed with or without marks
 * ("Ninh Kiều", "ninh kieu", "NINH KIEU"). utf8proc decomposes and strips the combining marks;
 * đ/Đ has no decomposition, so it is mapped to d by hand. */
#include "query.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

char *query_fold(const char *s)
{
    if (!s) return NULL;
    utf8proc_uint8_t *dec = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, 0, &dec,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_DECOMPOSE |
                                          UTF8PROC_STRIPMARK | UTF8PROC_CASEFOLD);
    if (n < 0) return NULL;
    char *out = malloc((size_t)n + 1);
    if (!out) {
        free(dec);
        return NULL;
    }
    size_t o = 0;
    int space = 1; /* drops leading spaces */
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        unsigned char c = dec[i];
        if (c == 0xC4 && i + 1 < n && (dec[i + 1] == 0x91 || dec[i + 1] == 0x90)) {
            c = 'd'; /* U+0111 đ, U+0110 Đ (casefold maps Đ to đ already) */
            i++;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (!space) out[o++] = ' ';
            space = 1;
            continue;
        }
        out[o++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        space = 0;
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    free(dec);
    return out;
}
