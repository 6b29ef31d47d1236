/*
 * receivers_fixture.h - what the unit tests of receivers share:
 *   - fixture_register_receivers(): what main() does before loading a
 *     configuration (register the receiver types, notify/receiver.h);
 *     every test that loads receivers calls it;
 *   - a configuration loaded from text in a temporary directory;
 *   - a one-alert notification and a deliver_done_fn that records the
 *     verdict.
 *
 * Header-only (static inline) because every unit test binary is built from
 * one .c file.  Failures abort (registration) or fail the cmocka test;
 * include it after <cmocka.h>.
 */
#ifndef SEGALERT_TEST_RECEIVERS_FIXTURE_H
#define SEGALERT_TEST_RECEIVERS_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config/config.h"
#include "core/diag.h"
#include "core/util.h"
#include "notify/http_verdict.h"
#include "notify/notify.h"
#include "notify/receiver.h"

#define FIXTURE_CONF "fixture.conf"

/* The built-in types plus extra[0, n). */
static inline void fixture_register_receivers(
    const struct receiver_ops *const *extra, size_t n)
{
    char err[256];
    if (receivers_register(extra, n, err, sizeof(err)) != 0) {
        fprintf(stderr, "receivers_register: %s\n", err);
        abort();
    }
}

/* Make dir (a mkdtemp template) and work in it.  0 / -1, for a setup. */
static inline int fixture_enter_tmpdir(char *dir)
{
    return mkdtemp(dir) && chdir(dir) == 0 ? 0 : -1;
}

/* Remove what fixture_load_text left in dir, and dir.  For a teardown. */
static inline int fixture_leave_tmpdir(const char *dir)
{
    unlink(FIXTURE_CONF);
    return rmdir(dir);
}

/* text loaded as a main configuration file, its diagnostics added to dl.
 * The caller frees both. */
static inline struct config *fixture_load_text(const char *text,
                                               struct diag_list *dl)
{
    FILE *f = fopen(FIXTURE_CONF, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    struct config *cfg = config_load(FIXTURE_CONF, dl);
    assert_non_null(cfg);
    return cfg;
}

/* A notification for receiver (of type) created at t: one firing critical
 * alert of rule "r", without value. */
static inline struct notification *fixture_notification(const char *receiver,
                                                        const char *type,
                                                        double t)
{
    struct notification *n = notification_new();
    n->id = xstrdup("0123456789abcdef-1");
    n->receiver = xstrdup(receiver);
    n->receiver_type = xstrdup(type);
    n->route = xstrdup("default");
    n->group_key = xstrdup("default:{}");
    n->reason = NOTIFY_FIRST;
    n->created_at = t;
    n->nalerts = 1;
    n->alerts = xcalloc(1, sizeof(*n->alerts));
    n->alerts[0].rule = xstrdup("r");
    n->alerts[0].severity = xstrdup("critical");
    n->alerts[0].status = xstrdup("firing");
    n->alerts[0].value = NAN;
    return n;
}

/* What deliverer_send() reported (fixture_on_done's ud). */
struct fixture_outcome {
    int calls;
    struct delivery_verdict v;
};

static inline void fixture_on_done(void *ud, const struct delivery_verdict *v)
{
    struct fixture_outcome *o = ud;
    o->calls++;
    o->v = *v;
}

#endif
