/*
 * silence.h - silences (docs/notifications.md "Silences"): label matchers
 * with a time range; an alert matched by an active silence is not
 * notified.
 *
 * A silence matches an alert when every matcher "label=glob" matches the
 * alert's label of that name (glob_match, the whole value); the key
 * "severity" also matches the alert's severity, which is not one of its
 * labels.  A label the alert lacks is matched as the empty string, so
 * "team=*" matches every alert and "team=" matches alerts without a team.
 * A silence is active when starts_at <= now < ends_at.
 *
 * The set owns every silence and every string in it.  Pointers returned
 * by silences_list() and silences_match() stay valid until the next call
 * that modifies the set (add, expire, gc, from_json) or silences_free().
 * Times are unix seconds.
 *
 * Errors: the calls that change the set return enum silence_err, so that
 * callers (the HTTP API) can tell a bad request from an unknown id
 * without reading the message, which goes to a caller buffer.
 *
 * Limits (README.md "Operations", max_silences / max_silence_size_bytes):
 * silence_add() refuses a silence larger than max_bytes and a new one
 * while max_count are active or pending.  Loading a state file never
 * refuses what it holds (lowering a limit drops no silence).  Finding a
 * silence by id is a hash lookup, so loading n silences is O(n).
 */
#ifndef SEGALERT_SILENCE_H
#define SEGALERT_SILENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config/config.h"

/* Longest silence id accepted from outside (a URL path, the command
 * line); silence_add makes ids of 16 hex digits. */
#define SILENCE_ID_MAX 64

enum silence_err {
    SILENCE_OK = 0,
    SILENCE_INVALID,        /* bad matchers or time range */
    SILENCE_NOT_FOUND,      /* no silence with that id */
    SILENCE_ENDED,          /* the silence has already ended */
    SILENCE_LIMIT,          /* max_silences or max_silence_size_bytes */
};

/* 0 = no limit. */
struct silence_limits {
    size_t max_count;       /* active and pending silences */
    size_t max_bytes;       /* silence_size() of one */
};

struct silence {
    char *id;               /* 16 hex digits */
    struct kv *matchers;    /* label=glob, all must match */
    size_t n;
    double starts_at;
    double ends_at;         /* expiring sets it to the expiry time */
    char *created_by;       /* may be NULL */
    char *comment;          /* may be NULL */
};

struct silences;

/* A new set has no limits. */
struct silences *silences_new(void);
void silences_free(struct silences *set);       /* NULL is a no-op */
void silences_set_limits(struct silences *set,
                         const struct silence_limits *lim);
const struct silence_limits *silences_get_limits(const struct silences *set);

/* What max_silence_size_bytes counts: every matcher as "label=glob", the
 * author and the comment (NULL counts as empty). */
size_t silence_size(const struct kv *matchers, size_t n,
                    const char *created_by, const char *comment);

/* Parse "label=glob" into out (two fresh strings, caller frees with
 * free(out->key), free(out->value)).  The label must be a label name
 * ([A-Za-z_][A-Za-z0-9_]*); the glob may be empty.  Returns 0, or -1 with
 * a message in err. */
int silence_parse_matcher(const char *s, struct kv *out, char *err,
                          size_t errlen);

/* Is s[0..len) a well-formed id: 1 to SILENCE_ID_MAX of [0-9A-Za-z_-]
 * (never a '/' or anything a URL would have to escape)? */
bool silence_id_valid(const char *s, size_t len);

/*
 * Add a silence (matchers, created_by and comment are copied).  Needs at
 * least one matcher (a silence of everything is almost always a mistake)
 * with valid label names, and ends_at > starts_at; starts_at may lie in
 * the past or the future.  now seeds the id and tells which silences are
 * active or pending for max_count.  Returns SILENCE_OK with the new
 * silence (owned by the set) in *added (added may be NULL), or
 * SILENCE_INVALID or SILENCE_LIMIT with a message in err.
 */
enum silence_err silence_add(struct silences *set, const struct kv *matchers,
                             size_t n, double starts_at, double ends_at,
                             const char *created_by, const char *comment,
                             double now, const struct silence **added,
                             char *err, size_t errlen);

/* End a silence now (ends_at = now; a silence that had not started yet
 * gets starts_at = now too).  It stays listed until silences_gc() drops
 * it.  Returns SILENCE_OK, SILENCE_NOT_FOUND for an unknown id or
 * SILENCE_ENDED when it has already ended (with a message in err). */
enum silence_err silence_expire(struct silences *set, const char *id,
                                double now, char *err, size_t errlen);

/* Every silence, in the order added (active, pending and expired). */
const struct silence *silences_list(const struct silences *set, size_t *n);
const struct silence *silences_get(const struct silences *set,
                                   const char *id);
size_t silences_count(const struct silences *set);

bool silence_is_active(const struct silence *s, double now);
/* Do the matchers match these labels (+ severity, may be NULL)?  Ignores
 * time. */
bool silence_matches(const struct silence *s, const struct kv *labels,
                     size_t nlabels, const char *severity);
/* The first silence active at now that matches, or NULL. */
const struct silence *silences_match(const struct silences *set,
                                     const struct kv *labels, size_t nlabels,
                                     const char *severity, double now);

/* Drop silences that ended more than retention_s before now.  Returns how
 * many were dropped. */
size_t silences_gc(struct silences *set, double now, double retention_s);

/*
 * State file form: an array of
 *   {"id": "...", "matchers": ["rule=discard-ratio", ...],
 *    "starts_at": 1700000000, "ends_at": 1700007200,
 *    "created_by": "ops", "comment": "..."}
 * silences_to_json() returns a new tree (caller deletes).
 * silences_from_json() replaces the set's content; on error it returns -1
 * with a message in err and leaves the set unchanged.
 */
cJSON *silences_to_json(const struct silences *set);
int silences_from_json(struct silences *set, const cJSON *j, char *err,
                       size_t errlen);
/* How many id comparisons the last successful silences_from_json() made
 * (a test's proof that loading stays linear). */
size_t silences_load_compares(const struct silences *set);

/* One silence in that form (an element of the array; a new tree), and a
 * 64-bit digest of exactly what it writes, for the state journal
 * (daemon/persist.h saves a silence again only when its digest moved). */
cJSON *silence_to_json(const struct silence *s);
uint64_t silence_digest(const struct silence *s);

#endif
