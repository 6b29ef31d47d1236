/*
 * conns.c - see conns.h.
 *
 * The table is small (libmicrohttpd's connection limit, a few hundred), so
 * every question is a scan of it.
 */
#include "server/conns.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"

enum conn_phase {
    PH_WAITING = 0,             /* for a (complete) request header */
    PH_BODY,                    /* for the rest of the request body */
    PH_BUSY,                    /* being answered */
};

/* A client address, IPv4-mapped IPv6 folded into IPv4. */
struct peer {
    int family;                 /* AF_INET, AF_INET6 or 0 (unknown) */
    unsigned char addr[16];
};

struct conn {
    int fd;
    struct peer peer;
    enum conn_phase phase;
    double since;               /* start of the phase */
    double deadline;
    bool shut;                  /* shut down, waiting for the close */
    size_t idx;                 /* in the table */
};

struct conns {
    pthread_mutex_t mu;
    struct conns_limits lim;
    struct conn **items;
    size_t n, cap;
    uint64_t timed_out, evicted;
    /* since the last report */
    uint64_t rep_timed_out, rep_evicted;
    struct peer rep_worst;
    unsigned rep_worst_n;
    double last_report;
    bool reported;
};

static void peer_of(const struct sockaddr *sa, socklen_t len, struct peer *p)
{
    memset(p, 0, sizeof(*p));
    if (!sa)
        return;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        p->family = AF_INET;
        memcpy(p->addr, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6 &&
               len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            p->family = AF_INET;
            memcpy(p->addr, &in6->sin6_addr.s6_addr[12], 4);
        } else {
            p->family = AF_INET6;
            memcpy(p->addr, &in6->sin6_addr, 16);
        }
    }
}

static bool peer_eq(const struct peer *a, const struct peer *b)
{
    return a->family == b->family && memcmp(a->addr, b->addr, 16) == 0;
}

static void peer_str(const struct peer *p, char *buf, size_t len)
{
    if (!p->family || !inet_ntop(p->family, p->addr, buf, (socklen_t)len))
        snprintf(buf, len, "unknown");
}

struct conns *conns_new(const struct conns_limits *lim)
{
    struct conns *t = xcalloc(1, sizeof(*t));
    pthread_mutex_init(&t->mu, NULL);
    t->lim = *lim;
    t->last_report = -INFINITY;
    return t;
}

void conns_free(struct conns *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->items[i]);
    free(t->items);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* Connections not shut down yet, from peer p (NULL: everyone). */
static size_t count_live(const struct conns *t, const struct peer *p)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        if (!t->items[i]->shut && (!p || peer_eq(&t->items[i]->peer, p)))
            n++;
    return n;
}

static void shut(struct conns *t, struct conn *c, bool evicted)
{
    shutdown(c->fd, SHUT_RDWR);
    c->shut = true;
    if (evicted) {
        t->evicted++;
        t->rep_evicted++;
    } else {
        t->timed_out++;
        t->rep_timed_out++;
    }
    unsigned same = (unsigned)count_live(t, &c->peer) + 1;
    if (same > t->rep_worst_n) {
        t->rep_worst = c->peer;
        t->rep_worst_n = same;
    }
}

/* Shut down the connection (from p, or anyone when p is NULL; never
 * spare) that has waited longest for its request.  Returns whether one
 * was. */
static bool evict_one(struct conns *t, const struct peer *p,
                      const struct conn *spare)
{
    struct conn *oldest = NULL;
    for (size_t i = 0; i < t->n; i++) {
        struct conn *c = t->items[i];
        if (c->shut || c->phase == PH_BUSY || c == spare ||
            (p && !peer_eq(&c->peer, p)))
            continue;
        if (!oldest || c->since < oldest->since)
            oldest = c;
    }
    if (!oldest)
        return false;
    shut(t, oldest, true);
    return true;
}

/* Keep the reserve of p's share and of the total, sparing spare. */
static void make_room(struct conns *t, const struct peer *p,
                      const struct conn *spare)
{
    size_t soft_ip = t->lim.max_per_ip > t->lim.reserve_per_ip
                         ? t->lim.max_per_ip - t->lim.reserve_per_ip : 1;
    size_t soft = t->lim.max_total > t->lim.reserve
                      ? t->lim.max_total - t->lim.reserve : 1;
    if (p)
        while (count_live(t, p) > soft_ip && evict_one(t, p, spare))
            ;
    while (count_live(t, NULL) > soft && evict_one(t, NULL, spare))
        ;
}

struct conn *conns_open(struct conns *t, int fd, const struct sockaddr *addr,
                        socklen_t alen, double now)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->fd = fd;
    peer_of(addr, alen, &c->peer);
    c->phase = PH_WAITING;
    c->since = now;
    c->deadline = now + t->lim.wait_s;
    pthread_mutex_lock(&t->mu);
    XGROW(t->items, t->n + 1, t->cap);
    c->idx = t->n;
    t->items[t->n++] = c;
    make_room(t, &c->peer, c);
    pthread_mutex_unlock(&t->mu);
    return c;
}

void conns_request(struct conns *t, struct conn *c, double now)
{
    if (!c)
        return;
    pthread_mutex_lock(&t->mu);
    c->phase = PH_BODY;
    c->deadline = now + t->lim.request_s;
    pthread_mutex_unlock(&t->mu);
}

void conns_answer(struct conns *t, struct conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&t->mu);
    c->phase = PH_BUSY;
    pthread_mutex_unlock(&t->mu);
}

void conns_idle(struct conns *t, struct conn *c, double now)
{
    if (!c)
        return;
    pthread_mutex_lock(&t->mu);
    c->phase = PH_WAITING;
    c->since = now;
    c->deadline = now + t->lim.wait_s;
    pthread_mutex_unlock(&t->mu);
}

void conns_close(struct conns *t, struct conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&t->mu);
    size_t i = c->idx;
    t->items[i] = t->items[--t->n];
    t->items[i]->idx = i;
    pthread_mutex_unlock(&t->mu);
    free(c);
}

static void report(struct conns *t, double now)
{
    uint64_t total = t->rep_timed_out + t->rep_evicted;
    if (!total || now - t->last_report < t->lim.report_interval_s)
        return;
    char who[INET6_ADDRSTRLEN];
    peer_str(&t->rep_worst, who, sizeof(who));
    char since[64] = "";
    if (t->reported)
        snprintf(since, sizeof(since), " in the last %.0f s",
                 now - t->last_report);
    log_warn("httpd: closed %llu slow connections%s: %llu without a "
             "complete request within %.0f s (or an answer within %.0f s), "
             "%llu waiting ones to make room for others (most from %s)",
             (unsigned long long)total, since,
             (unsigned long long)t->rep_timed_out, t->lim.wait_s,
             t->lim.request_s, (unsigned long long)t->rep_evicted, who);
    t->rep_timed_out = t->rep_evicted = 0;
    t->rep_worst_n = 0;
    t->last_report = now;
    t->reported = true;
}

void conns_sweep(struct conns *t, double now)
{
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n; i++) {
        struct conn *c = t->items[i];
        if (!c->shut && now >= c->deadline)
            shut(t, c, false);
    }
    make_room(t, NULL, NULL);
    /* every address over its share, not only the newest arrival's */
    for (size_t i = 0; i < t->n; i++)
        if (!t->items[i]->shut)
            make_room(t, &t->items[i]->peer, NULL);
    report(t, now);
    pthread_mutex_unlock(&t->mu);
}

void conns_get_stats(struct conns *t, struct conns_stats *out)
{
    pthread_mutex_lock(&t->mu);
    out->open = (unsigned)t->n;
    out->timed_out = t->timed_out;
    out->evicted = t->evicted;
    pthread_mutex_unlock(&t->mu);
}
