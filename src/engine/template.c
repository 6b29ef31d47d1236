/*
 * template.c - see template.h.
 */
#include "engine/template.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum filter_kind { F_PCT, F_SI, F_DUR, F_ROUND, F_UPPER, F_JSON, F_DEFAULT };

struct filter {
    enum filter_kind kind;
    int arg;                /* round:N */
    char *text;             /* default:TEXT */
};

struct part {
    char *text;             /* literal text, or the name of a placeholder */
    bool is_name;
    struct filter *filters;
    size_t nfilters;
};

struct template {
    struct part *parts;
    size_t nparts;
};

static const char *builtins[] = {
    "rule", "severity", "state", "value", "window", "started_at", "summary",
    "description", "runbook_url", "status_url", "workspace", "reason",
    "mtu_limit", "api_calls_limit", "period_elapsed", "period_remaining",
};

bool template_builtin_name(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(builtins); i++)
        if (strcmp(builtins[i], name) == 0)
            return true;
    return false;
}

void template_free(struct template *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nparts; i++) {
        free(t->parts[i].text);
        for (size_t k = 0; k < t->parts[i].nfilters; k++)
            free(t->parts[i].filters[k].text);
        free(t->parts[i].filters);
    }
    free(t->parts);
    free(t);
}

static struct part *add_part(struct template *t, size_t *cap)
{
    XGROW(t->parts, t->nparts + 1, *cap);
    struct part *p = &t->parts[t->nparts++];
    memset(p, 0, sizeof(*p));
    return p;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

/* Parse one filter at p (after '|'); returns the position after it, or NULL
 * with err set. */
static const char *parse_filter(const char *src, const char *p, struct filter *f,
                                struct template_error *err)
{
    static const struct { const char *name; enum filter_kind kind; } names[] = {
        { "pct", F_PCT }, { "si", F_SI }, { "dur", F_DUR }, { "round", F_ROUND },
        { "upper", F_UPPER }, { "json", F_JSON }, { "default", F_DEFAULT },
    };
    memset(f, 0, sizeof(*f));
    p = skip_ws(p);
    const char *start = p;
    while (isalpha((unsigned char)*p))
        p++;
    size_t len = (size_t)(p - start);
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (strlen(names[i].name) == len && strncmp(names[i].name, start, len) == 0) {
            f->kind = names[i].kind;
            f->arg = 2;
            if (f->kind == F_ROUND) {
                if (*p != ':' || !isdigit((unsigned char)p[1]) ||
                    isdigit((unsigned char)p[2])) {
                    err->col = (int)(p - src) + 1;
                    snprintf(err->msg, sizeof(err->msg),
                             "filter 'round' needs a digit argument, e.g. round:2");
                    return NULL;
                }
                f->arg = p[1] - '0';
                p += 2;
            }
            if (f->kind == F_DEFAULT) {
                /* default:TEXT - the text runs to the next '|' or '}}' */
                if (*p != ':') {
                    err->col = (int)(p - src) + 1;
                    snprintf(err->msg, sizeof(err->msg),
                             "filter 'default' needs a text, e.g. "
                             "default:all sources");
                    return NULL;
                }
                p = skip_ws(p + 1);
                const char *e = p;
                while (*e && *e != '|' && strncmp(e, "}}", 2) != 0)
                    e++;
                size_t n = (size_t)(e - p);
                while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
                    n--;
                f->text = xstrndup(p, n);
                return e;
            }
            return skip_ws(p);
        }
    }
    err->col = (int)(start - src) + 1;
    snprintf(err->msg, sizeof(err->msg), "unknown filter '%.*s' (filters: pct, "
             "si, dur, round:N, upper, json, default:TEXT)", (int)(len ? len : 1),
             len ? start : p);
    return NULL;
}

struct template *template_compile(const char *src, template_name_ok_fn name_ok,
                                  void *ud, struct template_error *err)
{
    struct template *t = xcalloc(1, sizeof(*t));
    size_t cap = 0;
    const char *p = src ? src : "";
    err->col = 0;
    err->msg[0] = '\0';
    while (*p) {
        const char *open = strstr(p, "{{");
        if (!open) {
            add_part(t, &cap)->text = xstrdup(p);
            break;
        }
        if (open > p)
            add_part(t, &cap)->text = xstrndup(p, (size_t)(open - p));
        const char *close = strstr(open + 2, "}}");
        if (!close) {
            err->col = (int)(open - src) + 1;
            snprintf(err->msg, sizeof(err->msg), "'{{' without a closing '}}'");
            goto fail;
        }
        const char *q = skip_ws(open + 2);
        const char *name = q;
        while (q < close && is_name_char(*q))
            q++;
        if (q == name) {
            err->col = (int)(name - src) + 1;
            snprintf(err->msg, sizeof(err->msg), "expected a name after '{{'");
            goto fail;
        }
        struct part *part = add_part(t, &cap);
        part->is_name = true;
        part->text = xstrndup(name, (size_t)(q - name));
        if (name_ok && !name_ok(ud, part->text)) {
            err->col = (int)(name - src) + 1;
            snprintf(err->msg, sizeof(err->msg), "unknown name '%s' in template",
                     part->text);
            goto fail;
        }
        q = skip_ws(q);
        size_t fcap = 0;
        while (q < close && *q == '|') {
            XGROW(part->filters, part->nfilters + 1, fcap);
            q = parse_filter(src, q + 1, &part->filters[part->nfilters], err);
            if (!q)
                goto fail;
            part->nfilters++;
        }
        if (q != close) {
            err->col = (int)(q - src) + 1;
            snprintf(err->msg, sizeof(err->msg), "unexpected '%c' in placeholder",
                     *q);
            goto fail;
        }
        p = close + 2;
    }
    return t;
fail:
    template_free(t);
    return NULL;
}

void template_format_number(double v, struct strbuf *out)
{
    if (isnan(v))
        strbuf_adds(out, "n/a");
    else if (isinf(v))
        strbuf_adds(out, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        strbuf_addf(out, "%.0f", v);
    else
        strbuf_addf(out, "%.6g", v);
}

void template_format_pct(double v, struct strbuf *out)
{
    if (!isfinite(v)) {
        template_format_number(v, out);
        return;
    }
    double p = v * 100;
    /* Enough digits to tell 0.2% from 0.25% but not noise. */
    if (fabs(p) >= 10 || p == floor(p))
        strbuf_addf(out, "%.1f%%", p);
    else
        strbuf_addf(out, "%.3g%%", p);
}

void template_format_si(double v, struct strbuf *out)
{
    static const struct { double f; const char *s; } units[] = {
        { 1e12, "T" }, { 1e9, "G" }, { 1e6, "M" }, { 1e3, "k" } };
    if (!isfinite(v)) {
        template_format_number(v, out);
        return;
    }
    for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
        if (fabs(v) >= units[i].f) {
            strbuf_addf(out, "%.3g%s", v / units[i].f, units[i].s);
            return;
        }
    }
    template_format_number(v, out);
}

void template_format_unit(enum metric_unit u, double v, struct strbuf *out)
{
    if (isnan(v)) {
        strbuf_adds(out, "no data");
        return;
    }
    switch (u) {
    case UNIT_RATIO:
        template_format_pct(v, out);
        return;
    case UNIT_SECONDS:
        if (isfinite(v) && fabs(v) >= 1 && fabs(v) < 60) {
            strbuf_addf(out, "%.3gs", v);
        } else {
            char buf[64];
            format_duration(v, buf, sizeof(buf));
            strbuf_adds(out, buf);
        }
        return;
    default:
        if (isfinite(v) && fabs(v) < 1000 && v != floor(v))
            strbuf_addf(out, "%.3g", v);
        else
            template_format_si(v, out);
        return;
    }
}

static void apply(const struct part *p, const struct template_lookup *lk,
                  struct strbuf *out)
{
    double num = NAN;
    const char *str = NULL;
    bool has_num = lk->number && lk->number(lk->ud, p->text, &num);
    bool has_str = !has_num && lk->string && lk->string(lk->ud, p->text, &str);
    struct strbuf cur = STRBUF_INIT;

    if (p->nfilters == 0) {
        if (has_num)
            template_format_number(num, out);
        else if (has_str)
            strbuf_adds(out, str);
        return;
    }
    /* No value: an unknown name, NaN, or an empty string (default:). */
    bool valueless = has_num ? isnan(num) : !has_str || !*str;
    /* Text so far; numeric filters read the number. */
    if (has_num)
        template_format_number(num, &cur);
    else if (has_str)
        strbuf_adds(&cur, str);
    for (size_t i = 0; i < p->nfilters; i++) {
        const struct filter *f = &p->filters[i];
        struct strbuf next = STRBUF_INIT;
        double v = has_num ? num : NAN;
        if (!has_num && has_str && (f->kind == F_PCT || f->kind == F_SI ||
                                    f->kind == F_DUR || f->kind == F_ROUND))
            parse_double(str, &v);
        switch (f->kind) {
        case F_PCT: template_format_pct(v, &next); break;
        case F_SI: template_format_si(v, &next); break;
        case F_DUR:
            if (isnan(v)) {
                strbuf_adds(&next, "n/a");
            } else {
                char buf[64];
                format_duration(v, buf, sizeof(buf));
                strbuf_adds(&next, buf);
            }
            break;
        case F_ROUND:
            if (isfinite(v))
                strbuf_addf(&next, "%.*f", f->arg, v);
            else
                template_format_number(v, &next);
            break;
        case F_UPPER:
            for (const char *c = strbuf_str(&cur); *c; c++)
                strbuf_addc(&next, (char)toupper((unsigned char)*c));
            break;
        case F_JSON:
            strbuf_add_json_str(&next, strbuf_str(&cur));
            break;
        case F_DEFAULT:
            strbuf_adds(&next, (i == 0 && valueless) || !cur.len
                                   ? f->text : strbuf_str(&cur));
            break;
        }
        strbuf_free(&cur);
        cur = next;
        /* After any filter the value is text; the next numeric filter
         * parses it back (round:1|pct works). */
        has_num = false;
        has_str = true;
        str = strbuf_str(&cur);
    }
    strbuf_adds(out, strbuf_str(&cur));
    strbuf_free(&cur);
}

void template_render(const struct template *t, const struct template_lookup *lk,
                     struct strbuf *out)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nparts; i++) {
        const struct part *p = &t->parts[i];
        if (p->is_name)
            apply(p, lk, out);
        else
            strbuf_adds(out, p->text);
    }
}
