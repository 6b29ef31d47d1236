/*
 * test_http.c - the HTTP client against raw sockets on 127.0.0.1:
 *   - aborting: http_client_abort_all calls done() once for each transfer
 *     in flight and leaves the client usable (watched fds still wake
 *     http_run), which is what lets the daemon free the deliverer, who
 *     borrows the client, before the client itself;
 *   - timeouts: an answer that arrived while the loop was busy for longer
 *     than the timeout is an answer, not a timeout (the cause of duplicate
 *     notifications at 20,000 groups); a peer that never answers times out
 *     and http_run() wakes for it;
 *   - a burst of requests to a plain-http host opens its connections at
 *     once: none waits for the first answer (which counted in its timeout,
 *     and a slow receiver's burst timed out and was sent again).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/http.h"
#include "core/util.h"

struct seen {
    int calls;
    int curl_code;
};

static void on_done(struct http_request *r, void *ud)
{
    struct seen *s = ud;
    s->calls++;
    s->curl_code = r->curl_code;
}

/* A listening socket on 127.0.0.1 that never accepts: the kernel completes
 * the connection (backlog) and the request then waits for an answer that
 * never comes.  Returns the fd; the port in *port. */
static int silent_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 8), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void test_abort_all_keeps_the_client(void **state)
{
    (void)state;
    int port;
    int lfd = silent_listener(&port);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hang", port);

    struct http_client *c = http_client_new();
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    assert_int_equal(http_client_watch_fd(c, pipefd[0]), 0);

    struct seen s1 = { 0 }, s2 = { 0 };
    struct http_request *r1 = http_request_new(url);
    struct http_request *r2 = http_request_new(url);
    r1->done = on_done;
    r1->ud = &s1;
    r2->done = on_done;
    r2->ud = &s2;
    assert_int_equal(http_submit(c, r1), 0);
    assert_int_equal(http_submit(c, r2), 0);
    for (int i = 0; i < 5; i++)
        http_run(c, 20);
    assert_int_equal(http_in_flight(c), 2);
    assert_int_equal(s1.calls + s2.calls, 0);

    http_client_abort_all(c);
    assert_int_equal(http_in_flight(c), 0);
    assert_int_equal(s1.calls, 1);
    assert_int_equal(s2.calls, 1);
    assert_int_equal(s1.curl_code, CURLE_ABORTED_BY_CALLBACK);
    assert_int_equal(s2.curl_code, CURLE_ABORTED_BY_CALLBACK);

    /* Still usable: the watched fd wakes http_run long before its 10 s. */
    assert_int_equal(write(pipefd[1], "x", 1), 1);
    int64_t t0 = now_mono_ms();
    assert_int_equal(http_run(c, 10000), 0);
    assert_true(now_mono_ms() - t0 < 5000);
    http_client_unwatch_fd(c, pipefd[0]);

    /* Nothing left to abort: done() is not called again. */
    http_client_free(c);
    assert_int_equal(s1.calls, 1);
    assert_int_equal(s2.calls, 1);
    http_client_abort_all(NULL);

    http_request_free(r1);
    http_request_free(r2);
    close(pipefd[0]);
    close(pipefd[1]);
    close(lfd);
}

/* Accept one connection on lfd, read one request (up to the blank line
 * ending its headers; GETs have no body) and answer 200 with a short body.
 * Returns the connection (the caller closes it). */
static int answer_one(int lfd)
{
    int cfd = accept(lfd, NULL, NULL);
    assert_true(cfd >= 0);
    char buf[4096];
    size_t len = 0;
    while (len < sizeof(buf) - 1) {
        ssize_t got = read(cfd, buf + len, sizeof(buf) - 1 - len);
        assert_true(got > 0);
        len += (size_t)got;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                               "Content-Type: text/plain\r\n\r\nok";
    assert_int_equal(write(cfd, resp, sizeof(resp) - 1),
                     (ssize_t)(sizeof(resp) - 1));
    return cfd;
}

/*
 * The loop was busy (evaluating, saving) for longer than the timeout while
 * the answer sat in the socket: the transfer succeeded and must be reported
 * so.  Reporting a timeout made the outbox send the notification again,
 * although the receiver had processed it (a duplicate).
 */
static void test_late_loop_is_not_a_timeout(void **state)
{
    (void)state;
    int port;
    int lfd = silent_listener(&port);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/late", port);

    struct http_client *c = http_client_new();
    struct seen s = { 0 };
    struct http_request *r = http_request_new(url);
    r->timeout_ms = 300;
    r->done = on_done;
    r->ud = &s;
    assert_int_equal(http_submit(c, r), 0);
    /* connect and send the request */
    for (int i = 0; i < 5; i++)
        http_run(c, 10);
    int cfd = answer_one(lfd);
    /* the loop is elsewhere for twice the timeout */
    usleep(600 * 1000);
    for (int i = 0; i < 10 && s.calls == 0; i++)
        http_run(c, 10);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.curl_code, 0);
    assert_int_equal(r->status, 200);

    http_client_free(c);
    http_request_free(r);
    close(cfd);
    close(lfd);
}

/* A peer that never answers still times out, on time: http_run() wakes for
 * the deadline even when asked to wait longer. */
static void test_silent_peer_times_out(void **state)
{
    (void)state;
    int port;
    int lfd = silent_listener(&port);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/silent", port);

    struct http_client *c = http_client_new();
    struct seen s = { 0 };
    struct http_request *r = http_request_new(url);
    r->timeout_ms = 200;
    r->done = on_done;
    r->ud = &s;
    int64_t t0 = now_mono_ms();
    assert_int_equal(http_submit(c, r), 0);
    for (int i = 0; i < 3 && s.calls == 0; i++)
        http_run(c, 10000);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.curl_code, CURLE_OPERATION_TIMEDOUT);
    assert_false(http_request_aborted(r));
    assert_non_null(strstr(r->error, "timed out"));
    /* far from the 10 s the loop offered to sleep */
    assert_true(now_mono_ms() - t0 < 5000);
    assert_int_equal(http_in_flight(c), 0);

    http_client_free(c);
    http_request_free(r);
    close(lfd);
}

/* Three requests at once to an http:// host: three connections reach the
 * peer before any answer.  (curl's PIPEWAIT would hold the second and
 * third until the first answer told it the host speaks HTTP/1.1.) */
static void test_http_burst_does_not_wait(void **state)
{
    (void)state;
    int port;
    int lfd = silent_listener(&port);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/burst", port);

    struct http_client *c = http_client_new();
    struct seen s[3] = { { 0 } };
    struct http_request *r[3];
    for (int i = 0; i < 3; i++) {
        r[i] = http_request_new(url);
        r[i]->done = on_done;
        r[i]->ud = &s[i];
        assert_int_equal(http_submit(c, r[i]), 0);
    }
    for (int i = 0; i < 10; i++)
        http_run(c, 10);
    /* every connection the client opened waits in the backlog */
    assert_int_equal(fcntl(lfd, F_SETFL, O_NONBLOCK), 0);
    int fds[4], n = 0;
    while (n < 4) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            break;
        fds[n++] = fd;
    }
    assert_int_equal(n, 3);
    assert_int_equal(s[0].calls + s[1].calls + s[2].calls, 0);

    http_client_free(c);
    for (int i = 0; i < 3; i++)
        http_request_free(r[i]);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abort_all_keeps_the_client),
        cmocka_unit_test(test_late_loop_is_not_a_timeout),
        cmocka_unit_test(test_silent_peer_times_out),
        cmocka_unit_test(test_http_burst_does_not_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
