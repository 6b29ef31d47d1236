/*
 * cmd_fetch.c - `segalert fetch [-c FILE] [--json] [--timeout DURATION]`:
 * discover and poll every metric family of every workspace once and print
 * the series, the way a user checks a token and sees what segalert sees.
 * An overall deadline (real time, default 5 minutes) stops it whatever the
 * API does, so it is safe to run from cron: what was fetched is printed,
 * what was not is reported, and the exit status is 1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "api/http.h"
#include "core/clock.h"
#include "core/log.h"
#include "api/poll.h"

/* One series as printed: its labels and the latest sample of each metric. */
struct fetched_series {
    enum family fam;
    char *labels;               /* {k="v",...} */
    char *labels_json;          /* {"k":"v",...} */
    double t[M__COUNT];
    double v[M__COUNT];
    bool has[M__COUNT];
    unsigned nsamples;
    double first_t;
};

struct fetch_result {
    struct fetched_series *items;
    size_t n, cap;
    size_t *index;              /* open addressing: item index + 1 */
    size_t index_cap;
};

static void format_labels(const struct kv *labels, size_t n, struct strbuf *txt,
                          struct strbuf *json)
{
    strbuf_addc(txt, '{');
    strbuf_addc(json, '{');
    for (size_t i = 0; i < n; i++) {
        if (i) {
            strbuf_addc(txt, ',');
            strbuf_addc(json, ',');
        }
        strbuf_addf(txt, "%s=", labels[i].key);
        strbuf_add_json_str(txt, labels[i].value ? labels[i].value : "");
        strbuf_add_json_str(json, labels[i].key);
        strbuf_addc(json, ':');
        strbuf_add_json_str(json, labels[i].value ? labels[i].value : "");
    }
    strbuf_addc(txt, '}');
    strbuf_addc(json, '}');
}

static void index_rebuild(struct fetch_result *r)
{
    free(r->index);
    r->index_cap = r->index_cap ? r->index_cap * 2 : 256;
    r->index = xcalloc(r->index_cap, sizeof(size_t));
    for (size_t i = 0; i < r->n; i++) {
        uint64_t h = hash_str(r->items[i].labels) ^ (uint64_t)r->items[i].fam;
        size_t k = h & (r->index_cap - 1);
        while (r->index[k])
            k = (k + 1) & (r->index_cap - 1);
        r->index[k] = i + 1;
    }
}

static struct fetched_series *lookup(struct fetch_result *r, enum family fam,
                                     const char *labels)
{
    if ((r->n + 1) * 2 > r->index_cap)
        index_rebuild(r);
    uint64_t h = hash_str(labels) ^ (uint64_t)fam;
    size_t k = h & (r->index_cap - 1);
    while (r->index[k]) {
        struct fetched_series *s = &r->items[r->index[k] - 1];
        if (s->fam == fam && strcmp(s->labels, labels) == 0)
            return s;
        k = (k + 1) & (r->index_cap - 1);
    }
    XGROW(r->items, r->n + 1, r->cap);
    struct fetched_series *s = &r->items[r->n];
    memset(s, 0, sizeof(*s));
    s->fam = fam;
    s->labels = xstrdup(labels);
    r->index[k] = ++r->n;
    return s;
}

static void on_sample(void *ud, enum family fam, const struct kv *labels,
                      size_t nlabels, double t, const double v[M__COUNT],
                      const bool has[M__COUNT])
{
    struct fetch_result *r = ud;
    struct strbuf txt = STRBUF_INIT, json = STRBUF_INIT;
    format_labels(labels, nlabels, &txt, &json);
    struct fetched_series *s = lookup(r, fam, txt.buf);
    if (!s->labels_json)
        s->labels_json = strbuf_detach(&json);
    strbuf_free(&txt);
    strbuf_free(&json);
    if (s->nsamples == 0 || t < s->first_t)
        s->first_t = t;
    s->nsamples++;
    for (int m = 0; m < M__COUNT; m++) {
        if (has[m] && (!s->has[m] || t >= s->t[m])) {
            s->has[m] = true;
            s->v[m] = v[m];
            s->t[m] = t;
        }
    }
}

static void print_value(FILE *out, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        fprintf(out, "%.0f", v);
    else
        fprintf(out, "%.6g", v);
}

static double latest_time(const struct fetched_series *s)
{
    double t = 0;
    for (int m = 0; m < M__COUNT; m++)
        if (s->has[m] && s->t[m] > t)
            t = s->t[m];
    return t;
}

static void print_text(const struct fetch_result *r, FILE *out)
{
    for (int fam = 0; fam < FAM__COUNT; fam++) {
        size_t count = 0;
        for (size_t i = 0; i < r->n; i++)
            count += r->items[i].fam == (enum family)fam;
        fprintf(out, "# %s: %zu series\n", family_name((enum family)fam), count);
        for (size_t i = 0; i < r->n; i++) {
            const struct fetched_series *s = &r->items[i];
            if (s->fam != (enum family)fam)
                continue;
            char ts[32];
            format_iso8601(latest_time(s), ts, sizeof(ts));
            fprintf(out, "%s %s", family_name(s->fam), s->labels);
            for (int m = 0; m < M__COUNT; m++) {
                if (!s->has[m])
                    continue;
                fprintf(out, " %s=", metric_table[m].name);
                print_value(out, s->v[m]);
            }
            fprintf(out, " @%s", ts);
            if (s->nsamples > 1) {
                char first[32];
                format_iso8601(s->first_t, first, sizeof(first));
                fprintf(out, " (%u samples since %s)", s->nsamples, first);
            }
            fputc('\n', out);
        }
    }
}

static void print_json(const struct fetch_result *r, FILE *out)
{
    fprintf(out, "[\n");
    for (size_t i = 0; i < r->n; i++) {
        const struct fetched_series *s = &r->items[i];
        char ts[32];
        format_iso8601(latest_time(s), ts, sizeof(ts));
        fprintf(out, "  {\"family\":\"%s\",\"labels\":%s,\"time\":\"%s\","
                "\"samples\":%u,\"values\":{", family_name(s->fam),
                s->labels_json, ts, s->nsamples);
        bool first = true;
        for (int m = 0; m < M__COUNT; m++) {
            if (!s->has[m])
                continue;
            fprintf(out, "%s\"%s\":", first ? "" : ",", metric_table[m].name);
            print_value(out, s->v[m]);
            first = false;
        }
        fprintf(out, "}}%s\n", i + 1 < r->n ? "," : "");
    }
    fprintf(out, "]\n");
}

static void result_free(struct fetch_result *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->items[i].labels);
        free(r->items[i].labels_json);
    }
    free(r->items);
    free(r->index);
}

/* Default of --timeout. */
#define FETCH_DEFAULT_TIMEOUT_S 300.0

/* Run the pollers until they are idle; their waits are in seconds of
 * clock (scaled in the end-to-end tests), slept as real time.  Returns
 * false when the real-time deadline (now_mono_ms() value) came first. */
static bool drive(struct http_client *http, const struct clock *clock,
                  struct poller **pollers, size_t n, int64_t deadline_ms)
{
    for (;;) {
        double wait = 3600;
        bool idle = true;
        for (size_t i = 0; i < n; i++) {
            double w = poller_tick(pollers[i]);
            if (w < wait)
                wait = w;
            if (!poller_idle(pollers[i]))
                idle = false;
        }
        if (idle)
            return true;
        int64_t left = deadline_ms - now_mono_ms();
        if (left <= 0)
            return false;
        int ms = (int)(clock_real_delay(clock, wait) * 1000);
        if (ms > 1000)
            ms = 1000;
        if (ms > left)
            ms = (int)left;
        if (ms < 1)
            ms = 1;
        http_run(http, ms);
    }
}

/* The deadline passed: drop what is queued, abort what is in flight (the
 * calls end as cancelled, counted in each poller's health). */
static void stop_all(struct http_client *http, struct poller **pollers,
                     size_t n)
{
    for (size_t i = 0; i < n; i++)
        poller_cancel(pollers[i]);
    http_client_abort_all(http);
}

/* What the deadline left unfetched, on stderr. */
static void report_unfinished(const struct config *cfg,
                              struct poller **pollers, double timeout_s,
                              bool polls_started)
{
    char d[32];
    format_duration(timeout_s, d, sizeof(d));
    fprintf(stderr, "segalert fetch: stopped at the deadline (--timeout %s); "
            "not fetched:\n", d);
    for (size_t i = 0; i < cfg->nworkspaces; i++) {
        const struct poll_health *h = poller_health(pollers[i]);
        const char *ws = cfg->workspaces[i].name;
        if (!h->discovered) {
            fprintf(stderr, "segalert fetch: workspace \"%s\": discovery did "
                    "not finish: nothing polled\n", ws);
            continue;
        }
        if (!polls_started) {
            fprintf(stderr, "segalert fetch: workspace \"%s\": discovered, "
                    "but the deadline came before any poll\n", ws);
            continue;
        }
        for (int k = 0; k < POLL__COUNT; k++)
            if (h->cancelled[k])
                fprintf(stderr, "segalert fetch: workspace \"%s\": %s: %lu "
                        "request%s not finished\n", ws,
                        poll_kind_name((enum poll_kind)k), h->cancelled[k],
                        h->cancelled[k] == 1 ? "" : "s");
    }
}

static void fetch_usage(FILE *out)
{
    fprintf(out,
            "usage: segalert fetch [-c FILE] [--json] [--timeout DURATION]"
            " [-v]\n"
            "\n"
            "Discover the sources and connections of every configured workspace,\n"
            "poll each metric family once (delivery metrics over delivery_window,\n"
            "the last complete event-volume buckets, the usage period so far) and\n"
            "print every series with its labels and latest values.  Use it to check\n"
            "a token and to see the labels and metric names your rules can use.\n"
            "\n"
            "  --timeout DURATION  stop after this long whatever the API\n"
            "                      does (default 5m), print what was fetched\n"
            "                      and report what was not\n"
            "\n"
            "Exit status 1 when any request failed or the deadline came first\n"
            "(reasons on stderr).\n");
}

struct fetch_opts {
    bool json;
    double timeout_s;
};

static int set_json(void *ud, const char *arg)
{
    (void)arg;
    ((struct fetch_opts *)ud)->json = true;
    return 0;
}

static int set_timeout(void *ud, const char *arg)
{
    double s;
    if (parse_duration(arg, &s) != 0 || !(s > 0)) {
        fprintf(stderr, "segalert fetch: --timeout: '%s' is not a positive "
                "duration (e.g. 30s, 5m)\n", arg);
        return -1;
    }
    ((struct fetch_opts *)ud)->timeout_s = s;
    return 0;
}

int cmd_fetch(int argc, char **argv)
{
    struct cli_common common = { 0 };
    struct fetch_opts fo = { .timeout_s = FETCH_DEFAULT_TIMEOUT_S };
    static const struct cli_flag flags[] = { { "json", false, set_json },
                                             { "timeout", true, set_timeout } };
    int prc = cli_parse(argc, argv, &common, flags, ARRAY_SIZE(flags), &fo,
                        fetch_usage, 0, 0, NULL);
    if (prc >= 0)
        return prc;
    int64_t deadline_ms = now_mono_ms() + (int64_t)(fo.timeout_s * 1000);
    /* SEGALERT_CLOCK: the same (test) clock `segalert run` reads, so that
     * fetch sees what a daemon on that clock sees. */
    char err[256];
    const struct clock *clock = clock_from_env(err, sizeof(err));
    if (!clock) {
        fprintf(stderr, "segalert fetch: %s\n", err);
        return 2;
    }
    struct config *cfg = cli_load_config(&common);
    if (!cfg) {
        clock_free(clock);
        return 2;
    }
    if (cfg->nworkspaces == 0) {
        fprintf(stderr, "segalert fetch: no workspace in %s\n", cfg->path);
        config_free(cfg);
        clock_free(clock);
        return 2;
    }

    struct fetch_result res = { 0 };
    struct sample_sink sink = { on_sample, &res };
    struct http_client *http = http_client_new();
    struct poller **pollers = xcalloc(cfg->nworkspaces, sizeof(*pollers));
    for (size_t i = 0; i < cfg->nworkspaces; i++) {
        pollers[i] = poller_new(&cfg->workspaces[i], http, clock, &sink);
        poller_discover(pollers[i]);
    }
    bool in_time = drive(http, clock, pollers, cfg->nworkspaces, deadline_ms);

    double now = clock_wall(clock);
    bool polls_started = in_time;
    for (size_t i = 0; in_time && i < cfg->nworkspaces; i++) {
        struct poller *p = pollers[i];
        if (!poller_health(p)->discovered)
            continue;
        double bucket = poller_volume_bucket(p);
        poller_poll_delivery(p, now);
        poller_poll_volume(p, now - (bucket < 3600 ? 3600 : 6 * 3600), now);
        poller_poll_usage(p, now);
    }
    if (in_time)
        in_time = drive(http, clock, pollers, cfg->nworkspaces, deadline_ms);
    if (!in_time)
        stop_all(http, pollers, cfg->nworkspaces);

    if (fo.json)
        print_json(&res, stdout);
    else
        print_text(&res, stdout);

    int rc = 0;
    if (!in_time) {
        report_unfinished(cfg, pollers, fo.timeout_s, polls_started);
        rc = 1;
    }
    for (size_t i = 0; i < cfg->nworkspaces; i++) {
        const struct poll_health *h = poller_health(pollers[i]);
        for (int k = 0; k < POLL__COUNT; k++) {
            if (h->errors[k]) {
                fprintf(stderr, "segalert fetch: workspace \"%s\": %s: %lu "
                        "failed request%s; last: %s\n", cfg->workspaces[i].name,
                        poll_kind_name((enum poll_kind)k), h->errors[k],
                        h->errors[k] == 1 ? "" : "s", h->last_error[k]);
                rc = 1;
            }
        }
        for (int e = 0; e < SEGEP__COUNT; e++)
            if (h->forbidden[e])
                fprintf(stderr, "segalert fetch: workspace \"%s\": %s: "
                        "forbidden (the token lacks this permission): %s\n",
                        cfg->workspaces[i].name,
                        seg_endpoint_name((enum seg_endpoint)e),
                        h->forbidden_msg[e]);
        if (h->nsources_skipped)
            fprintf(stderr, "segalert fetch: workspace \"%s\": %zu source%s "
                    "skipped: connected destinations not found (404)\n",
                    cfg->workspaces[i].name, h->nsources_skipped,
                    h->nsources_skipped == 1 ? "" : "s");
        if (h->implausible)
            fprintf(stderr, "segalert fetch: workspace \"%s\": %lu "
                    "implausible value%s ignored (negative, not finite or "
                    "above 1e15)\n", cfg->workspaces[i].name, h->implausible,
                    h->implausible == 1 ? "" : "s");
        struct seg_client_stats st;
        seg_client_stats(poller_client(pollers[i]), &st);
        unsigned long total = 0;
        for (int e = 0; e < SEGEP__COUNT; e++)
            total += st.requests[e];
        log_info("fetch: ws=%s %zu sources, %zu connections, %lu samples, "
                 "%lu requests (%lu rate-limited, %lu retried)",
                 cfg->workspaces[i].name, h->nsources, h->nconnections,
                 h->samples, total, st.rate_limited, st.retries);
    }

    for (size_t i = 0; i < cfg->nworkspaces; i++)
        poller_free(pollers[i]);
    http_client_free(http);
    free(pollers);
    result_free(&res);
    config_free(cfg);
    clock_free(clock);
    return rc;
}
