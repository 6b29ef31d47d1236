/*
 * intakes.c - the table of intake types and the helpers they share (see
 * intake.h).
 */
#include "export/intake.h"

#include <string.h>

#include "export/names.h"

static const struct export_intake *const intakes[EXPORT__COUNT] = {
    [EXPORT_DATADOG] = &intake_datadog,
    [EXPORT_NEWRELIC] = &intake_newrelic,
    [EXPORT_INFLUX] = &intake_influx,
    [EXPORT_OTLP] = &intake_otlp,
};

const struct export_intake *export_intake_of(int type)
{
    return type >= 0 && type < EXPORT__COUNT ? intakes[type] : NULL;
}

static bool seen(const char **keys, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], k) == 0)
            return true;
    return false;
}

static void add_tag(const char **keys, const char **vals, size_t *n,
                    const char *k, const char *v)
{
    if (*n == EXPORT_MAX_TAGS || !k || !*k || !v || !*v ||
        seen(keys, *n, k))
        return;
    keys[*n] = k;
    vals[*n] = v;
    (*n)++;
}

size_t export_point_tags(struct export_encode_ctx *ctx,
                         const struct export_point *p, const char **keys,
                         const char **vals)
{
    size_t n = 0;
    size_t nl = labelset_count(p->labels);
    for (size_t i = 0; i < nl; i++)
        add_tag(keys, vals, &n, labelset_key(p->labels, i),
                labelset_value(p->labels, i));
    const char *ws = labelset_get(p->labels, "workspace");
    if (ws && ctx->cfg) {
        if (ws != ctx->ws_name) {       /* interned: compare pointers */
            ctx->ws_name = ws;
            ctx->ws = config_workspace(ctx->cfg, ws);
        }
        if (ctx->ws)
            for (size_t i = 0; i < ctx->ws->labels.n; i++)
                add_tag(keys, vals, &n, ctx->ws->labels.items[i].key,
                        ctx->ws->labels.items[i].value);
    }
    for (size_t i = 0; i < ctx->xc->tags.n; i++)
        add_tag(keys, vals, &n, ctx->xc->tags.items[i].key,
                ctx->xc->tags.items[i].value);
    return n;
}

void export_point_name(const struct export_encode_ctx *ctx,
                       const struct export_point *p, struct strbuf *out)
{
    strbuf_adds(out, ctx->xc->prefix ? ctx->xc->prefix : "");
    strbuf_adds(out, export_metric_table[p->metric].name);
}

void export_classify_common(const struct http_request *r, double now,
                            struct delivery_verdict *v, size_t *rejected)
{
    http_verdict_classify(r->status, r->curl_code, r->body.buf, r->body.len,
                          r->retry_after, now, v);
    *rejected = 0;
}
