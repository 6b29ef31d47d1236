/*
 * intake_otlp.c - OTLP/HTTP with the JSON encoding (see intake.h): POST
 * {url}/v1/metrics (url is the collector's base URL, as
 * OTEL_EXPORTER_OTLP_ENDPOINT; a url already ending in /v1/metrics is
 * used as it is), Content-Type application/json, an
 * ExportMetricsServiceRequest in the protobuf JSON mapping:
 *
 *   {"resourceMetrics":[{"resource":{"attributes":[
 *      {"key":"service.name","value":{"stringValue":"segalert"}}]},
 *    "scopeMetrics":[{"scope":{"name":"segalert","version":"0.1.0"},
 *     "metrics":[
 *      {"name":"segment.successes","unit":"{event}","description":"...",
 *       "sum":{"aggregationTemporality":1,"isMonotonic":true,
 *        "dataPoints":[{"attributes":[{"key":"source","value":
 *         {"stringValue":"web"}}],"startTimeUnixNano":"1765000000000000000",
 *         "timeUnixNano":"1765000300000000000","asDouble":1234}]}},
 *      {"name":"segment.time_to_success_p95","unit":"s",
 *       "gauge":{"dataPoints":[...]}}]}]}]}
 *
 * Counts are Sums with AGGREGATION_TEMPORALITY_DELTA (1): each data point
 * is the amount over [startTimeUnixNano, timeUnixNano).  64-bit integers
 * are strings and enums integers, as the OTLP specification's JSON
 * encoding requires.  Points of one metric share its entry.
 *
 * Answers (OTLP specification, "OTLP/HTTP Response"): 200 with an
 * ExportMetricsServiceResponse whose partialSuccess may count rejected
 * points; 429, 502, 503 and 504 are retried (honouring Retry-After),
 * every other failure is not.  There is no protocol limit on size: batches
 * follow the Collector's batch processor (8192 points) and stay under its
 * default max_request_body_size (20 MiB).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "export/intake.h"
#include "export/names.h"

#define OTLP_BATCH_POINTS 8192
#define OTLP_MAX_BODY (20u << 20)
#define OTLP_TEMPORALITY_DELTA 1
#define OTLP_PATH "/v1/metrics"
#define NS_PER_S 1000000000LL

static void limits(const struct export_cfg *xc, struct export_limits *out)
{
    out->batch_points = OTLP_BATCH_POINTS;
    out->max_body = OTLP_MAX_BODY;
    out->max_wire = 0;
    out->max_age_s = 0;
}

static void url(const struct export_cfg *xc, struct strbuf *out)
{
    const char *u = xc->url ? xc->url : "";
    size_t ul = strlen(u), pl = strlen(OTLP_PATH);
    strbuf_adds(out, u);
    if (ul < pl || strcmp(u + ul - pl, OTLP_PATH) != 0)
        strbuf_adds(out, OTLP_PATH);
}

/* Unix nanoseconds as a decimal string member. */
static void nanos(struct strbuf *out, const char *key, double t)
{
    long long s = (long long)floor(t);
    long long ns = llround((t - (double)s) * 1e9);
    if (ns >= NS_PER_S) {
        s++;
        ns -= NS_PER_S;
    }
    char buf[48];
    if (s > 0)
        snprintf(buf, sizeof(buf), "%lld%09lld", s, ns);
    else
        snprintf(buf, sizeof(buf), "%lld", ns);
    jw_str(out, key, buf);
}

static void attr(struct strbuf *out, const char *k, const char *v)
{
    jw_open(out, NULL, '{');
    jw_str(out, "key", k);
    jw_open(out, "value", '{');
    jw_str(out, "stringValue", v);
    jw_close(out, '}');
    jw_close(out, '}');
}

static void data_point(struct export_encode_ctx *ctx,
                       const struct export_point *p, bool count,
                       struct strbuf *out)
{
    const char *keys[EXPORT_MAX_TAGS], *vals[EXPORT_MAX_TAGS];
    size_t n = export_point_tags(ctx, p, keys, vals);
    jw_open(out, NULL, '{');
    jw_open(out, "attributes", '[');
    for (size_t i = 0; i < n; i++)
        attr(out, keys[i], vals[i]);
    jw_close(out, ']');
    if (count) {
        nanos(out, "startTimeUnixNano", p->t);
        nanos(out, "timeUnixNano", p->t + p->interval_s);
    } else {
        nanos(out, "timeUnixNano", p->t);
    }
    jw_double(out, "asDouble", p->v);
    jw_close(out, '}');
}

static void encode_all(struct export_encode_ctx *ctx,
                       const struct export_point *p, size_t n,
                       struct strbuf *out)
{
    jw_open(out, NULL, '{');
    jw_open(out, "resourceMetrics", '[');
    jw_open(out, NULL, '{');
    jw_open(out, "resource", '{');
    jw_open(out, "attributes", '[');
    attr(out, "service.name", "segalert");
    attr(out, "service.version", SEGALERT_VERSION);
    jw_close(out, ']');
    jw_close(out, '}');
    jw_open(out, "scopeMetrics", '[');
    jw_open(out, NULL, '{');
    jw_open(out, "scope", '{');
    jw_str(out, "name", "segalert");
    jw_str(out, "version", SEGALERT_VERSION);
    jw_close(out, '}');
    jw_open(out, "metrics", '[');
    struct strbuf name = STRBUF_INIT;
    for (int m = 0; m < EXM__COUNT; m++) {
        size_t first = 0;
        while (first < n && p[first].metric != m)
            first++;
        if (first == n)
            continue;
        const struct export_metric_info *mi = &export_metric_table[m];
        bool count = mi->kind == EXK_COUNT;
        strbuf_reset(&name);
        export_point_name(ctx, &p[first], &name);
        jw_open(out, NULL, '{');
        jw_str(out, "name", strbuf_str(&name));
        jw_str(out, "description", mi->help);
        jw_str(out, "unit", mi->unit);
        jw_open(out, count ? "sum" : "gauge", '{');
        if (count) {
            jw_int(out, "aggregationTemporality", OTLP_TEMPORALITY_DELTA);
            jw_bool(out, "isMonotonic", true);
        }
        jw_open(out, "dataPoints", '[');
        for (size_t i = first; i < n; i++)
            if (p[i].metric == m)
                data_point(ctx, &p[i], count, out);
        jw_close(out, ']');
        jw_close(out, '}');
        jw_close(out, '}');
    }
    strbuf_free(&name);
    jw_close(out, ']');
    jw_close(out, '}');
    jw_close(out, ']');
    jw_close(out, '}');
    jw_close(out, ']');
    jw_close(out, '}');
}

static size_t encode(struct export_encode_ctx *ctx,
                     const struct export_point *p, size_t n, size_t max_body,
                     struct strbuf *out)
{
    /* Points are grouped by metric, so the size is known only once the
     * whole document is written: halve until it fits. */
    size_t k = n;
    for (;;) {
        strbuf_reset(out);
        encode_all(ctx, p, k, out);
        if (out->len <= max_body || k <= 1)
            return k;
        k /= 2;
    }
}

static void classify(const struct http_request *r, double now,
                     struct delivery_verdict *v, size_t *rejected)
{
    *rejected = 0;
    http_verdict_classify(r->status, r->curl_code, r->body.buf, r->body.len,
                          r->retry_after, now, v);
    if (r->curl_code != 0)
        return;
    if (v->outcome == DELIVERY_RETRY && r->status != 429 &&
        r->status != 502 && r->status != 503 && r->status != 504 &&
        r->status >= 400) {
        /* OTLP: only these four are worth another try */
        v->outcome = DELIVERY_PERMANENT;
        v->retry_after_s = -1;
        return;
    }
    if (v->outcome != DELIVERY_OK || !r->body.len)
        return;
    cJSON *root = cJSON_ParseWithLength(r->body.buf, r->body.len);
    const cJSON *ps = json_member(root, "partialSuccess");
    double n = json_num(ps, "rejectedDataPoints", 0);
    if (!(n > 0)) {
        /* int64 members may come as strings */
        const char *s = json_str(ps, "rejectedDataPoints");
        if (!s || parse_double(s, &n) != 0)
            n = 0;
    }
    if (n > 0) {
        *rejected = (size_t)n;
        const char *msg = json_str(ps, "errorMessage");
        http_verdict_reason(v, "HTTP %ld: partial success, %.0f points "
                            "rejected: %s", r->status, n, msg ? msg : "");
    }
    cJSON_Delete(root);
}

const struct export_intake intake_otlp = {
    .type = EXPORT_OTLP,
    .content_type = "application/json",
    .limits = limits,
    .url = url,
    .auth = NULL,
    .encode = encode,
    .classify = classify,
};
