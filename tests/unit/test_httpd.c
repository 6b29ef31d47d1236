/*
 * test_httpd.c - the HTTP server on a real loopback socket: every route,
 * status codes and content types, 404/405, request bodies, the admin
 * token rules (loopback included), what keeps browsers out (Host, Origin,
 * Content-Type, enable_lifecycle, control characters in paths), slow
 * clients (deadlines, the reserve), control commands answered by a fake
 * main loop thread (HTTP statuses from the outcome codes), shutdown while
 * a command waits, start-up errors and the CLI's client (cmd/client.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "cmd/client.h"
#include "core/log.h"
#include "core/util.h"
#include "notify/silence.h"
#include "server/conns.h"
#include "server/control.h"
#include "server/httpd.h"
#include "server/snapshot.h"

/* ---- a fake main loop --------------------------------------------------- */

static atomic_bool loop_run;
static atomic_bool reload_fails;
/* commands the fake loop ran, by kind */
static atomic_int nreloads, nadds, nexpires;
static pthread_t loop_thread;
/* what the last CTRL_SILENCE_ADD carried */
static char last_matchers[256];
static double last_span;
static char last_by[64], last_comment[64];
/* Silences behind the expire routes, for ids other than the fixed ones. */
static struct silences *loop_silences;
static pthread_mutex_t loop_silences_mu = PTHREAD_MUTEX_INITIALIZER;

/* Ids the fake loop answers with a code whose message says otherwise: the
 * HTTP status must come from the code. */
#define ID_GONE "c0de404"       /* CTRL_NOT_FOUND, "it is gone" */
#define ID_TWICE "c0de400"      /* CTRL_INVALID, "no silence ..." */

static void *loop_main(void *arg)
{
    (void)arg;
    const struct timespec nap = { 0, 2 * 1000 * 1000 };
    while (atomic_load(&loop_run)) {
        struct control_cmd *c;
        while ((c = control_take()) != NULL) {
            c->status = CTRL_OK;
            c->message[0] = '\0';
            switch (c->kind) {
            case CTRL_RELOAD:
                atomic_fetch_add(&nreloads, 1);
                if (atomic_load(&reload_fails)) {
                    c->status = CTRL_FAILED;
                    snprintf(c->message, sizeof(c->message),
                             "rules/x.conf:3: unknown metric 'foo'");
                }
                break;
            case CTRL_SILENCE_ADD: {
                atomic_fetch_add(&nadds, 1);
                struct strbuf sb = STRBUF_INIT;
                for (size_t i = 0; i < c->nmatchers; i++)
                    strbuf_addf(&sb, "%s%s=%s", i ? "," : "",
                                c->matchers[i].key, c->matchers[i].value);
                snprintf(last_matchers, sizeof(last_matchers), "%s",
                         strbuf_str(&sb));
                strbuf_free(&sb);
                last_span = c->ends_at - c->starts_at;
                snprintf(last_by, sizeof(last_by), "%s",
                         c->created_by ? c->created_by : "(null)");
                snprintf(last_comment, sizeof(last_comment), "%s",
                         c->comment ? c->comment : "(null)");
                snprintf(c->silence_id, sizeof(c->silence_id),
                         "feedc0ffee123456");
                break;
            }
            case CTRL_SILENCE_EXPIRE:
                atomic_fetch_add(&nexpires, 1);
                if (streq(c->id, "0123456789abcdef")) {
                    break;
                } else if (streq(c->id, ID_GONE)) {
                    c->status = CTRL_NOT_FOUND;
                    snprintf(c->message, sizeof(c->message), "it is gone");
                } else if (streq(c->id, ID_TWICE)) {
                    c->status = CTRL_INVALID;
                    snprintf(c->message, sizeof(c->message),
                             "no silence can be expired twice");
                } else {
                    pthread_mutex_lock(&loop_silences_mu);
                    c->status = control_status_of_silence(silence_expire(
                        loop_silences, c->id, now_wall(), c->message,
                        sizeof(c->message)));
                    pthread_mutex_unlock(&loop_silences_mu);
                }
                break;
            }
            control_complete(c);
        }
        nanosleep(&nap, NULL);
    }
    return NULL;
}

static void loop_start(void)
{
    atomic_store(&loop_run, true);
    assert_int_equal(pthread_create(&loop_thread, NULL, loop_main, NULL), 0);
}

static void loop_stop(void)
{
    atomic_store(&loop_run, false);
    pthread_join(loop_thread, NULL);
}

/* ---- snapshot ------------------------------------------------------------ */

static void publish(bool ready)
{
    struct snapshot *s = snapshot_new();
    s->generated_at = now_wall();
    s->started_at = s->generated_at - 60;
    s->version = xstrdup(SEGALERT_VERSION);
    s->ready = ready;
    s->nworkspaces = 1;
    s->workspaces = xcalloc(1, sizeof(*s->workspaces));
    s->workspaces[0].name = xstrdup("sim");
    s->workspaces[0].up = true;
    s->workspaces[0].request_budget = 60;
    s->workspaces[0].effective_budget = 60;
    s->workspaces[0].oldest_connection_s = -1;
    for (int k = 0; k < POLL__COUNT; k++)
        s->workspaces[0].staleness_s[k] = -1;
    s->nalerts = 1;
    s->alerts = xcalloc(1, sizeof(*s->alerts));
    s->alerts[0].rule = xstrdup("discard-ratio");
    s->alerts[0].state = xstrdup("firing");
    s->alerts[0].severity = xstrdup("critical");
    s->alerts[0].value = 0.05;
    s->alerts[0].active_at = s->generated_at - 30;
    s->nrules = 1;
    s->rules = xcalloc(1, sizeof(*s->rules));
    s->rules[0].name = xstrdup("discard-ratio");
    s->rules[0].expr = xstrdup("discard_ratio > 2%");
    s->nsilences = 1;
    s->silences = xcalloc(1, sizeof(*s->silences));
    s->silences[0].id = xstrdup("0123456789abcdef");
    s->silences[0].matchers = xstrdup("rule=discard-ratio");
    s->silences[0].active = true;
    snapshot_publish(s);
}

/* ---- a libcurl client that keeps what the tests look at ------------------ */

struct resp {
    long status;
    char ctype[128];
    char allow[64];
    char www_auth[64];
    char csp[256];
    struct strbuf body;
};

static size_t on_body(char *d, size_t sz, size_t n, void *ud)
{
    strbuf_add(ud, d, sz * n);
    return sz * n;
}

static void header_value(const char *line, size_t len, const char *name,
                         char *out, size_t outlen)
{
    size_t nl = strlen(name);
    if (len > nl + 1 && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
        const char *v = line + nl + 1;
        while (*v == ' ')
            v++;
        size_t vl = len - (size_t)(v - line);
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
            vl--;
        snprintf(out, outlen, "%.*s", (int)vl, v);
    }
}

static size_t on_header(char *d, size_t sz, size_t n, void *ud)
{
    struct resp *r = ud;
    header_value(d, sz * n, "Allow", r->allow, sizeof(r->allow));
    header_value(d, sz * n, "WWW-Authenticate", r->www_auth,
                 sizeof(r->www_auth));
    header_value(d, sz * n, "Content-Security-Policy", r->csp,
                 sizeof(r->csp));
    return sz * n;
}

static int port;

/* extra: NULL or a NULL-terminated list of header lines; without a
 * Content-Type among them, writes (any method but GET and HEAD) say
 * application/json, as the CLI does. */
static CURLcode req_hdrs(const char *method, const char *path,
                         const char *body, const char *auth,
                         const char *const *extra, struct resp *r)
{
    memset(r, 0, sizeof(*r));
    CURL *c = curl_easy_init();
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (streq(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    struct curl_slist *h = NULL;
    char authhdr[128];
    if (auth) {
        snprintf(authhdr, sizeof(authhdr), "Authorization: %s", auth);
        h = curl_slist_append(h, authhdr);
    }
    bool ctype = false;
    for (size_t i = 0; extra && extra[i]; i++) {
        h = curl_slist_append(h, extra[i]);
        ctype |= strncasecmp(extra[i], "Content-Type:", 13) == 0;
    }
    if (!ctype && !streq(method, "GET") && !streq(method, "HEAD"))
        h = curl_slist_append(h, "Content-Type: application/json");
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(r->ctype, sizeof(r->ctype), "%s", ct ? ct : "");
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc;
}

static CURLcode req_rc(const char *method, const char *path,
                       const char *body, const char *auth, struct resp *r)
{
    return req_hdrs(method, path, body, auth, NULL, r);
}

/* cmocka asserts only on the test's own thread */
static void req(const char *method, const char *path, const char *body,
                const char *auth, struct resp *r)
{
    assert_int_equal(req_rc(method, path, body, auth, r), CURLE_OK);
}

static void resp_free(struct resp *r)
{
    strbuf_free(&r->body);
}

/* One request with extra headers: its status, and a piece of its body. */
static void expect_hdrs(const char *method, const char *path,
                        const char *body, const char *auth,
                        const char *const *extra, long status,
                        const char *has)
{
    struct resp r;
    assert_int_equal(req_hdrs(method, path, body, auth, extra, &r),
                     CURLE_OK);
    if (r.status != status || !strstr(strbuf_str(&r.body), has))
        fail_msg("%s %s: %ld, wanted %ld with '%s': %s", method, path,
                 r.status, status, has, strbuf_str(&r.body));
    resp_free(&r);
}

/* One request without credentials: its status and a piece of its body. */
static void expect_status(const char *method, const char *path,
                          const char *body, long status, const char *has)
{
    struct resp r;
    req(method, path, body, NULL, &r);
    if (r.status != status || !strstr(strbuf_str(&r.body), has))
        fail_msg("%s %s: %ld, wanted %ld with '%s': %s", method, path,
                 r.status, status, has, strbuf_str(&r.body));
    resp_free(&r);
}

static struct httpd *start_opts(const struct httpd_options *o)
{
    char err[256] = "";
    struct httpd *h = httpd_start(o, err, sizeof(err));
    if (!h)
        fail_msg("httpd_start(%s): %s", o->listen, err);
    port = httpd_port(h);
    assert_true(port > 0);
    return h;
}

/* With reload over HTTP enabled: most tests use it. */
static struct httpd *start(const char *listen, const char *token)
{
    struct httpd_options o = { .listen = listen, .admin_token = token,
                               .enable_lifecycle = true };
    return start_opts(&o);
}

/* ---- tests --------------------------------------------------------------- */

static void test_before_first_snapshot(void **state)
{
    (void)state;
    snapshot_clear();
    struct httpd *h = start("127.0.0.1:0", NULL);
    assert_true(httpd_is_loopback(h));
    struct resp r;
    req("GET", "/-/healthy", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(strbuf_str(&r.body), "OK\n");
    resp_free(&r);
    req("GET", "/-/ready", NULL, NULL, &r);
    assert_int_equal(r.status, 503);
    resp_free(&r);
    const char *pages[] = { "/", "/metrics", "/api/v1/alerts",
                            "/api/v1/status" };
    for (size_t i = 0; i < ARRAY_SIZE(pages); i++) {
        req("GET", pages[i], NULL, NULL, &r);
        assert_int_equal(r.status, 503);
        assert_non_null(strstr(strbuf_str(&r.body), "starting"));
        resp_free(&r);
    }
    publish(false);
    req("GET", "/-/ready", NULL, NULL, &r);
    assert_int_equal(r.status, 503);
    resp_free(&r);
    req("GET", "/", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    publish(true);
    req("GET", "/-/ready", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    httpd_stop(h);
    snapshot_clear();
}

static void test_get_routes(void **state)
{
    (void)state;
    publish(true);
    struct httpd *h = start("127.0.0.1:0", NULL);
    struct resp r;

    req("GET", "/", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/html; charset=utf-8");
    assert_non_null(strstr(r.body.buf, "id=\"alerts\""));
    assert_non_null(strstr(r.body.buf, "data-rule=\"discard-ratio\""));
    assert_non_null(strstr(r.csp, "default-src 'none'"));
    resp_free(&r);

    req("HEAD", "/", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    resp_free(&r);

    req("GET", "/metrics", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(r.body.buf, "segalert_build_info{version=\""));
    assert_non_null(strstr(r.body.buf, "segalert_alerts{state=\"firing\"} 1"));
    resp_free(&r);

    const char *api[] = { "/api/v1/alerts", "/api/v1/rules",
                          "/api/v1/status", "/api/v1/silences" };
    const char *member[] = { "alerts", "rules", "workspaces", "silences" };
    for (size_t i = 0; i < ARRAY_SIZE(api); i++) {
        req("GET", api[i], NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.ctype, "application/json");
        cJSON *j = cJSON_Parse(r.body.buf);
        assert_non_null(j);
        cJSON *d = cJSON_GetObjectItem(j, "data");
        assert_true(cJSON_IsArray(cJSON_GetObjectItem(d, member[i])));
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, member[i])),
                         1);
        cJSON_Delete(j);
        resp_free(&r);
    }
    httpd_stop(h);
    snapshot_clear();
}

static void test_404_405(void **state)
{
    (void)state;
    publish(true);
    struct httpd *h = start("127.0.0.1:0", NULL);
    struct resp r;
    const char *missing[] = { "/nope", "/metrics/", "/api/v1/alert",
                              "/api/v1/silence/", "/api/v1/silence/a/b",
                              "/api/v1/silences/x/nope", "/index.html" };
    for (size_t i = 0; i < ARRAY_SIZE(missing); i++) {
        req("GET", missing[i], NULL, NULL, &r);
        assert_int_equal(r.status, 404);
        resp_free(&r);
    }
    req("POST", "/metrics", "{}", NULL, &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET, HEAD");
    resp_free(&r);
    req("GET", "/-/reload", NULL, NULL, &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "POST, PUT");
    resp_free(&r);
    req("DELETE", "/api/v1/silences", NULL, NULL, &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET, HEAD, POST");
    assert_non_null(strstr(r.body.buf, "\"status\":\"error\""));
    resp_free(&r);
    req("GET", "/api/v1/silence/0123456789abcdef", NULL, NULL, &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "DELETE");
    resp_free(&r);
    req("PUT", "/", NULL, NULL, &r);
    assert_int_equal(r.status, 405);
    resp_free(&r);
    httpd_stop(h);
    snapshot_clear();
}

static void test_silences_and_reload(void **state)
{
    (void)state;
    publish(true);
    loop_start();
    struct httpd *h = start("127.0.0.1:0", NULL);
    struct resp r;

    req("POST", "/api/v1/silences",
        "{\"matchers\":[\"rule=discard-ratio\",\"source=web\"],"
        "\"duration\":\"2h\",\"comment\":\"deploy\",\"createdBy\":\"ops\"}",
        NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "application/json");
    cJSON *j = cJSON_Parse(r.body.buf);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "silenceId")->valuestring,
                        "feedc0ffee123456");
    cJSON_Delete(j);
    resp_free(&r);
    assert_string_equal(last_matchers, "rule=discard-ratio,source=web");
    assert_true(fabs(last_span - 7200) < 1e-6);
    assert_string_equal(last_by, "ops");
    assert_string_equal(last_comment, "deploy");

    /* Alertmanager-style matchers and endsAt */
    req("POST", "/api/v1/silences",
        "{\"matchers\":[{\"name\":\"rule\",\"value\":\"mtu-*\","
        "\"isRegex\":false}],\"startsAt\":\"2099-01-01T00:00:00Z\","
        "\"endsAt\":\"2099-01-01T01:00:00Z\",\"comment\":\"billing\"}",
        NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_string_equal(last_matchers, "rule=mtu-*");
    assert_true(fabs(last_span - 3600) < 1e-6);
    assert_string_equal(last_by, "(null)");

    const char *bad[] = {
        "not json",
        "[]",
        "{\"duration\":\"2h\"}",
        "{\"matchers\":[],\"duration\":\"2h\"}",
        "{\"matchers\":[\"bogus\"],\"duration\":\"2h\"}",
        "{\"matchers\":[\"9x=a\"],\"duration\":\"2h\"}",
        "{\"matchers\":[\"rule=a\"]}",
        "{\"matchers\":[\"rule=a\"],\"duration\":\"2h\","
        "\"endsAt\":\"2099-01-01T00:00:00Z\"}",
        "{\"matchers\":[\"rule=a\"],\"duration\":\"soon\"}",
        "{\"matchers\":[\"rule=a\"],\"endsAt\":\"2001-01-01T00:00:00Z\"}",
        "{\"matchers\":[{\"name\":\"rule\",\"value\":\"a.*\","
        "\"isRegex\":true}],\"duration\":\"2h\"}",
        "{\"matchers\":[\"rule=a\"],\"duration\":\"2h\",\"comment\":5}",
        "{\"matchers\":[\"rule=a\"],\"duration\":\"2h\","
        "\"comment\":\"x\"} trailing",
        /* no reason given */
        "{\"matchers\":[\"rule=a\"],\"duration\":\"2h\"}",
        "{\"matchers\":[\"rule=a\"],\"duration\":\"2h\",\"comment\":\"\"}",
        "{\"matchers\":[\"rule=a\"],\"duration\":\"2h\",\"comment\":\" \"}",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        req("POST", "/api/v1/silences", bad[i], NULL, &r);
        if (r.status != 400)
            fail_msg("body %zu: status %ld: %s", i, r.status,
                     strbuf_str(&r.body));
        j = cJSON_Parse(r.body.buf);
        assert_non_null(j);
        assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring,
                            "error");
        assert_true(strlen(cJSON_GetObjectItem(j, "error")->valuestring) > 5);
        cJSON_Delete(j);
        resp_free(&r);
    }

    /* body cap */
    struct strbuf big = STRBUF_INIT;
    strbuf_adds(&big, "{\"matchers\":[\"rule=a\"],\"duration\":\"2h\","
                      "\"comment\":\"");
    for (size_t i = 0; i < HTTPD_MAX_BODY; i++)
        strbuf_addc(&big, 'x');
    strbuf_adds(&big, "\"}");
    req("POST", "/api/v1/silences", big.buf, NULL, &r);
    assert_int_equal(r.status, 413);
    resp_free(&r);
    strbuf_free(&big);

    /* expire */
    req("DELETE", "/api/v1/silence/0123456789abcdef", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    req("DELETE", "/api/v1/silence/ffffffffffffffff", NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body.buf, "no silence with id"));
    resp_free(&r);
    req("POST", "/api/v1/silences/0123456789abcdef/expire", "", NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* reload */
    req("POST", "/-/reload", "", NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    atomic_store(&reload_fails, true);
    req("POST", "/-/reload", "", NULL, &r);
    assert_int_equal(r.status, 500);
    assert_non_null(strstr(r.body.buf, "unknown metric 'foo'"));
    resp_free(&r);
    atomic_store(&reload_fails, false);

    httpd_stop(h);
    loop_stop();
    snapshot_clear();
}

/* Unknown id 404, already expired 400: decided by the outcome code, never
 * by the wording of the message. */
static void test_expire_status_from_code(void **state)
{
    (void)state;
    publish(true);
    char err[256];
    struct kv m = { "rule", "x" };
    const struct silence *si = NULL;
    pthread_mutex_lock(&loop_silences_mu);
    assert_int_equal(silence_add(loop_silences, &m, 1, now_wall() - 10,
                                 now_wall() + 3600, NULL, NULL, now_wall(),
                                 &si, err, sizeof(err)),
                     SILENCE_OK);
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/silence/%s", si->id);
    pthread_mutex_unlock(&loop_silences_mu);
    loop_start();
    struct httpd *h = start("127.0.0.1:0", NULL);

    expect_status("DELETE", path, NULL, 200, "\"success\"");
    expect_status("DELETE", path, NULL, 400, "already expired");
    expect_status("DELETE", "/api/v1/silence/0000000000000001", NULL, 404,
                  "no silence with id");

    expect_status("DELETE", "/api/v1/silence/" ID_GONE, NULL, 404,
                  "it is gone");
    expect_status("POST", "/api/v1/silences/" ID_TWICE "/expire", "", 400,
                  "no silence can be");

    httpd_stop(h);
    loop_stop();
    snapshot_clear();
}

/* Every outcome code has its status, whatever the command. */
static void test_outcome_statuses(void **state)
{
    (void)state;
    assert_int_equal(control_status_of_silence(SILENCE_OK), CTRL_OK);
    assert_int_equal(control_status_of_silence(SILENCE_INVALID),
                     CTRL_INVALID);
    assert_int_equal(control_status_of_silence(SILENCE_NOT_FOUND),
                     CTRL_NOT_FOUND);
    assert_int_equal(control_status_of_silence(SILENCE_ENDED), CTRL_INVALID);
}

static void test_admin_token(void **state)
{
    (void)state;
    publish(true);
    loop_start();
    struct httpd *h = start("0.0.0.0:0", "s3cret-token");
    assert_false(httpd_is_loopback(h));
    struct resp r;
    /* reads need no token */
    req("GET", "/api/v1/status", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* writes do */
    req("POST", "/-/reload", "", NULL, &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(r.www_auth, "Bearer realm=\"segalert\"");
    resp_free(&r);
    req("POST", "/-/reload", "", "Bearer s3cret-toke", &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    req("POST", "/-/reload", "", "Bearer s3cret-token-", &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    req("POST", "/-/reload", "", "Basic czNjcmV0LXRva2Vu", &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    req("DELETE", "/api/v1/silence/0123456789abcdef", NULL, NULL, &r);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body.buf, "\"status\":\"error\""));
    resp_free(&r);
    req("POST", "/-/reload", "", "Bearer s3cret-token", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    req("POST", "/api/v1/silences",
        "{\"matchers\":[\"rule=x\"],\"duration\":\"1h\","
        "\"comment\":\"t\"}", "bearer s3cret-token", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    httpd_stop(h);

    /* no token configured: writes are refused outright */
    h = start(":0", NULL);
    assert_false(httpd_is_loopback(h));
    req("POST", "/-/reload", "", "Bearer anything", &r);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(r.body.buf, "admin_token"));
    resp_free(&r);
    req("GET", "/-/healthy", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    httpd_stop(h);

    /* loopback: a configured token is needed there too (it was not) */
    h = start("localhost:0", "s3cret-token");
    assert_true(httpd_is_loopback(h));
    int adds = atomic_load(&nadds);
    req("POST", "/api/v1/silences",
        "{\"matchers\":[\"rule=x\"],\"duration\":\"1h\","
        "\"comment\":\"t\"}", NULL, &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    req("DELETE", "/api/v1/silence/0123456789abcdef", NULL, NULL, &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    req("POST", "/-/reload", "", NULL, &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    assert_int_equal(atomic_load(&nadds), adds);
    req("POST", "/api/v1/silences",
        "{\"matchers\":[\"rule=x\"],\"duration\":\"1h\","
        "\"comment\":\"t\"}", "Bearer s3cret-token", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* reads stay open */
    req("GET", "/api/v1/silences", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    httpd_stop(h);

    /* loopback without a token: local clients may write */
    h = start("127.0.0.1:0", NULL);
    req("POST", "/api/v1/silences",
        "{\"matchers\":[\"rule=x\"],\"duration\":\"1h\","
        "\"comment\":\"t\"}", NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    httpd_stop(h);
    loop_stop();
    snapshot_clear();
}

/* ---- browsers: Host, Origin, Content-Type, lifecycle, paths ------------- */

#define SILENCE_BODY \
    "{\"matchers\":[\"rule=*\"],\"duration\":\"8760h\",\"comment\":\"x\"}"

/* DNS rebinding: a page under another name reaches the server, but its
 * Host header says that name. */
static void test_host_header(void **state)
{
    (void)state;
    publish(true);
    loop_start();
    struct str_list allowed = { NULL, 0 };
    str_list_add(&allowed, "segalert.internal");
    str_list_add(&allowed, "alerts.example.com:8443");
    struct httpd_options o = { .listen = "127.0.0.1:0",
                               .allowed_hosts = &allowed };
    struct httpd *h = start_opts(&o);
    const char *ok[] = { "localhost", "LOCALHOST:%d", "127.0.0.1:%d",
                         "127.0.0.1", "[::1]:%d", "[::1]", "10.1.2.3:%d",
                         "segalert.internal", "segalert.internal:%d",
                         "alerts.example.com:8443" };
    const char *bad[] = { "attacker.example", "attacker.example:%d",
                          "alerts.example.com", "alerts.example.com:%d",
                          "localhost.attacker.example:%d",
                          "127.0.0.1.nip.io:%d" };
    char line[128], fmt[64];
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        snprintf(fmt, sizeof(fmt), "Host: %s", ok[i]);
        snprintf(line, sizeof(line), fmt, port);
        const char *hdrs[] = { line, NULL };
        expect_hdrs("GET", "/api/v1/alerts", NULL, NULL, hdrs, 200,
                    "\"alerts\"");
    }
    int adds = atomic_load(&nadds), expires = atomic_load(&nexpires);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        snprintf(fmt, sizeof(fmt), "Host: %s", bad[i]);
        snprintf(line, sizeof(line), fmt, port);
        const char *hdrs[] = { line, NULL };
        expect_hdrs("GET", "/api/v1/alerts", NULL, NULL, hdrs, 421,
                    "Host header");
        expect_hdrs("GET", "/api/v1/silences", NULL, NULL, hdrs, 421, "");
        expect_hdrs("GET", "/metrics", NULL, NULL, hdrs, 421, "");
        expect_hdrs("GET", "/", NULL, NULL, hdrs, 421, "");
        expect_hdrs("GET", "/nope", NULL, NULL, hdrs, 421, "");
        expect_hdrs("POST", "/api/v1/silences", SILENCE_BODY, NULL, hdrs,
                    421, "");
        expect_hdrs("DELETE", "/api/v1/silence/0123456789abcdef", NULL, NULL,
                    hdrs, 421, "");
    }
    assert_int_equal(atomic_load(&nadds), adds);
    assert_int_equal(atomic_load(&nexpires), expires);
    httpd_stop(h);
    str_list_free(&allowed);
    loop_stop();
    snapshot_clear();
}

/* The CSRF form: a page posts text/plain (no preflight) from its own
 * origin.  Nothing it sends may change anything. */
static void test_cross_site_writes(void **state)
{
    (void)state;
    publish(true);
    loop_start();
    struct httpd_options o = { .listen = "127.0.0.1:0" };
    struct httpd *h = start_opts(&o);
    int adds = atomic_load(&nadds), expires = atomic_load(&nexpires),
        reloads = atomic_load(&nreloads);
    const char *form[] = { "Origin: http://attacker.example",
                           "Content-Type: text/plain", NULL };
    const char *attacker_json[] = { "Origin: http://attacker.example",
                                    NULL };
    const char *null_origin[] = { "Origin: null", NULL };
    const char *other_port[] = { "Origin: http://127.0.0.1:1", NULL };
    const char *cross_site[] = { "Sec-Fetch-Site: cross-site", NULL };
    const char *same_site[] = { "Sec-Fetch-Site: same-site", NULL };
    const char *text[] = { "Content-Type: text/plain", NULL };
    const char *urlenc[] = {
        "Content-Type: application/x-www-form-urlencoded", NULL };
    const char *multipart[] = {
        "Content-Type: multipart/form-data; boundary=x", NULL };
    const char *none[] = { "Content-Type:", NULL };
    const char *jsonp[] = { "Content-Type: application/jsonp", NULL };
    const char *const *forbidden[] = { form, attacker_json, null_origin,
                                       other_port, cross_site, same_site };
    const char *const *unsupported[] = { text, urlenc, multipart, none,
                                         jsonp };
    for (size_t i = 0; i < ARRAY_SIZE(forbidden); i++) {
        expect_hdrs("POST", "/api/v1/silences", SILENCE_BODY, NULL,
                    forbidden[i], 403, "cross-origin");
        expect_hdrs("DELETE", "/api/v1/silence/0123456789abcdef", NULL,
                    NULL, forbidden[i], 403, "cross-origin");
        expect_hdrs("POST", "/api/v1/silences/0123456789abcdef/expire", "",
                    NULL, forbidden[i], 403, "cross-origin");
    }
    for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++) {
        expect_hdrs("POST", "/api/v1/silences", SILENCE_BODY, NULL,
                    unsupported[i], 415, "application/json");
        expect_hdrs("DELETE", "/api/v1/silence/0123456789abcdef", NULL,
                    NULL, unsupported[i], 415, "application/json");
        expect_hdrs("POST", "/api/v1/silences/0123456789abcdef/expire", "",
                    NULL, unsupported[i], 415, "application/json");
    }
    /* reload over HTTP is off unless enable_lifecycle */
    expect_hdrs("POST", "/-/reload", "", NULL, NULL, 403, "enable_lifecycle");
    expect_hdrs("PUT", "/-/reload", "", NULL, NULL, 403, "enable_lifecycle");
    expect_hdrs("POST", "/-/reload", "", NULL, form, 403, "enable_lifecycle");
    assert_int_equal(atomic_load(&nadds), adds);
    assert_int_equal(atomic_load(&nexpires), expires);
    assert_int_equal(atomic_load(&nreloads), reloads);

    /* the server's own origin, a client without Origin, JSON with a
     * charset: accepted */
    char own[96];
    snprintf(own, sizeof(own), "Origin: http://127.0.0.1:%d", port);
    const char *same[] = { own, "Sec-Fetch-Site: same-origin", NULL };
    const char *charset[] = {
        "Content-Type: Application/JSON; charset=utf-8", NULL };
    expect_hdrs("POST", "/api/v1/silences", SILENCE_BODY, NULL, same, 200,
                "silenceId");
    expect_hdrs("POST", "/api/v1/silences", SILENCE_BODY, NULL, charset, 200,
                "silenceId");
    expect_hdrs("POST", "/api/v1/silences", SILENCE_BODY, NULL, NULL, 200,
                "silenceId");
    expect_hdrs("DELETE", "/api/v1/silence/0123456789abcdef", NULL, NULL,
                NULL, 200, "success");
    assert_int_equal(atomic_load(&nadds), adds + 3);
    assert_int_equal(atomic_load(&nexpires), expires + 1);
    /* reads need none of it */
    expect_hdrs("GET", "/api/v1/silences", NULL, NULL, form, 200,
                "\"silences\"");
    httpd_stop(h);

    /* with enable_lifecycle: reload works, but not from a form */
    o.enable_lifecycle = true;
    h = start_opts(&o);
    expect_hdrs("POST", "/-/reload", "", NULL, form, 403, "cross-origin");
    expect_hdrs("POST", "/-/reload", "", NULL, text, 415, "application/json");
    assert_int_equal(atomic_load(&nreloads), reloads);
    expect_hdrs("POST", "/-/reload", "", NULL, NULL, 200, "OK");
    expect_hdrs("PUT", "/-/reload", NULL, NULL, NULL, 200, "OK");
    assert_int_equal(atomic_load(&nreloads), reloads + 2);
    httpd_stop(h);
    loop_stop();
    snapshot_clear();
}

/* A raw request line (what curl would not send): the status code, or 0
 * when the server closed without answering. */
static long raw_status(const char *request)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    size_t len = strlen(request);
    assert_int_equal(send(fd, request, len, 0), (ssize_t)len);
    char buf[256];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(buf) - 1 &&
           (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    close(fd);
    long status = 0;
    if (sscanf(buf, "HTTP/1.%*d %ld", &status) != 1)
        status = 0;
    return status;
}

/* "/-/reload%00.css" was "/-/reload": a path with a control character,
 * escaped or raw, is no route. */
static void test_control_characters(void **state)
{
    (void)state;
    publish(true);
    loop_start();
    struct httpd *h = start("127.0.0.1:0", NULL);
    int reloads = atomic_load(&nreloads), expires = atomic_load(&nexpires);
    expect_status("POST", "/-/reload%00.css", "", 404, "not found");
    expect_status("POST", "/-/reload%00", "", 404, "not found");
    expect_status("PUT", "/-/reload%0a", "", 404, "not found");
    expect_status("GET", "/-/healthy%00", NULL, 404, "not found");
    expect_status("GET", "/metrics%0d%0a", NULL, 404, "not found");
    expect_status("GET", "/api/v1/alerts%7f", NULL, 404, "not found");
    expect_status("GET", "/api/v1/alerts%1b[31m", NULL, 404, "not found");
    expect_status("DELETE", "/api/v1/silence/0123456789abcdef%00", NULL, 404,
                  "not found");
    expect_status("POST", "/api/v1/silences/0123456789abcdef%00/expire", "",
                  404, "not found");
    expect_status("GET", "/-/healthy%zz", NULL, 404, "not found");
    assert_int_equal(atomic_load(&nreloads), reloads);
    assert_int_equal(atomic_load(&nexpires), expires);
    /* escapes of printable characters still decode */
    expect_status("GET", "/%2D/healthy", NULL, 200, "OK");
    /* raw control bytes in the request line */
    char req[128];
    snprintf(req, sizeof(req), "GET /-/healthy\x01 HTTP/1.1\r\nHost: "
                               "127.0.0.1\r\nConnection: close\r\n\r\n");
    long st = raw_status(req);
    if (st == 200)
        fail_msg("a raw control byte in the path was served");
    snprintf(req, sizeof(req), "GET /-/healthy HTTP/1.1\r\nHost: "
                               "127.0.0.1\r\nConnection: close\r\n\r\n");
    assert_int_equal(raw_status(req), 200);
    httpd_stop(h);
    loop_stop();
    snapshot_clear();
}

/* ---- slow clients ---------------------------------------------------------- */

/* A connection from source address ip that sends the start of a request
 * and never finishes it. */
static int slow_client(const char *ip)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in src, dst;
    memset(&src, 0, sizeof(src));
    src.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, ip, &src.sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
    memset(&dst, 0, sizeof(dst));
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)port);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
    const char *start = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: ";
    (void)!send(fd, start, strlen(start), MSG_NOSIGNAL);
    return fd;
}

/* Was fd closed by the server within timeout_ms (reads end-of-stream or an
 * error)?  Bytes of an answer are skipped. */
static bool closed_within(int fd, int timeout_ms)
{
    double until = now_wall() + timeout_ms / 1000.0;
    for (;;) {
        int left = (int)((until - now_wall()) * 1000);
        if (left <= 0)
            return false;
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, left) <= 0)
            return false;
        char b[256];
        ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return true;
    }
}

/* A GET /-/healthy from source address ip: the status (0 = no answer). */
static long healthy_from(const char *ip)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in src, dst;
    memset(&src, 0, sizeof(src));
    src.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, ip, &src.sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
    memset(&dst, 0, sizeof(dst));
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)port);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    long status = 0;
    if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == 0) {
        const char *rq = "GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Connection: close\r\n\r\n";
        char buf[256];
        ssize_t n;
        if (send(fd, rq, strlen(rq), MSG_NOSIGNAL) > 0 &&
            (n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
            buf[n] = '\0';
            if (sscanf(buf, "HTTP/1.%*d %ld", &status) != 1)
                status = 0;
        }
    }
    close(fd);
    return status;
}

static void test_slow_clients(void **state)
{
    (void)state;
    publish(true);
    const struct conns_limits lim = {
        .max_total = 24, .max_per_ip = 8, .reserve = 4, .reserve_per_ip = 2,
        .wait_s = 1.5, .request_s = 5, .report_interval_s = 60,
    };
    struct httpd_options o = { .listen = "127.0.0.1:0", .limits = &lim };
    struct httpd *h = start_opts(&o);

    /* a request header trickled byte by byte does not reset the deadline
     * (libmicrohttpd's own timeout is 15 s of silence) */
    int fd = slow_client("127.0.0.2");
    bool closed = false;
    for (int i = 0; i < 40 && !closed; i++) {
        (void)!send(fd, "x", 1, MSG_NOSIGNAL);
        closed = closed_within(fd, 100);
    }
    assert_true(closed);
    close(fd);

    /* one address holding more than its share: others are not affected,
     * and the same address still gets an answer (the slow ones make
     * room) */
    int slow[20];
    for (int i = 0; i < 20; i++)
        slow[i] = slow_client("127.0.0.3");
    assert_int_equal(healthy_from("127.0.0.1"), 200);
    const struct timespec wait = { 0, 200 * 1000 * 1000 };
    nanosleep(&wait, NULL);
    assert_int_equal(healthy_from("127.0.0.3"), 200);
    assert_int_equal(healthy_from("127.0.0.1"), 200);
    for (int i = 0; i < 20; i++)
        close(slow[i]);

    /* many addresses up to the total: the reserve lets a newcomer in */
    int many[24];
    char ip[32];
    for (int i = 0; i < 24; i++) {
        snprintf(ip, sizeof(ip), "127.0.1.%d", i / 4 + 1);
        many[i] = slow_client(ip);
    }
    nanosleep(&wait, NULL);
    assert_int_equal(healthy_from("127.0.0.1"), 200);
    assert_int_equal(healthy_from("127.0.2.1"), 200);
    for (int i = 0; i < 24; i++)
        close(many[i]);

    struct conns_stats st;
    httpd_conn_stats(h, &st);
    assert_true(st.timed_out >= 1);
    assert_true(st.evicted >= 4);
    httpd_stop(h);
    snapshot_clear();
}

struct pending {
    CURLcode rc;
    long status;
    struct strbuf body;
};

static void *reload_in_thread(void *arg)
{
    struct pending *p = arg;
    struct resp r;
    p->rc = req_rc("POST", "/-/reload", "", NULL, &r);
    p->status = r.status;
    p->body = r.body;
    return NULL;
}

/* Nobody answers control commands: stopping the server must not wait for
 * the control timeout. */
static void test_stop_while_waiting(void **state)
{
    (void)state;
    publish(true);
    struct httpd *h = start("127.0.0.1:0", NULL);
    struct pending p = { CURLE_OK, 0, STRBUF_INIT };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reload_in_thread, &p), 0);
    const struct timespec nap = { 0, 300 * 1000 * 1000 };
    nanosleep(&nap, NULL);
    double t0 = now_wall();
    httpd_stop(h);
    pthread_join(t, NULL);
    assert_true(now_wall() - t0 < 3);
    assert_int_equal(p.rc, CURLE_OK);
    /* CTRL_UNAVAILABLE (was 500 while outcomes were strings) */
    assert_int_equal(p.status, 503);
    assert_non_null(strstr(strbuf_str(&p.body), "shutting down"));
    strbuf_free(&p.body);
    snapshot_clear();
}

static void test_start_errors_and_client(void **state)
{
    (void)state;
    char err[256];
    const char *bad[] = { "", "nope", "127.0.0.1", "127.0.0.1:99999",
                          "[::1", "[::1]9477", "1:2:3:4", "127.0.0.1:x" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        err[0] = '\0';
        struct httpd_options o = { .listen = bad[i] };
        assert_null(httpd_start(&o, err, sizeof(err)));
        assert_non_null(strstr(err, "invalid listen address"));
    }
    struct httpd *h = start("127.0.0.1:0", NULL);
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    struct httpd_options again = { .listen = listen };
    assert_null(httpd_start(&again, err, sizeof(err)));
    assert_non_null(strstr(err, "cannot listen on 127.0.0.1:"));
    assert_non_null(strstr(err, "in use"));

    /* the client side */
    char url[128];
    assert_int_equal(client_listen_url(listen, url, sizeof(url)), 0);
    long status = 0;
    struct strbuf out = STRBUF_INIT;
    publish(true);
    assert_int_equal(client_request(url, "GET", "/-/healthy", NULL, NULL,
                                          &status, &out, err, sizeof(err)),
                     CLIENT_OK);
    assert_int_equal(status, 200);
    assert_string_equal(out.buf, "OK\n");
    strbuf_free(&out);
    httpd_stop(h);
    assert_int_equal(client_request(url, "GET", "/-/healthy", NULL, NULL,
                                          &status, &out, err, sizeof(err)),
                     CLIENT_DOWN);
    strbuf_free(&out);

    assert_int_equal(client_listen_url(":9477", url, sizeof(url)), 0);
    assert_string_equal(url, "http://127.0.0.1:9477");
    assert_int_equal(client_listen_url("0.0.0.0:1", url, sizeof(url)), 0);
    assert_string_equal(url, "http://127.0.0.1:1");
    assert_int_equal(client_listen_url("[::]:80", url, sizeof(url)), 0);
    assert_string_equal(url, "http://[::1]:80");
    assert_int_equal(client_listen_url("[::1]:80", url, sizeof(url)), 0);
    assert_string_equal(url, "http://[::1]:80");
    assert_int_equal(client_listen_url("localhost:8080", url, sizeof(url)), 0);
    assert_string_equal(url, "http://localhost:8080");
    assert_int_equal(client_listen_url("", url, sizeof(url)), -1);
    snapshot_clear();
}

/* IPv6 loopback, where the machine has it. */
static void test_ipv6(void **state)
{
    (void)state;
    char err[256];
    struct httpd_options o = { .listen = "[::1]:0" };
    struct httpd *h = httpd_start(&o, err, sizeof(err));
    if (!h) {
        print_message("skipping IPv6: %s\n", err);
        return;
    }
    assert_true(httpd_is_loopback(h));
    char listen[64], url[128];
    snprintf(listen, sizeof(listen), "[::1]:%d", httpd_port(h));
    assert_int_equal(client_listen_url(listen, url, sizeof(url)), 0);
    long status = 0;
    struct strbuf out = STRBUF_INIT;
    assert_int_equal(client_request(url, "GET", "/-/healthy", NULL, NULL,
                                          &status, &out, err, sizeof(err)),
                     CLIENT_OK);
    assert_int_equal(status, 200);
    strbuf_free(&out);
    httpd_stop(h);
}

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    log_set_level(LOG_ERR);
    loop_silences = silences_new();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    snapshot_clear();
    silences_free(loop_silences);
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_before_first_snapshot),
        cmocka_unit_test(test_get_routes),
        cmocka_unit_test(test_404_405),
        cmocka_unit_test(test_silences_and_reload),
        cmocka_unit_test(test_expire_status_from_code),
        cmocka_unit_test(test_outcome_statuses),
        cmocka_unit_test(test_admin_token),
        cmocka_unit_test(test_host_header),
        cmocka_unit_test(test_cross_site_writes),
        cmocka_unit_test(test_control_characters),
        cmocka_unit_test(test_slow_clients),
        cmocka_unit_test(test_stop_while_waiting),
        cmocka_unit_test(test_start_errors_and_client),
        cmocka_unit_test(test_ipv6),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
