/*
 * schedule.c - see schedule.h.
 */
#include "daemon/schedule.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/segment.h"
#include "core/log.h"
#include "core/util.h"

static double max_d(double a, double b)
{
    return a > b ? a : b;
}

static unsigned long total_requests(const struct ws_schedule *w);

static void sweep_start(struct ws_schedule *w, enum poll_kind k, double now)
{
    w->running[k] = true;
    w->sweep_started[k] = now;
    w->sweep_requests0[k] = total_requests(w);
}

void ws_schedule_init(struct ws_schedule *w, const struct workspace_cfg *cfg,
                      struct poller *poller, double now)
{
    memset(w, 0, sizeof(*w));
    w->cfg = cfg;
    w->poller = poller;
    w->next_discovery = now;
    w->next_delivery = w->next_volume = w->next_usage = now;
}

static void shift_time(double *t, double step_s)
{
    if (*t > 0)
        *t += step_s;
}

void ws_schedule_shift_times(struct ws_schedule *w, double step_s)
{
    shift_time(&w->next_discovery, step_s);
    shift_time(&w->next_delivery, step_s);
    shift_time(&w->next_volume, step_s);
    shift_time(&w->next_usage, step_s);
    for (int k = 0; k < POLL__COUNT; k++) {
        shift_time(&w->sweep_started[k], step_s);
        shift_time(&w->coverage[k].since, step_s);
    }
    shift_time(&w->down_since, step_s);
    for (size_t i = 0; i < WS_RATE_SAMPLES; i++)
        shift_time(&w->rates[i].t, step_s);
    shift_time(&w->last_rate_sample, step_s);
    w->oldest_valid = false;        /* recomputed from the moved polls */
    if (w->poller)
        poller_shift_times(w->poller, step_s);
}

void ws_schedule_free(struct ws_schedule *w)
{
    poller_free(w->poller);
    w->poller = NULL;
}

void ws_schedule_carry_over(struct ws_schedule *w,
                            const struct ws_schedule *old)
{
    w->backfilled = old->backfilled;
    w->volume_done_to = old->volume_done_to;
    w->down = old->down;
    w->down_since = old->down_since;
    memcpy(w->down_reason, old->down_reason, sizeof(w->down_reason));
    memcpy(w->coverage, old->coverage, sizeof(w->coverage));
}

/* History the rules need: event volume from before the longest lookback
 * (hourly buckets; the recent part comes at the bucket size of the
 * regular polls). */
static void backfill(struct ws_schedule *w, double now,
                     const struct schedule_needs *needs)
{
    struct poller *p = w->poller;
    double lookback = max_d(needs->lookback_s[FAM_SOURCE], 3600);
    double bucket = poller_volume_bucket(p);
    double recent_from = now - 2 * 3600;
    if (lookback > 2 * 3600 && bucket < 3600)
        poller_poll_volume_bucket(p, now - lookback - 3600, recent_from, 3600);
    w->volume_done_to = floor(recent_from / bucket) * bucket;
    if (bucket >= 3600)
        w->volume_done_to = now - lookback - 3600;
    w->backfilled = true;
    log_info("schedule: ws=%s back-filling %s of event volume", w->cfg->name,
             lookback > 86400 ? "days" : "hours");
}

/* A connection with an alert: polled first (schedule_conn_fn). */
static void mark_active(void *ctx, const char *source_id, const char *dest_id)
{
    struct poll_connection *c = poller_find_connection(ctx, source_id,
                                                       dest_id);
    if (c)
        c->priority = 1;
}

static void start_delivery(struct ws_schedule *w, double now,
                           const struct schedule_needs *needs)
{
    /* The first sweep also reads the last WS_FIRST_DELIVERY_WINDOW_S in
     * one history window, so rules that compare a connection with its own
     * recent past have that past at once; it waits for the first volume
     * sweep, which source_volume is joined from. */
    bool first = !w->swept[POLL_DELIVERY];
    if (first && !w->swept[POLL_VOLUME])
        return;
    struct poll_connection *conns;
    size_t n = poller_connections(w->poller, &conns);
    for (size_t i = 0; i < n; i++)
        conns[i].priority = 0;
    if (needs->active_conns)
        needs->active_conns(needs->ud, mark_active, w->poller);
    if (first)
        poller_poll_delivery_history(w->poller, now,
                                     WS_FIRST_DELIVERY_WINDOW_S);
    poller_poll_delivery(w->poller, now);
    sweep_start(w, POLL_DELIVERY, now);
    w->next_delivery = now + w->cfg->poll_interval_s;
}

/* The next volume poll after one at now: on the interval's grid (plus the
 * phase) when the interval divides a day, else one interval later. */
static double next_volume_poll(double now, double interval)
{
    if (!(interval >= 60) || fmod(86400, interval) != 0)
        return now + interval;
    double t = floor((now - WS_VOLUME_PHASE_S) / interval) * interval +
               interval + WS_VOLUME_PHASE_S;
    return t > now ? t : t + interval;
}

void ws_schedule_tick(struct ws_schedule *w, double now,
                      const struct schedule_needs *needs)
{
    struct poller *p = w->poller;
    const struct poll_health *h = poller_health(p);

    if (now >= w->next_discovery && !poller_discovering(p)) {
        poller_discover(p);
        w->next_discovery = now + (h->discovered && !h->unauthorized
                                       ? WS_DISCOVERY_INTERVAL_S
                                       : max_d(w->cfg->poll_interval_s, 60));
    }
    if (!h->discovered || h->unauthorized)
        return;
    if (!w->backfilled)
        backfill(w, now, needs);
    if (now >= w->next_delivery && !w->running[POLL_DELIVERY])
        start_delivery(w, now, needs);
    if (now >= w->next_volume && !w->running[POLL_VOLUME]) {
        double bucket = poller_volume_bucket(p);
        /* Re-read the last two buckets: late events update them. */
        double from = w->volume_done_to - 2 * bucket;
        poller_poll_volume(p, from, now);
        w->volume_done_to = floor((now - 60) / bucket) * bucket;
        sweep_start(w, POLL_VOLUME, now);
        w->next_volume = next_volume_poll(now, w->cfg->volume_interval_s);
    }
    if (now >= w->next_usage && !w->running[POLL_USAGE]) {
        poller_poll_usage(p, now);
        sweep_start(w, POLL_USAGE, now);
        w->next_usage = now + w->cfg->usage_interval_s;
    }
}

bool ws_schedule_note_sweeps(struct ws_schedule *w, double now)
{
    bool any = false;
    for (int k = POLL_DELIVERY; k < POLL__COUNT; k++) {
        /* each family's sweep ends when its own calls are done: a slow
         * delivery sweep does not hold up the next volume poll */
        if (w->running[k] && poller_kind_idle(w->poller, (enum poll_kind)k)) {
            w->running[k] = false;
            w->swept[k] = true;
            w->last_sweep_s[k] = now - w->sweep_started[k];
            w->last_sweep_requests[k] = total_requests(w) -
                                        w->sweep_requests0[k];
            log_debug("schedule: ws=%s %s sweep: %zu connections, %lu "
                      "requests in %.3f s", w->cfg->name,
                      poll_kind_name((enum poll_kind)k),
                      poller_health(w->poller)->nconnections,
                      w->last_sweep_requests[k], w->last_sweep_s[k]);
            any = true;
        }
    }
    if (any)
        w->polled_once = w->swept[POLL_DELIVERY] && w->swept[POLL_VOLUME] &&
                         w->swept[POLL_USAGE];
    return any;
}

enum ws_health_change ws_schedule_health(struct ws_schedule *w, double now,
                                         double started_at)
{
    const struct poll_health *h = poller_health(w->poller);
    double last_ok = 0, last_attempt = 0;
    for (int k = 0; k < POLL__COUNT; k++) {
        last_ok = max_d(last_ok, h->last_ok[k]);
        last_attempt = max_d(last_attempt, h->last_attempt[k]);
    }
    double grace = max_d(3 * w->cfg->poll_interval_s, 600);
    bool down = h->unauthorized ||
                (last_attempt > 0 && last_ok < last_attempt &&
                 now - max_d(last_ok, started_at) > grace) ||
                (!h->discovered && last_attempt > 0 &&
                 now - started_at > grace);
    if (down) {
        const char *why = "";
        for (int k = 0; k < POLL__COUNT; k++)
            if (h->last_error[k][0])
                why = h->last_error[k];
        snprintf(w->down_reason, sizeof(w->down_reason), "%s", why);
    }
    if (down && !w->down) {
        w->down = true;
        w->down_since = now;
        return WS_HEALTH_DOWN;
    }
    if (!down && w->down && last_ok > 0) {
        /* Up again only on a successful request (a poller replaced by a
         * reload has not tried anything yet). */
        w->down = false;
        return WS_HEALTH_UP;
    }
    return WS_HEALTH_SAME;
}

static unsigned long total_requests(const struct ws_schedule *w)
{
    struct seg_client_stats st;
    seg_client_stats(poller_client(w->poller), &st);
    unsigned long total = 0;
    for (int e = 0; e < SEGEP__COUNT; e++)
        total += st.requests[e];
    return total;
}

void ws_schedule_sample_rate(struct ws_schedule *w, double now)
{
    if (now - w->last_rate_sample < WS_RATE_SAMPLE_S)
        return;
    w->last_rate_sample = now;
    w->rate_pos = (w->rate_pos + 1) % WS_RATE_SAMPLES;
    w->rates[w->rate_pos].t = now;
    w->rates[w->rate_pos].total = total_requests(w);
}

double ws_schedule_rate_last_minute(const struct ws_schedule *w, double now)
{
    const struct ws_rate_sample *cur = &w->rates[w->rate_pos];
    const struct ws_rate_sample *old = NULL;
    for (unsigned k = 1; k < WS_RATE_SAMPLES; k++) {
        const struct ws_rate_sample *r =
            &w->rates[(w->rate_pos + WS_RATE_SAMPLES - k) % WS_RATE_SAMPLES];
        if (r->t <= 0 || r->total > cur->total)
            break;
        old = r;
        if (now - r->t >= 60)
            break;
    }
    if (!old || cur->t - old->t < 1)
        return 0;
    return (double)(cur->total - old->total) * 60.0 / (cur->t - old->t);
}

double ws_schedule_oldest_connection(const struct ws_schedule *w, double now,
                                     double started_at)
{
    struct poll_connection *conns;
    size_t nc = poller_connections(w->poller, &conns);
    double oldest = -1;
    for (size_t k = 0; k < nc; k++) {
        double age = conns[k].last_polled > 0 ? now - conns[k].last_polled
                                              : now - started_at;
        if (age > oldest)
            oldest = age;
    }
    return oldest;
}

/* ---- coverage -------------------------------------------------------------- */

const char *ws_coverage_family(enum poll_kind k)
{
    return poll_kind_family(k);
}

static double kind_interval(const struct ws_schedule *w, enum poll_kind k)
{
    switch (k) {
    case POLL_DELIVERY: return w->cfg->poll_interval_s;
    case POLL_VOLUME: return w->cfg->volume_interval_s;
    case POLL_USAGE: return w->cfg->usage_interval_s;
    default: return WS_DISCOVERY_INTERVAL_S;
    }
}

/* Requests per minute: delivery metrics one per connection per poll
 * interval; event volume one grouped request per interval; usage four
 * lists per interval (a page each, usually); discovery the source list and
 * one connected-destinations list per source every 30 minutes. */
void ws_schedule_budget(const struct ws_schedule *w, struct ws_budget *out)
{
    const struct poll_health *h = poller_health(w->poller);
    const struct workspace_cfg *c = w->cfg;
    memset(out, 0, sizeof(*out));
    out->delivery_per_min = (double)h->nconnections * 60 / c->poll_interval_s;
    double others = 60 / c->volume_interval_s + 4 * 60 / c->usage_interval_s +
                    (1 + (double)h->nsources) * 60 / WS_DISCOVERY_INTERVAL_S;
    out->needed_per_min = out->delivery_per_min + others;
    struct seg_client_stats st;
    seg_client_stats(poller_client(w->poller), &st);
    out->budget_per_min = st.effective_budget > 0 ? st.effective_budget
                                                  : INFINITY;
    out->delivery_refresh_s = c->poll_interval_s;
    if (out->needed_per_min > out->budget_per_min && h->nconnections > 0) {
        double left = out->budget_per_min - others;
        out->delivery_refresh_s = left > 0 ? (double)h->nconnections * 60 / left
                                           : INFINITY;
    }
}

/* Share of slack before a slower refresh counts as blind: prioritising
 * connections with alerts and rounding make small shortfalls harmless. */
#define WS_REFRESH_SLACK 1.2

/* An endpoint of kind k that answers 403: the family cannot be read at
 * all.  Its name goes into *endpoint. */
static bool kind_forbidden(const struct poll_health *h, enum poll_kind k,
                           const char **endpoint, const char **msg)
{
    for (int ep = 0; ep < SEGEP__COUNT; ep++) {
        if (h->forbidden[ep] &&
            poll_kind_of_endpoint((enum seg_endpoint)ep) == k) {
            *endpoint = seg_endpoint_name((enum seg_endpoint)ep);
            *msg = h->forbidden_msg[ep];
            return true;
        }
    }
    return false;
}

/* The age of the least recently polled connection, exactly when it is
 * over limit_s, else possibly an over-estimate still within it (see
 * oldest_valid in schedule.h). */
static double oldest_age(struct ws_schedule *w, double now,
                         double started_at, double limit_s)
{
    const struct poll_health *h = poller_health(w->poller);
    if (w->oldest_valid && w->oldest_discovery == h->discoveries &&
        w->oldest_started_at == started_at &&
        now - w->oldest_polled <= limit_s)
        return now - w->oldest_polled;
    double age = ws_schedule_oldest_connection(w, now, started_at);
    w->oldest_valid = true;
    w->oldest_polled = now - age;
    w->oldest_discovery = h->discoveries;
    w->oldest_started_at = started_at;
    return age;
}

static bool kind_blind(struct ws_schedule *w, enum poll_kind k,
                       double now, double started_at, char *why, size_t len,
                       char *endpoint, size_t elen)
{
    const struct poll_health *h = poller_health(w->poller);
    const char *ep = NULL, *msg = NULL;
    endpoint[0] = '\0';
    if (kind_forbidden(h, k, &ep, &msg)) {
        snprintf(endpoint, elen, "%s", ep);
        snprintf(why, len, "the API refuses %s (403): %s; the token may "
                 "lack the permission", ep, msg && *msg ? msg : "forbidden");
        return true;
    }
    double interval = kind_interval(w, k);
    char every[32], age_s[32];
    format_duration(interval, every, sizeof(every));
    if (k == POLL_DELIVERY && h->nconnections == 0)
        return false;               /* nothing to read */
    double last = h->last_ok[k] > 0 ? h->last_ok[k] : started_at;
    double age = now - last;
    if (age > WS_COVERAGE_STALE_FACTOR * interval) {
        format_duration(age, age_s, sizeof(age_s));
        snprintf(why, len, "no %s data for %s (read every %s)%s%s",
                 ws_coverage_family(k), age_s, every,
                 h->last_error[k][0] ? ": " : "", h->last_error[k]);
        return true;
    }
    if (k != POLL_DELIVERY)
        return false;
    double oldest = oldest_age(w, now, started_at,
                               WS_COVERAGE_STALE_FACTOR * interval);
    if (oldest > WS_COVERAGE_STALE_FACTOR * interval) {
        format_duration(oldest, age_s, sizeof(age_s));
        snprintf(why, len, "a connection was last read %s ago (every %s "
                 "wanted)", age_s, every);
        return true;
    }
    struct ws_budget b;
    ws_schedule_budget(w, &b);
    if (b.delivery_refresh_s > WS_REFRESH_SLACK * interval) {
        format_duration(b.delivery_refresh_s, age_s, sizeof(age_s));
        snprintf(why, len, "request_budget %.0f/min cannot read %zu "
                 "connections every %s (needs %.0f/min): each is read about "
                 "every %s", b.budget_per_min, h->nconnections, every,
                 b.needed_per_min, age_s);
        return true;
    }
    return false;
}

unsigned ws_schedule_coverage(struct ws_schedule *w, double now,
                              double started_at)
{
    const struct poll_health *h = poller_health(w->poller);
    bool can_judge = !w->down && h->discovered && !h->unauthorized;
    unsigned changed = 0;
    for (int k = POLL_DELIVERY; k < POLL__COUNT; k++) {
        struct ws_coverage *cv = &w->coverage[k];
        char why[WS_COVERAGE_REASON_MAX] = "", ep[sizeof(cv->endpoint)];
        bool blind = can_judge && kind_blind(w, (enum poll_kind)k, now,
                                             started_at, why, sizeof(why),
                                             ep, sizeof(ep));
        if (blind) {
            snprintf(cv->reason, sizeof(cv->reason), "%s", why);
            /* a new endpoint label is a new alert identity: only at the
             * start of an episode */
            if (!cv->blind)
                snprintf(cv->endpoint, sizeof(cv->endpoint), "%s", ep);
        }
        if (blind != cv->blind) {
            cv->blind = blind;
            if (blind)
                cv->since = now;
            changed |= 1u << k;
        }
    }
    return changed;
}
