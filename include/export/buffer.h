/*
 * buffer.h - the exported point and the bounded queue of them each
 * exporter holds between the sample that made them and the intake that
 * accepted them.
 *
 * A point is one value of one exported metric (export/names.h) for one
 * series: a count with the interval it covers, or a gauge at a time.  Its
 * labels are an interned label set of the daemon's pool (engine/labels.h),
 * which lives as long as the daemon, so a point is a few plain words and
 * the queue never copies strings.
 *
 * The queue is a ring of at most `cap` points: appending to a full ring
 * drops the oldest point (counted by the caller from the return value), so
 * an intake that is down for long costs bounded memory and the newest data
 * is what survives.  Points taken for a request that must be tried again
 * later go back to the front.
 *
 * Ownership: the ring owns its array; points borrow their label sets.
 * Errors: none (allocation failure aborts).  Thread safety: none.
 */
#ifndef SEGALERT_EXPORT_BUFFER_H
#define SEGALERT_EXPORT_BUFFER_H

#include <stddef.h>
#include <stdint.h>

#include "engine/labels.h"

struct export_point {
    const struct labelset *labels;  /* the series' labels (borrowed) */
    double t;               /* counts: start of the interval; gauges: the
                               time of the value (unix seconds) */
    double interval_s;      /* counts: length of the interval; gauges: 0 */
    double v;
    double queued_at;       /* when it entered the queue (for the lag) */
    uint64_t seq;           /* order of entry, per exporter */
    int metric;             /* enum export_metric */
};

struct export_ring {
    struct export_point *p;
    size_t cap;             /* most points held */
    size_t alloc;           /* slots allocated (grows up to cap) */
    size_t head, n;
};

void export_ring_init(struct export_ring *r, size_t cap);
void export_ring_free(struct export_ring *r);
/* Change the capacity (a reload); the oldest points beyond it are dropped
 * and their number returned. */
size_t export_ring_set_cap(struct export_ring *r, size_t cap);
/* Append pt; returns 1 when the oldest point was dropped to make room. */
size_t export_ring_push(struct export_ring *r, const struct export_point *pt);
/* Put pts[0, n) back in front, in that order (a request to retry); the
 * points that no longer fit are dropped from the END of pts and their
 * number returned. */
size_t export_ring_unshift(struct export_ring *r,
                           const struct export_point *pts, size_t n);
/* Move up to max points from the front into out; returns how many. */
size_t export_ring_take(struct export_ring *r, struct export_point *out,
                        size_t max);
/* The i-th point from the front (i < n). */
const struct export_point *export_ring_at(const struct export_ring *r,
                                          size_t i);

#endif
