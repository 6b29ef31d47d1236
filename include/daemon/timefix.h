/*
 * timefix.h - wall-clock steps: the state file's times when the clock
 * went back between two runs, and steps of the wall clock while running.
 *
 * Every timer of segalert (group flushes, delivery retries, evaluation)
 * is a wall-clock time, because it is saved in the state file and read
 * by the next run.  A wall clock that jumps (an RTC or NTP correction, a
 * VM restored from a snapshot) would then freeze them ("next attempt in
 * 23 h 59 min") or fire them all at once.  This module finds such jumps
 * and says by how much to move the times:
 *
 *   - on restore, timefix_state_doc() looks at the times that record
 *     something that happened (saved_at, created_at, notified_at...): the
 *     latest of them may not be later than now + the tolerance.  When it
 *     is, every time of the document (those events and the timers
 *     next_flush, next_attempt) moves back by that much, so what was due
 *     at the save is due now and what was waiting waits what it had left;
 *   - while running, a clock_watch compares the wall clock with the
 *     monotonic one once per loop pass; a difference that moved by more
 *     than the tolerance is a step, and the daemon moves its timers, its
 *     pollers' schedules and its alert times by the step (daemon.c,
 *     ws_schedule_shift_times), so that nothing waits
 *     "until tomorrow" and nothing fires early: every timer keeps the
 *     monotonic time it had left.
 *
 * Silences keep their times (they are the user's wall-clock intent).
 * Pure functions of their inputs; no logging, no threads.
 */
#ifndef SEGALERT_TIMEFIX_H
#define SEGALERT_TIMEFIX_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "core/clock.h"
#include "engine/alert.h"

/* A time this much later than now is still "now" (clocks of two runs,
 * slewing); a larger difference is a step. */
#define TIMEFIX_TOLERANCE_S 60.0

/*
 * The state document root (as state_read() returns it), read at now:
 * when its latest event time is more than tolerance_s after now, move
 * every time of it back by (latest - now) and return that; else leave it
 * and return 0.  Times of 0 ("never") stay 0.
 */
double timefix_state_doc(cJSON *root, double now, double tolerance_s);

/* Move the times of one alert instance by delta_s (0 stays 0); its
 * data_through is only ever lowered, to now at most (sample times are
 * the API's, not ours). */
void timefix_instance(struct alert_instance *st, double delta_s, double now);

/* Steps of c's wall clock against its monotonic clock. */
struct clock_watch {
    double offset;          /* wall - mono at the last look */
    bool known;
};

/* Seconds the wall clock jumped since the last call (positive: forward),
 * or 0 when it moved with the monotonic clock within tolerance_s. */
double clock_watch_step(struct clock_watch *w, const struct clock *c,
                        double tolerance_s);

#endif
