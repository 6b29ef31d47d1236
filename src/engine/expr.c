/*
 * expr.c - see expr.h.
 *
 * The parser emits postfix code directly while descending (no AST): each
 * grammar rule leaves exactly one value on the evaluation stack.  The
 * first comparison operator the parser meets is, by construction, the
 * first in source order; right there it emits OP_CAPTURE, which copies the
 * comparison's left operand (top of stack) into the rule value.  Nothing is
 * short-circuited: every operand is evaluated, so the capture always runs
 * and three-valued and/or see both sides.
 */
#include "engine/expr.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each nesting level can hold at most 5 pending operands (of or, and, a
 * comparison, + and *), so a depth-legal expression always fits. */
#define EXPR_STACK_MAX (6 * (EXPR_MAX_DEPTH + 2))

enum op {
    OP_CONST,       /* push a */
    OP_VAR,         /* push vars[idx] */
    OP_LATEST,      /* push latest value of metric idx */
    OP_WINDOW,      /* push agg(metric idx) over (now-b-a, now-b] */
    OP_FORECAST,    /* horizon on top -> forecast(metric idx, window a) */
    OP_TIMELEFT,    /* threshold on top -> timeleft(metric idx, window a) */
    OP_CAPTURE,     /* rule value = top (not popped) */
    OP_NEG, OP_NOT,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV,
    OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE,
    OP_AND, OP_OR,
};

struct insn {
    uint8_t op;
    uint8_t agg;            /* enum store_agg for OP_WINDOW */
    int16_t idx;            /* metric id or variable index */
    double a;               /* constant, or window seconds */
    double b;               /* offset seconds */
};

struct expr {
    char *src;
    struct insn *code;
    size_t ncode, cap;
    int family;             /* -1 = no metric */
    double lookback_s;
    bool uses[M__COUNT];
    bool has_cmp;
};

static const char *const std_var_names[EXPR_VAR__COUNT] = {
    [EXPR_VAR_MTU_LIMIT] = "mtu_limit",
    [EXPR_VAR_API_CALLS_LIMIT] = "api_calls_limit",
    [EXPR_VAR_PERIOD_ELAPSED] = "period_elapsed",
    [EXPR_VAR_PERIOD_REMAINING] = "period_remaining",
};
const struct expr_env expr_env_std = { std_var_names, EXPR_VAR__COUNT };

/* ---- lexer ------------------------------------------------------------ */

enum tok {
    T_EOF, T_NUM, T_IDENT, T_VAR, T_LP, T_RP, T_COMMA,
    T_PLUS, T_MINUS, T_STAR, T_SLASH,
    T_LT, T_LE, T_GT, T_GE, T_EQ, T_NE,
    T_AND, T_OR, T_NOT, T_ERR,
};

struct token {
    enum tok kind;
    size_t pos, len;        /* bytes into src */
    double num;             /* T_NUM */
};

struct parser {
    const char *src;
    size_t pos;             /* lexer position */
    struct token tok;       /* current token */
    const struct expr_env *env;
    struct expr_error *err;
    bool failed;
    int depth;
    int sp, maxsp;
    int first_metric;       /* for the mixed-family message */
    struct expr *e;
};

static void PRINTF_LIKE(3, 4)
fail_at(struct parser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed)
        return;     /* the first error is the one worth reporting */
    p->failed = true;
    if (!p->err)
        return;
    int line = 1, col = 1;
    for (size_t i = 0; i < pos && p->src[i]; i++) {
        if (p->src[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    p->err->line = line;
    p->err->col = col;
    p->err->offset = pos;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
    va_end(ap);
}

/* Quote a token's text for messages, shortened if long. */
static void tok_text(const struct parser *p, const struct token *t,
                     char *buf, size_t len)
{
    if (t->kind == T_EOF) {
        snprintf(buf, len, "end of expression");
        return;
    }
    int n = (int)(t->len > 32 ? 32 : t->len);
    snprintf(buf, len, "'%.*s%s'", n, p->src + t->pos,
             t->len > 32 ? "..." : "");
}

static bool is_ident_start(int c)
{
    return isalpha(c) || c == '_';
}

static bool is_ident_char(int c)
{
    return isalnum(c) || c == '_';
}

static void lex_number(struct parser *p, struct token *t)
{
    const char *s = p->src;
    size_t i = p->pos;
    while (isdigit((unsigned char)s[i]) || s[i] == '.')
        i++;
    if ((s[i] == 'e' || s[i] == 'E') &&
        (isdigit((unsigned char)s[i + 1]) ||
         ((s[i + 1] == '+' || s[i + 1] == '-') &&
          isdigit((unsigned char)s[i + 2])))) {
        i += 2;
        while (isdigit((unsigned char)s[i]))
            i++;
    }
    size_t numlen = i - p->pos;
    /* the unit, and for chained durations (1h30m) the rest of the run */
    while (isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '%')
        i++;
    t->len = i - p->pos;
    p->pos = i;

    char buf[64];
    if (t->len >= sizeof(buf)) {
        fail_at(p, t->pos, "number too long");
        t->kind = T_ERR;
        return;
    }
    memcpy(buf, s + t->pos, t->len);
    buf[t->len] = '\0';
    const char *unit = buf + numlen;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    bool ok = end == unit && numlen > 0;
    if (ok && !*unit) {
        /* plain number */
    } else if (ok && strcmp(unit, "%") == 0) {
        v *= 0.01;
    } else if (ok && strcmp(unit, "k") == 0) {
        v *= 1e3;
    } else if (ok && strcmp(unit, "M") == 0) {
        v *= 1e6;
    } else if (ok && strcmp(unit, "G") == 0) {
        v *= 1e9;
    } else if (parse_duration(buf, &v) == 0) {
        ok = true;
    } else {
        fail_at(p, t->pos, "invalid number '%s' (units: %% ms s m h d w k M G)",
                buf);
        t->kind = T_ERR;
        return;
    }
    if (!isfinite(v) || errno == ERANGE) {
        fail_at(p, t->pos, "number '%s' out of range", buf);
        t->kind = T_ERR;
        return;
    }
    t->num = v;
}

static void next(struct parser *p)
{
    const char *s = p->src;
    struct token *t = &p->tok;
    while (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' ||
           s[p->pos] == '\r')
        p->pos++;
    t->pos = p->pos;
    t->len = 1;
    t->num = 0;
    char c = s[p->pos];
    char c1 = c ? s[p->pos + 1] : '\0';
    if (p->failed) {
        t->kind = T_ERR;
        return;
    }
    if (!c) {
        t->kind = T_EOF;
        t->len = 0;
        return;
    }
    if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)c1))) {
        t->kind = T_NUM;
        lex_number(p, t);
        return;
    }
    if (is_ident_start((unsigned char)c)) {
        size_t i = p->pos;
        while (is_ident_char((unsigned char)s[i]))
            i++;
        t->len = i - p->pos;
        p->pos = i;
        t->kind = T_IDENT;
        if (t->len == 3 && memcmp(s + t->pos, "and", 3) == 0)
            t->kind = T_AND;
        else if (t->len == 2 && memcmp(s + t->pos, "or", 2) == 0)
            t->kind = T_OR;
        else if (t->len == 3 && memcmp(s + t->pos, "not", 3) == 0)
            t->kind = T_NOT;
        return;
    }
    if (c == '$') {
        size_t i = p->pos + 1;
        if (!is_ident_start((unsigned char)s[i])) {
            fail_at(p, t->pos, "expected a variable name after '$'");
            t->kind = T_ERR;
            return;
        }
        while (is_ident_char((unsigned char)s[i]))
            i++;
        t->len = i - p->pos;
        p->pos = i;
        t->kind = T_VAR;
        return;
    }
    p->pos++;
    switch (c) {
    case '(': t->kind = T_LP; return;
    case ')': t->kind = T_RP; return;
    case ',': t->kind = T_COMMA; return;
    case '+': t->kind = T_PLUS; return;
    case '-': t->kind = T_MINUS; return;
    case '*': t->kind = T_STAR; return;
    case '/': t->kind = T_SLASH; return;
    case '<':
    case '>':
        if (c1 == '=') {
            p->pos++;
            t->len = 2;
            t->kind = c == '<' ? T_LE : T_GE;
        } else {
            t->kind = c == '<' ? T_LT : T_GT;
        }
        return;
    case '=':
        if (c1 == '=') {
            p->pos++;
            t->len = 2;
            t->kind = T_EQ;
            return;
        }
        fail_at(p, t->pos, "unexpected '=' (use '==' to compare)");
        break;
    case '!':
        if (c1 == '=') {
            p->pos++;
            t->len = 2;
            t->kind = T_NE;
            return;
        }
        fail_at(p, t->pos, "unexpected '!' (use 'not')");
        break;
    case '&':
        fail_at(p, t->pos, "unexpected '&' (use 'and')");
        break;
    case '|':
        fail_at(p, t->pos, "unexpected '|' (use 'or')");
        break;
    default:
        if (isprint((unsigned char)c))
            fail_at(p, t->pos, "unexpected character '%c'", c);
        else
            fail_at(p, t->pos, "unexpected byte 0x%02x",
                    (unsigned)(unsigned char)c);
        break;
    }
    t->kind = T_ERR;
}

/* ---- code emission ------------------------------------------------------- */

static void emit(struct parser *p, enum op op, int idx, double a, double b,
                 int agg)
{
    struct expr *e = p->e;
    XGROW(e->code, e->ncode + 1, e->cap);
    struct insn *i = &e->code[e->ncode++];
    i->op = (uint8_t)op;
    i->agg = (uint8_t)agg;
    i->idx = (int16_t)idx;
    i->a = a;
    i->b = b;
    switch (op) {
    case OP_CONST: case OP_VAR: case OP_LATEST: case OP_WINDOW:
        p->sp++;
        break;
    case OP_FORECAST: case OP_TIMELEFT: case OP_CAPTURE: case OP_NEG:
    case OP_NOT:
        break;
    default:
        p->sp--;            /* binary operators */
        break;
    }
    if (p->sp > p->maxsp)
        p->maxsp = p->sp;
}

/* ---- parser --------------------------------------------------------------- */

static void parse_or(struct parser *p);

static bool enter(struct parser *p)
{
    if (++p->depth > EXPR_MAX_DEPTH) {
        fail_at(p, p->tok.pos, "expression nested too deeply (more than %d "
                "levels)", EXPR_MAX_DEPTH);
        return false;
    }
    return true;
}

static void leave(struct parser *p)
{
    p->depth--;
}

enum fn_kind { FN_WINDOW, FN_LAST, FN_FORECAST, FN_TIMELEFT };

static const struct {
    const char *name;
    enum fn_kind kind;
    enum store_agg agg;
    const char *usage;
} functions[] = {
    { "avg", FN_WINDOW, AGG_AVG, "avg(metric, window[, offset])" },
    { "min", FN_WINDOW, AGG_MIN, "min(metric, window[, offset])" },
    { "max", FN_WINDOW, AGG_MAX, "max(metric, window[, offset])" },
    { "sum", FN_WINDOW, AGG_SUM, "sum(metric, window[, offset])" },
    { "count", FN_WINDOW, AGG_COUNT, "count(metric, window[, offset])" },
    { "last", FN_LAST, AGG_LAST, "last(metric[, window[, offset]])" },
    { "delta", FN_WINDOW, AGG_DELTA, "delta(metric, window[, offset])" },
    { "rate", FN_WINDOW, AGG_RATE, "rate(metric, window[, offset])" },
    { "forecast", FN_FORECAST, AGG_LAST, "forecast(metric, window, horizon)" },
    { "timeleft", FN_TIMELEFT, AGG_LAST, "timeleft(metric, window, threshold)" },
};

static int function_lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_SIZE(functions); i++)
        if (strlen(functions[i].name) == len &&
            memcmp(functions[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

/* Resolve the metric name of the current T_IDENT token, check its family;
 * returns its id or -1 after reporting. */
static int metric_ref(struct parser *p)
{
    const struct token *t = &p->tok;
    char name[64];
    if (t->len >= sizeof(name)) {
        fail_at(p, t->pos, "unknown metric '%.32s...'", p->src + t->pos);
        return -1;
    }
    memcpy(name, p->src + t->pos, t->len);
    name[t->len] = '\0';
    int id = metric_lookup(name);
    if (id < 0) {
        const char *sugg = metric_suggest(name);
        char lower[64];
        for (size_t i = 0; i <= t->len; i++)
            lower[i] = (char)tolower((unsigned char)name[i]);
        if (function_lookup(name, t->len) >= 0)
            fail_at(p, t->pos, "function '%s' needs arguments: %s", name,
                    functions[function_lookup(name, t->len)].usage);
        else if (!strcmp(lower, "and") || !strcmp(lower, "or") ||
                 !strcmp(lower, "not"))
            fail_at(p, t->pos, "unknown metric '%s' (keywords are lowercase: "
                    "'%s')", name, lower);
        else if (sugg)
            fail_at(p, t->pos, "unknown metric '%s' (did you mean '%s'?)",
                    name, sugg);
        else
            fail_at(p, t->pos, "unknown metric '%s'", name);
        return -1;
    }
    enum family fam = metric_table[id].family;
    if (p->e->family < 0) {
        p->e->family = (int)fam;
        p->first_metric = id;
    } else if (p->e->family != (int)fam) {
        fail_at(p, t->pos, "mixes metric families: '%s' (%s) and '%s' (%s)",
                metric_table[p->first_metric].name,
                family_name((enum family)p->e->family),
                name, family_name(fam));
        return -1;
    }
    p->e->uses[id] = true;
    return id;
}

/* A window or offset argument: a number literal (seconds). */
static bool const_arg(struct parser *p, const char *what, const char *fname,
                      bool positive, double *out)
{
    size_t pos = p->tok.pos;
    bool neg = false;
    if (p->tok.kind == T_MINUS) {
        neg = true;
        next(p);
    }
    if (p->tok.kind != T_NUM) {
        if (!p->failed)
            fail_at(p, pos, "%s of %s() must be a constant duration such as "
                    "%s", what, fname, positive ? "1h" : "7d");
        return false;
    }
    double v = neg ? -p->tok.num : p->tok.num;
    if (positive ? !(v > 0) : !(v >= 0)) {
        fail_at(p, pos, "%s of %s() must be a %s duration such as %s", what,
                fname, positive ? "positive" : "non-negative",
                positive ? "1h" : "7d");
        return false;
    }
    *out = v;
    next(p);
    return true;
}

static void note_lookback(struct parser *p, double s)
{
    if (s > p->e->lookback_s)
        p->e->lookback_s = s;
}

static bool peek_lparen(const struct parser *p);

static void parse_call(struct parser *p)
{
    struct token name = p->tok;
    char buf[64];
    int f = function_lookup(p->src + name.pos, name.len);
    if (f < 0) {
        int n = (int)(name.len > 32 ? 32 : name.len);
        snprintf(buf, sizeof(buf), "%.*s", n, p->src + name.pos);
        if (metric_lookup(buf) >= 0) {
            fail_at(p, name.pos, "'%s' is a metric, not a function", buf);
            return;
        }
        const char *best = NULL;
        int best_d = 3;
        for (size_t i = 0; i < ARRAY_SIZE(functions); i++) {
            int d = edit_distance(buf, functions[i].name, 2);
            if (d < best_d) {
                best_d = d;
                best = functions[i].name;
            }
        }
        if (best)
            fail_at(p, name.pos, "unknown function '%s' (did you mean '%s'?)",
                    buf, best);
        else
            fail_at(p, name.pos, "unknown function '%s' (functions: avg min "
                    "max sum count last delta rate forecast timeleft)", buf);
        return;
    }
    const char *fname = functions[f].name;
    enum fn_kind kind = functions[f].kind;
    next(p);                        /* the name */
    next(p);                        /* '(' */

    if (p->tok.kind == T_RP) {
        fail_at(p, name.pos, "%s() takes arguments: %s", fname,
                functions[f].usage);
        return;
    }
    if (p->tok.kind != T_IDENT || peek_lparen(p)) {
        if (!p->failed)
            fail_at(p, p->tok.pos, "first argument of %s() must be a metric "
                    "name", fname);
        return;
    }
    size_t mpos = p->tok.pos;
    int m = metric_ref(p);
    if (m < 0)
        return;
    next(p);
    if (p->tok.kind != T_COMMA && p->tok.kind != T_RP) {
        if (!p->failed)
            fail_at(p, mpos, "first argument of %s() must be a metric name",
                    fname);
        return;
    }
    if (p->tok.kind == T_RP) {
        if (kind != FN_LAST) {
            fail_at(p, name.pos, "%s() takes more arguments: %s", fname,
                    functions[f].usage);
            return;
        }
        next(p);
        emit(p, OP_LATEST, m, 0, 0, 0);
        return;
    }
    next(p);                        /* ',' */
    double window, offset = 0;
    if (!const_arg(p, "window", fname, true, &window))
        return;

    if (kind == FN_FORECAST || kind == FN_TIMELEFT) {
        if (p->tok.kind != T_COMMA) {
            if (p->tok.kind == T_RP)
                fail_at(p, name.pos, "%s() takes 3 arguments: %s", fname,
                        functions[f].usage);
            else if (!p->failed)
                fail_at(p, p->tok.pos, "expected ',' in %s()", fname);
            return;
        }
        next(p);
        if (!enter(p))
            return;
        parse_or(p);
        leave(p);
        if (p->failed)
            return;
        if (p->tok.kind != T_RP) {
            if (p->tok.kind == T_COMMA)
                fail_at(p, name.pos, "%s() takes 3 arguments: %s", fname,
                        functions[f].usage);
            else
                fail_at(p, p->tok.pos, "expected ')' to close %s()", fname);
            return;
        }
        next(p);
        note_lookback(p, window);
        emit(p, kind == FN_FORECAST ? OP_FORECAST : OP_TIMELEFT, m, window,
             0, 0);
        return;
    }

    if (p->tok.kind == T_COMMA) {
        next(p);
        if (!const_arg(p, "offset", fname, false, &offset))
            return;
    }
    if (p->tok.kind != T_RP) {
        if (p->tok.kind == T_COMMA)
            fail_at(p, name.pos, "%s() takes at most 3 arguments: %s", fname,
                    functions[f].usage);
        else if (!p->failed)
            fail_at(p, p->tok.pos, "expected ')' to close %s()", fname);
        return;
    }
    next(p);
    note_lookback(p, window + offset);
    emit(p, OP_WINDOW, m, window, offset, (int)functions[f].agg);
}

static bool peek_lparen(const struct parser *p)
{
    size_t i = p->pos;
    while (p->src[i] == ' ' || p->src[i] == '\t' || p->src[i] == '\n' ||
           p->src[i] == '\r')
        i++;
    return p->src[i] == '(';
}

static void parse_primary(struct parser *p)
{
    struct token t = p->tok;
    char buf[48];
    switch (t.kind) {
    case T_NUM:
        emit(p, OP_CONST, 0, t.num, 0, 0);
        next(p);
        return;
    case T_VAR: {
        const struct expr_env *env = p->env;
        const char *name = p->src + t.pos + 1;
        size_t len = t.len - 1;
        for (size_t i = 0; env && i < env->nvars; i++) {
            if (strlen(env->var_names[i]) == len &&
                memcmp(env->var_names[i], name, len) == 0) {
                emit(p, OP_VAR, (int)i, 0, 0, 0);
                next(p);
                return;
            }
        }
        int n = (int)(len > 32 ? 32 : len);
        snprintf(buf, sizeof(buf), "%.*s", n, name);
        const char *best = NULL;
        int best_d = 4;
        for (size_t i = 0; env && i < env->nvars; i++) {
            int d = edit_distance(buf, env->var_names[i], 3);
            if (d < best_d) {
                best_d = d;
                best = env->var_names[i];
            }
        }
        if (best)
            fail_at(p, t.pos, "unknown variable '$%s' (did you mean '$%s'?)",
                    buf, best);
        else
            fail_at(p, t.pos, "unknown variable '$%s'", buf);
        return;
    }
    case T_IDENT:
        if (peek_lparen(p)) {
            parse_call(p);
            return;
        }
        {
            int m = metric_ref(p);
            if (m < 0)
                return;
            emit(p, OP_LATEST, m, 0, 0, 0);
            next(p);
        }
        return;
    case T_LP:
        if (!enter(p))
            return;
        next(p);
        parse_or(p);
        leave(p);
        if (p->failed)
            return;
        if (p->tok.kind == T_RP) {
            next(p);
        } else if (p->tok.kind == T_EOF) {
            fail_at(p, t.pos, "unbalanced parenthesis: '(' is never closed");
        } else {
            tok_text(p, &p->tok, buf, sizeof(buf));
            fail_at(p, p->tok.pos, "expected ')' but found %s", buf);
        }
        return;
    case T_ERR:
        return;
    case T_EOF:
        if (t.pos == 0 || strspn(p->src, " \t\r\n") == t.pos)
            fail_at(p, 0, "empty expression");
        else
            fail_at(p, t.pos, "unexpected end of expression: expected a "
                    "value");
        return;
    default:
        tok_text(p, &t, buf, sizeof(buf));
        fail_at(p, t.pos, "expected a number, metric, $variable, function or "
                "'(' but found %s", buf);
        return;
    }
}

static void parse_unary(struct parser *p)
{
    if (p->tok.kind != T_MINUS) {
        parse_primary(p);
        return;
    }
    if (!enter(p))
        return;
    next(p);
    parse_unary(p);
    leave(p);
    if (p->failed)
        return;
    struct insn *last = &p->e->code[p->e->ncode - 1];
    if (last->op == OP_CONST)
        last->a = -last->a;         /* fold literal negation */
    else
        emit(p, OP_NEG, 0, 0, 0, 0);
}

static void parse_prod(struct parser *p)
{
    parse_unary(p);
    while (!p->failed && (p->tok.kind == T_STAR || p->tok.kind == T_SLASH)) {
        enum op op = p->tok.kind == T_STAR ? OP_MUL : OP_DIV;
        next(p);
        parse_unary(p);
        emit(p, op, 0, 0, 0, 0);
    }
}

static void parse_sum(struct parser *p)
{
    parse_prod(p);
    while (!p->failed && (p->tok.kind == T_PLUS || p->tok.kind == T_MINUS)) {
        enum op op = p->tok.kind == T_PLUS ? OP_ADD : OP_SUB;
        next(p);
        parse_prod(p);
        emit(p, op, 0, 0, 0, 0);
    }
}

static int cmp_op(enum tok k)
{
    switch (k) {
    case T_LT: return OP_LT;
    case T_LE: return OP_LE;
    case T_GT: return OP_GT;
    case T_GE: return OP_GE;
    case T_EQ: return OP_EQ;
    case T_NE: return OP_NE;
    default: return -1;
    }
}

static void parse_cmp(struct parser *p)
{
    parse_sum(p);
    if (p->failed)
        return;
    int op = cmp_op(p->tok.kind);
    if (op < 0)
        return;
    if (!p->e->has_cmp) {
        p->e->has_cmp = true;
        emit(p, OP_CAPTURE, 0, 0, 0, 0);
    }
    next(p);
    parse_sum(p);
    if (p->failed)
        return;
    emit(p, (enum op)op, 0, 0, 0, 0);
    if (cmp_op(p->tok.kind) >= 0)
        fail_at(p, p->tok.pos, "comparisons cannot be chained: write "
                "'a < b and b < c'");
}

static void parse_not(struct parser *p)
{
    if (p->tok.kind != T_NOT) {
        parse_cmp(p);
        return;
    }
    if (!enter(p))
        return;
    next(p);
    parse_not(p);
    leave(p);
    if (!p->failed)
        emit(p, OP_NOT, 0, 0, 0, 0);
}

static void parse_and(struct parser *p)
{
    parse_not(p);
    while (!p->failed && p->tok.kind == T_AND) {
        next(p);
        parse_not(p);
        emit(p, OP_AND, 0, 0, 0, 0);
    }
}

static void parse_or(struct parser *p)
{
    parse_and(p);
    while (!p->failed && p->tok.kind == T_OR) {
        next(p);
        parse_and(p);
        emit(p, OP_OR, 0, 0, 0, 0);
    }
}

struct expr *expr_compile(const char *src, const struct expr_env *env,
                          struct expr_error *err)
{
    struct parser p;
    memset(&p, 0, sizeof(p));
    if (err)
        memset(err, 0, sizeof(*err));
    p.src = src ? src : "";
    p.env = env;
    p.err = err;
    p.e = xcalloc(1, sizeof(*p.e));
    p.e->family = -1;
    next(&p);
    parse_or(&p);
    if (!p.failed && p.tok.kind != T_EOF) {
        char buf[48];
        tok_text(&p, &p.tok, buf, sizeof(buf));
        char kw[4] = "";
        if (p.tok.kind == T_IDENT && p.tok.len <= 3) {
            for (size_t i = 0; i < p.tok.len; i++)
                kw[i] = (char)tolower((unsigned char)p.src[p.tok.pos + i]);
            kw[p.tok.len] = '\0';
        }
        if (p.tok.kind == T_RP)
            fail_at(&p, p.tok.pos, "unbalanced parenthesis: ')' without "
                    "matching '('");
        else if (!strcmp(kw, "and") || !strcmp(kw, "or") ||
                 !strcmp(kw, "not"))
            fail_at(&p, p.tok.pos, "unexpected %s (keywords are lowercase: "
                    "'%s')", buf, kw);
        else
            fail_at(&p, p.tok.pos, "unexpected %s after a complete "
                    "expression (missing 'and' or 'or'?)", buf);
    }
    if (!p.failed && p.maxsp > EXPR_STACK_MAX)
        fail_at(&p, 0, "expression too complex");
    if (p.failed) {
        expr_free(p.e);
        return NULL;
    }
    p.e->src = xstrdup(p.src);
    return p.e;
}

void expr_free(struct expr *e)
{
    if (!e)
        return;
    free(e->src);
    free(e->code);
    free(e);
}

int expr_family(const struct expr *e)
{
    return e->family;
}

double expr_max_lookback(const struct expr *e)
{
    return e->lookback_s;
}

double expr_metric_lookback(const struct expr *e, enum metric_id m)
{
    double back = -1;
    for (size_t i = 0; i < e->ncode; i++) {
        const struct insn *in = &e->code[i];
        if (in->idx != (int)m)
            continue;
        if (in->op == OP_WINDOW && in->a + in->b > back)
            back = in->a + in->b;
        else if ((in->op == OP_FORECAST || in->op == OP_TIMELEFT) &&
                 in->a > back)
            back = in->a;
    }
    return back;
}

bool expr_uses_metric(const struct expr *e, enum metric_id m)
{
    return (unsigned)m < M__COUNT && e->uses[m];
}

int expr_value_metric(const struct expr *e)
{
    /* Postfix code: the left-hand side of the first comparison (the rule
     * value) is emitted before everything after it, so the first metric
     * read is the value's when it reads one. */
    for (size_t i = 0; i < e->ncode; i++) {
        switch (e->code[i].op) {
        case OP_LATEST: case OP_WINDOW: case OP_FORECAST: case OP_TIMELEFT:
            return e->code[i].idx;
        default:
            break;
        }
    }
    return -1;
}

/* A unit for every stack slot while the code runs, up to the rule value,
 * as a base unit and a power (count^1, seconds^1; a ratio is any base to
 * the power 0), so that products and quotients come out right:
 * "a / b" of one unit is a ratio, and "volume * sum(attempted) /
 * sum(volume)" is a count again, not a ratio.  UNITLESS is a literal or a
 * variable: it takes the unit of what it is combined with, so "x / 60"
 * keeps x's unit. */
#define UNITLESS (-1)
#define U_POW0 8                /* power p is stored as p + U_POW0 */
#define U_MAKE(base, pow) ((int)(base) * 16 + (pow) + U_POW0)
#define U_BASE(u) ((u) / 16)
#define U_POW(u) ((u) % 16 - U_POW0)

static int unit_of_metric(enum metric_unit mu)
{
    return mu == UNIT_RATIO ? U_MAKE(UNIT_COUNT, 0) : U_MAKE(mu, 1);
}

static int unit_scale(int a, int b, int sign)
{
    int pa = U_POW(a), pb = U_POW(b);
    if (pb == 0)
        return a;
    if (pa == 0)
        return sign > 0 ? b : U_MAKE(U_BASE(b), -pb);
    if (U_BASE(a) != U_BASE(b))
        return a;           /* seconds x count and the like: the left one */
    int p = pa + sign * pb;
    if (p < -7 || p > 7)
        return a;
    return U_MAKE(U_BASE(a), p);
}

static int unit_combine(enum op op, int a, int b)
{
    switch (op) {
    case OP_ADD: case OP_SUB:
        return a == UNITLESS ? b : a;
    case OP_MUL:
        if (a == UNITLESS || b == UNITLESS)
            return a == UNITLESS ? b : a;
        return unit_scale(a, b, 1);
    case OP_DIV:
        if (b == UNITLESS)
            return a;
        if (a == UNITLESS)
            return UNITLESS;
        return unit_scale(a, b, -1);
    default:
        return UNITLESS;    /* comparisons and logic: a truth value */
    }
}

static enum metric_unit unit_final(int u)
{
    if (u == UNITLESS)
        return UNIT_COUNT;
    if (U_POW(u) == 0)
        return UNIT_RATIO;
    if (U_POW(u) == 1)
        return (enum metric_unit)U_BASE(u);
    return UNIT_COUNT;
}

enum metric_unit expr_value_unit(const struct expr *e)
{
    int *st = xcalloc(e->ncode + 1, sizeof(*st));
    size_t sp = 0;
    int value = UNITLESS;
    bool captured = false;
    for (size_t i = 0; i < e->ncode && !captured; i++) {
        const struct insn *in = &e->code[i];
        switch (in->op) {
        case OP_CONST: case OP_VAR:
            st[sp++] = UNITLESS;
            break;
        case OP_LATEST:
            st[sp++] = unit_of_metric(metric_table[in->idx].unit);
            break;
        case OP_WINDOW:
            st[sp++] = in->agg == AGG_COUNT
                           ? U_MAKE(UNIT_COUNT, 1)
                           : unit_of_metric(metric_table[in->idx].unit);
            break;
        case OP_FORECAST:
            if (sp)
                st[sp - 1] = unit_of_metric(metric_table[in->idx].unit);
            break;
        case OP_TIMELEFT:
            if (sp)
                st[sp - 1] = U_MAKE(UNIT_SECONDS, 1);
            break;
        case OP_CAPTURE:
            value = sp ? st[sp - 1] : UNITLESS;
            captured = true;
            break;
        case OP_NEG:
            break;
        case OP_NOT:
            if (sp)
                st[sp - 1] = UNITLESS;
            break;
        default:
            if (sp >= 2) {
                st[sp - 2] = unit_combine((enum op)in->op, st[sp - 2],
                                          st[sp - 1]);
                sp--;
            }
            break;
        }
    }
    if (!captured && sp)
        value = st[sp - 1];
    free(st);
    return unit_final(value);
}

const char *expr_source(const struct expr *e)
{
    return e->src;
}

void expr_error_excerpt(const struct expr_error *err, const char *src,
                        struct strbuf *sb)
{
    const char *line = src ? src : "";
    for (int l = 1; l < err->line; l++) {
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
    size_t len = strcspn(line, "\r\n");
    strbuf_add(sb, line, len);
    strbuf_addc(sb, '\n');
    for (int c = 1; c < err->col; c++)
        strbuf_addc(sb, (size_t)(c - 1) < len && line[c - 1] == '\t' ? '\t'
                                                                       : ' ');
    strbuf_addc(sb, '^');
}

/* ---- evaluation -------------------------------------------------------------- */

static inline bool truthy(double v)
{
    return !isnan(v) && v != 0;
}

static inline double cmp_result(double l, double r, bool c)
{
    return isnan(l) || isnan(r) ? NAN : (c ? 1.0 : 0.0);
}

/* agg(metric) over the window of an OP_WINDOW, through the memo. */
static double window_value(const struct insn *i, const struct series *s,
                           double now, struct expr_memo *memo)
{
    const struct expr_memo_entry *hit = NULL;
    struct expr_memo_entry one;
    for (size_t k = 0; k < memo->n && !hit; k++) {
        const struct expr_memo_entry *m = &memo->e[k];
        if (m->metric == i->idx && m->window_s == i->a && m->offset_s == i->b)
            hit = m;
    }
    if (!hit) {
        if (!s)
            return NAN;
        struct expr_memo_entry *m = memo->n < EXPR_MEMO_MAX
                                        ? &memo->e[memo->n++] : &one;
        m->metric = i->idx;
        m->window_s = i->a;
        m->offset_s = i->b;
        m->of_family = series_window_scan(s, (enum metric_id)i->idx,
                                          now - i->b - i->a, now - i->b,
                                          &m->w);
        hit = m;
    }
    double v;
    return hit->of_family &&
           store_window_agg(&hit->w, (enum store_agg)i->agg, &v) ? v : NAN;
}

struct expr_result expr_eval(const struct expr *e, const struct series *s,
                             double now, const struct expr_vars *vars)
{
    return expr_eval_memo(e, s, now, vars, NULL);
}

struct expr_result expr_eval_memo(const struct expr *e,
                                  const struct series *s, double now,
                                  const struct expr_vars *vars,
                                  struct expr_memo *memo)
{
    struct expr_memo own;
    if (!memo) {
        own.n = 0;
        memo = &own;
    }
    double st[EXPR_STACK_MAX];
    int sp = 0;
    double value = NAN;
    const struct insn *i = e->code, *end = e->code + e->ncode;
    for (; i < end; i++) {
        double l, r, v;
        switch ((enum op)i->op) {
        case OP_CONST:
            st[sp++] = i->a;
            break;
        case OP_VAR:
            st[sp++] = vars && (size_t)i->idx < vars->n ? vars->values[i->idx]
                                                        : NAN;
            break;
        case OP_LATEST:
            st[sp++] = s && series_latest(s, (enum metric_id)i->idx, &v, NULL)
                       ? v : NAN;
            break;
        case OP_WINDOW:
            st[sp++] = window_value(i, s, now, memo);
            break;
        case OP_FORECAST:
            r = st[sp - 1];
            st[sp - 1] = s && !isnan(r) &&
                         series_forecast(s, (enum metric_id)i->idx,
                                         now - i->a, now, now + r, &v)
                         ? v : NAN;
            break;
        case OP_TIMELEFT:
            r = st[sp - 1];
            st[sp - 1] = s && !isnan(r) &&
                         series_timeleft(s, (enum metric_id)i->idx,
                                         now - i->a, now, now, r, &v)
                         ? v : NAN;
            break;
        case OP_CAPTURE:
            value = st[sp - 1];
            break;
        case OP_NEG:
            st[sp - 1] = -st[sp - 1];
            break;
        case OP_NOT:
            l = st[sp - 1];
            st[sp - 1] = isnan(l) ? NAN : (l == 0 ? 1.0 : 0.0);
            break;
        default:
            r = st[--sp];
            l = st[sp - 1];
            switch ((enum op)i->op) {
            case OP_ADD: v = l + r; break;
            case OP_SUB: v = l - r; break;
            case OP_MUL: v = l * r; break;
            case OP_DIV: v = r == 0 ? NAN : l / r; break;
            case OP_LT: v = cmp_result(l, r, l < r); break;
            case OP_LE: v = cmp_result(l, r, l <= r); break;
            case OP_GT: v = cmp_result(l, r, l > r); break;
            case OP_GE: v = cmp_result(l, r, l >= r); break;
            case OP_EQ: v = cmp_result(l, r, l == r); break;
            case OP_NE: v = cmp_result(l, r, l != r); break;
            case OP_AND:
                /* a decided false wins over unknown */
                v = l == 0 || r == 0 ? 0.0
                  : isnan(l) || isnan(r) ? NAN : 1.0;
                break;
            case OP_OR:
                v = truthy(l) || truthy(r) ? 1.0
                  : isnan(l) || isnan(r) ? NAN : 0.0;
                break;
            default:
                v = NAN;
                break;
            }
            st[sp - 1] = v;
            break;
        }
    }
    double top = sp > 0 ? st[sp - 1] : NAN;
    struct expr_result res;
    res.cond = truthy(top);
    res.nodata = isnan(top);
    res.value = e->has_cmp ? value : top;
    return res;
}

/* ---- debugging ------------------------------------------------------------- */

static const char *const op_names[] = {
    [OP_CONST] = "const", [OP_VAR] = "var", [OP_LATEST] = "latest",
    [OP_WINDOW] = "window", [OP_FORECAST] = "forecast",
    [OP_TIMELEFT] = "timeleft", [OP_CAPTURE] = "capture", [OP_NEG] = "neg",
    [OP_NOT] = "not", [OP_ADD] = "add", [OP_SUB] = "sub", [OP_MUL] = "mul",
    [OP_DIV] = "div", [OP_LT] = "lt", [OP_LE] = "le", [OP_GT] = "gt",
    [OP_GE] = "ge", [OP_EQ] = "eq", [OP_NE] = "ne", [OP_AND] = "and",
    [OP_OR] = "or",
};

static const char *const agg_names[] = {
    [AGG_AVG] = "avg", [AGG_MIN] = "min", [AGG_MAX] = "max",
    [AGG_SUM] = "sum", [AGG_COUNT] = "count", [AGG_LAST] = "last",
    [AGG_DELTA] = "delta", [AGG_RATE] = "rate",
};

void expr_dump(const struct expr *e, struct strbuf *sb)
{
    for (size_t k = 0; k < e->ncode; k++) {
        const struct insn *i = &e->code[k];
        if (k)
            strbuf_addc(sb, ' ');
        strbuf_adds(sb, op_names[i->op]);
        switch ((enum op)i->op) {
        case OP_CONST:
            strbuf_addf(sb, "(%.17g)", i->a);
            break;
        case OP_VAR:
            strbuf_addf(sb, "(%d)", i->idx);
            break;
        case OP_LATEST:
            strbuf_addf(sb, "(%s)", metric_table[i->idx].name);
            break;
        case OP_WINDOW:
            strbuf_addf(sb, "(%s,%s,%.17g,%.17g)", agg_names[i->agg],
                        metric_table[i->idx].name, i->a, i->b);
            break;
        case OP_FORECAST:
        case OP_TIMELEFT:
            strbuf_addf(sb, "(%s,%.17g)", metric_table[i->idx].name, i->a);
            break;
        default:
            break;
        }
    }
}
