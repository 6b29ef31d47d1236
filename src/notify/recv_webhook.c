/*
 * recv_webhook.c - the `webhook` receiver type: the Alertmanager webhook
 * JSON (version 4), signed with HMAC-SHA256 when a secret is configured
 * (see recv_webhook.h and receiver.h).
 */
#include "notify/recv_webhook.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/receiver_type.h"
#include "config/secrets.h"
#include "config/section.h"
#include "core/json.h"
#include "notify/hmac.h"
#include "notify/render.h"

/* ---- configuration --------------------------------------------------------- */

static const struct opt_spec webhook_opts[] = {
    { "timeout", OPT_STR },
    { "max_connections", OPT_STR },
    SECRET_OPTS("url"),
    SECRET_OPTS("hmac_secret"),
    { "headers", OPT_LIST },
    { "max_body_bytes", OPT_STR },
    OPT_END
};

static void free_webhook(void *priv)
{
    struct webhook_cfg *w = priv;
    free(w->hmac_secret);
    free(w);
}

static void load_webhook(const struct cfg_section *s, struct receiver_cfg *r)
{
    struct webhook_cfg *w = xcalloc(1, sizeof(*w));
    r->priv = w;
    secret_require(s, "url", true, &r->url);
    section_check_secret_url(s, r->url);
    secret_get(s, "hmac_secret", true, &w->hmac_secret);
    section_get_http_headers(s, "headers", &r->headers);
    int max = RENDER_MAX_BODY_DEFAULT;
    section_get_int(s, "max_body_bytes", &max, RENDER_MAX_BODY_MIN, INT_MAX);
    w->max_body_bytes = (size_t)max;
}

const struct webhook_cfg *recv_webhook_cfg(const struct receiver_cfg *r)
{
    return r && r->type == &recv_webhook.def ? r->priv : NULL;
}

/* ---- the body ------------------------------------------------------------------ */

/* A set of pairs: one alert's labels or annotations. */
struct pairset {
    const struct render_pair *p;
    size_t n;
};

/* Pairs present with equal values in every set (in the order of the
 * first); an xmalloc'd array the caller frees. */
static struct render_pair *common_of(const struct pairset *sets, size_t nsets,
                                     size_t *count)
{
    *count = 0;
    if (nsets == 0)
        return xcalloc(1, sizeof(struct render_pair));
    struct render_pair *out = xcalloc(sets[0].n + 1, sizeof(*out));
    for (size_t i = 0; i < sets[0].n; i++) {
        bool common = true;
        for (size_t s = 1; s < nsets && common; s++)
            common = streq(render_pairs_get(sets[s].p, sets[s].n,
                                            sets[0].p[i].key),
                           sets[0].p[i].value);
        if (common)
            out[(*count)++] = sets[0].p[i];
    }
    return out;
}

/* The body under lim: values cut to lim->field_cap, the first
 * lim->max_alerts alerts (the others counted in truncatedAlerts). */
static void webhook_body(const struct notification *n, double now,
                         const struct render_limits *lim, struct strbuf *out)
{
    size_t na = n->nalerts;
    size_t cap = lim->field_cap;
    size_t shown = na < lim->max_alerts ? na : lim->max_alerts;
    struct render_pair **labels = xcalloc(na + 1, sizeof(*labels));
    struct pairset *ls = xcalloc(na + 1, sizeof(*ls));
    struct pairset *as = xcalloc(na + 1, sizeof(*as));
    struct render_annots *an = xcalloc(na + 1, sizeof(*an));
    for (size_t i = 0; i < na; i++) {
        labels[i] = render_alert_labels(&n->alerts[i], true, &ls[i].n);
        ls[i].p = labels[i];
        render_alert_annots(&n->alerts[i], &an[i]);
        as[i].p = an[i].p;
        as[i].n = an[i].n;
    }
    size_t ncl, nca;
    struct render_pair *cl = common_of(ls, na, &ncl);
    struct render_pair *ca = common_of(as, na, &nca);
    struct render_pair *gl = xcalloc(n->ngroup_labels + 1, sizeof(*gl));
    for (size_t i = 0; i < n->ngroup_labels; i++) {
        gl[i].key = render_nz(n->group_labels[i].key);
        gl[i].value = render_nz(n->group_labels[i].value);
    }
    render_pairs_sort(gl, n->ngroup_labels);

    strbuf_addc(out, '{');      /* a root: never after a comma */
    jw_str(out, "version", "4");
    render_json_str_capped(out, "groupKey", n->group_key, cap);
    jw_int(out, "truncatedAlerts", (long long)(na - shown));
    jw_str(out, "status", notification_status(n));
    jw_str(out, "receiver", n->receiver);
    render_json_pairs(out, "groupLabels", gl, n->ngroup_labels, cap);
    render_json_pairs(out, "commonLabels", cl, ncl, cap);
    render_json_pairs(out, "commonAnnotations", ca, nca, cap);
    render_json_str_capped(out, "externalURL", n->external_url, cap);
    jw_open(out, "alerts", '[');
    for (size_t i = 0; i < shown; i++) {
        const struct notify_alert *a = &n->alerts[i];
        bool firing = render_is_firing(a);
        jw_open(out, NULL, '{');
        jw_str(out, "status", firing ? "firing" : "resolved");
        render_json_pairs(out, "labels", ls[i].p, ls[i].n, cap);
        render_json_pairs(out, "annotations", an[i].p, an[i].n, cap);
        render_json_time(out, "startsAt", a->starts_at);
        if (firing)
            jw_str(out, "endsAt", "0001-01-01T00:00:00Z");
        else
            render_json_time(out, "endsAt", a->ends_at > 0 ? a->ends_at : now);
        render_json_str_capped(out, "generatorURL", n->external_url, cap);
        render_json_str_capped(out, "fingerprint", a->fingerprint, cap);
        jw_close(out, '}');
    }
    jw_close(out, ']');
    jw_open(out, "segalert", '{');
    jw_str(out, "reason", notify_reason_name(n->reason));
    jw_str(out, "notificationId", n->id);
    jw_close(out, '}');
    jw_close(out, '}');

    free(gl);
    free(cl);
    free(ca);
    for (size_t i = 0; i < na; i++)
        free(labels[i]);
    free(labels);
    free(ls);
    free(as);
    free(an);
}

void recv_webhook_payload(const struct notification *n, double now,
                          struct strbuf *out)
{
    webhook_body(n, now, &render_unlimited, out);
}

struct webhook_fit {
    const struct notification *n;
    double now;
};

static void webhook_fit_build(void *ud, const struct render_limits *lim,
                              struct strbuf *out)
{
    const struct webhook_fit *f = ud;
    webhook_body(f->n, f->now, lim, out);
}

void recv_webhook_payload_max(const struct notification *n, double now,
                              size_t max_bytes, struct strbuf *out)
{
    struct webhook_fit f = { n, now };
    render_fit(webhook_fit_build, &f, n->nalerts, max_bytes, out);
}

static void webhook_build(const struct receiver_cfg *rc,
                          const struct notification *n, double now,
                          double resend_s, struct strbuf *out)
{
    UNUSED(resend_s);
    const struct webhook_cfg *w = recv_webhook_cfg(rc);
    recv_webhook_payload_max(n, now, w ? w->max_body_bytes
                                       : RENDER_MAX_BODY_DEFAULT, out);
}

/* ---- the signature ----------------------------------------------------------- */

int recv_webhook_signature(const char *secret, const void *body, size_t len,
                           double timestamp, struct strbuf *header_value)
{
    char hex[SHA256_HEX_LEN + 1];
    struct strbuf signed_text = STRBUF_INIT;
    strbuf_addf(&signed_text, "%.0f.", floor(timestamp));
    size_t tlen = signed_text.len - 1;      /* the digits, without '.' */
    strbuf_add(&signed_text, body ? body : "", len);
    int rc = hmac_sha256_hex(secret, strlen(render_nz(secret)),
                             signed_text.buf, signed_text.len, hex);
    if (rc == 0)
        strbuf_addf(header_value, "t=%.*s,v1=%s", (int)tlen, signed_text.buf,
                    hex);
    strbuf_free(&signed_text);
    return rc;
}

/* X-Segalert-Signature (the time and the MAC of time and body) and
 * X-Segalert-Timestamp (the same time, for readers that show it) when a
 * secret is configured; the time is whole seconds of the deliverer's
 * clock at this attempt, so a retry is signed anew. */
static void webhook_headers(const struct receiver_cfg *rc,
                            const struct strbuf *body, double now,
                            struct str_list *lines)
{
    const struct webhook_cfg *w = recv_webhook_cfg(rc);
    if (!w || !w->hmac_secret)
        return;
    double ts = floor(now);
    struct strbuf h = STRBUF_INIT;
    strbuf_adds(&h, "X-Segalert-Signature: ");
    recv_webhook_signature(w->hmac_secret, body->buf, body->len, ts, &h);
    str_list_add(lines, h.buf);
    strbuf_reset(&h);
    strbuf_addf(&h, "X-Segalert-Timestamp: %.0f", ts);
    str_list_add(lines, h.buf);
    strbuf_free(&h);
}

const struct receiver_ops recv_webhook = {
    .def = { "webhook", webhook_opts, load_webhook, free_webhook },
    .delivery = RECEIVER_HTTP,
    .build = webhook_build,
    .http_headers = webhook_headers,
};
