/*
 * cmd_check.c - `segalert check [-c FILE]`: load the configuration, every
 * rule file, every expression and template, report every problem as
 * FILE:LINE[:COL]: message, exit 2 on any error, else print a one-line
 * summary and exit 0.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cli.h"
#include "core/log.h"
#include "engine/rules.h"
#include "engine/template.h"

static void check_usage(FILE *out)
{
    fprintf(out,
            "usage: segalert check [-c FILE] [--syntax-only]\n"
            "\n"
            "Validate the configuration, the rule files it names, every rule\n"
            "expression and every template.  Prints every problem as\n"
            "FILE:LINE[:COL]: message and exits 2, or prints a summary and exits 0.\n"
            "\n"
            "  --syntax-only  do not read secrets (*_env variables, *_file files):\n"
            "                 for CI, where the production secrets are not set;\n"
            "                 everything else is checked as usual\n");
}

/* Receiver templates may use builtins, metric names and any label. */
static bool any_name(void *ud, const char *name)
{
    (void)ud;
    (void)name;
    return true;
}

static void check_receiver_templates(const struct config *cfg,
                                     struct diag_list *diags)
{
    for (size_t i = 0; i < cfg->nreceivers; i++) {
        const struct receiver_cfg *r = &cfg->receivers[i];
        const char *texts[2] = { r->subject, r->body };
        const int lines[2] = { r->subject_line, r->body_line };
        const int cols[2] = { r->subject_col, r->body_col };
        const char *what[2] = { "subject", "body" };
        for (int k = 0; k < 2; k++) {
            if (!texts[k])
                continue;
            struct template_error err;
            struct template *t = template_compile(texts[k], any_name, NULL, &err);
            if (!t)
                diag_error(diags, r->loc.file, lines[k] ? lines[k] : r->loc.line,
                           lines[k] && cols[k] ? cols[k] + err.col - 1 : 0,
                           "receiver \"%s\": %s: %s", r->name, what[k], err.msg);
            template_free(t);
        }
    }
}

int cmd_check(int argc, char **argv)
{
    struct cli_common common = { 0 };
    bool syntax_only = false;
    const struct cli_flag flags[] = {
        { "syntax-only", false, cli_set_true },
    };
    int prc = cli_parse(argc, argv, &common, flags, 1, &syntax_only,
                        check_usage, 0, 0, NULL);
    if (prc >= 0)
        return prc;
    const char *path = cli_config_path(&common);
    if (!path)
        return 2;
    if (syntax_only)
        config_set_secrets_optional(true);
    struct diag_list diags = DIAG_LIST_INIT;
    struct config *cfg = config_load(path, &diags);
    struct ruleset *rs = NULL;
    if (cfg) {
        config_require_rules(cfg, &diags);
        rs = ruleset_compile(cfg, &diags);
        check_receiver_templates(cfg, &diags);
    }
    diag_print(&diags, stderr);
    int rc = 0;
    if (!cfg || diags.nerrors > 0) {
        fprintf(stderr, "%s: %zu error%s\n", path, diags.nerrors,
                diags.nerrors == 1 ? "" : "s");
        rc = 2;
    } else {
        printf("%s: ok: %zu workspace%s, %zu rule%s in %zu file%s, %zu "
               "receiver%s, %zu route%s\n", path,
               cfg->nworkspaces, cfg->nworkspaces == 1 ? "" : "s",
               rs->n, rs->n == 1 ? "" : "s", cfg->files.n, cfg->files.n == 1 ? "" : "s",
               cfg->nreceivers, cfg->nreceivers == 1 ? "" : "s",
               cfg->nroutes, cfg->nroutes == 1 ? "" : "s");
    }
    ruleset_free(rs);
    config_free(cfg);
    diag_list_free(&diags);
    return rc;
}
