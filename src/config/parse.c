/*
 * parse.c - see parse.h.
 */
#include "config/parse.h"

#include <confuse.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

struct parse_opts {
    cfg_opt_t *root;
    cfg_opt_t *sub[SCHEMA_MAX_SECS];
    size_t nsub;
};

/* The report of the parse running on this thread, if any. */
static _Thread_local struct parse_report *parsing;

static void confuse_error(cfg_t *c, const char *fmt, va_list ap)
{
    if (!parsing)
        return;
    parsing->failed = true;
    if (!parsing->diags)
        return;
    struct strbuf sb = STRBUF_INIT;
    if (c && c->name && c->title)
        strbuf_addf(&sb, "%s \"%s\": ", c->name, c->title);
    else if (c && c->name && strcmp(c->name, "root") != 0)
        strbuf_addf(&sb, "%s: ", c->name);
    strbuf_vaddf(&sb, fmt, ap);
    int line = c ? c->line : 0;
    diag_error(parsing->diags, parsing->file, line, 0, "%s",
               strbuf_str(&sb));
    if (!parsing->syntax_line)
        parsing->syntax_line = line > 0 ? line : 1;
    strbuf_free(&sb);
}

/* spec's options, then the sections secs, then a catch-all for unknown
 * options. */
static cfg_opt_t *build_opts(const struct opt_spec *spec,
                             const cfg_opt_t *secs, size_t nsecs)
{
    size_t n = 0;
    while (spec[n].name)
        n++;
    cfg_opt_t *o = xcalloc(n + nsecs + 2, sizeof(*o));
    for (size_t i = 0; i < n; i++) {
        if (spec[i].kind == OPT_LIST)
            o[i] = (cfg_opt_t)CFG_STR_LIST(spec[i].name, NULL, CFGF_NODEFAULT);
        else
            o[i] = (cfg_opt_t)CFG_STR(spec[i].name, NULL, CFGF_NODEFAULT);
    }
    for (size_t i = 0; i < nsecs; i++)
        o[n + i] = secs[i];
    o[n + nsecs] = (cfg_opt_t)CFG_STR_LIST("__unknown", NULL, CFGF_NODEFAULT);
    o[n + nsecs + 1] = (cfg_opt_t)CFG_END();
    return o;
}

struct parse_opts *parse_opts_new(const struct file_schema *fs)
{
    struct parse_opts *po = xcalloc(1, sizeof(*po));
    cfg_opt_t secs[SCHEMA_MAX_SECS];
    po->nsub = fs->nsecs;
    for (size_t i = 0; i < fs->nsecs; i++) {
        const struct sec_spec *ss = fs->secs[i];
        po->sub[i] = build_opts(ss->opts, NULL, 0);
        int flags = ss->titled ? CFGF_MULTI | CFGF_TITLE : CFGF_NONE;
        secs[i] = (cfg_opt_t)CFG_SEC(ss->name, po->sub[i], flags);
    }
    /* build_opts copies secs (by value) into the root array */
    po->root = build_opts(fs->root_opts, secs, fs->nsecs);
    return po;
}

void parse_opts_free(struct parse_opts *po)
{
    if (!po)
        return;
    for (size_t i = 0; i < po->nsub; i++)
        free(po->sub[i]);
    free(po->root);
    free(po);
}

struct cfg_t *parse_buf(const struct parse_opts *po, const char *text,
                        struct parse_report *rep)
{
    cfg_t *c = cfg_init(po->root, CFGF_IGNORE_UNKNOWN);
    cfg_set_error_function(c, confuse_error);
    parsing = rep;
    int rc = cfg_parse_buf(c, text);
    parsing = NULL;
    if (rc != CFG_SUCCESS) {
        if (rc == CFG_FILE_ERROR && rep->diags) /* not expected from a buffer */
            diag_error(rep->diags, rep->file, 0, 0, "cannot parse");
        cfg_free(c);
        c = NULL;
    }
    return c;
}
