/*
 * promseries.c - see promseries.h.
 */
#include "engine/promseries.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* A generous cap: a test of a month at one-minute resolution fits. */
#define PROMSERIES_MAX 100000

static void push(struct promseries *s, size_t *cap, double v, bool present)
{
    if (s->n + 1 > *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        s->values = xrealloc(s->values, nc * sizeof(double));
        s->present = xrealloc(s->present, nc * sizeof(bool));
        *cap = nc;
    }
    s->values[s->n] = v;
    s->present[s->n] = present;
    s->n++;
}

/* Parse a number with an optional k/M/G suffix at *p; advance *p. */
static int number(const char **p, double *out)
{
    /* Scan a decimal number ourselves: strtod would read "0x12" as hex
     * eighteen, but here it means 0 repeated. */
    const char *s = *p, *q = s;
    char buf[64];
    if (*q == '-' || *q == '+')
        q++;
    while (isdigit((unsigned char)*q) || *q == '.')
        q++;
    if ((*q == 'e' || *q == 'E') &&
        (isdigit((unsigned char)q[1]) ||
         ((q[1] == '-' || q[1] == '+') && isdigit((unsigned char)q[2])))) {
        q += 2;
        while (isdigit((unsigned char)*q))
            q++;
    }
    if (q == s || (size_t)(q - s) >= sizeof(buf))
        return -1;
    memcpy(buf, s, (size_t)(q - s));
    buf[q - s] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end != '\0' || errno || !isfinite(v))
        return -1;
    end = (char *)q;
    if (*end == 'k') { v *= 1e3; end++; }
    else if (*end == 'M') { v *= 1e6; end++; }
    else if (*end == 'G') { v *= 1e9; end++; }
    *out = v;
    *p = end;
    return 0;
}

/* Parse the repeat count after 'x'. */
static int count(const char **p, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(*p, &end, 10);
    if (end == *p || errno || n < 0 || n > PROMSERIES_MAX)
        return -1;
    *out = n;
    *p = end;
    return 0;
}

int promseries_parse(const char *text, struct promseries *out, char *err,
                     size_t errlen)
{
    size_t cap = 0;
    const char *p = text;
    memset(out, 0, sizeof(*out));
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *tok = p;
        int col = (int)(tok - text) + 1;
        long n;
        if (*p == '_') {
            p++;
            n = 1;
            if (*p == 'x') {
                p++;
                if (count(&p, &n) != 0)
                    goto bad;
            }
            if (out->n + (size_t)n > PROMSERIES_MAX)
                goto toolong;
            for (long i = 0; i < n; i++)
                push(out, &cap, 0, false);
        } else {
            double a, b = 0;
            if (number(&p, &a) != 0)
                goto bad;
            if (*p == '+' || *p == '-') {
                double sign = *p == '-' ? -1 : 1;
                p++;
                if (number(&p, &b) != 0 || *p != 'x')
                    goto bad;
                b *= sign;
            }
            if (*p == 'x') {
                p++;
                if (count(&p, &n) != 0)
                    goto bad;
                if (out->n + (size_t)n + 1 > PROMSERIES_MAX)
                    goto toolong;
                for (long i = 0; i <= n; i++)
                    push(out, &cap, a + b * (double)i, true);
            } else {
                push(out, &cap, a, true);
            }
        }
        if (*p && !isspace((unsigned char)*p))
            goto bad;
        continue;
bad:
        {
            const char *e = tok;
            while (*e && !isspace((unsigned char)*e))
                e++;
            snprintf(err, errlen, "column %d: invalid series value '%.*s' "
                     "(expected a number, a+bxn, axn, _ or _xn)", col,
                     (int)(e - tok), tok);
            promseries_free(out);
            return -1;
        }
toolong:
        snprintf(err, errlen, "column %d: series longer than %d values", col,
                 PROMSERIES_MAX);
        promseries_free(out);
        return -1;
    }
    return 0;
}

void promseries_free(struct promseries *s)
{
    free(s->values);
    free(s->present);
    memset(s, 0, sizeof(*s));
}
