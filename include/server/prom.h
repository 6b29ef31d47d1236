/*
 * prom.h - the Prometheus text exposition of GET /metrics (format 0.0.4):
 * segalert's self-metrics and a segment_<metric> gauge for every collected
 * series, rendered from one snapshot.
 *
 * Pure: reads an immutable snapshot (borrowed; the caller holds a
 * reference, see snapshot.h) and appends to the caller's strbuf; never
 * touches the clock.  Safe from any thread.  Label values from outside
 * are escaped as the format wants (\\, \", \n); label names that are not
 * valid Prometheus names get '_' for the bad characters.
 */
#ifndef SEGALERT_PROM_H
#define SEGALERT_PROM_H

#include "core/util.h"
#include "server/snapshot.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Each family is one block with a single # HELP and # TYPE; segalert_*
 * self-metrics first, then segment_<metric>{labels} for every series
 * that has the metric.
 */
void prom_render_metrics(const struct snapshot *s, struct strbuf *out);

/* A sample value as Prometheus spells it: the shortest exact form
 * (json_format_double), "NaN", "+Inf" or "-Inf". */
void prom_format_double(struct strbuf *out, double v);

#endif
