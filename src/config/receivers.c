/*
 * receivers.c - receiver sections (see sections.h) and the table of
 * receiver types they are read with (see receiver_type.h).
 */
#include "config/receiver_type.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/sections.h"
#include "core/util.h"

/* What every receiver has, whatever its type; first in the section's
 * options. */
#define COMMON_OPTS \
    { "type", OPT_STR }, { "send_resolved", OPT_STR }, \
    { "subject", OPT_STR }, { "body", OPT_STR }
static const struct opt_spec common_opts[] = { COMMON_OPTS, OPT_END };
#define NCOMMON (ARRAY_SIZE(common_opts) - 1)

/* The table; the section's options derived from it (the common ones alone
 * until types are registered). */
static const struct receiver_type_def *types[RECEIVER_TYPES_MAX];
static size_t ntypes;
static struct opt_spec section_opts[SCHEMA_MAX_OPTS + 1] = { COMMON_OPTS,
                                                              OPT_END };

/* ---- the table ----------------------------------------------------------- */

PRINTF_LIKE(3, 4)
static int reg_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

int config_register_receiver_types(const struct receiver_type_def *const *defs,
                                   size_t n, char *err, size_t errlen)
{
    struct opt_spec opts[SCHEMA_MAX_OPTS + 1];
    size_t nopts = 0;
    if (n == 0 || n > RECEIVER_TYPES_MAX)
        return reg_fail(err, errlen, "between 1 and %d receiver types can "
                        "be registered (got %zu)", RECEIVER_TYPES_MAX, n);
    for (size_t i = 0; i < NCOMMON; i++)
        opts[nopts++] = common_opts[i];
    for (size_t i = 0; i < n; i++) {
        const struct receiver_type_def *d = defs[i];
        if (!d || !d->name || !d->name[0])
            return reg_fail(err, errlen, "receiver type %zu has no name", i);
        for (size_t k = 0; k < i; k++)
            if (streq(defs[k]->name, d->name))
                return reg_fail(err, errlen, "receiver type '%s' is "
                                "registered twice", d->name);
        for (size_t k = 0; d->opts && d->opts[k].name; k++) {
            const struct opt_spec *o = &d->opts[k];
            size_t j = 0;
            while (j < nopts && !streq(opts[j].name, o->name))
                j++;
            if (j < NCOMMON)
                return reg_fail(err, errlen, "receiver type '%s': '%s' is "
                                "common to every receiver", d->name, o->name);
            if (j < nopts && opts[j].kind != o->kind)
                return reg_fail(err, errlen, "receiver type '%s': option "
                                "'%s' is a list for one type and a single "
                                "value for another", d->name, o->name);
            if (j < nopts)
                continue;
            if (nopts == SCHEMA_MAX_OPTS)
                return reg_fail(err, errlen, "more than %d receiver options",
                                SCHEMA_MAX_OPTS);
            opts[nopts++] = *o;
        }
    }
    opts[nopts] = (struct opt_spec)OPT_END;
    memcpy(types, defs, n * sizeof(*defs));
    ntypes = n;
    memcpy(section_opts, opts, (nopts + 1) * sizeof(*opts));
    return 0;
}

const struct receiver_type_def *receiver_type_find(const char *name)
{
    for (size_t i = 0; i < ntypes; i++)
        if (streq(types[i]->name, name))
            return types[i];
    return NULL;
}

const struct opt_spec *receiver_section_opts(void)
{
    return section_opts;
}

const char *receiver_type_name(const struct receiver_type_def *t)
{
    return t ? t->name : "unknown";
}

/* ---- receiver sections --------------------------------------------------- */

static void receiver_defaults(struct receiver_cfg *r)
{
    memset(r, 0, sizeof(*r));
    r->send_resolved = true;
    r->timeout_s = 10;
    r->max_connections = RECEIVER_MAX_CONNECTIONS;
}

static bool type_accepts(const struct receiver_type_def *d, const char *opt)
{
    return d->opts && schema_find_opt(d->opts, opt);
}

/* The type named by `type =`, or NULL (reported: missing or unknown). */
static const struct receiver_type_def *find_type(const struct cfg_section *s)
{
    const char *names[RECEIVER_TYPES_MAX];
    for (size_t i = 0; i < ntypes; i++)
        names[i] = types[i]->name;
    struct strbuf choices = STRBUF_INIT;
    section_add_choices(&choices, names, ntypes);
    const char *type = section_str(s, "type");
    const struct receiver_type_def *d = NULL;
    if (ntypes == 0) {
        /* a program that loads receivers must register their types */
        section_error(s, NULL, "no receiver types are registered");
    } else if (!type) {
        section_error(s, NULL, "type is required (%s)", strbuf_str(&choices));
    } else if (!(d = receiver_type_find(type))) {
        const char *dym = schema_closest(type, names, ntypes);
        if (dym)
            section_error(s, "type", "unknown type '%s' (did you mean "
                          "'%s'?)", type, dym);
        else
            section_error(s, "type", "unknown type '%s' (expected %s)", type,
                          strbuf_str(&choices));
    }
    strbuf_free(&choices);
    return d;
}

void sections_load_receiver(const struct cfg_file *file, struct cfg_t *sec,
                            struct receiver_cfg *r)
{
    struct cfg_section *s = section_open(file, sec, "receiver");
    receiver_defaults(r);
    r->name = xstrdup(section_title(s));
    r->loc.file = file->name;
    r->loc.line = section_line(s);

    const struct receiver_type_def *d = find_type(s);
    section_get_bool(s, "send_resolved", &r->send_resolved);
    section_get_text(s, "subject", &r->subject, &r->subject_line,
                     &r->subject_col);
    section_get_text(s, "body", &r->body, &r->body_line, &r->body_col);
    if (!d)
        goto done;      /* type-specific checks would only add noise */
    r->type = d;

    for (const struct opt_spec *o = &section_opts[NCOMMON]; o->name; o++)
        if (!type_accepts(d, o->name) && section_is_set(s, o->name))
            section_warning(s, o->name, "%s is not used by %s receivers",
                            o->name, d->name);
    if (type_accepts(d, "timeout"))
        section_get_interval(s, "timeout", &r->timeout_s, false);
    if (type_accepts(d, "max_connections"))
        section_get_int(s, "max_connections", &r->max_connections, 1,
                        RECEIVER_MAX_CONNECTIONS_LIMIT);
    if (d->load)
        d->load(s, r);
done:
    section_close(s);
}
