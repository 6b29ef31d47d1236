/*
 * sim_stats.c - counters behind /sim/stats.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "sim_stats.h"

#define MAX_STATUS 600          /* index 0 = dropped connection */
#define WINDOW_MS 60000

/* Arrival times within the last minute, as a growable ring. */
struct window {
    int64_t *t;
    size_t head, len, cap;
    uint64_t peak;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t by_ep[EP_COUNT][MAX_STATUS];
static uint64_t total, rate_limited;
static long in_flight, max_in_flight;
static struct window all_w, accepted_w;
static int64_t started_ms;
static const struct clock *stats_clock;

/* Monotonic milliseconds of the sim's clock. */
static int64_t mono_ms(void)
{
    return (int64_t)llround(clock_mono(stats_clock) * 1000);
}

void stats_init(const struct clock *clock)
{
    pthread_mutex_lock(&lock);
    stats_clock = clock;
    started_ms = mono_ms();
    pthread_mutex_unlock(&lock);
}

static void window_free(struct window *w)
{
    free(w->t);
    memset(w, 0, sizeof(*w));
}

void stats_free(void)
{
    pthread_mutex_lock(&lock);
    window_free(&all_w);
    window_free(&accepted_w);
    pthread_mutex_unlock(&lock);
}

static void window_push(struct window *w, int64_t now)
{
    while (w->len && w->t[w->head] <= now - WINDOW_MS) {
        w->head = (w->head + 1) % w->cap;
        w->len--;
    }
    if (w->len == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 1024;
        int64_t *n = xmalloc(ncap * sizeof(*n));
        for (size_t i = 0; i < w->len; i++)
            n[i] = w->t[(w->head + i) % w->cap];
        free(w->t);
        w->t = n;
        w->cap = ncap;
        w->head = 0;
    }
    w->t[(w->head + w->len) % w->cap] = now;
    w->len++;
    if (w->len > w->peak)
        w->peak = w->len;
}

void stats_begin(void)
{
    pthread_mutex_lock(&lock);
    if (++in_flight > max_in_flight)
        max_in_flight = in_flight;
    pthread_mutex_unlock(&lock);
}

void stats_end(void)
{
    pthread_mutex_lock(&lock);
    in_flight--;
    pthread_mutex_unlock(&lock);
}

void stats_arrival(bool accepted)
{
    pthread_mutex_lock(&lock);
    int64_t now_ms = mono_ms();
    window_push(&all_w, now_ms);
    if (accepted)
        window_push(&accepted_w, now_ms);
    pthread_mutex_unlock(&lock);
}

void stats_record(enum sim_endpoint ep, int status)
{
    if ((unsigned)ep >= EP_COUNT)
        ep = EP_OTHER;
    if (status < 0 || status >= MAX_STATUS)
        status = 0;
    pthread_mutex_lock(&lock);
    by_ep[ep][status]++;
    total++;
    if (status == 429)
        rate_limited++;
    pthread_mutex_unlock(&lock);
}

void stats_reset(void)
{
    pthread_mutex_lock(&lock);
    memset(by_ep, 0, sizeof(by_ep));
    total = rate_limited = 0;
    max_in_flight = in_flight;
    window_free(&all_w);
    window_free(&accepted_w);
    started_ms = mono_ms();
    pthread_mutex_unlock(&lock);
}

/* "200", or "dropped" for a connection closed without an answer. */
static const char *status_key(int st, char *buf, size_t len)
{
    if (st == 0)
        return "dropped";
    snprintf(buf, len, "%d", st);
    return buf;
}

void stats_json(struct strbuf *sb)
{
    uint64_t by_status[MAX_STATUS] = { 0 };
    char key[16];
    pthread_mutex_lock(&lock);
    jw_open(sb, NULL, '{');
    jw_double(sb, "uptime_s",
              round((double)(mono_ms() - started_ms)) / 1000.0);
    jw_uint(sb, "requests_total", total);
    jw_open(sb, "by_endpoint", '{');
    for (int e = 0; e < EP_COUNT; e++) {
        bool any = false;
        for (int st = 0; st < MAX_STATUS; st++) {
            if (!by_ep[e][st])
                continue;
            by_status[st] += by_ep[e][st];
            if (!any)
                jw_open(sb, sim_endpoint_name((enum sim_endpoint)e), '{');
            any = true;
            jw_uint(sb, status_key(st, key, sizeof(key)), by_ep[e][st]);
        }
        if (any)
            jw_close(sb, '}');
    }
    jw_close(sb, '}');
    jw_open(sb, "by_status", '{');
    for (int st = 0; st < MAX_STATUS; st++)
        if (by_status[st])
            jw_uint(sb, status_key(st, key, sizeof(key)), by_status[st]);
    jw_close(sb, '}');
    jw_uint(sb, "rate_limited", rate_limited);
    jw_uint(sb, "peak_per_minute", all_w.peak);
    jw_uint(sb, "peak_accepted_per_minute", accepted_w.peak);
    jw_int(sb, "max_in_flight", max_in_flight);
    jw_int(sb, "in_flight", in_flight);
    jw_close(sb, '}');
    pthread_mutex_unlock(&lock);
}
