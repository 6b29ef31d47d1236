/*
 * recv_pagerduty.c - the `pagerduty` receiver type: Events API v2 trigger
 * and resolve events (see recv_pagerduty.h and receiver.h).
 */
#include "notify/recv_pagerduty.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/receiver_type.h"
#include "config/secrets.h"
#include "config/section.h"
#include "core/json.h"
#include "engine/template.h"
#include "notify/hmac.h"
#include "notify/render.h"

/* Distinct runbook links of an event. */
#define MAX_RUNBOOK_LINKS 5

/* ---- configuration --------------------------------------------------------- */

static const struct opt_spec pagerduty_opts[] = {
    { "timeout", OPT_STR },
    { "max_connections", OPT_STR },
    SECRET_OPTS("url"),
    SECRET_OPTS("routing_key"),
    OPT_END
};

static void free_pagerduty(void *priv)
{
    struct pagerduty_cfg *p = priv;
    free(p->routing_key);
    free(p);
}

static void load_pagerduty(const struct cfg_section *s, struct receiver_cfg *r)
{
    struct pagerduty_cfg *p = xcalloc(1, sizeof(*p));
    r->priv = p;
    secret_get(s, "url", true, &r->url);
    if (!r->url)
        r->url = xstrdup(PAGERDUTY_DEFAULT_URL);
    section_check_secret_url(s, r->url);
    secret_require(s, "routing_key", true, &p->routing_key);
}

const struct pagerduty_cfg *recv_pagerduty_cfg(const struct receiver_cfg *r)
{
    return r && r->type == &recv_pagerduty.def ? r->priv : NULL;
}

/* ---- the event --------------------------------------------------------------- */

void recv_pagerduty_dedup_key(const struct notification *n,
                              char out[PAGERDUTY_DEDUP_MAX + 1])
{
    struct strbuf raw = STRBUF_INIT;
    strbuf_addf(&raw, "segalert:%s:%s", render_nz(n->receiver),
                render_nz(n->group_key));
    if (raw.len <= PAGERDUTY_DEDUP_MAX) {
        memcpy(out, raw.buf, raw.len + 1);
    } else {
        /* SHA-256 cannot fail on memory input short of a broken libcrypto;
         * then the constant "segalert-" is still stable and valid. */
        char hex[SHA256_HEX_LEN + 1];
        sha256_hex(raw.buf, raw.len, hex);
        snprintf(out, PAGERDUTY_DEDUP_MAX + 1, "segalert-%s", hex);
    }
    strbuf_free(&raw);
}

static const char *pd_severity(const char *s)
{
    if (streq(s, "critical") || streq(s, "error") || streq(s, "warning") ||
        streq(s, "info"))
        return s;
    return "critical";  /* unknown: loud rather than lost */
}

/* A number as %.15g; NaN and infinities (JSON has none) as the text
 * templates print. */
static void json_number(struct strbuf *sb, const char *key, double v)
{
    struct strbuf t = STRBUF_INIT;
    if (isfinite(v)) {
        strbuf_addf(&t, "%.15g", v);
        jw_raw(sb, key, t.buf);
    } else {
        template_format_number(v, &t);
        jw_str(sb, key, strbuf_str(&t));
    }
    strbuf_free(&t);
}

static void pd_alert_list(struct strbuf *sb, const struct notification *n,
                          bool firing, const char *key,
                          const struct render_limits *lim)
{
    size_t total = 0, shown = 0;
    size_t most = lim->max_alerts < PAGERDUTY_MAX_DETAILS
                      ? lim->max_alerts : PAGERDUTY_MAX_DETAILS;
    jw_open(sb, key, '[');
    for (size_t i = 0; i < n->nalerts; i++) {
        const struct notify_alert *a = &n->alerts[i];
        if (render_is_firing(a) != firing)
            continue;
        total++;
        if (shown == most)
            continue;
        shown++;
        size_t np;
        struct render_pair *p = render_alert_labels(a, false, &np);
        jw_open(sb, NULL, '{');
        for (size_t k = 0; k < np; k++)
            render_json_str_capped(sb, p[k].key, p[k].value, lim->field_cap);
        if (!isnan(a->value) && !render_pairs_get(p, np, "value"))
            json_number(sb, "value", a->value);
        if (render_has_text(a->summary) && !render_pairs_get(p, np, "summary"))
            render_json_str_capped(sb, "summary", a->summary, lim->field_cap);
        jw_close(sb, '}');
        free(p);
    }
    jw_close(sb, ']');
    if (total > shown) {
        struct strbuf k = STRBUF_INIT;
        strbuf_addf(&k, "%s_omitted", key);
        jw_int(sb, k.buf, (long long)(total - shown));
        strbuf_free(&k);
    }
}

/* Distinct runbooks of firing alerts (a few), then the status page. */
static void pd_links(struct strbuf *out, const struct notification *n,
                     size_t cap)
{
    const char *seen[MAX_RUNBOOK_LINKS];
    size_t nseen = 0;
    for (size_t i = 0; i < n->nalerts && nseen < ARRAY_SIZE(seen); i++) {
        const char *u = n->alerts[i].runbook_url;
        if (!render_is_firing(&n->alerts[i]) || !render_has_text(u))
            continue;
        bool dup = false;
        for (size_t k = 0; k < nseen; k++)
            dup |= streq(seen[k], u);
        if (!dup)
            seen[nseen++] = u;
    }
    if (!nseen && !render_has_text(n->external_url))
        return;
    jw_open(out, "links", '[');
    for (size_t i = 0; i < nseen; i++) {
        jw_open(out, NULL, '{');
        render_json_str_capped(out, "href", seen[i], cap);
        jw_str(out, "text", "Runbook");
        jw_close(out, '}');
    }
    if (render_has_text(n->external_url)) {
        jw_open(out, NULL, '{');
        render_json_str_capped(out, "href", n->external_url, cap);
        jw_str(out, "text", "segalert status page");
        jw_close(out, '}');
    }
    jw_close(out, ']');
}

/* The event under lim: values cut to lim->field_cap, at most
 * lim->max_alerts alerts in each list of custom_details. */
static void pd_body(const struct notification *n, const char *routing_key,
                    const struct render_limits *lim, struct strbuf *out)
{
    size_t cap = lim->field_cap;
    char dedup[PAGERDUTY_DEDUP_MAX + 1];
    recv_pagerduty_dedup_key(n, dedup);
    bool firing = notification_count(n, "firing") > 0;

    strbuf_addc(out, '{');      /* a root: never after a comma */
    jw_str(out, "routing_key", routing_key);
    jw_str(out, "event_action", firing ? "trigger" : "resolve");
    jw_str(out, "dedup_key", dedup);
    if (!firing) {
        jw_close(out, '}');
        return;
    }

    struct strbuf s = STRBUF_INIT, line = STRBUF_INIT, sum = STRBUF_INIT;
    render_default_title(n, &s);
    const struct notify_alert *lead = render_lead_alert(n);
    if (lead && render_has_text(lead->summary)) {
        strbuf_adds(&s, " \xe2\x80\x94 ");
        strbuf_adds(&s, lead->summary);
    }
    render_add_oneline(&line, strbuf_str(&s));
    render_add_trunc(&sum, strbuf_str(&line), line.len, PAGERDUTY_SUMMARY_MAX);

    const char *ws = render_common_label(n, "workspace");
    const char *dest = render_common_label(n, "destination");
    const char *rule = render_common_rule(n);
    jw_open(out, "payload", '{');
    jw_str(out, "summary", strbuf_str(&sum));
    render_json_str_capped(out, "source", render_has_text(ws) ? ws
                                                              : "segalert",
                           cap);
    jw_str(out, "severity", pd_severity(notification_severity(n)));
    double ts = n->created_at > 0 ? n->created_at : lead ? lead->starts_at : 0;
    if (ts > 0)
        render_json_time(out, "timestamp", ts);
    if (render_has_text(dest))
        render_json_str_capped(out, "component", dest, cap);
    if (render_has_text(rule)) {
        render_json_str_capped(out, "group", rule, cap);
        render_json_str_capped(out, "class", rule, cap);
    }
    jw_open(out, "custom_details", '{');
    jw_str(out, "reason", notify_reason_name(n->reason));
    render_json_str_capped(out, "notification_id", n->id, cap);
    pd_alert_list(out, n, true, "firing", lim);
    pd_alert_list(out, n, false, "resolved", lim);
    jw_close(out, '}');
    jw_close(out, '}');
    pd_links(out, n, cap);
    jw_str(out, "client", "segalert");
    if (render_has_text(n->external_url))
        render_json_str_capped(out, "client_url", n->external_url, cap);
    jw_close(out, '}');
    strbuf_free(&s);
    strbuf_free(&line);
    strbuf_free(&sum);
}

struct pd_fit {
    const struct notification *n;
    const char *routing_key;
};

static void pd_fit_build(void *ud, const struct render_limits *lim,
                         struct strbuf *out)
{
    const struct pd_fit *f = ud;
    pd_body(f->n, f->routing_key, lim, out);
}

void recv_pagerduty_payload(const struct notification *n,
                            const char *routing_key, struct strbuf *out)
{
    struct pd_fit f = { n, routing_key };
    render_fit(pd_fit_build, &f, n->nalerts, PAGERDUTY_MAX_BYTES, out);
}

static void pagerduty_build(const struct receiver_cfg *rc,
                            const struct notification *n, double now,
                            double resend_s, struct strbuf *out)
{
    UNUSED(now);
    UNUSED(resend_s);
    const struct pagerduty_cfg *p = recv_pagerduty_cfg(rc);
    recv_pagerduty_payload(n, p ? p->routing_key : NULL, out);
}

static void pagerduty_urls(const struct receiver_cfg *rc,
                           struct str_list *urls)
{
    str_list_add(urls, rc->url ? rc->url : PAGERDUTY_DEFAULT_URL);
}

/* ---- answers ------------------------------------------------------------------ */

/* PagerDuty: {"status":"invalid event","message":"...","errors":["..."]}. */
static bool pd_error(const char *body, size_t len, struct strbuf *out)
{
    if (!body || len == 0)
        return false;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root)
        return false;
    const char *msg = json_str(root, "message");
    if (msg)
        strbuf_adds(out, msg);
    const cJSON *e;
    bool first = true;
    cJSON_ArrayForEach(e, json_member(root, "errors")) {
        if (!cJSON_IsString(e))
            continue;
        strbuf_adds(out, first ? (out->len ? ": " : "") : "; ");
        strbuf_adds(out, e->valuestring);
        first = false;
    }
    cJSON_Delete(root);
    /* The text came from outside: keep it on one line. */
    for (size_t i = 0; i < out->len; i++)
        if ((unsigned char)out->buf[i] < 0x20)
            out->buf[i] = ' ';
    return out->len > 0;
}

void recv_pagerduty_classify(long status, int curl_code, const char *body,
                             size_t len, const char *retry_after_header,
                             double now, struct delivery_verdict *out)
{
    http_verdict_classify(status, curl_code, body, len, retry_after_header,
                          now, out);
    if (curl_code != 0 || out->outcome != DELIVERY_PERMANENT ||
        status < 400 || status >= 500)
        return;
    struct strbuf pd = STRBUF_INIT;
    if (pd_error(body, body ? len : 0, &pd))
        http_verdict_reason(out, "HTTP %ld: %s", status, pd.buf);
    strbuf_free(&pd);
}

const struct receiver_ops recv_pagerduty = {
    .def = { "pagerduty", pagerduty_opts, load_pagerduty, free_pagerduty },
    .delivery = RECEIVER_HTTP,
    .build = pagerduty_build,
    .http_urls = pagerduty_urls,
    .classify = recv_pagerduty_classify,
};
