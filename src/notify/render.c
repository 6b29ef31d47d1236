/*
 * render.c - see render.h.
 */
#include "notify/render.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/utf8.h"

/* ---- text ------------------------------------------------------------------ */

size_t render_utf8_len(unsigned char c)
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

size_t render_utf8_cut(const char *s, size_t len, size_t max)
{
    size_t i = 0;
    while (i < len) {
        size_t l = render_utf8_len((unsigned char)s[i]);
        if (i + l > max || i + l > len)
            break;
        i += l;
    }
    return i;
}

void render_add_trunc(struct strbuf *out, const char *s, size_t len,
                      size_t max)
{
    size_t ell = strlen(RENDER_ELLIPSIS);
    if (len <= max) {
        strbuf_add(out, s, len);
        return;
    }
    size_t keep = max >= ell ? render_utf8_cut(s, len, max - ell) : 0;
    strbuf_add(out, s, keep);
    if (max >= ell)
        strbuf_adds(out, RENDER_ELLIPSIS);
}

void render_add_oneline(struct strbuf *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)render_nz(s); *p;
         p++) {
        if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] < 0xA0) {
            strbuf_addc(out, ' ');      /* a C1 control (CSI is U+009B) */
            p++;
            continue;
        }
        strbuf_addc(out, (*p < 0x20 || *p == 0x7f) ? ' ' : (char)*p);
    }
}

void render_add_text(struct strbuf *out, const char *s, size_t len)
{
    struct strbuf fixed = STRBUF_INIT;
    if (!utf8_valid(s, len)) {
        utf8_sanitize_append(&fixed, s, len);
        s = fixed.buf;
        len = fixed.len;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] < 0xA0) {
            strbuf_addc(out, ' ');
            i++;
        } else if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') ||
                   c == 0x7f) {
            strbuf_addc(out, ' ');
        } else {
            strbuf_addc(out, (char)c);
        }
    }
    strbuf_free(&fixed);
}

/* ---- size limits ------------------------------------------------------------ */

const struct render_limits render_unlimited = { RENDER_NO_CAP,
                                                RENDER_NO_CAP };

void render_add_capped(struct strbuf *out, const char *s, size_t cap)
{
    size_t len = s ? strlen(s) : 0;
    size_t mark = strlen(RENDER_TRUNC_MARK);
    if (len <= cap) {
        strbuf_add(out, s ? s : "", len);
        return;
    }
    size_t keep = cap > mark ? utf8_cut(s, len, cap - mark) : 0;
    strbuf_add(out, s, keep);
    strbuf_adds(out, RENDER_TRUNC_MARK);
}

void render_json_str_capped(struct strbuf *sb, const char *key,
                            const char *v, size_t cap)
{
    if (cap == RENDER_NO_CAP || !v || strlen(v) <= cap) {
        jw_str(sb, key, v);
        return;
    }
    struct strbuf t = STRBUF_INIT;
    render_add_capped(&t, v, cap);
    jw_str(sb, key, t.buf);
    strbuf_free(&t);
}

void render_fit(render_build_fn build, void *ud, size_t nalerts,
                size_t max_bytes, struct strbuf *out)
{
    static const size_t caps[] = { RENDER_NO_CAP, 65536, 16384, 4096, 1024,
                                   256, RENDER_MIN_FIELD_CAP };
    size_t start = out->len;
    struct render_limits lim = render_unlimited;
    for (size_t step = 0;; step++) {
        out->len = start;
        if (out->buf)
            out->buf[start] = '\0';
        if (step < ARRAY_SIZE(caps))
            lim.field_cap = caps[step];
        build(ud, &lim, out);
        if (max_bytes == 0 || out->len - start <= max_bytes)
            return;
        if (step + 1 < ARRAY_SIZE(caps))
            continue;
        size_t shown = lim.max_alerts == RENDER_NO_CAP ? nalerts
                                                       : lim.max_alerts;
        if (shown == 0)
            return;             /* the smallest there is: sent as it is */
        lim.max_alerts = shown / 2;
    }
}

/* ---- the group ------------------------------------------------------------- */

bool render_is_firing(const struct notify_alert *a)
{
    return streq(a->status, "firing");
}

const struct notify_alert *render_lead_alert(const struct notification *n)
{
    for (size_t i = 0; i < n->nalerts; i++)
        if (render_is_firing(&n->alerts[i]))
            return &n->alerts[i];
    return n->nalerts ? &n->alerts[0] : NULL;
}

const char *render_common_label(const struct notification *n,
                                const char *key)
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

const char *render_common_rule(const struct notification *n)
{
    if (n->nalerts == 0)
        return kv_array_get(n->group_labels, n->ngroup_labels, "rule");
    for (size_t i = 1; i < n->nalerts; i++)
        if (!streq(n->alerts[i].rule, n->alerts[0].rule))
            return NULL;
    return n->alerts[0].rule;
}

/* ---- labels and annotations on the wire ------------------------------------ */

static int pair_cmp(const void *a, const void *b)
{
    return strcmp(((const struct render_pair *)a)->key,
                  ((const struct render_pair *)b)->key);
}

void render_pairs_sort(struct render_pair *p, size_t n)
{
    qsort(p, n, sizeof(*p), pair_cmp);
}

struct render_pair *render_alert_labels(const struct notify_alert *a,
                                        bool alertname, size_t *count)
{
    struct render_pair *p = xcalloc(a->nlabels + 2, sizeof(*p));
    size_t n = 0;
    bool has_alertname = false;
    for (size_t i = 0; i < a->nlabels; i++) {
        if (!a->labels[i].key || streq(a->labels[i].key, "severity"))
            continue;   /* the model's severity field wins */
        has_alertname |= streq(a->labels[i].key, "alertname");
        p[n].key = a->labels[i].key;
        p[n++].value = render_nz(a->labels[i].value);
    }
    if (a->severity) {
        p[n].key = "severity";
        p[n++].value = a->severity;
    }
    if (alertname && !has_alertname && a->rule) {
        p[n].key = "alertname";
        p[n++].value = a->rule;
    }
    render_pairs_sort(p, n);
    *count = n;
    return p;
}

const char *render_pairs_get(const struct render_pair *p, size_t n,
                             const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (streq(p[i].key, key))
            return p[i].value;
    return NULL;
}

void render_alert_annots(const struct notify_alert *a,
                         struct render_annots *an)
{
    an->n = 0;
    if (render_has_text(a->description)) {
        an->p[an->n].key = "description";
        an->p[an->n++].value = a->description;
    }
    if (render_has_text(a->runbook_url)) {
        an->p[an->n].key = "runbook_url";
        an->p[an->n++].value = a->runbook_url;
    }
    if (render_has_text(a->summary)) {
        an->p[an->n].key = "summary";
        an->p[an->n++].value = a->summary;
    }
    if (!isnan(a->value)) {
        struct strbuf t = STRBUF_INIT;
        /* a count stays the exact number; a ratio or a time reads as one */
        if (a->unit == UNIT_COUNT)
            template_format_number(a->value, &t);
        else
            template_format_unit(a->unit, a->value, &t);
        snprintf(an->value, sizeof(an->value), "%s", strbuf_str(&t));
        strbuf_free(&t);
        an->p[an->n].key = "value";
        an->p[an->n++].value = an->value;
    }
}

/* ---- JSON pieces ------------------------------------------------------------- */

void render_json_pairs(struct strbuf *sb, const char *key,
                       const struct render_pair *p, size_t n, size_t cap)
{
    jw_open(sb, key, '{');
    for (size_t i = 0; i < n; i++)
        render_json_str_capped(sb, p[i].key, p[i].value, cap);
    jw_close(sb, '}');
}

void render_json_time(struct strbuf *sb, const char *key, double t)
{
    char buf[32];
    format_iso8601(t, buf, sizeof(buf));
    jw_str(sb, key, buf);
}

/* ---- templates ---------------------------------------------------------------- */

/* What a template sees: the notification, the alert it speaks for, and
 * the copies escaping made (freed after the render). */
struct tctx {
    const struct notification *n;
    const struct notify_alert *a;   /* may be NULL */
    const char *severity;
    const char *state;
    render_escape_fn escape;        /* NULL: substitute as is */
    size_t cap;                     /* most bytes of a substituted string */
    char started[32];
    char **owned;
    size_t nowned, cap_owned;
};

static void tctx_init(struct tctx *c, const struct notification *n,
                      const struct notify_alert *a, bool per_alert,
                      render_escape_fn escape)
{
    memset(c, 0, sizeof(*c));
    c->n = n;
    c->a = a;
    c->escape = escape;
    c->cap = RENDER_NO_CAP;
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
    c->nowned = c->cap_owned = 0;
}

static const char *tctx_raw(const struct tctx *c, const char *name)
{
    const struct notify_alert *a = c->a;
    if (streq(name, "rule"))
        return a ? a->rule : render_common_rule(c->n);
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

/* Keep s (taken) until the render is over. */
static const char *tctx_keep(struct tctx *c, char *s)
{
    XGROW(c->owned, c->nowned + 1, c->cap_owned);
    c->owned[c->nowned++] = s;
    return s ? s : "";
}

static bool tctx_string(void *ud, const char *name, const char **str)
{
    struct tctx *c = ud;
    const char *v = tctx_raw(c, name);
    if (!v)
        return false;
    if (c->cap != RENDER_NO_CAP && strlen(v) > c->cap) {
        struct strbuf t = STRBUF_INIT;
        render_add_capped(&t, v, c->cap);
        v = tctx_keep(c, strbuf_detach(&t));
    }
    if (c->escape) {
        struct strbuf e = STRBUF_INIT;
        c->escape(&e, v, strlen(v));
        v = tctx_keep(c, strbuf_detach(&e));
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

struct template *render_compile(const char *tpl_text)
{
    struct template_error err;
    return tpl_text ? template_compile(tpl_text, NULL, NULL, &err) : NULL;
}

static void render_ctx(const struct template *t, const char *raw,
                       struct tctx *c, struct strbuf *out)
{
    if (!t) {
        strbuf_adds(out, render_nz(raw));
        return;
    }
    struct template_lookup lk = { tctx_number, tctx_string, c };
    template_render(t, &lk, out);
    tctx_release(c);
}

void render_template(const char *tpl_text, const struct notification *n,
                     struct strbuf *out)
{
    render_template_capped(tpl_text, n, RENDER_NO_CAP, out);
}

void render_template_capped(const char *tpl_text,
                            const struct notification *n, size_t cap,
                            struct strbuf *out)
{
    struct template *t = render_compile(tpl_text);
    struct tctx c;
    tctx_init(&c, n, render_lead_alert(n), false, NULL);
    c.cap = cap;
    render_ctx(t, tpl_text, &c, out);
    template_free(t);
}

void render_alert_template(const struct template *t, const char *raw,
                           const struct notification *n,
                           const struct notify_alert *a,
                           render_escape_fn escape, struct strbuf *out)
{
    struct tctx c;
    tctx_init(&c, n, a, true, escape);
    render_ctx(t, raw, &c, out);
}

/* ---- titles ------------------------------------------------------------------- */

void render_default_title(const struct notification *n, struct strbuf *out)
{
    size_t firing = notification_count(n, "firing");
    if (firing)
        strbuf_addf(out, "[FIRING:%zu] ", firing);
    else
        strbuf_adds(out, "[RESOLVED] ");
    const char *rule = render_common_rule(n);
    strbuf_adds(out, rule ? rule : "several rules");
    const char *ws = render_common_label(n, "workspace");
    if (render_has_text(ws))
        strbuf_addf(out, " (%s)", ws);
}

void render_title(const struct notification *n, const struct receiver_cfg *r,
                  struct strbuf *out)
{
    size_t start = out->len;
    if (r && r->subject)
        render_template(r->subject, n, out);
    bool blank = true;
    for (size_t i = start; i < out->len; i++)
        blank &= isspace((unsigned char)out->buf[i]) != 0;
    if (blank) {
        out->len = start;
        if (out->buf)
            out->buf[start] = '\0';
        render_default_title(n, out);
    }
}
