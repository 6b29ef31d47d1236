/*
 * state.h - the crash-safe state file (SPEC §6) and the JSON forms of the
 * records it holds.
 *
 * Two layers:
 *
 * 1. The file layer (the only code here that touches the disk):
 *    state_dir/state.json is replaced atomically (temp file, fsync,
 *    rename, fsync of the directory), so after a crash at any instant the
 *    file is either the previous complete document or the new one.  A
 *    file that does not parse, or is not a version STATE_VERSION document,
 *    is moved aside as state.json.corrupt-<YYYYmmddTHHMMSSZ> with a loud
 *    error and the daemon starts clean.  A lock file (flock) keeps a
 *    second segalert off the same state_dir.
 *
 * 2. Pure serializers for the records the daemon saves: notifications
 *    (outbox, see outbox.h) and alert instances.  Every field round-trips
 *    exactly:
 *      - numbers are printed here, not by cJSON (whose printer settles
 *        for 15 digits when they read back within an epsilon, turning
 *        0.1 + 0.2 into 0.3): the shortest of 15, 16 or 17 significant
 *        digits that reads back to exactly the same double;
 *      - JSON has no NaN or infinity: NaN is written as null, +/-infinity
 *        as the strings "+Inf" / "-Inf" (Prometheus spelling); this holds
 *        for every double field, not only `value`;
 *      - enums are written by name ("firing", "critical", "webhook",
 *        "new_alerts") so a renumbering cannot silently remap old state;
 *      - label sets are JSON objects, in the order of the array.
 *    Decoding is strict: a missing field or a field of the wrong type is
 *    an error naming the field (never a crash, never a silent zero).  The
 *    only relaxation: char * fields the structs allow to be NULL are
 *    written as null and read back as NULL (they must still be present).
 *    Notifications carry no secrets (notify.h), so neither does the state
 *    file; receivers are looked up by name at delivery time.
 *
 * Ownership: cJSON trees returned here belong to the caller
 * (cJSON_Delete); parameters are borrowed.  Errors go to a caller buffer.
 */
#ifndef SEGALERT_STATE_H
#define SEGALERT_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "engine/alert.h"
#include "notify/notify.h"

/* The "version" member of every state document. */
#define STATE_VERSION 1
/* A state file larger than this is treated as corrupt (a runaway writer
 * must not make start-up allocate without bound). */
#define STATE_MAX_BYTES ((size_t)256 << 20)

#define STATE_FILE "state.json"
#define STATE_LOCK_FILE "segalert.lock"

/* ---- file layer -------------------------------------------------------- */

/*
 * mkdir -p dir; the last component is created with mode 0700 (parents with
 * the default mode, as `mkdir -p -m 0700`).  An existing directory is kept
 * as it is, with a warning when group or other can access it (the state
 * holds alert history and label values).  Returns 0, or -1 with err when
 * dir cannot be created, is not a directory, or is not writable.
 */
int state_dir_prepare(const char *dir, char *err, size_t errlen);

/*
 * Take dir/segalert.lock exclusively (flock LOCK_EX|LOCK_NB) and write our
 * pid into it.  Returns a handle, or NULL with err ("another segalert
 * (pid 1234) is using state_dir /x") when another open file holds it.
 * The lock dies with the process, so a lock file left by a crashed
 * process does not block a restart.  Once held, leftover
 * state.json.tmp-* files of crashed writers are removed.
 *
 * flock semantics to keep in mind: the lock belongs to the open file
 * description, which fork() shares (the descriptor is O_CLOEXEC, so exec
 * drops it).
 */
struct state_lock;
struct state_lock *state_lock_acquire(const char *dir, char *err,
                                      size_t errlen);
/* Unlock and close (the file stays: unlinking a lock file races with a
 * process that has just opened it).  NULL is a no-op. */
void state_lock_release(struct state_lock *lock);

/*
 * Replace dir/state.json with json[0..len) atomically: write
 * dir/state.json.tmp-<pid> (mode 0600), fsync, rename over state.json,
 * fsync dir.  On failure the temp file is removed and state.json is the
 * previous document; returns -1 with err.  A failing directory fsync after
 * the rename also returns -1 (the new content is in place but may not be
 * durable yet).
 */
int state_save(const char *dir, const char *json, size_t len, char *err,
               size_t errlen);

/*
 * Read dir/state.json.  Returns 0 with *json_out (NUL-terminated, caller
 * frees) and *len; 1 when there is no state file (fresh start; *json_out
 * NULL); -1 with err when it cannot be read (permissions, I/O, larger
 * than STATE_MAX_BYTES: errno EFBIG is kept for the caller).
 */
int state_load(const char *dir, char **json_out, size_t *len, char *err,
               size_t errlen);

/*
 * Move dir/state.json aside as dir/state.json.corrupt-<YYYYmmddTHHMMSSZ>
 * (".1", ".2"... appended when that name exists) and log an error naming
 * the new path.  Returns 0 with the new path in moved_to (may be NULL), or
 * -1 (logged as well) when the rename fails.
 */
int state_quarantine(const char *dir, char *moved_to, size_t len);

/*
 * Load and validate the state document.
 *   - a valid document: returns the tree (caller cJSON_Delete), which is
 *     an object with "version" == STATE_VERSION; *quarantined = false;
 *   - no state file: returns a new {"version": 1} (fresh start);
 *   - corrupt (not JSON, truncated, trailing bytes, a NUL inside, not an
 *     object, "version" missing or not STATE_VERSION, too big): the file
 *     is quarantined (state_quarantine), returns NULL, *quarantined =
 *     true and err says why and where it went: start clean;
 *   - unreadable, or corrupt but the quarantine failed: returns NULL with
 *     *quarantined = false and err: the caller must refuse to start (a
 *     state we could not read must not be overwritten by a clean one).
 * Only the top level is checked; the sections are the caller's to decode
 * with the functions below (and to quarantine if they do not decode).
 */
cJSON *state_load_json(const char *dir, char *err, size_t errlen,
                       bool *quarantined);

/* ---- serializers (pure) ------------------------------------------------ */

/*
 * Notification <-> JSON:
 *   {"id": "...", "receiver": "...", "receiver_type": "webhook",
 *    "route": "..."|null, "group_key": "..."|null,
 *    "group_labels": {"k": "v", ...}, "reason": "first",
 *    "created_at": 1787227200.5, "external_url": "..."|null,
 *    "alerts": [{"rule": "...", "fingerprint": "..."|null,
 *                "labels": {...}, "severity": "..."|null,
 *                "status": "..."|null, "nodata": false, "flapping": false,
 *                "value": 0.25|null|"+Inf"|"-Inf", "summary": ...|null,
 *                "description": ...|null, "runbook_url": ...|null,
 *                "starts_at": ..., "ends_at": ...}, ...]}
 * id and receiver must be strings (the outbox keys and the receiver
 * lookup need them); rule must be a string.
 * from_json returns a new notification (notification_free) or NULL with
 * err naming the bad field.
 */
cJSON *notification_to_json(const struct notification *n);
struct notification *notification_from_json(const cJSON *j, char *err,
                                            size_t errlen);

/*
 * Alert instance <-> JSON (every field of struct alert_instance; the
 * identity, rule and labels, is the caller's to store next to it):
 *   {"state": "pending", "severity": "critical", "nodata": false,
 *    "created_at": ..., "active_at": ..., "fired_at": ...,
 *    "resolved_at": ..., "last_true_at": ..., "last_data_at": ...,
 *    "last_eval_at": ..., "nodata_s": ..., "value": ...|null,
 *    "flap_bits": 5, "flap_count": 3, "flapping": false,
 *    "announced_firing": false, "announced_severity": "none"}
 * from_json fills *out and returns 0, or returns -1 with err (out is then
 * unspecified).  flap_bits must be an integer in 0..2^32-1, flap_count in
 * 0..ALERT_FLAP_HISTORY.
 */
cJSON *alert_instance_to_json(const struct alert_instance *in);
int alert_instance_from_json(const cJSON *j, struct alert_instance *out,
                             char *err, size_t errlen);

/*
 * Field helpers shared with outbox.c.  state_json_double() encodes any
 * double as above: null for NaN, "+Inf"/"-Inf", else a cJSON Raw item
 * holding the exact number (prints as a plain JSON number; the get
 * functions accept it as well as a parsed Number).  The get functions read
 * a required member and return 0, or -1 with err "<field>: <problem>".
 */
cJSON *state_json_double(double v);
int state_get_double(const cJSON *obj, const char *key, double *out,
                     char *err, size_t errlen);
/* String member; with nullable, a JSON null gives *out = NULL.  *out
 * points into the tree (copy it). */
int state_get_string(const cJSON *obj, const char *key, bool nullable,
                     const char **out, char *err, size_t errlen);
int state_get_bool(const cJSON *obj, const char *key, bool *out, char *err,
                   size_t errlen);
/* An integral number in [min, max]. */
int state_get_int(const cJSON *obj, const char *key, double min, double max,
                  double *out, char *err, size_t errlen);

#endif
