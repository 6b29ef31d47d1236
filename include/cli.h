/*
 * cli.h - subcommands of the segalert binary (one cmd_*.c file each) and
 * the option handling they share.
 *
 * Each command gets argc/argv starting at its own name and returns the
 * process exit code: 0 ok, 1 runtime failure, 2 usage or configuration
 * error (SPEC §1).
 */
#ifndef SEGALERT_CLI_H
#define SEGALERT_CLI_H

#include "config.h"

/* Options every command accepts (parsed by cli_common_option). */
struct cli_common {
    const char *config_path;        /* -c/--config; NULL = default */
    int verbose;                    /* -v count */
    const char *log_format;         /* --log-format text|json */
};

int cmd_fetch(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_notify_test(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_silence(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_test(int argc, char **argv);

/*
 * Load and validate the configuration for a command: prints every
 * diagnostic to stderr.  Returns the config, or NULL when there were
 * errors (the caller exits 2).  Applies log level/format from the config
 * unless overridden by the common flags.
 */
struct config *cli_load_config(const struct cli_common *common);

/* Apply -v / --log-format to the logger. */
void cli_apply_logging(const struct cli_common *common, const char *cfg_level,
                       const char *cfg_format);

#endif
