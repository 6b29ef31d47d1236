/*
 * payload.c - receiver payloads and HTTP result classification; see
 * payload.h.  Pure: strings in, strings out.
 */
#include "notify/payload.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "engine/template.h"

/* ---- small string helpers ------------------------------------------- */

/* Bytes of the UTF-8 sequence starting with lead byte c (1 for a stray
 * continuation or invalid byte, so we always make progress). */
static size_t utf8_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0)
        return 2;
    if ((c & 0xF0) == 0xE0)
        return 3;
    if ((c & 0xF8) == 0xF0)
        return 4;
    return 1;
}

/* Largest prefix of s[0..len) of at most max bytes that does not split a
 * UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    size_t i = 0;
    while (i < len) {
        size_t l = utf8_len((unsigned char)s[i]);
        if (i + l > max || i + l > len)
            break;
        i += l;
    }
    return i;
}

/* Append s, cut to at most max bytes with "…" (3 bytes) when too long. */
static void add_trunc(struct strbuf *out, const char *s, size_t len, size_t max)
{
    if (len <= max) {
        strbuf_add(out, s, len);
        return;
    }
    size_t keep = max >= 3 ? utf8_cut(s, len, max - 3) : 0;
    strbuf_add(out, s, keep);
    if (max >= 3)
        strbuf_adds(out, "\xe2\x80\xa6");
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

static bool has_text(const char *s)
{
    return s && *s;
}

/* ---- a minimal JSON writer ------------------------------------------ */

/* A comma is needed unless the previous byte opened a container or ended a
 * key: tracking that from the buffer keeps the builders linear and free of
 * "first" flags.  Roots are opened with jroot() so a caller's existing
 * content in `out` is never mistaken for a previous element. */
static void jsep(struct strbuf *sb)
{
    if (sb->len == 0)
        return;
    char c = sb->buf[sb->len - 1];
    if (c != '{' && c != '[' && c != ':')
        strbuf_addc(sb, ',');
}

static void jkey(struct strbuf *sb, const char *k)
{
    jsep(sb);
    strbuf_add_json_str(sb, k);
    strbuf_addc(sb, ':');
}

static void jstr(struct strbuf *sb, const char *k, const char *v)
{
    if (k)
        jkey(sb, k);
    else
        jsep(sb);
    strbuf_add_json_str(sb, nz(v));
}

static void jopen(struct strbuf *sb, const char *k, char c)
{
    if (k)
        jkey(sb, k);
    else
        jsep(sb);
    strbuf_addc(sb, c);
}

static void jclose(struct strbuf *sb, char c)
{
    strbuf_addc(sb, c);
}

static void jint(struct strbuf *sb, const char *k, long long v)
{
    jkey(sb, k);
    strbuf_addf(sb, "%lld", v);
}

static void jbool(struct strbuf *sb, const char *k, bool v)
{
    jkey(sb, k);
    strbuf_adds(sb, v ? "true" : "false");
}

/* JSON has no NaN/Inf: those go out as the text templates print. */
static void jnum(struct strbuf *sb, const char *k, double v)
{
    jkey(sb, k);
    if (isfinite(v)) {
        strbuf_addf(sb, "%.15g", v);
    } else {
        struct strbuf t = STRBUF_INIT;
        template_format_number(v, &t);
        strbuf_add_json_str(sb, strbuf_str(&t));
        strbuf_free(&t);
    }
}

static void jtime(struct strbuf *sb, const char *k, double t)
{
    char buf[32];
    format_iso8601(t, buf, sizeof(buf));
    jstr(sb, k, buf);
}

/* ---- labels and annotations ------------------------------------------ */

struct pair {
    const char *key;
    const char *value;
};

static int pair_cmp(const void *a, const void *b)
{
    return strcmp(((const struct pair *)a)->key, ((const struct pair *)b)->key);
}

/* The labels an alert carries on the wire: its labels, "severity" and,
 * when asked, "alertname" (= rule) unless a label already has that name.
 * Sorted by key.  Returns an xmalloc'd array of pointers borrowed from a. */
static struct pair *alert_pairs(const struct notify_alert *a, bool alertname,
                                size_t *count)
{
    struct pair *p = xcalloc(a->nlabels + 2, sizeof(*p));
    size_t n = 0;
    bool has_alertname = false;
    for (size_t i = 0; i < a->nlabels; i++) {
        if (!a->labels[i].key || streq(a->labels[i].key, "severity"))
            continue;   /* the model's severity field wins */
        has_alertname |= streq(a->labels[i].key, "alertname");
        p[n].key = a->labels[i].key;
        p[n++].value = nz(a->labels[i].value);
    }
    if (a->severity) {
        p[n].key = "severity";
        p[n++].value = a->severity;
    }
    if (alertname && !has_alertname && a->rule) {
        p[n].key = "alertname";
        p[n++].value = a->rule;
    }
    qsort(p, n, sizeof(*p), pair_cmp);
    *count = n;
    return p;
}

static const char *pairs_get(const struct pair *p, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (streq(p[i].key, key))
            return p[i].value;
    return NULL;
}

/* Pairs present with equal values in every set (order of the first). */
struct pairset {
    struct pair *p;
    size_t n;
};

static struct pair *common_of(const struct pairset *sets, size_t nsets,
                              size_t *count)
{
    *count = 0;
    if (nsets == 0)
        return xcalloc(1, sizeof(struct pair));
    struct pair *out = xcalloc(sets[0].n + 1, sizeof(*out));
    for (size_t i = 0; i < sets[0].n; i++) {
        bool common = true;
        for (size_t s = 1; s < nsets && common; s++)
            common = streq(pairs_get(sets[s].p, sets[s].n, sets[0].p[i].key),
                           sets[0].p[i].value);
        if (common)
            out[(*count)++] = sets[0].p[i];
    }
    return out;
}

/* Annotations of one alert, sorted by key; value formatted in place. */
struct annots {
    struct pair p[4];
    size_t n;
    char value[64];
};

static void alert_annots(const struct notify_alert *a, struct annots *an)
{
    an->n = 0;
    if (has_text(a->description)) {
        an->p[an->n].key = "description";
        an->p[an->n++].value = a->description;
    }
    if (has_text(a->runbook_url)) {
        an->p[an->n].key = "runbook_url";
        an->p[an->n++].value = a->runbook_url;
    }
    if (has_text(a->summary)) {
        an->p[an->n].key = "summary";
        an->p[an->n++].value = a->summary;
    }
    if (!isnan(a->value)) {
        struct strbuf t = STRBUF_INIT;
        template_format_number(a->value, &t);
        snprintf(an->value, sizeof(an->value), "%s", strbuf_str(&t));
        strbuf_free(&t);
        an->p[an->n].key = "value";
        an->p[an->n++].value = an->value;
    }
}

static void jpairs(struct strbuf *sb, const char *k, const struct pair *p,
                   size_t n)
{
    jopen(sb, k, '{');
    for (size_t i = 0; i < n; i++)
        jstr(sb, p[i].key, p[i].value);
    jclose(sb, '}');
}

/* A label every alert shares, from the alerts' own labels (no severity). */
static const char *common_label(const struct notification *n, const char *key)
{
    if (n->nalerts == 0)
        return kv_array_get(n->group_labels, n->ngroup_labels, key);
    const struct notify_alert *a = n->alerts;
    const char *v = kv_array_get(a[0].labels, a[0].nlabels, key);
    for (size_t i = 1; v && i < n->nalerts; i++)
        if (!streq(kv_array_get(a[i].labels, a[i].nlabels, key), v))
            return NULL;
    return v;
}

static const char *common_rule(const struct notification *n)
{
    if (n->nalerts == 0)
        return kv_array_get(n->group_labels, n->ngroup_labels, "rule");
    for (size_t i = 1; i < n->nalerts; i++)
        if (!streq(n->alerts[i].rule, n->alerts[0].rule))
            return NULL;
    return n->alerts[0].rule;
}

static bool is_firing(const struct notify_alert *a)
{
    return streq(a->status, "firing");
}

/* The alert that speaks for the group in titles and templates. */
static const struct notify_alert *lead_alert(const struct notification *n)
{
    for (size_t i = 0; i < n->nalerts; i++)
        if (is_firing(&n->alerts[i]))
            return &n->alerts[i];
    return n->nalerts ? &n->alerts[0] : NULL;
}

/* ---- templates ------------------------------------------------------- */

struct tctx {
    const struct notification *n;
    const struct notify_alert *a;   /* may be NULL */
    const char *severity;
    const char *state;
    bool mrkdwn;                    /* escape substituted strings for Slack */
    char started[32];
    char **owned;                   /* escaped copies, freed after render */
    size_t nowned, cap;
};

static void tctx_init(struct tctx *c, const struct notification *n,
                      const struct notify_alert *a, bool per_alert, bool mrkdwn)
{
    memset(c, 0, sizeof(*c));
    c->n = n;
    c->a = a;
    c->mrkdwn = mrkdwn;
    if (per_alert && a) {
        c->severity = a->severity;
        c->state = a->status;
    } else {
        c->severity = notification_severity(n);
        c->state = notification_status(n);
    }
    if (a && a->starts_at > 0)
        format_iso8601(a->starts_at, c->started, sizeof(c->started));
}

static void tctx_release(struct tctx *c)
{
    for (size_t i = 0; i < c->nowned; i++)
        free(c->owned[i]);
    free(c->owned);
    c->owned = NULL;
    c->nowned = c->cap = 0;
}

static void mrkdwn_escape(struct strbuf *sb, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '&': strbuf_adds(sb, "&amp;"); break;
        case '<': strbuf_adds(sb, "&lt;"); break;
        case '>': strbuf_adds(sb, "&gt;"); break;
        default: strbuf_addc(sb, s[i]);
        }
    }
}

static const char *tctx_raw(const struct tctx *c, const char *name)
{
    const struct notify_alert *a = c->a;
    if (streq(name, "rule"))
        return a ? a->rule : common_rule(c->n);
    if (streq(name, "severity"))
        return c->severity;
    if (streq(name, "state") || streq(name, "status"))
        return c->state;
    if (streq(name, "reason"))
        return notify_reason_name(c->n->reason);
    if (streq(name, "status_url"))
        return c->n->external_url;
    if (streq(name, "receiver"))
        return c->n->receiver;
    if (a && streq(name, "summary"))
        return a->summary;
    if (a && streq(name, "description"))
        return a->description;
    if (a && streq(name, "runbook_url"))
        return a->runbook_url;
    if (a && streq(name, "started_at"))
        return c->started[0] ? c->started : NULL;
    const char *v = a ? kv_array_get(a->labels, a->nlabels, name) : NULL;
    if (!v)
        v = kv_array_get(c->n->group_labels, c->n->ngroup_labels, name);
    return v;
}

static bool tctx_string(void *ud, const char *name, const char **str)
{
    struct tctx *c = ud;
    const char *v = tctx_raw(c, name);
    if (!v)
        return false;
    if (c->mrkdwn) {
        struct strbuf e = STRBUF_INIT;
        mrkdwn_escape(&e, v, strlen(v));
        XGROW(c->owned, c->nowned + 1, c->cap);
        c->owned[c->nowned++] = strbuf_detach(&e);
        v = c->owned[c->nowned - 1] ? c->owned[c->nowned - 1] : "";
    }
    *str = v;
    return true;
}

static bool tctx_number(void *ud, const char *name, double *num)
{
    struct tctx *c = ud;
    if (streq(name, "value")) {
        if (!c->a || isnan(c->a->value))
            return false;
        *num = c->a->value;
        return true;
    }
    if (streq(name, "count")) {
        *num = (double)c->n->nalerts;
        return true;
    }
    if (streq(name, "firing") || streq(name, "resolved")) {
        *num = (double)notification_count(c->n, name);
        return true;
    }
    return false;
}

/* Compiled template, or NULL when text is NULL or does not compile (the
 * caller then falls back to the raw text, see payload.h). */
static struct template *compile_or_null(const char *text)
{
    struct template_error err;
    return text ? template_compile(text, NULL, NULL, &err) : NULL;
}

static void render_ctx(const struct template *t, const char *raw,
                       struct tctx *c, struct strbuf *out)
{
    if (!t) {
        strbuf_adds(out, nz(raw));
        return;
    }
    struct template_lookup lk = { tctx_number, tctx_string, c };
    template_render(t, &lk, out);
    tctx_release(c);
}

void payload_render_template(const char *tpl_text, const struct notification *n,
                             struct strbuf *out)
{
    struct template *t = compile_or_null(tpl_text);
    struct tctx c;
    tctx_init(&c, n, lead_alert(n), false, false);
    render_ctx(t, tpl_text, &c, out);
    template_free(t);
}

/* ---- titles ---------------------------------------------------------- */

/* "[FIRING:2] rule (workspace)" / "[RESOLVED] rule (workspace)", the
 * Alertmanager default title shape operators already read. */
static void default_title(const struct notification *n, struct strbuf *out)
{
    size_t firing = notification_count(n, "firing");
    if (firing)
        strbuf_addf(out, "[FIRING:%zu] ", firing);
    else
        strbuf_adds(out, "[RESOLVED] ");
    const char *rule = common_rule(n);
    strbuf_adds(out, rule ? rule : "several rules");
    const char *ws = common_label(n, "workspace");
    if (has_text(ws))
        strbuf_addf(out, " (%s)", ws);
}

/* Title from the receiver's subject template, else the default; never
 * empty (Slack rejects an empty header). */
static void title_for(const struct notification *n,
                      const struct receiver_cfg *r, struct strbuf *out)
{
    size_t start = out->len;
    if (r && r->subject)
        payload_render_template(r->subject, n, out);
    bool blank = true;
    for (size_t i = start; i < out->len; i++)
        blank &= isspace((unsigned char)out->buf[i]) != 0;
    if (blank) {
        out->len = start;
        if (out->buf)
            out->buf[start] = '\0';
        default_title(n, out);
    }
}

/* Replace CR, LF and other control characters by a space: for texts
 * that must stay on one line (titles, labels in a body). */
static void add_oneline(struct strbuf *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)nz(s); *p; p++)
        strbuf_addc(out, (*p < 0x20 || *p == 0x7f) ? ' ' : (char)*p);
}

/* ---- webhook --------------------------------------------------------- */

void payload_webhook(const struct notification *n, double now,
                     struct strbuf *out)
{
    size_t na = n->nalerts;
    struct pairset *ls = xcalloc(na + 1, sizeof(*ls));
    struct pairset *as = xcalloc(na + 1, sizeof(*as));
    struct annots *an = xcalloc(na + 1, sizeof(*an));
    for (size_t i = 0; i < na; i++) {
        ls[i].p = alert_pairs(&n->alerts[i], true, &ls[i].n);
        alert_annots(&n->alerts[i], &an[i]);
        as[i].p = an[i].p;
        as[i].n = an[i].n;
    }
    size_t ncl, nca;
    struct pair *cl = common_of(ls, na, &ncl);
    struct pair *ca = common_of(as, na, &nca);
    struct pair *gl = xcalloc(n->ngroup_labels + 1, sizeof(*gl));
    for (size_t i = 0; i < n->ngroup_labels; i++) {
        gl[i].key = nz(n->group_labels[i].key);
        gl[i].value = nz(n->group_labels[i].value);
    }
    qsort(gl, n->ngroup_labels, sizeof(*gl), pair_cmp);

    strbuf_addc(out, '{');
    jstr(out, "version", "4");
    jstr(out, "groupKey", n->group_key);
    jint(out, "truncatedAlerts", 0);
    jstr(out, "status", notification_status(n));
    jstr(out, "receiver", n->receiver);
    jpairs(out, "groupLabels", gl, n->ngroup_labels);
    jpairs(out, "commonLabels", cl, ncl);
    jpairs(out, "commonAnnotations", ca, nca);
    jstr(out, "externalURL", n->external_url);
    jopen(out, "alerts", '[');
    for (size_t i = 0; i < na; i++) {
        const struct notify_alert *a = &n->alerts[i];
        jopen(out, NULL, '{');
        jstr(out, "status", is_firing(a) ? "firing" : "resolved");
        jpairs(out, "labels", ls[i].p, ls[i].n);
        jpairs(out, "annotations", an[i].p, an[i].n);
        jtime(out, "startsAt", a->starts_at);
        if (is_firing(a))
            jstr(out, "endsAt", "0001-01-01T00:00:00Z");
        else
            jtime(out, "endsAt", a->ends_at > 0 ? a->ends_at : now);
        jstr(out, "generatorURL", n->external_url);
        jstr(out, "fingerprint", a->fingerprint);
        jclose(out, '}');
    }
    jclose(out, ']');
    jopen(out, "segalert", '{');
    jstr(out, "reason", notify_reason_name(n->reason));
    jstr(out, "notificationId", n->id);
    jclose(out, '}');
    jclose(out, '}');

    free(gl);
    free(cl);
    free(ca);
    for (size_t i = 0; i < na; i++)
        free(ls[i].p);
    free(ls);
    free(as);
    free(an);
}

/* ---- slack ----------------------------------------------------------- */

/* Escaped mrkdwn cut to max bytes without splitting an "&amp;" entity. */
static void add_mrkdwn_trunc(struct strbuf *out, const char *mrkdwn, size_t len,
                             size_t max)
{
    if (len <= max) {
        strbuf_add(out, mrkdwn, len);
        return;
    }
    size_t keep = utf8_cut(mrkdwn, len, max - 3);
    for (size_t i = keep; i > 0 && keep - i < 5; i--) {
        if (mrkdwn[i - 1] == ';')
            break;
        if (mrkdwn[i - 1] == '&') {
            keep = i - 1;
            break;
        }
    }
    strbuf_add(out, mrkdwn, keep);
    strbuf_adds(out, "\xe2\x80\xa6");
}

/* A URL inside <url|label>: '|' and '>' would end it early. */
static void add_slack_url(struct strbuf *sb, const char *url)
{
    for (const char *p = url; *p; p++) {
        switch (*p) {
        case '|': strbuf_adds(sb, "%7C"); break;
        case '<': strbuf_adds(sb, "%3C"); break;
        case '>': strbuf_adds(sb, "%3E"); break;
        case '&': strbuf_adds(sb, "&amp;"); break;
        default:
            if ((unsigned char)*p >= 0x20)
                strbuf_addc(sb, *p);
        }
    }
}

static const char *slack_color(const struct notification *n)
{
    if (notification_count(n, "firing") == 0)
        return "#2ca02c";
    const char *sev = notification_severity(n);
    if (streq(sev, "warning"))
        return "#ff9f0a";
    if (streq(sev, "info"))
        return "#1f77b4";
    return "#d62728";
}

static void slack_field(struct strbuf *sb, const char *title, const char *value)
{
    struct strbuf t = STRBUF_INIT, f = STRBUF_INIT;
    strbuf_addf(&t, "*%s*\n", title);
    mrkdwn_escape(&t, value, strlen(value));
    add_mrkdwn_trunc(&f, t.buf, t.len, PAYLOAD_SLACK_FIELD_MAX);
    jopen(sb, NULL, '{');
    jstr(sb, "type", "mrkdwn");
    jstr(sb, "text", strbuf_str(&f));
    jclose(sb, '}');
    strbuf_free(&t);
    strbuf_free(&f);
}

static void slack_mrkdwn_block(struct strbuf *sb, const char *type,
                               const char *text)
{
    jopen(sb, NULL, '{');
    jstr(sb, "type", type);
    if (streq(type, "context")) {
        jopen(sb, "elements", '[');
        jopen(sb, NULL, '{');
        jstr(sb, "type", "mrkdwn");
        jstr(sb, "text", text);
        jclose(sb, '}');
        jclose(sb, ']');
    } else {
        jopen(sb, "text", '{');
        jstr(sb, "type", "mrkdwn");
        jstr(sb, "text", text);
        jclose(sb, '}');
    }
    jclose(sb, '}');
}

/* Default section text: bold summary (or rule), description, runbook. */
static void slack_default_text(const struct notify_alert *a,
                               struct strbuf *text)
{
    struct strbuf body = STRBUF_INIT, link = STRBUF_INIT;
    if (!is_firing(a))
        strbuf_adds(&body, "*Resolved:* ");
    const char *head = has_text(a->summary) ? a->summary : nz(a->rule);
    strbuf_addc(&body, '*');
    mrkdwn_escape(&body, head, strlen(head));
    strbuf_addc(&body, '*');
    if (has_text(a->description)) {
        strbuf_addc(&body, '\n');
        mrkdwn_escape(&body, a->description, strlen(a->description));
    }
    /* The link goes last and is never cut: reserve its room first. */
    if (has_text(a->runbook_url) && strlen(a->runbook_url) < 1000) {
        strbuf_adds(&link, "\n<");
        add_slack_url(&link, a->runbook_url);
        strbuf_adds(&link, "|Runbook>");
    }
    add_mrkdwn_trunc(text, strbuf_str(&body), body.len,
                     PAYLOAD_SLACK_SECTION_MAX - link.len);
    strbuf_add(text, strbuf_str(&link), link.len);
    strbuf_free(&body);
    strbuf_free(&link);
}

static void slack_section(struct strbuf *sb, const struct notification *n,
                          const struct notify_alert *a,
                          const struct template *body_tpl,
                          const struct receiver_cfg *r)
{
    struct strbuf text = STRBUF_INIT;
    if (r && r->body) {
        struct strbuf raw = STRBUF_INIT;
        struct tctx c;
        tctx_init(&c, n, a, true, true);
        render_ctx(body_tpl, r->body, &c, &raw);
        add_mrkdwn_trunc(&text, strbuf_str(&raw), raw.len,
                         PAYLOAD_SLACK_SECTION_MAX);
        strbuf_free(&raw);
    }
    if (text.len == 0)      /* no template, or it rendered nothing */
        slack_default_text(a, &text);

    jopen(sb, NULL, '{');
    jstr(sb, "type", "section");
    jopen(sb, "text", '{');
    jstr(sb, "type", "mrkdwn");
    jstr(sb, "text", strbuf_str(&text));
    jclose(sb, '}');
    jopen(sb, "fields", '[');
    static const char *const keys[] = { "source", "destination", "workspace" };
    static const char *const titles[] = { "Source", "Destination",
                                          "Workspace" };
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        const char *v = kv_array_get(a->labels, a->nlabels, keys[i]);
        if (has_text(v))
            slack_field(sb, titles[i], v);
    }
    if (!isnan(a->value)) {
        struct strbuf v = STRBUF_INIT;
        template_format_number(a->value, &v);
        slack_field(sb, "Value", strbuf_str(&v));
        strbuf_free(&v);
    }
    slack_field(sb, "Severity",
                has_text(a->severity) ? a->severity : "critical");
    jclose(sb, ']');
    jclose(sb, '}');
    strbuf_free(&text);
}

void payload_slack(const struct notification *n, const struct receiver_cfg *r,
                   struct strbuf *out)
{
    struct strbuf title = STRBUF_INIT, tmp = STRBUF_INIT, hdr = STRBUF_INIT;
    title_for(n, r, &title);
    /* Header is plain_text: one line, no escaping. */
    struct strbuf line = STRBUF_INIT;
    add_oneline(&line, strbuf_str(&title));
    add_trunc(&hdr, strbuf_str(&line), line.len, PAYLOAD_SLACK_HEADER_MAX);

    /* "text" is the notification/fallback text: title — lead summary. */
    const struct notify_alert *lead = lead_alert(n);
    mrkdwn_escape(&tmp, strbuf_str(&line), line.len);
    if (lead && has_text(lead->summary) && !(r && r->subject)) {
        strbuf_adds(&tmp, " \xe2\x80\x94 ");
        mrkdwn_escape(&tmp, lead->summary, strlen(lead->summary));
    }
    strbuf_addc(out, '{');
    jkey(out, "text");
    {
        struct strbuf fb = STRBUF_INIT;
        add_mrkdwn_trunc(&fb, strbuf_str(&tmp), tmp.len,
                         PAYLOAD_SLACK_TEXT_MAX);
        strbuf_add_json_str(out, strbuf_str(&fb));
        strbuf_free(&fb);
    }
    jopen(out, "blocks", '[');
    jopen(out, NULL, '{');
    jstr(out, "type", "header");
    jopen(out, "text", '{');
    jstr(out, "type", "plain_text");
    jstr(out, "text", strbuf_str(&hdr));
    jbool(out, "emoji", true);
    jclose(out, '}');
    jclose(out, '}');
    jclose(out, ']');

    jopen(out, "attachments", '[');
    jopen(out, NULL, '{');
    jstr(out, "color", slack_color(n));
    jopen(out, "blocks", '[');
    struct template *body_tpl = r ? compile_or_null(r->body) : NULL;
    size_t shown = n->nalerts;
    if (shown > PAYLOAD_SLACK_MAX_ALERTS)
        shown = PAYLOAD_SLACK_MAX_ALERTS;
    for (size_t i = 0; i < shown; i++)
        slack_section(out, n, &n->alerts[i], body_tpl, r);
    template_free(body_tpl);
    if (n->nalerts > shown) {
        strbuf_reset(&tmp);
        strbuf_addf(&tmp, "\xe2\x80\xa6" "and %zu more", n->nalerts - shown);
        slack_mrkdwn_block(out, "context", strbuf_str(&tmp));
    }
    strbuf_reset(&tmp);
    strbuf_addf(&tmp, "Reason: *%s*", notify_reason_name(n->reason));
    if (has_text(n->external_url) && strlen(n->external_url) < 1000) {
        strbuf_adds(&tmp, " | <");
        add_slack_url(&tmp, n->external_url);
        strbuf_adds(&tmp, "|Status page>");
    }
    slack_mrkdwn_block(out, "context", strbuf_str(&tmp));
    jclose(out, ']');
    jclose(out, '}');
    jclose(out, ']');
    jclose(out, '}');

    strbuf_free(&title);
    strbuf_free(&tmp);
    strbuf_free(&hdr);
    strbuf_free(&line);
}

/* ---- pagerduty ------------------------------------------------------- */

void payload_pagerduty_dedup_key(const struct notification *n, char out[256])
{
    struct strbuf raw = STRBUF_INIT;
    strbuf_addf(&raw, "segalert:%s:%s", nz(n->receiver), nz(n->group_key));
    if (raw.len <= PAYLOAD_PD_DEDUP_MAX) {
        memcpy(out, raw.buf, raw.len + 1);
    } else {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        /* SHA-256 cannot fail on memory input short of a broken libcrypto;
         * then a constant key is still stable and valid. */
        if (!EVP_Digest(raw.buf, raw.len, md, &mdlen, EVP_sha256(), NULL))
            mdlen = 0;
        size_t o = (size_t)snprintf(out, 256, "segalert-");
        for (unsigned int i = 0; i < mdlen && o + 2 < 256; i++, o += 2)
            snprintf(out + o, 256 - o, "%02x", md[i]);
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

static void pd_alert_list(struct strbuf *sb, const struct notification *n,
                          bool firing, const char *key)
{
    size_t total = 0, shown = 0;
    jopen(sb, key, '[');
    for (size_t i = 0; i < n->nalerts; i++) {
        const struct notify_alert *a = &n->alerts[i];
        if (is_firing(a) != firing)
            continue;
        total++;
        if (shown == PAYLOAD_PD_MAX_DETAILS)
            continue;
        shown++;
        size_t np;
        struct pair *p = alert_pairs(a, false, &np);
        jopen(sb, NULL, '{');
        for (size_t k = 0; k < np; k++)
            jstr(sb, p[k].key, p[k].value);
        if (!isnan(a->value) && !pairs_get(p, np, "value"))
            jnum(sb, "value", a->value);
        if (has_text(a->summary) && !pairs_get(p, np, "summary"))
            jstr(sb, "summary", a->summary);
        jclose(sb, '}');
        free(p);
    }
    jclose(sb, ']');
    if (total > shown) {
        struct strbuf k = STRBUF_INIT;
        strbuf_addf(&k, "%s_omitted", key);
        jint(sb, k.buf, (long long)(total - shown));
        strbuf_free(&k);
    }
}

void payload_pagerduty(const struct notification *n, const char *routing_key,
                       struct strbuf *out)
{
    char dedup[256];
    payload_pagerduty_dedup_key(n, dedup);
    bool firing = notification_count(n, "firing") > 0;

    strbuf_addc(out, '{');
    jstr(out, "routing_key", routing_key);
    jstr(out, "event_action", firing ? "trigger" : "resolve");
    jstr(out, "dedup_key", dedup);
    if (!firing) {
        jclose(out, '}');
        return;
    }

    struct strbuf s = STRBUF_INIT, line = STRBUF_INIT, sum = STRBUF_INIT;
    default_title(n, &s);
    const struct notify_alert *lead = lead_alert(n);
    if (lead && has_text(lead->summary)) {
        strbuf_adds(&s, " \xe2\x80\x94 ");
        strbuf_adds(&s, lead->summary);
    }
    add_oneline(&line, strbuf_str(&s));
    add_trunc(&sum, strbuf_str(&line), line.len, PAYLOAD_PD_SUMMARY_MAX);

    const char *ws = common_label(n, "workspace");
    const char *dest = common_label(n, "destination");
    const char *rule = common_rule(n);
    jopen(out, "payload", '{');
    jstr(out, "summary", strbuf_str(&sum));
    jstr(out, "source", has_text(ws) ? ws : "segalert");
    jstr(out, "severity", pd_severity(notification_severity(n)));
    double ts = n->created_at > 0 ? n->created_at : lead ? lead->starts_at : 0;
    if (ts > 0)
        jtime(out, "timestamp", ts);
    if (has_text(dest))
        jstr(out, "component", dest);
    if (has_text(rule)) {
        jstr(out, "group", rule);
        jstr(out, "class", rule);
    }
    jopen(out, "custom_details", '{');
    jstr(out, "reason", notify_reason_name(n->reason));
    jstr(out, "notification_id", n->id);
    pd_alert_list(out, n, true, "firing");
    pd_alert_list(out, n, false, "resolved");
    jclose(out, '}');
    jclose(out, '}');

    /* Distinct runbooks of firing alerts (a few), then the status page. */
    const char *seen[5];
    size_t nseen = 0;
    for (size_t i = 0; i < n->nalerts && nseen < ARRAY_SIZE(seen); i++) {
        const char *u = n->alerts[i].runbook_url;
        if (!is_firing(&n->alerts[i]) || !has_text(u))
            continue;
        bool dup = false;
        for (size_t k = 0; k < nseen; k++)
            dup |= streq(seen[k], u);
        if (!dup)
            seen[nseen++] = u;
    }
    if (nseen || has_text(n->external_url)) {
        jopen(out, "links", '[');
        for (size_t i = 0; i < nseen; i++) {
            jopen(out, NULL, '{');
            jstr(out, "href", seen[i]);
            jstr(out, "text", "Runbook");
            jclose(out, '}');
        }
        if (has_text(n->external_url)) {
            jopen(out, NULL, '{');
            jstr(out, "href", n->external_url);
            jstr(out, "text", "segalert status page");
            jclose(out, '}');
        }
        jclose(out, ']');
    }
    jstr(out, "client", "segalert");
    if (has_text(n->external_url))
        jstr(out, "client_url", n->external_url);
    jclose(out, '}');
    strbuf_free(&s);
    strbuf_free(&line);
    strbuf_free(&sum);
}

/* ---- alertmanager ---------------------------------------------------- */

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
    jkey(sb, t.len ? t.buf : "_");
    strbuf_free(&t);
}

void payload_alertmanager(const struct notification *n, double now,
                          double resend_s, struct strbuf *out)
{
    strbuf_addc(out, '[');
    for (size_t i = 0; i < n->nalerts; i++) {
        const struct notify_alert *a = &n->alerts[i];
        size_t np;
        struct pair *p = alert_pairs(a, true, &np);
        struct annots an;
        alert_annots(a, &an);
        jopen(out, NULL, '{');
        jopen(out, "labels", '{');
        for (size_t k = 0; k < np; k++) {
            if (!has_text(p[k].value))
                continue;   /* empty = absent in the Prometheus model */
            add_label_name(out, p[k].key);
            strbuf_add_json_str(out, p[k].value);
        }
        jclose(out, '}');
        jpairs(out, "annotations", an.p, an.n);
        if (a->starts_at > 0)
            jtime(out, "startsAt", a->starts_at);
        if (!is_firing(a))
            jtime(out, "endsAt", a->ends_at > 0 ? a->ends_at : now);
        else if (resend_s > 0)
            jtime(out, "endsAt", now + 4 * resend_s);
        if (has_text(n->external_url))
            jstr(out, "generatorURL", n->external_url);
        jclose(out, '}');
        free(p);
    }
    strbuf_addc(out, ']');
}

/* ---- email ----------------------------------------------------------- */

static void format_rfc5322_date(double t, char *buf, size_t len)
{
    static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
                                        "Fri", "Sat" };
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
                                          "Jun", "Jul", "Aug", "Sep", "Oct",
                                          "Nov", "Dec" };
    time_t tt = (time_t)floor(t);
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) {
        snprintf(buf, len, "Thu, 1 Jan 1970 00:00:00 +0000");
        return;
    }
    snprintf(buf, len, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
}

/* Header values lose every CR and LF: the one rule that makes header
 * injection impossible whatever a label or template contains. */
static void add_header_value(struct strbuf *sb, const char *s, size_t max)
{
    struct strbuf t = STRBUF_INIT;
    for (const char *p = nz(s); *p; p++)
        if (*p != '\r' && *p != '\n')
            strbuf_addc(&t, *p);
    add_trunc(sb, strbuf_str(&t), t.len, max);
    strbuf_free(&t);
}

static void header(struct strbuf *sb, const char *name, const char *value)
{
    strbuf_addf(sb, "%s: ", name);
    add_header_value(sb, value, PAYLOAD_EMAIL_LINE_MAX - strlen(name) - 2);
    strbuf_adds(sb, "\r\n");
}

/* dot-atom-text for Message-ID parts. */
static void add_atom(struct strbuf *sb, const char *s)
{
    size_t start = sb->len;
    for (const unsigned char *p = (const unsigned char *)nz(s); *p; p++) {
        if (sb->len - start >= 200)
            break;
        bool ok = (*p < 0x80 && isalnum(*p)) || *p == '-' || *p == '_' ||
                  *p == '+' || *p == '.';
        strbuf_addc(sb, ok ? (char)*p : '_');
    }
    if (sb->len == start)
        strbuf_adds(sb, "segalert");
}

static bool needs_encoding(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80 || (unsigned char)s[i] < 0x20)
            return true;
    /* Text that looks like an encoded-word would be decoded by readers. */
    return strstr(s, "=?") != NULL;
}

/* "Subject: =?UTF-8?B?...?=" words of <= 75 chars on lines of <= 76,
 * folded with CRLF SP, never splitting a UTF-8 character (RFC 2047 §5). */
static void add_subject(struct strbuf *sb, const char *subject)
{
    struct strbuf clean = STRBUF_INIT, s = STRBUF_INIT;
    add_header_value(&clean, subject, SIZE_MAX);
    add_trunc(&s, strbuf_str(&clean), clean.len, 600);
    strbuf_adds(sb, "Subject: ");
    if (!needs_encoding(strbuf_str(&s), s.len)) {
        strbuf_add(sb, strbuf_str(&s), s.len);
        strbuf_adds(sb, "\r\n");
        goto done;
    }
    /* 12 bytes of "=?UTF-8?B??=" around base64 of at most 45 bytes (60
     * chars); the first line also holds "Subject: ", so 39 bytes (52). */
    size_t i = 0, budget = 39;
    bool first = true;
    while (i < s.len || first) {
        size_t take = 0;
        while (i + take < s.len) {
            size_t l = utf8_len((unsigned char)s.buf[i + take]);
            if (take + l > budget)
                break;
            take += l;
        }
        if (take == 0 && i < s.len)
            take = 1;   /* cannot happen with budget >= 4; stay safe */
        unsigned char enc[4 * 45 / 3 + 4];
        int elen = EVP_EncodeBlock(enc, (const unsigned char *)s.buf + i,
                                   (int)take);
        if (!first)
            strbuf_adds(sb, "\r\n ");
        strbuf_adds(sb, "=?UTF-8?B?");
        strbuf_add(sb, enc, elen > 0 ? (size_t)elen : 0);
        strbuf_adds(sb, "?=");
        i += take;
        first = false;
        budget = 45;
    }
    strbuf_adds(sb, "\r\n");
done:
    strbuf_free(&clean);
    strbuf_free(&s);
}

/* To: a, b, folded before 78 columns. */
static void add_to(struct strbuf *sb, const struct receiver_cfg *r)
{
    size_t col = 4;
    size_t count = 0;
    strbuf_adds(sb, "To: ");
    for (size_t i = 0; r && i < r->to.n; i++) {
        struct strbuf v = STRBUF_INIT;
        add_header_value(&v, r->to.items[i], 900);
        if (v.len) {
            if (count) {
                strbuf_addc(sb, ',');
                col++;
                if (col + 1 + v.len > 78) {
                    strbuf_adds(sb, "\r\n");
                    col = 0;
                }
                strbuf_addc(sb, ' ');
                col++;
            }
            strbuf_add(sb, v.buf, v.len);
            col += v.len;
            count++;
        }
        strbuf_free(&v);
    }
    if (!count)
        strbuf_adds(sb, "undisclosed-recipients:;");
    strbuf_adds(sb, "\r\n");
}

static void emit_body_line(struct strbuf *out, const char *s, size_t len)
{
    /* Hard-wrap what RFC 5322 does not allow; 8bit has no soft breaks. */
    while (len > PAYLOAD_EMAIL_LINE_MAX) {
        size_t cut = utf8_cut(s, len, PAYLOAD_EMAIL_LINE_MAX);
        if (cut == 0)
            cut = PAYLOAD_EMAIL_LINE_MAX;
        strbuf_add(out, s, cut);
        strbuf_adds(out, "\r\n");
        s += cut;
        len -= cut;
    }
    if (len == 1 && s[0] == '.')
        strbuf_adds(out, ". ");     /* never the DATA terminator */
    else
        strbuf_add(out, s, len);
    strbuf_adds(out, "\r\n");
}

/* CRLF, CR or LF -> CRLF; the body always ends with CRLF. */
static void add_body(struct strbuf *out, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != '\r' && s[j] != '\n')
            j++;
        emit_body_line(out, s + i, j - i);
        if (j < len && s[j] == '\r' && j + 1 < len && s[j + 1] == '\n')
            j++;
        i = j + 1;
    }
}

static void email_default_body(const struct notification *n, struct strbuf *b)
{
    default_title(n, b);
    strbuf_adds(b, "\n\nReason: ");
    strbuf_adds(b, notify_reason_name(n->reason));
    strbuf_adds(b, "\n");
    if (has_text(n->external_url)) {
        strbuf_adds(b, "Status page: ");
        add_oneline(b, n->external_url);
        strbuf_adds(b, "\n");
    }
    size_t shown = 0;
    for (size_t i = 0; i < n->nalerts; i++) {
        const struct notify_alert *a = &n->alerts[i];
        if (shown++ == PAYLOAD_EMAIL_MAX_ALERTS) {
            strbuf_addf(b, "\n...and %zu more alerts (see the status page)\n",
                        n->nalerts - PAYLOAD_EMAIL_MAX_ALERTS);
            break;
        }
        char t[32];
        strbuf_addf(b, "\n%s: ", is_firing(a) ? "FIRING" : "RESOLVED");
        add_oneline(b, has_text(a->summary) ? a->summary : a->rule);
        strbuf_adds(b, "\n  Rule: ");
        add_oneline(b, a->rule);
        strbuf_adds(b, "\n  Severity: ");
        add_oneline(b, a->severity);
        if (!isnan(a->value)) {
            strbuf_adds(b, "\n  Value: ");
            template_format_number(a->value, b);
        }
        if (a->starts_at > 0) {
            format_iso8601(a->starts_at, t, sizeof(t));
            strbuf_addf(b, "\n  Started: %s", t);
        }
        if (!is_firing(a) && a->ends_at > 0) {
            format_iso8601(a->ends_at, t, sizeof(t));
            strbuf_addf(b, "\n  Ended: %s", t);
        }
        if (has_text(a->description)) {
            /* May span lines; keep them, indented under the field. */
            strbuf_adds(b, "\n  Description:\n    ");
            for (const char *p = a->description; *p; p++) {
                if (*p == '\r' && p[1] == '\n')
                    continue;
                strbuf_addc(b, *p == '\r' ? '\n' : *p);
                if (*p == '\n' || *p == '\r')
                    strbuf_adds(b, "    ");
            }
        }
        if (has_text(a->runbook_url)) {
            strbuf_adds(b, "\n  Runbook: ");
            add_oneline(b, a->runbook_url);
        }
        strbuf_adds(b, "\n  Labels:");
        for (size_t k = 0; k < a->nlabels; k++) {
            strbuf_adds(b, "\n    ");
            add_oneline(b, a->labels[k].key);
            strbuf_adds(b, " = ");
            add_oneline(b, a->labels[k].value);
        }
        strbuf_adds(b, "\n");
    }
    strbuf_addf(b, "\n-- \nsegalert %s\n", SEGALERT_VERSION);
}

void payload_email(const struct notification *n, const struct receiver_cfg *r,
                   double now, const char *message_id_domain,
                   struct strbuf *out)
{
    const char *domain = has_text(message_id_domain) ? message_id_domain
                                                     : "segalert.invalid";
    char date[64];
    format_rfc5322_date(now, date, sizeof(date));
    struct strbuf v = STRBUF_INIT;

    header(out, "Date", date);
    if (r && has_text(r->from)) {
        header(out, "From", r->from);
    } else {
        strbuf_adds(&v, "segalert <segalert@");
        add_atom(&v, domain);
        strbuf_addc(&v, '>');
        header(out, "From", v.buf);
    }
    add_to(out, r);
    strbuf_reset(&v);
    title_for(n, r, &v);
    add_subject(out, strbuf_str(&v));
    strbuf_reset(&v);
    strbuf_addc(&v, '<');
    add_atom(&v, n->id);
    strbuf_addc(&v, '@');
    add_atom(&v, domain);
    strbuf_addc(&v, '>');
    header(out, "Message-ID", v.buf);
    header(out, "MIME-Version", "1.0");
    header(out, "Content-Type", "text/plain; charset=UTF-8");
    header(out, "Content-Transfer-Encoding", "8bit");
    /* RFC 3834: keeps vacation responders from answering alerts. */
    header(out, "Auto-Submitted", "auto-generated");
    header(out, "X-Segalert-Reason", notify_reason_name(n->reason));
    header(out, "X-Segalert-Notification", n->id);
    strbuf_adds(out, "\r\n");

    strbuf_reset(&v);
    if (r && r->body)
        payload_render_template(r->body, n, &v);
    if (v.len == 0)
        email_default_body(n, &v);
    add_body(out, strbuf_str(&v), v.len);
    strbuf_free(&v);
}

/* ---- log line -------------------------------------------------------- */

static void add_quoted(struct strbuf *sb, const char *s)
{
    strbuf_addc(sb, '"');
    for (const unsigned char *p = (const unsigned char *)nz(s); *p; p++) {
        switch (*p) {
        case '"': strbuf_adds(sb, "\\\""); break;
        case '\\': strbuf_adds(sb, "\\\\"); break;
        case '\n': strbuf_adds(sb, "\\n"); break;
        case '\r': strbuf_adds(sb, "\\r"); break;
        case '\t': strbuf_adds(sb, "\\t"); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                strbuf_addf(sb, "\\x%02x", *p);
            else
                strbuf_addc(sb, (char)*p);
        }
    }
    strbuf_addc(sb, '"');
}

/* logfmt value: bare when safe, else quoted. */
static void add_logval(struct strbuf *sb, const char *s)
{
    bool bare = has_text(s);
    for (const unsigned char *p = (const unsigned char *)nz(s); bare && *p; p++)
        bare = *p > 0x20 && *p != 0x7f && *p != '"' && *p != '=' && *p != '\\';
    if (bare)
        strbuf_adds(sb, s);
    else
        add_quoted(sb, s);
}

void payload_log_line(const struct notification *n, struct strbuf *out)
{
    const char *rule = common_rule(n);
    strbuf_adds(out, "notify receiver=");
    add_logval(out, n->receiver);
    strbuf_adds(out, " id=");
    add_logval(out, n->id);
    strbuf_addf(out, " reason=%s status=%s rule=",
                notify_reason_name(n->reason), notification_status(n));
    add_logval(out, rule ? rule : "several");
    strbuf_addf(out, " alerts=%zu firing=%zu resolved=%zu severity=",
                n->nalerts, notification_count(n, "firing"),
                notification_count(n, "resolved"));
    add_logval(out, notification_severity(n));
    size_t ncl;
    struct kv *cl = notification_common_labels(n, &ncl);
    strbuf_adds(out, " labels={");
    for (size_t i = 0; i < ncl; i++) {
        if (i)
            strbuf_addc(out, ',');
        add_oneline(out, cl[i].key);
        strbuf_addc(out, '=');
        add_quoted(out, cl[i].value);
    }
    strbuf_addc(out, '}');
    kv_array_free(cl, ncl);
    const struct notify_alert *lead = lead_alert(n);
    if (lead && has_text(lead->summary)) {
        strbuf_adds(out, " summary=");
        add_quoted(out, lead->summary);
    }
    strbuf_addc(out, '\n');
}

/* ---- HMAC ------------------------------------------------------------ */

int hmac_sha256_hex(const void *key, size_t keylen, const void *data,
                    size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    out[0] = '\0';
    if (keylen > (size_t)2147483647)
        return -1;
    if (!HMAC(EVP_sha256(), key ? key : "", (int)keylen,
              data ? data : (const void *)"", len, md, &mdlen) || mdlen != 32)
        return -1;
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

int payload_webhook_signature(const char *secret, const void *body, size_t len,
                              double timestamp, struct strbuf *header_value)
{
    UNUSED(timestamp);
    char hex[65];
    if (hmac_sha256_hex(secret, strlen(nz(secret)), body, len, hex) < 0)
        return -1;
    strbuf_adds(header_value, "sha256=");
    strbuf_adds(header_value, hex);
    return 0;
}

/* ---- delivery classification ----------------------------------------- */

const char *delivery_outcome_name(enum delivery_outcome o)
{
    switch (o) {
    case DELIVERY_OK: return "ok";
    case DELIVERY_RETRY: return "retry";
    case DELIVERY_PERMANENT: return "permanent";
    }
    return "?";
}

/* First 100 bytes of a body as one safe line. */
static void body_excerpt(const char *body, size_t len, struct strbuf *out)
{
    if (!body)
        return;
    size_t i = 0;
    while (i < len && isspace((unsigned char)body[i]))
        i++;
    size_t cut = utf8_cut(body + i, len - i, 100);
    for (size_t k = i; k < i + cut; k++) {
        unsigned char c = (unsigned char)body[k];
        strbuf_addc(out, (c < 0x20 || c == 0x7f || c == 0) ? ' ' : (char)c);
    }
    while (out->len && out->buf[out->len - 1] == ' ')
        out->buf[--out->len] = '\0';
}

/* snprintf into reason, then drop a UTF-8 sequence cut by the bound. */
static void set_reason(struct delivery_verdict *v, const char *fmt, ...)
    PRINTF_LIKE(2, 3);
static void set_reason(struct delivery_verdict *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
    va_end(ap);
    size_t len = strlen(v->reason);
    size_t ok = utf8_cut(v->reason, len, len);
    v->reason[ok] = '\0';
}

/* Retry-After: delta-seconds or an HTTP-date; clamped to [1 s, 1 h]. */
static double parse_retry_after(const char *h, double now)
{
    if (!h)
        return -1;
    while (isspace((unsigned char)*h))
        h++;
    double s;
    if (isdigit((unsigned char)*h)) {
        char *end;
        s = strtod(h, &end);
        while (isspace((unsigned char)*end))
            end++;
        if (*end || !isfinite(s))
            return -1;
    } else {
        double t;
        if (parse_rfc5322_date(h, &t) < 0)
            return -1;
        s = t - now;
    }
    return s < 1 ? 1 : s > 3600 ? 3600 : s;
}

/* Slack answers errors with a bare token such as "channel_not_found". */
static bool slack_token(const char *body, size_t len, char *tok, size_t cap)
{
    if (!body)
        return false;
    while (len && isspace((unsigned char)body[len - 1]))
        len--;
    while (len && isspace((unsigned char)*body)) {
        body++;
        len--;
    }
    if (len == 0 || len >= cap || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)body[i];
        if (!(islower(c) || isdigit(c) || c == '_'))
            return false;
    }
    memcpy(tok, body, len);
    tok[len] = '\0';
    return true;
}

/* PagerDuty: {"status":"invalid event","message":"...","errors":["..."]}. */
static bool pd_error(const char *body, size_t len, struct strbuf *out)
{
    if (!body || len == 0)
        return false;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root)
        return false;
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
    const cJSON *errs = cJSON_GetObjectItemCaseSensitive(root, "errors");
    if (cJSON_IsString(msg))
        strbuf_adds(out, msg->valuestring);
    const cJSON *e;
    bool first = true;
    cJSON_ArrayForEach(e, errs) {
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

void payload_classify_http(enum receiver_type t, long status, int curl_code,
                           const char *body, size_t len,
                           const char *retry_after_header, double now,
                           struct delivery_verdict *out)
{
    out->outcome = DELIVERY_OK;
    out->retry_after_s = -1;
    out->reason[0] = '\0';
    if (!body)
        len = 0;

    if (curl_code != 0) {
        out->outcome = DELIVERY_RETRY;
        set_reason(out, "connect/timeout: %s (curl %d)",
                   curl_easy_strerror((CURLcode)curl_code), curl_code);
        return;
    }

    struct strbuf ex = STRBUF_INIT;
    body_excerpt(body, len, &ex);
    const char *excerpt = ex.len ? ex.buf : "(empty body)";
    bool server_error = status >= 500 && status < 600;
    char tok[72];

    if (status >= 200 && status < 300) {
        if (t == RECV_SLACK && !(slack_token(body, len, tok, sizeof(tok)) &&
                                 streq(tok, "ok"))) {
            /* Not Slack's confirmation (a proxy page?): unknown whether it
             * was posted, so at-least-once says try again. */
            out->outcome = DELIVERY_RETRY;
            set_reason(out, "HTTP %ld without Slack's \"ok\": %s", status,
                       excerpt);
        } else {
            set_reason(out, "HTTP %ld", status);
        }
    } else if (status == 408 || status == 429 || server_error) {
        out->outcome = DELIVERY_RETRY;
        if (status == 429)
            set_reason(out, "HTTP 429: rate limited");
        else if (status == 408)
            set_reason(out, "HTTP 408: request timeout");
        else
            set_reason(out, "HTTP %ld: %s", status, excerpt);
    } else if (status >= 400 && status < 500) {
        out->outcome = DELIVERY_PERMANENT;
        struct strbuf pd = STRBUF_INIT;
        if (t == RECV_SLACK && slack_token(body, len, tok, sizeof(tok)))
            set_reason(out, "%s", tok);
        else if (t == RECV_PAGERDUTY && pd_error(body, len, &pd))
            set_reason(out, "HTTP %ld: %s", status, pd.buf);
        else
            set_reason(out, "HTTP %ld: %s", status, excerpt);
        strbuf_free(&pd);
    } else if (status >= 300 && status < 400) {
        out->outcome = DELIVERY_PERMANENT;
        set_reason(out, "HTTP %ld: redirect not followed (fix the URL)",
                   status);
    } else {
        /* 0, 1xx, >= 600: no answer we understand. */
        out->outcome = DELIVERY_RETRY;
        set_reason(out, "unexpected HTTP status %ld", status);
    }
    if (out->outcome == DELIVERY_RETRY)
        out->retry_after_s = parse_retry_after(retry_after_header, now);
    strbuf_free(&ex);
}
