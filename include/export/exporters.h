/*
 * exporters.h - every export section of the configuration at run time,
 * and the ledger that turns the pollers' samples into exported points
 * (export/ledger.h): the daemon's one entry point to the export layer.
 *
 * The daemon hands over each sample (exporters_sample) and, every
 * exporter interval, the alert states (exporters_alerts); it calls
 * exporters_tick() once per loop pass, which sends what is due on the
 * daemon's curl multi without waiting for anything.  Exporting never
 * reads the Segment API: it uses the samples the pollers already made.
 * The ledger runs even without an export section: its running totals are
 * the counters of /metrics.
 *
 * Reload: exporters are matched by name; a kept one keeps its queue,
 * cursor and counters, a new one starts, a removed one finishes the
 * request it has in flight and is freed.
 *
 * Ownership: the set borrows the configuration (exporters_reload before
 * the old one is freed), the transport and the clock; label sets in
 * queued points are the daemon's pool's, which must outlive the set.
 * Free it after aborting the transport's transfers (their callbacks run
 * against it).  Thread safety: none; the main loop only.
 */
#ifndef SEGALERT_EXPORT_EXPORTERS_H
#define SEGALERT_EXPORT_EXPORTERS_H

#include <stdbool.h>
#include <stddef.h>

#include "api/http.h"
#include "config/config.h"
#include "core/clock.h"
#include "export/buffer.h"
#include "export/exporter.h"
#include "export/ledger.h"
#include "export/names.h"

struct exporters;

/* state_dir: where cursor files live (NULL: in memory).  now: the
 * clock's time at start. */
struct exporters *exporters_new(const struct config *cfg,
                                const struct http_transport *tr,
                                const struct clock *clock,
                                const char *state_dir, double now);
void exporters_free(struct exporters *x);          /* NULL is a no-op */
void exporters_reload(struct exporters *x, const struct config *cfg,
                      double now);

/* A sample of a poller (see export/ledger.h for what it means). */
void exporters_sample(struct exporters *x, const struct export_sample *s,
                      double now);

/* Alert states are sampled every this many seconds (the shortest
 * interval of the exporters); INFINITY without exporters. */
double exporters_alert_interval(const struct exporters *x);
/* The alert states now: gauge points (metric EXM_ALERT, value 1); a
 * series sent last time and absent now is sent once more with 0. */
void exporters_alerts(struct exporters *x, const struct export_point *p,
                      size_t n, double now);

/* Send what is due; returns the clock time of the next thing to do. */
double exporters_tick(struct exporters *x, double now);
/* Shutdown: save the cursors, send everything queued; then drive the
 * transfers until exporters_busy() is false (bounded by the caller). */
void exporters_flush(struct exporters *x, double now);
bool exporters_busy(const struct exporters *x);

size_t exporters_count(const struct exporters *x);
/* Stats of the i-th exporter (configuration order). */
void exporters_stats(const struct exporters *x, size_t i, double now,
                     struct exporter_stats *out);

/* The ledger's running totals (ledger_totals). */
bool exporters_totals(const struct exporters *x, const struct labelset *ls,
                      double tot[EXM__COUNT], bool has[EXM__COUNT]);

#endif
