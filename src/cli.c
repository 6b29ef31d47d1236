/*
 * cli.c - option handling shared by the subcommands (see cli.h).
 */
#include "cli.h"

#include <stdio.h>

#include "log.h"

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

struct config *cli_load_config(const struct cli_common *common)
{
    const char *path = common->config_path ? common->config_path
                                           : config_default_path();
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
