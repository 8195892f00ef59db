/* SPDX-License-Identifier: MIT */
/* fuzz_cql2_text.c: libFuzzer target for the cql2_text filter parser, then check and compile (the
 * shared body is in filter_fuzz.h). */
#define FILTER_FUZZ_PARSE(text, size, lim, out, err) filter_parse_cql2_text(text, lim, 0, out, err)
#include "filter_fuzz.h"
