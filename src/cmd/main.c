/*
 * main.c - the segalert command line: subcommand dispatch and help.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "core/log.h"
#include "core/util.h"
#include "notify/receiver.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *synopsis;
};

static const struct command commands[] = {
    { "run", cmd_run, "run [-c FILE] [--once] [--dry-run]  the daemon: poll, evaluate, notify" },
    { "check", cmd_check, "check [-c FILE]           validate configuration, rules and templates" },
    { "test", cmd_test, "test FILE...              run rule unit tests" },
    { "status", cmd_status, "status [-c FILE] [--json]  workspaces, alerts, rules and receivers of the running daemon" },
    { "silence", cmd_silence, "silence add|list|expire   manage silences (add --match k=glob --for 2h)" },
    { "notify-test", cmd_notify_test, "notify-test [-c FILE] RECEIVER  send one test notification" },
    { "export-test", cmd_export_test, "export-test [-c FILE] NAME  send one batch through an export section" },
    { "fetch", cmd_fetch, "fetch [-c FILE] [--json]  poll every metric family once and print the series" },
    { "backtest", cmd_backtest, "backtest [-c FILE] [--days N]  what the rules would have done over past days" },
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: segalert [--version] [-h] COMMAND [options]\n"
            "\n"
            "segalert watches Segment workspaces through the Segment Public API and\n"
            "alerts on delivery failures, latency, volume drops and billing overages.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        fprintf(out, "  segalert %s\n", commands[i].synopsis);
    fprintf(out,
            "\n"
            "common options:\n"
            "  -c, --config FILE      configuration file (default ./segalert.conf,\n"
            "                         then /etc/segalert/segalert.conf)\n"
            "  -v, --verbose          more logging (debug)\n"
            "      --log-format FMT   text (logfmt) or json\n"
            "  -h, --help             help for a command: segalert COMMAND --help\n"
            "\n"
            "exit codes: 0 ok, 1 runtime failure (test: a test failed), 2 usage or\n"
            "configuration error.\n");
}

int main(int argc, char **argv)
{
    /* A closed socket must be an error return, never a fatal signal. */
    signal(SIGPIPE, SIG_IGN);
    /* Before any configuration is loaded: the receiver types. */
    char err[256];
    if (receivers_register(NULL, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "segalert: receiver types: %s\n", err);
        abort();        /* a mistake in src/notify/receivers.c */
    }
    /* Every command that loads a configuration says when it holds
     * inline secrets others can read. */
    config_set_check_file_modes(true);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("segalert %s\n", SEGALERT_VERSION);
        return 0;
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "segalert: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
