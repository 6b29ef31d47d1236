/*
 * receivers.c - the table of receiver types (see receiver.h).
 *
 * Adding a type: write src/notify/recv_NAME.c defining
 * `const struct receiver_ops recv_NAME`, and add X(NAME) below.
 */
#include "notify/receiver.h"

#include <stdio.h>
#include <string.h>

/* The built-in types, in the order messages list them. */
#define BUILTIN_RECEIVERS(X) \
    X(email) \
    X(slack) \
    X(pagerduty) \
    X(webhook) \
    X(alertmanager) \
    X(log)

#define DECLARE(name) extern const struct receiver_ops recv_##name;
BUILTIN_RECEIVERS(DECLARE)
#undef DECLARE

#define ADDRESS(name) &recv_##name,
const struct receiver_ops *const receivers_builtin[] = {
    BUILTIN_RECEIVERS(ADDRESS) NULL
};
#undef ADDRESS

/* What receivers_register() made the table. */
static const struct receiver_ops *table[RECEIVERS_MAX];
static size_t ntable;

/* NULL, or what is missing from o. */
static const char *incomplete(const struct receiver_ops *o)
{
    if (!o->build)
        return "build";
    switch (o->delivery) {
    case RECEIVER_HTTP:
        return NULL;
    case RECEIVER_SMTP:
        return o->smtp ? NULL : "smtp";
    case RECEIVER_LOCAL:
        return o->write ? NULL : "write";
    }
    return "delivery";
}

int receivers_register(const struct receiver_ops *const *extra, size_t nextra,
                       char *err, size_t errlen)
{
    const struct receiver_ops *ops[RECEIVERS_MAX];
    const struct receiver_type_def *defs[RECEIVERS_MAX];
    size_t n = 0;
    while (receivers_builtin[n])
        n++;
    if (n + nextra > RECEIVERS_MAX) {
        snprintf(err, errlen, "more than %d receiver types", RECEIVERS_MAX);
        return -1;
    }
    memcpy(ops, receivers_builtin, n * sizeof(*ops));
    for (size_t i = 0; i < nextra; i++)
        ops[n++] = extra[i];
    for (size_t i = 0; i < n; i++) {
        const char *missing = incomplete(ops[i]);
        if (missing) {
            snprintf(err, errlen, "receiver type '%s' has no %s",
                     ops[i]->def.name ? ops[i]->def.name : "?", missing);
            return -1;
        }
        defs[i] = &ops[i]->def;
    }
    if (config_register_receiver_types(defs, n, err, errlen) != 0)
        return -1;
    memcpy(table, ops, n * sizeof(*ops));
    ntable = n;
    return 0;
}

const struct receiver_ops *receiver_ops_of(const struct receiver_cfg *rc)
{
    if (!rc || !rc->type)
        return NULL;
    for (size_t i = 0; i < ntable; i++)
        if (&table[i]->def == rc->type)
            return table[i];
    return NULL;
}

const struct receiver_ops *receiver_ops_find(const char *name)
{
    for (size_t i = 0; i < ntable; i++)
        if (streq(table[i]->def.name, name))
            return table[i];
    return NULL;
}
