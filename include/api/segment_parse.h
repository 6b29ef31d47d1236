/*
 * segment_parse.h - pure parsers for Segment Public API response bodies
 * (README.md "What is collected", docs/segment-api.md).  Bytes in, structs
 * out; no I/O.
 *
 * Every parser takes (body, len) - body need not be NUL-terminated - and:
 *  - returns 0 with a filled result, possibly partial: rows that are
 *    malformed (wrong types, missing required fields) are skipped and
 *    counted in ->skipped, with the first reason in ->warning;
 *  - or returns -1 with a one-line reason in err (errlen bytes), e.g.
 *    "invalid JSON at byte 1234 (truncated body?)", "body is HTML, not
 *    JSON (status page or proxy error?)", "missing data.sources array".
 *    The result is then empty (and needs no free, though free is safe).
 * Bodies larger than SEGPARSE_MAX_BODY are refused.  Unknown fields and
 * unknown metric names are ignored.  Counts sent as JSON strings
 * ("apiCalls": "3104455") are accepted where the API does that and also
 * where it normally sends numbers; a count that is not a number (bool,
 * "abc") makes that value absent.  So does an implausible one - negative,
 * not finite (1e400) or above SEGPARSE_MAX_COUNT (1.79e308) - which is
 * also counted in ->implausible, with the first one named, so the caller
 * can warn: such a value never becomes a sample (attempted = inf would
 * make discard_ratio 0 and hide discards).
 *
 * All strings in results are heap copies owned by the result; free each
 * result with its *_free() function (NULL-safe, resets the struct).
 * String fields are never NULL unless marked (absent optional ones are "").
 * Every string in a result - names, slugs, ids, messages, warnings - is
 * well-formed UTF-8: ill-formed parts of the body's strings are replaced
 * with U+FFFD (core/utf8.h), so whatever the API sends, labels, logs,
 * payloads, /metrics and the status page get valid UTF-8.  Control
 * characters are kept: each consumer escapes them for its medium.
 *
 * next: a non-empty data.pagination.next string; NULL when it is absent,
 * null or "" (last page).  Any other type is also NULL, with a warning, so
 * a garbled cursor cannot make the caller loop.
 *
 * Disabled sources/destinations are returned (enabled = false); the caller
 * filters.  Rows without an id or without a bool "enabled" are skipped.
 * A body that is an error envelope makes the data parsers fail with
 * "API error <type>: <message>"; use segparse_error() for the details.
 */
#ifndef SEGALERT_SEGMENT_PARSE_H
#define SEGALERT_SEGMENT_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/discard_reasons.h"
#include "engine/metrics.h"

#define SEGPARSE_MAX_BODY (8u * 1024 * 1024)

/* The largest count (or latency, or time) believed: 10^15 events is a
 * million times the largest workspace's yearly volume, and every count up
 * to it is an exact double. */
#define SEGPARSE_MAX_COUNT 1e15

/* Implausible values refused by a parser: how many, and the first as
 * "name = value". */
struct seg_implausible {
    size_t n;
    char first[96];
};

/* ---- GET /sources ---------------------------------------------------- */

struct seg_source {
    char *id;
    char *slug;
    char *name;             /* may be "" */
    bool enabled;
};

struct seg_sources {
    struct seg_source *items;
    size_t n;
    char *next;             /* next page cursor, NULL when last page */
    size_t skipped;
    char warning[256];
};

int segparse_sources(const char *body, size_t len, struct seg_sources *out,
                     char *err, size_t errlen);
void seg_sources_free(struct seg_sources *s);

/* ---- GET /sources/{id}/connected-destinations ------------------------- */

/*
 * How a destination receives events, as far as its catalog entry tells.
 * The API has no field for the mode one instance was set up in, only what
 * the catalog entry (metadata) allows: its components (SERVER = cloud;
 * BROWSER, IOS, ANDROID = device), supportedFeatures (cloudModeInstances /
 * deviceModeInstances; "NONE" rules a mode out; "0" says nothing) and, for
 * Actions destinations, the platforms of its actions (CLOUD; WEB, MOBILE).
 * A mode is given only when the entry supports that mode and explicitly
 * rules the other out; an entry that allows both, or says too little, is
 * SEG_MODE_UNKNOWN.
 */
enum seg_dest_mode { SEG_MODE_UNKNOWN = 0, SEG_MODE_CLOUD, SEG_MODE_DEVICE };
/* "cloud", "device", or NULL for SEG_MODE_UNKNOWN. */
const char *seg_dest_mode_name(enum seg_dest_mode m);

struct seg_destination {
    char *id;               /* instance id: used for delivery-metrics */
    char *name;             /* instance name, may be "" */
    char *slug;             /* catalog slug (metadata.slug), may be "" */
    char *metadata_id;      /* catalog id (metadata.id), may be "" */
    char *source_id;
    bool enabled;
    enum seg_dest_mode mode;
};

struct seg_destinations {
    struct seg_destination *items;
    size_t n;
    char *next;
    size_t skipped;
    char warning[256];
};

int segparse_destinations(const char *body, size_t len,
                          struct seg_destinations *out, char *err,
                          size_t errlen);
void seg_destinations_free(struct seg_destinations *d);

/* ---- GET /destinations/{id}/delivery-metrics -------------------------- */

/*
 * A window summary.  v[] is indexed by metric id (metrics.h), has[] says
 * which were present in the body.  Latencies (time_to_*) are multiplied
 * by latency_scale to give seconds.  Derived metrics are filled in with
 * metrics_derive().  An empty metrics array is a valid summary with
 * nothing present.  The "total" of time_to_* is a sample count, not a
 * latency, and is not kept.  A value that is not a count (bool, negative,
 * 1e400, 1e300, "abc") is absent and named in ->warning (implausible ones
 * also in ->implausible); a duplicated name keeps its first value.  latency_scale must be finite and > 0 (asserted).
 * There is nothing to free.
 */
struct seg_delivery {
    double v[M__COUNT];
    bool has[M__COUNT];
    char source_id[64];
    char destination_metadata_id[64];
    size_t unknown_metrics;     /* names ignored (breakdown names too) */
    char first_unknown[64];
    size_t skipped;             /* metrics[] entries without a name */
    char warning[256];          /* first problem: bad value, duplicate... */
    struct seg_implausible implausible;
};

int segparse_delivery_metrics(const char *body, size_t len,
                              double latency_scale, struct seg_delivery *out,
                              char *err, size_t errlen);

/* ---- GET /events/volume ---------------------------------------------- */

struct seg_volume_point {
    double time;            /* bucket start, unix seconds */
    double count;
};

struct seg_volume_group {
    char *source_id;        /* NULL when not grouped by source */
    char *source_name;      /* may be NULL */
    char *source_slug;      /* may be NULL */
    struct seg_volume_point *points;    /* in body order */
    size_t npoints;
};
/* A group whose "source" is present but has no id is skipped (its counts
 * must not pose as an ungrouped workspace total). */

struct seg_volume {
    struct seg_volume_group *groups;
    size_t ngroups;
    char *next;
    size_t skipped;         /* points or groups skipped */
    char warning[256];
    struct seg_implausible implausible;     /* counts among them */
};

int segparse_event_volume(const char *body, size_t len, struct seg_volume *out,
                          char *err, size_t errlen);
void seg_volume_free(struct seg_volume *v);

/* ---- GET /usage/... ---------------------------------------------------- */

enum seg_usage_kind {
    USAGE_MTU_SOURCES = 0,      /* /usage/mtu/sources/daily  dailyPerSourceMTUUsage */
    USAGE_MTU_WORKSPACE,        /* /usage/mtu/daily          dailyWorkspaceMTUUsage */
    USAGE_API_CALLS_SOURCES,    /* /usage/api-calls/sources/daily  dailyPerSourceAPICallsUsage */
    USAGE_API_CALLS_WORKSPACE,  /* /usage/api-calls/daily    dailyWorkspaceAPICallsUsage */
    USAGE__COUNT
};

struct seg_usage_row {
    char *source_id;            /* NULL for workspace rows */
    double time;                /* the day this snapshot describes */
    double period_start;        /* unix seconds; NAN when absent (api calls) */
    double period_end;
    double v[M__COUNT];         /* M_MTU* or M_API_CALLS */
    bool has[M__COUNT];
};

struct seg_usage {
    struct seg_usage_row *rows;
    size_t nrows;
    char *next;
    size_t skipped;
    char warning[256];
    struct seg_implausible implausible;     /* counts and periods */
};

/* Rows without a valid timestamp, without sourceId (per-source kinds) or
 * without any usable count are skipped.  M_MTU is set only when both
 * identified and neverIdentified are present. */
int segparse_usage(enum seg_usage_kind kind, const char *body, size_t len,
                   struct seg_usage *out, char *err, size_t errlen);
void seg_usage_free(struct seg_usage *u);
const char *seg_usage_path(enum seg_usage_kind kind);   /* "/usage/mtu/daily" */

/* ---- GET /delivery-overview/failed-delivery?groupBy=discardReason ------ */

/* One page of the failed deliveries of a connection grouped by
 * discardReason: each dataset's total (the sum of its series when total
 * is absent) is added to reasons (discard_reasons_add: call
 * discard_reasons_finish() after the last page).  A dataset without a
 * string discardReason, or without any usable count, is skipped. */
struct seg_overview {
    char *next;
    size_t datasets;        /* datasets read */
    size_t skipped;
    char warning[256];
    struct seg_implausible implausible;
};

int segparse_failed_delivery(const char *body, size_t len,
                             struct discard_reasons *reasons,
                             struct seg_overview *out, char *err,
                             size_t errlen);
void seg_overview_free(struct seg_overview *o);

/* ---- error envelope ---------------------------------------------------- */

struct seg_error {
    char type[64];
    char message[512];          /* "" when absent */
    char field[64];
    double ms_before_next;      /* 429: errors[0].data.msBeforeNext, or -1 */
};

/* Parse {"errors":[{...}]}.  Returns 0 when the body is such an envelope,
 * -1 otherwise (out then holds a short description of what the body
 * looked like in message, e.g. "HTML page", "empty body"). */
int segparse_error(const char *body, size_t len, struct seg_error *out);

#endif
