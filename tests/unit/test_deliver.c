/*
 * test_deliver.c - the deliverer without peers: what each HTTP receiver
 * type posts (URLs, headers, body byte for byte, timeout) through a fake
 * transport and how the answers become one verdict (Alertmanager fan-out:
 * any URL that took it is enough); the connections per receiver host
 * (never more than max_connections posts in progress to a host, the rest
 * wait first in first out and start when one finishes, receivers posting
 * to the same host share it, a refused start fails only that post, an
 * aborted client starts nothing more); log lines and dry runs on stdout; a
 * receiver that no longer exists; an email when the SMTP worker thread
 * cannot start (no file descriptor left for its pipe) fails as retryable
 * instead of crashing, and the deliverer works again once descriptors are
 * back.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>

#include "api/http.h"
#include "config/receiver_type.h"
#include "core/clock.h"
#include "core/util.h"
#include "notify/deliver.h"
#include "notify/hmac.h"
#include "notify/notify.h"
#include "notify/recv_alertmanager.h"
#include "notify/recv_email.h"
#include "notify/recv_log.h"
#include "notify/recv_pagerduty.h"
#include "notify/recv_slack.h"
#include "notify/recv_webhook.h"

#include "fake_transport.h"
#include "receivers_fixture.h"

#define T0 1787227200.0
#define RESEND_S 15.0


static void test_email_without_worker_is_retryable(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    struct http_client *http = http_client_new();
    struct deliverer *dl = deliverer_new(http, NULL, false);
    struct notification *n = fixture_notification("mail", "email", T0);
    char *to[] = { "oncall@example.com" };
    struct email_cfg e;
    memset(&e, 0, sizeof(e));
    e.smtp_host = "127.0.0.1";
    e.smtp_port = 1;            /* nothing listens: never reached here */
    e.from = "segalert@example.com";
    e.to.items = to;
    e.to.n = 1;
    struct receiver_cfg rc;
    memset(&rc, 0, sizeof(rc));
    rc.name = "mail";
    rc.type = &recv_email.def;
    rc.priv = &e;
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

    struct fixture_outcome o = { 0 };
    deliverer_send(dl, n, &rc, T0, 15, fixture_on_done, &o);
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
    struct fixture_outcome o2 = { 0 };
    deliverer_send(dl, n, &rc, T0, 15, fixture_on_done, &o2);
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

/* ---- HTTP receivers through a fake transport ------------------------------ */

static char dir[] = "/tmp/segalert-deliver-XXXXXX";

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    fixture_register_receivers(NULL, 0);
    return fixture_enter_tmpdir(dir);
}

static int teardown(void **state)
{
    (void)state;
    return fixture_leave_tmpdir(dir);
}

/* Every receiver of the tests below, loaded the way the daemon loads
 * them. */
static struct config *load_receivers(void)
{
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = fixture_load_text("workspace \"p\" { token = \"t0ken\" }\n"
          "receiver \"hook\" {\n"
          "  type = \"webhook\"\n"
          "  url = \"http://hook.example/in\"\n"
          "  hmac_secret = \"s3cret\"\n"
          "  headers = {\"X-Team=data\", \"Authorization: Bearer t0k\"}\n"
          "}\n"
          "receiver \"chat\" { type = \"slack\" "
          "url = \"https://hooks.slack.example/T/B/x\" timeout = \"3s\" }\n"
          "receiver \"pager\" { type = \"pagerduty\" "
          "routing_key = \"R0UT1NGKEY0123456789abcdefABCDEF\" }\n"
          "receiver \"am\" {\n"
          "  type = \"alertmanager\"\n"
          "  url = \"http://am1.example:9093/\"\n"
          "  urls = {\"http://am2.example:9093\"}\n"
          "  headers = {\"X-Scope-OrgID=t1\"}\n"
          "}\n"
          "receiver \"console\" { type = \"log\" }\n"
          "route \"r\" { receiver = \"console\" }\n", &dl);
    for (size_t i = 0; i < dl.n; i++)
        print_error("%s\n", dl.items[i].msg);
    assert_int_equal(dl.n, 0);
    diag_list_free(&dl);
    return cfg;
}

static struct notification *http_notification(const char *receiver)
{
    struct notification *n = fixture_notification(receiver, "email", T0);
    n->external_url = xstrdup("https://segalert.example.com/");
    n->alerts[0].fingerprint = xstrdup("a1b2c3d4e5f60718");
    n->alerts[0].summary = xstrdup("Amplitude discards 4.8% of events");
    n->alerts[0].value = 0.048;
    n->alerts[0].starts_at = T0 - 900;
    return n;
}

struct rig {
    struct fake_transport fake;
    struct clock *clock;
    struct deliverer *dl;
    struct config *cfg;
};

static void rig_init(struct rig *g, bool dry_run)
{
    memset(g, 0, sizeof(*g));
    g->clock = clock_fake_new(T0 + 0.75);
    g->fake.clock = g->clock;
    g->dl = deliverer_new(NULL, g->clock, dry_run);
    deliverer_set_transport(g->dl, fake_transport_of(&g->fake));
    g->cfg = load_receivers();
}

static void rig_free(struct rig *g)
{
    assert_int_equal(g->fake.npending, 0);
    deliverer_free(g->dl);
    fake_free(&g->fake);
    clock_free(g->clock);
    config_free(g->cfg);
}

/* Every header line of pending request i, one a line. */
static char *headers_text(const struct rig *g, size_t i)
{
    const struct http_request *r = g->fake.pending[i];
    struct strbuf sb = STRBUF_INIT;
    for (size_t k = 0; k < r->nheaders; k++) {
        strbuf_adds(&sb, r->headers[k]);
        strbuf_addc(&sb, '\n');
    }
    strbuf_adds(&sb, "");
    return strbuf_detach(&sb);
}

static void assert_post(const struct rig *g, size_t i, const char *url,
                        const struct strbuf *body, long timeout_ms)
{
    const struct http_request *r = g->fake.pending[i];
    assert_string_equal(r->url, url);
    assert_string_equal(r->method, "POST");
    assert_int_equal(r->post_body.len, body->len);
    assert_memory_equal(r->post_body.buf, body->buf, body->len);
    assert_int_equal(r->timeout_ms, timeout_ms);
}

static void test_webhook_post(void **state)
{
    (void)state;
    struct rig g;
    rig_init(&g, false);
    struct notification *n = http_notification("hook");
    struct fixture_outcome o = { 0 };
    deliverer_send(g.dl, n, config_receiver(g.cfg, "hook"), T0, RESEND_S,
                   fixture_on_done, &o);
    assert_int_equal(g.fake.npending, 1);
    struct strbuf body = STRBUF_INIT;
    recv_webhook_payload(n, T0, &body);
    assert_post(&g, 0, "http://hook.example/in", &body, 10000);
    /* the configured headers, then the signature of the time of the clock
     * (whole seconds) and exactly the body, and that time again */
    char hex[65];
    char *signed_text = xasprintf("%.0f.%s", T0, body.buf);
    assert_int_equal(hmac_sha256_hex("s3cret", 6, signed_text,
                                     strlen(signed_text), hex), 0);
    free(signed_text);
    char *want = xasprintf("Content-Type: application/json\n"
                           "X-Team: data\n"
                           "Authorization: Bearer t0k\n"
                           "X-Segalert-Signature: t=%.0f,v1=%s\n"
                           "X-Segalert-Timestamp: %.0f\n", T0, hex, T0);
    char *got = headers_text(&g, 0);
    assert_string_equal(got, want);
    free(got);
    free(want);
    assert_int_equal(deliverer_in_flight(g.dl), 1);
    fake_reply_with(&g.fake, 0, 204, NULL);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.v.outcome, DELIVERY_OK);
    assert_string_equal(o.v.reason, "");     /* only failures say why */
    assert_int_equal(deliverer_in_flight(g.dl), 0);
    strbuf_free(&body);
    notification_free(n);
    rig_free(&g);
}

static void test_slack_and_pagerduty_posts(void **state)
{
    (void)state;
    struct rig g;
    rig_init(&g, false);
    struct notification *n = http_notification("chat");
    const struct receiver_cfg *chat = config_receiver(g.cfg, "chat");
    struct fixture_outcome o = { 0 };
    deliverer_send(g.dl, n, chat, T0, RESEND_S, fixture_on_done, &o);
    struct strbuf body = STRBUF_INIT;
    recv_slack_payload(n, chat, &body);
    assert_post(&g, 0, "https://hooks.slack.example/T/B/x", &body, 3000);
    char *got = headers_text(&g, 0);
    assert_string_equal(got, "Content-Type: application/json\n");
    free(got);
    /* Slack's own classification: its error token is the reason */
    fake_reply_with(&g.fake, 0, 404, "channel_not_found");
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.v.outcome, DELIVERY_PERMANENT);
    /* the failing server is named (its host, never the path) */
    assert_string_equal(o.v.reason, "hooks.slack.example:443: channel_not_found");
    notification_free(n);

    /* PagerDuty without a url: its Events API */
    n = http_notification("pager");
    memset(&o, 0, sizeof(o));
    deliverer_send(g.dl, n, config_receiver(g.cfg, "pager"), T0, RESEND_S,
                   fixture_on_done, &o);
    strbuf_reset(&body);
    recv_pagerduty_payload(n, "R0UT1NGKEY0123456789abcdefABCDEF", &body);
    assert_post(&g, 0, PAGERDUTY_DEFAULT_URL, &body, 10000);
    fake_reply_with(&g.fake, 0, 400, "{\"message\":\"Event object is "
                    "invalid\",\"errors\":[\"bad key\"]}");
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.v.outcome, DELIVERY_PERMANENT);
    assert_string_equal(o.v.reason,
                        "events.pagerduty.com:443: HTTP 400: Event object is "
                        "invalid: bad key");
    strbuf_free(&body);
    notification_free(n);
    rig_free(&g);
}

static void test_alertmanager_fan_out(void **state)
{
    (void)state;
    struct rig g;
    rig_init(&g, false);
    struct notification *n = http_notification("am");
    const struct receiver_cfg *am = config_receiver(g.cfg, "am");
    struct fixture_outcome o = { 0 };
    deliverer_send(g.dl, n, am, T0, RESEND_S, fixture_on_done, &o);
    assert_int_equal(g.fake.npending, 2);
    struct strbuf body = STRBUF_INIT;
    recv_alertmanager_payload(n, T0, RESEND_S, &body);
    assert_post(&g, 0, "http://am1.example:9093/api/v2/alerts", &body, 10000);
    assert_post(&g, 1, "http://am2.example:9093/api/v2/alerts", &body, 10000);
    for (size_t i = 0; i < 2; i++) {
        char *got = headers_text(&g, i);
        assert_string_equal(got, "Content-Type: application/json\n"
                                 "X-Scope-OrgID: t1\n");
        free(got);
    }
    /* one Alertmanager that took it is enough, whatever the others say */
    fake_reply_with(&g.fake, 0, 503, "down");
    assert_int_equal(o.calls, 0);
    fake_reply_with(&g.fake, 0, 200, "");
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.v.outcome, DELIVERY_OK);

    /* none took it: the worst failure */
    memset(&o, 0, sizeof(o));
    deliverer_send(g.dl, n, am, T0, RESEND_S, fixture_on_done, &o);
    fake_reply_with(&g.fake, 0, 400, "bad alerts");
    fake_reply_with(&g.fake, 0, 503, "down");
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.v.outcome, DELIVERY_PERMANENT);
    assert_string_equal(o.v.reason, "am1.example:9093: HTTP 400: bad alerts");

    /* a post the transport refuses counts as a retryable failure */
    memset(&o, 0, sizeof(o));
    g.fake.refuse = 1;
    deliverer_send(g.dl, n, am, T0, RESEND_S, fixture_on_done, &o);
    assert_int_equal(g.fake.npending, 1);
    fake_reply_with(&g.fake, 0, 503, "down");
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.v.outcome, DELIVERY_RETRY);
    strbuf_free(&body);
    notification_free(n);
    rig_free(&g);
}

/* What deliverer_send printed on stdout. */
static char *capture_stdout(struct rig *g, const struct notification *n,
                            const struct receiver_cfg *rc, struct fixture_outcome *o)
{
    char path[] = "/tmp/segalert-deliver-out-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    dup2(fd, STDOUT_FILENO);
    deliverer_send(g->dl, n, rc, T0, RESEND_S, fixture_on_done, o);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(fd);
    size_t len;
    char *text = read_file(path, 1 << 20, &len);
    unlink(path);
    assert_non_null(text);
    return text;
}

static void test_log_and_dry_run(void **state)
{
    (void)state;
    struct rig g;
    rig_init(&g, false);
    struct notification *n = http_notification("console");
    struct strbuf line = STRBUF_INIT;
    recv_log_line(n, &line);
    struct fixture_outcome o = { 0 };
    char *out = capture_stdout(&g, n, config_receiver(g.cfg, "console"), &o);
    assert_string_equal(out, line.buf);
    free(out);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.v.outcome, DELIVERY_OK);
    assert_int_equal(g.fake.nsent, 0);

    /* gone from the configuration: given up at once */
    memset(&o, 0, sizeof(o));
    deliverer_send(g.dl, n, NULL, T0, RESEND_S, fixture_on_done, &o);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.v.outcome, DELIVERY_PERMANENT);
    assert_string_equal(o.v.reason, "receiver no longer configured");
    rig_free(&g);

    /* a dry run prints the log line of any receiver and sends nothing */
    rig_init(&g, true);
    free(n->receiver);
    n->receiver = xstrdup("hook");
    strbuf_reset(&line);
    recv_log_line(n, &line);
    memset(&o, 0, sizeof(o));
    out = capture_stdout(&g, n, config_receiver(g.cfg, "hook"), &o);
    char *want = xasprintf("dry-run: %s", line.buf);
    assert_string_equal(out, want);
    free(want);
    free(out);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.v.outcome, DELIVERY_OK);
    assert_int_equal(g.fake.nsent, 0);
    strbuf_free(&line);
    notification_free(n);
    rig_free(&g);
}

/* ---- connections per receiver host ------------------------------------------ */

static struct config *load_text_ok(const char *text)
{
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = fixture_load_text(text, &dl);
    for (size_t i = 0; i < dl.n; i++)
        print_error("%s\n", dl.items[i].msg);
    assert_int_equal(dl.n, 0);
    diag_list_free(&dl);
    return cfg;
}

#define HOST_RECEIVERS \
    "workspace \"p\" { token = \"t0ken\" }\n" \
    "receiver \"slow\" { type = \"webhook\" " \
    "url = \"http://sink.example:8080/a\" max_connections = 3 }\n" \
    "receiver \"same\" { type = \"webhook\" " \
    "url = \"http://user:pw@Sink.Example:8080/b?x=1\" }\n" \
    "receiver \"elsewhere\" { type = \"webhook\" " \
    "url = \"http://other.example/c\" max_connections = 1 }\n" \
    "route \"r\" { receiver = \"slow\" }\n"

/* Notification k of a burst: its own group key, so the body says which. */
static struct notification *burst_notification(const char *receiver, int k)
{
    struct notification *n = http_notification(receiver);
    free(n->group_key);
    n->group_key = xasprintf("burst:{k=\"%d\"}", k);
    return n;
}

/* Which burst notification pending request i carries (-1: none). */
static int burst_index(const struct rig *g, size_t i)
{
    const struct http_request *r = g->fake.pending[i];
    const char *p = strstr(strbuf_str(&r->post_body), "burst:{k=\\\"");
    return p ? (int)strtol(p + strlen("burst:{k=\\\""), NULL, 10) : -1;
}

/* Posts pending to URLs starting with prefix. */
static size_t pending_to(const struct rig *g, const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < g->fake.npending; i++)
        n += strncmp(g->fake.pending[i]->url, prefix, strlen(prefix)) == 0;
    return n;
}

/* The oldest pending request to a URL starting with prefix. */
static size_t oldest_to(const struct rig *g, const char *prefix)
{
    for (size_t i = 0; i < g->fake.npending; i++)
        if (strncmp(g->fake.pending[i]->url, prefix, strlen(prefix)) == 0)
            return i;
    fail_msg("nothing pending to %s", prefix);
    return 0;
}

static void test_connections_per_host(void **state)
{
    (void)state;
    enum { BURST = 10 };
    struct rig g;
    rig_init(&g, false);
    config_free(g.cfg);
    g.cfg = load_text_ok(HOST_RECEIVERS);
    const struct receiver_cfg *slow = config_receiver(g.cfg, "slow");
    const struct receiver_cfg *same = config_receiver(g.cfg, "same");
    const struct receiver_cfg *elsewhere = config_receiver(g.cfg, "elsewhere");
    assert_int_equal(slow->max_connections, 3);
    assert_int_equal(same->max_connections, RECEIVER_MAX_CONNECTIONS);

    struct notification *ns[BURST + 2];
    struct fixture_outcome o[BURST + 2];
    memset(o, 0, sizeof(o));
    for (int k = 0; k < BURST; k++) {
        ns[k] = burst_notification("slow", k);
        deliverer_send(g.dl, ns[k], slow, T0, RESEND_S, fixture_on_done,
                       &o[k]);
    }
    /* three start, seven wait in segalert */
    assert_int_equal(g.fake.npending, 3);
    assert_int_equal(deliverer_waiting(g.dl), BURST - 3);
    assert_int_equal(deliverer_in_flight(g.dl), BURST);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(burst_index(&g, i), (int)i);

    /* another host is not held up by this one */
    ns[BURST] = burst_notification("elsewhere", BURST);
    deliverer_send(g.dl, ns[BURST], elsewhere, T0, RESEND_S,
                   fixture_on_done, &o[BURST]);
    assert_int_equal(pending_to(&g, "http://other.example/"), 1);
    /* a receiver posting to the same host (other spelling, user info,
     * path) queues behind the posts already waiting for it */
    ns[BURST + 1] = burst_notification("same", BURST + 1);
    deliverer_send(g.dl, ns[BURST + 1], same, T0, RESEND_S,
                   fixture_on_done, &o[BURST + 1]);
    assert_int_equal(pending_to(&g, "http://user:pw@Sink.Example:8080/"), 0);
    assert_int_equal(deliverer_waiting(g.dl), BURST - 3 + 1);

    /* Each finished post starts the oldest waiting one, at that moment
     * (its timeout starts then), and never more than three at once. */
    int order[BURST];
    int done = 0;
    while (done < BURST) {
        size_t i = oldest_to(&g, "http://sink.example:8080/");
        order[done++] = burst_index(&g, i);
        size_t sent_before = g.fake.nsent;
        clock_fake_advance(g.clock, 1.0);
        fake_reply_with(&g.fake, i, 200, NULL);
        assert_true(pending_to(&g, "http://sink.example:8080/") <= 3);
        if (g.fake.nsent > sent_before)
            assert_true(g.fake.sent[g.fake.nsent - 1].mono ==
                        clock_mono(g.clock));
    }
    for (int k = 0; k < BURST; k++) {
        assert_int_equal(order[k], k);
        assert_int_equal(o[k].calls, 1);
        assert_int_equal(o[k].v.outcome, DELIVERY_OK);
    }
    /* the other receiver's post started once the queue ahead of it had
     * gone (its own limit, 16, allowed it beside slow's three) */
    assert_int_equal(pending_to(&g, "http://user:pw@Sink.Example:8080/"), 1);
    assert_int_equal(deliverer_waiting(g.dl), 0);
    fake_reply_with(&g.fake, oldest_to(&g, "http://user"), 200, NULL);
    fake_reply_with(&g.fake, oldest_to(&g, "http://other.example/"), 500,
                    NULL);
    assert_int_equal(o[BURST].v.outcome, DELIVERY_RETRY);
    assert_int_equal(o[BURST + 1].v.outcome, DELIVERY_OK);
    assert_int_equal(deliverer_in_flight(g.dl), 0);
    for (int k = 0; k < BURST + 2; k++)
        notification_free(ns[k]);
    rig_free(&g);
}

/* A post the transport refuses when its turn comes fails alone (retry
 * later); the queue moves on. */
static void test_refused_start_fails_only_that_post(void **state)
{
    (void)state;
    struct rig g;
    rig_init(&g, false);
    config_free(g.cfg);
    g.cfg = load_text_ok(HOST_RECEIVERS);
    const struct receiver_cfg *elsewhere = config_receiver(g.cfg, "elsewhere");
    struct notification *ns[3];
    struct fixture_outcome o[3];
    memset(o, 0, sizeof(o));
    for (int k = 0; k < 3; k++) {
        ns[k] = burst_notification("elsewhere", k);
        deliverer_send(g.dl, ns[k], elsewhere, T0, RESEND_S, fixture_on_done,
                       &o[k]);
    }
    assert_int_equal(g.fake.npending, 1);
    assert_int_equal(deliverer_waiting(g.dl), 2);
    g.fake.refuse = 1;      /* the next start (notification 1) fails */
    fake_reply_with(&g.fake, 0, 200, NULL);
    assert_int_equal(o[0].v.outcome, DELIVERY_OK);
    assert_int_equal(o[1].calls, 1);
    assert_int_equal(o[1].v.outcome, DELIVERY_RETRY);
    assert_non_null(strstr(o[1].v.reason, "refused"));
    assert_int_equal(g.fake.npending, 1);
    assert_int_equal(burst_index(&g, 0), 2);
    fake_reply_with(&g.fake, 0, 200, NULL);
    assert_int_equal(o[2].v.outcome, DELIVERY_OK);
    assert_int_equal(deliverer_in_flight(g.dl), 0);
    for (int k = 0; k < 3; k++)
        notification_free(ns[k]);
    rig_free(&g);
}

/* When the HTTP client aborts (shutdown), nothing more starts; the posts
 * still waiting are dropped by deliverer_free without a callback (their
 * outbox entries stay queued in the state file). */
static void test_abort_starts_nothing_more(void **state)
{
    (void)state;
    struct rig g;
    rig_init(&g, false);
    config_free(g.cfg);
    g.cfg = load_text_ok(HOST_RECEIVERS);
    const struct receiver_cfg *elsewhere = config_receiver(g.cfg, "elsewhere");
    struct notification *ns[3];
    struct fixture_outcome o[3];
    memset(o, 0, sizeof(o));
    for (int k = 0; k < 3; k++) {
        ns[k] = burst_notification("elsewhere", k);
        deliverer_send(g.dl, ns[k], elsewhere, T0, RESEND_S, fixture_on_done,
                       &o[k]);
    }
    struct fake_reply aborted = { .curl_code = CURLE_ABORTED_BY_CALLBACK,
                                  .error = "aborted" };
    fake_complete(&g.fake, 0, &aborted);
    assert_int_equal(o[0].calls, 1);
    assert_int_equal(o[0].v.outcome, DELIVERY_RETRY);
    assert_int_equal(g.fake.npending, 0);
    assert_int_equal(g.fake.nsent, 1);
    assert_int_equal(deliverer_waiting(g.dl), 2);
    rig_free(&g);           /* frees the two waiting posts */
    assert_int_equal(o[1].calls + o[2].calls, 0);
    for (int k = 0; k < 3; k++)
        notification_free(ns[k]);
}

/* max_connections: an integer in [1, 1024], for HTTP receivers only. */
static void test_max_connections_option(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = fixture_load_text(
        "workspace \"p\" { token = \"t0ken\" }\n"
        "receiver \"a\" { type = \"webhook\" url = \"http://x/\" "
        "max_connections = 0 }\n"
        "receiver \"b\" { type = \"slack\" url = \"http://x/\" "
        "max_connections = 5000 }\n"
        "receiver \"c\" { type = \"log\" max_connections = 4 }\n"
        "receiver \"d\" { type = \"alertmanager\" url = \"http://x/\" "
        "max_connections = 2 }\n"
        "route \"r\" { receiver = \"c\" }\n", &dl);
    size_t errors = 0, warnings = 0;
    for (size_t i = 0; i < dl.n; i++) {
        const char *m = dl.items[i].msg;
        assert_non_null(strstr(m, "max_connections"));
        if (strstr(m, "not used by log receivers"))
            warnings++;
        else
            errors++;
    }
    assert_int_equal(errors, 2);
    assert_int_equal(warnings, 1);
    assert_int_equal(config_receiver(cfg, "d")->max_connections, 2);
    assert_int_equal(config_receiver(cfg, "a")->max_connections,
                     RECEIVER_MAX_CONNECTIONS);
    diag_list_free(&dl);
    config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_webhook_post),
        cmocka_unit_test(test_connections_per_host),
        cmocka_unit_test(test_refused_start_fails_only_that_post),
        cmocka_unit_test(test_abort_starts_nothing_more),
        cmocka_unit_test(test_max_connections_option),
        cmocka_unit_test(test_slack_and_pagerduty_posts),
        cmocka_unit_test(test_alertmanager_fan_out),
        cmocka_unit_test(test_log_and_dry_run),
        cmocka_unit_test(test_email_without_worker_is_retryable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
