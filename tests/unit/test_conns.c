/*
 * test_conns.c - server/conns.h on made-up times and socket pairs: the
 * deadline for a request header (which trickled bytes do not reset), the
 * request deadline, the reserve kept per address and in total (the
 * connection that waited longest goes first, never the newcomer, never
 * one being answered), and the counts.  A shut-down connection is one
 * whose peer reads end-of-stream.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "server/conns.h"

#define MAXC 64

/* One connection: the server's end goes into the table, the client's end
 * tells whether it was shut down. */
struct pair {
    int server, client;
    struct conn *c;
};

static const struct conns_limits limits = {
    .max_total = 12,
    .max_per_ip = 6,
    .reserve = 2,
    .reserve_per_ip = 2,
    .wait_s = 10,
    .request_s = 30,
    .report_interval_s = 60,
};

static void addr_of(const char *ip, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons(40000);
    assert_int_equal(inet_pton(AF_INET, ip, &sa->sin_addr), 1);
}

static void open_pair(struct conns *t, struct pair *p, const char *ip,
                      double now)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    p->server = sv[0];
    p->client = sv[1];
    fcntl(p->client, F_SETFL, O_NONBLOCK);
    struct sockaddr_in sa;
    addr_of(ip, &sa);
    p->c = conns_open(t, p->server, (struct sockaddr *)&sa, sizeof(sa), now);
    assert_non_null(p->c);
}

/* Has the server's end been shut down (the client reads end-of-stream)? */
static bool is_shut(const struct pair *p)
{
    char b;
    ssize_t n = recv(p->client, &b, 1, 0);
    return n == 0;
}

static void close_pair(struct conns *t, struct pair *p)
{
    conns_close(t, p->c);
    close(p->server);
    close(p->client);
}

static void test_deadlines(void **state)
{
    (void)state;
    struct conns *t = conns_new(&limits);
    struct pair slow, busy, idle;
    open_pair(t, &slow, "10.0.0.1", 100);
    open_pair(t, &busy, "10.0.0.2", 100);
    open_pair(t, &idle, "10.0.0.3", 100);
    conns_request(t, busy.c, 101);
    conns_answer(t, busy.c);
    conns_request(t, idle.c, 101);
    conns_answer(t, idle.c);
    conns_idle(t, idle.c, 102);
    /* a slow client trickling bytes: nothing resets its deadline */
    conns_sweep(t, 109.9);
    assert_false(is_shut(&slow));
    conns_sweep(t, 110);
    assert_true(is_shut(&slow));
    assert_false(is_shut(&busy));
    /* the kept-alive one waits from the end of its answer */
    assert_false(is_shut(&idle));
    conns_sweep(t, 112);
    assert_true(is_shut(&idle));
    /* a request has request_s from its header */
    conns_sweep(t, 130.9);
    assert_false(is_shut(&busy));
    conns_sweep(t, 131);
    assert_true(is_shut(&busy));
    struct conns_stats st;
    conns_get_stats(t, &st);
    assert_int_equal(st.open, 3);
    assert_int_equal(st.timed_out, 3);
    assert_int_equal(st.evicted, 0);
    close_pair(t, &slow);
    close_pair(t, &busy);
    close_pair(t, &idle);
    conns_get_stats(t, &st);
    assert_int_equal(st.open, 0);
    conns_close(t, NULL);
    conns_free(t);
    conns_free(NULL);
}

/* One address over its share (max_per_ip - reserve_per_ip = 4): the
 * connection that has waited longest for its request goes, as soon as
 * another arrives; a slow body counts as waiting, an answer in progress
 * does not. */
static void test_reserve_per_address(void **state)
{
    (void)state;
    struct conns *t = conns_new(&limits);
    struct pair p[MAXC], other, fresh;
    for (int i = 0; i < 4; i++)
        open_pair(t, &p[i], "10.0.0.9", 100 + i * 0.1);
    for (int i = 0; i < 4; i++)
        assert_false(is_shut(&p[i]));
    /* the 5th: the oldest makes room, the newcomer stays */
    open_pair(t, &p[4], "10.0.0.9", 100.5);
    assert_true(is_shut(&p[0]));
    for (int i = 1; i < 5; i++)
        assert_false(is_shut(&p[i]));
    /* p[1] sends its header but its body slowly; p[2] is being answered */
    conns_request(t, p[1].c, 101);
    conns_request(t, p[2].c, 101);
    conns_answer(t, p[2].c);
    /* another address is not affected */
    open_pair(t, &other, "10.0.0.10", 103);
    assert_false(is_shut(&other));
    open_pair(t, &fresh, "10.0.0.9", 103);
    assert_true(is_shut(&p[1]));
    assert_false(is_shut(&p[2]));
    assert_false(is_shut(&p[3]));
    assert_false(is_shut(&p[4]));
    assert_false(is_shut(&fresh));
    assert_false(is_shut(&other));
    /* a sweep with nothing over its share changes nothing */
    conns_sweep(t, 104);
    assert_false(is_shut(&p[3]));
    struct conns_stats st;
    conns_get_stats(t, &st);
    assert_int_equal(st.evicted, 2);
    assert_int_equal(st.timed_out, 0);
    for (int i = 0; i < 5; i++)
        close_pair(t, &p[i]);
    close_pair(t, &other);
    close_pair(t, &fresh);
    conns_free(t);
}

/* Connections being answered are never closed to make room, whatever the
 * count; the newcomer is not either when it arrives. */
static void test_busy_spared(void **state)
{
    (void)state;
    struct conns *t = conns_new(&limits);
    struct pair p[6];
    for (int i = 0; i < 5; i++) {
        open_pair(t, &p[i], "10.0.0.11", 100);
        conns_request(t, p[i].c, 100);
        conns_answer(t, p[i].c);
    }
    open_pair(t, &p[5], "10.0.0.11", 101);
    for (int i = 0; i < 6; i++)
        assert_false(is_shut(&p[i]));
    struct conns_stats st;
    conns_get_stats(t, &st);
    assert_int_equal(st.evicted, 0);
    /* later, the only one waiting while the address is over its share is
     * the one to go */
    conns_sweep(t, 102);
    for (int i = 0; i < 5; i++)
        assert_false(is_shut(&p[i]));
    assert_true(is_shut(&p[5]));
    for (int i = 0; i < 6; i++)
        close_pair(t, &p[i]);
    conns_free(t);
}

/* Many addresses together over max_total - reserve = 10. */
static void test_reserve_total(void **state)
{
    (void)state;
    struct conns *t = conns_new(&limits);
    struct pair p[MAXC];
    char ip[32];
    for (int i = 0; i < 10; i++) {
        snprintf(ip, sizeof(ip), "10.0.1.%d", i + 1);
        open_pair(t, &p[i], ip, 100 + i * 0.01);
    }
    conns_sweep(t, 105);
    for (int i = 0; i < 10; i++)
        assert_false(is_shut(&p[i]));
    /* each newcomer closes the connection that has waited longest, of
     * whichever address */
    open_pair(t, &p[10], "10.0.1.11", 106);
    open_pair(t, &p[11], "10.0.1.12", 106);
    assert_true(is_shut(&p[0]));
    assert_true(is_shut(&p[1]));
    for (int i = 2; i < 12; i++)
        assert_false(is_shut(&p[i]));
    struct conns_stats st;
    conns_get_stats(t, &st);
    assert_int_equal(st.evicted, 2);
    assert_int_equal(st.open, 12);
    for (int i = 0; i < 12; i++)
        close_pair(t, &p[i]);
    conns_free(t);
}

/* An IPv4-mapped IPv6 client (a dual-stack listener) is the same address
 * as the IPv4 one. */
static void test_mapped_address(void **state)
{
    (void)state;
    struct conns *t = conns_new(&limits);
    struct pair p[4];
    for (int i = 0; i < 4; i++)
        open_pair(t, &p[i], "10.0.3.1", 100);
    struct sockaddr_in6 six;
    memset(&six, 0, sizeof(six));
    six.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, "::ffff:10.0.3.1", &six.sin6_addr),
                     1);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct conn *c = conns_open(t, sv[0], (struct sockaddr *)&six,
                                sizeof(six), 102);
    assert_true(is_shut(&p[0]));
    conns_close(t, c);
    close(sv[0]);
    close(sv[1]);
    for (int i = 0; i < 4; i++)
        close_pair(t, &p[i]);
    conns_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_reserve_per_address),
        cmocka_unit_test(test_busy_spared),
        cmocka_unit_test(test_reserve_total),
        cmocka_unit_test(test_mapped_address),
    };
    log_set_level(LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
