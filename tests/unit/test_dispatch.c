/*
 * test_dispatch.c - routes, groups, notification log and silences
 * (dispatch.h) on a fake clock; at scale, thousands of groups and a group
 * of thousands of alerts (found through the indexes, added and removed
 * in any order, every group notified exactly once).
 *
 * Most tests are timelines: alerts are fed at given times and every tick
 * is described as a string so that a failure shows both sides:
 *
 *   "ROUTE:REASON:FIRING/RESOLVED"    e.g. "default:first:a,b/"
 *
 * where FIRING and RESOLVED are the sorted "id" labels of the alerts in
 * the notification; several notifications are joined by " ; ", none is
 * "".  Times are seconds after T0.  Default timing: group_wait 30 s,
 * group_interval 300 s, repeat_interval 4 h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "notify/dispatch.h"
#include "core/log.h"
#include "notify/notify.h"
#include "notify/silence.h"
#include "config/receiver_type.h"
#include "core/util.h"

#include "receivers_fixture.h"

#define T0 1700000000.0

/* ---- configs built in code --------------------------------------------- */

/* type: a registered receiver type's name. */
static void add_receiver(struct config *c, const char *name,
                         const char *type, bool send_resolved)
{
    c->receivers = xrealloc(c->receivers,
                            (c->nreceivers + 1) * sizeof(*c->receivers));
    struct receiver_cfg *r = &c->receivers[c->nreceivers++];
    memset(r, 0, sizeof(*r));
    r->name = xstrdup(name);
    r->type = receiver_type_find(type);
    assert_non_null(r->type);
    r->send_resolved = send_resolved;
}

static void kv_list_push(struct kv_list *l, const char *k, const char *v)
{
    l->items = xrealloc(l->items, (l->n + 1) * sizeof(*l->items));
    l->items[l->n].key = xstrdup(k);
    l->items[l->n].value = xstrdup(v);
    l->n++;
}

/* match: "k=glob,k=glob" or NULL.  The returned pointer is valid until
 * the next add_route. */
static struct route_cfg *add_route(struct config *c, const char *name,
                                   const char *receiver, const char *match,
                                   bool cont)
{
    c->routes = xrealloc(c->routes, (c->nroutes + 1) * sizeof(*c->routes));
    struct route_cfg *r = &c->routes[c->nroutes++];
    memset(r, 0, sizeof(*r));
    r->name = xstrdup(name);
    r->receiver = xstrdup(receiver);
    r->receiver_index = -1;
    for (size_t i = 0; i < c->nreceivers; i++)
        if (streq(c->receivers[i].name, receiver))
            r->receiver_index = (int)i;
    r->cont = cont;
    if (match) {
        char *copy = xstrdup(match), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(tok, '=');
            *eq = '\0';
            kv_list_push(&r->match, tok, eq + 1);
        }
        free(copy);
    }
    return r;
}

static void set_group_by(struct timing_cfg *t, const char *list)
{
    char *copy = xstrdup(list), *save = NULL;
    for (size_t i = 0; i < t->group_by.n; i++)
        free(t->group_by.items[i]);
    t->group_by.n = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        t->group_by.items = xrealloc(t->group_by.items,
                                     (t->group_by.n + 1) * sizeof(char *));
        t->group_by.items[t->group_by.n++] = xstrdup(tok);
    }
    t->has_group_by = true;
    free(copy);
}

/* One receiver "ops" (log) and one catch-all route "default". */
static struct config *simple_config(bool send_resolved)
{
    struct config *c = config_new_defaults();
    add_receiver(c, "ops", "log", send_resolved);
    add_route(c, "default", "ops", NULL, false);
    return c;
}

/* ---- alerts ------------------------------------------------------------ */

static int kv_cmp(const void *x, const void *y)
{
    return strcmp(((const struct kv *)x)->key, ((const struct kv *)y)->key);
}

/* An alert of rule with labels "k=v,..." (the label id names it in the
 * descriptions); the fingerprint hashes rule and labels. */
static void make_alert(struct notify_alert *a, const char *rule,
                       const char *labels, const char *severity,
                       const char *status, double starts_at)
{
    memset(a, 0, sizeof(*a));
    a->rule = xstrdup(rule);
    a->labels = xcalloc(16, sizeof(*a->labels));
    a->labels[a->nlabels].key = xstrdup("rule");
    a->labels[a->nlabels++].value = xstrdup(rule);
    char *copy = xstrdup(labels), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        *eq = '\0';
        a->labels[a->nlabels].key = xstrdup(tok);
        a->labels[a->nlabels++].value = xstrdup(eq + 1);
    }
    free(copy);
    qsort(a->labels, a->nlabels, sizeof(*a->labels), kv_cmp);
    uint64_t h = hash_str(rule);
    for (size_t i = 0; i < a->nlabels; i++) {
        h = hash_bytes(a->labels[i].key, strlen(a->labels[i].key), h);
        h = hash_bytes(a->labels[i].value, strlen(a->labels[i].value), h);
    }
    a->fingerprint = xasprintf("%016" PRIx64, h);
    a->severity = xstrdup(severity);
    a->status = xstrdup(status);
    a->value = 42;
    a->summary = xstrdup("summary");
    a->starts_at = T0 + starts_at;
}

static void feed(struct dispatcher *d, double t, const char *rule,
                 const char *labels, const char *severity, bool resolved)
{
    struct notify_alert a;
    make_alert(&a, rule, labels, severity, resolved ? "resolved" : "firing",
               0);
    if (resolved)
        a.ends_at = T0 + t;
    dispatch_alert(d, &a, T0 + t);
    notify_alert_free_fields(&a);
}

/* Alert "id=NAME" of rule r (workspace prod), critical. */
static void fire(struct dispatcher *d, double t, const char *id)
{
    char labels[64];
    snprintf(labels, sizeof(labels), "id=%s,workspace=prod", id);
    feed(d, t, "r", labels, "critical", false);
}

static void resolve(struct dispatcher *d, double t, const char *id)
{
    char labels[64];
    snprintf(labels, sizeof(labels), "id=%s,workspace=prod", id);
    feed(d, t, "r", labels, "critical", true);
}

/* ---- describing notifications ------------------------------------------ */

static int str_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static void describe_ids(struct strbuf *sb, const struct notification *n,
                         const char *status)
{
    const char *ids[64];
    size_t k = 0;
    for (size_t i = 0; i < n->nalerts && k < 64; i++)
        if (streq(n->alerts[i].status, status))
            ids[k++] = kv_array_get(n->alerts[i].labels,
                                    n->alerts[i].nlabels, "id");
    qsort(ids, k, sizeof(ids[0]), str_cmp);
    for (size_t i = 0; i < k; i++)
        strbuf_addf(sb, "%s%s", i ? "," : "", ids[i] ? ids[i] : "?");
}

static void check_notification(const struct notification *n, double now)
{
    /* firing alerts come first */
    bool seen_resolved = false;
    for (size_t i = 0; i < n->nalerts; i++) {
        bool res = streq(n->alerts[i].status, "resolved");
        assert_false(seen_resolved && !res);
        seen_resolved |= res;
    }
    assert_true(n->created_at == now);
    assert_non_null(n->id);
    assert_non_null(n->group_key);
    assert_true(str_has_prefix(n->group_key, n->route));
}

/* Tick at T0 + t; returns the description (static buffer). */
static const char *tick(struct dispatcher *d, double t)
{
    static char out[1024];
    struct notification **v;
    struct strbuf sb = STRBUF_INIT;
    size_t n = dispatch_tick(d, T0 + t, &v);
    for (size_t i = 0; i < n; i++) {
        check_notification(v[i], T0 + t);
        strbuf_addf(&sb, "%s%s:%s:", i ? " ; " : "", v[i]->route,
                    notify_reason_name(v[i]->reason));
        describe_ids(&sb, v[i], "firing");
        strbuf_addc(&sb, '/');
        describe_ids(&sb, v[i], "resolved");
        notification_free(v[i]);
    }
    free(v);
    snprintf(out, sizeof(out), "%s", strbuf_str(&sb));
    strbuf_free(&sb);
    return out;
}

/* Tick and keep the notifications (caller frees). */
static size_t tick_keep(struct dispatcher *d, double t,
                        struct notification ***v)
{
    return dispatch_tick(d, T0 + t, v);
}

static void free_all(struct notification **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        notification_free(v[i]);
    free(v);
}

static double due(struct dispatcher *d)
{
    return dispatch_next_due(d) - T0;
}

static struct dispatch_stats stats(const struct dispatcher *d)
{
    struct dispatch_stats s;
    dispatch_stats(d, &s);
    return s;
}

/* ---- routing ----------------------------------------------------------- */

static void test_routing_order_and_continue(void **state)
{
    (void)state;
    struct config *c = config_new_defaults();
    add_receiver(c, "core", "slack", true);
    add_receiver(c, "disk", "email", true);
    add_receiver(c, "all", "log", true);
    add_route(c, "core", "core", "team=core", false);
    add_route(c, "disk", "disk", "rule=disk*", true);
    add_route(c, "all", "all", NULL, false);
    struct dispatcher *d = dispatch_new(c);
    config_free(c);

    /* team=core stops at the first route, even for a disk rule */
    feed(d, 0, "disk-full", "id=a,team=core", "critical", false);
    /* continue = true: disk and the catch-all */
    feed(d, 0, "disk-full", "id=b", "critical", false);
    /* only the catch-all */
    feed(d, 0, "latency", "id=c", "critical", false);
    assert_int_equal(stats(d).groups, 4);

    struct notification **v;
    size_t n = tick_keep(d, 30, &v);
    assert_int_equal(n, 4);
    /* group creation order */
    assert_string_equal(v[0]->route, "core");
    assert_string_equal(v[0]->receiver, "core");
    assert_string_equal(v[0]->receiver_type, "slack");
    assert_string_equal(v[1]->route, "disk");
    assert_string_equal(v[1]->receiver, "disk");
    assert_string_equal(v[1]->receiver_type, "email");
    assert_string_equal(v[2]->route, "all");
    assert_string_equal(v[2]->group_key, "all:{rule=\"disk-full\"}");
    assert_string_equal(kv_array_get(v[2]->alerts[0].labels,
                                     v[2]->alerts[0].nlabels, "id"), "b");
    assert_string_equal(v[3]->group_key, "all:{rule=\"latency\"}");
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i]->reason, NOTIFY_FIRST);
        assert_int_equal(v[i]->nalerts, 1);
    }
    free_all(v, n);
    dispatch_free(d);
}

static void test_severity_matching(void **state)
{
    (void)state;
    struct config *c = config_new_defaults();
    add_receiver(c, "pager", "pagerduty", true);
    add_receiver(c, "chat", "slack", true);
    add_route(c, "page", "pager", "severity=critical", false);
    add_route(c, "chat", "chat", "severity=warn*", false);
    struct dispatcher *d = dispatch_new(c);
    config_free(c);

    feed(d, 0, "r", "id=a", "critical", false);
    feed(d, 0, "r", "id=b", "warning", false);
    feed(d, 0, "r", "id=c", "info", false);        /* no route */
    assert_string_equal(tick(d, 30), "page:first:a/ ; chat:first:b/");
    assert_int_equal(stats(d).unrouted, 1);

    /* b escalates: it leaves the chat group (resolved there) and pages */
    feed(d, 100, "r", "id=b", "critical", false);
    assert_true(due(d) == 330);
    assert_string_equal(tick(d, 330),
                        "page:new_alerts:a,b/ ; chat:all_resolved:/b");
    assert_int_equal(stats(d).groups, 1);
    /* a drops to info, which no route takes: resolved where it was */
    feed(d, 400, "r", "id=a", "info", false);
    assert_int_equal(stats(d).unrouted, 2);
    assert_string_equal(tick(d, 630), "page:resolved:b/a");
    dispatch_free(d);
}

static void test_unrouted(void **state)
{
    (void)state;
    struct config *c = config_new_defaults();
    add_receiver(c, "ops", "log", true);
    add_route(c, "core", "ops", "team=core", false);
    struct dispatcher *d = dispatch_new(c);
    config_free(c);

    for (int i = 0; i < 3; i++) {
        feed(d, i * 60, "r", "id=a", "critical", false);
        feed(d, i * 60, "r", "id=b", "critical", false);
    }
    assert_string_equal(tick(d, 200), "");
    struct dispatch_stats s = stats(d);
    assert_int_equal(s.unrouted, 2);    /* distinct alerts, not calls */
    assert_int_equal(s.groups, 0);
    assert_true(isinf(dispatch_next_due(d)));
    /* a resolved alert that never was in a group is ignored */
    feed(d, 300, "r", "id=a", "critical", true);
    assert_int_equal(stats(d).groups, 0);
    dispatch_free(d);
}

/* ---- groups ------------------------------------------------------------ */

static void test_group_by_splits(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    struct dispatcher *d = dispatch_new(c);

    feed(d, 0, "r", "id=a,workspace=prod,source=web", "critical", false);
    feed(d, 0, "r", "id=b,workspace=prod,source=ios", "critical", false);
    feed(d, 0, "r", "id=c,workspace=stage", "critical", false);
    feed(d, 0, "q", "id=d,workspace=prod", "critical", false);
    feed(d, 0, "q", "id=e", "critical", false);   /* no workspace */

    struct notification **v;
    size_t n = tick_keep(d, 30, &v);
    assert_int_equal(n, 4);
    assert_string_equal(v[0]->group_key,
                        "default:{rule=\"r\",workspace=\"prod\"}");
    assert_int_equal(v[0]->nalerts, 2);
    assert_int_equal(v[0]->ngroup_labels, 2);
    assert_string_equal(v[0]->group_labels[0].key, "rule");
    assert_string_equal(v[0]->group_labels[1].value, "prod");
    assert_string_equal(v[1]->group_key,
                        "default:{rule=\"r\",workspace=\"stage\"}");
    assert_string_equal(v[2]->group_key,
                        "default:{rule=\"q\",workspace=\"prod\"}");
    assert_string_equal(v[3]->group_key, "default:{rule=\"q\"}");
    assert_int_equal(v[3]->ngroup_labels, 1);
    free_all(v, n);
    dispatch_free(d);

    /* group_by = ["..."]: every label, so one group per alert here;
     * "severity" may also be grouped on */
    set_group_by(&c->routes[0].timing, "...");
    d = dispatch_new(c);
    feed(d, 0, "r", "id=a,workspace=prod", "critical", false);
    feed(d, 0, "r", "id=b,workspace=prod", "critical", false);
    n = tick_keep(d, 30, &v);
    assert_int_equal(n, 2);
    assert_string_equal(v[0]->group_key,
                        "default:{id=\"a\",rule=\"r\",workspace=\"prod\"}");
    free_all(v, n);
    dispatch_free(d);

    set_group_by(&c->routes[0].timing, "severity,workspace");
    d = dispatch_new(c);
    feed(d, 0, "r", "id=a,workspace=prod", "critical", false);
    feed(d, 0, "q", "id=b,workspace=prod", "critical", false);
    feed(d, 0, "q", "id=c,workspace=prod", "warning", false);
    n = tick_keep(d, 30, &v);
    assert_int_equal(n, 2);
    assert_string_equal(v[0]->group_key,
                        "default:{severity=\"critical\",workspace=\"prod\"}");
    assert_int_equal(v[0]->nalerts, 2);
    free_all(v, n);
    dispatch_free(d);
    config_free(c);
}

static void test_group_wait_then_interval(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    struct dispatcher *d = dispatch_new(c);
    config_free(c);

    assert_true(isinf(dispatch_next_due(d)));
    fire(d, 0, "a");
    assert_true(due(d) == 30);
    fire(d, 10, "b");
    assert_true(due(d) == 30);          /* group_wait counts from creation */
    assert_string_equal(tick(d, 29), "");
    assert_string_equal(tick(d, 30), "default:first:a,b/");
    /* nothing changed: next is the repeat */
    assert_true(due(d) == 30 + 14400);
    fire(d, 60, "a");                   /* re-fed every evaluation */
    fire(d, 60, "b");
    assert_string_equal(tick(d, 60), "");
    fire(d, 100, "c");
    assert_true(due(d) == 330);         /* the group_interval grid */
    fire(d, 200, "d");
    assert_string_equal(tick(d, 329), "");
    assert_string_equal(tick(d, 330), "default:new_alerts:a,b,c,d/");
    /* a change just after a flush waits for the next grid point */
    fire(d, 331, "e");
    assert_true(due(d) == 630);
    assert_string_equal(tick(d, 630), "default:new_alerts:a,b,c,d,e/");
    dispatch_free(d);
}

static void test_timing_overrides(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    struct route_cfg *r = &c->routes[0];
    r->timing.group_wait_s = 5;
    r->timing.has_group_wait = true;
    r->timing.group_interval_s = 60;
    r->timing.has_group_interval = true;
    r->timing.repeat_interval_s = 1000;
    r->timing.has_repeat_interval = true;
    struct dispatcher *d = dispatch_new(c);
    config_free(c);

    fire(d, 0, "a");
    assert_string_equal(tick(d, 5), "default:first:a/");
    fire(d, 30, "b");
    assert_true(due(d) == 65);
    assert_string_equal(tick(d, 65), "default:new_alerts:a,b/");
    /* repeat 1000 s after the last notification, on the 60 s grid */
    assert_true(due(d) == 65 + 1020);
    assert_string_equal(tick(d, 1084), "");
    assert_string_equal(tick(d, 1085), "default:repeat:a,b/");
    dispatch_free(d);
}

static void test_repeat(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    struct dispatcher *d = dispatch_new(c);
    config_free(c);

    fire(d, 0, "a");
    assert_string_equal(tick(d, 30), "default:first:a/");
    for (double t = 60; t < 14430; t += 60) {
        fire(d, t, "a");
        assert_string_equal(tick(d, t), "");
    }
    assert_true(due(d) == 14430);
    assert_string_equal(tick(d, 14430), "default:repeat:a/");
    assert_true(due(d) == 28830);
    /* a late tick still repeats once; the log keeps the grid slot
     * (28830), so lateness does not accumulate */
    assert_string_equal(tick(d, 29000), "default:repeat:a/");
    assert_true(due(d) == 28830 + 14400);
    assert_int_equal(stats(d).notifications[NOTIFY_REPEAT], 2);
    dispatch_free(d);
}

static void test_resolved_then_all_resolved(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    struct dispatcher *d = dispatch_new(c);
    config_free(c);

    fire(d, 0, "a");
    fire(d, 0, "b");
    assert_string_equal(tick(d, 30), "default:first:a,b/");
    resolve(d, 100, "a");
    assert_true(due(d) == 330);
    assert_string_equal(tick(d, 330), "default:resolved:b/a");
    assert_int_equal(stats(d).alerts, 1);   /* a left the group */
    resolve(d, 400, "b");
    assert_string_equal(tick(d, 630), "default:all_resolved:/b");
    assert_int_equal(stats(d).groups, 0);   /* nothing left */
    assert_true(isinf(dispatch_next_due(d)));
    /* a refires later: a new group, "first" again */
    fire(d, 1000, "a");
    assert_string_equal(tick(d, 1030), "default:first:a/");
    struct dispatch_stats s = stats(d);
    assert_int_equal(s.notifications[NOTIFY_FIRST], 2);
    assert_int_equal(s.notifications[NOTIFY_RESOLVED], 1);
    assert_int_equal(s.notifications[NOTIFY_ALL_RESOLVED], 1);
    dispatch_free(d);
}

static void test_resolved_alert_data(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    struct dispatcher *d = dispatch_new(c);
    config_free(c);

    fire(d, 0, "a");
    assert_string_equal(tick(d, 30), "default:first:a/");
    resolve(d, 100, "a");
    struct notification **v;
    size_t n = tick_keep(d, 330, &v);
    assert_int_equal(n, 1);
    assert_int_equal(v[0]->reason, NOTIFY_ALL_RESOLVED);
    assert_string_equal(v[0]->alerts[0].status, "resolved");
    assert_true(v[0]->alerts[0].ends_at == T0 + 100);
    assert_string_equal(notification_status(v[0]), "resolved");
    assert_null(v[0]->external_url);
    free_all(v, n);
    dispatch_free(d);
}

static void test_send_resolved_false(void **state)
{
    (void)state;
    struct config *c = simple_config(false);
    struct dispatcher *d = dispatch_new(c);
    config_free(c);

    fire(d, 0, "a");
    fire(d, 0, "b");
    assert_string_equal(tick(d, 30), "default:first:a,b/");
    resolve(d, 100, "a");
    assert_string_equal(tick(d, 330), "");      /* a leaves silently */
    assert_int_equal(stats(d).alerts, 1);
    /* the repeat lists only b */
    assert_true(due(d) == 14430);
    assert_string_equal(tick(d, 14430), "default:repeat:b/");
    resolve(d, 14500, "b");
    assert_string_equal(tick(d, 14730), "");
    assert_int_equal(stats(d).groups, 0);
    assert_int_equal(stats(d).suppressed_short_lived, 0);
    dispatch_free(d);
}

static void test_short_lived_not_sent(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    struct dispatcher *d = dispatch_new(c);
    config_free(c);

    fire(d, 0, "a");
    resolve(d, 20, "a");
    assert_true(due(d) == 30);
    assert_string_equal(tick(d, 30), "");
    struct dispatch_stats s = stats(d);
    assert_int_equal(s.suppressed_short_lived, 1);
    assert_int_equal(s.groups, 0);

    /* also between two flushes of a live group */
    fire(d, 100, "b");
    assert_string_equal(tick(d, 130), "default:first:b/");
    fire(d, 200, "c");
    resolve(d, 300, "c");
    assert_string_equal(tick(d, 430), "");
    assert_int_equal(stats(d).suppressed_short_lived, 2);
    /* and it refiring before the flush is just firing */
    fire(d, 500, "d");
    resolve(d, 510, "d");
    fire(d, 520, "d");
    assert_string_equal(tick(d, 730), "default:new_alerts:b,d/");
    assert_int_equal(stats(d).suppressed_short_lived, 2);
    dispatch_free(d);
}

static void test_severity_change_is_new_alerts(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    struct dispatcher *d = dispatch_new(c);
    config_free(c);

    feed(d, 0, "r", "id=a,workspace=prod", "warning", false);
    assert_string_equal(tick(d, 30), "default:first:a/");
    feed(d, 100, "r", "id=a,workspace=prod", "critical", false);
    struct notification **v;
    size_t n = tick_keep(d, 330, &v);
    assert_int_equal(n, 1);
    assert_int_equal(v[0]->reason, NOTIFY_NEW_ALERTS);
    assert_string_equal(v[0]->alerts[0].severity, "critical");
    free_all(v, n);
    /* same severity again: silent until the repeat */
    feed(d, 400, "r", "id=a,workspace=prod", "critical", false);
    assert_true(due(d) == 330 + 14400);
    dispatch_free(d);
}

static void test_flapping(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    struct dispatcher *d = dispatch_new(c);
    config_free(c);
    struct notify_alert a;

    fire(d, 0, "a");
    assert_string_equal(tick(d, 30), "default:first:a/");
    make_alert(&a, "r", "id=a,workspace=prod", "critical", "firing", 0);
    a.flapping = true;
    dispatch_alert(d, &a, T0 + 100);
    assert_string_equal(tick(d, 330), "default:flapping:a/");
    dispatch_alert(d, &a, T0 + 400);
    assert_string_equal(tick(d, 630), "");
    a.flapping = false;
    dispatch_alert(d, &a, T0 + 700);
    assert_string_equal(tick(d, 930), "default:flapping:a/");
    notify_alert_free_fields(&a);
    dispatch_free(d);
}

static void test_firing_order(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    struct dispatcher *d = dispatch_new(c);
    config_free(c);
    struct notify_alert a, b;

    make_alert(&a, "r", "id=a,workspace=prod", "critical", "firing", 20);
    make_alert(&b, "r", "id=b,workspace=prod", "critical", "firing", 10);
    dispatch_alert(d, &a, T0 + 0);
    dispatch_alert(d, &b, T0 + 0);
    struct notification **v;
    size_t n = tick_keep(d, 30, &v);
    assert_int_equal(n, 1);
    /* oldest first */
    assert_string_equal(v[0]->alerts[0].labels[0].value, "b");
    assert_string_equal(v[0]->alerts[1].labels[0].value, "a");
    free_all(v, n);
    notify_alert_free_fields(&a);
    notify_alert_free_fields(&b);
    dispatch_free(d);
}

static void test_ids_stable_and_increasing(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    c->external_url = xstrdup("https://alerts.example.com");
    struct dispatcher *d = dispatch_new(c);
    config_free(c);

    char prefix[2][17];
    unsigned long seqs[4];
    size_t k = 0;
    fire(d, 0, "a");
    feed(d, 0, "q", "id=x", "critical", false);
    struct notification **v;
    size_t n = tick_keep(d, 30, &v);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        const char *dash = strchr(v[i]->id, '-');
        assert_non_null(dash);
        assert_int_equal(dash - v[i]->id, 16);
        memcpy(prefix[i], v[i]->id, 16);
        prefix[i][16] = '\0';
        seqs[k++] = strtoul(dash + 1, NULL, 10);
        assert_string_equal(v[i]->external_url, "https://alerts.example.com");
    }
    assert_string_not_equal(prefix[0], prefix[1]);
    free_all(v, n);

    fire(d, 100, "b");
    feed(d, 100, "q", "id=x", "critical", true);
    n = tick_keep(d, 330, &v);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_memory_equal(v[i]->id, prefix[i], 16);
        seqs[k++] = strtoul(strchr(v[i]->id, '-') + 1, NULL, 10);
    }
    free_all(v, n);
    for (size_t i = 1; i < k; i++)
        assert_true(seqs[i] > seqs[i - 1]);
    dispatch_free(d);
}

/* ---- restart ----------------------------------------------------------- */

static struct dispatcher *restart(struct dispatcher *d, const struct config *c)
{
    cJSON *j = dispatch_to_json(d);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    dispatch_free(d);

    cJSON *parsed = cJSON_Parse(text);
    assert_non_null(parsed);
    struct dispatcher *d2 = dispatch_new(c);
    char err[256] = "";
    assert_int_equal(dispatch_from_json(d2, parsed, err, sizeof(err)), 0);
    cJSON_Delete(parsed);

    /* a second round trip gives the same document */
    j = dispatch_to_json(d2);
    char *again = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    assert_string_equal(text, again);
    free(text);
    free(again);
    return d2;
}

static void test_restart_mid_timeline(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    struct dispatcher *d = dispatch_new(c);
    struct kv m = { "id", "s" };
    char err[128];

    fire(d, 0, "a");
    fire(d, 10, "b");
    assert_string_equal(tick(d, 30), "default:first:a,b/");
    fire(d, 100, "c");                          /* queued for 330 */
    feed(d, 190, "r", "id=z,workspace=stage", "critical", false); /* 220 */
    assert_int_equal(silence_add(dispatch_silences(d), &m, 1, T0, T0 + 5000,
                                 "ops", "quiet", T0 + 150, NULL, err,
                                 sizeof(err)),
                     SILENCE_OK);
    fire(d, 195, "s");                          /* silenced */
    char first_id[64];
    {
        /* remember an id to compare sequences */
        struct notification **v;
        fire(d, 196, "y");
        feed(d, 196, "r", "id=w,workspace=dev", "critical", false);
        size_t n = tick_keep(d, 226, &v);      /* w's group_wait */
        assert_int_equal(n, 2);                /* z (220) and w (226) */
        snprintf(first_id, sizeof(first_id), "%s", v[1]->id);
        free_all(v, n);
    }

    d = restart(d, c);
    /* nothing is re-sent, the queued change still goes at 330 */
    assert_true(due(d) == 330);
    assert_string_equal(tick(d, 300), "");
    assert_string_equal(tick(d, 330), "default:new_alerts:a,b,c,y/");
    struct notification **v;
    size_t n;
    /* the silence survives the restart: s stays unannounced */
    for (double t = 400; t < 5000; t += 1000) {
        fire(d, t, "a");
        fire(d, t, "s");
        assert_string_equal(tick(d, t), "");
    }
    d = restart(d, c);
    /* s's silence ends at 5000: announced at the next grid point */
    assert_true(due(d) == 5130);
    fire(d, 5100, "s");
    assert_string_equal(tick(d, 5130), "default:new_alerts:a,b,c,s,y/");
    /* z's and w's groups repeat 4 h after their first notification */
    d = restart(d, c);
    assert_true(due(d) == 14620);
    assert_string_equal(tick(d, 14619), "");
    assert_string_equal(tick(d, 14626),
                        "default:repeat:z/ ; default:repeat:w/");
    /* and the main group 4 h after 5130, not earlier */
    d = restart(d, c);
    assert_true(due(d) == 5130 + 14400);
    assert_string_equal(tick(d, 5130 + 14399), "");
    n = tick_keep(d, 5130 + 14400, &v);
    assert_int_equal(n, 1);
    assert_int_equal(v[0]->reason, NOTIFY_REPEAT);
    assert_int_equal(v[0]->nalerts, 5);
    assert_true(strtoul(strchr(v[0]->id, '-') + 1, NULL, 10) >
                strtoul(strchr(first_id, '-') + 1, NULL, 10));
    free_all(v, n);
    dispatch_free(d);
    config_free(c);
}

static void test_restart_pending_group_wait(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    struct dispatcher *d = dispatch_new(c);

    fire(d, 0, "a");
    d = restart(d, c);
    assert_true(due(d) == 30);
    assert_string_equal(tick(d, 30), "default:first:a/");
    /* daemon down across the repeat: sent at the first tick after */
    d = restart(d, c);
    assert_string_equal(tick(d, 20000), "default:repeat:a/");
    dispatch_free(d);
    config_free(c);
}

static void test_from_json_errors(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    struct dispatcher *d = dispatch_new(c);
    char err[256];
    static const char *const bad[] = {
        "[]",
        "{\"version\":2,\"seq\":0,\"groups\":[]}",
        "{\"version\":1,\"groups\":[]}",
        "{\"version\":1,\"seq\":0,\"groups\":{}}",
        "{\"version\":1,\"seq\":0,\"groups\":[{\"key\":\"k\"}]}",
        "{\"version\":1,\"seq\":0,\"groups\":[{\"key\":\"k\","
        "\"route\":\"default\",\"receiver\":\"ops\",\"labels\":{},"
        "\"created_at\":1,\"next_flush\":2,"
        "\"alerts\":[{\"fingerprint\":\"f\",\"labels\":{},\"severity\":\"x\","
        "\"status\":\"maybe\",\"starts_at\":0,\"ends_at\":0}],"
        "\"nflog\":{\"notified_at\":0,\"firing\":[]}}]}",
        "{\"version\":1,\"seq\":0,\"groups\":[],\"silences\":[{\"id\":\"x\"}]}",
        /* the same alert twice in a group */
        "{\"version\":1,\"seq\":0,\"groups\":[{\"key\":\"k\","
        "\"route\":\"default\",\"receiver\":\"ops\",\"labels\":{},"
        "\"created_at\":1,\"next_flush\":2,\"alerts\":["
        "{\"fingerprint\":\"f\",\"labels\":{},\"severity\":\"x\","
        "\"status\":\"firing\",\"starts_at\":0,\"ends_at\":0},"
        "{\"fingerprint\":\"f\",\"labels\":{},\"severity\":\"x\","
        "\"status\":\"firing\",\"starts_at\":0,\"ends_at\":0}],"
        "\"nflog\":{\"notified_at\":0,\"firing\":[]}}]}",
    };

    fire(d, 0, "a");
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        cJSON *j = cJSON_Parse(bad[i]);
        assert_non_null(j);
        err[0] = '\0';
        assert_int_equal(dispatch_from_json(d, j, err, sizeof(err)), -1);
        assert_true(err[0] != '\0');
        cJSON_Delete(j);
    }
    /* unchanged */
    assert_string_equal(tick(d, 30), "default:first:a/");

    /* groups of routes that no longer exist are dropped on load */
    cJSON *j = dispatch_to_json(d);
    struct config *c2 = config_new_defaults();
    add_receiver(c2, "ops", "log", true);
    add_route(c2, "other", "ops", NULL, false);
    struct dispatcher *d2 = dispatch_new(c2);
    assert_int_equal(dispatch_from_json(d2, j, err, sizeof(err)), 0);
    assert_int_equal(stats(d2).groups, 0);
    cJSON_Delete(j);
    dispatch_free(d2);
    config_free(c2);
    dispatch_free(d);
    config_free(c);
}

/* ---- silences ---------------------------------------------------------- */

static void add_silence(struct dispatcher *d, const char *matcher,
                        double from, double to)
{
    struct kv m;
    char err[128];
    assert_int_equal(silence_parse_matcher(matcher, &m, err, sizeof(err)), 0);
    assert_int_equal(silence_add(dispatch_silences(d), &m, 1, T0 + from,
                                 T0 + to, NULL, NULL, T0, NULL, err,
                                 sizeof(err)),
                     SILENCE_OK);
    free(m.key);
    free(m.value);
}

static void test_silence_suppresses_and_expiry_renotifies(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    struct dispatcher *d = dispatch_new(c);
    config_free(c);

    add_silence(d, "rule=r", 0, 1000);
    fire(d, 10, "a");
    assert_int_equal(stats(d).silenced, 1);
    assert_string_equal(tick(d, 40), "");
    for (double t = 100; t < 1000; t += 100) {
        fire(d, t, "a");
        assert_string_equal(tick(d, t), "");
    }
    /* the silence ends at 1000: next grid point 40 + 4 * 300 */
    assert_true(due(d) == 1240);
    fire(d, 1100, "a");
    assert_string_equal(tick(d, 1239), "");
    assert_string_equal(tick(d, 1240), "default:first:a/");
    assert_int_equal(stats(d).silenced, 0);
    dispatch_free(d);
}

static void test_silenced_resolve_sends_nothing(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    struct dispatcher *d = dispatch_new(c);
    config_free(c);

    add_silence(d, "id=a", 0, 10000);
    fire(d, 0, "a");
    fire(d, 0, "b");
    assert_string_equal(tick(d, 30), "default:first:b/");
    fire(d, 500, "a");
    resolve(d, 600, "a");
    assert_string_equal(tick(d, 630), "");
    struct dispatch_stats s = stats(d);
    assert_int_equal(s.silenced_resolved, 1);
    assert_int_equal(s.suppressed_short_lived, 0);
    assert_int_equal(s.alerts, 1);
    /* a silence on a severity */
    add_silence(d, "severity=crit*", 700, 10000);
    resolve(d, 800, "b");
    /* b was announced: its resolve is sent although a silence matches */
    assert_string_equal(tick(d, 930), "default:all_resolved:/b");
    dispatch_free(d);
}

static void test_silence_after_announce(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    struct dispatcher *d = dispatch_new(c);
    config_free(c);

    fire(d, 0, "a");
    fire(d, 0, "b");
    assert_string_equal(tick(d, 30), "default:first:a,b/");
    add_silence(d, "id=a", 100, 2000);
    /* silencing a is not a resolve: nothing is sent */
    assert_true(due(d) == 330);             /* a silent bookkeeping flush */
    assert_string_equal(tick(d, 330), "");
    resolve(d, 400, "b");
    assert_string_equal(tick(d, 630), "default:resolved:/b");
    /* expiry: a is announced again */
    assert_true(due(d) == 2130);
    fire(d, 2100, "a");
    assert_string_equal(tick(d, 2130), "default:new_alerts:a/");
    dispatch_free(d);
}

static void test_silence_expire_early(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    struct dispatcher *d = dispatch_new(c);
    config_free(c);
    char err[128];

    add_silence(d, "workspace=prod", 0, 100000);
    fire(d, 0, "a");
    assert_string_equal(tick(d, 30), "");
    assert_true(isinf(dispatch_next_due(d)) || due(d) >= 100000);
    size_t n;
    const struct silence *s = silences_list(dispatch_silences(d), &n);
    assert_int_equal(n, 1);
    char *id = xstrdup(s->id);
    assert_int_equal(silence_expire(dispatch_silences(d), id, T0 + 500, err,
                                    sizeof(err)), 0);
    free(id);
    assert_true(due(d) == 630);
    assert_string_equal(tick(d, 630), "default:first:a/");
    dispatch_free(d);
}

/* ---- reload ------------------------------------------------------------ */

static void test_reload(void **state)
{
    (void)state;
    struct config *c = config_new_defaults();
    add_receiver(c, "ops", "log", true);
    add_receiver(c, "dev", "log", true);
    add_route(c, "keep", "ops", "team=a", false);
    add_route(c, "gone", "ops", "team=b", false);
    add_route(c, "moved", "ops", "team=c", false);
    struct dispatcher *d = dispatch_new(c);
    config_free(c);

    feed(d, 0, "r", "id=a,team=a,workspace=prod", "critical", false);
    feed(d, 0, "r", "id=b,team=b", "critical", false);
    feed(d, 0, "r", "id=c,team=c", "critical", false);
    assert_string_equal(tick(d, 30),
                        "keep:first:a/ ; gone:first:b/ ; moved:first:c/");

    /* keep: group_by changes; gone: removed; moved: other receiver */
    c = config_new_defaults();
    add_receiver(c, "ops", "log", true);
    add_receiver(c, "dev", "log", true);
    struct route_cfg *r = add_route(c, "keep", "ops", "team=a", false);
    set_group_by(&r->timing, "workspace");
    add_route(c, "moved", "dev", "team=c", false);
    add_route(c, "rest", "ops", NULL, false);
    dispatch_set_config(d, c);
    config_free(c);
    assert_int_equal(stats(d).groups, 1);

    feed(d, 100, "r", "id=a,team=a,workspace=prod", "critical", false);
    feed(d, 100, "r", "id=b,team=b", "critical", false);
    feed(d, 100, "r", "id=c,team=c", "critical", false);
    assert_string_equal(tick(d, 130),
                        "keep:first:a/ ; rest:first:b/ ; moved:first:c/");
    /* the old keep group: a left it */
    assert_string_equal(tick(d, 330), "keep:all_resolved:/a");
    dispatch_free(d);
}

/* ---- many groups, many alerts -------------------------------------------------- */

#define MANY 4000

/* One alert per group (group_by "..."): each group is notified once, in
 * the order the groups were created; groups whose alerts resolved go;
 * feeding the same alerts again changes nothing. */
static void test_many_groups(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    set_group_by(&c->routes[0].timing, "...");
    struct dispatcher *d = dispatch_new(c);
    config_free(c);
    char id[32];

    for (int i = 0; i < MANY; i++) {
        snprintf(id, sizeof(id), "a%05d", i);
        fire(d, 0, id);
    }
    assert_int_equal(stats(d).groups, MANY);
    assert_true(due(d) == 30);
    struct notification **v;
    size_t n = tick_keep(d, 30, &v);
    assert_int_equal(n, MANY);
    for (int i = 0; i < MANY; i++) {
        snprintf(id, sizeof(id), "a%05d", i);
        assert_int_equal(v[i]->reason, NOTIFY_FIRST);
        assert_int_equal(v[i]->nalerts, 1);
        assert_string_equal(kv_array_get(v[i]->alerts[0].labels,
                                         v[i]->alerts[0].nlabels, "id"), id);
    }
    free_all(v, n);
    /* nothing more until the repeat */
    assert_true(due(d) == 30 + 4 * 3600);
    assert_string_equal(tick(d, 60), "");

    /* the next evaluation feeds them all again: no change, no flush */
    for (int i = 0; i < MANY; i++) {
        snprintf(id, sizeof(id), "a%05d", i);
        fire(d, 90, id);
    }
    assert_true(due(d) == 30 + 4 * 3600);

    /* every other one resolves, in a scattered order */
    for (int k = 0; k < MANY / 2; k++) {
        int i = (int)(((long)k * 7919) % (MANY / 2)) * 2 + 1;
        snprintf(id, sizeof(id), "a%05d", i);
        resolve(d, 100, id);
    }
    n = tick_keep(d, 330, &v);
    assert_int_equal(n, MANY / 2);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i]->reason, NOTIFY_ALL_RESOLVED);
        snprintf(id, sizeof(id), "a%05zu", 2 * i + 1);
        assert_string_equal(kv_array_get(v[i]->alerts[0].labels,
                                         v[i]->alerts[0].nlabels, "id"), id);
    }
    free_all(v, n);
    assert_int_equal(stats(d).groups, MANY / 2);
    assert_int_equal(stats(d).alerts, MANY / 2);

    /* the rest survive a restart, then resolve too: no group is left */
    struct config *c2 = simple_config(true);
    set_group_by(&c2->routes[0].timing, "...");
    d = restart(d, c2);
    assert_int_equal(stats(d).groups, MANY / 2);
    for (int i = 0; i < MANY; i += 2) {
        snprintf(id, sizeof(id), "a%05d", i);
        resolve(d, 400, id);
    }
    n = tick_keep(d, 630, &v);
    assert_int_equal(n, MANY / 2);
    free_all(v, n);
    assert_int_equal(stats(d).groups, 0);
    assert_true(isinf(dispatch_next_due(d)));
    dispatch_free(d);
    config_free(c2);
}

/* A group of thousands of alerts (past the size where it keeps an index):
 * one notification with all of them, resolved ones leave it, the others
 * are still found after removals and a restart. */
static void test_big_group(void **state)
{
    (void)state;
    struct config *c = simple_config(true);
    struct dispatcher *d = dispatch_new(c);
    char id[32];
    for (int i = 0; i < MANY; i++) {
        snprintf(id, sizeof(id), "b%05d", i);
        fire(d, 0, id);
    }
    assert_int_equal(stats(d).groups, 1);
    assert_int_equal(stats(d).alerts, MANY);
    struct notification **v;
    size_t n = tick_keep(d, 30, &v);
    assert_int_equal(n, 1);
    assert_int_equal(v[0]->reason, NOTIFY_FIRST);
    assert_int_equal(v[0]->nalerts, MANY);
    free_all(v, n);

    for (int i = 0; i < MANY; i += 3) {
        snprintf(id, sizeof(id), "b%05d", i);
        resolve(d, 100, id);
    }
    n = tick_keep(d, 330, &v);
    assert_int_equal(n, 1);
    assert_int_equal(v[0]->reason, NOTIFY_RESOLVED);
    size_t resolved = 0;
    for (size_t i = 0; i < v[0]->nalerts; i++)
        resolved += streq(v[0]->alerts[i].status, "resolved");
    assert_int_equal(resolved, (MANY + 2) / 3);
    free_all(v, n);
    size_t left = MANY - (MANY + 2) / 3;
    assert_int_equal(stats(d).alerts, left);

    d = restart(d, c);
    /* the ones still firing are known: feeding them again is no news */
    for (int i = 0; i < MANY; i++) {
        if (i % 3 == 0)
            continue;
        snprintf(id, sizeof(id), "b%05d", i);
        fire(d, 400, id);
    }
    assert_string_equal(tick(d, 630), "");
    assert_int_equal(stats(d).alerts, left);
    /* one that resolved fires again: new_alerts with it alone new */
    fire(d, 700, "b00000");
    n = tick_keep(d, 930, &v);
    assert_int_equal(n, 1);
    assert_int_equal(v[0]->reason, NOTIFY_NEW_ALERTS);
    assert_int_equal(v[0]->nalerts, left + 1);
    free_all(v, n);
    dispatch_free(d);
    config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing_order_and_continue),
        cmocka_unit_test(test_severity_matching),
        cmocka_unit_test(test_unrouted),
        cmocka_unit_test(test_group_by_splits),
        cmocka_unit_test(test_group_wait_then_interval),
        cmocka_unit_test(test_timing_overrides),
        cmocka_unit_test(test_repeat),
        cmocka_unit_test(test_resolved_then_all_resolved),
        cmocka_unit_test(test_resolved_alert_data),
        cmocka_unit_test(test_send_resolved_false),
        cmocka_unit_test(test_short_lived_not_sent),
        cmocka_unit_test(test_severity_change_is_new_alerts),
        cmocka_unit_test(test_flapping),
        cmocka_unit_test(test_firing_order),
        cmocka_unit_test(test_ids_stable_and_increasing),
        cmocka_unit_test(test_restart_mid_timeline),
        cmocka_unit_test(test_restart_pending_group_wait),
        cmocka_unit_test(test_from_json_errors),
        cmocka_unit_test(test_silence_suppresses_and_expiry_renotifies),
        cmocka_unit_test(test_silenced_resolve_sends_nothing),
        cmocka_unit_test(test_silence_after_announce),
        cmocka_unit_test(test_silence_expire_early),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_many_groups),
        cmocka_unit_test(test_big_group),
    };
    log_set_level(LOG_ERR);
    fixture_register_receivers(NULL, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
