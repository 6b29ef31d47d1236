/*
 * sim_stats.h - request counters of the simulator, served at /sim/stats so
 * tests and benchmarks can check what a client really did (requests per
 * endpoint and status, rate-limited calls, peak rate, concurrency).
 * Times (uptime, the sliding 60 s peaks) are on the sim's clock, so they
 * are scenario seconds when the clock is scaled.
 * Thread-safe: every function takes one mutex.
 */
#ifndef SEGALERT_SIM_STATS_H
#define SEGALERT_SIM_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/util.h"
#include "sim_api.h"

/* clock is borrowed and must outlive the counters. */
void stats_init(const struct clock *clock);
void stats_free(void);

/* A request started / finished (in_flight, max_in_flight). */
void stats_begin(void);
void stats_end(void);

/* An API request arrived now; accepted = not 429.  Feeds the sliding
 * 60 s peaks. */
void stats_arrival(bool accepted);

/* Count the answer: status 0 means the connection was dropped. */
void stats_record(enum sim_endpoint ep, int status);

/* Zero every counter (in_flight is kept: those requests are real). */
void stats_reset(void);

/* Append the /sim/stats JSON object. */
void stats_json(struct strbuf *sb);

#endif
