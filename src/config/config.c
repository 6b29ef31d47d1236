/*
 * config.c - loading a configuration (see config.h): which files are read
 * and in which order, how each is scanned, checked and parsed, which
 * sections are loaded, the checks that span sections and files, and the
 * order in which diagnostics come out; also freeing a config and the
 * lookups by name.
 *
 * How a file is loaded:
 *
 *   1. The text is read and scanned (scan.h), which records where every
 *      section and option was written and reports structural mistakes:
 *      sections left open, unknown options (with did-you-mean), unknown
 *      or misplaced sections, duplicates, lists given to single-value
 *      options.  Constructs libconfuse would abort on are blanked out of
 *      the text, line breaks kept, so that libconfuse parses the rest and
 *      every other mistake is reported too.
 *   2. libconfuse parses the text (parse.h).  A real syntax error ends the
 *      file: it is reported once, as "FILE:LINE: message", and only what
 *      the scanner found before that line is kept.  libconfuse is
 *      quadratic in the number of titled sections, so rule sections are
 *      parsed one at a time and the rest of the file without them
 *      (parse_split); on any error the whole text is parsed again in one
 *      piece, so errors are libconfuse's own, exactly as before.
 *   3. Sections are converted into struct config one kind at a time by the
 *      section loaders (sections.h); cross references (routes to
 *      receivers, duplicate rules across files) are checked last.
 */
#include "config/config.h"

#include <confuse.h>
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/parse.h"
#include "config/receiver_type.h"
#include "config/scan.h"
#include "config/schema.h"
#include "config/section.h"
#include "config/sections.h"
#include "core/index.h"
#include "core/util.h"

#define CONFIG_MAX_BYTES (16u << 20)    /* a config or rule file */

/* ---- loader state -------------------------------------------------------- */

struct loader {
    struct config *cfg;
    struct diag_list *diags;
    char *basedir;          /* directory of the main file, "" or ".../" */
    /* files already loaded, by identity, so a glob matching the main file
     * or the same file twice does not load it again */
    struct { dev_t dev; ino_t ino; } *seen;
    size_t nseen, seen_cap;
    /* cfg->rules[0, nrules_named) by name, for duplicates across files */
    struct index_map rule_names;
    size_t nrules_named;
};

/* A rule converted from its own section ahead of time (see parse_split),
 * with what converting it reported. */
struct staged_rule {
    struct rule_cfg rule;
    struct diag_list diags;
};

struct file_ctx {
    struct loader *ld;
    const struct file_schema *schema;
    struct scan sc;
    struct cfg_file src;    /* what its sections see (src.sc = &sc) */
    struct parse_report rep; /* libconfuse's errors */
    /* parse_split succeeded: the tree holds everything but the rules,
     * which are staged here in libconfuse's order */
    bool split;
    struct staged_rule *staged;
    size_t nstaged, staged_cap;
};

/* ---- freeing ------------------------------------------------------------- */

static void workspace_free(struct workspace_cfg *w)
{
    free(w->name);
    free(w->api_url);
    free(w->token);
    str_list_free(&w->sources);
    str_list_free(&w->exclude_sources);
    str_list_free(&w->destinations);
    kv_list_free(&w->labels);
}

static void receiver_free(struct receiver_cfg *r)
{
    free(r->name);
    if (r->priv && r->type && r->type->free_priv)
        r->type->free_priv(r->priv);
    else
        free(r->priv);
    free(r->url);
    kv_list_free(&r->headers);
    free(r->subject);
    free(r->body);
}

static void export_free(struct export_cfg *x)
{
    free(x->name);
    free(x->url);
    free(x->api_key);
    free(x->token);
    free(x->database);
    free(x->bucket);
    free(x->org);
    kv_list_free(&x->headers);
    free(x->prefix);
    kv_list_free(&x->tags);
    str_list_free(&x->workspaces);
}

static void route_free(struct route_cfg *r)
{
    free(r->name);
    kv_list_free(&r->match);
    free(r->receiver);
    str_list_free(&r->timing.group_by);
}

static void rule_free(struct rule_cfg *r)
{
    free(r->name);
    free(r->expr);
    free(r->warn);
    free(r->recover);
    free(r->severity);
    str_list_free(&r->sources);
    str_list_free(&r->destinations);
    str_list_free(&r->workspaces);
    kv_list_free(&r->labels);
    free(r->summary);
    free(r->description);
    free(r->runbook_url);
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    str_list_free(&cfg->files);
    free(cfg->state_dir);
    free(cfg->listen);
    free(cfg->log_level);
    free(cfg->log_format);
    free(cfg->admin_token);
    str_list_free(&cfg->allowed_hosts);
    free(cfg->external_url);
    str_list_free(&cfg->rule_files);
    for (size_t i = 0; i < cfg->nworkspaces; i++)
        workspace_free(&cfg->workspaces[i]);
    free(cfg->workspaces);
    str_list_free(&cfg->defaults.group_by);
    for (size_t i = 0; i < cfg->nreceivers; i++)
        receiver_free(&cfg->receivers[i]);
    free(cfg->receivers);
    for (size_t i = 0; i < cfg->nroutes; i++)
        route_free(&cfg->routes[i]);
    free(cfg->routes);
    for (size_t i = 0; i < cfg->nrules; i++)
        rule_free(&cfg->rules[i]);
    free(cfg->rules);
    for (size_t i = 0; i < cfg->nexports; i++)
        export_free(&cfg->exports[i]);
    free(cfg->exports);
    free(cfg);
}

/* ---- files --------------------------------------------------------------- */

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? xstrndup(path, (size_t)(slash - path) + 1) : xstrdup("");
}

/* Remember a file by identity; false when it was loaded already. */
static bool note_file(struct loader *ld, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return true;    /* reading it will report the problem */
    for (size_t i = 0; i < ld->nseen; i++)
        if (ld->seen[i].dev == st.st_dev && ld->seen[i].ino == st.st_ino)
            return false;
    XGROW(ld->seen, ld->nseen + 1, ld->seen_cap);
    ld->seen[ld->nseen].dev = st.st_dev;
    ld->seen[ld->nseen].ino = st.st_ino;
    ld->nseen++;
    return true;
}

static bool staged_name_match(const void *ctx, size_t idx, const void *key)
{
    const struct file_ctx *fc = ctx;
    return streq(fc->staged[idx].rule.name, key);
}

static void staged_free(struct file_ctx *fc)
{
    for (size_t i = 0; i < fc->nstaged; i++) {
        rule_free(&fc->staged[i].rule);
        diag_list_free(&fc->staged[i].diags);
    }
    free(fc->staged);
    fc->staged = NULL;
    fc->nstaged = fc->staged_cap = 0;
}

/*
 * libconfuse looks through the sections it has for one of the same title
 * each time it meets a titled section, so a file of 10,000 rules costs
 * 50 million comparisons.  Instead, parse the text with its rule sections
 * blanked (line breaks kept), then each rule section on its own (the
 * scanner knows where they are), and convert each rule into fc->staged as
 * libconfuse would have kept it: a title's first place, its last copy.
 *
 * Any libconfuse complaint, or anything unexpected, and this gives up
 * (NULL, nothing reported, nothing staged): the caller then parses the
 * whole text as before, so that errors, their lines and what is loaded
 * after them are exactly libconfuse's.  Converting a rule depends on
 * nothing else in the file; its diagnostics are kept with it until
 * load_rules_from, so they come out in the same order as before.
 */
static cfg_t *parse_split(struct file_ctx *fc, const char *text, size_t len)
{
    const struct scan *sc = &fc->sc;
    size_t nrules = 0;
    for (size_t i = 0; i < sc->nsecs; i++)
        nrules += scan_is_rule_sec(sc, i);
    /* libconfuse stops at a NUL byte; the scanner does not */
    if (nrules == 0 || strlen(text) != len)
        return NULL;

    struct diag_list *real = fc->src.diags;
    struct diag_list *real_rep = fc->rep.diags;
    struct index_map titles = INDEX_MAP_INIT;
    /* a chunk holds one rule section and nothing else: the rule file
     * schema is enough, and much cheaper for cfg_init to copy */
    struct parse_opts *po = parse_opts_new(fc->schema);
    struct parse_opts *rule_po = parse_opts_new(schema_rulefile());
    fc->rep.diags = NULL;       /* quiet: complaints are only noted */
    fc->rep.failed = false;

    char *rest = xstrndup(text, len);
    for (size_t i = 0; i < sc->nsecs; i++)
        if (scan_is_rule_sec(sc, i))
            scan_blank(rest, sc->secs[i].off, sc->secs[i].end);
    cfg_t *c = parse_buf(po, rest, &fc->rep);
    free(rest);
    if (!c || fc->rep.failed || cfg_size(c, "rule") != 0)
        goto fail;

    for (size_t i = 0; i < sc->nsecs; i++) {
        if (!scan_is_rule_sec(sc, i))
            continue;
        const struct scan_sec *ss = &sc->secs[i];
        char *chunk = xstrndup(text + ss->off, ss->end - ss->off);
        cfg_t *t = parse_buf(rule_po, chunk, &fc->rep);
        free(chunk);
        cfg_t *sec = NULL;
        if (t && !fc->rep.failed && cfg_size(t, "rule") == 1)
            sec = cfg_getnsec(t, "rule", 0);
        const char *title = sec ? cfg_title(sec) : NULL;
        if (!title) {
            if (t)
                cfg_free(t);
            goto fail;
        }
        uint64_t h = hash_str(title);
        size_t k = index_map_get(&titles, h, staged_name_match, fc, title);
        if (k == INDEX_NONE) {
            k = fc->nstaged++;
            XGROW(fc->staged, fc->nstaged, fc->staged_cap);
            memset(&fc->staged[k], 0, sizeof(fc->staged[k]));
            index_map_put(&titles, h, k);
        } else {
            /* a later copy replaces the earlier one, in its place */
            rule_free(&fc->staged[k].rule);
            diag_list_free(&fc->staged[k].diags);
        }
        fc->src.diags = &fc->staged[k].diags;
        sections_load_rule(&fc->src, sec, &fc->staged[k].rule);
        fc->src.diags = real;
        cfg_free(t);
    }
    fc->split = true;
    goto done;
fail:
    if (c)
        cfg_free(c);
    c = NULL;
    staged_free(fc);
done:
    fc->rep.diags = real_rep;
    index_map_free(&titles);
    parse_opts_free(po);
    parse_opts_free(rule_po);
    return c;
}

/* Scan, check and parse a file already read.  Returns the libconfuse tree
 * or NULL after a syntax error (reported).
 *
 * After a syntax error the scanner's view of the rest of the file is as
 * unreliable as the parser's (an unbalanced quote turns everything after
 * it inside out), so only its findings before that line are kept. */
static cfg_t *parse_file(struct file_ctx *fc, const char *path, char *text,
                         size_t len)
{
    struct loader *ld = fc->ld;
    struct config *cfg = ld->cfg;
    str_list_add(&cfg->files, path);
    const char *file = cfg->files.items[cfg->files.n - 1];
    fc->src = (struct cfg_file){ file, ld->basedir, &fc->sc, ld->diags };
    fc->rep = (struct parse_report){ file, ld->diags, 0, false };
    scan_text(&fc->sc, text, len);

    struct diag_list found = DIAG_LIST_INIT;
    scan_check(&fc->sc, fc->schema, file, &found, text);

    cfg_t *c = parse_split(fc, text, len);
    if (!c) {
        struct parse_opts *po = parse_opts_new(fc->schema);
        c = parse_buf(po, text, &fc->rep);
        parse_opts_free(po);
    }
    for (size_t i = 0; i < found.n; i++) {
        const struct diag *d = &found.items[i];
        if (!c && fc->rep.syntax_line && d->line >= fc->rep.syntax_line)
            continue;
        diag_add(ld->diags, d->severity, d->file, d->line, d->col, "%s",
                 d->msg);
    }
    diag_list_free(&found);
    return c;
}

/* ---- rules --------------------------------------------------------------- */

static bool rule_name_match(const void *ctx, size_t idx, const void *key)
{
    const struct config *cfg = ctx;
    return streq(cfg->rules[idx].name, key);
}

/* Move a converted rule into cfg->rules (which has room for it), or report
 * it as a duplicate and free it.  Within a file the scanner reports
 * duplicates; this catches them across files. */
static void add_rule(struct file_ctx *fc, struct rule_cfg *r)
{
    struct loader *ld = fc->ld;
    struct config *cfg = ld->cfg;
    /* index what is new, including rules loaded before this loader
     * (config_load_rule_file); the first of a name wins */
    for (; ld->nrules_named < cfg->nrules; ld->nrules_named++) {
        const char *name = cfg->rules[ld->nrules_named].name;
        uint64_t h = hash_str(name);
        if (index_map_get(&ld->rule_names, h, rule_name_match, cfg, name) ==
            INDEX_NONE)
            index_map_put(&ld->rule_names, h, ld->nrules_named);
    }
    size_t prev = index_map_get(&ld->rule_names, hash_str(r->name),
                                rule_name_match, cfg, r->name);
    if (prev != INDEX_NONE) {
        const struct rule_cfg *p = &cfg->rules[prev];
        diag_error(ld->diags, r->loc.file, r->loc.line, 0,
                   "duplicate rule \"%s\" (first defined at %s:%d)",
                   r->name, p->loc.file, p->loc.line);
        rule_free(r);
        return;
    }
    cfg->rules[cfg->nrules++] = *r;
}

static void load_rules_from(struct file_ctx *fc, cfg_t *root)
{
    struct config *cfg = fc->ld->cfg;
    if (fc->split) {
        /* converted by parse_split; report what that found now */
        if (fc->nstaged == 0)
            return;
        cfg->rules = xrealloc(cfg->rules,
                              (cfg->nrules + fc->nstaged) *
                              sizeof(*cfg->rules));
        for (size_t i = 0; i < fc->nstaged; i++) {
            struct staged_rule *st = &fc->staged[i];
            for (size_t k = 0; k < st->diags.n; k++) {
                const struct diag *d = &st->diags.items[k];
                diag_add(fc->ld->diags, d->severity, d->file, d->line, d->col,
                         "%s", d->msg);
            }
            diag_list_free(&st->diags);
            add_rule(fc, &st->rule);
        }
        free(fc->staged);
        fc->staged = NULL;
        fc->nstaged = fc->staged_cap = 0;
        return;
    }
    unsigned n = cfg_size(root, "rule");
    if (n == 0)
        return;
    cfg->rules = xrealloc(cfg->rules, (cfg->nrules + n) * sizeof(*cfg->rules));
    for (unsigned i = 0; i < n; i++) {
        struct rule_cfg r;
        sections_load_rule(&fc->src, cfg_getnsec(root, "rule", i), &r);
        add_rule(fc, &r);
    }
}

static void load_rule_file(struct loader *ld, const char *path)
{
    size_t len;
    char *text = read_file(path, CONFIG_MAX_BYTES, &len);
    if (!text) {
        diag_error(ld->diags, path, 0, 0, "cannot read: %s", strerror(errno));
        return;
    }
    struct file_ctx fc = { .ld = ld, .schema = schema_rulefile() };
    cfg_t *c = parse_file(&fc, path, text, len);
    free(text);
    if (c) {
        load_rules_from(&fc, c);
        cfg_free(c);
    }
    staged_free(&fc);
    scan_free(&fc.sc);
}

/* The files matched by rule_files (written at line of the main file). */
static void load_rule_files(struct loader *ld, const struct cfg_file *main,
                            int line)
{
    const char *main_file = main->name;
    const struct str_list *pats = &ld->cfg->rule_files;
    for (size_t i = 0; i < pats->n; i++) {
        char *pat = cfg_file_resolve_path(main, pats->items[i]);
        glob_t g;
        int rc = glob(pat, 0, NULL, &g);
        if (rc == GLOB_NOMATCH)
            /* An error, not a warning: a daemon without its rules runs
             * green and watches nothing. */
            diag_error(ld->diags, main_file, line, 0,
                       "rule_files: '%s' matches no file (looked for '%s'; "
                       "relative paths are relative to this file)",
                       pats->items[i], pat);
        else if (rc != 0)
            diag_error(ld->diags, main_file, line, 0,
                       "rule_files: cannot expand '%s'", pats->items[i]);
        else
            for (size_t k = 0; k < g.gl_pathc; k++)
                if (note_file(ld, g.gl_pathv[k]))
                    load_rule_file(ld, g.gl_pathv[k]);
        if (rc == 0)
            globfree(&g);
        free(pat);
    }
}

/* ---- the main file ------------------------------------------------------- */

static void load_main_sections(struct file_ctx *fc, cfg_t *c)
{
    struct config *cfg = fc->ld->cfg;
    const struct cfg_file *f = &fc->src;
    unsigned n;

    n = cfg_size(c, "workspace");
    cfg->workspaces = xcalloc(n, sizeof(*cfg->workspaces));
    for (unsigned i = 0; i < n; i++)
        sections_load_workspace(f, cfg_getnsec(c, "workspace", i),
                                &cfg->workspaces[cfg->nworkspaces++]);

    cfg_t *d = cfg_getsec(c, "defaults");
    if (d)
        sections_load_defaults(f, d, &cfg->defaults);

    n = cfg_size(c, "receiver");
    cfg->receivers = xcalloc(n, sizeof(*cfg->receivers));
    for (unsigned i = 0; i < n; i++)
        sections_load_receiver(f, cfg_getnsec(c, "receiver", i),
                               &cfg->receivers[cfg->nreceivers++]);

    n = cfg_size(c, "route");
    cfg->routes = xcalloc(n, sizeof(*cfg->routes));
    for (unsigned i = 0; i < n; i++)
        sections_load_route(f, cfg_getnsec(c, "route", i), cfg,
                            &cfg->routes[cfg->nroutes++]);

    n = cfg_size(c, "export");
    cfg->exports = xcalloc(n ? n : 1, sizeof(*cfg->exports));
    for (unsigned i = 0; i < n; i++)
        sections_load_export(f, cfg_getnsec(c, "export", i),
                             &cfg->exports[cfg->nexports++]);

    load_rules_from(fc, c);
}

/* Severities a rule's alerts can carry: its own, the warn tier's, and a
 * severity label it sets. */
static bool rule_may_have_severity(const struct rule_cfg *r, const char *glob)
{
    const char *label = kv_list_get(&r->labels, "severity");
    return glob_match(glob, r->severity ? r->severity : "critical") ||
           (r->warn && glob_match(glob, "warning")) ||
           (label && glob_match(glob, label));
}

/*
 * A warning for a route that no rule's alerts can match: a 'rule' matcher
 * that names no rule, a 'severity' matcher no rule produces (a typo such
 * as severity=critcal), or both together that no one rule satisfies.
 * Other labels come from series and workspaces too, so they are not
 * judged here.
 */
static void check_route(struct loader *ld, const struct route_cfg *rt)
{
    const struct config *cfg = ld->cfg;
    const char *rule_glob = kv_list_get(&rt->match, "rule");
    const char *sev_glob = kv_list_get(&rt->match, "severity");
    if ((!rule_glob && !sev_glob) || cfg->nrules == 0)
        return;
    bool rule_hit = false, sev_hit = false;
    for (size_t i = 0; i < cfg->nrules; i++) {
        const struct rule_cfg *r = &cfg->rules[i];
        bool name_ok = !rule_glob || glob_match(rule_glob, r->name);
        bool sev_ok = !sev_glob || rule_may_have_severity(r, sev_glob);
        if (name_ok && sev_ok)
            return;
        rule_hit |= rule_glob && name_ok;
        sev_hit |= sev_glob && sev_ok;
    }
    if (rule_glob && !rule_hit) {
        const char **names = xcalloc(cfg->nrules, sizeof(*names));
        for (size_t i = 0; i < cfg->nrules; i++)
            names[i] = cfg->rules[i].name;
        const char *dym = schema_closest(rule_glob, names, cfg->nrules);
        diag_warning(ld->diags, rt->loc.file, rt->loc.line, 0,
                     "route \"%s\": match 'rule=%s' names no rule: the "
                     "route can never match%s%s%s", rt->name, rule_glob,
                     dym ? " (did you mean '" : "", dym ? dym : "",
                     dym ? "'?)" : "");
        free(names);
    } else if (sev_glob && !sev_hit) {
        static const char *const sevs[] = { "critical", "error", "warning",
                                            "info" };
        bool valid = false;
        for (size_t i = 0; i < ARRAY_SIZE(sevs) && !valid; i++)
            valid = glob_match(sev_glob, sevs[i]);
        const char *dym = valid ? NULL
                                : schema_closest(sev_glob, sevs, ARRAY_SIZE(sevs));
        if (valid)
            diag_warning(ld->diags, rt->loc.file, rt->loc.line, 0,
                         "route \"%s\": no rule has severity '%s': the "
                         "route can never match", rt->name, sev_glob);
        else
            diag_warning(ld->diags, rt->loc.file, rt->loc.line, 0,
                         "route \"%s\": match 'severity=%s' is not a "
                         "severity (critical, error, warning or info): the "
                         "route can never match%s%s%s", rt->name, sev_glob,
                         dym ? " (did you mean '" : "", dym ? dym : "",
                         dym ? "'?)" : "");
    } else {
        diag_warning(ld->diags, rt->loc.file, rt->loc.line, 0,
                     "route \"%s\": no rule matching 'rule=%s' has "
                     "severity '%s': the route can never match", rt->name,
                     rule_glob, sev_glob);
    }
}

/* Whole-config checks that need every file loaded. */
static void check_config(struct loader *ld, const char *main_file)
{
    const struct config *cfg = ld->cfg;
    if (cfg->nworkspaces == 0)
        diag_warning(ld->diags, main_file, 0, 0,
                     "no workspace is configured: nothing will be polled");
    if (cfg->nreceivers > 0 && cfg->nroutes == 0)
        diag_warning(ld->diags, main_file, 0, 0,
                     "no route is configured: alerts will not be sent to "
                     "any receiver");
    for (size_t i = 0; i < cfg->nroutes; i++)
        check_route(ld, &cfg->routes[i]);
    if (cfg->nworkspaces == 0)
        return;
    for (size_t i = 0; i < cfg->nexports; i++) {
        const struct export_cfg *x = &cfg->exports[i];
        for (size_t k = 0; k < x->workspaces.n; k++) {
            bool hit = false;
            for (size_t w = 0; w < cfg->nworkspaces && !hit; w++)
                hit = glob_match(x->workspaces.items[k],
                                 cfg->workspaces[w].name);
            if (!hit)
                diag_warning(ld->diags, x->loc.file, x->loc.line, 0,
                             "export \"%s\": workspaces pattern '%s' "
                             "matches no workspace", x->name,
                             x->workspaces.items[k]);
        }
    }
    for (size_t i = 0; i < cfg->nrules; i++) {
        const struct rule_cfg *r = &cfg->rules[i];
        for (size_t k = 0; k < r->workspaces.n; k++) {
            bool hit = false;
            for (size_t w = 0; w < cfg->nworkspaces && !hit; w++)
                hit = glob_match(r->workspaces.items[k],
                                 cfg->workspaces[w].name);
            if (!hit)
                diag_warning(ld->diags, r->loc.file, r->loc.line, 0,
                             "rule \"%s\": workspaces pattern '%s' matches "
                             "no workspace", r->name, r->workspaces.items[k]);
        }
    }
}

/* Diagnostics come out in the order the checks ran; sort the ones this
 * load added by file (in load order) and line, which is how people read
 * them.  Ties keep their order. */
struct diag_key {
    size_t rank;
    int line;
    size_t idx;
};

static int diag_key_cmp(const void *a, const void *b)
{
    const struct diag_key *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void sort_diags(struct diag_list *dl, size_t from,
                       const struct str_list *files)
{
    size_t n = dl->n - from;
    if (n < 2)
        return;
    struct diag_key *keys = xcalloc(n, sizeof(*keys));
    for (size_t i = 0; i < n; i++) {
        const struct diag *d = &dl->items[from + i];
        keys[i].rank = files->n;
        for (size_t k = 0; k < files->n; k++)
            if (streq(files->items[k], d->file)) {
                keys[i].rank = k;
                break;
            }
        keys[i].line = d->line;
        keys[i].idx = i;
    }
    qsort(keys, n, sizeof(*keys), diag_key_cmp);
    struct diag *sorted = xcalloc(n, sizeof(*sorted));
    for (size_t i = 0; i < n; i++)
        sorted[i] = dl->items[from + keys[i].idx];
    memcpy(&dl->items[from], sorted, n * sizeof(*sorted));
    free(sorted);
    free(keys);
}

static void loader_free(struct loader *ld)
{
    free(ld->basedir);
    free(ld->seen);
    index_map_free(&ld->rule_names);
}

struct config *config_load(const char *path, struct diag_list *diags)
{
    size_t first_diag = diags->n;
    size_t len;
    char *text = read_file(path, CONFIG_MAX_BYTES, &len);
    if (!text) {
        diag_error(diags, path, 0, 0, "cannot read: %s", strerror(errno));
        return NULL;
    }
    struct config *cfg = config_new_defaults();
    cfg->path = xstrdup(path);
    struct loader ld = { .cfg = cfg, .diags = diags, .basedir = dir_of(path) };
    struct file_ctx fc = { .ld = &ld, .schema = schema_main() };
    note_file(&ld, path);

    cfg_t *c = parse_file(&fc, path, text, len);
    free(text);
    if (c) {
        struct cfg_section *root = section_open(&fc.src, c, NULL);
        sections_load_globals(root, cfg);
        int rule_files_line = section_opt_line(root, "rule_files");
        section_close(root);
        load_main_sections(&fc, c);
        cfg_free(c);
        load_rule_files(&ld, &fc.src, rule_files_line);
        check_config(&ld, fc.src.name);
    }
    sort_diags(diags, first_diag, &cfg->files);
    staged_free(&fc);
    scan_free(&fc.sc);
    loader_free(&ld);
    return cfg;
}

int config_load_rule_file(struct config *cfg, const char *path,
                          struct diag_list *diags)
{
    size_t before = diags->nerrors, first_diag = diags->n;
    struct loader ld = { .cfg = cfg, .diags = diags, .basedir = dir_of(path) };
    load_rule_file(&ld, path);
    sort_diags(diags, first_diag, &cfg->files);
    loader_free(&ld);
    return diags->nerrors > before ? -1 : 0;
}

void config_require_rules(const struct config *cfg, struct diag_list *diags)
{
    if (cfg->nrules == 0)
        diag_error(diags, cfg->path, 0, 0,
                   "no rule is configured: segalert would watch nothing "
                   "(set rule_files, e.g. rule_files = "
                   "{\"/usr/local/share/segalert/rules/*.conf\"})");
}

/* ---- lookups ------------------------------------------------------------- */

const struct receiver_cfg *config_receiver(const struct config *cfg,
                                           const char *name)
{
    for (size_t i = 0; i < cfg->nreceivers; i++)
        if (streq(cfg->receivers[i].name, name))
            return &cfg->receivers[i];
    return NULL;
}

const struct export_cfg *config_export(const struct config *cfg,
                                       const char *name)
{
    for (size_t i = 0; i < cfg->nexports; i++)
        if (streq(cfg->exports[i].name, name))
            return &cfg->exports[i];
    return NULL;
}

const struct workspace_cfg *config_workspace(const struct config *cfg,
                                             const char *name)
{
    for (size_t i = 0; i < cfg->nworkspaces; i++)
        if (streq(cfg->workspaces[i].name, name))
            return &cfg->workspaces[i];
    return NULL;
}

const char *config_default_path(void)
{
    if (access("segalert.conf", F_OK) == 0)
        return "segalert.conf";
    return "/etc/segalert/segalert.conf";
}
