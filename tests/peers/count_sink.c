/*
 * count_sink.c - a fast HTTP sink for the notification benchmarks and the
 * its own use: it answers every POST with 200 and counts the requests per
 * notification, so that duplicates and losses show.  A notification is
 * known by segalert's "notificationId" (in the webhook JSON's "segalert"
 * object) or, when the body has none (Alertmanager), by its "groupKey":
 * with one notification per group, as in the benchmark, that is the same.
 *
 *   count_sink [--port P] [--delay-ms N] [--threads N]
 *
 * Listens on 127.0.0.1 only (port 0, the default, picks a free one) and
 * prints "READY <port>" on stdout once it accepts connections.  SIGTERM or
 * SIGINT stops it.
 *
 *   --delay-ms N   answer each request N ms after it arrived (a slow
 *                  receiver; one thread per connection then, so the delay
 *                  of one request does not hold up the others)
 *   --threads N    polling threads when there is no delay (default 2)
 *
 * GET /_stats answers one JSON object:
 *   requests      POSTs answered
 *   groups        distinct notifications seen (ids or group keys)
 *   duplicates    requests beyond the first of each notification
 *   no_key        POSTs with neither a notificationId nor a groupKey
 *   first, last   arrival time of the first and the last POST, Unix
 *                 seconds with microseconds (CLOCK_REALTIME; 0 = none)
 *   open          TCP connections open now; max_open: the most at once
 *   inflight      requests being answered now; max_inflight: the most
 *   connections   TCP connections that carried a notification (a POST
 *                 outside /_*), in all: the control requests' own
 *                 connections are not counted
 * GET /_dups lists the notifications seen more than once ("count key"
 * lines).
 * POST /_reset forgets everything above.  Nothing else is recorded.
 *
 * Built by `make bench` (or `make peers`) as $(O)/bench/count_sink; not
 * part of `make all`.
 */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>

/* Longest body kept to find the group key in; the rest is read and
 * dropped. */
#define BODY_CAP (256 * 1024)
#define KEY_CAP 1024

struct counter {
    char *key;                  /* NULL = empty slot */
    uint64_t hash;
    unsigned count;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct counter *table;   /* open addressing */
static size_t table_cap, table_n;
static unsigned long requests, duplicates, no_key, connections;
static long open_now, max_open, inflight, max_inflight;
static double first_t, last_t;
static long delay_ms;

struct req {
    char *body;
    size_t len;
    bool counted_inflight;
};

static double now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void table_grow(void)
{
    size_t ncap = table_cap ? table_cap * 2 : 1024;
    struct counter *nt = calloc(ncap, sizeof(*nt));
    if (!nt)
        abort();
    for (size_t i = 0; i < table_cap; i++) {
        if (!table[i].key)
            continue;
        size_t j = table[i].hash & (ncap - 1);
        while (nt[j].key)
            j = (j + 1) & (ncap - 1);
        nt[j] = table[i];
    }
    free(table);
    table = nt;
    table_cap = ncap;
}

/* Count one request for key (lock held). */
static void count_key(const char *key, size_t n)
{
    if (2 * (table_n + 1) > table_cap)
        table_grow();
    uint64_t h = fnv1a(key, n);
    size_t j = h & (table_cap - 1);
    while (table[j].key) {
        if (table[j].hash == h && strlen(table[j].key) == n &&
            memcmp(table[j].key, key, n) == 0) {
            table[j].count++;
            duplicates++;
            return;
        }
        j = (j + 1) & (table_cap - 1);
    }
    table[j].key = strndup(key, n);
    table[j].hash = h;
    table[j].count = 1;
    table_n++;
}

static void table_clear(void)
{
    for (size_t i = 0; i < table_cap; i++)
        free(table[i].key);
    memset(table, 0, table_cap * sizeof(*table));
    table_n = 0;
}

/* The raw (still escaped) string value of member name (quoted) in body,
 * or NULL: a textual search, enough for the payloads this sink sees. */
static const char *member_str(const char *body, size_t len, const char *name,
                              size_t *n)
{
    const char *end = body + len;
    const char *p = strstr(body, name);     /* body is NUL-terminated */
    if (!p)
        return NULL;
    p += strlen(name);
    while (p < end && (*p == ' ' || *p == ':'))
        p++;
    if (p >= end || *p != '"')
        return NULL;
    const char *s = ++p;
    while (p < end && *p != '"') {
        if (*p == '\\')
            p++;
        p++;
    }
    if (p >= end || p - s > KEY_CAP)
        return NULL;
    *n = (size_t)(p - s);
    return s;
}

/* What identifies the notification body carries, or NULL. */
static const char *notification_key(const char *body, size_t len, size_t *n)
{
    const char *k = member_str(body, len, "\"notificationId\"", n);
    return k ? k : member_str(body, len, "\"groupKey\"", n);
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status,
                              const char *text, bool owned)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(text), (void *)text,
        owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static char *stats_json(void)
{
    char *s = malloc(512);
    if (!s)
        abort();
    pthread_mutex_lock(&lock);
    snprintf(s, 512, "{\"requests\":%lu,\"groups\":%zu,\"duplicates\":%lu,"
                 "\"no_key\":%lu,\"first\":%.6f,\"last\":%.6f,\"open\":%ld,"
                 "\"max_open\":%ld,\"inflight\":%ld,\"max_inflight\":%ld,"
                 "\"connections\":%lu}\n",
                 requests, table_n, duplicates, no_key, first_t, last_t,
                 open_now, max_open, inflight, max_inflight,
                 connections);
    pthread_mutex_unlock(&lock);
    return s;
}

static char *dups_text(void)
{
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    if (!s)
        abort();
    s[0] = '\0';
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < table_cap; i++) {
        if (!table[i].key || table[i].count < 2)
            continue;
        size_t need = strlen(table[i].key) + 32;
        while (len + need >= cap) {
            cap *= 2;
            s = realloc(s, cap);
            if (!s)
                abort();
        }
        len += (size_t)snprintf(s + len, cap - len, "%u %s\n",
                                table[i].count, table[i].key);
    }
    pthread_mutex_unlock(&lock);
    return s;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *data,
                              size_t *size, void **state)
{
    (void)cls;
    (void)version;
    struct req *rq = *state;
    if (!rq) {
        rq = calloc(1, sizeof(*rq));
        if (!rq)
            abort();
        *state = rq;
        if (strcmp(method, "POST") == 0 && strncmp(url, "/_", 2) != 0) {
            /* the connection's flag, set up by on_connection() */
            const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
                c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
            bool *carried = ci ? ci->socket_context : NULL;
            rq->counted_inflight = true;
            pthread_mutex_lock(&lock);
            if (++inflight > max_inflight)
                max_inflight = inflight;
            if (carried && !*carried) {
                *carried = true;
                connections++;
            }
            pthread_mutex_unlock(&lock);
        }
        return MHD_YES;
    }
    if (*size) {
        size_t take = *size;
        if (rq->len + take > BODY_CAP)
            take = rq->len < BODY_CAP ? BODY_CAP - rq->len : 0;
        if (take) {
            char *nb = realloc(rq->body, rq->len + take + 1);
            if (!nb)
                abort();
            rq->body = nb;
            memcpy(rq->body + rq->len, data, take);
            rq->len += take;
            rq->body[rq->len] = '\0';
        }
        *size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") == 0 && strcmp(url, "/_stats") == 0)
        return answer(c, 200, stats_json(), true);
    if (strcmp(method, "GET") == 0 && strcmp(url, "/_dups") == 0)
        return answer(c, 200, dups_text(), true);
    if (strcmp(url, "/_reset") == 0) {
        pthread_mutex_lock(&lock);
        table_clear();
        requests = duplicates = no_key = connections = 0;
        max_open = open_now;
        max_inflight = inflight;
        first_t = last_t = 0;
        pthread_mutex_unlock(&lock);
        return answer(c, 200, "ok\n", false);
    }
    if (strcmp(method, "POST") != 0)
        return answer(c, 405, "{\"status\":\"method not allowed\"}", false);

    double t = now_real();
    if (delay_ms > 0) {
        struct timespec d = { delay_ms / 1000, (delay_ms % 1000) * 1000000L };
        while (nanosleep(&d, &d) != 0 && errno == EINTR)
            ;
    }
    size_t kn = 0;
    const char *k = rq->body ? notification_key(rq->body, rq->len, &kn) : NULL;
    pthread_mutex_lock(&lock);
    requests++;
    if (k)
        count_key(k, kn);
    else
        no_key++;
    if (first_t == 0 || t < first_t)
        first_t = t;
    if (t > last_t)
        last_t = t;
    pthread_mutex_unlock(&lock);
    return answer(c, 200, "{\"status\":\"ok\"}", false);
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct req *rq = *state;
    if (!rq)
        return;
    if (rq->counted_inflight) {
        pthread_mutex_lock(&lock);
        inflight--;
        pthread_mutex_unlock(&lock);
    }
    free(rq->body);
    free(rq);
    *state = NULL;
}

/* *socket_ctx: whether the connection carried a notification yet. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    (void)c;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        bool *carried = calloc(1, sizeof(*carried));
        if (!carried)
            abort();
        *socket_ctx = carried;
    } else {
        free(*socket_ctx);
        *socket_ctx = NULL;
    }
    pthread_mutex_lock(&lock);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        if (++open_now > max_open)
            max_open = open_now;
    } else {
        open_now--;
    }
    pthread_mutex_unlock(&lock);
}

int main(int argc, char **argv)
{
    long port = 0, threads = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc)
            delay_ms = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = strtol(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: count_sink [--port P] [--delay-ms N] "
                    "[--threads N]\n");
            return 2;
        }
    }
    /* As many connections as the peer opens: the sink must not be what
     * limits a benchmark. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    unsigned conn_limit = rl.rlim_cur > 128 ? (unsigned)(rl.rlim_cur - 64)
                                            : 64;
    /* SIGTERM and SIGINT blocked in every thread (libmicrohttpd's inherit
     * the mask) and taken by sigwait() below, so whichever thread the
     * kernel would pick, the signal stops the sink. */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *mhd;
    if (delay_ms > 0)
        mhd = MHD_start_daemon(
            MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                MHD_USE_POLL,
            0, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &sa,
            MHD_OPTION_CONNECTION_LIMIT, conn_limit,
            MHD_OPTION_CONNECTION_TIMEOUT, 120u,
            MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
            MHD_OPTION_THREAD_STACK_SIZE, (size_t)256 * 1024,
            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
            MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
            MHD_OPTION_END);
    else
        mhd = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
            handle, NULL, MHD_OPTION_SOCK_ADDR, &sa,
            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
            MHD_OPTION_CONNECTION_LIMIT, conn_limit,
            MHD_OPTION_CONNECTION_TIMEOUT, 120u,
            MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
            MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
            MHD_OPTION_END);
    if (!mhd) {
        fprintf(stderr, "count_sink: cannot listen on 127.0.0.1:%ld\n", port);
        return 1;
    }
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT);
    printf("READY %u\n", (unsigned)di->port);
    fflush(stdout);
    int sig;
    while (sigwait(&stop_set, &sig) != 0)
        ;
    MHD_stop_daemon(mhd);
    return 0;
}
