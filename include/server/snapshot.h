/*
 * snapshot.h - an immutable picture of the daemon, built by the main loop
 * after each cycle and read by the HTTP server thread (status page,
 * /metrics, /api/v1/...) and by `segalert status`.
 *
 * The main loop builds a new snapshot (snapshot_new + filling the arrays,
 * every string a heap copy owned by the snapshot) and publishes it with
 * snapshot_publish(); readers take a reference with snapshot_acquire() and
 * drop it with snapshot_release().  A snapshot is never modified after it
 * is published, so readers need no further locking.  No secret is ever put
 * in a snapshot (no tokens, webhook URLs, routing keys, passwords).
 */
#ifndef SEGALERT_SNAPSHOT_H
#define SEGALERT_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "engine/metrics.h"
#include "api/poll.h"
#include "api/segment.h"
#include "notify/notify.h"
#include "export/exporter.h"
#include "export/names.h"

struct snap_point {
    double t, v;
};

struct snap_workspace {
    char *name;
    char *api_url;              /* not a secret */
    bool up;                    /* segalert_workspace_up */
    bool unauthorized;
    bool discovered;
    size_t nsources, nconnections;
    double last_ok[POLL__COUNT];        /* unix time, 0 = never */
    unsigned long errors[POLL__COUNT];
    char *last_error[POLL__COUNT];      /* may be NULL */
    double staleness_s[POLL__COUNT];    /* now - last_ok, or -1 when never */
    double oldest_connection_s;         /* age of the least recently polled
                                           connection, -1 when none */
    double request_budget;              /* per minute, configured */
    double effective_budget;            /* after 429 slow-down */
    double requests_last_minute;        /* achieved rate */
    unsigned long requests[SEGEP__COUNT];
    /* as seg_client_stats */
    unsigned long by_class[SEGEP__COUNT][SEGCLS__COUNT];
    unsigned long rate_limited;
    unsigned long retries;
    int in_flight;
    size_t queued;
    /* Coverage per poll kind (POLL_DELIVERY...): blind = the family's data
     * is not fresh (the segalert-coverage alert fires); reason says why. */
    bool blind[POLL__COUNT];
    char *blind_reason[POLL__COUNT];    /* NULL unless blind */
    double blind_since[POLL__COUNT];
    /* plan limits (0 = unset) and the usage period (unix seconds) */
    double mtu_limit, api_calls_limit;
    double period_start, period_end;
};

struct snap_alert {
    char *rule;
    struct kv *labels;          /* alert labels, sorted by key */
    size_t nlabels;
    char *state;                /* "pending", "firing", "nodata" */
    char *severity;             /* "critical", "warning"... */
    double value;               /* NAN when none */
    enum metric_unit unit;      /* of value (expr_value_unit) */
    double active_at, fired_at;
    bool flapping;
    bool silenced;
    /* The silence that matches (when silenced): who, why, until when. */
    char *silence_id, *silence_by, *silence_comment;  /* may be NULL */
    double silence_ends_at;
    char *summary;              /* may be NULL */
    char *runbook_url;          /* may be NULL */
    struct snap_point *spark;   /* recent values of the rule's first metric */
    size_t nspark;
    char *spark_metric;         /* name of that metric, may be NULL */
};

struct snap_rule {
    char *name;
    char *family;
    char *expr;
    char *warn;                 /* may be NULL */
    char *severity;
    double for_s;
    char *file;
    int line;
    size_t inactive, pending, firing;
};

struct snap_receiver {
    char *name;
    char *type;
    unsigned long delivered, failed;
    unsigned long retrying;     /* waiting for a retry now (a gauge) */
    unsigned long retries;      /* failed attempts retried (a total) */
    struct kv *failures;        /* reason -> count (as decimal string) */
    size_t nfailures;
    char *last_error;           /* may be NULL */
};

struct snap_silence {
    char *id;
    char *matchers;             /* "rule=discard-ratio, source=web" */
    double starts_at, ends_at;
    char *created_by, *comment;
    bool active;
};

/* A Segment series for /metrics: its newest values, and the running
 * totals of its counts (export/ledger.h), indexed by enum export_metric
 * (the count metrics of its family; has_totals false when none yet). */
struct snap_series {
    enum family fam;
    struct kv *labels;
    size_t nlabels;
    double v[M__COUNT];
    bool has[M__COUNT];
    double t;                   /* newest sample time */
    bool has_totals;
    double total[EXM__COUNT];
};

/* An exporter's health.  st.name and st.type are NULL (name and type
 * are the snapshot's copies); nothing secret (no URL, key or header). */
struct snap_exporter {
    char *name;
    char *type;
    struct exporter_stats st;
};

struct snapshot {
    int refs;                   /* managed by acquire/release */
    double generated_at;
    double started_at;
    char *version;
    char *config_path;
    char *state_dir;
    bool ready;                 /* every workspace polled once, up, and
                                   every family fresh */
    char *not_ready;            /* why not ready ("starting", "blind: ...");
                                   NULL when ready */
    double eval_duration_s;
    size_t eval_evaluations;
    double last_eval_at;
    size_t outbox_queued;
    unsigned long notifications_by_reason[NOTIFY__COUNT];
    unsigned long unrouted, suppressed_short_lived;
    struct snap_workspace *workspaces; size_t nworkspaces;
    struct snap_alert *alerts;         size_t nalerts;
    struct snap_rule *rules;           size_t nrules;
    struct snap_receiver *receivers;   size_t nreceivers;
    struct snap_silence *silences;     size_t nsilences;
    struct snap_series *series;        size_t nseries;
    struct snap_exporter *exporters;   size_t nexporters;
};

struct snapshot *snapshot_new(void);
/* Replace the published snapshot (takes ownership of s; the old one is
 * released). Thread-safe. */
void snapshot_publish(struct snapshot *s);
/* The current snapshot with a reference, or NULL before the first publish. */
struct snapshot *snapshot_acquire(void);
void snapshot_release(struct snapshot *s);
/* Drop the published snapshot (shutdown). */
void snapshot_clear(void);

/* Queries the renderers share (pure; s is borrowed). */

/* Alerts whose state is state ("pending", "firing", "nodata"). */
size_t snapshot_count_alerts(const struct snapshot *s, const char *state);
size_t snapshot_count_active_silences(const struct snapshot *s);
/* "active", "pending" (starts after s->generated_at) or "expired". */
const char *snapshot_silence_status(const struct snapshot *s,
                                    const struct snap_silence *si);

#endif
