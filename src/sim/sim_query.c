/*
 * sim_query.c - replies, query strings, pagination and time parameters
 * shared by the simulated endpoints (see sim_query.h).
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/util.h"
#include "sim_query.h"

/* ---- replies ------------------------------------------------------------ */

void sim_reply_error(struct sim_reply *r, int status, const char *type,
                     const char *message, const char *field)
{
    struct strbuf *sb = &r->body;
    r->status = status;
    r->content_type = "application/json";
    strbuf_reset(sb);
    jw_open(sb, NULL, '{');
    jw_open(sb, "errors", '[');
    jw_open(sb, NULL, '{');
    jw_str(sb, "type", type);
    jw_str(sb, "message", message);
    if (field)
        jw_str(sb, "field", field);
    if (status != 404)
        jw_int(sb, "status", status);
    jw_close(sb, '}');
    jw_close(sb, ']');
    jw_close(sb, '}');
}

void sim_reply_not_found(struct sim_reply *r)
{
    sim_reply_error(r, 404, "NotFound", "Resource not found", NULL);
}

void sim_reply_invalid(struct sim_reply *r, const char *field,
                       const char *fmt, ...)
{
    struct strbuf msg = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&msg, fmt, ap);
    va_end(ap);
    sim_reply_error(r, 422, "ValidationFailure", strbuf_str(&msg), field);
    strbuf_free(&msg);
}

void sim_reply_ok(struct sim_reply *r)
{
    r->status = 200;
    r->content_type = "application/json";
}

/* ---- query string ------------------------------------------------------ */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *sim_url_decode(const char *s, size_t len)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_add(&sb, "", 0);
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            strbuf_addc(&sb, (char)(hi * 16 + lo));
            i += 2;
        } else {
            strbuf_addc(&sb, s[i]);
        }
    }
    return strbuf_detach(&sb);
}

/* "a[b][c]" -> "a.b.c" (the Go/TS SDK bracket form). */
static char *normalise_key(char *k)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_add(&sb, "", 0);
    for (char *p = k; *p; p++) {
        if (*p == '[')
            strbuf_addc(&sb, '.');
        else if (*p != ']')
            strbuf_addc(&sb, *p);
    }
    free(k);
    return strbuf_detach(&sb);
}

void sim_query_parse(struct sim_query *q, const char *s)
{
    while (s && *s) {
        const char *amp = strchr(s, '&');
        size_t len = amp ? (size_t)(amp - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        if (len > 0) {
            XGROW(q->p, q->n + 1, q->cap);
            size_t klen = eq ? (size_t)(eq - s) : len;
            q->p[q->n].key = normalise_key(sim_url_decode(s, klen));
            q->p[q->n].val = eq ? sim_url_decode(eq + 1, len - klen - 1)
                                : xstrdup("");
            q->n++;
        }
        s = amp ? amp + 1 : NULL;
    }
}

void sim_query_free(struct sim_query *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->p[i].key);
        free(q->p[i].val);
    }
    free(q->p);
    for (size_t i = 0; i < q->n_owned; i++)
        free(q->owned[i]);
}

const char *sim_qget(const struct sim_query *q, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->p[i].key, key) == 0)
            v = q->p[i].val;
    return v;
}

/* Whether key is name, name.N or name. (the emptied "name[]"). */
static bool list_key(const char *key, const char *name)
{
    size_t nl = strlen(name);
    if (strncmp(key, name, nl) != 0)
        return false;
    const char *rest = key + nl;
    if (*rest == '\0')
        return true;
    if (*rest != '.')
        return false;
    for (const char *d = rest + 1; *d; d++)
        if (!isdigit((unsigned char)*d))
            return false;
    return true;
}

size_t sim_qlist(struct sim_query *q, const char *name, const char **out)
{
    size_t n = 0;
    for (size_t i = 0; i < q->n && n < SIM_MAX_LIST; i++) {
        if (!list_key(q->p[i].key, name))
            continue;
        const char *v = q->p[i].val;
        if (!strchr(v, ',')) {
            if (v[0])
                out[n++] = v;
            continue;
        }
        while (*v && n < SIM_MAX_LIST) {
            const char *c = strchr(v, ',');
            size_t l = c ? (size_t)(c - v) : strlen(v);
            if (l && q->n_owned < SIM_MAX_LIST) {
                q->owned[q->n_owned] = xstrndup(v, l);
                out[n++] = q->owned[q->n_owned++];
            }
            v = c ? c + 1 : v + l;
        }
    }
    return n;
}

/* ---- pagination -------------------------------------------------------- */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Longest cursor accepted: base64 of a 17-digit offset. */
#define CURSOR_MAX 24

/* The cursor of an offset: base64 of its decimal digits ("MA==" = 0). */
static void cursor_of(size_t offset, char *out, size_t len)
{
    char num[32];
    int n = snprintf(num, sizeof(num), "%zu", offset);
    size_t o = 0;
    for (int i = 0; i < n && o + 4 < len; i += 3) {
        unsigned v = (unsigned char)num[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)num[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)num[i + 2];
        out[o++] = b64chars[(v >> 18) & 63];
        out[o++] = b64chars[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64chars[v & 63] : '=';
    }
    out[o] = '\0';
}

/* base64 of a decimal offset -> offset; -1 when invalid. */
static long decode_cursor(const char *s)
{
    char out[32];
    size_t len = strlen(s), o = 0;
    if (len == 0 || len % 4 != 0 || len > CURSOR_MAX)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        unsigned v = 0;
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            const char *c = s[i + j] ? strchr(b64chars, s[i + j]) : NULL;
            if (s[i + j] == '=' && i + 4 == len && j >= 2) {
                pad++;
                v <<= 6;
                continue;
            }
            if (!c || pad)
                return -1;
            v = (v << 6) | (unsigned)(c - b64chars);
        }
        out[o++] = (char)(v >> 16);
        if (pad < 2)
            out[o++] = (char)(v >> 8);
        if (pad < 1)
            out[o++] = (char)v;
    }
    out[o] = '\0';
    long off;
    if (o == 0 || !isdigit((unsigned char)out[0]) ||
        parse_long(out, &off) != 0 || off < 0)
        return -1;
    return off;
}

int sim_page_parse(const struct scenario *sc, const struct sim_query *q,
                   const char *path, struct sim_page *pg,
                   struct sim_reply *r)
{
    const char *c = sim_qget(q, "pagination.count");
    const char *cur = sim_qget(q, "pagination.cursor");
    long count = sc->default_page_size;
    if (c) {
        if (parse_long(c, &count) != 0 || count < 1 || count > 1000) {
            sim_reply_invalid(r, "pagination.count", "pagination.count must "
                              "be an integer between 1 and 1000, got '%s'",
                              c);
            return -1;
        }
    }
    if (count > sc->max_page_size)
        count = sc->max_page_size;
    *pg = (struct sim_page){ 0 };
    pg->count = (size_t)count;
    pg->repeat_cursor = sim_globs_match(sc->faults.repeat_cursor,
                                        sc->faults.n_repeat_cursor, path);
    pg->duplicate_items = sim_globs_match(sc->faults.duplicate_items,
                                          sc->faults.n_duplicate_items, path);
    if (cur && *cur) {
        long off = decode_cursor(cur);
        if (off < 0) {
            sim_reply_invalid(r, "pagination.cursor", "Invalid cursor '%s'",
                              cur);
            return -1;
        }
        pg->offset = (size_t)off;
    }
    return 0;
}

void sim_page_range(const struct sim_page *pg, size_t total, size_t *lo,
                    size_t *hi)
{
    /* duplicate_items: every page after the first starts one item early,
     * repeating the last item of the page before (as an offset listing
     * does when an item is inserted at its head between two requests). */
    size_t start = pg->offset;
    if (pg->duplicate_items && start > 0)
        start--;
    if (start > total)
        start = total;
    size_t end = start + pg->count;
    *lo = start;
    *hi = end > total ? total : end;
}

void sim_page_json(struct strbuf *sb, const struct sim_page *pg,
                   size_t total)
{
    char buf[CURSOR_MAX + 8];
    size_t lo, hi;
    sim_page_range(pg, total, &lo, &hi);
    jw_open(sb, "pagination", '{');
    cursor_of(pg->offset, buf, sizeof(buf));
    jw_str(sb, "current", buf);
    if (pg->repeat_cursor) {
        jw_str(sb, "next", buf);
    } else if (hi < total) {    /* (a duplicated item never hides one) */
        cursor_of(pg->offset + pg->count, buf, sizeof(buf));
        jw_str(sb, "next", buf);
    }
    if (pg->offset == 0) {
        jw_null(sb, "previous");
    } else {
        cursor_of(pg->offset > pg->count ? pg->offset - pg->count : 0, buf,
                  sizeof(buf));
        jw_str(sb, "previous", buf);
    }
    jw_uint(sb, "totalEntries", total);
    jw_close(sb, '}');
}

/* ---- time parameters --------------------------------------------------- */

static const char *gran_names[SIM_GRAN_COUNT] = { "MINUTE", "HOUR", "DAY" };
static const double gran_seconds[SIM_GRAN_COUNT] = { 60, 3600, 86400 };

/* Segment's documented limits (delivery metrics as of API 73.2.0). */
const struct sim_range_limits sim_delivery_limits = {
    { 4 * 3600, 7 * 86400, 14 * 86400 },
    { 48 * 3600, 7 * 86400, 14 * 86400 },
    { "4 hours", "7 days", "14 days" },
    { "48 hours", "7 days", "14 days" },
};

const struct sim_range_limits sim_overview_limits = {
    { 4 * 3600, 14 * 86400, 30 * 86400 },
    { 48 * 3600, 30 * 86400, 30 * 86400 },
    { "4 hours", "14 days", "30 days" },
    { "48 hours", "30 days", "30 days" },
};

/* Grace on the oldest start accepted. */
#define OLDEST_GRACE_S 300

const char *sim_gran_name(enum sim_gran g)
{
    return (unsigned)g < SIM_GRAN_COUNT ? gran_names[g] : "MINUTE";
}

double sim_gran_seconds(enum sim_gran g)
{
    return (unsigned)g < SIM_GRAN_COUNT ? gran_seconds[g] : 60;
}

int sim_parse_gran(const char *s, enum sim_gran *g, struct sim_reply *r)
{
    for (int i = 0; i < SIM_GRAN_COUNT; i++)
        if (streq(s, gran_names[i])) {
            *g = (enum sim_gran)i;
            return 0;
        }
    sim_reply_invalid(r, "granularity", "Invalid granularity '%s': must be "
                      "one of MINUTE, HOUR, DAY", s);
    return -1;
}

int sim_parse_time(const char *s, const char *field, double *t,
                   struct sim_reply *r)
{
    if (parse_iso8601(s, t) != 0) {
        sim_reply_invalid(r, field, "Invalid %s '%s': expected an ISO-8601 "
                          "date/time such as 2026-08-20T12:00:00Z", field, s);
        return -1;
    }
    return 0;
}

/* "2026-11-20T00:00:00.000Z", as Segment quotes times in range errors. */
static void fmt_millis(double t, char *buf, size_t len)
{
    char tmp[40];
    format_iso8601(t, tmp, sizeof(tmp));
    size_t n = strlen(tmp);
    if (n && tmp[n - 1] == 'Z')
        tmp[n - 1] = '\0';
    snprintf(buf, len, "%s.000Z", tmp);
}

int sim_check_range(double start, double end, double now, enum sim_gran g,
                    const struct sim_range_limits *lim, struct sim_reply *r)
{
    char a[48], b[48];
    fmt_millis(start, a, sizeof(a));
    fmt_millis(end, b, sizeof(b));
    if (end <= start) {
        sim_reply_invalid(r, "endTime", "Invalid date/time range '%s'-'%s'. "
                          "endTime must be after startTime.", a, b);
        return -1;
    }
    if (end - start > lim->max_window_s[g]) {
        sim_reply_invalid(r, "startTime", "Invalid date/time range '%s'-'%s'. "
                          "Granularity '%s' does not accept range over %s.",
                          a, b, gran_names[g], lim->window_text[g]);
        return -1;
    }
    if (start < now - lim->oldest_s[g] - OLDEST_GRACE_S) {
        sim_reply_invalid(r, "startTime", "Invalid date/time range '%s'-'%s'. "
                          "Granularity '%s' does not accept start time older "
                          "than %s.", a, b, gran_names[g],
                          lim->oldest_text[g]);
        return -1;
    }
    return 0;
}
