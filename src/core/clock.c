/*
 * clock.c - see clock.h.
 */
#include "core/clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"

enum clock_kind { CLOCK_SYSTEM = 0, CLOCK_SCALED, CLOCK_FAKE };

struct clock {
    enum clock_kind kind;
    double factor;
    double real_origin;     /* scaled: real wall time at the origin */
    double virtual_start;   /* scaled: virtual wall time at the origin */
    double mono_origin;     /* scaled: real monotonic seconds at creation */
    double fake_wall, fake_mono;
};

static const struct clock system_clock = { CLOCK_SYSTEM, 1, 0, 0, 0, 0, 0 };

static double real_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double real_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const struct clock *clock_system(void)
{
    return &system_clock;
}

struct clock *clock_scaled_new(double factor, double real_origin,
                               double virtual_start)
{
    if (!(factor > 0) || !isfinite(factor))
        return NULL;
    struct clock *c = xcalloc(1, sizeof(*c));
    c->kind = CLOCK_SCALED;
    c->factor = factor;
    c->real_origin = real_origin;
    c->virtual_start = virtual_start;
    c->mono_origin = real_mono();
    return c;
}

struct clock *clock_fake_new(double start)
{
    struct clock *c = xcalloc(1, sizeof(*c));
    c->kind = CLOCK_FAKE;
    c->factor = 1;
    c->fake_wall = start;
    return c;
}

void clock_fake_advance(struct clock *c, double s)
{
    if (c && c->kind == CLOCK_FAKE && s > 0) {
        c->fake_wall += s;
        c->fake_mono += s;
    }
}

void clock_fake_set_wall(struct clock *c, double t)
{
    if (c && c->kind == CLOCK_FAKE)
        c->fake_wall = t;
}

void clock_free(const struct clock *c)
{
    if (c && c != &system_clock)
        free((struct clock *)c);
}

double clock_wall(const struct clock *c)
{
    switch (c->kind) {
    case CLOCK_SCALED:
        return c->virtual_start + (real_wall() - c->real_origin) * c->factor;
    case CLOCK_FAKE:
        return c->fake_wall;
    default:
        return real_wall();
    }
}

double clock_mono(const struct clock *c)
{
    switch (c->kind) {
    case CLOCK_SCALED:
        return (real_mono() - c->mono_origin) * c->factor;
    case CLOCK_FAKE:
        return c->fake_mono;
    default:
        return real_mono();
    }
}

double clock_real_delay(const struct clock *c, double s)
{
    switch (c->kind) {
    case CLOCK_SCALED:
        return s / c->factor;
    case CLOCK_FAKE:
        return 0;
    default:
        return s;
    }
}

double clock_factor(const struct clock *c)
{
    return c->factor;
}

double clock_origin_wall(const struct clock *c)
{
    switch (c->kind) {
    case CLOCK_SCALED:
        return c->virtual_start;
    case CLOCK_FAKE:
        return c->fake_wall;
    case CLOCK_SYSTEM:
        break;
    }
    return clock_wall(c);
}

bool clock_is_system(const struct clock *c)
{
    return c->kind == CLOCK_SYSTEM;
}

const struct clock *clock_from_env(char *err, size_t errlen)
{
    const char *spec = getenv(CLOCK_ENV);
    if (!spec || !*spec)
        return clock_system();
    double factor = NAN, origin = real_wall(), start = NAN;
    char *copy = xstrdup(spec), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        double v;
        if (!eq || parse_double(eq + 1, &v) != 0) {
            snprintf(err, errlen, "%s: bad entry '%s' (expected "
                     "scale=N,origin=UNIX[,start=UNIX])", CLOCK_ENV, tok);
            free(copy);
            return NULL;
        }
        *eq = '\0';
        if (strcmp(tok, "scale") == 0)
            factor = v;
        else if (strcmp(tok, "origin") == 0)
            origin = v;
        else if (strcmp(tok, "start") == 0)
            start = v;
        else {
            snprintf(err, errlen, "%s: unknown key '%s'", CLOCK_ENV, tok);
            free(copy);
            return NULL;
        }
    }
    free(copy);
    struct clock *c = clock_scaled_new(factor, origin,
                                       isnan(start) ? origin : start);
    if (!c)
        snprintf(err, errlen, "%s: scale must be a positive number", CLOCK_ENV);
    return c;
}
