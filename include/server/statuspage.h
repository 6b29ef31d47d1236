/*
 * statuspage.h - renderers for what the HTTP server shows (SPEC §6): the
 * HTML status page, the Prometheus text exposition of /metrics and the
 * JSON documents of the /api/v1 endpoints.
 *
 * Every renderer is pure: it reads one immutable snapshot (snapshot.h) and
 * appends to a caller's strbuf; it never touches the clock, so relative
 * times ("12s ago", uptime, staleness) are measured from
 * snapshot->generated_at.  The snapshot is borrowed; NULL arrays with a
 * zero count are fine, and every char * documented "may be NULL" in
 * snapshot.h may be NULL.  Safe to call from any thread as long as the
 * caller holds a reference (snapshot_acquire).
 *
 * Everything that came from outside (label values from Segment, error
 * messages, comments of silences) is escaped for its output: HTML
 * entities on the page, JSON string escapes, Prometheus label escapes.
 */
#ifndef SEGALERT_STATUSPAGE_H
#define SEGALERT_STATUSPAGE_H

#include "server/snapshot.h"
#include "core/util.h"

/* Content types of the renderers' output. */
#define STATUSPAGE_HTML_TYPE "text/html; charset=utf-8"
#define STATUSPAGE_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define STATUSPAGE_JSON_TYPE "application/json"

/* Seconds between automatic reloads of the page (<meta http-equiv>). */
#define STATUSPAGE_REFRESH_S 15

/*
 * GET /: a self-contained page (inline CSS, inline SVG sparklines, no
 * script, no external assets).  Stable hooks for tests and scrapers:
 * sections id="workspaces", "alerts", "rules", "receivers", "silences";
 * each alert row <tr class="alert" data-rule="..." data-state="...">;
 * each alert has exactly one <svg class="spark">.
 */
void statuspage_html(const struct snapshot *s, struct strbuf *out);

/*
 * GET /metrics: Prometheus text format 0.0.4.  Each family is one block
 * with a single # HELP and # TYPE; segalert_* self-metrics first, then
 * segment_<metric>{labels} gauges for every collected series.  Label
 * names that are not valid Prometheus names get '_' for bad characters.
 */
void statuspage_metrics(const struct snapshot *s, struct strbuf *out);

/*
 * JSON documents, {"status":"success","data":{...}}:
 *   alerts:   {"alerts":[{"rule","labels":{},"state","severity",
 *              "value": number|null|"+Inf"|"-Inf","activeAt","firedAt"
 *              (RFC 3339 or null),"summary","runbookUrl","flapping",
 *              "silenced"}]}
 *   rules:    {"rules":[{"name","family","expr","warn","severity",
 *              "forSeconds","file","line","alerts":{"inactive","pending",
 *              "firing"}}]}
 *   status:   version, startedAt, generatedAt, uptimeSeconds, ready,
 *             configPath, stateDir, evaluation, notifications, outbox,
 *             alerts (counts by state), workspaces[] (health per poll
 *             family, budget, staleness, requests), receivers[], silences[]
 *   silences: {"silences":[{"id","matchers":["k=glob",...],"status":
 *              "active"|"pending"|"expired","startsAt","endsAt",
 *              "createdBy","comment"}]}
 */
void statuspage_alerts_json(const struct snapshot *s, struct strbuf *out);
void statuspage_rules_json(const struct snapshot *s, struct strbuf *out);
void statuspage_status_json(const struct snapshot *s, struct strbuf *out);
void statuspage_silences_json(const struct snapshot *s, struct strbuf *out);

/* ---- plain-text tables for the terminal (status, silence list) ------- */

/* Rows of ncols cells; cells are copied.  Columns are padded to their
 * widest cell (counted in UTF-8 characters); a cell longer than
 * STATUSPAGE_CELL_MAX characters is cut with "...". */
#define STATUSPAGE_CELL_MAX 64
struct statuspage_table {
    size_t ncols, nrows, cap;
    char **cells;               /* nrows * ncols */
};
void statuspage_table_init(struct statuspage_table *t, size_t ncols);
/* Append a row of exactly ncols const char * (NULL prints as "-"). */
void statuspage_table_row(struct statuspage_table *t, ...);
/* Write the table (first row is the header) to out. */
void statuspage_table_write(const struct statuspage_table *t,
                            struct strbuf *out);
void statuspage_table_free(struct statuspage_table *t);

/* Building blocks, exposed for the HTTP server, the commands and tests. */

/* A coarse age: "12s", "4m", "2h 5m", "3d 4h" (negative counts as 0). */
void statuspage_format_age(double age_s, char *buf, size_t len);

/* Append s with & < > " ' replaced by entities (NULL appends nothing). */
void statuspage_html_escape(struct strbuf *out, const char *s);
/* A double as Prometheus spells it: shortest exact form, NaN, +Inf, -Inf. */
void statuspage_prom_double(struct strbuf *out, double v);
/* A double as JSON: shortest exact number, null for NaN, "+Inf"/"-Inf". */
void statuspage_json_double(struct strbuf *out, double v);

#endif
