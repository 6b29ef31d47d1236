/*
 * test_http_guard.c - server/http_guard.h: which Host names the server
 * answers to, which Origins may change something, JSON content types,
 * paths with control characters and the unescaping that keeps "%00" from
 * cutting a path short.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/kv.h"
#include "core/util.h"
#include "server/http_guard.h"

static void test_host(void **state)
{
    (void)state;
    struct str_list allowed = { NULL, 0 };
    str_list_add(&allowed, "segalert.internal");
    str_list_add(&allowed, "Alerts.Example.com:8443");
    str_list_add(&allowed, "plain.example:443");
    struct http_guard *g = http_guard_new("monitor.lan", &allowed);
    const char *ok[] = {
        "localhost", "localhost:9477", "LOCALHOST:1", "localhost.",
        "127.0.0.1", "127.0.0.1:9477", "127.1.2.3:80", "[::1]", "[::1]:9477",
        /* an address cannot be rebound to another server */
        "10.0.0.5:9477", "192.168.1.1", "[fd00::1]:80",
        "monitor.lan", "Monitor.LAN:9477",
        "segalert.internal", "segalert.internal:1234",
        "alerts.example.com:8443",
        /* no port: the scheme's default */
        "plain.example",
    };
    const char *bad[] = {
        "attacker.example", "attacker.example:9477", "localhost.attacker.example",
        "127.0.0.1.nip.io", "segalert.internal.evil", "evil-segalert.internal",
        "alerts.example.com", "alerts.example.com:443", "plain.example:80",
        "", ":9477", "[::1", "[::1]x", "::1", "a b", "a/b", "user@localhost",
        "localhost:x", "localhost:99999", "[attacker.example]",
    };
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
        if (!http_guard_host_ok(g, ok[i]))
            fail_msg("Host '%s' refused", ok[i]);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        if (http_guard_host_ok(g, bad[i]))
            fail_msg("Host '%s' accepted", bad[i]);
    /* HTTP/1.0 without Host: no browser sends that */
    assert_true(http_guard_host_ok(g, NULL));
    http_guard_free(g);

    /* a wildcard listener, no allowed_hosts */
    g = http_guard_new("", NULL);
    assert_true(http_guard_host_ok(g, "localhost:9477"));
    assert_true(http_guard_host_ok(g, "10.1.1.1:9477"));
    assert_false(http_guard_host_ok(g, "monitor.lan:9477"));
    http_guard_free(g);

    /* an IPv6 listen address comes without brackets */
    g = http_guard_new("fd00::7", NULL);
    assert_true(http_guard_host_ok(g, "[fd00::7]:9477"));
    http_guard_free(g);
    http_guard_free(NULL);
    str_list_free(&allowed);
}

static void test_origin(void **state)
{
    (void)state;
    assert_true(http_guard_origin_ok(NULL, "127.0.0.1:9477"));
    assert_true(http_guard_origin_ok(NULL, NULL));
    assert_true(http_guard_origin_ok("http://127.0.0.1:9477",
                                     "127.0.0.1:9477"));
    assert_true(http_guard_origin_ok("http://LOCALHOST:9477",
                                     "localhost:9477"));
    assert_true(http_guard_origin_ok("https://alerts.example.com",
                                     "alerts.example.com"));
    assert_true(http_guard_origin_ok("https://alerts.example.com",
                                     "alerts.example.com:443"));
    assert_true(http_guard_origin_ok("http://alerts.example.com:80",
                                     "alerts.example.com"));
    assert_true(http_guard_origin_ok("http://[::1]:9477", "[::1]:9477"));

    assert_false(http_guard_origin_ok("http://attacker.example",
                                      "127.0.0.1:9477"));
    assert_false(http_guard_origin_ok("http://127.0.0.1:9478",
                                      "127.0.0.1:9477"));
    assert_false(http_guard_origin_ok("http://localhost:9477",
                                      "127.0.0.1:9477"));
    assert_false(http_guard_origin_ok("https://alerts.example.com",
                                      "alerts.example.com:80"));
    assert_false(http_guard_origin_ok("null", "127.0.0.1:9477"));
    assert_false(http_guard_origin_ok("", "127.0.0.1:9477"));
    assert_false(http_guard_origin_ok("file://", "127.0.0.1:9477"));
    assert_false(http_guard_origin_ok("http://127.0.0.1:9477/x",
                                      "127.0.0.1:9477"));
    assert_false(http_guard_origin_ok("ftp://127.0.0.1:9477",
                                      "127.0.0.1:9477"));
    assert_false(http_guard_origin_ok("http://127.0.0.1:9477", NULL));

    assert_true(http_guard_fetch_site_ok(NULL));
    assert_true(http_guard_fetch_site_ok("same-origin"));
    assert_true(http_guard_fetch_site_ok("none"));
    assert_false(http_guard_fetch_site_ok("same-site"));
    assert_false(http_guard_fetch_site_ok("cross-site"));
}

static void test_json(void **state)
{
    (void)state;
    assert_true(http_guard_is_json("application/json"));
    assert_true(http_guard_is_json("Application/JSON"));
    assert_true(http_guard_is_json("application/json; charset=utf-8"));
    assert_true(http_guard_is_json(" application/json"));
    assert_false(http_guard_is_json(NULL));
    assert_false(http_guard_is_json(""));
    assert_false(http_guard_is_json("text/plain"));
    assert_false(http_guard_is_json("application/x-www-form-urlencoded"));
    assert_false(http_guard_is_json("multipart/form-data; boundary=x"));
    assert_false(http_guard_is_json("application/jsonp"));
    assert_false(http_guard_is_json("text/plain; application/json"));
}

static void test_paths(void **state)
{
    (void)state;
    struct { const char *in, *out; } cases[] = {
        { "/-/healthy", "/-/healthy" },
        { "/%2D/healthy", "/-/healthy" },
        { "/api/v1/silence/ab%63", "/api/v1/silence/abc" },
        { "/-/reload%00.css", "/-/reload%00.css" },
        { "/metrics%0a", "/metrics%0a" },
        { "/x%7F%7f%1F", "/x%7F%7f%1F" },
        { "/%", "/%" },
        { "/%4", "/%4" },
        { "/%zz", "/%zz" },
        { "/%e2%82%ac", "/\xe2\x82\xac" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%s", cases[i].in);
        size_t n = http_guard_unescape(buf);
        assert_string_equal(buf, cases[i].out);
        assert_int_equal(n, strlen(cases[i].out));
    }
    assert_true(http_guard_path_ok("/-/healthy"));
    assert_true(http_guard_path_ok("/\xe2\x82\xac"));
    assert_false(http_guard_path_ok("/-/reload%00.css"));
    assert_false(http_guard_path_ok("/metrics\n"));
    assert_false(http_guard_path_ok("/metrics\x01"));
    assert_false(http_guard_path_ok("/metrics\x7f"));
    assert_false(http_guard_path_ok("/metrics\t"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
