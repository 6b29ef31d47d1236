/*
 * cmd_run.c - `segalert run [-c FILE] [--once] [--dry-run]`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "cmd/cli.h"
#include "core/log.h"
#include "core/util.h"
#include "daemon/daemon.h"

/*
 * Raise the open-files soft limit to the hard limit.  Every receiver
 * connection, API connection and the state file take a descriptor; the
 * soft limit many service managers start daemons with (1024) is far below
 * what a burst of notifications to several receivers can need, while the
 * hard limit is what the administrator allows.  Failing is not fatal.
 */
static void raise_open_files_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        log_warn("daemon: cannot read the open files limit: %s",
                 strerror(errno));
        return;
    }
    if (rl.rlim_cur >= rl.rlim_max) {
        log_debug("daemon: open files limit %llu (the hard limit)",
                  (unsigned long long)rl.rlim_cur);
        return;
    }
    rlim_t old = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        log_warn("daemon: cannot raise the open files limit from %llu to "
                 "%llu: %s", (unsigned long long)old,
                 (unsigned long long)rl.rlim_max, strerror(errno));
        return;
    }
    log_info("daemon: open files limit raised from %llu to %llu",
             (unsigned long long)old, (unsigned long long)rl.rlim_cur);
}

static void run_usage(FILE *out)
{
    fprintf(out,
            "usage: segalert run [-c FILE] [--once [--timeout DURATION]] [--dry-run]\n"
            "                    [-v] [--log-format text|json]\n"
            "\n"
            "Run the daemon in the foreground: poll every workspace within its\n"
            "request budget, evaluate the rules every 15 s and after each poll,\n"
            "send notifications, keep state in state_dir/state.json.\n"
            "\n"
            "  --once      one full cycle (discovery, back-fill, one poll of every\n"
            "              family, evaluation, the notifications it causes), then\n"
            "              exit: 0, or 1 when the API could not be read (cron mode)\n"
            "  --timeout   with --once: give up after this long (default 5m), saying\n"
            "              what was not finished, and exit 1: a cron run never hangs\n"
            "  --dry-run   print the notifications it would send instead of sending\n"
            "\n"
            "Signals: SIGHUP reloads the configuration (kept on errors);\n"
            "SIGTERM/SIGINT stop polling, flush notifications for up to 10 s,\n"
            "save state and exit 0.\n");
}

static int set_once(void *ud, const char *arg)
{
    (void)arg;
    ((struct daemon_opts *)ud)->once = true;
    return 0;
}

static int set_dry_run(void *ud, const char *arg)
{
    (void)arg;
    ((struct daemon_opts *)ud)->dry_run = true;
    return 0;
}

static int set_timeout(void *ud, const char *arg)
{
    struct daemon_opts *o = ud;
    if (parse_duration(arg, &o->once_timeout_s) != 0 || o->once_timeout_s <= 0) {
        fprintf(stderr, "segalert run: invalid --timeout '%s' (a duration "
                "such as 90s or 5m)\n", arg);
        return -1;
    }
    return 0;
}

static int set_eval_interval(void *ud, const char *arg)
{
    struct daemon_opts *o = ud;
    if (parse_duration(arg, &o->eval_interval_s) != 0 || o->eval_interval_s <= 0) {
        fprintf(stderr, "segalert run: invalid --eval-interval '%s'\n", arg);
        return -1;
    }
    return 0;
}

/*
 * The daemon holds the Segment tokens, receiver secrets and the admin
 * token in memory for its whole life: no core file may carry them off
 * (RLIMIT_CORE 0, soft and hard, so it cannot be raised back), and no
 * other process of the same user may read its memory or environment
 * (not dumpable: no ptrace attach, /proc/PID/mem and environ owned by
 * root).  A failure is logged, not fatal: the daemon still works.
 */
static void harden_process(void)
{
    struct rlimit none = { 0, 0 };
    if (setrlimit(RLIMIT_CORE, &none) != 0)
        log_warn("run: cannot disable core dumps (RLIMIT_CORE): %s",
                 strerror(errno));
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        log_warn("run: cannot make the process non-dumpable: %s",
                 strerror(errno));
}

int cmd_run(int argc, char **argv)
{
    struct daemon_opts o = { 0 };
    struct cli_common common = { 0 };
    static const struct cli_flag flags[] = {
        { "once", false, set_once },
        { "dry-run", false, set_dry_run },
        { "eval-interval", true, set_eval_interval },
        { "timeout", true, set_timeout },
    };
    int rc = cli_parse(argc, argv, &common, flags, ARRAY_SIZE(flags), &o,
                       run_usage, 0, 0, NULL);
    if (rc >= 0)
        return rc;
    char err[256];
    o.clock = clock_from_env(err, sizeof(err));
    if (!o.clock) {
        fprintf(stderr, "segalert run: %s\n", err);
        return 2;
    }
    o.config_path = cli_config_path(&common);
    if (!o.config_path)
        return 2;
    o.verbose = common.verbose;
    o.log_format = common.log_format;
    /* the logger as daemon_run() starts it, until the config is read */
    log_configure(NULL, NULL, o.verbose > 0, o.log_format);
    raise_open_files_limit();
    harden_process();
    rc = daemon_run(&o);
    clock_free(o.clock);
    return rc;
}
