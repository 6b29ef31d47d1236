/*
 * intake_influx.c - InfluxDB line protocol (see intake.h): POST
 * {url}/write?db=DATABASE&precision=s (InfluxDB 1.x; VictoriaMetrics
 * takes the same) or {url}/api/v2/write?org=ORG&bucket=BUCKET&precision=s
 * (InfluxDB 2.x) - or, when url is the write endpoint with its query
 * already (url = "http://h:8086/write?db=segment"), url&precision=s -
 * with "Authorization: Token ..." when a token is set.
 *
 *   segment_connection,destination=Amplitude,source=web,workspace=prod
 *       attempted=1240,discarded=6,...,successes=1234,interval_s=300
 *       1765000000
 *
 * The measurement is the prefix + the metric's family ("connection",
 * "source", "usage", "alert"), with '.' made '_'; the fields are the
 * exported metric names, the tags the labels.  Consecutive points of one
 * series at one timestamp share a line: a window's counts are one point
 * at its start, with interval_s (its length) as a field of its own; its
 * latencies one point at its end.  Values are floats throughout (a field
 * must keep one type).
 *
 * Limits (docs.influxdata.com, "Optimize writes"): batches of 5000 lines;
 * InfluxDB 1.x refuses bodies over 25 MB (max-body-size).  204 No Content
 * on success; a 400 "partial write" is not retried.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "export/intake.h"
#include "export/names.h"

#define INFLUX_BATCH_POINTS 5000
#define INFLUX_MAX_BODY 25000000

static void limits(const struct export_cfg *xc, struct export_limits *out)
{
    out->batch_points = INFLUX_BATCH_POINTS;
    out->max_body = INFLUX_MAX_BODY;
    out->max_wire = 0;
    out->max_age_s = 0;
}

static void url(const struct export_cfg *xc, struct strbuf *out)
{
    strbuf_adds(out, xc->url ? xc->url : "");
    if (export_influx_write_url(xc->url)) {
        /* the write endpoint with its query, as configured */
        strbuf_adds(out, "&precision=s");
        return;
    }
    if (xc->bucket) {
        strbuf_adds(out, "/api/v2/write?org=");
        strbuf_add_urlenc(out, xc->org ? xc->org : "");
        strbuf_adds(out, "&bucket=");
        strbuf_add_urlenc(out, xc->bucket);
    } else {
        strbuf_adds(out, "/write?db=");
        strbuf_add_urlenc(out, xc->database ? xc->database : "");
    }
    strbuf_adds(out, "&precision=s");
}

static void auth(const struct export_cfg *xc, struct str_list *lines)
{
    if (xc->token) {
        char *h = xasprintf("Authorization: Token %s", xc->token);
        str_list_add(lines, h);
        free(h);
    }
}

/* Escape for a measurement (specials: ",", " ") or a tag key, tag value or
 * field key (also "=").  Line breaks cannot be escaped: they become '_'. */
static void esc(struct strbuf *out, const char *s, bool measurement)
{
    for (; *s; s++) {
        char c = *s;
        if (c == '\n' || c == '\r') {
            strbuf_addc(out, '_');
            continue;
        }
        if (c == ',' || c == ' ' || (!measurement && c == '=') || c == '\\')
            strbuf_addc(out, '\\');
        strbuf_addc(out, c);
    }
}

static void measurement(const struct export_encode_ctx *ctx,
                        const struct export_point *p, struct strbuf *out)
{
    struct strbuf m = STRBUF_INIT;
    strbuf_adds(&m, ctx->xc->prefix ? ctx->xc->prefix : "");
    strbuf_adds(&m, export_metric_table[p->metric].family);
    for (char *c = m.buf; *c; c++)
        if (*c == '.')
            *c = '_';
    esc(out, m.buf, true);
    strbuf_free(&m);
}

/* Same line: same series, same family, same second, same interval. */
static bool same_line(const struct export_point *a,
                      const struct export_point *b)
{
    return a->labels == b->labels &&
           export_metric_table[a->metric].family ==
               export_metric_table[b->metric].family &&
           floor(a->t) == floor(b->t) && a->interval_s == b->interval_s;
}

static void field_value(struct strbuf *out, double v)
{
    char buf[40];
    json_format_double(v, buf, sizeof(buf));
    strbuf_adds(out, buf);
}

/* One line from p[0, k) (same_line as p[0]); returns k. */
static size_t line(struct export_encode_ctx *ctx,
                   const struct export_point *p, size_t n,
                   struct strbuf *out)
{
    measurement(ctx, p, out);
    const char *keys[EXPORT_MAX_TAGS], *vals[EXPORT_MAX_TAGS];
    size_t nt = export_point_tags(ctx, p, keys, vals);
    for (size_t i = 0; i < nt; i++) {
        strbuf_addc(out, ',');
        esc(out, keys[i], false);
        strbuf_addc(out, '=');
        esc(out, vals[i], false);
    }
    size_t k = 0;
    for (; k < n && (k == 0 || same_line(&p[0], &p[k])); k++) {
        strbuf_addc(out, k == 0 ? ' ' : ',');
        esc(out, export_metric_table[p[k].metric].name, false);
        strbuf_addc(out, '=');
        field_value(out, p[k].v);
    }
    if (export_metric_table[p->metric].kind == EXK_COUNT) {
        strbuf_adds(out, ",interval_s=");
        field_value(out, p->interval_s);
    }
    strbuf_addf(out, " %lld\n", (long long)floor(p->t));
    return k;
}

static size_t encode(struct export_encode_ctx *ctx,
                     const struct export_point *p, size_t n, size_t max_body,
                     struct strbuf *out)
{
    size_t k = 0;
    while (k < n) {
        size_t before = out->len;
        size_t used = line(ctx, &p[k], n - k, out);
        if (k > 0 && out->len > max_body) {
            out->len = before;
            out->buf[before] = '\0';
            break;
        }
        k += used;
    }
    return k;
}

const struct export_intake intake_influx = {
    .type = EXPORT_INFLUX,
    .content_type = "text/plain; charset=utf-8",
    .limits = limits,
    .url = url,
    .auth = auth,
    .encode = encode,
    .classify = NULL,
};
