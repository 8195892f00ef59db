/* SPDX-License-Identifier: MIT */
/* encode_int.h: what the encode files share: the number printers that write straight into
 * reserved buffer room (the writers' hot path) and the appending of string lists. */
#ifndef SPP_ENCODE_INT_H
#define SPP_ENCODE_INT_H

#include "encode.h"

/* Room a number printer may use at p. */
#define ENCODE_NUM_ROOM 64

/* v with at most dec decimals at p (fixed point, no printf); returns the new end. */
char *encode_fixed_at(char *p, double v, int dec);
/* v as printf's %.*f with trailing zeros dropped ("-0" as "0") at p; returns the new end. */
char *encode_exact_at(char *p, double v, int dec);
/* ERR_NOMEM when rc is set (a buf call failed), filling err; else 0. */
int encode_nomem(int rc, struct err *err);

#endif
