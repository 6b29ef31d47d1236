/*
 * scan.c - see scan.h.
 */
#include "config/scan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* ---- lexer ------------------------------------------------------------------
 *
 * Follows libconfuse's lexer closely enough to know where each section
 * and option starts.
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

/* ---- scanning ------------------------------------------------------------ */

/* Top-level sections are found by name and title. */
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

void scan_free(struct scan *sc)
{
    for (size_t i = 0; i < sc->nsecs; i++) {
        free(sc->secs[i].name);
        free(sc->secs[i].title);
    }
    for (size_t i = 0; i < sc->nopts; i++)
        free(sc->opts[i].name);
    free(sc->secs);
    free(sc->opts);
    index_map_free(&sc->by_title);
    memset(sc, 0, sizeof(*sc));
}

static bool is_name_tok(const struct token *t)
{
    return t->kind == TK_WORD || t->kind == TK_STR;
}

void scan_text(struct scan *sc, const char *text, size_t len)
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

void scan_blank(char *text, size_t off, size_t end)
{
    for (size_t i = off; i < end; i++)
        if (text[i] != '\n')
            text[i] = ' ';
}

/* ---- lookups ------------------------------------------------------------- */

char *scan_label(const char *name, const char *title)
{
    if (title)
        return xasprintf("%s \"%s\"", name, title);
    return xstrdup(name);
}

int scan_find_sec(const struct scan *sc, const char *name, const char *title)
{
    struct sec_key key = { name, title };
    size_t first = index_map_get(&sc->by_title, sec_key_hash(name, title),
                                 sec_key_match, sc, &key);
    return first == INDEX_NONE ? -1 : sc->secs[first].last;
}

const struct scan_opt *scan_find_opt(const struct scan *sc, int sec,
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

/* ---- structure checks ---------------------------------------------------- */

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

static void check_sections(struct scan *sc, const struct file_schema *fs,
                           const char *file, struct diag_list *dl, char *text)
{
    for (size_t i = 0; i < sc->nsecs; i++) {
        struct scan_sec *s = &sc->secs[i];
        char *label = scan_label(s->name, s->title);
        if (!s->closed)
            diag_error(dl, file, s->line, 0,
                       "section '%s' is not closed (missing '}')", label);

        if (s->parent >= 0) {
            /* Nothing nests in segalert's sections.  A known section
             * inside an unclosed one is the unclosed one's fault. */
            bool explained = schema_find_sec(schema_main(), s->name) &&
                             ancestor_unclosed(sc, (int)i);
            if (!explained) {
                char *plabel = scan_label(sc->secs[s->parent].name,
                                             sc->secs[s->parent].title);
                diag_error(dl, file, s->line, 0,
                           "%s: unexpected section '%s' (sections do not nest)",
                           plabel, s->name);
                free(plabel);
            }
            s->blanked = true;
        } else {
            const struct sec_spec *spec = schema_find_sec(fs, s->name);
            if (!spec && fs->rule_file &&
                schema_find_sec(schema_main(), s->name)) {
                diag_error(dl, file, s->line, 0,
                           "section '%s' is not allowed in a rule file "
                           "(rule files hold only rule sections)", s->name);
                s->blanked = true;
            } else if (!spec) {
                const char *cands[SCHEMA_MAX_SECS];
                for (size_t k = 0; k < fs->nsecs; k++)
                    cands[k] = fs->secs[k]->name;
                const char *dym = schema_closest(s->name, cands, fs->nsecs);
                diag_error(dl, file, s->line, 0,
                           "unknown section '%s'%s%s%s", s->name,
                           dym ? " (did you mean '" : "", dym ? dym : "",
                           dym ? "'?)" : "");
                s->blanked = true;
            } else if (spec->titled && !s->title) {
                diag_error(dl, file, s->line, 0,
                           "section '%s' needs a name: %s \"NAME\" { ... }",
                           s->name, s->name);
                s->blanked = true;
            } else if (!spec->titled && s->title) {
                diag_error(dl, file, s->line, 0,
                           "section '%s' takes no name", s->name);
                s->blanked = true;
            } else if (s->title && !s->title[0]) {
                diag_error(dl, file, s->line, 0,
                           "%s: the name must not be empty", s->name);
                s->blanked = true;
            } else {
                /* Every top-level section not blanked gets here, in
                 * order: the map holds the first copy of each. */
                struct sec_key key = { s->name, s->title };
                uint64_t h = sec_key_hash(s->name, s->title);
                size_t first = index_map_get(&sc->by_title, h, sec_key_match,
                                           sc, &key);
                if (first == INDEX_NONE) {
                    index_map_put(&sc->by_title, h, i);
                    s->last = (int)i;
                } else {
                    struct scan_sec *p = &sc->secs[first];
                    if (s->title)
                        diag_error(dl, file, s->line, 0,
                                   "duplicate %s (first defined at %s:%d)",
                                   label, file, p->line);
                    else
                        diag_error(dl, file, s->line, 0,
                                   "section '%s' given twice (first at %s:%d)",
                                   s->name, file, p->line);
                    p->last = (int)i;
                }
            }
        }
        if (s->blanked)
            scan_blank(text, s->off, s->end);
        free(label);
    }
}

static void check_options(struct scan *sc, const struct file_schema *fs,
                          const char *file, struct diag_list *dl, char *text)
{
    for (size_t i = 0; i < sc->nopts; i++) {
        struct scan_opt *o = &sc->opts[i];
        const struct opt_spec *opts = fs->root_opts;
        char *label = NULL;
        if (o->sec >= 0) {
            if (inside_blanked(sc, o->sec))
                continue;
            const struct scan_sec *s = &sc->secs[o->sec];
            const struct sec_spec *spec = schema_find_sec(fs, s->name);
            if (!spec)
                continue;
            opts = spec->opts;
            label = scan_label(s->name, s->title);
        }
        const struct opt_spec *spec = schema_find_opt(opts, o->name);
        const char *pfx = label ? label : "";
        const char *sep = label ? ": " : "";
        if (!spec) {
            const char *dym = schema_closest_opt(o->name, opts);
            if (dym)
                diag_error(dl, file, o->line, 0,
                           "%s%sno such option '%s' (did you mean '%s'?)",
                           pfx, sep, o->name, dym);
            else if (fs->rule_file && !label)
                diag_error(dl, file, o->line, 0,
                           "no such option '%s' (rule files hold only rule "
                           "sections)", o->name);
            else
                diag_error(dl, file, o->line, 0, "%s%sno such option '%s'",
                           pfx, sep, o->name);
        } else if (spec->kind == OPT_STR && o->is_list) {
            diag_error(dl, file, o->line, 0,
                       "%s%s%s takes a single value, not a list",
                       pfx, sep, o->name);
            scan_blank(text, o->off, o->end);
        } else if (spec->kind == OPT_STR && !o->append) {
            size_t to = o->sec >= 0 ? sc->secs[o->sec].end_opt : sc->nopts;
            for (size_t j = i + 1; j < to; j++) {
                const struct scan_opt *p = &sc->opts[j];
                if (p->sec == o->sec && strcmp(p->name, o->name) == 0) {
                    diag_warning(dl, file, o->line, 0,
                                 "%s%s%s is set twice; the value at line %d "
                                 "wins", pfx, sep, o->name, p->line);
                    break;
                }
            }
        }
        free(label);
    }
}


void scan_check(struct scan *sc, const struct file_schema *fs,
                const char *file, struct diag_list *diags, char *text)
{
    check_sections(sc, fs, file, diags, text);
    check_options(sc, fs, file, diags, text);
}

bool scan_is_rule_sec(const struct scan *sc, size_t i)
{
    const struct scan_sec *s = &sc->secs[i];
    return s->parent == -1 && !s->blanked && streq(s->name, "rule");
}
