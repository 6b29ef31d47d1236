/*
 * promseries.h - promtool's series notation for rule unit tests:
 *
 *   "1 2 3"       explicit values
 *   "a+bxn"       a, a+b, ..., a+n*b        (n+1 values)
 *   "a-bxn"       a, a-b, ..., a-n*b        (n+1 values)
 *   "axn"         a repeated n+1 times      (= a+0xn)
 *   "_"           one missing sample (a gap)
 *   "_xn"         n missing samples
 *
 * Values may be written with a metric unit suffix k, M, G (10k = 10000).
 * Pure; no allocation on failure paths visible to the caller.
 */
#ifndef SEGALERT_PROMSERIES_H
#define SEGALERT_PROMSERIES_H

#include <stdbool.h>
#include <stddef.h>

struct promseries {
    double *values;
    bool *present;      /* false for '_' gaps */
    size_t n;
};

/* Expand text into out.  Returns 0, or -1 with a message naming the
 * offending token and its 1-based column in err. */
int promseries_parse(const char *text, struct promseries *out, char *err,
                     size_t errlen);
void promseries_free(struct promseries *s);

#endif
