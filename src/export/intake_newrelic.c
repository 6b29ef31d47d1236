/*
 * intake_newrelic.c - the New Relic Metric API (see intake.h): POST
 * {url} (default https://metric-api.newrelic.com/metric/v1; the EU
 * region is https://metric-api.eu.newrelic.com/metric/v1), header
 * Api-Key (a license key).
 *
 *   [{"common":{},"metrics":[
 *      {"name":"segment.successes","type":"count","value":1234,
 *       "timestamp":1765000000000,"interval.ms":300000,
 *       "attributes":{"workspace":"prod","source":"web",...}},
 *      {"name":"segment.time_to_success_p95","type":"gauge","value":1.8,
 *       "timestamp":1765000300000,"attributes":{...}}]}]
 *
 * A count's timestamp is the start of its interval, in milliseconds.
 * Limits (docs.newrelic.com, "Metric API limits and restricted
 * attributes"): 1 MB (10^6 bytes) per POST - compression strongly
 * recommended -, 100 attributes per metric, attribute values up to 4096
 * characters, timestamps no older than 48 hours.  202 Accepted on
 * success.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "export/intake.h"
#include "export/names.h"

#define NR_MAX_WIRE 1000000
/* Our own cap on the body before compression (the documented limit is on
 * what is posted). */
#define NR_MAX_BODY 20000000
#define NR_BATCH_POINTS 5000
#define NR_MAX_AGE_S (48 * 3600.0)
#define NR_MAX_VALUE_CHARS 4096

static void limits(const struct export_cfg *xc, struct export_limits *out)
{
    out->batch_points = NR_BATCH_POINTS;
    out->max_body = NR_MAX_BODY;
    out->max_wire = NR_MAX_WIRE;
    out->max_age_s = NR_MAX_AGE_S;
}

static void url(const struct export_cfg *xc, struct strbuf *out)
{
    strbuf_adds(out, xc->url ? xc->url : "");
}

static void auth(const struct export_cfg *xc, struct str_list *lines)
{
    if (xc->api_key) {
        char *h = xasprintf("Api-Key: %s", xc->api_key);
        str_list_add(lines, h);
        free(h);
    }
}

static void one(struct export_encode_ctx *ctx, const struct export_point *p,
                struct strbuf *out)
{
    const struct export_metric_info *mi = &export_metric_table[p->metric];
    bool count = mi->kind == EXK_COUNT;
    struct strbuf name = STRBUF_INIT;
    export_point_name(ctx, p, &name);
    jw_open(out, NULL, '{');
    jw_str(out, "name", strbuf_str(&name));
    jw_str(out, "type", count ? "count" : "gauge");
    jw_double(out, "value", p->v);
    jw_int(out, "timestamp", llround(p->t * 1000));
    if (count)
        jw_int(out, "interval.ms", llround(p->interval_s * 1000));
    const char *keys[EXPORT_MAX_TAGS], *vals[EXPORT_MAX_TAGS];
    size_t n = export_point_tags(ctx, p, keys, vals);
    jw_open(out, "attributes", '{');
    for (size_t i = 0; i < n; i++) {
        if (strlen(vals[i]) > NR_MAX_VALUE_CHARS) {
            char *cut = xstrndup(vals[i], NR_MAX_VALUE_CHARS);
            jw_str(out, keys[i], cut);
            free(cut);
        } else {
            jw_str(out, keys[i], vals[i]);
        }
    }
    jw_close(out, '}');
    jw_close(out, '}');
    strbuf_free(&name);
}

static size_t encode(struct export_encode_ctx *ctx,
                     const struct export_point *p, size_t n, size_t max_body,
                     struct strbuf *out)
{
    jw_open(out, NULL, '[');
    jw_open(out, NULL, '{');
    jw_open(out, "common", '{');
    jw_close(out, '}');
    jw_open(out, "metrics", '[');
    size_t k = 0;
    for (; k < n; k++) {
        size_t before = out->len;
        one(ctx, &p[k], out);
        if (k > 0 && out->len + 3 > max_body) {
            out->len = before;
            out->buf[before] = '\0';
            break;
        }
    }
    jw_close(out, ']');
    jw_close(out, '}');
    jw_close(out, ']');
    return k;
}

const struct export_intake intake_newrelic = {
    .type = EXPORT_NEWRELIC,
    .content_type = "application/json",
    .limits = limits,
    .url = url,
    .auth = auth,
    .encode = encode,
    .classify = NULL,
};
