/*
 * sim_model.c - event volume, delivery, MTU and API-call figures as pure
 * functions of scenario and time (see sim_model.h for the conventions).
 */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>

#include "core/util.h"
#include "sim_model.h"

#define TWO_PI 6.283185307179586
/* Daily peak at 15:00 UTC: afternoon in Europe, morning in the Americas. */
#define PEAK_SECOND_OF_DAY (15 * 3600)

static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

double model_hash_unit(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t h = mix64(a ^ mix64(b ^ mix64(c)));
    return (double)(h >> 11) / 9007199254740992.0;
}

/* ---- incidents --------------------------------------------------------- */

/* Active seconds of the incident in [inc->start, t). */
static double active_until(const struct sim_incident *inc, double t)
{
    double rel = t - inc->start;
    if (rel <= 0)
        return 0;
    if (inc->every_s <= 0)
        return fmin(rel, inc->duration_s);
    double cycles = floor(rel / inc->every_s);
    double part = rel - cycles * inc->every_s;
    return cycles * inc->duration_s + fmin(part, inc->duration_s);
}

int model_incident_active(const struct sim_incident *inc, double t)
{
    double rel = t - inc->start;
    if (rel < 0)
        return 0;
    if (inc->every_s > 0)
        rel = fmod(rel, inc->every_s);
    return rel < inc->duration_s;
}

double model_incident_overlap(const struct sim_incident *inc, double a,
                              double b)
{
    if (b <= a)
        return 0;
    return active_until(inc, b) - active_until(inc, a);
}

/* ---- event volume ------------------------------------------------------ */

/* Share of the minute [t, t+60) during which the incident is active:
 * incidents start and end mid-minute, and a minute sees them pro rata. */
static double minute_share(const struct sim_incident *inc, double t)
{
    return model_incident_overlap(inc, t, t + 60) / 60;
}

static double volume_factor(const struct sim_source *s, double t)
{
    double f = 1.0;
    for (size_t i = 0; i < s->n_incidents; i++) {
        const struct sim_incident *inc = s->incidents[i];
        if (inc->kind != INC_VOLUME_DROP && inc->kind != INC_VOLUME_SPIKE)
            continue;
        double share = minute_share(inc, t);
        if (share > 0)
            f *= 1 + (inc->value - 1) * share;
    }
    return f;
}

int64_t model_minute_events(const struct scenario *sc,
                            const struct sim_source *s, int64_t minute)
{
    UNUSED(sc);
    if (!s->enabled || s->events_per_minute <= 0)
        return 0;
    double t = (double)minute * 60;
    int64_t sod = (minute * 60) % 86400;
    if (sod < 0)
        sod += 86400;
    double season = 1 + s->daily_amplitude *
        cos(TWO_PI * (double)(sod - PEAK_SECOND_OF_DAY) / 86400.0);
    double u = model_hash_unit(s->hash, (uint64_t)minute, 1);
    double jitter = 1 + s->noise * (2 * u - 1);
    double rate = s->events_per_minute * season * jitter * volume_factor(s, t);
    if (rate <= 0)
        return 0;
    /* Stochastic rounding keeps the mean right for tiny rates. */
    double r = model_hash_unit(s->hash, (uint64_t)minute, 2);
    return (int64_t)floor(rate + r);
}

/* Minute range [*m0, *m1) for a window, clipped so no minute is future. */
static void window_minutes(double start, double end, double now,
                           int64_t *m0, int64_t *m1)
{
    *m0 = (int64_t)floor(start / 60);
    *m1 = (int64_t)ceil(end / 60);          /* minutes M < end */
    int64_t last = (int64_t)floor(now / 60) + 1;    /* M <= now */
    if (*m1 > last)
        *m1 = last;
    if (*m1 < *m0)
        *m1 = *m0;
}

/* Fraction of minute m that has happened by now: 1 for past minutes, the
 * elapsed share for the current one (its events so far; nothing from the
 * future leaks into a summary). */
static double minute_elapsed(int64_t m, double now)
{
    double t = (double)m * 60;
    if (now >= t + 60)
        return 1;
    return now > t ? (now - t) / 60 : 0;
}

/* Events of minute m that have happened by now. */
static int64_t minute_events_so_far(const struct scenario *sc,
                                    const struct sim_source *s, int64_t m,
                                    double now)
{
    int64_t n = model_minute_events(sc, s, m);
    double f = minute_elapsed(m, now);
    return f >= 1 ? n : (int64_t)floor((double)n * f);
}

int64_t model_events(const struct scenario *sc, const struct sim_source *s,
                     double start, double end, double now)
{
    int64_t m0, m1, total = 0;
    window_minutes(start, end, now, &m0, &m1);
    for (int64_t m = m0; m < m1; m++)
        total += minute_events_so_far(sc, s, m, now);
    return total;
}

/* ---- pipeline ---------------------------------------------------------- */

/* Draw keys: each split of a minute's events uses its own stream so that
 * changing one share leaves the other draws alone. */
enum draw {
    DRAW_FILTERED_SRC = 30, DRAW_INGEST, DRAW_FILTERED, DRAW_SUBSCRIBED,
    DRAW_FANOUT, DRAW_STALL, DRAW_OUTAGE, DRAW_DISCARD, DRAW_EXPIRED,
    DRAW_RETRY, DRAW_RETRIED, DRAW_BASE_REASON, DRAW_OUTAGE_DISCARD,
    DRAW_SPIKE = 100,           /* + incident index */
    DRAW_REASON = 200,          /* + reason index (add_reasons) */
    DRAW_OUTAGE_REASON = 300,
    DRAW_SPIKE_REASON = 10000,  /* + SIM_MAX_REASONS * incident index */
};

/* Stochastic rounding of x >= 0, deterministic per (h, minute, k). */
static int64_t draw_round(double x, uint64_t h, int64_t minute, uint64_t k)
{
    if (!(x > 0))
        return 0;
    return (int64_t)floor(x + model_hash_unit(h, (uint64_t)minute, k));
}

/* The part of n a share selects, an integer in [0, n] whose mean is
 * n * share. */
static int64_t split(int64_t n, double share, uint64_t h, int64_t minute,
                     uint64_t k)
{
    if (n <= 0 || !(share > 0))
        return 0;
    if (share >= 1)
        return n;
    int64_t r = draw_round((double)n * share, h, minute, k);
    return r > n ? n : r;
}

void model_source_minute(const struct scenario *sc, const struct sim_source *s,
                         int64_t minute, double now, struct source_minute *out)
{
    out->received = minute_events_so_far(sc, s, minute, now);
    out->filtered_at_source = split(out->received, s->filtered_at_source,
                                    s->hash, minute, DRAW_FILTERED_SRC);
    out->failed_on_ingest = draw_round((double)out->received *
                                       s->failed_on_ingest, s->hash, minute,
                                       DRAW_INGEST);
}

void model_window_minutes(double start, double end, double now,
                          int64_t *m0, int64_t *m1)
{
    window_minutes(start, end, now, m0, m1);
}

/* End of the active period of inc that contains t. */
static double period_end(const struct sim_incident *inc, double t)
{
    if (inc->every_s <= 0)
        return inc->start + inc->duration_s;
    double cycle = floor((t - inc->start) / inc->every_s);
    return inc->start + cycle * inc->every_s + inc->duration_s;
}

struct conn_ctx {
    const struct scenario *sc;
    const struct sim_source *s;
    const struct sim_dest *d;
    const struct model_window *w;
    int64_t m0, m1;             /* minutes of the window */
    struct conn_bucket *b;
    double *extra;              /* per incident: discard ratio it adds */
};

/* Bucket of an outcome at time t (minute m), or NULL when it falls outside
 * the window or has not happened yet. */
static struct conn_bucket *bucket_at(const struct conn_ctx *c, double t)
{
    int64_t m = (int64_t)floor(t / 60);
    if (m < c->m0 || m >= c->m1 || t > c->w->now)
        return NULL;
    double rel = (double)m * 60 - c->w->first;
    size_t i = rel <= 0 ? 0 : (size_t)floor(rel / c->w->bucket_s);
    return &c->b[i < c->w->n ? i : c->w->n - 1];
}

/* Spread n discards over the codes of mix. */
static void add_reasons(struct conn_bucket *b, const struct sim_reasons *mix,
                        int64_t n, uint64_t h, int64_t minute, uint64_t k)
{
    double left = 1;
    for (size_t i = 0; i < mix->n && n > 0; i++) {
        int64_t part = i + 1 == mix->n ? n
                                       : split(n, mix->share[i] / left, h,
                                               minute, k + i);
        b->by_reason[mix->idx[i]] += part;
        n -= part;
        left -= mix->share[i];
    }
}

/*
 * One minute of one connection.  Outcomes of events that arrive in the
 * window land in their own minute; an outage's failures land when their
 * retries end, so minutes before the window (lookback) are walked for
 * those alone.
 */
static void conn_minute(struct conn_ctx *c, int64_t m)
{
    const struct sim_dest *d = c->d;
    const uint64_t h = d->hash;
    struct source_minute sm;

    model_source_minute(c->sc, c->s, m, c->w->now, &sm);
    int64_t pass = sm.received - sm.filtered_at_source;
    if (pass <= 0)
        return;
    double t = (double)m * 60;
    double span = 60 * minute_elapsed(m, c->w->now);
    double dr = d->discard_ratio, lat = 1, stall = 0, fail = 0;
    const struct sim_incident *outage = NULL;
    for (size_t i = 0; i < d->n_incidents; i++) {
        const struct sim_incident *inc = d->incidents[i];
        double share = span > 0 ? model_incident_overlap(inc, t, t + span) /
                                  span : 0;
        c->extra[i] = 0;
        if (share <= 0)
            continue;
        switch (inc->kind) {
        case INC_DISCARD_SPIKE: {
            double next = dr + (fmax(dr, inc->value) - dr) * share;
            c->extra[i] = next - dr;
            dr = next;
            break;
        }
        case INC_LATENCY_SPIKE:
            lat *= 1 + (inc->value - 1) * share;
            break;
        case INC_DELIVERY_STALL:
            stall = fmax(stall, share);
            break;
        case INC_DESTINATION_OUTAGE:
            if (share * inc->value > fail) {
                fail = share * inc->value;
                outage = inc;
            }
            break;
        default:
            break;
        }
    }
    struct conn_bucket *b = m >= c->m0 ? bucket_at(c, t) : NULL;
    if (!b && !outage)
        return;                 /* lookback minute without late outcomes */

    int64_t filtered = split(pass, d->filtered, h, m, DRAW_FILTERED);
    int64_t rest = pass - filtered;
    int64_t eligible = split(rest, d->subscribed, h, m, DRAW_SUBSCRIBED);
    int64_t deliveries = d->fanout > 1
        ? draw_round((double)eligible * d->fanout, h, m, DRAW_FANOUT)
        : eligible;
    /* Stalled deliveries pile up: none completes in any way. */
    int64_t live = deliveries - split(deliveries, stall, h, m, DRAW_STALL);
    int64_t failing = split(live, fail, h, m, DRAW_OUTAGE);
    int64_t normal = live - failing;
    int64_t fdisc = outage ? split(failing, outage->discarded, h, m,
                                   DRAW_OUTAGE_DISCARD) : 0;

    if (b) {
        b->filtered += filtered;
        b->unsubscribed += rest - eligible;
        b->deliveries += deliveries;
        int64_t disc = split(normal, dr, h, m, DRAW_DISCARD);
        double er = dr < 1 ? fmin(d->expired_ratio, 1 - dr) / (1 - dr) : 0;
        int64_t exp_n = split(normal - disc, er, h, m, DRAW_EXPIRED);
        int64_t succ = normal - disc - exp_n;
        int64_t retry = split(succ, d->retry_ratio, h, m, DRAW_RETRY);
        b->succ_first += succ - retry;
        b->succ_retry += retry;
        b->discarded += disc + fdisc;
        b->expired += exp_n;
        b->retried += retry + exp_n + split(disc, 0.5, h, m, DRAW_RETRIED) +
                      failing;
        /* Discards split between the baseline and each spike by the
         * ratio each adds, then over their codes. */
        int64_t base = dr > 0 ? split(disc, d->discard_ratio / dr, h, m,
                                      DRAW_BASE_REASON) : 0;
        add_reasons(b, &d->discard_reasons, base, h, m, DRAW_REASON);
        int64_t left = disc - base;
        double left_w = dr - d->discard_ratio;
        for (size_t i = 0; i < d->n_incidents && left > 0; i++) {
            if (c->extra[i] <= 0)
                continue;
            int64_t part = c->extra[i] >= left_w ? left
                : split(left, c->extra[i] / left_w, h, m, DRAW_SPIKE + i);
            add_reasons(b, &d->incidents[i]->reasons, part, h, m,
                        DRAW_SPIKE_REASON + SIM_MAX_REASONS * i);
            left -= part;
            left_w -= c->extra[i];
        }
        if (outage)
            add_reasons(b, &outage->reasons, fdisc, h, m,
                        DRAW_OUTAGE_REASON);
        b->tts_w += (double)succ * d->latency_avg_s * lat;
        b->tts95_w += (double)succ * d->latency_p95_s * lat;
        b->tts_n += (double)succ;
        double firsts = (double)(succ + disc + failing);
        b->tfa_w += firsts * d->first_avg_s * lat;
        b->tfa95_w += firsts * d->first_p95_s * lat;
        b->tfa_n += firsts;
    }

    /* Retryable failures: delivered in a burst when the outage ends, or
     * expired once retry_for has passed, whichever comes first. */
    int64_t retryable = failing - fdisc;
    if (retryable <= 0)
        return;
    double arrival = t + span / 2;
    double end = period_end(outage, arrival);
    bool succeeds = end - arrival <= outage->retry_for_s;
    double landing = succeeds ? end : arrival + outage->retry_for_s;
    struct conn_bucket *late = bucket_at(c, landing);
    if (!late)
        return;
    if (succeeds) {
        double wait = landing - arrival + d->latency_avg_s * lat;
        late->succ_retry += retryable;
        late->tts_w += (double)retryable * wait;
        late->tts95_w += (double)retryable * wait;
        late->tts_n += (double)retryable;
    } else {
        late->expired += retryable;
    }
}

struct conn_bucket *model_connection(const struct scenario *sc,
                                     const struct sim_source *s,
                                     const struct sim_dest *d,
                                     const struct model_window *w)
{
    struct conn_bucket *b = xcalloc(w->n + 1, sizeof(*b));
    /* One block for every bucket's reason counts, owned by b[0]. */
    int64_t *reasons = xcalloc((w->n + 1) * (sc->n_reasons + 1),
                               sizeof(*reasons));
    for (size_t i = 0; i <= w->n; i++)
        b[i].by_reason = reasons + i * (sc->n_reasons + 1);
    if (!d->enabled || !s->enabled || d->mode == SIM_MODE_DEVICE ||
        w->n == 0)
        return b;

    struct conn_ctx c = { sc, s, d, w, 0, 0, b, NULL };
    c.extra = xcalloc(d->n_incidents + 1, sizeof(*c.extra));
    model_window_minutes(w->start, w->end, w->now, &c.m0, &c.m1);
    int64_t first = c.m0 - (int64_t)ceil(d->lookback_s / 60);
    for (int64_t m = first; m < c.m1; m++)
        conn_minute(&c, m);
    free(c.extra);
    return b;
}

void model_conn_free(struct conn_bucket *b)
{
    if (!b)
        return;
    free(b[0].by_reason);
    free(b);
}

void model_delivery(const struct scenario *sc, const struct sim_source *s,
                    const struct sim_dest *d, double start, double end,
                    double now, struct delivery_summary *out)
{
    struct model_window w = { start, end, now, start, fmax(end - start, 60),
                              1 };
    struct conn_bucket *b = model_connection(sc, s, d, &w);

    *out = (struct delivery_summary){ 0 };
    out->attempted = b->deliveries;
    out->first_attempt = b->succ_first;
    out->after_retry = b->succ_retry;
    out->successes = b->succ_first + b->succ_retry;
    out->discarded = b->discarded;
    out->expired = b->expired;
    out->retried = b->retried;
    if (b->tts_n > 0) {
        /* +-3% per window so latency series are not perfectly flat */
        double j = 1 + 0.06 * (model_hash_unit(s->hash,
                                               (uint64_t)floor(start / 60),
                                               hash_str(d->key)) - 0.5);
        out->tts_avg_s = b->tts_w / b->tts_n * j;
        out->tts_p95_s = b->tts95_w / b->tts_n * j;
    }
    if (b->tfa_n > 0) {
        out->tfa_avg_s = b->tfa_w / b->tfa_n;
        out->tfa_p95_s = b->tfa95_w / b->tfa_n;
    }
    model_conn_free(b);
}

/* ---- usage ------------------------------------------------------------- */

int64_t model_days_from_civil(int64_t y, int m, int d)
{
    return days_from_civil(y, (unsigned)m, (unsigned)d);
}

void model_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    civil_from_days(z, y, m, d);
}

static int days_in_month(int y, int m)
{
    int64_t a = model_days_from_civil(y, m, 1);
    int64_t b = m == 12 ? model_days_from_civil(y + 1, 1, 1)
                        : model_days_from_civil(y, m + 1, 1);
    return (int)(b - a);
}

/* The anchor day clamped to the month's length (anchor 31 in February). */
static int64_t cycle_day(int y, int m, int anchor)
{
    int dim = days_in_month(y, m);
    return model_days_from_civil(y, m, anchor > dim ? dim : anchor);
}

void model_period(const struct scenario *sc, double t, double *ps, double *pe)
{
    int64_t day = (int64_t)floor(t / 86400);
    int y, m, d;
    model_civil_from_days(day, &y, &m, &d);
    int64_t start = cycle_day(y, m, sc->period_anchor_day);
    if (start > day) {
        if (--m < 1) {
            m = 12;
            y--;
        }
        start = cycle_day(y, m, sc->period_anchor_day);
    }
    int ny = y, nm = m + 1;
    if (nm > 12) {
        nm = 1;
        ny++;
    }
    *ps = (double)start * 86400;
    *pe = (double)cycle_day(ny, nm, sc->period_anchor_day) * 86400;
}

/* Deterministic day-to-day variation of usage growth, 0.9 .. 1.1. */
static double day_factor(const struct sim_source *s, int64_t day, uint64_t k)
{
    return 0.9 + 0.2 * model_hash_unit(s->hash, (uint64_t)day, k);
}

/* Growth of a per-day quantity over [a, b), with optional surge incidents. */
static double cumulative(const struct sim_source *s, double per_day,
                         double a, double b, uint64_t k, bool surge)
{
    double total = 0;
    if (per_day <= 0 || b <= a || !s->enabled)
        return 0;
    for (int64_t day = (int64_t)floor(a / 86400); (double)day * 86400 < b;
         day++) {
        double lo = fmax(a, (double)day * 86400);
        double hi = fmin(b, (double)(day + 1) * 86400);
        if (hi <= lo)
            continue;
        double rate = per_day * day_factor(s, day, k) / 86400;
        total += rate * (hi - lo);
        if (!surge)
            continue;
        for (size_t i = 0; i < s->n_incidents; i++) {
            const struct sim_incident *inc = s->incidents[i];
            if (inc->kind == INC_MTU_SURGE)
                total += rate * (inc->value - 1) *
                         model_incident_overlap(inc, lo, hi);
        }
    }
    return total < 0 ? 0 : total;
}

void model_mtu(const struct scenario *sc, const struct sim_source *s,
               double period_start, double t, struct mtu_counts *out)
{
    UNUSED(sc);
    int64_t total = (int64_t)llround(cumulative(s, s->mtu_per_day,
                                                period_start, t, 3, true));
    /* Fixed shares, close to the fixtures: ~22% identified, the rest never
     * identified; anonymous = neverIdentified + anonymousIdentified. */
    out->identified = (int64_t)llround((double)total * 0.22);
    out->never_identified = total - out->identified;
    out->anonymous_identified = (int64_t)llround((double)total * 0.075);
    out->anonymous = out->never_identified + out->anonymous_identified;
}

int64_t model_api_calls(const struct scenario *sc, const struct sim_source *s,
                        double period_start, double t)
{
    UNUSED(sc);
    return (int64_t)llround(cumulative(s, s->api_calls_per_day, period_start,
                                       t, 4, false));
}

void model_format_rfc5322(double t, char *buf, size_t len)
{
    static const char *wd[] = { "Thu", "Fri", "Sat", "Sun", "Mon", "Tue",
                                "Wed" };
    static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    int64_t secs = (int64_t)floor(t);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t rem = secs - days * 86400;
    int y, m, d;
    model_civil_from_days(days, &y, &m, &d);
    int w = (int)(((days % 7) + 7) % 7);
    snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d +0000", wd[w], d,
             mon[m - 1], y, (int)(rem / 3600), (int)(rem / 60 % 60),
             (int)(rem % 60));
}
