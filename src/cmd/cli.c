/*
 * cli.c - option handling shared by the subcommands (see cli.h).
 */
#include "cmd/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/log.h"

void cli_apply_logging(const struct cli_common *common, const char *cfg_level,
                       const char *cfg_format)
{
    int lvl = cfg_level ? log_level_parse(cfg_level) : LOG_INFO;
    if (lvl < 0)
        lvl = LOG_INFO;
    if (common->verbose > 0)
        lvl = LOG_DEBUG;
    log_set_level((enum log_level)lvl);
    const char *fmt = common->log_format ? common->log_format : cfg_format;
    log_set_format(streq(fmt, "json") ? LOG_FMT_JSON : LOG_FMT_TEXT);
}

const char *cli_config_path(const struct cli_common *common)
{
    if (common->config_path)
        return common->config_path;
    const char *path = config_default_path();
    if (access(path, F_OK) == 0)
        return path;
    fprintf(stderr, "segalert: no configuration file: looked for "
            "./segalert.conf and /etc/segalert/segalert.conf; name one with "
            "-c FILE (an example: examples/segalert.conf, or "
            "share/segalert/examples/ where segalert is installed)\n");
    return NULL;
}

struct config *cli_load_config_optional(const struct cli_common *common)
{
    if (common->config_path || access(config_default_path(), F_OK) == 0)
        return cli_load_config(common);
    struct config *cfg = config_new_defaults();
    cli_apply_logging(common, cfg->log_level, cfg->log_format);
    return cfg;
}

struct config *cli_load_config(const struct cli_common *common)
{
    const char *path = cli_config_path(common);
    if (!path)
        return NULL;
    struct diag_list diags = DIAG_LIST_INIT;
    struct config *cfg = config_load(path, &diags);
    diag_print(&diags, stderr);
    if (!cfg || diags.nerrors > 0) {
        if (cfg)
            fprintf(stderr, "segalert: %zu error%s in the configuration\n",
                    diags.nerrors, diags.nerrors == 1 ? "" : "s");
        config_free(cfg);
        diag_list_free(&diags);
        return NULL;
    }
    diag_list_free(&diags);
    cli_apply_logging(common, cfg->log_level, cfg->log_format);
    return cfg;
}

int cli_set_true(void *ud, const char *arg)
{
    (void)arg;
    *(bool *)ud = true;
    return 0;
}

int cli_parse(int argc, char **argv, struct cli_common *common,
              const struct cli_flag *flags, size_t nflags, void *ud,
              void (*usage)(FILE *out), int min_args, int max_args,
              int *first_arg)
{
    enum { OPT_LOG_FORMAT = 1000, OPT_FLAG = 1001 };
    struct option *opts = xcalloc(nflags + 5, sizeof(*opts));
    size_t n = 0;
    opts[n++] = (struct option){ "config", required_argument, NULL, 'c' };
    opts[n++] = (struct option){ "verbose", no_argument, NULL, 'v' };
    opts[n++] = (struct option){ "log-format", required_argument, NULL, OPT_LOG_FORMAT };
    opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
    for (size_t i = 0; i < nflags; i++)
        opts[n++] = (struct option){ flags[i].name,
                                     flags[i].has_arg ? required_argument : no_argument,
                                     NULL, OPT_FLAG + (int)i };
    int rc = -1, ch;
    optind = 1;
    while (rc < 0 && (ch = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': common->config_path = optarg; break;
        case 'v': common->verbose++; break;
        case OPT_LOG_FORMAT:
            if (!streq(optarg, "text") && !streq(optarg, "json")) {
                fprintf(stderr, "%s: --log-format must be text or json\n", argv[0]);
                rc = 2;
            }
            common->log_format = optarg;
            break;
        case 'h': usage(stdout); rc = 0; break;
        default:
            if (ch >= OPT_FLAG && (size_t)(ch - OPT_FLAG) < nflags) {
                if (flags[ch - OPT_FLAG].set(ud, optarg) != 0)
                    rc = 2;
            } else {
                usage(stderr);
                rc = 2;
            }
        }
    }
    free(opts);
    if (rc >= 0)
        return rc;
    int nargs = argc - optind;
    if (nargs < min_args || nargs > max_args) {
        if (nargs > max_args)
            fprintf(stderr, "segalert %s: unexpected argument '%s'\n", argv[0],
                    argv[optind + max_args]);
        usage(stderr);
        return 2;
    }
    if (first_arg)
        *first_arg = optind;
    return -1;
}
