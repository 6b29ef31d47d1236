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
 * config_register_receiver_types() replaces the table.  The types
 * themselves live in the notification layer, next to their senders
 * (notify/receiver.h: receivers_register() registers them, and main()
 * calls it); until something is registered the table is empty and every
 * receiver section is an error ("no receiver types are registered").  The order of the table is
 * the order in which type names are listed in messages.
 *
 * What a type reads beyond the common options goes into a struct of its
 * own that its load function allocates and hangs on receiver_cfg.priv;
 * config_free() hands it back to the type's free_priv.  So a new type
 * never needs a new field in config.h.
 *
 * Ownership: the registry keeps pointers to the caller's definitions,
 * which must stay valid (static) for as long as configurations are loaded
 * or freed.
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

/* Receiver types the registry holds at most. */
#define RECEIVER_TYPES_MAX 16

struct receiver_type_def {
    const char *name;           /* the value of `type =`; unique */
    /* the options only receivers of this type accept, OPT_END-terminated;
     * the common ones (type, send_resolved, subject, body) are not
     * listed.  An option may be listed by several types.  `timeout` is
     * read into r->timeout_s and `max_connections` into
     * r->max_connections when listed (HTTP types list both). */
    const struct opt_spec *opts;
    /* Read this type's options from s into r (which holds the defaults
     * and the common options already), reporting every problem through
     * s (section_error / section_warning; loading goes on).  It may set
     * the common HTTP fields (url, headers) and may allocate its own
     * settings into r->priv (even when it reports an error, so that
     * config_free releases them).  NULL: the type has nothing to read. */
    void (*load)(const struct cfg_section *s, struct receiver_cfg *r);
    /* Release what load put in r->priv (called once by config_free(), with
     * a non-NULL priv).  NULL: priv is released with free(). */
    void (*free_priv)(void *priv);
};

/* Make defs[0, n) the table of receiver types (n >= 1). */
int config_register_receiver_types(const struct receiver_type_def *const *defs,
                                   size_t n, char *err, size_t errlen);

/* The registered type named name, or NULL. */
const struct receiver_type_def *receiver_type_find(const char *name);

/* t's name; "unknown" for NULL (a receiver whose type was not found). */
const char *receiver_type_name(const struct receiver_type_def *t);

/* Every option a receiver section may hold: the common ones, then those
 * of each registered type in table order (each once), OPT_END-terminated.
 * The array stays at the same address across registrations. */
const struct opt_spec *receiver_section_opts(void);

#endif
