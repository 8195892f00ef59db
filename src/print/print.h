/* SPDX-License-Identifier: MIT */
/* print: the printable parcel sheet (issue 19). One A4 page of HTML a browser prints as is: the
 * map around the parcel (zoning and red lines drawn by the WMS renderer, the parcel and its
 * neighbours with their numbers drawn over it from the store), scale bar, north arrow, the legend
 * of what is drawn, the parcel's attributes and planning indicators (the land API's own answers,
 * so the caller's role decides what shows), the date and data batch, and a QR code of the
 * parcel's share link.
 *
 * Owns: the sheet's layout. Must not: compute land facts itself (it calls the land API and the
 * WMS handler in-process, as the caller), or answer a sheet with a part missing (a part that
 * fails, out of memory included, fails the sheet). */
#ifndef SPP_PRINT_H
#define SPP_PRINT_H

#include "../core/request.h"

/* GET /print/parcel/{parcel_key}?lang=vi|en */
int print_parcel(struct request *req, struct response *res, struct err *err);

#endif
