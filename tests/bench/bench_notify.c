/*
 * bench_notify.c - notification throughput through the real delivery path
 * (payload building, HTTP posts on the curl multi loop, the SMTP worker).
 *
 *   bench_notify webhook N CONCURRENCY   starts its own HTTP sink
 *                                        (libmicrohttpd, 127.0.0.1) and
 *                                        posts N webhook notifications
 *   bench_notify email N PORT            sends N emails to a local SMTP
 *                                        server on 127.0.0.1:PORT
 *
 * Prints one table row: what, count, seconds, per second.
 */
#include <microhttpd.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "notify/deliver.h"
#include "api/http.h"
#include "core/log.h"
#include "notify/notify.h"
#include "notify/receiver.h"
#include "notify/recv_email.h"
#include "notify/recv_webhook.h"
#include "config/receiver_type.h"

static atomic_long received;

static enum MHD_Result sink(void *cls, struct MHD_Connection *c, const char *url,
                            const char *method, const char *version,
                            const char *data, size_t *size, void **state)
{
    static int first;
    if (*state == NULL) {
        *state = &first;
        return MHD_YES;
    }
    if (*size) {
        *size = 0;      /* consume the body */
        return MHD_YES;
    }
    atomic_fetch_add(&received, 1);
    struct MHD_Response *r = MHD_create_response_from_buffer(
        2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static struct notification *make(int i, const char *type, const char *recv)
{
    struct notification *n = notification_new();
    n->id = xasprintf("bench-%d", i);
    n->receiver = xstrdup(recv);
    n->receiver_type = xstrdup(type);
    n->route = xstrdup("bench");
    n->group_key = xasprintf("bench:{rule=\"r\",source=\"s%d\"}", i % 100);
    n->reason = NOTIFY_FIRST;
    n->created_at = now_wall();
    n->nalerts = 2;
    n->alerts = xcalloc(2, sizeof(struct notify_alert));
    for (int k = 0; k < 2; k++) {
        struct notify_alert *a = &n->alerts[k];
        a->rule = xstrdup("delivery-discard-ratio");
        a->fingerprint = xasprintf("%016x", i * 2 + k);
        a->nlabels = 4;
        a->labels = xcalloc(4, sizeof(struct kv));
        a->labels[0].key = xstrdup("destination");
        a->labels[0].value = xasprintf("Destination %d", k);
        a->labels[1].key = xstrdup("rule");
        a->labels[1].value = xstrdup("delivery-discard-ratio");
        a->labels[2].key = xstrdup("source");
        a->labels[2].value = xasprintf("s%d", i % 100);
        a->labels[3].key = xstrdup("workspace");
        a->labels[3].value = xstrdup("prod");
        a->severity = xstrdup("critical");
        a->status = xstrdup("firing");
        a->value = 0.0421;
        a->summary = xstrdup("Destination discards 4.2% of events from web");
        a->starts_at = now_wall() - 60;
    }
    return n;
}

static long done_count, ok_count;

static void on_done(void *ud, const struct delivery_verdict *v)
{
    (void)ud;
    done_count++;
    if (v->outcome == DELIVERY_OK)
        ok_count++;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_notify webhook N CONCURRENCY | email N PORT\n");
        return 2;
    }
    log_set_level(LOG_ERR);
    long n = strtol(argv[2], NULL, 10);
    struct config *cfg = config_new_defaults();
    char err[256];
    if (receivers_register(NULL, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_notify: %s\n", err);
        return 1;
    }
    struct receiver_cfg rc;
    memset(&rc, 0, sizeof(rc));
    struct email_cfg ec;
    memset(&ec, 0, sizeof(ec));
    struct MHD_Daemon *mhd = NULL;
    long concurrency = 1;
    bool email = strcmp(argv[1], "email") == 0;
    char url[128];
    char *to[] = { "oncall@example.com" };
    if (!email) {
        concurrency = strtol(argv[3], NULL, 10);
        struct sockaddr_in sa = { 0 };
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
                               0, NULL, NULL, sink, NULL,
                               MHD_OPTION_SOCK_ADDR, &sa,
                               MHD_OPTION_THREAD_POOL_SIZE, 2,
                               MHD_OPTION_CONNECTION_LIMIT, 512,
                               MHD_OPTION_END);
        if (!mhd) {
            fprintf(stderr, "bench_notify: cannot start the sink\n");
            return 1;
        }
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", di->port);
        rc.name = "hook";
        rc.type = &recv_webhook.def;
        rc.url = url;
        rc.timeout_s = 10;
    } else {
        concurrency = n;   /* the worker batches them into one session */
        rc.name = "mail";
        rc.type = &recv_email.def;
        rc.priv = &ec;
        ec.smtp_host = "127.0.0.1";
        ec.smtp_port = (int)strtol(argv[3], NULL, 10);
        ec.starttls = STARTTLS_NO;
        ec.from = "segalert <alerts@example.com>";
        ec.to.items = to;
        ec.to.n = 1;
        rc.timeout_s = 30;
    }
    struct http_client *http = http_client_new();
    struct deliverer *dl = deliverer_new(http, NULL, false);
    struct notification **ns = xcalloc((size_t)n, sizeof(*ns));
    for (long i = 0; i < n; i++)
        ns[i] = make((int)i, receiver_type_name(rc.type), rc.name);

    double t0 = now_wall();
    long next = 0;
    while (done_count < n) {
        while (next < n && (long)deliverer_in_flight(dl) < concurrency) {
            deliverer_send(dl, ns[next], &rc, now_wall(), 60, on_done, NULL);
            next++;
        }
        http_run(http, 5);
        deliverer_poll(dl);
    }
    double dt = now_wall() - t0;
    printf("| %s | %ld | %ld ok | %.2f s | %.0f/s |\n",
           email ? "emails to a local aiosmtpd (one session)"
                 : "webhook notifications to a local sink",
           n, ok_count, dt, (double)n / dt);
    for (long i = 0; i < n; i++)
        notification_free(ns[i]);
    free(ns);
    deliverer_free(dl);
    http_client_free(http);
    if (mhd)
        MHD_stop_daemon(mhd);
    config_free(cfg);
    return ok_count == n ? 0 : 1;
}
