/*
 * cli.h - subcommands of the segalert binary (one cmd_*.c file each) and
 * the option handling they share.
 *
 * Each command gets argc/argv starting at its own name and returns the
 * process exit code: 0 ok, 1 runtime failure, 2 usage or configuration
 * error (README.md "Commands").
 */
#ifndef SEGALERT_CLI_H
#define SEGALERT_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "config/config.h"

/* Options every command accepts (parsed by cli_common_option). */
struct cli_common {
    const char *config_path;        /* -c/--config; NULL = default */
    int verbose;                    /* -v count */
    const char *log_format;         /* --log-format text|json */
};

int cmd_fetch(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_notify_test(int argc, char **argv);
int cmd_export_test(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_silence(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_backtest(int argc, char **argv);

/* A command-specific long option for cli_parse(). */
struct cli_flag {
    const char *name;       /* without the leading "--" */
    bool has_arg;
    /* Store the option (arg is NULL without an argument); return 0, or -1
     * after printing why the value is invalid. */
    int (*set)(void *ud, const char *arg);
};

/* A cli_flag setter for a flag without an argument whose ud is a bool *:
 * sets it. */
int cli_set_true(void *ud, const char *arg);

/*
 * Parse a command's options: the common ones (-c/--config, -v/--verbose,
 * --log-format, -h/--help) and the command's flags, then check that the
 * number of positional arguments is within [min_args, max_args]; the first
 * one is argv[*first_arg].  Returns -1 when the command should go on, or
 * the exit code to return: 0 after printing help to stdout, 2 after a usage
 * error (message and usage on stderr).
 */
int cli_parse(int argc, char **argv, struct cli_common *common,
              const struct cli_flag *flags, size_t nflags, void *ud,
              void (*usage)(FILE *out), int min_args, int max_args,
              int *first_arg);

/* The configuration file to read: -c, else ./segalert.conf, else
 * /etc/segalert/segalert.conf.  NULL (after saying on stderr where it
 * looked and how to name one) when no -c was given and neither exists. */
const char *cli_config_path(const struct cli_common *common);

/*
 * Load and validate the configuration for a command: prints every
 * diagnostic to stderr.  Returns the config, or NULL when there were
 * errors (the caller exits 2).  Applies log level/format from the config
 * unless overridden by the common flags.
 */
struct config *cli_load_config(const struct cli_common *common);

/* cli_load_config(), except that when no -c was given and no default
 * configuration file exists, the defaults are used quietly: for commands
 * told a daemon's URL (--url), which need no configuration. */
struct config *cli_load_config_optional(const struct cli_common *common);

/* Apply -v / --log-format to the logger. */
void cli_apply_logging(const struct cli_common *common, const char *cfg_level,
                       const char *cfg_format);

#endif
