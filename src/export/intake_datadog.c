/*
 * intake_datadog.c - the Datadog series API (see intake.h): POST
 * {url}/api/v2/series (api_version 2, the default) or {url}/api/v1/series,
 * header DD-API-KEY.
 *
 *   v2  {"series":[{"metric":"segment.successes","type":1,"interval":300,
 *        "points":[{"timestamp":1765000000,"value":1234}],
 *        "tags":["workspace:prod","source:web",...]}]}
 *       type 1 = count (with interval), 3 = gauge.
 *   v1  {"series":[{"metric":"...","type":"count","interval":300,
 *        "points":[[1765000000,1234]],"tags":[...]}]}
 *
 * A count's timestamp is the start of its interval (as DogStatsD stamps a
 * flush interval).  Limits (docs.datadoghq.com, "Submit metrics"): v2
 * takes 500 KB (512000 bytes) on the wire and at most 5 MiB (5242880
 * bytes) decompressed; v1 3.2 MB (3200000 bytes) and 62 MiB decompressed.
 * Points more than an hour old are refused.  202 Accepted on success.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "export/intake.h"
#include "export/names.h"

#define DD_V2_MAX_WIRE 512000
#define DD_V2_MAX_BODY 5242880
#define DD_V1_MAX_WIRE 3200000
#define DD_V1_MAX_BODY 62914560
#define DD_BATCH_POINTS 5000
#define DD_MAX_AGE_S 3600.0
#define DD_TYPE_COUNT 1
#define DD_TYPE_GAUGE 3

static void limits(const struct export_cfg *xc, struct export_limits *out)
{
    bool v1 = xc->api_version == 1;
    out->batch_points = DD_BATCH_POINTS;
    out->max_body = v1 ? DD_V1_MAX_BODY : DD_V2_MAX_BODY;
    out->max_wire = v1 ? DD_V1_MAX_WIRE : DD_V2_MAX_WIRE;
    out->max_age_s = DD_MAX_AGE_S;
}

static void url(const struct export_cfg *xc, struct strbuf *out)
{
    strbuf_addf(out, "%s/api/v%d/series", xc->url ? xc->url : "",
                xc->api_version == 1 ? 1 : 2);
}

static void auth(const struct export_cfg *xc, struct str_list *lines)
{
    if (xc->api_key) {
        char *h = xasprintf("DD-API-KEY: %s", xc->api_key);
        str_list_add(lines, h);
        free(h);
    }
}

static void tags(struct export_encode_ctx *ctx, const struct export_point *p,
                 struct strbuf *out)
{
    const char *keys[EXPORT_MAX_TAGS], *vals[EXPORT_MAX_TAGS];
    size_t n = export_point_tags(ctx, p, keys, vals);
    struct strbuf tag = STRBUF_INIT;
    jw_open(out, "tags", '[');
    for (size_t i = 0; i < n; i++) {
        strbuf_reset(&tag);
        strbuf_addf(&tag, "%s:%s", keys[i], vals[i]);
        jw_str(out, NULL, strbuf_str(&tag));
    }
    jw_close(out, ']');
    strbuf_free(&tag);
}

static void one(struct export_encode_ctx *ctx, const struct export_point *p,
                bool v1, struct strbuf *out)
{
    const struct export_metric_info *mi = &export_metric_table[p->metric];
    bool count = mi->kind == EXK_COUNT;
    struct strbuf name = STRBUF_INIT;
    export_point_name(ctx, p, &name);
    jw_open(out, NULL, '{');
    jw_str(out, "metric", strbuf_str(&name));
    if (v1)
        jw_str(out, "type", count ? "count" : "gauge");
    else
        jw_int(out, "type", count ? DD_TYPE_COUNT : DD_TYPE_GAUGE);
    if (count)
        jw_int(out, "interval", llround(p->interval_s));
    jw_open(out, "points", '[');
    if (v1) {
        jw_open(out, NULL, '[');
        jw_int(out, NULL, (long long)floor(p->t));
        jw_double(out, NULL, p->v);
        jw_close(out, ']');
    } else {
        jw_open(out, NULL, '{');
        jw_int(out, "timestamp", (long long)floor(p->t));
        jw_double(out, "value", p->v);
        jw_close(out, '}');
    }
    jw_close(out, ']');
    tags(ctx, p, out);
    if (!v1 && mi->dd_unit)
        jw_str(out, "unit", mi->dd_unit);
    jw_close(out, '}');
    strbuf_free(&name);
}

static size_t encode(struct export_encode_ctx *ctx,
                     const struct export_point *p, size_t n, size_t max_body,
                     struct strbuf *out)
{
    bool v1 = ctx->xc->api_version == 1;
    jw_open(out, NULL, '{');
    jw_open(out, "series", '[');
    size_t k = 0;
    for (; k < n; k++) {
        size_t before = out->len;
        one(ctx, &p[k], v1, out);
        if (k > 0 && out->len + 2 > max_body) {
            out->len = before;
            out->buf[before] = '\0';
            break;
        }
    }
    jw_close(out, ']');
    jw_close(out, '}');
    return k;
}

const struct export_intake intake_datadog = {
    .type = EXPORT_DATADOG,
    .content_type = "application/json",
    .limits = limits,
    .url = url,
    .auth = auth,
    .encode = encode,
    .classify = NULL,
};
