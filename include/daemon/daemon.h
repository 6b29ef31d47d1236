/*
 * daemon.h - `segalert run`: the main loop that polls every workspace within
 * its request budget, evaluates the rules, turns alert transitions into
 * notifications (dispatch → outbox → receivers) and keeps the state file.
 * docs/design.md "Data flow" and "Threads" describe the whole.
 *
 * One thread owns everything: a curl multi loop with timers.  libesmtp runs
 * in the SMTP worker thread; the HTTP status server reads a snapshot the
 * loop publishes after each cycle.  Signal handlers only set flags:
 *   SIGHUP          reload (validate first; keep running on errors)
 *   SIGTERM/SIGINT  stop polling, flush the outbox for up to 10 s, save
 *                   state, exit 0
 */
#ifndef SEGALERT_DAEMON_H
#define SEGALERT_DAEMON_H

#include <stdbool.h>

#include "core/clock.h"

/* Default deadline of `run --once` (real seconds). */
#define DAEMON_ONCE_TIMEOUT_S 300.0

struct daemon_opts {
    const char *config_path;    /* NULL = config_default_path() */
    int verbose;                /* -v: debug logging whatever the config says */
    const char *log_format;     /* --log-format; NULL = the config's */
    bool once;          /* one full cycle, then exit (0, or 1 when the API
                           could not be read) */
    bool dry_run;       /* print notifications instead of sending them */
    double once_timeout_s;  /* --once: real seconds before giving up (exit
                               1); 0 = DAEMON_ONCE_TIMEOUT_S */
    double eval_interval_s;     /* default 15 */
    /* The clock of every timer and timestamp; NULL = clock_system().  The
     * end-to-end tests pass a scaled clock to run hours in seconds. */
    const struct clock *clock;
};

/* Runs until stopped; returns the process exit code. */
int daemon_run(const struct daemon_opts *opts);

#endif
