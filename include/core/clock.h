/*
 * clock.h - the clocks segalert reads: every module that needs the time
 * takes a struct clock instead of calling time functions itself, so tests
 * can run hours of behaviour in seconds.
 *
 * Three kinds:
 *   system  the real clock (what production uses).
 *   scaled  real time sped up by a factor from an origin: virtual wall
 *           time = start + (real wall - origin) x factor.  Two processes
 *           given the same parameters agree on the time without talking to
 *           each other, which is how segalert and segalert-sim share
 *           compressed scenario time in the end-to-end tests.  Waits are
 *           divided by the factor (clock_real_delay).
 *   fake    stands still until the test moves it (unit tests).
 *
 * wall: unix seconds with fraction, for timestamps that leave the process
 * (API query windows, state file, notifications).  mono: seconds on a
 * clock that never goes back, for intervals inside one run.
 *
 * A process chooses its clock once, at start (clock_from_env); clocks are
 * immutable after creation except the fake clock, which only tests move.
 * Reading a clock is thread-safe.
 */
#ifndef SEGALERT_CLOCK_H
#define SEGALERT_CLOCK_H

#include <stdbool.h>
#include <stddef.h>

/* The environment variable that selects a scaled clock (tests only):
 *   SEGALERT_CLOCK="scale=60,origin=1764988800.25[,start=1764900000]"
 * origin: the real unix time the virtual clock starts from (default: now);
 * start: the virtual unix time at origin (default: origin). */
#define CLOCK_ENV "SEGALERT_CLOCK"

struct clock;

/* The real clock (a static object; never freed). */
const struct clock *clock_system(void);
/* A scaled clock: factor > 0; returns NULL when factor is not. */
struct clock *clock_scaled_new(double factor, double real_origin,
                               double virtual_start);
/* A fake clock standing at wall time start (mono starts at 0). */
struct clock *clock_fake_new(double start);
/* Move a fake clock forward by s seconds (both wall and mono). */
void clock_fake_advance(struct clock *c, double s);
/* Step a fake clock's wall time to t (mono is unchanged), as an NTP
 * correction would. */
void clock_fake_set_wall(struct clock *c, double t);
void clock_free(const struct clock *c); /* NULL, clock_system(): no-ops */

double clock_wall(const struct clock *c);
double clock_mono(const struct clock *c);
/* Real seconds that pass while s seconds of c pass (s / factor; s for the
 * system clock; 0 for a fake clock, which does not move by waiting). */
double clock_real_delay(const struct clock *c, double s);
/* The speed-up factor (1 for the system clock). */
double clock_factor(const struct clock *c);
/* Where a test clock started: a scaled clock's virtual time at its origin
 * (the start= of SEGALERT_CLOCK), a fake clock's current wall time; the
 * system clock's now. */
double clock_origin_wall(const struct clock *c);
bool clock_is_system(const struct clock *c);

/*
 * The clock the environment asks for: clock_system() when CLOCK_ENV is
 * unset or empty, else a new scaled clock (the caller keeps it for the
 * life of the process).  Returns NULL with a message in err when the
 * variable is malformed.
 */
const struct clock *clock_from_env(char *err, size_t errlen);

#endif
