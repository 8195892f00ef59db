/* SPDX-License-Identifier: MIT */
/* log.c: timestamped lines on stderr; the access log of the server goes through here. */
#include "core.h"

#include <stdio.h>
#include <time.h>

int log_quiet = 0;

void log_msg(const char *level, const char *fmt, ...)
{
    if (log_quiet && level[0] == 'i') return;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %s %s\n", stamp, level, line);
}
