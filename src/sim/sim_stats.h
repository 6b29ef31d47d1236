/*
 * sim_stats.h - request counters of the simulator, served at /sim/stats so
 * tests and benchmarks can check what a client really did (requests per
 * endpoint and status, rate-limited calls, peak rate, concurrency).
 * Thread-safe: every function takes one mutex.
 */
#ifndef SEGALERT_SIM_STATS_H
#define SEGALERT_SIM_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/util.h"
#include "sim_api.h"

void stats_init(void);
void stats_free(void);

/* A request started / finished (in_flight, max_in_flight). */
void stats_begin(void);
void stats_end(void);

/* An API request arrived at now_ms (monotonic); accepted = not 429.
 * Feeds the sliding 60 s peaks. */
void stats_arrival(int64_t now_ms, bool accepted);

/* Count the answer: status 0 means the connection was dropped. */
void stats_record(enum sim_endpoint ep, int status);

/* Zero every counter (in_flight is kept: those requests are real). */
void stats_reset(void);

/* Append the /sim/stats JSON object. */
void stats_json(struct strbuf *sb);

#endif
