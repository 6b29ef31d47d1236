/*
 * prom.h - the Prometheus text exposition of GET /metrics (format 0.0.4):
 * segalert's self-metrics (segalert_*, the exporters' segalert_export_*),
 * the Segment series under the names of the mapping table in README.md
 * ("Export to your observability tool", export/names.h) - counts as
 * counters (segment_<metric>_total: the sum of the non-overlapping windows
 * read since segalert started), latencies in seconds
 * (segment_<metric>_seconds), usage as gauges, one aggregation level per
 * name (segment_workspace_* for the workspace totals) -, the plan limits
 * and usage period per workspace, and ALERTS{alertname, alertstate,
 * severity, ...} for every pending or firing alert, rendered from one
 * snapshot.
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
 * self-metrics first, then the Segment series, then ALERTS.
 */
void prom_render_metrics(const struct snapshot *s, struct strbuf *out);

/* A sample value as Prometheus spells it: the shortest exact form
 * (json_format_double), "NaN", "+Inf" or "-Inf". */
void prom_format_double(struct strbuf *out, double v);

#endif
