/* SPDX-License-Identifier: MIT */
/* fold.c: diacritic folding for matching Vietnamese names typed with or without marks
 * ("Ninh Kiều", "ninh kieu", "NINH KIEU"): the store's text fold (store_text_fold, store/search.c),
 * so that what is typed is folded exactly as the store's search indexes fold the columns. */
#include "query.h"

#include "../store/store.h"

char *query_fold(const char *s)
{
    return store_text_fold(s); /* one fold for the land API, the search box and the store */
}
