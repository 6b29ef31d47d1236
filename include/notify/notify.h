/*
 * notify.h - the notification model shared by the pipeline (dispatch,
 * outbox, state file) and the receivers (docs/notifications.md).
 *
 * A struct notification is self-contained: it owns copies of every string
 * (labels, annotations, names), never points into the evaluator or the
 * config, so it can be written to the state file before its first delivery
 * attempt and delivered after a restart.  Secrets (webhook URLs, routing
 * keys, passwords) are NOT part of it: the sender looks the receiver up by
 * name in the running configuration at delivery time.
 *
 * Times are unix seconds (double); 0 means "unset".
 */
#ifndef SEGALERT_NOTIFY_H
#define SEGALERT_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "core/util.h"
#include "engine/discard_reasons.h"
#include "engine/metrics.h"

/* Why a notification is sent (carried in every payload). */
enum notify_reason {
    NOTIFY_FIRST = 0,       /* first notification of the group */
    NOTIFY_NEW_ALERTS,      /* alerts joined the group, or severity changed */
    NOTIFY_RESOLVED,        /* some alerts of the group resolved */
    NOTIFY_ALL_RESOLVED,    /* every alert of the group resolved */
    NOTIFY_REPEAT,          /* repeat_interval elapsed while firing */
    NOTIFY_FLAPPING,        /* an alert started or stopped flapping */
    NOTIFY_TEST,            /* segalert notify-test */
    NOTIFY__COUNT
};
const char *notify_reason_name(enum notify_reason r);   /* "first", "new_alerts"... */
int notify_reason_parse(const char *s);                 /* -1 when unknown */

struct notify_alert {
    char *rule;
    char *fingerprint;      /* 16 hex digits of the identity labels' hash */
    struct kv *labels;      /* sorted by key; includes rule=, excludes severity */
    size_t nlabels;
    char *severity;         /* "critical", "warning", "info", "error" */
    char *status;           /* "firing" or "resolved" */
    bool nodata;            /* firing because of no_data = alert */
    bool flapping;
    double value;           /* the rule value, NAN when none */
    enum metric_unit unit;  /* of value: how people read it */
    char *summary;          /* rendered, may be NULL */
    char *description;      /* rendered, may be NULL */
    char *runbook_url;      /* may be NULL */
    double starts_at;       /* when it became active (pending) */
    double ends_at;         /* resolved time, 0 while firing */
    struct discard_reasons *reasons;    /* discard reasons of a connection
                                           alert, NULL when none (README.md
                                           "Discard reasons"); owned */
};

/* The label naming an alert's top discard reason: a notification label,
 * not part of the identity (fingerprint). */
#define NOTIFY_LABEL_DISCARD_REASON "discard_reason"

struct notification {
    char *id;               /* unique id: "<group hash>-<seq>", stable across
                               restarts (outbox key, PagerDuty/webhook dedup) */
    char *receiver;         /* receiver name */
    char *receiver_type;    /* its type's name ("webhook"), for the state
                               file and the API */
    char *route;            /* route name that produced it */
    char *group_key;        /* "route:{k=\"v\",...}" - stable identity of the group */
    struct kv *group_labels;    /* the group_by labels and values */
    size_t ngroup_labels;
    enum notify_reason reason;
    struct notify_alert *alerts;
    size_t nalerts;
    double created_at;
    char *external_url;     /* status page URL for links, may be NULL */
};

/* "firing" when any alert fires, else "resolved". */
const char *notification_status(const struct notification *n);
size_t notification_count(const struct notification *n, const char *status);
/* Highest severity among firing alerts (critical > error > warning > info),
 * or of all alerts when none fires. */
const char *notification_severity(const struct notification *n);
/* Labels shared by every alert (with equal values); caller frees with
 * kv_array_free(). */
struct kv *notification_common_labels(const struct notification *n, size_t *count);

struct notification *notification_new(void);
struct notification *notification_dup(const struct notification *n);
void notification_free(struct notification *n);
void notify_alert_free_fields(struct notify_alert *a);
/* Deep copy of a into dst (freed with notify_alert_free_fields). */
void notify_alert_copy(struct notify_alert *dst, const struct notify_alert *a);

#endif
