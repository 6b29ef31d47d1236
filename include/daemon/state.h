/*
 * state.h - the crash-safe state file (README.md "Operations").
 *
 * The only code that touches state_dir: state_dir/state.json is replaced
 * atomically (temp file, fsync, rename, fsync of the directory), so after
 * a crash at any instant the file is either the previous complete document
 * or the new one.  A file that does not parse, or is not a version
 * STATE_VERSION document, is moved aside as
 * state.json.corrupt-<YYYYmmddTHHMMSSZ> with a loud error and the daemon
 * starts clean.  A lock file (flock) keeps a second segalert off the same
 * state_dir.
 *
 * What goes into the document is the callers' business: each record type
 * has its own serializer next to its model (notify/notify_json.h for
 * notifications, engine/alert_json.h for alert instances, dispatch and
 * outbox for theirs), all written with core/json.h's conventions.
 *
 * Ownership: cJSON trees returned here belong to the caller
 * (cJSON_Delete); parameters are borrowed.  Errors go to a caller buffer.
 */
#ifndef SEGALERT_STATE_H
#define SEGALERT_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>


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

#endif
