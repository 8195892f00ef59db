/* SPDX-License-Identifier: MIT */
/* fuzz_fes.c: libFuzzer target for the fes filter parser, then check and compile (the
 * shared body is in filter_fuzz.h). */
#define FILTER_FUZZ_PARSE(text, size, lim, out, err)                                               \
    filter_parse_fes(text, size, lim, 5897, out, err)
#include "filter_fuzz.h"
