/*
 * receiver_type.h - the table of receiver types: for each value that
 * `type = "..."` may take in a receiver section, the options only that
 * type accepts and the function that reads them.
 *
 * The receiver section loader (receivers.c) reads what every receiver has
 * (type, send_resolved, subject, body), looks the type up here by name
 * (an unknown name gets a did-you-mean), warns about options of other
 * types ("smtp_host is not used by log receivers"), reads `timeout` when
 * the type accepts it, then calls the type's load function.  A load
 * function reads its options through the section reader (section.h) and
 * secrets.h, and reports through them: nothing here depends on libconfuse
 * or on the notification layer.
 *
 * Types are registered once at start-up, collectd-style:
 * config_register_receiver_types() replaces the table.  Until then (or
 * without it) the built-in types (email, slack, pagerduty, webhook,
 * alertmanager, log: receiver_types_builtin) are the table.  The order of
 * the table is the order in which type names are listed in messages.
 *
 * Ownership: the registry keeps pointers to the caller's definitions,
 * which must stay valid (static) for as long as configurations are loaded
 * or receiver_type_name() is called.
 * Errors: registration returns 0, or -1 with a reason in err (a duplicate
 * type name, an option declared with two kinds, too many options...);
 * the table is then left as it was.
 * Thread safety: register before any configuration is loaded and before
 * other threads start; lookups may then run on any thread.
 */
#ifndef SEGALERT_CONFIG_RECEIVER_TYPE_H
#define SEGALERT_CONFIG_RECEIVER_TYPE_H

#include <stddef.h>

#include "config/config.h"
#include "config/schema.h"
#include "config/section.h"

/* Where PagerDuty receivers send events when no url is given. */
#define PAGERDUTY_DEFAULT_URL "https://events.pagerduty.com/v2/enqueue"

/* Receiver types the registry holds at most. */
#define RECEIVER_TYPES_MAX 16

struct receiver_type_def {
    const char *name;           /* the value of `type =` */
    enum receiver_type type;    /* what the other layers switch on, for
                                   now: one enum value per definition */
    /* the options only receivers of this type accept, OPT_END-terminated;
     * the common ones (type, send_resolved, subject, body) are not
     * listed.  An option may be listed by several types. */
    const struct opt_spec *opts;
    /* Read this type's options from s into r (which holds the defaults
     * and the common options already), reporting through s.  NULL: the
     * type has nothing to read. */
    void (*load)(const struct cfg_section *s, struct receiver_cfg *r);
};

/* The built-in types, in the order listed in messages; NULL-terminated. */
extern const struct receiver_type_def *const receiver_types_builtin[];

/* Make defs[0, n) the table of receiver types. */
int config_register_receiver_types(const struct receiver_type_def *const *defs,
                                   size_t n, char *err, size_t errlen);

/* The registered type named name, or NULL. */
const struct receiver_type_def *receiver_type_find(const char *name);

/* Every option a receiver section may hold: the common ones, then those
 * of each registered type in table order (each once), OPT_END-terminated.
 * The array stays at the same address across registrations. */
const struct opt_spec *receiver_section_opts(void);

#endif
