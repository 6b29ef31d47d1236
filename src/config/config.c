/*
 * config.c - see config.h.
 *
 * How a file is loaded:
 *
 *   1. The text is read and run through a small scanner that knows
 *      libconfuse's lexical rules (comments, both string quotes, lists,
 *      sections).  It records where every section and option was written
 *      (libconfuse keeps no per-option line), finds sections left open at
 *      end of file (libconfuse accepts them), unknown options, unknown or
 *      misplaced sections, duplicates and lists given to single-value
 *      options.
 *   2. Constructs libconfuse would abort on (unknown or nested sections,
 *      a list for a scalar) are reported and blanked out of the text, line
 *      breaks kept, so that libconfuse parses the rest and every other
 *      mistake is reported too.  Unknown options are ignored by libconfuse
 *      (CFGF_IGNORE_UNKNOWN) since the scanner reports them with a
 *      did-you-mean.  Duplicate titles are likewise reported by the
 *      scanner rather than with CFGF_NO_TITLE_DUPES, which would stop the
 *      parse; libconfuse then keeps the last copy.
 *   3. libconfuse parses the text.  Every option is declared as a string
 *      (or list of strings) and converted here, so a wrong type is one
 *      error naming section and option, not the end of parsing.  A real
 *      syntax error still ends the file: it is reported once, as
 *      "FILE:LINE: message".  libconfuse is quadratic in the number of
 *      titled sections, so rule sections are parsed one at a time and
 *      the rest of the file without them (parse_split); on any error the
 *      whole text is parsed again in one piece, so errors are libconfuse's
 *      own, exactly as before.
 *   4. Sections are converted into struct config one kind at a time;
 *      cross references (routes to receivers, duplicate rules across
 *      files) are checked last.
 */
#include "config/config.h"

#include <confuse.h>
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"

#define CONFIG_MAX_BYTES (16u << 20)    /* a config or rule file */
#define SECRET_MAX_BYTES (64u << 10)    /* a *_file secret */
#define MAX_DELIVERY_WINDOW_S (4 * 3600.0) /* MINUTE granularity limit */

/* ---- an index map ---------------------------------------------------------
 *
 * Open addressing (linear probing) from a key's hash to an index into an
 * array the caller owns.  The map keeps only hashes; the caller's match
 * function compares the key with the element, so one map serves sections
 * (name and title) and rules (name).  Loading 10,000 rules must not
 * compare every name with every other.
 */

#define IDX_NONE SIZE_MAX

struct idx_slot {
    uint64_t hash;
    size_t idx;         /* IDX_NONE = empty */
};

struct idx_map {
    struct idx_slot *slots;
    size_t cap, n;      /* cap is 0 or a power of two */
};

typedef bool (*idx_match_fn)(const void *ctx, size_t idx, const void *key);

static void idx_map_free(struct idx_map *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static size_t idx_map_get(const struct idx_map *m, uint64_t hash,
                          idx_match_fn match, const void *ctx,
                          const void *key)
{
    if (m->cap == 0)
        return IDX_NONE;
    for (size_t i = hash & (m->cap - 1); m->slots[i].idx != IDX_NONE;
         i = (i + 1) & (m->cap - 1))
        if (m->slots[i].hash == hash && match(ctx, m->slots[i].idx, key))
            return m->slots[i].idx;
    return IDX_NONE;
}

static void idx_map_insert(struct idx_slot *slots, size_t cap, uint64_t hash,
                           size_t idx)
{
    size_t i = hash & (cap - 1);
    while (slots[i].idx != IDX_NONE)
        i = (i + 1) & (cap - 1);
    slots[i].hash = hash;
    slots[i].idx = idx;
}

/* Add idx under hash; the key must not be in the map yet. */
static void idx_map_put(struct idx_map *m, uint64_t hash, size_t idx)
{
    if ((m->n + 1) * 4 > m->cap * 3) {     /* keep the load under 3/4 */
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct idx_slot *slots = xmalloc(cap * sizeof(*slots));
        for (size_t i = 0; i < cap; i++)
            slots[i].idx = IDX_NONE;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].idx != IDX_NONE)
                idx_map_insert(slots, cap, m->slots[i].hash, m->slots[i].idx);
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    idx_map_insert(m->slots, m->cap, hash, idx);
    m->n++;
}

/* ---- option schema ------------------------------------------------------- */

enum opt_kind { OPT_STR, OPT_LIST };

#define RT(x) (1u << RECV_##x)
#define RT_HTTP (RT(SLACK) | RT(PAGERDUTY) | RT(WEBHOOK) | RT(ALERTMANAGER))
#define RT_ALL ((1u << RECV__COUNT) - 1)

struct opt_spec {
    const char *name;
    enum opt_kind kind;
    unsigned types;     /* receivers: types that use the option, 0 = all */
};

static const struct opt_spec global_opts[] = {
    { "state_dir", OPT_STR, 0 },
    { "listen", OPT_STR, 0 },
    { "log_level", OPT_STR, 0 },
    { "log_format", OPT_STR, 0 },
    { "external_url", OPT_STR, 0 },
    { "admin_token", OPT_STR, 0 },
    { "admin_token_env", OPT_STR, 0 },
    { "admin_token_file", OPT_STR, 0 },
    { "rule_files", OPT_LIST, 0 },
    { NULL, OPT_STR, 0 }
};

static const struct opt_spec rulefile_root_opts[] = {
    { NULL, OPT_STR, 0 }
};

static const struct opt_spec workspace_opts[] = {
    { "api_url", OPT_STR, 0 },
    { "token", OPT_STR, 0 },
    { "token_env", OPT_STR, 0 },
    { "token_file", OPT_STR, 0 },
    { "sources", OPT_LIST, 0 },
    { "exclude_sources", OPT_LIST, 0 },
    { "destinations", OPT_LIST, 0 },
    { "poll_interval", OPT_STR, 0 },
    { "delivery_window", OPT_STR, 0 },
    { "volume_interval", OPT_STR, 0 },
    { "usage_interval", OPT_STR, 0 },
    { "request_budget", OPT_STR, 0 },
    { "max_concurrency", OPT_STR, 0 },
    { "latency_unit", OPT_STR, 0 },
    { "mtu_limit", OPT_STR, 0 },
    { "api_calls_limit", OPT_STR, 0 },
    { "labels", OPT_LIST, 0 },
    { "connect_timeout", OPT_STR, 0 },
    { "request_timeout", OPT_STR, 0 },
    { NULL, OPT_STR, 0 }
};

static const struct opt_spec defaults_opts[] = {
    { "group_by", OPT_LIST, 0 },
    { "group_wait", OPT_STR, 0 },
    { "group_interval", OPT_STR, 0 },
    { "repeat_interval", OPT_STR, 0 },
    { NULL, OPT_STR, 0 }
};

static const struct opt_spec receiver_opts[] = {
    { "type", OPT_STR, 0 },
    { "send_resolved", OPT_STR, 0 },
    { "subject", OPT_STR, 0 },
    { "body", OPT_STR, 0 },
    { "timeout", OPT_STR, RT_ALL & ~RT(LOG) },
    { "url", OPT_STR, RT_HTTP },
    { "url_env", OPT_STR, RT_HTTP },
    { "url_file", OPT_STR, RT_HTTP },
    { "urls", OPT_LIST, RT(ALERTMANAGER) },
    { "headers", OPT_LIST, RT(WEBHOOK) | RT(ALERTMANAGER) },
    { "routing_key", OPT_STR, RT(PAGERDUTY) },
    { "routing_key_env", OPT_STR, RT(PAGERDUTY) },
    { "routing_key_file", OPT_STR, RT(PAGERDUTY) },
    { "hmac_secret", OPT_STR, RT(WEBHOOK) },
    { "hmac_secret_env", OPT_STR, RT(WEBHOOK) },
    { "hmac_secret_file", OPT_STR, RT(WEBHOOK) },
    { "smtp_host", OPT_STR, RT(EMAIL) },
    { "smtp_port", OPT_STR, RT(EMAIL) },
    { "starttls", OPT_STR, RT(EMAIL) },
    { "tls_ca_file", OPT_STR, RT(EMAIL) },
    { "username", OPT_STR, RT(EMAIL) },
    { "password", OPT_STR, RT(EMAIL) },
    { "password_env", OPT_STR, RT(EMAIL) },
    { "password_file", OPT_STR, RT(EMAIL) },
    { "from", OPT_STR, RT(EMAIL) },
    { "to", OPT_LIST, RT(EMAIL) },
    { NULL, OPT_STR, 0 }
};

static const struct opt_spec route_opts[] = {
    { "match", OPT_LIST, 0 },
    { "receiver", OPT_STR, 0 },
    { "continue", OPT_STR, 0 },
    { "group_by", OPT_LIST, 0 },
    { "group_wait", OPT_STR, 0 },
    { "group_interval", OPT_STR, 0 },
    { "repeat_interval", OPT_STR, 0 },
    { NULL, OPT_STR, 0 }
};

static const struct opt_spec rule_opts[] = {
    { "expr", OPT_STR, 0 },
    { "warn", OPT_STR, 0 },
    { "recover", OPT_STR, 0 },
    { "for", OPT_STR, 0 },
    { "keep_firing_for", OPT_STR, 0 },
    { "no_data", OPT_STR, 0 },
    { "no_data_after", OPT_STR, 0 },
    { "flap_detection", OPT_STR, 0 },
    { "severity", OPT_STR, 0 },
    { "sources", OPT_LIST, 0 },
    { "destinations", OPT_LIST, 0 },
    { "workspaces", OPT_LIST, 0 },
    { "labels", OPT_LIST, 0 },
    { "summary", OPT_STR, 0 },
    { "description", OPT_STR, 0 },
    { "runbook_url", OPT_STR, 0 },
    { NULL, OPT_STR, 0 }
};

struct sec_spec {
    const char *name;
    const struct opt_spec *opts;
    bool titled;        /* titled sections may appear many times */
};

static const struct sec_spec sec_workspace = {
    "workspace", workspace_opts, true
};
static const struct sec_spec sec_defaults = {
    "defaults", defaults_opts, false
};
static const struct sec_spec sec_receiver = { "receiver", receiver_opts, true };
static const struct sec_spec sec_route = { "route", route_opts, true };
static const struct sec_spec sec_rule = { "rule", rule_opts, true };

/* What a kind of file may hold at top level. */
struct file_schema {
    const struct opt_spec *root_opts;
    const struct sec_spec *const *secs;
    size_t nsecs;
    bool rule_file;
};

static const struct sec_spec *const main_secs[] = {
    &sec_workspace, &sec_defaults, &sec_receiver, &sec_route, &sec_rule
};
static const struct sec_spec *const rulefile_secs[] = { &sec_rule };

static const struct file_schema main_schema = {
    global_opts, main_secs, ARRAY_SIZE(main_secs), false
};
static const struct file_schema rulefile_schema = {
    rulefile_root_opts, rulefile_secs, ARRAY_SIZE(rulefile_secs), true
};

static const struct opt_spec *find_opt(const struct opt_spec *opts,
                                       const char *name)
{
    for (size_t i = 0; opts[i].name; i++)
        if (strcmp(opts[i].name, name) == 0)
            return &opts[i];
    return NULL;
}

static const struct sec_spec *find_sec(const struct file_schema *fs,
                                       const char *name)
{
    for (size_t i = 0; i < fs->nsecs; i++)
        if (strcmp(fs->secs[i]->name, name) == 0)
            return fs->secs[i];
    return NULL;
}

/* The closest of cands to word, for "did you mean", or NULL. */
static const char *closest(const char *word, const char *const *cands,
                           size_t n)
{
    size_t len = strlen(word);
    int cap = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    const char *best = NULL;
    int best_d = cap + 1;
    for (size_t i = 0; i < n; i++) {
        if (!cands[i])
            continue;
        int d = edit_distance(word, cands[i], cap);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    return best;
}

static const char *closest_opt(const char *word, const struct opt_spec *opts)
{
    const char *cands[64];
    size_t n = 0;
    for (size_t i = 0; opts[i].name && n < ARRAY_SIZE(cands); i++)
        cands[n++] = opts[i].name;
    return closest(word, cands, n);
}

/* ---- scanner -------------------------------------------------------------
 *
 * Follows libconfuse's lexer closely enough to know where each section
 * and option starts: '#', '//' and C comments, "..." and '...' strings
 * with backslash escapes, bare words, { } ( ) , = +=.
 */

enum tok_kind {
    TK_EOF, TK_WORD, TK_STR, TK_LBRACE, TK_RBRACE, TK_LPAREN, TK_RPAREN,
    TK_COMMA, TK_EQ, TK_PLUSEQ, TK_OTHER
};

struct token {
    enum tok_kind kind;
    size_t off, end;    /* bytes of the token, quotes included */
    int line, col;      /* where it starts, 1-based */
};

struct lexer {
    const char *s;
    size_t len, pos;
    int line;
    size_t bol;         /* offset where the current line begins */
};

static char lex_at(const struct lexer *lx, size_t i)
{
    return i < lx->len ? lx->s[i] : '\0';
}

static void lex_newline(struct lexer *lx)
{
    lx->line++;
    lx->bol = lx->pos + 1;
}

static void lex_skip_space(struct lexer *lx)
{
    while (lx->pos < lx->len) {
        char c = lx->s[lx->pos];
        char d = lex_at(lx, lx->pos + 1);
        if (c == '\n') {
            lex_newline(lx);
            lx->pos++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' ||
                   c == '\v') {
            lx->pos++;
        } else if (c == '#' || (c == '/' && d == '/')) {
            while (lx->pos < lx->len && lx->s[lx->pos] != '\n')
                lx->pos++;
        } else if (c == '/' && d == '*') {
            lx->pos += 2;
            while (lx->pos < lx->len &&
                   !(lx->s[lx->pos] == '*' && lex_at(lx, lx->pos + 1) == '/')) {
                if (lx->s[lx->pos] == '\n')
                    lex_newline(lx);
                lx->pos++;
            }
            lx->pos = lx->pos + 2 < lx->len ? lx->pos + 2 : lx->len;
        } else {
            break;
        }
    }
}

static bool is_word_char(const struct lexer *lx, size_t i)
{
    char c = lx->s[i];
    if (c == '\0' || strchr(" \t\r\n\f\v{}(),=\"'#", c))
        return false;
    if (c == '/' && lex_at(lx, i + 1) == '*')
        return false;
    if (c == '+' && lex_at(lx, i + 1) == '=')
        return false;
    return true;
}

static struct token lex_next(struct lexer *lx)
{
    lex_skip_space(lx);
    struct token t;
    t.kind = TK_EOF;
    t.off = t.end = lx->pos;
    t.line = lx->line;
    t.col = (int)(lx->pos - lx->bol) + 1;
    if (lx->pos >= lx->len)
        return t;
    char c = lx->s[lx->pos];
    switch (c) {
    case '{': t.kind = TK_LBRACE; lx->pos++; break;
    case '}': t.kind = TK_RBRACE; lx->pos++; break;
    case '(': t.kind = TK_LPAREN; lx->pos++; break;
    case ')': t.kind = TK_RPAREN; lx->pos++; break;
    case ',': t.kind = TK_COMMA; lx->pos++; break;
    case '=': t.kind = TK_EQ; lx->pos++; break;
    case '"':
    case '\'':
        t.kind = TK_STR;
        lx->pos++;
        while (lx->pos < lx->len && lx->s[lx->pos] != c) {
            if (lx->s[lx->pos] == '\\' && lx->pos + 1 < lx->len)
                lx->pos++;
            if (lx->s[lx->pos] == '\n')
                lex_newline(lx);
            lx->pos++;
        }
        if (lx->pos < lx->len)
            lx->pos++;
        break;
    default:
        if (c == '+' && lex_at(lx, lx->pos + 1) == '=') {
            t.kind = TK_PLUSEQ;
            lx->pos += 2;
            break;
        }
        while (lx->pos < lx->len && is_word_char(lx, lx->pos))
            lx->pos++;
        if (lx->pos == t.off) {
            t.kind = TK_OTHER;  /* a NUL byte or similar: skip it */
            lx->pos++;
        } else {
            t.kind = TK_WORD;
        }
        break;
    }
    t.end = lx->pos;
    return t;
}

/* The text of a word or string token, quotes removed and \x unescaped. */
static char *token_text(const struct lexer *lx, const struct token *t)
{
    if (t->kind != TK_STR)
        return xstrndup(lx->s + t->off, t->end - t->off);
    struct strbuf sb = STRBUF_INIT;
    char q = lx->s[t->off];
    size_t end = t->end;
    if (end > t->off + 1 && lx->s[end - 1] == q)
        end--;
    for (size_t i = t->off + 1; i < end; i++) {
        char c = lx->s[i];
        if (c == '\\' && i + 1 < end)
            c = lx->s[++i];
        strbuf_addc(&sb, c);
    }
    strbuf_adds(&sb, "");
    return strbuf_detach(&sb);
}

struct scan_sec {
    char *name;
    char *title;        /* NULL when the section has none */
    int line, col;
    int parent;         /* index of the enclosing section, -1 = top level */
    bool closed;
    bool blanked;       /* removed from the text given to libconfuse */
    size_t off, end;    /* from its name to its closing brace */
    size_t first_opt, end_opt; /* its options are among opts[first, end) */
    int last;           /* first copy of a top-level name and title: the
                           index of the last copy (set by check_sections) */
};

struct scan_opt {
    int sec;            /* index of its section, -1 = top level */
    char *name;
    int line;           /* of the option name */
    int val_line;       /* of the first character of the value */
    int val_col;        /* inside the quotes for strings */
    bool is_list;
    bool append;        /* written with += */
    size_t off, end;    /* from the name to the end of the value */
};

struct scan {
    struct scan_sec *secs;
    size_t nsecs, secs_cap;
    struct scan_opt *opts;
    size_t nopts, opts_cap;
    /* top-level sections kept for libconfuse (not blanked), by name and
     * title, to their first copy; filled by check_sections */
    struct idx_map by_title;
};

struct sec_key {
    const char *name;
    const char *title;  /* NULL for an untitled section */
};

static uint64_t sec_key_hash(const char *name, const char *title)
{
    uint64_t h = hash_str(name);
    return title ? hash_bytes(title, strlen(title), h) : h;
}

static bool sec_key_match(const void *ctx, size_t idx, const void *key)
{
    const struct scan_sec *s = &((const struct scan *)ctx)->secs[idx];
    const struct sec_key *k = key;
    return streq(s->name, k->name) && streq(s->title, k->title);
}

static void scan_free(struct scan *sc)
{
    for (size_t i = 0; i < sc->nsecs; i++) {
        free(sc->secs[i].name);
        free(sc->secs[i].title);
    }
    for (size_t i = 0; i < sc->nopts; i++)
        free(sc->opts[i].name);
    free(sc->secs);
    free(sc->opts);
    idx_map_free(&sc->by_title);
    memset(sc, 0, sizeof(*sc));
}

static bool is_name_tok(const struct token *t)
{
    return t->kind == TK_WORD || t->kind == TK_STR;
}

static void scan_text(struct scan *sc, const char *text, size_t len)
{
    struct lexer lx = { text, len, 0, 1, 0 };
    int cur = -1;
    struct token t = lex_next(&lx);
    while (t.kind != TK_EOF) {
        if (t.kind == TK_RBRACE) {
            if (cur >= 0) {
                sc->secs[cur].closed = true;
                sc->secs[cur].end = t.end;
                sc->secs[cur].end_opt = sc->nopts;
                cur = sc->secs[cur].parent;
            }
            t = lex_next(&lx);
            continue;
        }
        if (!is_name_tok(&t)) {
            t = lex_next(&lx);
            continue;
        }
        struct token t2 = lex_next(&lx);
        if (t2.kind == TK_EQ || t2.kind == TK_PLUSEQ) {
            XGROW(sc->opts, sc->nopts + 1, sc->opts_cap);
            struct scan_opt *o = &sc->opts[sc->nopts++];
            memset(o, 0, sizeof(*o));
            o->sec = cur;
            o->name = token_text(&lx, &t);
            o->line = t.line;
            o->append = t2.kind == TK_PLUSEQ;
            o->off = t.off;
            struct token v = lex_next(&lx);
            o->val_line = v.line;
            o->val_col = v.col + (v.kind == TK_STR ? 1 : 0);
            o->end = v.end;
            if (v.kind == TK_LBRACE) {
                o->is_list = true;
                struct token e;
                do {
                    e = lex_next(&lx);
                } while (e.kind != TK_RBRACE && e.kind != TK_EOF);
                o->end = e.end;
            } else if (!is_name_tok(&v)) {
                o->end = t2.end;
                t = v;          /* a syntax error: libconfuse reports it */
                continue;
            }
            t = lex_next(&lx);
            continue;
        }
        struct token title = t2;
        bool has_title = false;
        if (is_name_tok(&t2)) {
            title = t2;
            has_title = true;
            t2 = lex_next(&lx);
        }
        if (t2.kind == TK_LBRACE) {
            XGROW(sc->secs, sc->nsecs + 1, sc->secs_cap);
            struct scan_sec *s = &sc->secs[sc->nsecs];
            memset(s, 0, sizeof(*s));
            s->name = token_text(&lx, &t);
            s->title = has_title ? token_text(&lx, &title) : NULL;
            s->line = t.line;
            s->col = t.col;
            s->parent = cur;
            s->off = t.off;
            s->end = len;
            s->first_opt = sc->nopts;
            cur = (int)sc->nsecs++;
            t = lex_next(&lx);
            continue;
        }
        if (t2.kind == TK_LPAREN && !has_title) {
            /* a function call such as include(...) */
            do {
                t2 = lex_next(&lx);
            } while (t2.kind != TK_RPAREN && t2.kind != TK_EOF);
            t = lex_next(&lx);
            continue;
        }
        t = t2;
    }
    for (size_t i = 0; i < sc->nsecs; i++)
        if (!sc->secs[i].closed)
            sc->secs[i].end_opt = sc->nopts;
}

/* Replace [off, end) with spaces, keeping line breaks (and so lines). */
static void blank_text(char *text, size_t off, size_t end)
{
    for (size_t i = off; i < end; i++)
        if (text[i] != '\n')
            text[i] = ' ';
}

/* ---- loader state and diagnostics ---------------------------------------- */

struct loader {
    struct config *cfg;
    struct diag_list *diags;
    char *basedir;          /* directory of the main file, "" or ".../" */
    /* files already loaded, by identity, so a glob matching the main file
     * or the same file twice does not load it again */
    struct { dev_t dev; ino_t ino; } *seen;
    size_t nseen, seen_cap;
    /* cfg->rules[0, nrules_named) by name, for duplicates across files */
    struct idx_map rule_names;
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
    const char *file;       /* stable: points into cfg->files */
    const struct file_schema *schema;
    struct scan sc;
    int syntax_line;        /* of libconfuse's first error, 0 = none */
    /* libconfuse errors only noted, not reported (a trial parse) */
    bool quiet;
    bool quiet_failed;
    /* parse_split succeeded: the tree holds everything but the rules,
     * which are staged here in libconfuse's order */
    bool split;
    struct staged_rule *staged;
    size_t nstaged, staged_cap;
};

/* A section being converted. */
struct secctx {
    struct file_ctx *fc;
    cfg_t *sec;
    int idx;                /* scan section, -1 = top level */
    char *label;            /* 'workspace "prod"', or "" at top level */
    int line;               /* of the section */
};

static char *section_label(const char *name, const char *title)
{
    if (title)
        return xasprintf("%s \"%s\"", name, title);
    return xstrdup(name);
}

/* The last occurrence of a top-level section (libconfuse keeps the last
 * copy of a duplicated title). */
static int scan_find_sec(const struct scan *sc, const char *name,
                         const char *title)
{
    struct sec_key key = { name, title };
    size_t first = idx_map_get(&sc->by_title, sec_key_hash(name, title),
                               sec_key_match, sc, &key);
    return first == IDX_NONE ? -1 : sc->secs[first].last;
}

/* The last setting of option name in section sec (-1 = top level). */
static const struct scan_opt *scan_find_opt(const struct scan *sc, int sec,
                                            const char *name)
{
    size_t from = sec >= 0 ? sc->secs[sec].first_opt : 0;
    size_t to = sec >= 0 ? sc->secs[sec].end_opt : sc->nopts;
    const struct scan_opt *found = NULL;
    for (size_t i = from; i < to; i++)
        if (sc->opts[i].sec == sec && strcmp(sc->opts[i].name, name) == 0)
            found = &sc->opts[i];
    return found;
}

static int opt_line(const struct secctx *s, const char *name)
{
    const struct scan_opt *o = scan_find_opt(&s->fc->sc, s->idx, name);
    return o ? o->line : s->line;
}

static void sec_vdiag(const struct secctx *s, enum diag_severity sev,
                      const char *opt, const char *fmt, va_list ap)
{
    struct strbuf sb = STRBUF_INIT;
    if (s->label[0])
        strbuf_addf(&sb, "%s: ", s->label);
    strbuf_vaddf(&sb, fmt, ap);
    int line = opt ? opt_line(s, opt) : s->line;
    diag_add(s->fc->ld->diags, sev, s->fc->file, line, 0, "%s",
             strbuf_str(&sb));
    strbuf_free(&sb);
}

/* An error about option opt (NULL: about the section) of section s. */
PRINTF_LIKE(3, 4)
static void sec_error(const struct secctx *s, const char *opt,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sec_vdiag(s, DIAG_ERROR, opt, fmt, ap);
    va_end(ap);
}

PRINTF_LIKE(3, 4)
static void sec_warning(const struct secctx *s, const char *opt,
                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sec_vdiag(s, DIAG_WARNING, opt, fmt, ap);
    va_end(ap);
}

static void secctx_init(struct secctx *s, struct file_ctx *fc, cfg_t *sec,
                        const char *name)
{
    s->fc = fc;
    s->sec = sec;
    if (!name) {
        s->idx = -1;
        s->label = xstrdup("");
        s->line = 0;
        return;
    }
    const char *title = cfg_title(sec);
    s->idx = scan_find_sec(&fc->sc, name, title);
    s->label = section_label(name, title);
    s->line = s->idx >= 0 ? fc->sc.secs[s->idx].line : 0;
}

static void secctx_done(struct secctx *s)
{
    free(s->label);
    s->label = NULL;
}

/* ---- structure checks (scanner based) ------------------------------------ */

static bool ancestor_unclosed(const struct scan *sc, int i)
{
    for (int p = sc->secs[i].parent; p >= 0; p = sc->secs[p].parent)
        if (!sc->secs[p].closed)
            return true;
    return false;
}

static bool inside_blanked(const struct scan *sc, int sec)
{
    for (int p = sec; p >= 0; p = sc->secs[p].parent)
        if (sc->secs[p].blanked)
            return true;
    return false;
}

static void check_sections(struct file_ctx *fc, char *text)
{
    struct scan *sc = &fc->sc;
    struct diag_list *dl = fc->ld->diags;
    const struct file_schema *fs = fc->schema;

    for (size_t i = 0; i < sc->nsecs; i++) {
        struct scan_sec *s = &sc->secs[i];
        char *label = section_label(s->name, s->title);
        if (!s->closed)
            diag_error(dl, fc->file, s->line, 0,
                       "section '%s' is not closed (missing '}')", label);

        if (s->parent >= 0) {
            /* Nothing nests in segalert's sections.  A known section
             * inside an unclosed one is the unclosed one's fault. */
            bool explained = find_sec(&main_schema, s->name) &&
                             ancestor_unclosed(sc, (int)i);
            if (!explained) {
                char *plabel = section_label(sc->secs[s->parent].name,
                                             sc->secs[s->parent].title);
                diag_error(dl, fc->file, s->line, 0,
                           "%s: unexpected section '%s' (sections do not nest)",
                           plabel, s->name);
                free(plabel);
            }
            s->blanked = true;
        } else {
            const struct sec_spec *spec = find_sec(fs, s->name);
            if (!spec && fs->rule_file && find_sec(&main_schema, s->name)) {
                diag_error(dl, fc->file, s->line, 0,
                           "section '%s' is not allowed in a rule file "
                           "(rule files hold only rule sections)", s->name);
                s->blanked = true;
            } else if (!spec) {
                const char *cands[ARRAY_SIZE(main_secs)];
                for (size_t k = 0; k < fs->nsecs; k++)
                    cands[k] = fs->secs[k]->name;
                const char *dym = closest(s->name, cands, fs->nsecs);
                diag_error(dl, fc->file, s->line, 0,
                           "unknown section '%s'%s%s%s", s->name,
                           dym ? " (did you mean '" : "", dym ? dym : "",
                           dym ? "'?)" : "");
                s->blanked = true;
            } else if (spec->titled && !s->title) {
                diag_error(dl, fc->file, s->line, 0,
                           "section '%s' needs a name: %s \"NAME\" { ... }",
                           s->name, s->name);
                s->blanked = true;
            } else if (!spec->titled && s->title) {
                diag_error(dl, fc->file, s->line, 0,
                           "section '%s' takes no name", s->name);
                s->blanked = true;
            } else if (s->title && !s->title[0]) {
                diag_error(dl, fc->file, s->line, 0,
                           "%s: the name must not be empty", s->name);
                s->blanked = true;
            } else {
                /* Every top-level section not blanked gets here, in
                 * order: the map holds the first copy of each. */
                struct sec_key key = { s->name, s->title };
                uint64_t h = sec_key_hash(s->name, s->title);
                size_t first = idx_map_get(&sc->by_title, h, sec_key_match,
                                           sc, &key);
                if (first == IDX_NONE) {
                    idx_map_put(&sc->by_title, h, i);
                    s->last = (int)i;
                } else {
                    struct scan_sec *p = &sc->secs[first];
                    if (s->title)
                        diag_error(dl, fc->file, s->line, 0,
                                   "duplicate %s (first defined at %s:%d)",
                                   label, fc->file, p->line);
                    else
                        diag_error(dl, fc->file, s->line, 0,
                                   "section '%s' given twice (first at %s:%d)",
                                   s->name, fc->file, p->line);
                    p->last = (int)i;
                }
            }
        }
        if (s->blanked)
            blank_text(text, s->off, s->end);
        free(label);
    }
}

static void check_options(struct file_ctx *fc, char *text)
{
    struct scan *sc = &fc->sc;
    struct diag_list *dl = fc->ld->diags;
    const struct file_schema *fs = fc->schema;

    for (size_t i = 0; i < sc->nopts; i++) {
        struct scan_opt *o = &sc->opts[i];
        const struct opt_spec *opts = fs->root_opts;
        char *label = NULL;
        if (o->sec >= 0) {
            if (inside_blanked(sc, o->sec))
                continue;
            const struct scan_sec *s = &sc->secs[o->sec];
            const struct sec_spec *spec = find_sec(fs, s->name);
            if (!spec)
                continue;
            opts = spec->opts;
            label = section_label(s->name, s->title);
        }
        const struct opt_spec *spec = find_opt(opts, o->name);
        const char *pfx = label ? label : "";
        const char *sep = label ? ": " : "";
        if (!spec) {
            const char *dym = closest_opt(o->name, opts);
            if (dym)
                diag_error(dl, fc->file, o->line, 0,
                           "%s%sno such option '%s' (did you mean '%s'?)",
                           pfx, sep, o->name, dym);
            else if (fs->rule_file && !label)
                diag_error(dl, fc->file, o->line, 0,
                           "no such option '%s' (rule files hold only rule "
                           "sections)", o->name);
            else
                diag_error(dl, fc->file, o->line, 0, "%s%sno such option '%s'",
                           pfx, sep, o->name);
        } else if (spec->kind == OPT_STR && o->is_list) {
            diag_error(dl, fc->file, o->line, 0,
                       "%s%s%s takes a single value, not a list",
                       pfx, sep, o->name);
            blank_text(text, o->off, o->end);
        } else if (spec->kind == OPT_STR && !o->append) {
            size_t to = o->sec >= 0 ? sc->secs[o->sec].end_opt : sc->nopts;
            for (size_t j = i + 1; j < to; j++) {
                const struct scan_opt *p = &sc->opts[j];
                if (p->sec == o->sec && strcmp(p->name, o->name) == 0) {
                    diag_warning(dl, fc->file, o->line, 0,
                                 "%s%s%s is set twice; the value at line %d "
                                 "wins", pfx, sep, o->name, p->line);
                    break;
                }
            }
        }
        free(label);
    }
}

/* ---- libconfuse glue ----------------------------------------------------- */

/* libconfuse's error callback has no user pointer; config loading happens
 * on one thread at a time per thread. */
static _Thread_local struct file_ctx *parsing;

static void confuse_error(cfg_t *c, const char *fmt, va_list ap)
{
    if (!parsing)
        return;
    if (parsing->quiet) {
        parsing->quiet_failed = true;
        return;
    }
    struct strbuf sb = STRBUF_INIT;
    if (c && c->name && c->title)
        strbuf_addf(&sb, "%s \"%s\": ", c->name, c->title);
    else if (c && c->name && strcmp(c->name, "root") != 0)
        strbuf_addf(&sb, "%s: ", c->name);
    strbuf_vaddf(&sb, fmt, ap);
    int line = c ? c->line : 0;
    diag_error(parsing->ld->diags, parsing->file, line, 0, "%s",
               strbuf_str(&sb));
    if (!parsing->syntax_line)
        parsing->syntax_line = line > 0 ? line : 1;
    strbuf_free(&sb);
}

/* Every option is a string or a list of strings (converted by us); each
 * section tolerates unknown options, which the scanner reports. */
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

/* libconfuse's option arrays for a file schema. */
struct confuse_opts {
    cfg_opt_t *root;
    cfg_opt_t *sub[ARRAY_SIZE(main_secs)];
    size_t nsub;
};

static void confuse_opts_build(const struct file_schema *fs,
                               struct confuse_opts *co)
{
    cfg_opt_t secs[ARRAY_SIZE(main_secs)];
    co->nsub = fs->nsecs;
    for (size_t i = 0; i < fs->nsecs; i++) {
        const struct sec_spec *ss = fs->secs[i];
        co->sub[i] = build_opts(ss->opts, NULL, 0);
        int flags = ss->titled ? CFGF_MULTI | CFGF_TITLE : CFGF_NONE;
        secs[i] = (cfg_opt_t)CFG_SEC(ss->name, co->sub[i], flags);
    }
    /* build_opts copies secs (by value) into the root array */
    co->root = build_opts(fs->root_opts, secs, fs->nsecs);
}

static void confuse_opts_free(struct confuse_opts *co)
{
    for (size_t i = 0; i < co->nsub; i++)
        free(co->sub[i]);
    free(co->root);
}

/* One libconfuse parse of text.  Returns the tree (cfg_free it), or NULL
 * after a syntax error (reported unless fc->quiet).  cfg_init copies the
 * option arrays, so co may be used for many parses. */
static cfg_t *confuse_parse(struct file_ctx *fc, const struct confuse_opts *co,
                            const char *text)
{
    cfg_t *c = cfg_init(co->root, CFGF_IGNORE_UNKNOWN);
    cfg_set_error_function(c, confuse_error);
    parsing = fc;
    int rc = cfg_parse_buf(c, text);
    parsing = NULL;
    if (rc != CFG_SUCCESS) {
        if (rc == CFG_FILE_ERROR && !fc->quiet) /* not expected from a buffer */
            diag_error(fc->ld->diags, fc->file, 0, 0, "cannot parse");
        cfg_free(c);
        c = NULL;
    }
    return c;
}

/* Parse text with the file's schema.  Returns the tree (cfg_free it), or
 * NULL after a syntax error (reported). */
static cfg_t *parse_text(struct file_ctx *fc, const char *text)
{
    struct confuse_opts co;
    confuse_opts_build(fc->schema, &co);
    cfg_t *c = confuse_parse(fc, &co, text);
    confuse_opts_free(&co);
    return c;
}

/* ---- value conversion ---------------------------------------------------- */

static const char *opt_str(const struct secctx *s, const char *name)
{
    return cfg_size(s->sec, name) ? cfg_getstr(s->sec, name) : NULL;
}

static bool opt_set(const struct secctx *s, const char *name)
{
    cfg_opt_t *o = cfg_getopt(s->sec, name);
    return o && (o->nvalues > 0 || (o->flags & CFGF_MODIFIED));
}

static void get_string(const struct secctx *s, const char *name, char **out)
{
    const char *v = opt_str(s, name);
    if (v) {
        free(*out);
        *out = xstrdup(v);
    }
}

/* A text option with where its text starts (for expressions, templates). */
static void get_text(const struct secctx *s, const char *name, char **out,
                     int *line, int *col)
{
    const char *v = opt_str(s, name);
    if (!v)
        return;
    free(*out);
    *out = xstrdup(v);
    const struct scan_opt *o = scan_find_opt(&s->fc->sc, s->idx, name);
    *line = o ? o->val_line : s->line;
    *col = o ? o->val_col : 0;
}

static bool get_duration(const struct secctx *s, const char *name, double *out)
{
    const char *v = opt_str(s, name);
    if (!v)
        return true;
    double d;
    if (parse_duration(v, &d) != 0) {
        sec_error(s, name, "invalid duration '%s' for %s", v, name);
        return false;
    }
    *out = d;
    return true;
}

static bool get_number(const struct secctx *s, const char *name, double *out)
{
    const char *v = opt_str(s, name);
    if (!v)
        return true;
    double d;
    if (parse_double(v, &d) != 0) {
        sec_error(s, name, "invalid number '%s' for %s", v, name);
        return false;
    }
    *out = d;
    return true;
}

static void get_int(const struct secctx *s, const char *name, int *out,
                    long min, long max)
{
    const char *v = opt_str(s, name);
    if (!v)
        return;
    long l;
    if (parse_long(v, &l) != 0) {
        sec_error(s, name, "invalid integer '%s' for %s", v, name);
        return;
    }
    if (l < min || l > max) {
        sec_error(s, name, "%s must be between %ld and %ld (got %ld)",
                  name, min, max, l);
        return;
    }
    *out = (int)l;
}

static void get_bool(const struct secctx *s, const char *name, bool *out)
{
    static const char *const yes[] = { "true", "yes", "on" };
    static const char *const no[] = { "false", "no", "off" };
    const char *v = opt_str(s, name);
    if (!v)
        return;
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return;
        }
    }
    sec_error(s, name, "invalid boolean '%s' for %s (expected true or false)",
              v, name);
}

/* "a, b or c" */
static void add_choices(struct strbuf *sb, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strbuf_adds(sb, i + 1 == n ? " or " : ", ");
        strbuf_adds(sb, names[i]);
    }
}

/* Index of the value among names, def when unset, -1 when invalid. */
static int get_enum(const struct secctx *s, const char *name,
                    const char *const *names, size_t n, int def)
{
    const char *v = opt_str(s, name);
    if (!v)
        return def;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0)
            return (int)i;
    struct strbuf sb = STRBUF_INIT;
    add_choices(&sb, names, n);
    sec_error(s, name, "invalid value '%s' for %s (expected %s)", v, name,
              strbuf_str(&sb));
    strbuf_free(&sb);
    return -1;
}

/* Replace *out with the list when it was given. */
static bool get_list(const struct secctx *s, const char *name,
                     struct str_list *out)
{
    if (!opt_set(s, name))
        return false;
    str_list_free(out);
    unsigned n = cfg_size(s->sec, name);
    for (unsigned i = 0; i < n; i++)
        str_list_add(out, cfg_getnstr(s->sec, name, i));
    return true;
}

static bool is_label_name(const char *k)
{
    if (!*k || !((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
                 *k == '_'))
        return false;
    for (const char *p = k + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

/* "key=value" entries; what names the kind ("label", "match"). */
static void get_kv(const struct secctx *s, const char *name,
                   struct kv_list *out, const char *what, const char *expect)
{
    unsigned n = cfg_size(s->sec, name);
    for (unsigned i = 0; i < n; i++) {
        const char *e = cfg_getnstr(s->sec, name, i);
        char *buf;
        const char *k, *v;
        if (split_kv(e, &buf, &k, &v) != 0) {
            sec_error(s, name, "invalid %s '%s' in %s (expected %s)", what, e,
                      name, expect);
            continue;
        }
        if (!is_label_name(k))
            sec_error(s, name, "invalid label name '%s' in %s (letters, "
                      "digits and '_', not starting with a digit)", k, name);
        else
            kv_list_add(out, k, v);
        free(buf);
    }
}

/* A path relative to the main file's directory. */
static char *resolve_path(const struct loader *ld, const char *p)
{
    if (p[0] == '/' || !ld->basedir[0])
        return xstrdup(p);
    return xasprintf("%s%s", ld->basedir, p);
}

enum secret_status { SECRET_UNSET, SECRET_OK, SECRET_BAD };

/* See config_set_secrets_optional(). */
static bool secrets_optional;

void config_set_secrets_optional(bool optional)
{
    secrets_optional = optional;
}

/*
 * A secret given inline (base), from an environment variable (base_env)
 * or from the first line of a file (base_file); exactly one.  Messages
 * name the option, the variable or the path, never the value.
 */
static enum secret_status get_secret(const struct secctx *s, const char *base,
                                     bool redact, char **out)
{
    char *n_env = xasprintf("%s_env", base);
    char *n_file = xasprintf("%s_file", base);
    const char *inl = opt_str(s, base);
    const char *env = opt_str(s, n_env);
    const char *file = opt_str(s, n_file);
    enum secret_status st = SECRET_BAD;
    char *val = NULL;

    if (!!inl + !!env + !!file > 1) {
        sec_error(s, file ? n_file : n_env,
                  "give only one of %s, %s and %s", base, n_env, n_file);
        goto done;
    }
    if (inl) {
        val = xstrdup(inl);
    } else if (env) {
        const char *v = getenv(env);
        if (!v && secrets_optional) {
            st = SECRET_OK;     /* given, not available here: left NULL */
            goto done;
        }
        if (!v) {
            sec_error(s, n_env, "environment variable '%s' (%s) is not set",
                      env, n_env);
            goto done;
        }
        val = xstrdup(v);
    } else if (file) {
        char *path = resolve_path(s->fc->ld, file);
        size_t len;
        char *text = read_file(path, SECRET_MAX_BYTES, &len);
        if (!text && secrets_optional) {
            free(path);
            st = SECRET_OK;
            goto done;
        }
        if (!text) {
            sec_error(s, n_file, "cannot read %s '%s': %s", n_file, path,
                      strerror(errno));
            free(path);
            goto done;
        }
        struct stat st_buf;
        if (stat(path, &st_buf) == 0 &&
            (st_buf.st_mode & (S_IRGRP | S_IROTH)))
            sec_warning(s, n_file, "%s '%s' is readable by group/other "
                        "(chmod 600 it)", n_file, path);
        text[strcspn(text, "\n")] = '\0';
        size_t l = strlen(text);
        if (l > 0 && text[l - 1] == '\r')
            text[l - 1] = '\0';
        val = xstrdup(text);
        free(text);
        free(path);
    } else {
        st = SECRET_UNSET;
        goto done;
    }
    if (!val[0]) {
        sec_error(s, inl ? base : env ? n_env : n_file, "%s is empty", base);
        free(val);
        val = NULL;
        goto done;
    }
    if (redact)
        log_secret_register(val);
    free(*out);
    *out = val;
    st = SECRET_OK;
done:
    free(n_env);
    free(n_file);
    return st;
}

static void require_secret(const struct secctx *s, const char *base,
                           bool redact, char **out)
{
    if (get_secret(s, base, redact, out) == SECRET_UNSET && !*out)
        sec_error(s, NULL, "%s is required (%s, %s_env or %s_file)",
                  base, base, base, base);
}

static void strip_trailing_slashes(char *url)
{
    size_t l = url ? strlen(url) : 0;
    while (l > 0 && url[l - 1] == '/')
        url[--l] = '\0';
}

static bool is_http_url(const char *u)
{
    return str_has_prefix(u, "http://") || str_has_prefix(u, "https://");
}

/* ---- defaults ------------------------------------------------------------ */

static void timing_defaults(struct timing_cfg *t)
{
    memset(t, 0, sizeof(*t));
    str_list_add(&t->group_by, "rule");
    str_list_add(&t->group_by, "workspace");
    t->group_wait_s = 30;
    t->group_interval_s = 300;
    t->repeat_interval_s = 14400;
}

static void workspace_defaults(struct workspace_cfg *w)
{
    memset(w, 0, sizeof(*w));
    w->api_url = xstrdup("https://api.segmentapis.com");
    str_list_add(&w->sources, "*");
    str_list_add(&w->destinations, "*");
    w->poll_interval_s = 300;
    w->delivery_window_s = 3600;
    w->volume_interval_s = 300;
    w->usage_interval_s = 21600;
    w->request_budget = 60;
    w->max_concurrency = 4;
    w->latency_scale = 1;
    w->connect_timeout_s = 10;
    w->request_timeout_s = 30;
}

static void receiver_defaults(struct receiver_cfg *r)
{
    memset(r, 0, sizeof(*r));
    r->send_resolved = true;
    r->timeout_s = 10;
    r->smtp_port = 25;
    r->starttls = STARTTLS_TRY;
}

static void rule_defaults(struct rule_cfg *r)
{
    memset(r, 0, sizeof(*r));
    r->no_data = NODATA_KEEP;
    r->no_data_after_s = 1800;
    r->severity = xstrdup("critical");
    str_list_add(&r->sources, "*");
    str_list_add(&r->destinations, "*");
    str_list_add(&r->workspaces, "*");
}

static void timing_copy(struct timing_cfg *dst, const struct timing_cfg *src)
{
    *dst = *src;
    dst->group_by.items = NULL;
    dst->group_by.n = 0;
    for (size_t i = 0; i < src->group_by.n; i++)
        str_list_add(&dst->group_by, src->group_by.items[i]);
    dst->has_group_by = dst->has_group_wait = false;
    dst->has_group_interval = dst->has_repeat_interval = false;
}

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
    free(r->url);
    str_list_free(&r->urls);
    free(r->routing_key);
    free(r->hmac_secret);
    kv_list_free(&r->headers);
    free(r->smtp_host);
    free(r->tls_ca_file);
    free(r->username);
    free(r->password);
    free(r->from);
    str_list_free(&r->to);
    free(r->subject);
    free(r->body);
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
    free(cfg);
}

struct config *config_new_defaults(void)
{
    struct config *cfg = xcalloc(1, sizeof(*cfg));
    cfg->state_dir = xstrdup("/var/lib/segalert");
    cfg->listen = xstrdup("127.0.0.1:9477");
    cfg->log_level = xstrdup("info");
    cfg->log_format = xstrdup("text");
    timing_defaults(&cfg->defaults);
    return cfg;
}

/* ---- sections ------------------------------------------------------------ */

/* A duration that must be > 0 (or >= 0 with allow_zero). */
static void get_interval(const struct secctx *s, const char *name,
                         double *out, bool allow_zero)
{
    double d = *out;
    if (!get_duration(s, name, &d))
        return;
    if (d < 0 || (!allow_zero && d <= 0)) {
        sec_error(s, name, "%s must be greater than 0", name);
        return;
    }
    *out = d;
}

static void check_listen(const struct secctx *s, const char *listen)
{
    const char *colon = strrchr(listen, ':');
    long port;
    if (!colon || colon == listen || parse_long(colon + 1, &port) != 0 ||
        port < 1 || port > 65535)
        sec_error(s, "listen", "invalid listen address '%s' (expected "
                  "HOST:PORT, or \"\" to disable)", listen);
}

static void load_globals(struct secctx *s, struct config *cfg)
{
    static const char *const levels[] = { "error", "warn", "info", "debug" };
    static const char *const formats[] = { "text", "json" };

    get_string(s, "state_dir", &cfg->state_dir);
    if (!cfg->state_dir[0])
        sec_error(s, "state_dir", "state_dir must not be empty");
    get_string(s, "listen", &cfg->listen);
    if (cfg->listen[0])
        check_listen(s, cfg->listen);
    if (get_enum(s, "log_level", levels, ARRAY_SIZE(levels), 2) >= 0)
        get_string(s, "log_level", &cfg->log_level);
    if (get_enum(s, "log_format", formats, ARRAY_SIZE(formats), 0) >= 0)
        get_string(s, "log_format", &cfg->log_format);
    get_string(s, "external_url", &cfg->external_url);
    if (cfg->external_url) {
        strip_trailing_slashes(cfg->external_url);
        if (!is_http_url(cfg->external_url))
            sec_error(s, "external_url", "external_url must start with "
                      "http:// or https://");
    }
    get_secret(s, "admin_token", true, &cfg->admin_token);
    get_list(s, "rule_files", &cfg->rule_files);
}

static void load_workspace(struct file_ctx *fc, cfg_t *sec,
                           struct workspace_cfg *w)
{
    static const char *const units[] = { "s", "ms" };
    struct secctx s;
    secctx_init(&s, fc, sec, "workspace");
    workspace_defaults(w);
    w->name = xstrdup(cfg_title(sec));
    w->loc.file = fc->file;
    w->loc.line = s.line;

    get_string(&s, "api_url", &w->api_url);
    strip_trailing_slashes(w->api_url);
    if (!is_http_url(w->api_url))
        sec_error(&s, "api_url", "api_url must start with http:// or "
                  "https:// (got '%s')", w->api_url);
    require_secret(&s, "token", true, &w->token);
    get_list(&s, "sources", &w->sources);
    get_list(&s, "exclude_sources", &w->exclude_sources);
    get_list(&s, "destinations", &w->destinations);

    get_interval(&s, "poll_interval", &w->poll_interval_s, false);
    get_interval(&s, "volume_interval", &w->volume_interval_s, false);
    get_interval(&s, "usage_interval", &w->usage_interval_s, false);
    get_interval(&s, "connect_timeout", &w->connect_timeout_s, false);
    get_interval(&s, "request_timeout", &w->request_timeout_s, false);
    double win = w->delivery_window_s;
    if (get_duration(&s, "delivery_window", &win)) {
        char buf[32];
        format_duration(win, buf, sizeof(buf));
        if (win > MAX_DELIVERY_WINDOW_S)
            sec_error(&s, "delivery_window", "delivery_window must be at "
                      "most 4h (the API's MINUTE granularity limit), got %s",
                      buf);
        else if (win < 60)
            sec_error(&s, "delivery_window", "delivery_window must be at "
                      "least 1m, got %s", buf);
        else
            w->delivery_window_s = win;
    }

    double budget = w->request_budget;
    if (get_number(&s, "request_budget", &budget)) {
        if (budget <= 0)
            sec_error(&s, "request_budget", "request_budget must be greater "
                      "than 0 (requests per minute)");
        else
            w->request_budget = budget;
    }
    get_int(&s, "max_concurrency", &w->max_concurrency, 1, 64);
    int unit = get_enum(&s, "latency_unit", units, ARRAY_SIZE(units), 0);
    w->latency_scale = unit == 1 ? 0.001 : 1;

    const char *limits[] = { "mtu_limit", "api_calls_limit" };
    double *limit_out[] = { &w->mtu_limit, &w->api_calls_limit };
    for (size_t i = 0; i < ARRAY_SIZE(limits); i++) {
        double v = 0;
        if (get_number(&s, limits[i], &v) && v < 0)
            sec_error(&s, limits[i], "%s must not be negative", limits[i]);
        else if (v >= 0)
            *limit_out[i] = v;
    }
    get_kv(&s, "labels", &w->labels, "label", "key=value");
    secctx_done(&s);
}

static void load_timing(const struct secctx *s, struct timing_cfg *t)
{
    if (get_list(s, "group_by", &t->group_by)) {
        t->has_group_by = true;
        for (size_t i = 0; i < t->group_by.n; i++)
            /* "..." groups by every label (as Alertmanager). */
            if (!streq(t->group_by.items[i], "...") &&
                !is_label_name(t->group_by.items[i]))
                sec_error(s, "group_by", "invalid label name '%s' in "
                          "group_by", t->group_by.items[i]);
    }
    if (opt_str(s, "group_wait")) {
        t->has_group_wait = true;
        get_interval(s, "group_wait", &t->group_wait_s, true);
    }
    if (opt_str(s, "group_interval")) {
        t->has_group_interval = true;
        get_interval(s, "group_interval", &t->group_interval_s, false);
    }
    if (opt_str(s, "repeat_interval")) {
        t->has_repeat_interval = true;
        get_interval(s, "repeat_interval", &t->repeat_interval_s, false);
    }
}

static const char *const recv_type_names[RECV__COUNT] = {
    "email", "slack", "pagerduty", "webhook", "alertmanager", "log"
};

const char *receiver_type_name(enum receiver_type t)
{
    if ((int)t < 0 || t >= RECV__COUNT)
        return "unknown";
    return recv_type_names[t];
}

static bool is_header_name(const char *n, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c)))
            return false;
    }
    return true;
}

/* Header values that look like credentials are redacted from logs. */
static bool header_is_secret(const char *name)
{
    static const char *const words[] = { "auth", "token", "key", "secret" };
    char *lower = xstrdup(name);
    bool hit = false;
    for (char *p = lower; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    for (size_t i = 0; i < ARRAY_SIZE(words) && !hit; i++)
        hit = strstr(lower, words[i]) != NULL;
    free(lower);
    return hit;
}

/* "Name=value" or "Name: value".  Values are never echoed: they often
 * carry credentials. */
static void get_headers(const struct secctx *s, struct kv_list *out)
{
    unsigned n = cfg_size(s->sec, "headers");
    for (unsigned i = 0; i < n; i++) {
        const char *e = cfg_getnstr(s->sec, "headers", i);
        size_t nl = strcspn(e, "=:");
        if (!e[nl] || !is_header_name(e, nl)) {
            sec_error(s, "headers", "invalid entry %u in headers (expected "
                      "Name=value with an HTTP header name)", i + 1);
            continue;
        }
        char *name = xstrndup(e, nl);
        const char *v = e + nl + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (strpbrk(v, "\r\n"))
            sec_error(s, "headers", "header '%s': the value must not "
                      "contain line breaks", name);
        else {
            kv_list_add(out, name, v);
            if (header_is_secret(name))
                log_secret_register(v);
        }
        free(name);
    }
}

static void load_receiver_email(const struct secctx *s, struct receiver_cfg *r)
{
    static const char *const tls[] = { "no", "try", "required" };
    get_string(s, "smtp_host", &r->smtp_host);
    if (!r->smtp_host || !r->smtp_host[0])
        sec_error(s, NULL, "smtp_host is required");
    get_int(s, "smtp_port", &r->smtp_port, 1, 65535);
    int st = get_enum(s, "starttls", tls, ARRAY_SIZE(tls), STARTTLS_TRY);
    if (st >= 0)
        r->starttls = (enum starttls_mode)st;
    const char *ca = opt_str(s, "tls_ca_file");
    if (ca) {
        r->tls_ca_file = resolve_path(s->fc->ld, ca);
        if (access(r->tls_ca_file, R_OK) != 0)
            sec_error(s, "tls_ca_file", "cannot read tls_ca_file '%s': %s",
                      r->tls_ca_file, strerror(errno));
    }
    get_string(s, "username", &r->username);
    enum secret_status pw = get_secret(s, "password", true, &r->password);
    if (r->username && pw == SECRET_UNSET)
        sec_error(s, "username", "username is given without a password "
                  "(password, password_env or password_file)");
    if (!r->username && pw == SECRET_OK)
        sec_error(s, NULL, "a password is given without a username");
    get_string(s, "from", &r->from);
    if (!r->from)
        sec_error(s, NULL, "from is required");
    else if (!strchr(r->from, '@'))
        sec_error(s, "from", "invalid address '%s' for from", r->from);
    get_list(s, "to", &r->to);
    if (r->to.n == 0)
        sec_error(s, NULL, "to is required (a list of addresses)");
    for (size_t i = 0; i < r->to.n; i++)
        if (!strchr(r->to.items[i], '@'))
            sec_error(s, "to", "invalid address '%s' in to", r->to.items[i]);
}

/* Slack, PagerDuty and webhook URLs carry credentials: check them without
 * quoting them. */
static void check_secret_url(const struct secctx *s, const char *url)
{
    if (url && !is_http_url(url))
        sec_error(s, NULL, "url must start with http:// or https://");
}

static void load_receiver(struct file_ctx *fc, cfg_t *sec,
                          struct receiver_cfg *r)
{
    struct secctx s;
    secctx_init(&s, fc, sec, "receiver");
    receiver_defaults(r);
    r->name = xstrdup(cfg_title(sec));
    r->loc.file = fc->file;
    r->loc.line = s.line;
    r->type = RECV_LOG;

    struct strbuf choices = STRBUF_INIT;
    add_choices(&choices, recv_type_names, RECV__COUNT);
    const char *type = opt_str(&s, "type");
    int t = -1;
    if (!type) {
        sec_error(&s, NULL, "type is required (%s)", strbuf_str(&choices));
    } else {
        for (int i = 0; i < RECV__COUNT; i++)
            if (strcmp(type, recv_type_names[i]) == 0)
                t = i;
        const char *dym = t < 0 ? closest(type, recv_type_names,
                                          RECV__COUNT) : NULL;
        if (t < 0 && dym)
            sec_error(&s, "type", "unknown type '%s' (did you mean '%s'?)",
                      type, dym);
        else if (t < 0)
            sec_error(&s, "type", "unknown type '%s' (expected %s)", type,
                      strbuf_str(&choices));
    }
    strbuf_free(&choices);

    get_bool(&s, "send_resolved", &r->send_resolved);
    get_text(&s, "subject", &r->subject, &r->subject_line, &r->subject_col);
    get_text(&s, "body", &r->body, &r->body_line, &r->body_col);
    if (t < 0)
        goto done;      /* type-specific checks would only add noise */
    r->type = (enum receiver_type)t;

    for (size_t i = 0; receiver_opts[i].name; i++) {
        const struct opt_spec *o = &receiver_opts[i];
        if (o->types && !(o->types & (1u << t)) && opt_set(&s, o->name))
            sec_warning(&s, o->name, "%s is not used by %s receivers",
                        o->name, recv_type_names[t]);
    }
    if (t != RECV_LOG)
        get_interval(&s, "timeout", &r->timeout_s, false);

    switch (r->type) {
    case RECV_EMAIL:
        load_receiver_email(&s, r);
        break;
    case RECV_SLACK:
        require_secret(&s, "url", true, &r->url);
        check_secret_url(&s, r->url);
        break;
    case RECV_PAGERDUTY:
        get_secret(&s, "url", true, &r->url);
        if (!r->url)
            r->url = xstrdup("https://events.pagerduty.com/v2/enqueue");
        check_secret_url(&s, r->url);
        require_secret(&s, "routing_key", true, &r->routing_key);
        break;
    case RECV_WEBHOOK:
        require_secret(&s, "url", true, &r->url);
        check_secret_url(&s, r->url);
        get_secret(&s, "hmac_secret", true, &r->hmac_secret);
        get_headers(&s, &r->headers);
        break;
    case RECV_ALERTMANAGER: {
        /* url (if any) is also the first of urls */
        struct str_list more = { NULL, 0 };
        get_secret(&s, "url", false, &r->url);
        get_list(&s, "urls", &more);
        if (r->url) {
            strip_trailing_slashes(r->url);
            str_list_add(&r->urls, r->url);
        }
        for (size_t i = 0; i < more.n; i++)
            str_list_add(&r->urls, more.items[i]);
        str_list_free(&more);
        if (r->urls.n == 0)
            sec_error(&s, NULL, "url or urls is required");
        for (size_t i = 0; i < r->urls.n; i++) {
            strip_trailing_slashes(r->urls.items[i]);
            if (!is_http_url(r->urls.items[i]))
                sec_error(&s, r->url && i == 0 ? "url" : "urls",
                          "invalid Alertmanager URL '%s' (expected "
                          "http:// or https://)", r->urls.items[i]);
        }
        get_headers(&s, &r->headers);
        break;
    }
    case RECV_LOG:
    case RECV__COUNT:
        break;
    }
done:
    secctx_done(&s);
}

static void load_route(struct file_ctx *fc, cfg_t *sec, struct route_cfg *rt)
{
    const struct config *cfg = fc->ld->cfg;
    struct secctx s;
    secctx_init(&s, fc, sec, "route");
    memset(rt, 0, sizeof(*rt));
    rt->name = xstrdup(cfg_title(sec));
    rt->loc.file = fc->file;
    rt->loc.line = s.line;
    rt->receiver_index = -1;
    timing_copy(&rt->timing, &cfg->defaults);

    get_kv(&s, "match", &rt->match, "match", "label=glob");
    get_string(&s, "receiver", &rt->receiver);
    if (!rt->receiver) {
        sec_error(&s, NULL, "receiver is required");
    } else {
        const char **names = xcalloc(cfg->nreceivers + 1, sizeof(*names));
        for (size_t i = 0; i < cfg->nreceivers; i++) {
            names[i] = cfg->receivers[i].name;
            if (strcmp(names[i], rt->receiver) == 0)
                rt->receiver_index = (int)i;
        }
        if (rt->receiver_index < 0) {
            const char *dym = closest(rt->receiver, names, cfg->nreceivers);
            if (dym)
                sec_error(&s, "receiver", "unknown receiver '%s' (did you "
                          "mean '%s'?)", rt->receiver, dym);
            else
                sec_error(&s, "receiver", "unknown receiver '%s'",
                          rt->receiver);
        }
        free(names);
    }
    get_bool(&s, "continue", &rt->cont);
    load_timing(&s, &rt->timing);
    secctx_done(&s);
}

static void load_rule(struct file_ctx *fc, cfg_t *sec, struct rule_cfg *r)
{
    static const char *const nodata[] = { "keep", "ok", "alert" };
    static const char *const sev[] = { "critical", "error", "warning", "info" };
    struct secctx s;
    secctx_init(&s, fc, sec, "rule");
    rule_defaults(r);
    r->name = xstrdup(cfg_title(sec));
    r->loc.file = fc->file;
    r->loc.line = s.line;

    get_text(&s, "expr", &r->expr, &r->expr_line, &r->expr_col);
    /* an expr written wrongly was reported already */
    if (!r->expr && !scan_find_opt(&fc->sc, s.idx, "expr"))
        sec_error(&s, NULL, "expr is required");
    else if (r->expr && !r->expr[strspn(r->expr, " \t\r\n")])
        sec_error(&s, "expr", "expr is empty");
    get_text(&s, "warn", &r->warn, &r->warn_line, &r->warn_col);
    get_text(&s, "recover", &r->recover, &r->recover_line, &r->recover_col);
    get_interval(&s, "for", &r->for_s, true);
    get_interval(&s, "keep_firing_for", &r->keep_firing_for_s, true);
    get_interval(&s, "no_data_after", &r->no_data_after_s, true);
    int nd = get_enum(&s, "no_data", nodata, ARRAY_SIZE(nodata), NODATA_KEEP);
    if (nd >= 0)
        r->no_data = (enum no_data_mode)nd;
    get_bool(&s, "flap_detection", &r->flap_detection);
    if (get_enum(&s, "severity", sev, ARRAY_SIZE(sev), 0) >= 0)
        get_string(&s, "severity", &r->severity);
    get_list(&s, "sources", &r->sources);
    get_list(&s, "destinations", &r->destinations);
    get_list(&s, "workspaces", &r->workspaces);
    get_kv(&s, "labels", &r->labels, "label", "key=value");
    get_text(&s, "summary", &r->summary, &r->summary_line, &r->summary_col);
    get_text(&s, "description", &r->description, &r->description_line,
             &r->description_col);
    get_string(&s, "runbook_url", &r->runbook_url);
    secctx_done(&s);
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

static bool is_rule_sec(const struct scan *sc, size_t i)
{
    const struct scan_sec *s = &sc->secs[i];
    return s->parent == -1 && !s->blanked && streq(s->name, "rule");
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
 * (NULL, nothing reported, nothing staged): parse_text then parses the
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
        nrules += is_rule_sec(sc, i);
    /* libconfuse stops at a NUL byte; the scanner does not */
    if (nrules == 0 || strlen(text) != len)
        return NULL;

    struct diag_list *real = fc->ld->diags;
    struct idx_map titles = { NULL, 0, 0 };
    /* a chunk holds one rule section and nothing else: the rule file
     * schema is enough, and much cheaper for cfg_init to copy */
    struct confuse_opts co, rule_co;
    confuse_opts_build(fc->schema, &co);
    confuse_opts_build(&rulefile_schema, &rule_co);
    fc->quiet = true;
    fc->quiet_failed = false;

    char *rest = xstrndup(text, len);
    for (size_t i = 0; i < sc->nsecs; i++)
        if (is_rule_sec(sc, i))
            blank_text(rest, sc->secs[i].off, sc->secs[i].end);
    cfg_t *c = confuse_parse(fc, &co, rest);
    free(rest);
    if (!c || fc->quiet_failed || cfg_size(c, "rule") != 0)
        goto fail;

    for (size_t i = 0; i < sc->nsecs; i++) {
        if (!is_rule_sec(sc, i))
            continue;
        const struct scan_sec *ss = &sc->secs[i];
        char *chunk = xstrndup(text + ss->off, ss->end - ss->off);
        cfg_t *t = confuse_parse(fc, &rule_co, chunk);
        free(chunk);
        cfg_t *sec = NULL;
        if (t && !fc->quiet_failed && cfg_size(t, "rule") == 1)
            sec = cfg_getnsec(t, "rule", 0);
        const char *title = sec ? cfg_title(sec) : NULL;
        if (!title) {
            if (t)
                cfg_free(t);
            goto fail;
        }
        uint64_t h = hash_str(title);
        size_t k = idx_map_get(&titles, h, staged_name_match, fc, title);
        if (k == IDX_NONE) {
            k = fc->nstaged++;
            XGROW(fc->staged, fc->nstaged, fc->staged_cap);
            memset(&fc->staged[k], 0, sizeof(fc->staged[k]));
            idx_map_put(&titles, h, k);
        } else {
            /* a later copy replaces the earlier one, in its place */
            rule_free(&fc->staged[k].rule);
            diag_list_free(&fc->staged[k].diags);
        }
        fc->ld->diags = &fc->staged[k].diags;
        load_rule(fc, sec, &fc->staged[k].rule);
        fc->ld->diags = real;
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
    fc->quiet = false;
    idx_map_free(&titles);
    confuse_opts_free(&co);
    confuse_opts_free(&rule_co);
    return c;
}

/* Scan, check and parse a file already read; fc->file is set.  Returns the
 * libconfuse tree or NULL after a syntax error (reported).
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
    fc->file = cfg->files.items[cfg->files.n - 1];
    scan_text(&fc->sc, text, len);

    struct diag_list found = DIAG_LIST_INIT;
    struct diag_list *real = ld->diags;
    ld->diags = &found;
    check_sections(fc, text);
    check_options(fc, text);
    ld->diags = real;

    cfg_t *c = parse_split(fc, text, len);
    if (!c)
        c = parse_text(fc, text);
    for (size_t i = 0; i < found.n; i++) {
        const struct diag *d = &found.items[i];
        if (!c && fc->syntax_line && d->line >= fc->syntax_line)
            continue;
        diag_add(real, d->severity, d->file, d->line, d->col, "%s", d->msg);
    }
    diag_list_free(&found);
    return c;
}

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
        if (idx_map_get(&ld->rule_names, h, rule_name_match, cfg, name) ==
            IDX_NONE)
            idx_map_put(&ld->rule_names, h, ld->nrules_named);
    }
    size_t prev = idx_map_get(&ld->rule_names, hash_str(r->name),
                              rule_name_match, cfg, r->name);
    if (prev != IDX_NONE) {
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
        load_rule(fc, cfg_getnsec(root, "rule", i), &r);
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
    struct file_ctx fc = { .ld = ld, .schema = &rulefile_schema };
    cfg_t *c = parse_file(&fc, path, text, len);
    free(text);
    if (c) {
        load_rules_from(&fc, c);
        cfg_free(c);
    }
    staged_free(&fc);
    scan_free(&fc.sc);
}

static void load_rule_files(struct loader *ld, const char *main_file,
                            int line)
{
    const struct str_list *pats = &ld->cfg->rule_files;
    for (size_t i = 0; i < pats->n; i++) {
        char *pat = resolve_path(ld, pats->items[i]);
        glob_t g;
        int rc = glob(pat, 0, NULL, &g);
        if (rc == GLOB_NOMATCH)
            diag_warning(ld->diags, main_file, line, 0,
                         "rule_files: '%s' matches no file", pats->items[i]);
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

static void load_main_sections(struct file_ctx *fc, cfg_t *c)
{
    struct config *cfg = fc->ld->cfg;
    unsigned n;

    n = cfg_size(c, "workspace");
    cfg->workspaces = xcalloc(n, sizeof(*cfg->workspaces));
    for (unsigned i = 0; i < n; i++)
        load_workspace(fc, cfg_getnsec(c, "workspace", i),
                       &cfg->workspaces[cfg->nworkspaces++]);

    cfg_t *d = cfg_getsec(c, "defaults");
    if (d) {
        struct secctx s;
        secctx_init(&s, fc, d, "defaults");
        load_timing(&s, &cfg->defaults);
        secctx_done(&s);
    }

    n = cfg_size(c, "receiver");
    cfg->receivers = xcalloc(n, sizeof(*cfg->receivers));
    for (unsigned i = 0; i < n; i++)
        load_receiver(fc, cfg_getnsec(c, "receiver", i),
                      &cfg->receivers[cfg->nreceivers++]);

    n = cfg_size(c, "route");
    cfg->routes = xcalloc(n, sizeof(*cfg->routes));
    for (unsigned i = 0; i < n; i++)
        load_route(fc, cfg_getnsec(c, "route", i),
                   &cfg->routes[cfg->nroutes++]);

    load_rules_from(fc, c);
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
    if (cfg->nworkspaces == 0)
        return;
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
    struct file_ctx fc = { .ld = &ld, .schema = &main_schema };
    note_file(&ld, path);

    cfg_t *c = parse_file(&fc, path, text, len);
    free(text);
    if (c) {
        struct secctx root;
        secctx_init(&root, &fc, c, NULL);
        load_globals(&root, cfg);
        int rule_files_line = opt_line(&root, "rule_files");
        secctx_done(&root);
        load_main_sections(&fc, c);
        cfg_free(c);
        load_rule_files(&ld, fc.file, rule_files_line);
        check_config(&ld, fc.file);
    }
    sort_diags(diags, first_diag, &cfg->files);
    staged_free(&fc);
    scan_free(&fc.sc);
    free(ld.basedir);
    free(ld.seen);
    idx_map_free(&ld.rule_names);
    return cfg;
}

int config_load_rule_file(struct config *cfg, const char *path,
                          struct diag_list *diags)
{
    size_t before = diags->nerrors, first_diag = diags->n;
    struct loader ld = { .cfg = cfg, .diags = diags, .basedir = dir_of(path) };
    load_rule_file(&ld, path);
    sort_diags(diags, first_diag, &cfg->files);
    free(ld.basedir);
    free(ld.seen);
    idx_map_free(&ld.rule_names);
    return diags->nerrors > before ? -1 : 0;
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
