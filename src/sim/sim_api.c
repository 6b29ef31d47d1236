/*
 * sim_api.c - endpoint handlers of the simulator (see sim_api.h).
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "sim_api.h"
#include "sim_model.h"

#define MAX_LIST 64             /* values per array parameter */
#define VOLUME_PATH "/observability/event_volume/v2.json"

static const char *ep_names[EP_COUNT] = {
    "sources", "connected_destinations", "delivery_metrics", "events_volume",
    "usage_mtu_sources", "usage_mtu", "usage_api_calls_sources",
    "usage_api_calls", "other",
};

const char *sim_endpoint_name(enum sim_endpoint ep)
{
    return (unsigned)ep < EP_COUNT ? ep_names[ep] : "other";
}

/* ---- query string ------------------------------------------------------ */

struct qparam {
    char *key;      /* normalised: "pagination[count]" -> "pagination.count" */
    char *val;
};

struct query {
    struct qparam *p;
    size_t n, cap;
};

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

static void query_parse(struct query *q, const char *s)
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

static void query_free(struct query *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->p[i].key);
        free(q->p[i].val);
    }
    free(q->p);
}

/* Last value of key, or NULL. */
static const char *qget(const struct query *q, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->p[i].key, key) == 0)
            v = q->p[i].val;
    return v;
}

/*
 * Values of an array parameter in any of the forms clients use:
 * name.0=a&name.1=b, name[0]=a, name[]=a, repeated name=a&name=b and the
 * old comma-separated name=a,b.  Returns the count (<= MAX_LIST).
 */
static size_t qlist(const struct query *q, const char *name,
                    const char **out, char **owned, size_t *n_owned)
{
    size_t n = 0, nl = strlen(name);
    for (size_t i = 0; i < q->n && n < MAX_LIST; i++) {
        const char *k = q->p[i].key;
        if (strncmp(k, name, nl) != 0)
            continue;
        const char *rest = k + nl;
        if (*rest == '.') {
            for (const char *d = rest + 1; *d; d++)
                if (!isdigit((unsigned char)*d))
                    goto next;
        } else if (*rest != '\0') {
            continue;
        }
        if (strchr(q->p[i].val, ',')) {
            const char *v = q->p[i].val;
            while (*v && n < MAX_LIST) {
                const char *c = strchr(v, ',');
                size_t l = c ? (size_t)(c - v) : strlen(v);
                if (l && *n_owned < MAX_LIST) {
                    owned[*n_owned] = xstrndup(v, l);
                    out[n++] = owned[(*n_owned)++];
                }
                v = c ? c + 1 : v + l;
            }
        } else if (q->p[i].val[0]) {
            out[n++] = q->p[i].val;
        }
next:
        ;
    }
    return n;
}

/* ---- JSON helpers ------------------------------------------------------ */

static void json_kstr(struct strbuf *sb, const char *k, const char *v)
{
    strbuf_add_json_str(sb, k);
    strbuf_addc(sb, ':');
    strbuf_add_json_str(sb, v ? v : "");
}

static void json_time(struct strbuf *sb, double t)
{
    char buf[40];
    format_iso8601(t, buf, sizeof(buf));
    strbuf_add_json_str(sb, buf);
}

/* Numbers without trailing zeros: 0.412, 1.8, 30 */
static void json_num(struct strbuf *sb, double v)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%.3f", v);
    char *dot = strchr(buf, '.');
    if (dot) {
        char *e = buf + strlen(buf) - 1;
        while (e > dot && *e == '0')
            *e-- = '\0';
        if (e == dot)
            *e = '\0';
    }
    if (strcmp(buf, "-0") == 0)
        snprintf(buf, sizeof(buf), "0");
    strbuf_adds(sb, buf);
}

void sim_reply_error(struct sim_reply *r, int status, const char *type,
                     const char *message, const char *field)
{
    r->status = status;
    r->content_type = "application/json";
    strbuf_reset(&r->body);
    strbuf_adds(&r->body, "{\"errors\":[{");
    json_kstr(&r->body, "type", type);
    strbuf_addc(&r->body, ',');
    json_kstr(&r->body, "message", message);
    if (field) {
        strbuf_addc(&r->body, ',');
        json_kstr(&r->body, "field", field);
    }
    if (status != 404)
        strbuf_addf(&r->body, ",\"status\":%d", status);
    strbuf_adds(&r->body, "}]}");
}

static void not_found(struct sim_reply *r)
{
    sim_reply_error(r, 404, "NotFound", "Resource not found", NULL);
}

static void invalid(struct sim_reply *r, const char *field, const char *fmt,
                    ...) PRINTF_LIKE(3, 4);
static void invalid(struct sim_reply *r, const char *field, const char *fmt,
                    ...)
{
    struct strbuf msg = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&msg, fmt, ap);
    va_end(ap);
    sim_reply_error(r, 422, "ValidationFailure", strbuf_str(&msg), field);
    strbuf_free(&msg);
}

/* ---- pagination -------------------------------------------------------- */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void add_cursor(struct strbuf *sb, size_t offset)
{
    char num[32];
    int n = snprintf(num, sizeof(num), "%zu", offset);
    strbuf_addc(sb, '"');
    for (int i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)num[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)num[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)num[i + 2];
        strbuf_addc(sb, b64chars[(v >> 18) & 63]);
        strbuf_addc(sb, b64chars[(v >> 12) & 63]);
        strbuf_addc(sb, i + 1 < n ? b64chars[(v >> 6) & 63] : '=');
        strbuf_addc(sb, i + 2 < n ? b64chars[v & 63] : '=');
    }
    strbuf_addc(sb, '"');
}

/* base64 of a decimal offset -> offset; -1 when invalid. */
static long decode_cursor(const char *s)
{
    char out[32];
    size_t len = strlen(s), o = 0;
    if (len == 0 || len % 4 != 0 || len > 24)
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

struct page {
    size_t offset, count;
};

static int parse_page(const struct scenario *sc, const struct query *q,
                      struct page *pg, struct sim_reply *r)
{
    const char *c = qget(q, "pagination.count");
    const char *cur = qget(q, "pagination.cursor");
    long count = sc->default_page_size;
    if (c) {
        if (parse_long(c, &count) != 0 || count < 1 || count > 1000) {
            invalid(r, "pagination.count", "pagination.count must be an "
                    "integer between 1 and 1000, got '%s'", c);
            return -1;
        }
    }
    if (count > sc->max_page_size)
        count = sc->max_page_size;
    pg->count = (size_t)count;
    pg->offset = 0;
    if (cur && *cur) {
        long off = decode_cursor(cur);
        if (off < 0) {
            invalid(r, "pagination.cursor", "Invalid cursor '%s'", cur);
            return -1;
        }
        pg->offset = (size_t)off;
    }
    return 0;
}

/* Items [offset, end) of total are shown; end is returned. */
static size_t page_end(const struct page *pg, size_t total)
{
    size_t end = pg->offset + pg->count;
    if (pg->offset > total)
        return pg->offset;
    return end > total ? total : end;
}

static void add_pagination(struct strbuf *sb, const struct page *pg,
                           size_t total)
{
    strbuf_adds(sb, "\"pagination\":{\"current\":");
    add_cursor(sb, pg->offset);
    if (pg->offset + pg->count < total) {
        strbuf_adds(sb, ",\"next\":");
        add_cursor(sb, pg->offset + pg->count);
    }
    strbuf_adds(sb, ",\"previous\":");
    if (pg->offset == 0)
        strbuf_adds(sb, "null");
    else
        add_cursor(sb, pg->offset > pg->count ? pg->offset - pg->count : 0);
    strbuf_addf(sb, ",\"totalEntries\":%zu}", total);
}

static void ok_json(struct sim_reply *r)
{
    r->status = 200;
    r->content_type = "application/json";
}

/* ---- /sources ---------------------------------------------------------- */

static void source_json(struct strbuf *sb, const struct scenario *sc,
                        const struct sim_source *s)
{
    strbuf_addc(sb, '{');
    json_kstr(sb, "id", s->id);
    strbuf_addc(sb, ',');
    json_kstr(sb, "slug", s->slug);
    strbuf_addc(sb, ',');
    json_kstr(sb, "name", s->name);
    strbuf_addc(sb, ',');
    json_kstr(sb, "workspaceId", sc->workspace_id);
    strbuf_addf(sb, ",\"enabled\":%s,\"writeKeys\":[],\"metadata\":{",
                s->enabled ? "true" : "false");
    json_kstr(sb, "id", s->meta_id);
    strbuf_addc(sb, ',');
    json_kstr(sb, "slug", s->type);
    strbuf_addc(sb, ',');
    json_kstr(sb, "name", s->meta_name);
    strbuf_adds(sb, ",\"categories\":[");
    strbuf_add_json_str(sb, s->meta_category);
    strbuf_adds(sb, "],\"description\":\"\",\"logos\":{\"default\":"
                "\"https://cdn.filepicker.io/api/file/sim\",\"mark\":null,"
                "\"alt\":null},\"options\":[],\"isCloudEventSource\":false,"
                "\"status\":\"PUBLIC\"},\"settings\":{},\"labels\":[");
    for (size_t i = 0; i < s->n_labels; i++) {
        strbuf_adds(sb, i ? ",{" : "{");
        json_kstr(sb, "key", s->label_keys[i]);
        strbuf_addc(sb, ',');
        json_kstr(sb, "value", s->label_values[i]);
        strbuf_addc(sb, '}');
    }
    strbuf_adds(sb, "]}");
}

static void h_sources(const struct scenario *sc, const struct query *q,
                      struct sim_reply *r)
{
    struct page pg;
    if (parse_page(sc, q, &pg, r) != 0)
        return;
    size_t end = page_end(&pg, sc->n_sources);
    strbuf_adds(&r->body, "{\"data\":{\"sources\":[");
    for (size_t i = pg.offset; i < end; i++) {
        if (i > pg.offset)
            strbuf_addc(&r->body, ',');
        source_json(&r->body, sc, &sc->sources[i]);
    }
    strbuf_adds(&r->body, "],");
    add_pagination(&r->body, &pg, sc->n_sources);
    strbuf_adds(&r->body, "}}");
    ok_json(r);
}

/* ---- /sources/{id}/connected-destinations ------------------------------ */

static void dest_json(struct strbuf *sb, const struct sim_source *s,
                      const struct sim_dest *d)
{
    strbuf_addc(sb, '{');
    json_kstr(sb, "id", d->id);
    strbuf_addc(sb, ',');
    json_kstr(sb, "name", d->name);
    strbuf_addf(sb, ",\"enabled\":%s,", d->enabled ? "true" : "false");
    json_kstr(sb, "sourceId", s->id);
    strbuf_adds(sb, ",\"settings\":{},\"metadata\":{");
    json_kstr(sb, "id", d->meta_id);
    strbuf_addc(sb, ',');
    json_kstr(sb, "name", d->meta_name);
    strbuf_addc(sb, ',');
    json_kstr(sb, "slug", d->slug);
    strbuf_adds(sb, ",\"description\":\"\",\"website\":"
                "\"https://segment.com\",\"status\":\"PUBLIC\",\"logos\":"
                "{\"default\":\"https://cdn.filepicker.io/api/file/sim\","
                "\"mark\":null,\"alt\":null},\"options\":[],"
                "\"previousNames\":[");
    strbuf_add_json_str(sb, d->meta_name);
    strbuf_adds(sb, "],\"categories\":[");
    strbuf_add_json_str(sb, d->meta_category);
    strbuf_adds(sb, "],\"components\":[],\"supportedFeatures\":{},"
                "\"supportedMethods\":{\"pageview\":true,\"identify\":true,"
                "\"alias\":false,\"track\":true,\"group\":true},"
                "\"supportedPlatforms\":{\"browser\":true,\"server\":true,"
                "\"mobile\":true},\"actions\":[],\"presets\":[]}}");
}

static void h_connected(const struct scenario *sc, const char *id,
                        const struct query *q, struct sim_reply *r)
{
    const struct sim_source *s = scenario_find_source(sc, id);
    struct page pg;
    if (!s) {
        not_found(r);
        return;
    }
    if (parse_page(sc, q, &pg, r) != 0)
        return;
    size_t end = page_end(&pg, s->n_dests);
    strbuf_adds(&r->body, "{\"data\":{\"destinations\":[");
    for (size_t i = pg.offset; i < end; i++) {
        if (i > pg.offset)
            strbuf_addc(&r->body, ',');
        dest_json(&r->body, s, &s->dests[i]);
    }
    strbuf_adds(&r->body, "],");
    add_pagination(&r->body, &pg, s->n_dests);
    strbuf_adds(&r->body, "}}");
    ok_json(r);
}

/* ---- time parameters --------------------------------------------------- */

enum gran { G_MINUTE, G_HOUR, G_DAY };

static const struct {
    const char *name;
    double bucket_s;
    double max_window_s;        /* delivery-metrics limits (73.2.0) */
    double oldest_s;
    const char *window_text, *oldest_text;
} grans[] = {
    { "MINUTE", 60, 4 * 3600, 48 * 3600, "4 hours", "48 hours" },
    { "HOUR", 3600, 7 * 86400, 7 * 86400, "7 days", "7 days" },
    { "DAY", 86400, 14 * 86400, 14 * 86400, "14 days", "14 days" },
};

static int parse_gran(const char *s, enum gran *g, struct sim_reply *r)
{
    for (int i = 0; i < 3; i++)
        if (streq(s, grans[i].name)) {
            *g = (enum gran)i;
            return 0;
        }
    invalid(r, "granularity", "Invalid granularity '%s': must be one of "
            "MINUTE, HOUR, DAY", s);
    return -1;
}

static int parse_time(const char *s, const char *field, double *t,
                      struct sim_reply *r)
{
    if (parse_iso8601(s, t) != 0) {
        invalid(r, field, "Invalid %s '%s': expected an ISO-8601 date/time "
                "such as 2026-08-20T12:00:00Z", field, s);
        return -1;
    }
    return 0;
}

static void fmt_millis(double t, char *buf, size_t len)
{
    char tmp[40];
    format_iso8601(t, tmp, sizeof(tmp));
    size_t n = strlen(tmp);
    if (n && tmp[n - 1] == 'Z')
        tmp[n - 1] = '\0';
    snprintf(buf, len, "%s.000Z", tmp);
}

/* ---- /destinations/{id}/delivery-metrics ------------------------------- */

static void metric_bd(struct strbuf *sb, const char *name, double total,
                      const char *n1, double v1, const char *n2, double v2)
{
    strbuf_adds(sb, "{\"metricName\":");
    strbuf_add_json_str(sb, name);
    strbuf_adds(sb, ",\"total\":");
    json_num(sb, total);
    strbuf_adds(sb, ",\"breakdown\":[{\"metricName\":");
    strbuf_add_json_str(sb, n1);
    strbuf_adds(sb, ",\"value\":");
    json_num(sb, v1);
    strbuf_adds(sb, "},{\"metricName\":");
    strbuf_add_json_str(sb, n2);
    strbuf_adds(sb, ",\"value\":");
    json_num(sb, v2);
    strbuf_adds(sb, "}]}");
}

static double lat_out(const struct scenario *sc, double s)
{
    return sc->latency_ms ? round(s * 1000) : s;
}

static void h_delivery(const struct scenario *sc, const char *id,
                       const struct query *q, double now, struct sim_reply *r)
{
    const struct sim_source *s = NULL;
    const struct sim_dest *d = scenario_find_dest(sc, id, &s);
    const char *sid = qget(q, "sourceId");
    const char *gs = qget(q, "granularity");
    const char *st = qget(q, "startTime"), *et = qget(q, "endTime");
    enum gran g = G_MINUTE;
    double start, end = now;
    char a[48], b[48];

    if (!d) {
        not_found(r);
        return;
    }
    if (!sid || !*sid) {
        invalid(r, "sourceId", "sourceId is required");
        return;
    }
    if (strcmp(sid, s->id) != 0) {
        not_found(r);
        return;
    }
    if (gs && parse_gran(gs, &g, r) != 0)
        return;
    /* Documented defaults; DAY's 30 days deliberately breaks the 14-day
     * limit, as the real API's does. */
    start = now - (g == G_MINUTE ? 3600 : g == G_HOUR ? 7 * 86400
                                                      : 30 * 86400);
    if (st && parse_time(st, "startTime", &start, r) != 0)
        return;
    if (et && parse_time(et, "endTime", &end, r) != 0)
        return;
    fmt_millis(start, a, sizeof(a));
    fmt_millis(end, b, sizeof(b));
    if (end <= start) {
        invalid(r, "endTime", "Invalid date/time range '%s'-'%s'. endTime "
                "must be after startTime.", a, b);
        return;
    }
    if (end - start > grans[g].max_window_s) {
        invalid(r, "startTime", "Invalid date/time range '%s'-'%s'. "
                "Granularity '%s' does not accept range over %s.", a, b,
                grans[g].name, grans[g].window_text);
        return;
    }
    /* A few minutes of grace: clients compute "now - 48h" on their clock. */
    if (start < now - grans[g].oldest_s - 300) {
        invalid(r, "startTime", "Invalid date/time range '%s'-'%s'. "
                "Granularity '%s' does not accept start time older than %s.",
                a, b, grans[g].name, grans[g].oldest_text);
        return;
    }

    struct delivery_summary m;
    model_delivery(sc, s, d, start, end, now, &m);
    struct strbuf *sb = &r->body;
    strbuf_adds(sb, "{\"data\":{\"deliveryMetricsSummary\":{");
    json_kstr(sb, "sourceId", s->id);
    strbuf_addc(sb, ',');
    json_kstr(sb, "destinationMetadataId", d->meta_id);
    strbuf_adds(sb, ",\"metrics\":[");
    metric_bd(sb, "successes", (double)m.successes,
              "successes_on_first_attempt", (double)m.first_attempt,
              "successes_after_retry", (double)m.after_retry);
    strbuf_addf(sb, ",{\"metricName\":\"expired\",\"total\":%lld}",
                (long long)m.expired);
    strbuf_addf(sb, ",{\"metricName\":\"discarded\",\"total\":%lld}",
                (long long)m.discarded);
    strbuf_addf(sb, ",{\"metricName\":\"retried\",\"total\":%lld},",
                (long long)m.retried);
    metric_bd(sb, "time_to_success", (double)m.successes,
              "time_to_success_average", lat_out(sc, m.tts_avg_s),
              "time_to_success_p95", lat_out(sc, m.tts_p95_s));
    strbuf_addc(sb, ',');
    metric_bd(sb, "time_to_first_attempt",
              (double)(m.successes + m.discarded),
              "time_to_first_attempt_average", lat_out(sc, m.tfa_avg_s),
              "time_to_first_attempt_p95", lat_out(sc, m.tfa_p95_s));
    strbuf_adds(sb, "]}}}");
    ok_json(r);
}

/* ---- /events/volume ---------------------------------------------------- */

static void add_str_array(struct strbuf *sb, const char *key,
                          const char **v, size_t n)
{
    strbuf_addc(sb, ',');
    strbuf_add_json_str(sb, key);
    strbuf_adds(sb, ":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_addc(sb, ',');
        strbuf_add_json_str(sb, v[i]);
    }
    strbuf_addc(sb, ']');
}

/* One result group: the sum of srcs over each bucket. */
static void volume_group(struct strbuf *sb, const struct scenario *sc,
                         const struct sim_source **srcs, size_t n_srcs,
                         bool with_source, double start, double end,
                         double bucket_s, double now)
{
    double first = floor(start / bucket_s) * bucket_s;
    size_t nb = 0;
    for (double b = first; b < end && b <= now; b += bucket_s)
        nb++;
    int64_t *counts = xcalloc(nb + 1, sizeof(*counts));
    int64_t total = 0;
    size_t i = 0;
    for (double b = first; i < nb; b += bucket_s, i++) {
        double lo = fmax(b, start), hi = fmin(b + bucket_s, end);
        for (size_t k = 0; k < n_srcs; k++)
            counts[i] += model_events(sc, srcs[k], lo, hi, now);
        total += counts[i];
    }
    strbuf_addc(sb, '{');
    if (with_source) {
        strbuf_adds(sb, "\"source\":{");
        json_kstr(sb, "id", srcs[0]->id);
        strbuf_addc(sb, ',');
        json_kstr(sb, "name", srcs[0]->name);
        strbuf_addc(sb, ',');
        json_kstr(sb, "slug", srcs[0]->slug);
        strbuf_adds(sb, "},");
    }
    strbuf_addf(sb, "\"total\":%lld,\"series\":[", (long long)total);
    i = 0;
    for (double b = first; i < nb; b += bucket_s, i++) {
        strbuf_adds(sb, i ? ",{\"time\":" : "{\"time\":");
        json_time(sb, b);
        strbuf_addf(sb, ",\"count\":%lld}", (long long)counts[i]);
    }
    strbuf_adds(sb, "]}");
    free(counts);
}

static void h_volume(const struct scenario *sc, const struct query *q,
                     double now, struct sim_reply *r)
{
    const char *gs = qget(q, "granularity");
    const char *st = qget(q, "startTime"), *et = qget(q, "endTime");
    const char *group_by[MAX_LIST], *source_ids[MAX_LIST];
    char *owned[MAX_LIST];
    size_t n_owned = 0, n_gb, n_sid;
    enum gran g;
    double start, end;
    struct page pg;
    const struct sim_source **sel = NULL;
    size_t n_sel = 0;

    if (!gs || !*gs) {
        invalid(r, "granularity", "granularity is required");
        return;
    }
    if (!st || !*st) {
        invalid(r, "startTime", "startTime is required");
        return;
    }
    if (!et || !*et) {
        invalid(r, "endTime", "endTime is required");
        return;
    }
    if (parse_gran(gs, &g, r) != 0 ||
        parse_time(st, "startTime", &start, r) != 0 ||
        parse_time(et, "endTime", &end, r) != 0)
        return;
    if (end <= start) {
        invalid(r, "endTime", "endTime must be after startTime");
        return;
    }
    /* The real limits are not documented; these keep responses sane. */
    double max_w = g == G_MINUTE ? 7 * 86400.0 : 31 * 86400.0;
    if (end - start > max_w) {
        invalid(r, "startTime", "Invalid date/time range: granularity '%s' "
                "does not accept range over %s in segalert-sim",
                grans[g].name, g == G_MINUTE ? "7 days" : "31 days");
        return;
    }
    if (parse_page(sc, q, &pg, r) != 0)
        return;
    n_gb = qlist(q, "groupBy", group_by, owned, &n_owned);
    n_sid = qlist(q, "sourceId", source_ids, owned, &n_owned);
    bool by_source = false;
    for (size_t i = 0; i < n_gb; i++) {
        if (streq(group_by[i], "source")) {
            by_source = true;
        } else {
            invalid(r, "groupBy", "groupBy '%s' is not supported by "
                    "segalert-sim (only 'source')", group_by[i]);
            goto out;
        }
    }
    sel = xcalloc(sc->n_sources + 1, sizeof(*sel));
    for (size_t i = 0; i < sc->n_sources; i++) {
        const struct sim_source *s = &sc->sources[i];
        bool want = n_sid == 0 && s->enabled;
        for (size_t k = 0; k < n_sid; k++)
            if (streq(source_ids[k], s->id))
                want = true;
        if (want)
            sel[n_sel++] = s;
    }

    size_t n_groups = by_source ? n_sel : 1;
    size_t pend = page_end(&pg, n_groups);
    struct strbuf *sb = &r->body;
    strbuf_adds(sb, "{\"data\":{\"path\":\"" VOLUME_PATH "\",\"query\":{");
    json_kstr(sb, "workspaceId", sc->workspace_id);
    strbuf_addc(sb, ',');
    json_kstr(sb, "granularity", grans[g].name);
    strbuf_adds(sb, ",\"startTime\":");
    json_time(sb, start);
    strbuf_adds(sb, ",\"endTime\":");
    json_time(sb, end);
    if (n_gb)
        add_str_array(sb, "groupBy", group_by, n_gb);
    if (n_sid)
        add_str_array(sb, "sourceId", source_ids, n_sid);
    strbuf_adds(sb, "},\"result\":[");
    for (size_t i = pg.offset; i < pend; i++) {
        if (i > pg.offset)
            strbuf_addc(sb, ',');
        if (by_source)
            volume_group(sb, sc, &sel[i], 1, true, start, end,
                         grans[g].bucket_s, now);
        else
            volume_group(sb, sc, sel, n_sel, false, start, end,
                         grans[g].bucket_s, now);
    }
    strbuf_adds(sb, "],");
    add_pagination(sb, &pg, n_groups);
    strbuf_adds(sb, "}}");
    ok_json(r);
out:
    free(sel);
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
}

/* ---- /usage/... -------------------------------------------------------- */

enum usage_kind { U_MTU, U_API };

struct usage_ctx {
    double ps, pe, now;
    size_t n_days;
};

static int usage_period(const struct scenario *sc, const struct query *q,
                        double now, struct usage_ctx *u, struct sim_reply *r)
{
    const char *p = qget(q, "period");
    double t;
    if (!p || !*p) {
        invalid(r, "period", "period is required (e.g. period=2026-08-01)");
        return -1;
    }
    if (parse_iso8601(p, &t) != 0) {
        invalid(r, "period", "Invalid period '%s': expected a date such as "
                "2026-08-01", p);
        return -1;
    }
    model_period(sc, t, &u->ps, &u->pe);
    u->now = now;
    u->n_days = 0;
    for (double d = u->ps; d < u->pe && d <= now; d += 86400)
        u->n_days++;
    return 0;
}

static void usage_row(struct strbuf *sb, const struct scenario *sc,
                      enum usage_kind kind, const struct usage_ctx *u,
                      const struct sim_source *only, size_t day)
{
    double d0 = u->ps + (double)day * 86400;
    double t = fmin(d0 + 86400, u->now);
    strbuf_addc(sb, '{');
    if (only) {
        json_kstr(sb, "sourceId", only->id);
        strbuf_addc(sb, ',');
    }
    if (kind == U_MTU) {
        struct mtu_counts c = { 0 }, one;
        for (size_t i = 0; i < sc->n_sources; i++) {
            const struct sim_source *s = &sc->sources[i];
            if (only && s != only)
                continue;
            model_mtu(sc, s, u->ps, t, &one);
            c.identified += one.identified;
            c.never_identified += one.never_identified;
            c.anonymous += one.anonymous;
            c.anonymous_identified += one.anonymous_identified;
        }
        strbuf_addf(sb, "\"periodStart\":%lld,\"periodEnd\":%lld,"
                    "\"anonymous\":\"%lld\",\"anonymousIdentified\":\"%lld\","
                    "\"identified\":\"%lld\",\"neverIdentified\":\"%lld\",",
                    (long long)u->ps, (long long)u->pe,
                    (long long)c.anonymous, (long long)c.anonymous_identified,
                    (long long)c.identified, (long long)c.never_identified);
    } else {
        int64_t calls = 0;
        for (size_t i = 0; i < sc->n_sources; i++) {
            const struct sim_source *s = &sc->sources[i];
            if (!only || s == only)
                calls += model_api_calls(sc, s, u->ps, t);
        }
        strbuf_addf(sb, "\"apiCalls\":\"%lld\",", (long long)calls);
    }
    strbuf_adds(sb, "\"timestamp\":");
    json_time(sb, d0);
    strbuf_addc(sb, '}');
}

static void h_usage(const struct scenario *sc, enum usage_kind kind,
                    bool per_source, const struct query *q, double now,
                    struct sim_reply *r)
{
    struct usage_ctx u;
    struct page pg;
    static const char *keys[2][2] = {
        { "dailyWorkspaceMTUUsage", "dailyPerSourceMTUUsage" },
        { "dailyWorkspaceAPICallsUsage", "dailyPerSourceAPICallsUsage" },
    };
    if (usage_period(sc, q, now, &u, r) != 0 || parse_page(sc, q, &pg, r))
        return;
    size_t total = per_source ? sc->n_sources * u.n_days : u.n_days;
    size_t end = page_end(&pg, total);
    struct strbuf *sb = &r->body;
    strbuf_adds(sb, "{\"data\":{");
    strbuf_add_json_str(sb, keys[kind][per_source]);
    strbuf_adds(sb, ":[");
    for (size_t i = pg.offset; i < end; i++) {
        if (i > pg.offset)
            strbuf_addc(sb, ',');
        if (per_source)
            usage_row(sb, sc, kind, &u, &sc->sources[i / u.n_days],
                      i % u.n_days);
        else
            usage_row(sb, sc, kind, &u, NULL, i);
    }
    strbuf_adds(sb, "],");
    add_pagination(sb, &pg, total);
    strbuf_adds(sb, "}}");
    ok_json(r);
}

/* ---- routing ----------------------------------------------------------- */

/* "/sources/ID/connected-destinations" -> ID (borrowed into buf). */
static bool match_id(const char *path, const char *prefix, const char *suffix,
                     char *buf, size_t len)
{
    size_t pl = strlen(prefix), sl = strlen(suffix), n = strlen(path);
    if (n <= pl + sl || strncmp(path, prefix, pl) != 0 ||
        strcmp(path + n - sl, suffix) != 0)
        return false;
    size_t idl = n - pl - sl;
    if (idl >= len || memchr(path + pl, '/', idl))
        return false;
    memcpy(buf, path + pl, idl);
    buf[idl] = '\0';
    return true;
}

enum sim_endpoint sim_api_route(const char *path)
{
    char id[256];
    size_t n = strlen(path);
    /* tolerate one trailing slash */
    if (n > 1 && path[n - 1] == '/') {
        char *p = xstrndup(path, n - 1);
        enum sim_endpoint ep = sim_api_route(p);
        free(p);
        return ep;
    }
    if (strcmp(path, "/sources") == 0)
        return EP_SOURCES;
    if (match_id(path, "/sources/", "/connected-destinations", id,
                 sizeof(id)))
        return EP_CONNECTED;
    if (match_id(path, "/destinations/", "/delivery-metrics", id, sizeof(id)))
        return EP_DELIVERY;
    if (strcmp(path, "/events/volume") == 0)
        return EP_VOLUME;
    if (strcmp(path, "/usage/mtu/sources/daily") == 0)
        return EP_MTU_SOURCES;
    if (strcmp(path, "/usage/mtu/daily") == 0)
        return EP_MTU;
    if (strcmp(path, "/usage/api-calls/sources/daily") == 0)
        return EP_API_SOURCES;
    if (strcmp(path, "/usage/api-calls/daily") == 0)
        return EP_API;
    return EP_OTHER;
}

void sim_api_handle(const struct scenario *sc, const char *path,
                    const char *query, double now, struct sim_reply *r)
{
    struct query q = { 0 };
    char id[256];
    char *p = xstrdup(path);
    size_t n = strlen(p);
    if (n > 1 && p[n - 1] == '/')
        p[n - 1] = '\0';
    query_parse(&q, query);
    switch (sim_api_route(p)) {
    case EP_SOURCES:
        h_sources(sc, &q, r);
        break;
    case EP_CONNECTED:
        match_id(p, "/sources/", "/connected-destinations", id, sizeof(id));
        h_connected(sc, id, &q, r);
        break;
    case EP_DELIVERY:
        match_id(p, "/destinations/", "/delivery-metrics", id, sizeof(id));
        h_delivery(sc, id, &q, now, r);
        break;
    case EP_VOLUME:
        h_volume(sc, &q, now, r);
        break;
    case EP_MTU_SOURCES:
        h_usage(sc, U_MTU, true, &q, now, r);
        break;
    case EP_MTU:
        h_usage(sc, U_MTU, false, &q, now, r);
        break;
    case EP_API_SOURCES:
        h_usage(sc, U_API, true, &q, now, r);
        break;
    case EP_API:
        h_usage(sc, U_API, false, &q, now, r);
        break;
    default:
        not_found(r);
        break;
    }
    query_free(&q);
    free(p);
}
