/*
 * cmd_run.c - `segalert run [-c FILE] [--once] [--dry-run]`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon.h"

static void run_usage(FILE *out)
{
    fprintf(out,
            "usage: segalert run [-c FILE] [--once] [--dry-run] [-v] [--log-format text|json]\n"
            "\n"
            "Run the daemon in the foreground: poll every workspace within its\n"
            "request budget, evaluate the rules every 15 s and after each poll,\n"
            "send notifications, keep state in state_dir/state.json.\n"
            "\n"
            "  --once      one full cycle (discovery, back-fill, one poll of every\n"
            "              family, evaluation, the notifications it causes), then\n"
            "              exit: 0, or 1 when the API could not be read (cron mode)\n"
            "  --dry-run   print the notifications it would send instead of sending\n"
            "\n"
            "Signals: SIGHUP reloads the configuration (kept on errors);\n"
            "SIGTERM/SIGINT stop polling, flush notifications for up to 10 s,\n"
            "save state and exit 0.\n");
}

int cmd_run(int argc, char **argv)
{
    struct daemon_opts o = { 0 };
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "once", no_argument, NULL, 'o' },
        { "dry-run", no_argument, NULL, 'n' },
        { "eval-interval", required_argument, NULL, 'E' },
        { "verbose", no_argument, NULL, 'v' },
        { "log-format", required_argument, NULL, 'L' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': o.common.config_path = optarg; break;
        case 'o': o.once = true; break;
        case 'n': o.dry_run = true; break;
        case 'E':
            if (parse_duration(optarg, &o.eval_interval_s) != 0 ||
                o.eval_interval_s <= 0) {
                fprintf(stderr, "segalert run: invalid --eval-interval '%s'\n", optarg);
                return 2;
            }
            break;
        case 'v': o.common.verbose++; break;
        case 'L': o.common.log_format = optarg; break;
        case 'h': run_usage(stdout); return 0;
        default: run_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "segalert run: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return daemon_run(&o);
}
