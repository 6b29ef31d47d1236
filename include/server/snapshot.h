/*
 * snapshot.h - an immutable picture of the daemon, built by the main loop
 * after each cycle and read by the HTTP server thread (status page,
 * /metrics, /api/v1/...) and by `segalert status`.
 *
 * The main loop builds a new snapshot (snapshot_new + filling the arrays,
 * every string a heap copy owned by the snapshot, but for the label sets
 * of series: see struct snap_series) and publishes it with
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
#include "engine/labels.h"
#include "engine/metrics.h"
#include "api/poll.h"
#include "api/segment.h"
#include "notify/notify.h"

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
};

struct snap_alert {
    char *rule;
    struct kv *labels;          /* alert labels, sorted by key */
    size_t nlabels;
    char *state;                /* "pending", "firing", "nodata" */
    char *severity;             /* "critical", "warning"... */
    double value;               /* NAN when none */
    double active_at, fired_at;
    bool flapping;
    bool silenced;
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
    unsigned long delivered, failed, retrying;
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

/* A Segment series for /metrics: segment_<metric>{labels} value.  Its
 * labels are not copied: they are the series' interned set, borrowed from
 * the daemon's label pool, which lives until the daemon has stopped the
 * HTTP server and cleared the published snapshot (labels.h: interned sets
 * are immutable and safe to read from another thread).  Copying them cost
 * a dozen strings a series, twice over while a new snapshot replaces the
 * old one. */
struct snap_series {
    enum family fam;
    const struct labelset *labels;
    double v[M__COUNT];
    bool has[M__COUNT];
    double t;                   /* newest sample time */
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
