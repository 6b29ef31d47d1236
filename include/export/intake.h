/*
 * intake.h - an intake type (the value of `type =` in an export section)
 * as the exporter sees it: one table of operations per type, each in its
 * own file, src/export/intake_TYPE.c, like the receivers of the notify
 * layer (notify/receiver.h):
 *
 *   intake_datadog.c   Datadog series API, v2 (/api/v2/series) or v1
 *   intake_newrelic.c  New Relic Metric API (/metric/v1)
 *   intake_influx.c    InfluxDB line protocol (1.x /write, 2.x
 *                      /api/v2/write; VictoriaMetrics takes the former)
 *   intake_otlp.c      OTLP/HTTP, JSON encoding of
 *                      ExportMetricsServiceRequest (/v1/metrics)
 *
 * A type says where to POST, which headers authenticate, how points are
 * encoded, the intake's documented limits (points and bytes per request,
 * oldest timestamp accepted) and how its answers are judged.  The
 * exporter (export/exporter.h) does the batching, compression, retries
 * and accounting for every type.
 *
 * Names and tags: a point's name is the exporter's prefix + its exported
 * name (export/names.h); its tags are the series' labels, then the
 * workspace's configured labels, then the exporter's tags (a later one
 * never replaces an earlier key).  Encoders never fail: values that a
 * format cannot carry (NaN) were never made into points.
 *
 * Everything here is pure (no I/O, no clock: `now` is passed in); the
 * tables are static and read-only, safe on any thread.
 */
#ifndef SEGALERT_EXPORT_INTAKE_H
#define SEGALERT_EXPORT_INTAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "api/http.h"
#include "config/config.h"
#include "core/kv.h"
#include "core/util.h"
#include "export/buffer.h"
#include "notify/http_verdict.h"

/* Tags of one point, at most (New Relic accepts 100 attributes). */
#define EXPORT_MAX_TAGS 64

/* What the encoders read besides the points. */
struct export_encode_ctx {
    const struct export_cfg *xc;
    const struct config *cfg;       /* the workspaces' labels; may be NULL */
    double now;
    /* cache of the workspace lookup (a batch is mostly one workspace) */
    const char *ws_name;
    const struct workspace_cfg *ws;
};

/* The documented limits of an intake (for the exporter's batches). */
struct export_limits {
    size_t batch_points;    /* points per request when batch_size is not
                               set */
    size_t max_body;        /* bytes of the request body before
                               compression */
    size_t max_wire;        /* bytes on the wire (compressed, when gzip
                               is on); 0 = no limit of its own */
    double max_age_s;       /* points older than this are refused; 0 =
                               any age */
};

struct export_intake {
    int type;               /* enum export_type */
    const char *content_type;
    void (*limits)(const struct export_cfg *xc, struct export_limits *out);
    /* The URL to POST to. */
    void (*url)(const struct export_cfg *xc, struct strbuf *out);
    /* Authentication header lines ("Name: value"), appended to lines
     * (NULL: none). */
    void (*auth)(const struct export_cfg *xc, struct str_list *lines);
    /* Encode points p[0, n) into out (empty on entry), stopping before
     * the body would exceed max_body bytes; returns how many were
     * encoded: at least 1 when n > 0, whatever its size. */
    size_t (*encode)(struct export_encode_ctx *ctx,
                     const struct export_point *p, size_t n,
                     size_t max_body, struct strbuf *out);
    /* Judge an answer: v as http_verdict_classify(), and *rejected the
     * points the intake said it refused in an accepted request (OTLP's
     * partial success).  NULL: http_verdict_classify. */
    void (*classify)(const struct http_request *r, double now,
                     struct delivery_verdict *v, size_t *rejected);
};

/* The intake of a type, or NULL. */
const struct export_intake *export_intake_of(int type);

/* ---- helpers the intake types share (intakes.c) --------------------------- */

/* The tags of p: keys[i] = vals[i] for the first *n (see the rule above);
 * at most EXPORT_MAX_TAGS, empty values skipped.  Pointers are borrowed
 * from the label set and the configuration. */
size_t export_point_tags(struct export_encode_ctx *ctx,
                         const struct export_point *p, const char **keys,
                         const char **vals);

/* The point's full metric name: prefix + exported name. */
void export_point_name(const struct export_encode_ctx *ctx,
                       const struct export_point *p, struct strbuf *out);

/* The verdict of an answer by the common rules, with nothing rejected. */
void export_classify_common(const struct http_request *r, double now,
                            struct delivery_verdict *v, size_t *rejected);

extern const struct export_intake intake_datadog, intake_newrelic,
    intake_influx, intake_otlp;

#endif
