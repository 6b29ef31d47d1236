/*
 * recv_alertmanager.c - the `alertmanager` receiver type: every alert of a
 * notification posted to each peer's /api/v2/alerts (see
 * recv_alertmanager.h and receiver.h).
 */
#include "notify/recv_alertmanager.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "config/receiver_type.h"
#include "config/secrets.h"
#include "config/section.h"
#include "core/json.h"
#include "notify/render.h"

#define ALERTS_PATH "/api/v2/alerts"

/* ---- configuration --------------------------------------------------------- */

static const struct opt_spec alertmanager_opts[] = {
    { "timeout", OPT_STR },
    { "max_connections", OPT_STR },
    SECRET_OPTS("url"),
    { "urls", OPT_LIST },
    { "headers", OPT_LIST },
    { "max_body_bytes", OPT_STR },
    OPT_END
};

static void free_alertmanager(void *priv)
{
    struct alertmanager_cfg *am = priv;
    str_list_free(&am->urls);
    free(am);
}

static void load_alertmanager(const struct cfg_section *s,
                              struct receiver_cfg *r)
{
    struct alertmanager_cfg *am = xcalloc(1, sizeof(*am));
    r->priv = am;
    /* url (if any) is also the first of urls; not a secret */
    struct str_list more = { NULL, 0 };
    secret_get(s, "url", false, &r->url);
    section_get_list(s, "urls", &more);
    if (r->url) {
        section_strip_trailing_slashes(r->url);
        str_list_add(&am->urls, r->url);
    }
    for (size_t i = 0; i < more.n; i++)
        str_list_add(&am->urls, more.items[i]);
    str_list_free(&more);
    if (am->urls.n == 0)
        section_error(s, NULL, "url or urls is required");
    for (size_t i = 0; i < am->urls.n; i++) {
        section_strip_trailing_slashes(am->urls.items[i]);
        if (!section_is_http_url(am->urls.items[i]))
            section_error(s, r->url && i == 0 ? "url" : "urls",
                          "invalid Alertmanager URL '%s' (expected http:// "
                          "or https://)", am->urls.items[i]);
    }
    section_get_http_headers(s, "headers", &r->headers);
    int max = RENDER_MAX_BODY_DEFAULT;
    section_get_int(s, "max_body_bytes", &max, RENDER_MAX_BODY_MIN, INT_MAX);
    am->max_body_bytes = (size_t)max;
}

const struct alertmanager_cfg *
recv_alertmanager_cfg(const struct receiver_cfg *r)
{
    return r && r->type == &recv_alertmanager.def ? r->priv : NULL;
}

/* ---- the body ------------------------------------------------------------------ */

/* Alertmanager rejects label names outside [a-zA-Z_][a-zA-Z0-9_]*. */
static void add_label_name(struct strbuf *sb, const char *k)
{
    struct strbuf t = STRBUF_INIT;
    for (size_t i = 0; k[i]; i++) {
        unsigned char c = (unsigned char)k[i];
        bool ok = c == '_' || (c < 0x80 && isalpha(c)) ||
                  (i > 0 && c < 0x80 && isdigit(c));
        strbuf_addc(&t, ok ? (char)c : '_');
    }
    jw_key(sb, t.len ? t.buf : "_");
    strbuf_free(&t);
}

/* The body under lim: values cut to lim->field_cap, the first
 * lim->max_alerts alerts. */
static void am_body(const struct notification *n, double now, double resend_s,
                    const struct render_limits *lim, struct strbuf *out)
{
    size_t cap = lim->field_cap;
    size_t shown = n->nalerts < lim->max_alerts ? n->nalerts
                                                : lim->max_alerts;
    strbuf_addc(out, '[');      /* a root: never after a comma */
    for (size_t i = 0; i < shown; i++) {
        const struct notify_alert *a = &n->alerts[i];
        size_t np;
        struct render_pair *p = render_alert_labels(a, true, &np);
        struct render_annots an;
        render_alert_annots(a, &an);
        jw_open(out, NULL, '{');
        jw_open(out, "labels", '{');
        for (size_t k = 0; k < np; k++) {
            if (!render_has_text(p[k].value))
                continue;   /* empty = absent in the Prometheus model */
            add_label_name(out, p[k].key);
            render_json_str_capped(out, NULL, p[k].value, cap);
        }
        jw_close(out, '}');
        render_json_pairs(out, "annotations", an.p, an.n, cap);
        if (a->starts_at > 0)
            render_json_time(out, "startsAt", a->starts_at);
        if (!render_is_firing(a))
            render_json_time(out, "endsAt", a->ends_at > 0 ? a->ends_at : now);
        else if (resend_s > 0)
            render_json_time(out, "endsAt",
                             now + ALERTMANAGER_ENDS_AFTER_RESENDS * resend_s);
        if (render_has_text(n->external_url))
            render_json_str_capped(out, "generatorURL", n->external_url, cap);
        jw_close(out, '}');
        free(p);
    }
    strbuf_addc(out, ']');
}

void recv_alertmanager_payload(const struct notification *n, double now,
                               double resend_s, struct strbuf *out)
{
    am_body(n, now, resend_s, &render_unlimited, out);
}

struct am_fit {
    const struct notification *n;
    double now, resend_s;
};

static void am_fit_build(void *ud, const struct render_limits *lim,
                         struct strbuf *out)
{
    const struct am_fit *f = ud;
    am_body(f->n, f->now, f->resend_s, lim, out);
}

void recv_alertmanager_payload_max(const struct notification *n, double now,
                                   double resend_s, size_t max_bytes,
                                   struct strbuf *out)
{
    struct am_fit f = { n, now, resend_s };
    render_fit(am_fit_build, &f, n->nalerts, max_bytes, out);
}

static void alertmanager_build(const struct receiver_cfg *rc,
                               const struct notification *n, double now,
                               double resend_s, struct strbuf *out)
{
    const struct alertmanager_cfg *am = recv_alertmanager_cfg(rc);
    recv_alertmanager_payload_max(n, now, resend_s,
                                  am ? am->max_body_bytes
                                     : RENDER_MAX_BODY_DEFAULT, out);
}

static void add_alerts_url(struct str_list *urls, const char *base)
{
    size_t len = strlen(base);
    while (len > 0 && base[len - 1] == '/')
        len--;
    char *url = xasprintf("%.*s" ALERTS_PATH, (int)len, base);
    str_list_add(urls, url);
    free(url);
}

/* <base>/api/v2/alerts of every peer. */
static void alertmanager_urls(const struct receiver_cfg *rc,
                              struct str_list *urls)
{
    const struct alertmanager_cfg *am = recv_alertmanager_cfg(rc);
    for (size_t i = 0; am && i < am->urls.n; i++)
        add_alerts_url(urls, am->urls.items[i]);
    if ((!am || am->urls.n == 0) && rc->url)
        add_alerts_url(urls, rc->url);
}

const struct receiver_ops recv_alertmanager = {
    .def = { "alertmanager", alertmanager_opts, load_alertmanager,
             free_alertmanager },
    .delivery = RECEIVER_HTTP,
    .build = alertmanager_build,
    .http_urls = alertmanager_urls,
    .any_url_suffices = true,
    .dedups_itself = true,
};
