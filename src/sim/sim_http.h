/*
 * sim_http.h - the simulator's HTTP server (libmicrohttpd, one thread per
 * connection so that per-request latency is a plain sleep and many slow
 * requests are served in parallel).  Around the endpoint handlers of
 * sim_api.h it adds bearer auth, the per-minute rate limit, injected
 * faults, latency and the /sim/stats counters.
 *
 * Everything runs on the clock given to sim_server_start: the time the
 * endpoints answer for, the rate-limit window, msBeforeNext and
 * X-RateLimit-Reset, the stats, and latencies (scenario seconds, slept as
 * clock_real_delay() real seconds).
 */
#ifndef SEGALERT_SIM_HTTP_H
#define SEGALERT_SIM_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/clock.h"
#include "sim_scenario.h"

struct sim_server;

/*
 * Listen on addr:port (an IPv4 literal; port 0 picks a free one) and serve
 * sc on clock; both must outlive the server.  Returns NULL with a message
 * in err.
 */
struct sim_server *sim_server_start(const struct scenario *sc,
                                    const struct clock *clock,
                                    const char *addr, uint16_t port,
                                    char *err, size_t errlen);
uint16_t sim_server_port(const struct sim_server *srv);

/* Wake sleeping handlers, stop the daemon, free srv (NULL is a no-op). */
void sim_server_stop(struct sim_server *srv);

#endif
