/*
 * test_deliver.c - the deliverer's edges that need no peer: an email when
 * the SMTP worker thread cannot start (no file descriptor left for its
 * pipe) fails as retryable instead of crashing, and the deliverer works
 * again once descriptors are back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api/http.h"
#include "core/util.h"
#include "notify/deliver.h"
#include "notify/notify.h"

#define T0 1787227200.0

struct outcome {
    int calls;
    struct delivery_verdict v;
};

static void on_done(void *ud, const struct delivery_verdict *v)
{
    struct outcome *o = ud;
    o->calls++;
    o->v = *v;
}

static struct notification *email_notification(void)
{
    struct notification *n = notification_new();
    n->id = xstrdup("0123456789abcdef-1");
    n->receiver = xstrdup("mail");
    n->receiver_type = RECV_EMAIL;
    n->route = xstrdup("default");
    n->group_key = xstrdup("default:{}");
    n->reason = NOTIFY_FIRST;
    n->created_at = T0;
    n->nalerts = 1;
    n->alerts = xcalloc(1, sizeof(*n->alerts));
    n->alerts[0].rule = xstrdup("r");
    n->alerts[0].severity = xstrdup("critical");
    n->alerts[0].status = xstrdup("firing");
    n->alerts[0].value = NAN;
    return n;
}

static void test_email_without_worker_is_retryable(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    struct http_client *http = http_client_new();
    struct deliverer *dl = deliverer_new(http, NULL, false);
    struct notification *n = email_notification();
    char *to[] = { "oncall@example.com" };
    struct receiver_cfg rc;
    memset(&rc, 0, sizeof(rc));
    rc.name = "mail";
    rc.type = RECV_EMAIL;
    rc.smtp_host = "127.0.0.1";
    rc.smtp_port = 1;           /* nothing listens: never reached here */
    rc.from = "segalert@example.com";
    rc.to.items = to;
    rc.to.n = 1;
    rc.timeout_s = 1;

    /* Use up every descriptor so the worker's pipe cannot be created. */
    struct rlimit old, low;
    getrlimit(RLIMIT_NOFILE, &old);
    low = old;
    low.rlim_cur = 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fds[64], nfds = 0;
    while (nfds < 64) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0)
            break;
        fds[nfds++] = fd;
    }
    assert_int_equal(errno, EMFILE);

    struct outcome o = { 0 };
    deliverer_send(dl, n, &rc, T0, 15, on_done, &o);
    for (int i = 0; i < 50 && o.calls == 0; i++)
        deliverer_poll(dl);
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    setrlimit(RLIMIT_NOFILE, &old);

    assert_int_equal(o.calls, 1);
    assert_int_equal(o.v.outcome, DELIVERY_RETRY);
    assert_non_null(strstr(o.v.reason, "SMTP worker"));
    assert_int_equal(deliverer_in_flight(dl), 0);

    /* With descriptors back, the next email starts the worker and gets a
     * real SMTP outcome (connection refused: retryable as well). */
    struct outcome o2 = { 0 };
    deliverer_send(dl, n, &rc, T0, 15, on_done, &o2);
    for (int i = 0; i < 500 && o2.calls == 0; i++) {
        http_run(http, 20);     /* woken by the worker's pipe */
        deliverer_poll(dl);
    }
    assert_int_equal(o2.calls, 1);
    assert_int_equal(o2.v.outcome, DELIVERY_RETRY);
    assert_null(strstr(o2.v.reason, "SMTP worker"));

    notification_free(n);
    deliverer_free(dl);
    http_client_free(http);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email_without_worker_is_retryable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
