/*
 * sim_scenario.h - the simulated workspace: sources, their connected
 * destinations, incidents, faults and server behaviour, loaded from a
 * libconfuse scenario file (see docs/sim.md).
 *
 * A scenario is immutable once loaded: request threads read it without
 * locks.  Every number the API serves is computed from it and the time
 * (sim_model.h), so nothing per-minute is stored.
 */
#ifndef SEGALERT_SIM_SCENARIO_H
#define SEGALERT_SIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_ID_LEN 22

/* Entries of one "CODE=share" list (discard_reasons, an incident's
 * reasons), and distinct reason codes in a whole scenario: every code is
 * interned once in scenario->reason_names so that per-bucket counts are
 * plain arrays indexed by code. */
#define SIM_MAX_REASONS 16
#define SIM_MAX_REASON_NAMES 64

enum sim_incident_kind {
    INC_DISCARD_SPIKE = 0,  /* discard ratio := value on matching connections */
    INC_LATENCY_SPIKE,      /* latencies *= value */
    INC_DELIVERY_STALL,     /* nothing delivered, discarded or expired */
    INC_VOLUME_DROP,        /* source volume *= value (e.g. 0.2) */
    INC_VOLUME_SPIKE,       /* source volume *= value (e.g. 3) */
    INC_MTU_SURGE,          /* MTU growth *= value */
    INC_DESTINATION_OUTAGE, /* deliveries fail and are retried; outcomes
                               arrive late (success when it ends, or
                               expired after retry_for) */
    INC_KIND_COUNT
};

/* A discard-reason mix: codes (indexes into scenario->reason_names) with
 * shares that add up to 1. */
struct sim_reasons {
    size_t n;
    int idx[SIM_MAX_REASONS];
    double share[SIM_MAX_REASONS];
};

struct sim_incident {
    char *name;
    enum sim_incident_kind kind;
    char *source_glob;      /* glob on source slug */
    char *dest_glob;        /* glob on destination key or catalog slug */
    double start;           /* absolute unix seconds (sim start + start) */
    double duration_s;
    double every_s;         /* 0 = once; else repeats with this period */
    double value;
    struct sim_reasons reasons;  /* discard codes (discard_spike, outage) */
    double retry_for_s;     /* outage: how long failed events are retried */
    double discarded;       /* outage: share of failures discarded at once */
};

enum sim_dest_mode {
    SIM_MODE_CLOUD = 0,     /* delivered by Segment's servers */
    SIM_MODE_DEVICE,        /* by a library on the device: Segment attempts
                               nothing, delivery metrics stay 0 */
};

struct sim_dest {
    char *key;              /* section title, unique within its source */
    char id[SIM_ID_LEN + 1];/* destination instance id */
    char *name;
    char *slug;             /* catalog slug: amplitude, webhooks, ... */
    char *meta_id;          /* catalog id (destinationMetadataId) */
    char *meta_name;
    char *meta_category;
    bool enabled;
    enum sim_dest_mode mode;
    double filtered;        /* share dropped by destination filters */
    double subscribed;      /* share matching the Actions subscriptions */
    double fanout;          /* deliveries per event (>= 1) */
    struct sim_reasons discard_reasons;  /* baseline discard mix */
    uint64_t hash;          /* per-connection draw seed */
    double lookback_s;      /* longest retry_for of its outages: outcomes
                               land up to this long after the events */
    double discard_ratio;   /* share of attempted events discarded */
    double expired_ratio;   /* share of attempted events expired */
    double retry_ratio;     /* share of successes that needed a retry */
    double latency_avg_s;   /* time_to_success average, seconds */
    double latency_p95_s;
    double first_avg_s;     /* time_to_first_attempt average, seconds */
    double first_p95_s;
    /* incidents that match this connection (borrowed pointers) */
    const struct sim_incident **incidents;
    size_t n_incidents;
};

struct sim_source {
    char *slug;             /* section title */
    char id[SIM_ID_LEN + 1];
    char *name;
    char *type;             /* catalog slug: javascript, ios, ... */
    char *meta_id, *meta_name, *meta_category;
    bool enabled;
    double events_per_minute;   /* baseline */
    double daily_amplitude;     /* 0..1, size of the daily sine */
    double noise;               /* 0..1, per-minute deterministic jitter */
    double mtu_per_day;         /* new MTUs per day */
    double api_calls_per_day;
    double failed_on_ingest;    /* share of events refused at ingestion */
    double filtered_at_source;  /* share dropped by schema / Protocols */
    bool not_found;             /* faults.not_found_sources: listed, but
                                   connected-destinations answers 404 */
    char **label_keys, **label_values;
    size_t n_labels;
    struct sim_dest *dests;
    size_t n_dests;
    uint64_t hash;              /* per-source noise seed */
    /* volume/MTU incidents that match this source (borrowed pointers) */
    const struct sim_incident **incidents;
    size_t n_incidents;
};

#define SIM_FAULT_ERROR_5XX 0
#define SIM_FAULT_GARBAGE   1
#define SIM_FAULT_TRUNCATED 2
#define SIM_FAULT_HTML      3
#define SIM_FAULT_SLOW      4
#define SIM_FAULT_DROP      5
#define SIM_FAULT_ERROR_422 6
#define SIM_FAULT_COUNT     7

struct sim_faults {
    double share[SIM_FAULT_COUNT];  /* each 0..1, sum <= 1 */
    double slow_for_s;
    long fail_first;                /* the first N requests of every distinct
                                       URL fail (5xx, garbage, truncated, HTML
                                       in turn), then succeed: deterministic
                                       retries for tests */
    char **paths;                   /* globs; NULL/0 = every path */
    size_t n_paths;
    /* Deterministic faults, each a list of globs on the request path. */
    char **forbidden;               /* always 403 */
    size_t n_forbidden;
    char **repeat_cursor;           /* next cursor == current, forever */
    size_t n_repeat_cursor;
    char **duplicate_items;         /* pages overlap by one item */
    size_t n_duplicate_items;
};

struct scenario {
    char *file;                 /* path it came from, "<built-in>" */
    uint64_t seed;
    char *token;
    char workspace_id[SIM_ID_LEN + 1];
    long rate_limit;            /* requests per window, 0 = unlimited */
    long volume_rate_limit;     /* /events/volume requests per window,
                                   counted apart; 0 = no extra limit */
    double rate_window_s;       /* fixed window, default 60 s */
    double latency_s;
    double latency_jitter_s;
    bool latency_ms;            /* latency_unit = "ms" */
    long max_page_size;
    long default_page_size;
    int period_anchor_day;      /* day of month usage periods start on */
    double start;               /* sim start, unix seconds */
    struct sim_source *sources;
    size_t n_sources;
    struct sim_incident *incidents;
    size_t n_incidents;
    struct sim_faults faults;
    char *reason_names[SIM_MAX_REASON_NAMES];   /* interned discard codes */
    size_t n_reasons;
};

/*
 * Load a scenario from path (NULL: the built-in default workspace).
 * seed_override/token_override (when >= 0 / non-NULL) replace the file's
 * values.  start is the sim start time that relative incident times
 * count from.  Errors are printed to stderr as "FILE:LINE: message";
 * returns NULL on any error.
 */
struct scenario *scenario_load(const char *path, long long seed_override,
                               const char *token_override, double start);
void scenario_free(struct scenario *sc);

/* Lookup by id; NULL when unknown. */
const struct sim_source *scenario_find_source(const struct scenario *sc,
                                              const char *id);
const struct sim_dest *scenario_find_dest(const struct scenario *sc,
                                          const char *id,
                                          const struct sim_source **src);

/* Whether any glob of list matches path. */
bool sim_globs_match(char *const *globs, size_t n, const char *path);

/* "discard_spike" ... ; NULL for an out-of-range kind */
const char *sim_incident_kind_name(enum sim_incident_kind k);

#endif
