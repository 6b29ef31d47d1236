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

/* ---- delivery ---------------------------------------------------------- */

void model_delivery(const struct scenario *sc, const struct sim_source *s,
                    const struct sim_dest *d, double start, double end,
                    double now, struct delivery_summary *out)
{
    int64_t m0, m1;
    double attempted = 0, discarded = 0, expired = 0, retry = 0;
    double delivered = 0, lat_w = 0, lat95_w = 0, first_w = 0, first95_w = 0;
    double first_n = 0;
    double completed = 0;       /* attempted minus stalled events */

    *out = (struct delivery_summary){ 0 };
    if (!d->enabled || !s->enabled)
        return;
    window_minutes(start, end, now, &m0, &m1);
    for (int64_t m = m0; m < m1; m++) {
        int64_t n = minute_events_so_far(sc, s, m, now);
        if (n == 0)
            continue;
        double t = (double)m * 60;
        /* In the current minute only the part until now counts. */
        double span = 60 * minute_elapsed(m, now);
        double dr = d->discard_ratio, lat = 1, stall = 0;
        for (size_t i = 0; i < d->n_incidents; i++) {
            const struct sim_incident *inc = d->incidents[i];
            double share = span > 0 ? model_incident_overlap(inc, t, t + span) / span
                                    : 0;
            if (share <= 0)
                continue;
            switch (inc->kind) {
            case INC_DISCARD_SPIKE:
                dr += (fmax(dr, inc->value) - dr) * share;
                break;
            case INC_LATENCY_SPIKE:
                lat *= 1 + (inc->value - 1) * share;
                break;
            case INC_DELIVERY_STALL:
                stall = fmax(stall, share);
                break;
            default:
                break;
            }
        }
        attempted += (double)n;
        /* Stalled events pile up: none completes in any way. */
        double done = (double)n * (1 - stall);
        if (done <= 0)
            continue;
        completed += done;
        double er = fmin(d->expired_ratio, 1 - dr);
        double disc = done * dr, exp_n = done * er;
        double succ = done - disc - exp_n;
        discarded += disc;
        expired += exp_n;
        retry += succ * d->retry_ratio;
        delivered += succ;
        lat_w += succ * d->latency_avg_s * lat;
        lat95_w += succ * d->latency_p95_s * lat;
        first_w += (succ + disc) * d->first_avg_s * lat;
        first95_w += (succ + disc) * d->first_p95_s * lat;
        first_n += succ + disc;
    }
    out->attempted = (int64_t)llround(attempted);
    out->discarded = (int64_t)llround(discarded);
    out->expired = (int64_t)llround(expired);
    /* Integer identity: successes + discarded + expired == delivered set. */
    out->successes = (int64_t)llround(completed) - out->discarded -
                     out->expired;
    if (out->successes < 0)
        out->successes = 0;
    out->after_retry = (int64_t)llround(retry);
    if (out->after_retry > out->successes)
        out->after_retry = out->successes;
    out->first_attempt = out->successes - out->after_retry;
    out->retried = out->after_retry + out->expired +
                   (int64_t)llround((double)out->discarded * 0.5);
    if (delivered > 0) {
        /* +-3% per window so latency series are not perfectly flat */
        double j = 1 + 0.06 * (model_hash_unit(s->hash, (uint64_t)m0,
                                               hash_str(d->key)) - 0.5);
        out->tts_avg_s = lat_w / delivered * j;
        out->tts_p95_s = lat95_w / delivered * j;
    }
    if (first_n > 0) {
        out->tfa_avg_s = first_w / first_n;
        out->tfa_p95_s = first95_w / first_n;
    }
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
