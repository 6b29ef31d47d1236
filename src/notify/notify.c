/*
 * notify.c - see notify.h.
 */
#include "notify/notify.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *reason_names[NOTIFY__COUNT] = {
    "first", "new_alerts", "resolved", "all_resolved", "repeat", "flapping",
    "test",
};

const char *notify_reason_name(enum notify_reason r)
{
    return (unsigned)r < NOTIFY__COUNT ? reason_names[r] : "?";
}

int notify_reason_parse(const char *s)
{
    for (int i = 0; i < NOTIFY__COUNT; i++)
        if (streq(reason_names[i], s))
            return i;
    return -1;
}

const char *notification_status(const struct notification *n)
{
    return notification_count(n, "firing") > 0 ? "firing" : "resolved";
}

size_t notification_count(const struct notification *n, const char *status)
{
    size_t c = 0;
    for (size_t i = 0; i < n->nalerts; i++)
        c += streq(n->alerts[i].status, status);
    return c;
}

static int severity_rank(const char *s)
{
    if (streq(s, "critical"))
        return 4;
    if (streq(s, "error"))
        return 3;
    if (streq(s, "warning"))
        return 2;
    if (streq(s, "info"))
        return 1;
    return 0;
}

const char *notification_severity(const struct notification *n)
{
    bool any_firing = notification_count(n, "firing") > 0;
    const char *best = NULL;
    for (size_t i = 0; i < n->nalerts; i++) {
        const struct notify_alert *a = &n->alerts[i];
        if (any_firing && !streq(a->status, "firing"))
            continue;
        if (!best || severity_rank(a->severity) > severity_rank(best))
            best = a->severity;
    }
    return best ? best : "critical";
}

struct kv *notification_common_labels(const struct notification *n, size_t *count)
{
    *count = 0;
    if (n->nalerts == 0)
        return NULL;
    const struct notify_alert *first = &n->alerts[0];
    struct kv *out = xcalloc(first->nlabels ? first->nlabels : 1, sizeof(*out));
    for (size_t i = 0; i < first->nlabels; i++) {
        bool common = true;
        for (size_t a = 1; a < n->nalerts && common; a++)
            common = streq(kv_array_get(n->alerts[a].labels, n->alerts[a].nlabels,
                                        first->labels[i].key),
                           first->labels[i].value);
        if (common) {
            out[*count].key = xstrdup(first->labels[i].key);
            out[*count].value = xstrdup(first->labels[i].value);
            (*count)++;
        }
    }
    return out;
}

struct notification *notification_new(void)
{
    return xcalloc(1, sizeof(struct notification));
}

void notify_alert_free_fields(struct notify_alert *a)
{
    free(a->rule);
    free(a->fingerprint);
    kv_array_free(a->labels, a->nlabels);
    free(a->severity);
    free(a->status);
    free(a->summary);
    free(a->description);
    free(a->runbook_url);
    free(a->reasons);
    memset(a, 0, sizeof(*a));
}

struct notification *notification_dup(const struct notification *n)
{
    struct notification *d = notification_new();
    d->id = xstrdup(n->id);
    d->receiver = xstrdup(n->receiver);
    d->receiver_type = xstrdup(n->receiver_type);
    d->route = xstrdup(n->route);
    d->group_key = xstrdup(n->group_key);
    d->group_labels = kv_array_dup(n->group_labels, n->ngroup_labels);
    d->ngroup_labels = n->ngroup_labels;
    d->reason = n->reason;
    d->created_at = n->created_at;
    d->external_url = xstrdup(n->external_url);
    d->nalerts = n->nalerts;
    d->alerts = xcalloc(n->nalerts ? n->nalerts : 1, sizeof(*d->alerts));
    for (size_t i = 0; i < n->nalerts; i++)
        notify_alert_copy(&d->alerts[i], &n->alerts[i]);
    return d;
}

void notify_alert_copy(struct notify_alert *dst, const struct notify_alert *a)
{
    *dst = *a;
    dst->rule = xstrdup(a->rule);
    dst->fingerprint = xstrdup(a->fingerprint);
    dst->labels = kv_array_dup(a->labels, a->nlabels);
    dst->severity = xstrdup(a->severity);
    dst->status = xstrdup(a->status);
    dst->summary = xstrdup(a->summary);
    dst->description = xstrdup(a->description);
    dst->runbook_url = xstrdup(a->runbook_url);
    if (a->reasons) {
        dst->reasons = xmalloc(sizeof(*dst->reasons));
        *dst->reasons = *a->reasons;
    }
}

void notification_free(struct notification *n)
{
    if (!n)
        return;
    free(n->id);
    free(n->receiver);
    free(n->receiver_type);
    free(n->route);
    free(n->group_key);
    kv_array_free(n->group_labels, n->ngroup_labels);
    for (size_t i = 0; i < n->nalerts; i++)
        notify_alert_free_fields(&n->alerts[i]);
    free(n->alerts);
    free(n->external_url);
    free(n);
}
