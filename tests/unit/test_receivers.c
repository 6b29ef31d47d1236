/*
 * test_receivers.c - the table of receiver types (notify/receiver.h) is
 * the only place that knows them: a test registers types of its own - a
 * "collect" type that keeps what it is sent in a buffer, and a "beacon"
 * type posted over HTTP - and the configuration loader, the deliverer, the
 * state file and the daemon's routing rules all work with them without a
 * change anywhere else.  Also: what registration refuses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/receiver_type.h"
#include "config/section.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/util.h"
#include "daemon/daemon_int.h"
#include "notify/deliver.h"
#include "notify/notify_json.h"
#include "notify/receiver.h"
#include "notify/render.h"

#include "fake_transport.h"
#include "receivers_fixture.h"

#define T0 1787227200.0

/* ---- a type of the test's own: "collect" --------------------------------- */

/* What every collect receiver was sent, in order. */
static struct strbuf collected = STRBUF_INIT;

struct collect_cfg {
    char *bucket;
};

static const struct opt_spec collect_opts[] = {
    { "bucket", OPT_STR },
    OPT_END
};

static int collect_frees;

static void free_collect(void *priv)
{
    struct collect_cfg *c = priv;
    collect_frees++;
    free(c->bucket);
    free(c);
}

static void load_collect(const struct cfg_section *s, struct receiver_cfg *r)
{
    struct collect_cfg *c = xcalloc(1, sizeof(*c));
    r->priv = c;
    section_get_string(s, "bucket", &c->bucket);
    if (!c->bucket)
        section_error(s, NULL, "bucket is required");
}

/* "bucket|title|resend" - built with the shared pieces of render.h. */
static void collect_build(const struct receiver_cfg *rc,
                          const struct notification *n, double now,
                          double resend_s, struct strbuf *out)
{
    const struct collect_cfg *c = rc->priv;
    strbuf_addf(out, "%s|", c->bucket);
    render_title(n, rc, out);
    strbuf_addf(out, "|%.0f|%.0f", now, resend_s);
}

static void collect_write(const struct receiver_cfg *rc,
                          const struct strbuf *body, struct delivery_verdict *v)
{
    const struct collect_cfg *c = rc->priv;
    if (streq(c->bucket, "full")) {
        v->outcome = DELIVERY_PERMANENT;
        http_verdict_reason(v, "bucket %s is full", c->bucket);
        return;
    }
    strbuf_add(&collected, body->buf, body->len);
    strbuf_addc(&collected, '\n');
}

static const struct receiver_ops collect_type = {
    .def = { "collect", collect_opts, load_collect, free_collect },
    .delivery = RECEIVER_LOCAL,
    .build = collect_build,
    .write = collect_write,
    .dedups_itself = true,
};

/* ---- and one over HTTP: "beacon" ------------------------------------------ */

static const struct opt_spec beacon_opts[] = {
    { "timeout", OPT_STR },
    { "url", OPT_STR },
    { "headers", OPT_LIST },
    OPT_END
};

static void load_beacon(const struct cfg_section *s, struct receiver_cfg *r)
{
    section_get_string(s, "url", &r->url);
    section_get_http_headers(s, "headers", &r->headers);
}

static void beacon_build(const struct receiver_cfg *rc,
                         const struct notification *n, double now,
                         double resend_s, struct strbuf *out)
{
    UNUSED(rc);
    UNUSED(resend_s);
    strbuf_addc(out, '{');
    jw_str(out, "id", n->id);
    render_json_time(out, "at", now);
    jw_close(out, '}');
}

static void beacon_urls(const struct receiver_cfg *rc, struct str_list *urls)
{
    char *u = xasprintf("%s/a", rc->url);
    str_list_add(urls, u);
    free(u);
    u = xasprintf("%s/b", rc->url);
    str_list_add(urls, u);
    free(u);
}

static void beacon_headers(const struct receiver_cfg *rc,
                           const struct strbuf *body, double now,
                           struct str_list *lines)
{
    UNUSED(rc);
    char *h = xasprintf("X-Beacon: %zu@%.0f", body->len, now);
    str_list_add(lines, h);
    free(h);
}

/* A beacon answers 202 when it took the event; anything else is retried. */
static void beacon_classify(long status, int curl_code, const char *body,
                            size_t len, const char *retry_after_header,
                            double now, struct delivery_verdict *out)
{
    http_verdict_classify(status, curl_code, body, len, retry_after_header,
                          now, out);
    if (out->outcome == DELIVERY_OK && status != 202) {
        out->outcome = DELIVERY_RETRY;
        http_verdict_reason(out, "HTTP %ld: not taken", status);
    }
}

static const struct receiver_ops beacon_type = {
    .def = { "beacon", beacon_opts, load_beacon, NULL },
    .delivery = RECEIVER_HTTP,
    .build = beacon_build,
    .http_urls = beacon_urls,
    .http_headers = beacon_headers,
    .classify = beacon_classify,
};

static const struct receiver_ops *const extra[] = { &collect_type,
                                                     &beacon_type };

/* ---- fixtures ---------------------------------------------------------------- */

static char dir[] = "/tmp/segalert-receivers-XXXXXX";

static int setup(void **state)
{
    (void)state;
    fixture_register_receivers(extra, ARRAY_SIZE(extra));
    return fixture_enter_tmpdir(dir);
}

static int teardown(void **state)
{
    (void)state;
    strbuf_free(&collected);
    return fixture_leave_tmpdir(dir);
}

static const char conf_text[] =
    "workspace \"p\" { token = \"t0ken\" }\n"                   /* 1 */
    "receiver \"jar\" { type = \"collect\" bucket = \"b1\" "
    "subject = \"{{rule}} x{{count}}\" }\n"
    "receiver \"full\" { type = \"collect\" bucket = \"full\" }\n"
    "receiver \"ping\" { type = \"beacon\" url = \"http://b.example\" "
    "headers = {\"X-Team=data\"} timeout = \"2s\" }\n"
    "receiver \"hook\" { type = \"webhook\" url = \"http://h.example/\" "
    "bucket = \"b2\" }\n"                                         /* 5 */
    "route \"to-jar\" { receiver = \"jar\" }\n"
    "route \"to-hook\" { receiver = \"hook\" }\n"
    "rule \"r\" { expr = \"attempted >= 0\" }\n";  /* the daemon needs one */

/* ---- tests --------------------------------------------------------------------- */

/* The loader reads the new type's options, warns about them elsewhere, and
 * hands its settings back to it when the configuration is freed. */
static void test_config_knows_them(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    collect_frees = 0;
    struct config *cfg = fixture_load_text(conf_text, &dl);
    assert_int_equal(dl.n, 1);
    struct strbuf sb = STRBUF_INIT;
    diag_format(&dl.items[0], &sb);
    assert_string_equal(sb.buf, FIXTURE_CONF ":5: warning: receiver \"hook\": bucket "
                                "is not used by webhook receivers");
    strbuf_free(&sb);
    const struct receiver_cfg *jar = config_receiver(cfg, "jar");
    assert_ptr_equal(jar->type, &collect_type.def);
    assert_ptr_equal(receiver_ops_of(jar), &collect_type);
    assert_ptr_equal(receiver_ops_find("beacon"), &beacon_type);
    assert_string_equal(((const struct collect_cfg *)jar->priv)->bucket, "b1");
    assert_true(config_receiver(cfg, "ping")->timeout_s == 2);
    config_free(cfg);
    diag_list_free(&dl);
    assert_int_equal(collect_frees, 2);
}

/* End to end through deliverer_send: built, written, judged. */
static void test_deliver_collect(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = fixture_load_text(conf_text, &dl);
    struct deliverer *dl_ = deliverer_new(NULL, NULL, false);
    struct notification *n = fixture_notification("jar", "collect", T0);
    struct fixture_outcome o = { 0 };
    strbuf_reset(&collected);
    deliverer_send(dl_, n, config_receiver(cfg, "jar"), T0, 60, fixture_on_done, &o);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.v.outcome, DELIVERY_OK);
    assert_int_equal(deliverer_in_flight(dl_), 0);
    char *want = xasprintf("b1|r x1|%.0f|60\n", T0);
    assert_string_equal(strbuf_str(&collected), want);
    free(want);

    /* its own failures come back as verdicts */
    memset(&o, 0, sizeof(o));
    deliverer_send(dl_, n, config_receiver(cfg, "full"), T0, 60, fixture_on_done, &o);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.v.outcome, DELIVERY_PERMANENT);
    assert_string_equal(o.v.reason, "bucket full is full");

    notification_free(n);
    deliverer_free(dl_);
    config_free(cfg);
    diag_list_free(&dl);
}

/* Over HTTP: its URLs, its headers after the configured ones, its
 * classifier; the worst failure counts (it did not ask for "any URL"). */
static void test_deliver_beacon(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = fixture_load_text(conf_text, &dl);
    struct clock *clock = clock_fake_new(T0);
    struct fake_transport fake = { .clock = clock };
    struct deliverer *dl_ = deliverer_new(NULL, clock, false);
    deliverer_set_transport(dl_, fake_transport_of(&fake));
    struct notification *n = fixture_notification("ping", "collect", T0);
    struct fixture_outcome o = { 0 };
    deliverer_send(dl_, n, config_receiver(cfg, "ping"), T0, 60, fixture_on_done, &o);
    assert_int_equal(fake.npending, 2);
    assert_string_equal(fake_url(&fake, 0), "http://b.example/a");
    assert_string_equal(fake_url(&fake, 1), "http://b.example/b");
    const struct http_request *r = fake.pending[0];
    char *body = xasprintf("{\"id\":\"0123456789abcdef-1\","
                           "\"at\":\"2026-08-20T12:00:00Z\"}");
    assert_string_equal(strbuf_str(&r->post_body), body);
    assert_int_equal(r->nheaders, 3);
    assert_string_equal(r->headers[0], "Content-Type: application/json");
    assert_string_equal(r->headers[1], "X-Team: data");
    char *h = xasprintf("X-Beacon: %zu@%.0f", strlen(body), T0);
    assert_string_equal(r->headers[2], h);
    free(h);
    free(body);
    assert_int_equal(r->timeout_ms, 2000);
    fake_reply_with(&fake, 0, 202, "");
    fake_reply_with(&fake, 0, 200, "");
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.v.outcome, DELIVERY_RETRY);
    assert_string_equal(o.v.reason, "b.example:80: HTTP 200: not taken");

    notification_free(n);
    deliverer_free(dl_);
    fake_free(&fake);
    clock_free(clock);
    config_free(cfg);
    diag_list_free(&dl);
}

/* The state file names the type; it reads back while the type is
 * registered. */
static void test_state_file_names_it(void **state)
{
    (void)state;
    struct notification *n = fixture_notification("jar", "collect", T0);
    cJSON *j = notification_to_json(n);
    assert_string_equal(json_str(j, "receiver_type"), "collect");
    char err[256];
    struct notification *m = notification_from_json(j, err, sizeof(err));
    assert_non_null(m);
    assert_string_equal(m->receiver_type, "collect");
    notification_free(m);
    cJSON_Delete(j);
    notification_free(n);
}

/* The daemon's routing rule for receivers that deduplicate themselves
 * applies to it: send at once, re-send every evaluation. */
static void test_daemon_routes(void **state)
{
    (void)state;
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *written = fixture_load_text(conf_text, &dl);
    config_free(written);
    diag_list_free(&dl);
    struct ruleset *rs = NULL;
    struct config *cfg = daemon_load_config(FIXTURE_CONF, &rs, 30);
    assert_non_null(cfg);
    const struct route_cfg *jar = &cfg->routes[0], *hook = &cfg->routes[1];
    assert_string_equal(jar->receiver, "jar");
    assert_true(jar->timing.has_group_wait && jar->timing.group_wait_s == 0);
    assert_true(jar->timing.repeat_interval_s == 30);
    assert_false(hook->timing.has_group_wait);
    ruleset_free(rs);
    config_free(cfg);
}

/* What registration refuses, and that a refused table leaves the one in
 * use. */
static const struct receiver_ops no_write = {
    .def = { "mute", collect_opts, NULL, NULL },
    .delivery = RECEIVER_LOCAL,
    .build = collect_build,
};
static const struct receiver_ops no_build = {
    .def = { "void", collect_opts, NULL, NULL },
    .delivery = RECEIVER_HTTP,
};
static const struct receiver_ops twin = {
    .def = { "slack", collect_opts, NULL, NULL },
    .delivery = RECEIVER_LOCAL,
    .build = collect_build,
    .write = collect_write,
};

static void test_register_refuses(void **state)
{
    (void)state;
    static const struct {
        const struct receiver_ops *ops;
        const char *err;
    } cases[] = {
        { &no_write, "receiver type 'mute' has no write" },
        { &no_build, "receiver type 'void' has no build" },
        { &twin, "receiver type 'slack' is registered twice" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char err[128];
        const struct receiver_ops *one[] = { cases[i].ops };
        assert_int_equal(receivers_register(one, 1, err, sizeof(err)), -1);
        assert_string_equal(err, cases[i].err);
    }
    const struct receiver_ops *many[RECEIVERS_MAX];
    for (size_t i = 0; i < ARRAY_SIZE(many); i++)
        many[i] = &collect_type;
    char err[128];
    assert_int_equal(receivers_register(many, ARRAY_SIZE(many), err,
                                        sizeof(err)), -1);
    assert_non_null(strstr(err, "receiver types"));
    assert_ptr_equal(receiver_ops_find("collect"), &collect_type);
    assert_ptr_equal(receiver_type_find("collect"), &collect_type.def);
    assert_null(receiver_ops_find("mute"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_knows_them),
        cmocka_unit_test(test_deliver_collect),
        cmocka_unit_test(test_deliver_beacon),
        cmocka_unit_test(test_state_file_names_it),
        cmocka_unit_test(test_daemon_routes),
        cmocka_unit_test(test_register_refuses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
