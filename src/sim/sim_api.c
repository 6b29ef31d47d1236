/*
 * sim_api.c - routing and the endpoint handlers of the simulator (see
 * sim_api.h).  Bodies are written with the jw_* streaming writer.
 */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "core/util.h"
#include "sim_api.h"
#include "sim_model.h"
#include "sim_overview.h"

#define VOLUME_PATH "/observability/event_volume/v2.json"
#define OVERVIEW_PREFIX "/delivery-overview/"

/* Longest path segment taken as an id. */
#define ID_MAX 256

static const char *ep_names[EP_COUNT] = {
    "sources", "connected_destinations", "delivery_metrics", "events_volume",
    "usage_mtu_sources", "usage_mtu", "usage_api_calls_sources",
    "usage_api_calls", "delivery_overview", "other",
};

const char *sim_endpoint_name(enum sim_endpoint ep)
{
    return (unsigned)ep < EP_COUNT ? ep_names[ep] : "other";
}

/* ---- /sources ---------------------------------------------------------- */

/* Names, slugs and labels go out byte for byte (jw_str_bytes): a scenario
 * may give them invalid UTF-8 ("\xff") or control characters to rehearse
 * a hostile API (docs/sim.md "Hostile names"). */
static void source_json(struct strbuf *sb, const struct scenario *sc,
                        const struct sim_source *s)
{
    jw_open(sb, NULL, '{');
    jw_str(sb, "id", s->id);
    jw_str_bytes(sb, "slug", s->slug);
    jw_str_bytes(sb, "name", s->name);
    jw_str(sb, "workspaceId", sc->workspace_id);
    jw_bool(sb, "enabled", s->enabled);
    jw_open(sb, "writeKeys", '[');
    jw_close(sb, ']');
    jw_open(sb, "metadata", '{');
    jw_str(sb, "id", s->meta_id);
    jw_str(sb, "slug", s->type);
    jw_str(sb, "name", s->meta_name);
    jw_open(sb, "categories", '[');
    jw_str(sb, NULL, s->meta_category);
    jw_close(sb, ']');
    jw_str(sb, "description", "");
    jw_open(sb, "logos", '{');
    jw_str(sb, "default", "https://cdn.filepicker.io/api/file/sim");
    jw_null(sb, "mark");
    jw_null(sb, "alt");
    jw_close(sb, '}');
    jw_open(sb, "options", '[');
    jw_close(sb, ']');
    jw_bool(sb, "isCloudEventSource", false);
    jw_str(sb, "status", "PUBLIC");
    jw_close(sb, '}');
    jw_open(sb, "settings", '{');
    jw_close(sb, '}');
    jw_open(sb, "labels", '[');
    for (size_t i = 0; i < s->n_labels; i++) {
        jw_open(sb, NULL, '{');
        jw_str_bytes(sb, "key", s->label_keys[i]);
        jw_str_bytes(sb, "value", s->label_values[i]);
        jw_close(sb, '}');
    }
    jw_close(sb, ']');
    jw_close(sb, '}');
}

static void h_sources(const struct scenario *sc, const char *path,
                      const struct sim_query *q, struct sim_reply *r)
{
    struct sim_page pg;
    size_t lo, hi;
    if (sim_page_parse(sc, q, path, &pg, r) != 0)
        return;
    sim_page_range(&pg, sc->n_sources, &lo, &hi);
    struct strbuf *sb = &r->body;
    jw_open(sb, NULL, '{');
    jw_open(sb, "data", '{');
    jw_open(sb, "sources", '[');
    for (size_t i = lo; i < hi; i++)
        source_json(sb, sc, &sc->sources[i]);
    jw_close(sb, ']');
    sim_page_json(sb, &pg, sc->n_sources);
    jw_close(sb, '}');
    jw_close(sb, '}');
    sim_reply_ok(r);
}

/* ---- /sources/{id}/connected-destinations ------------------------------ */

/*
 * The connection mode shows in the catalogue part of the entry, in the
 * real API's shapes: a cloud-mode instance has a SERVER component and
 * supportedFeatures.cloudModeInstances "MULTIPLE"; a device-mode one a
 * BROWSER, IOS or ANDROID component (by its source's platform),
 * cloudModeInstances "NONE" and deviceModeInstances "SINGLE".
 */
static void mode_json(struct strbuf *sb, const struct sim_source *s,
                      const struct sim_dest *d)
{
    bool device = d->mode == SIM_MODE_DEVICE;
    const char *type = !device ? "SERVER"
                     : streq(s->type, "ios") ? "IOS"
                     : streq(s->type, "android") ? "ANDROID" : "BROWSER";
    char code[256];
    if (!device)
        snprintf(code, sizeof(code), "https://github.com/segmentio/"
                 "integrations/tree/master/integrations/%s", d->slug);
    else if (streq(type, "BROWSER"))
        snprintf(code, sizeof(code), "https://github.com/segmentio/"
                 "analytics.js-integrations/tree/master/integrations/%s",
                 d->slug);
    else
        snprintf(code, sizeof(code), "https://github.com/"
                 "segment-integrations/analytics-%s-integration-%s",
                 streq(type, "IOS") ? "ios" : "android", d->slug);
    jw_open(sb, "components", '[');
    jw_open(sb, NULL, '{');
    jw_str(sb, "type", type);
    jw_str(sb, "code", code);
    jw_str(sb, "owner", "SEGMENT");
    jw_close(sb, '}');
    jw_close(sb, ']');
    jw_open(sb, "supportedFeatures", '{');
    jw_str(sb, "cloudModeInstances", device ? "NONE" : "MULTIPLE");
    jw_str(sb, "deviceModeInstances", device ? "SINGLE" : "NONE");
    jw_bool(sb, "replay", false);
    jw_bool(sb, "browserUnbundling", false);
    jw_bool(sb, "browserUnbundlingPublic", false);
    jw_close(sb, '}');
}

static void dest_json(struct strbuf *sb, const struct sim_source *s,
                      const struct sim_dest *d)
{
    jw_open(sb, NULL, '{');
    jw_str(sb, "id", d->id);
    jw_str_bytes(sb, "name", d->name);
    jw_bool(sb, "enabled", d->enabled);
    jw_str(sb, "sourceId", s->id);
    jw_open(sb, "settings", '{');
    jw_close(sb, '}');
    jw_open(sb, "metadata", '{');
    jw_str(sb, "id", d->meta_id);
    jw_str(sb, "name", d->meta_name);
    jw_str_bytes(sb, "slug", d->slug);
    jw_str(sb, "description", "");
    jw_str(sb, "website", "https://segment.com");
    jw_str(sb, "status", "PUBLIC");
    jw_open(sb, "logos", '{');
    jw_str(sb, "default", "https://cdn.filepicker.io/api/file/sim");
    jw_null(sb, "mark");
    jw_null(sb, "alt");
    jw_close(sb, '}');
    jw_open(sb, "options", '[');
    jw_close(sb, ']');
    jw_open(sb, "previousNames", '[');
    jw_str(sb, NULL, d->meta_name);
    jw_close(sb, ']');
    jw_open(sb, "categories", '[');
    jw_str(sb, NULL, d->meta_category);
    jw_close(sb, ']');
    mode_json(sb, s, d);
    jw_open(sb, "supportedMethods", '{');
    jw_bool(sb, "pageview", true);
    jw_bool(sb, "identify", true);
    jw_bool(sb, "alias", false);
    jw_bool(sb, "track", true);
    jw_bool(sb, "group", true);
    jw_close(sb, '}');
    jw_open(sb, "supportedPlatforms", '{');
    jw_bool(sb, "browser", true);
    jw_bool(sb, "server", d->mode == SIM_MODE_CLOUD);
    jw_bool(sb, "mobile", true);
    jw_close(sb, '}');
    jw_open(sb, "actions", '[');
    jw_close(sb, ']');
    jw_open(sb, "presets", '[');
    jw_close(sb, ']');
    jw_close(sb, '}');
    jw_close(sb, '}');
}

static void h_connected(const struct scenario *sc, const char *path,
                        const char *id, const struct sim_query *q,
                        struct sim_reply *r)
{
    const struct sim_source *s = scenario_find_source(sc, id);
    struct sim_page pg;
    size_t lo, hi;
    if (!s || s->not_found) {
        sim_reply_not_found(r);
        return;
    }
    if (sim_page_parse(sc, q, path, &pg, r) != 0)
        return;
    sim_page_range(&pg, s->n_dests, &lo, &hi);
    struct strbuf *sb = &r->body;
    jw_open(sb, NULL, '{');
    jw_open(sb, "data", '{');
    jw_open(sb, "destinations", '[');
    for (size_t i = lo; i < hi; i++)
        dest_json(sb, s, &s->dests[i]);
    jw_close(sb, ']');
    sim_page_json(sb, &pg, s->n_dests);
    jw_close(sb, '}');
    jw_close(sb, '}');
    sim_reply_ok(r);
}

/* ---- /destinations/{id}/delivery-metrics ------------------------------- */

/* A figure as Segment prints it: at most 3 decimals, no trailing zeros. */
static void metric_num(struct strbuf *sb, const char *key, double v)
{
    jw_double(sb, key, round(v * 1000) / 1000 + 0.0);
}

static void metric_bd(struct strbuf *sb, const char *name, double total,
                      const char *n1, double v1, const char *n2, double v2)
{
    jw_open(sb, NULL, '{');
    jw_str(sb, "metricName", name);
    metric_num(sb, "total", total);
    jw_open(sb, "breakdown", '[');
    jw_open(sb, NULL, '{');
    jw_str(sb, "metricName", n1);
    metric_num(sb, "value", v1);
    jw_close(sb, '}');
    jw_open(sb, NULL, '{');
    jw_str(sb, "metricName", n2);
    metric_num(sb, "value", v2);
    jw_close(sb, '}');
    jw_close(sb, ']');
    jw_close(sb, '}');
}

static void metric_total(struct strbuf *sb, const char *name, int64_t total)
{
    jw_open(sb, NULL, '{');
    jw_str(sb, "metricName", name);
    jw_int(sb, "total", total);
    jw_close(sb, '}');
}

static double lat_out(const struct scenario *sc, double s)
{
    return sc->latency_ms ? round(s * 1000) : s;
}

static void h_delivery(const struct scenario *sc, const char *id,
                       const struct sim_query *q, double now,
                       struct sim_reply *r)
{
    const struct sim_source *s = NULL;
    const struct sim_dest *d = scenario_find_dest(sc, id, &s);
    const char *sid = sim_qget(q, "sourceId");
    const char *gs = sim_qget(q, "granularity");
    const char *st = sim_qget(q, "startTime"), *et = sim_qget(q, "endTime");
    enum sim_gran g = SIM_MINUTE;
    double start, end = now;

    if (!d) {
        sim_reply_not_found(r);
        return;
    }
    if (!sid || !*sid) {
        sim_reply_invalid(r, "sourceId", "sourceId is required");
        return;
    }
    if (strcmp(sid, s->id) != 0) {
        sim_reply_not_found(r);
        return;
    }
    if (gs && sim_parse_gran(gs, &g, r) != 0)
        return;
    /* Documented defaults; DAY's 30 days deliberately breaks the 14-day
     * limit, as the real API's does. */
    start = now - (g == SIM_MINUTE ? 3600 : g == SIM_HOUR ? 7 * 86400
                                                          : 30 * 86400);
    if (st && sim_parse_time(st, "startTime", &start, r) != 0)
        return;
    if (et && sim_parse_time(et, "endTime", &end, r) != 0)
        return;
    if (sim_check_range(start, end, now, g, &sim_delivery_limits, r) != 0)
        return;

    struct delivery_summary m;
    model_delivery(sc, s, d, start, end, now, &m);
    struct strbuf *sb = &r->body;
    jw_open(sb, NULL, '{');
    jw_open(sb, "data", '{');
    jw_open(sb, "deliveryMetricsSummary", '{');
    jw_str(sb, "sourceId", s->id);
    jw_str(sb, "destinationMetadataId", d->meta_id);
    jw_open(sb, "metrics", '[');
    metric_bd(sb, "successes", (double)m.successes,
              "successes_on_first_attempt", (double)m.first_attempt,
              "successes_after_retry", (double)m.after_retry);
    metric_total(sb, "expired", m.expired);
    metric_total(sb, "discarded", m.discarded);
    metric_total(sb, "retried", m.retried);
    metric_bd(sb, "time_to_success", (double)m.successes,
              "time_to_success_average", lat_out(sc, m.tts_avg_s),
              "time_to_success_p95", lat_out(sc, m.tts_p95_s));
    metric_bd(sb, "time_to_first_attempt",
              (double)(m.successes + m.discarded),
              "time_to_first_attempt_average", lat_out(sc, m.tfa_avg_s),
              "time_to_first_attempt_p95", lat_out(sc, m.tfa_p95_s));
    jw_close(sb, ']');
    jw_close(sb, '}');
    jw_close(sb, '}');
    jw_close(sb, '}');
    sim_reply_ok(r);
}

/* ---- /events/volume ---------------------------------------------------- */

static void str_array(struct strbuf *sb, const char *key, const char **v,
                      size_t n)
{
    jw_open(sb, key, '[');
    for (size_t i = 0; i < n; i++)
        jw_str(sb, NULL, v[i]);
    jw_close(sb, ']');
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
    jw_open(sb, NULL, '{');
    if (with_source) {
        jw_open(sb, "source", '{');
        jw_str(sb, "id", srcs[0]->id);
        jw_str_bytes(sb, "name", srcs[0]->name);
        jw_str_bytes(sb, "slug", srcs[0]->slug);
        jw_close(sb, '}');
    }
    jw_int(sb, "total", total);
    jw_open(sb, "series", '[');
    i = 0;
    for (double b = first; i < nb; b += bucket_s, i++) {
        jw_open(sb, NULL, '{');
        jw_time(sb, "time", b);
        jw_int(sb, "count", counts[i]);
        jw_close(sb, '}');
    }
    jw_close(sb, ']');
    jw_close(sb, '}');
    free(counts);
}

static void h_volume(const struct scenario *sc, const char *path,
                     struct sim_query *q, double now, struct sim_reply *r)
{
    const char *gs = sim_qget(q, "granularity");
    const char *st = sim_qget(q, "startTime"), *et = sim_qget(q, "endTime");
    const char *group_by[SIM_MAX_LIST], *source_ids[SIM_MAX_LIST];
    size_t n_gb, n_sid;
    enum sim_gran g;
    double start, end;
    struct sim_page pg;

    if (!gs || !*gs) {
        sim_reply_invalid(r, "granularity", "granularity is required");
        return;
    }
    if (!st || !*st) {
        sim_reply_invalid(r, "startTime", "startTime is required");
        return;
    }
    if (!et || !*et) {
        sim_reply_invalid(r, "endTime", "endTime is required");
        return;
    }
    if (sim_parse_gran(gs, &g, r) != 0 ||
        sim_parse_time(st, "startTime", &start, r) != 0 ||
        sim_parse_time(et, "endTime", &end, r) != 0)
        return;
    if (end <= start) {
        sim_reply_invalid(r, "endTime", "endTime must be after startTime");
        return;
    }
    /* The real limits are not documented; these keep responses sane. */
    double max_w = g == SIM_MINUTE ? 7 * 86400.0 : 31 * 86400.0;
    if (end - start > max_w) {
        sim_reply_invalid(r, "startTime", "Invalid date/time range: "
                          "granularity '%s' does not accept range over %s "
                          "in segalert-sim", sim_gran_name(g),
                          g == SIM_MINUTE ? "7 days" : "31 days");
        return;
    }
    if (sim_page_parse(sc, q, path, &pg, r) != 0)
        return;
    n_gb = sim_qlist(q, "groupBy", group_by);
    n_sid = sim_qlist(q, "sourceId", source_ids);
    bool by_source = false;
    for (size_t i = 0; i < n_gb; i++) {
        if (!streq(group_by[i], "source")) {
            sim_reply_invalid(r, "groupBy", "groupBy '%s' is not supported "
                              "by segalert-sim (only 'source')", group_by[i]);
            return;
        }
        by_source = true;
    }
    const struct sim_source **sel = xcalloc(sc->n_sources + 1, sizeof(*sel));
    size_t n_sel = 0;
    for (size_t i = 0; i < sc->n_sources; i++) {
        const struct sim_source *s = &sc->sources[i];
        bool want = n_sid == 0 && s->enabled;
        for (size_t k = 0; k < n_sid; k++)
            if (streq(source_ids[k], s->id))
                want = true;
        if (want)
            sel[n_sel++] = s;
    }

    size_t n_groups = by_source ? n_sel : 1, lo, hi;
    sim_page_range(&pg, n_groups, &lo, &hi);
    struct strbuf *sb = &r->body;
    jw_open(sb, NULL, '{');
    jw_open(sb, "data", '{');
    jw_str(sb, "path", VOLUME_PATH);
    jw_open(sb, "query", '{');
    jw_str(sb, "workspaceId", sc->workspace_id);
    jw_str(sb, "granularity", sim_gran_name(g));
    jw_time(sb, "startTime", start);
    jw_time(sb, "endTime", end);
    if (n_gb)
        str_array(sb, "groupBy", group_by, n_gb);
    if (n_sid)
        str_array(sb, "sourceId", source_ids, n_sid);
    jw_close(sb, '}');
    jw_open(sb, "result", '[');
    for (size_t i = lo; i < hi; i++) {
        if (by_source)
            volume_group(sb, sc, &sel[i], 1, true, start, end,
                         sim_gran_seconds(g), now);
        else
            volume_group(sb, sc, sel, n_sel, false, start, end,
                         sim_gran_seconds(g), now);
    }
    jw_close(sb, ']');
    sim_page_json(sb, &pg, n_groups);
    jw_close(sb, '}');
    jw_close(sb, '}');
    sim_reply_ok(r);
    free(sel);
}

/* ---- /usage/... -------------------------------------------------------- */

enum usage_kind { U_MTU, U_API };

struct usage_ctx {
    double ps, pe, now;
    size_t n_days;
};

static int usage_period(const struct scenario *sc, const struct sim_query *q,
                        double now, struct usage_ctx *u, struct sim_reply *r)
{
    const char *p = sim_qget(q, "period");
    double t;
    if (!p || !*p) {
        sim_reply_invalid(r, "period", "period is required (e.g. "
                          "period=2026-08-01)");
        return -1;
    }
    if (parse_iso8601(p, &t) != 0) {
        sim_reply_invalid(r, "period", "Invalid period '%s': expected a date "
                          "such as 2026-08-01", p);
        return -1;
    }
    model_period(sc, t, &u->ps, &u->pe);
    u->now = now;
    u->n_days = 0;
    for (double d = u->ps; d < u->pe && d <= now; d += 86400)
        u->n_days++;
    return 0;
}

/* Counts are JSON strings in the usage endpoints. */
static void count_str(struct strbuf *sb, const char *key, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    jw_str(sb, key, buf);
}

static void usage_row(struct strbuf *sb, const struct scenario *sc,
                      enum usage_kind kind, const struct usage_ctx *u,
                      const struct sim_source *only, size_t day)
{
    double d0 = u->ps + (double)day * 86400;
    double t = fmin(d0 + 86400, u->now);
    jw_open(sb, NULL, '{');
    if (only)
        jw_str(sb, "sourceId", only->id);
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
        jw_int(sb, "periodStart", (long long)u->ps);
        jw_int(sb, "periodEnd", (long long)u->pe);
        count_str(sb, "anonymous", c.anonymous);
        count_str(sb, "anonymousIdentified", c.anonymous_identified);
        count_str(sb, "identified", c.identified);
        count_str(sb, "neverIdentified", c.never_identified);
    } else {
        int64_t calls = 0;
        for (size_t i = 0; i < sc->n_sources; i++) {
            const struct sim_source *s = &sc->sources[i];
            if (!only || s == only)
                calls += model_api_calls(sc, s, u->ps, t);
        }
        count_str(sb, "apiCalls", calls);
    }
    jw_time(sb, "timestamp", d0);
    jw_close(sb, '}');
}

static void h_usage(const struct scenario *sc, const char *path,
                    enum usage_kind kind, bool per_source,
                    const struct sim_query *q, double now,
                    struct sim_reply *r)
{
    struct usage_ctx u;
    struct sim_page pg;
    size_t lo, hi;
    static const char *keys[2][2] = {
        { "dailyWorkspaceMTUUsage", "dailyPerSourceMTUUsage" },
        { "dailyWorkspaceAPICallsUsage", "dailyPerSourceAPICallsUsage" },
    };
    if (usage_period(sc, q, now, &u, r) != 0 ||
        sim_page_parse(sc, q, path, &pg, r) != 0)
        return;
    size_t total = per_source ? sc->n_sources * u.n_days : u.n_days;
    sim_page_range(&pg, total, &lo, &hi);
    struct strbuf *sb = &r->body;
    jw_open(sb, NULL, '{');
    jw_open(sb, "data", '{');
    jw_open(sb, keys[kind][per_source], '[');
    for (size_t i = lo; i < hi; i++) {
        if (per_source)
            usage_row(sb, sc, kind, &u, &sc->sources[i / u.n_days],
                      i % u.n_days);
        else
            usage_row(sb, sc, kind, &u, NULL, i);
    }
    jw_close(sb, ']');
    sim_page_json(sb, &pg, total);
    jw_close(sb, '}');
    jw_close(sb, '}');
    sim_reply_ok(r);
}

/* ---- routing ----------------------------------------------------------- */

/* "/sources/ID/connected-destinations" -> ID (copied into buf). */
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

/* The path without one trailing slash (a copy). */
static char *trim_slash(const char *path)
{
    size_t n = strlen(path);
    return xstrndup(path, n > 1 && path[n - 1] == '/' ? n - 1 : n);
}

static enum sim_endpoint route(const char *path)
{
    char id[ID_MAX];
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
    if (str_has_prefix(path, OVERVIEW_PREFIX) &&
        sim_overview_step(path + strlen(OVERVIEW_PREFIX)) >= 0)
        return EP_OVERVIEW;
    return EP_OTHER;
}

enum sim_endpoint sim_api_route(const char *path)
{
    char *p = trim_slash(path);
    enum sim_endpoint ep = route(p);
    free(p);
    return ep;
}

void sim_api_handle(const struct scenario *sc, const char *path,
                    const char *query, double now, struct sim_reply *r)
{
    struct sim_query q = { 0 };
    char id[ID_MAX];
    char *p = trim_slash(path);
    sim_query_parse(&q, query);
    switch (route(p)) {
    case EP_SOURCES:
        h_sources(sc, p, &q, r);
        break;
    case EP_CONNECTED:
        match_id(p, "/sources/", "/connected-destinations", id, sizeof(id));
        h_connected(sc, p, id, &q, r);
        break;
    case EP_DELIVERY:
        match_id(p, "/destinations/", "/delivery-metrics", id, sizeof(id));
        h_delivery(sc, id, &q, now, r);
        break;
    case EP_VOLUME:
        h_volume(sc, p, &q, now, r);
        break;
    case EP_MTU_SOURCES:
        h_usage(sc, p, U_MTU, true, &q, now, r);
        break;
    case EP_MTU:
        h_usage(sc, p, U_MTU, false, &q, now, r);
        break;
    case EP_API_SOURCES:
        h_usage(sc, p, U_API, true, &q, now, r);
        break;
    case EP_API:
        h_usage(sc, p, U_API, false, &q, now, r);
        break;
    case EP_OVERVIEW:
        sim_overview_handle(sc, p,
                            sim_overview_step(p + strlen(OVERVIEW_PREFIX)),
                            &q, now, r);
        break;
    default:
        sim_reply_not_found(r);
        break;
    }
    sim_query_free(&q);
    free(p);
}
