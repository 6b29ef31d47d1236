/*
 * conns.h - the HTTP server's connections under abuse (README.md
 * "Operations"): how long a client may take to send its request, and which
 * slow connections are closed so that /-/healthy, /metrics and the API
 * keep answering while slow clients (slowloris) hold connections.
 *
 * libmicrohttpd refuses connections beyond its total and per-address
 * limits, and its own timeout is an idle timeout that every trickled byte
 * resets.  This table adds what it lacks:
 *   - deadlines: a connection waiting for a request must have sent the
 *     whole header within wait_s (counted from the connection, or from the
 *     end of the previous response on a kept-alive one); a request must be
 *     answered within request_s after its header (body included).  Past
 *     its deadline a connection is shut down (conns_sweep).
 *   - a reserve: when an address holds more than max_per_ip -
 *     reserve_per_ip connections, or everyone together more than
 *     max_total - reserve, the connections that have waited longest for
 *     their request (header or body; never one being answered) are shut
 *     down to make room, at once when a connection arrives (never that
 *     one) and at every sweep.  So the hard limits are seldom reached even
 *     while slow clients keep reconnecting, and a client that sends its
 *     request at once gets in and is answered: it is never the one that
 *     has waited longest.  (A flood of new connections from one address
 *     still takes that address's share: other addresses keep theirs.)
 *   - one log line per report_interval_s at most about what was closed
 *     (counts and the address that lost most), never one per connection.
 *
 * Shutting down is shutdown(2) on the connection's socket: libmicrohttpd's
 * thread sees the end of the stream and closes the connection itself.
 * conns_close() must be called before the socket is closed (libmicrohttpd's
 * "connection closed" notification comes first), so a descriptor is never
 * shut down after it was reused.
 *
 * Times are seconds on a monotonic clock, passed in (tests use made-up
 * times).  Thread safety: every call locks the table; a struct conn is
 * owned by the table and valid until conns_close().
 */
#ifndef SEGALERT_CONNS_H
#define SEGALERT_CONNS_H

#include <stdint.h>
#include <sys/socket.h>

struct conns_limits {
    unsigned max_total;         /* libmicrohttpd's connection limit */
    unsigned max_per_ip;        /* its per-address limit */
    unsigned reserve;           /* kept free of waiting connections */
    unsigned reserve_per_ip;    /* likewise within each address's share */
    double wait_s;              /* deadline for a complete request header */
    double request_s;           /* deadline for body and answer */
    double report_interval_s;   /* at most one log line per interval */
};

struct conns_stats {
    unsigned open;              /* connections in the table */
    uint64_t timed_out;         /* shut down past their deadline */
    uint64_t evicted;           /* shut down to make room */
};

struct conns;
struct conn;

/* lim is copied. */
struct conns *conns_new(const struct conns_limits *lim);
void conns_free(struct conns *t);               /* NULL is a no-op */

/* A connection from addr (its length alen) on socket fd was accepted at
 * now: it waits for a request.  May shut down others to make room. */
struct conn *conns_open(struct conns *t, int fd, const struct sockaddr *addr,
                        socklen_t alen, double now);
/* Its request header is complete: the request deadline starts; until
 * conns_answer() it may still be closed to make room (a slow body). */
void conns_request(struct conns *t, struct conn *c, double now);
/* Its request is complete and being answered. */
void conns_answer(struct conns *t, struct conn *c);
/* Its answer is done: it waits for the next request (keep-alive). */
void conns_idle(struct conns *t, struct conn *c, double now);
/* It is about to be closed (before its socket is); NULL is a no-op. */
void conns_close(struct conns *t, struct conn *c);

/* Shut down what is past its deadline or over the reserve, and log what
 * was dropped when the report interval has passed. */
void conns_sweep(struct conns *t, double now);

void conns_get_stats(struct conns *t, struct conns_stats *out);

#endif
