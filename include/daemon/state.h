/*
 * state.h - the crash-safe state directory (README.md "Operations").
 *
 * The only code that touches state_dir.  What it holds:
 *
 *   state.json       the snapshot: one JSON document, {"version": 1,
 *                    "generation": G, "saved_at": T, ...sections}.  It is
 *                    only ever replaced whole and atomically (temp file,
 *                    fsync, rename, fsync of the directory).
 *   state.journal    what changed since that snapshot: an append-only file
 *                    of framed records.  The first record names the
 *                    snapshot generation G it continues; each later one is
 *                    one save (a batch of changes, see "Records").
 *   segalert.lock    flock'ed by the process that may write (the daemon,
 *                    or an offline `segalert silence` edit); holds its pid.
 *   state.json.tmp-<pid>, state.journal.tmp-<pid>
 *                    temp files of a write in progress; a crashed writer's
 *                    are removed when the lock is next taken.
 *   state.json.corrupt-<YYYYmmddTHHMMSSZ>, state.journal.corrupt-<...>
 *                    files that did not decode, moved aside as evidence
 *                    (".1", ".2"... appended when the name exists).
 *
 * Frames.  Every journal record is
 *     "@" LLLLLLLL " " PPPPPPPP " " HHHHHHHH "\n" payload "\n"
 * (lower-case hex): L the payload length, P the CRC-32 of the payload, H
 * the CRC-32 of the 18 bytes "@LLLLLLLL PPPPPPPP" (so a damaged length is
 * told from a short file).  The payload is one line of JSON.  The header
 * record is {"journal": 1, "generation": G}; a save is
 *     {"saved_at": T, "changes": [change, ...]}
 * and a change one of
 *     {"set": PATH, "v": VALUE}             set the member at PATH
 *     {"put": PATH, "by": M, "v": ELEMENT}  in the array at PATH, replace
 *                                           the element whose member M
 *                                           equals ELEMENT's, or append it
 *     {"del": PATH, "by": M, "k": KEY}      remove the element whose
 *                                           member M equals KEY
 * where PATH names members from the root with dots ("dispatch.groups")
 * and M's values are strings or numbers.  Replaying a save applies all of
 * its changes and sets the root's "saved_at" to T.
 *
 * Crash safety.  A save appends one record and fdatasyncs it before
 * returning, so a completed save is one whole record on disk; a crash
 * during the append leaves at most an incomplete last record.  Compaction
 * writes the next snapshot (generation G+1) atomically and only then
 * replaces the journal with a fresh one for G+1 (atomically too); a crash
 * between the two leaves a journal of generation G next to snapshot G+1,
 * which is ignored (the snapshot already holds it).  Reading is the
 * snapshot plus every record of the journal of the same generation, so
 * after a crash at any instant the result is the state of some completed
 * save, never a mix, and never older than the last completed save.
 *
 * What reading does with damage:
 *   - a last record that is incomplete or fails its checksum (an
 *     interrupted append) is ignored, with a warning;
 *   - a bad record before the end (a frame that fails its checks and is
 *     followed by more data), or any record that does not decode: replay
 *     stops there, so the state is that of the save before it; the daemon
 *     moves the journal aside as state.journal.corrupt-<time>, logs a loud
 *     error and carries on with that state (compacting it at once);
 *   - a journal whose header names another generation is ignored;
 *   - a snapshot that does not decode (not JSON, truncated, trailing
 *     bytes, a NUL inside, not an object, "version" missing or not
 *     STATE_VERSION, "generation" not a count, too big): the daemon moves
 *     it (and its journal) aside with a loud error and starts clean.
 *
 * What goes into the document is the callers' business: each record type
 * has its own serializer next to its model (notify/notify_json.h for
 * notifications, engine/alert_json.h for alert instances, dispatch and
 * outbox for theirs); daemon/persist.h decides what is saved when.
 *
 * Ownership: cJSON trees returned here belong to the caller
 * (cJSON_Delete); parameters are borrowed unless said otherwise.  Errors
 * go to a caller buffer.  Thread safety: none; one thread per directory
 * writes (the lock keeps other processes off), readers without the lock
 * (STATE_READ_ONLY) may run beside a writer.
 */
#ifndef SEGALERT_STATE_H
#define SEGALERT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>


/* The "version" member of every state document. */
#define STATE_VERSION 1
/* The "journal" member of the journal's header record. */
#define STATE_JOURNAL_VERSION 1
/* A snapshot or journal larger than this is treated as corrupt (a runaway
 * writer must not make start-up allocate without bound). */
#define STATE_MAX_BYTES ((size_t)256 << 20)
/* Bytes of a frame besides its payload: the header line and the final
 * newline. */
#define STATE_FRAME_HEADER_BYTES 28
#define STATE_FRAME_OVERHEAD (STATE_FRAME_HEADER_BYTES + 1)

#define STATE_FILE "state.json"
#define STATE_JOURNAL_FILE "state.journal"
#define STATE_LOCK_FILE "segalert.lock"

/* ---- directory and lock ------------------------------------------------ */

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
 * process does not block a restart.  Once held, leftover temp files of
 * crashed writers (state.json.tmp-*, state.journal.tmp-*) are removed.
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

/* ---- snapshot file -------------------------------------------------------- */

/*
 * Replace dir/state.json with json[0..len) atomically: write
 * dir/state.json.tmp-<pid> (mode 0600), fsync, rename over state.json,
 * fsync dir.  On failure the temp file is removed and state.json is the
 * previous document; returns -1 with err.  A failing directory fsync after
 * the rename also returns -1 (the new content is in place but may not be
 * durable yet).  The journal is not touched: use state_write_snapshot()
 * to compact.
 */
int state_save(const char *dir, const char *json, size_t len, char *err,
               size_t errlen);

/*
 * Read dir/state.json as it is (no journal).  Returns 0 with *json_out
 * (NUL-terminated, caller frees) and *len; 1 when there is no state file
 * (fresh start; *json_out NULL); -1 with err when it cannot be read
 * (permissions, I/O, larger than STATE_MAX_BYTES: errno EFBIG is kept for
 * the caller).
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

/* ---- journal ------------------------------------------------------------- */

struct state_journal;

/*
 * Start an empty journal for snapshot generation `generation`: write the
 * header record to dir/state.journal.tmp-<pid>, fsync, rename over
 * dir/state.journal, fsync dir.  Returns the journal open for appending,
 * or NULL with err (the previous journal file is then untouched).
 */
struct state_journal *state_journal_create(const char *dir,
                                           uint64_t generation, char *err,
                                           size_t errlen);

/*
 * Append one save: the record {"saved_at": saved_at, "changes": changes}
 * (changes is borrowed; built with the state_change_* functions), framed,
 * then fdatasync.  Returns 0 when the record is durable, with its size
 * (frame included) in *bytes (may be NULL).  On failure returns -1 with
 * err; the journal is then unusable (state_journal_ok() is false: what
 * may have reached the file is at worst an incomplete last record, which
 * reading ignores) and the caller must compact.
 */
int state_journal_append(struct state_journal *j, double saved_at,
                         const cJSON *changes, size_t *bytes, char *err,
                         size_t errlen);
/* Same, with a payload already encoded (one JSON record, len bytes). */
int state_journal_append_raw(struct state_journal *j, const char *payload,
                             size_t len, char *err, size_t errlen);
/* Size of the journal file (header record included). */
uint64_t state_journal_bytes(const struct state_journal *j);
uint64_t state_journal_generation(const struct state_journal *j);
/* false after a failed append. */
bool state_journal_ok(const struct state_journal *j);
/* Close the file (the journal stays on disk).  NULL is a no-op. */
void state_journal_close(struct state_journal *j);

/* The changes of a record (see "Records" above).  Each returns a new
 * change and takes ownership of the value, element or key passed. */
cJSON *state_change_set(const char *path, cJSON *v);
cJSON *state_change_put(const char *path, const char *by, cJSON *element);
cJSON *state_change_del(const char *path, const char *by, cJSON *key);

/* ---- snapshot + journal --------------------------------------------------- */

/*
 * Compaction: set doc's "generation" to generation, re-encode every
 * parsed number of doc exactly (core/json.h: cJSON's own printer may
 * round), write it as the snapshot (state_save), then start an empty
 * journal of that generation (state_journal_create).  generation must be
 * above the one on disk.  On success returns 0 with the snapshot's size
 * in *snapshot_bytes (may be NULL) and, when journal_out is not NULL, the
 * new journal in *journal_out (else it is closed).  On failure -1 with
 * err: when the snapshot was written but the journal could not be
 * created, the old journal is of an older generation and is ignored by
 * readers, which is consistent; either way the caller compacts again
 * before appending anything.
 */
int state_write_snapshot(const char *dir, cJSON *doc, uint64_t generation,
                         struct state_journal **journal_out,
                         size_t *snapshot_bytes, char *err, size_t errlen);

enum state_read_mode {
    STATE_READ_ONLY,    /* never changes the directory (status, listing);
                           may run beside a writer; logs nothing */
    STATE_READ_RECOVER  /* the daemon at start, holding the lock: moves
                           damaged files aside and logs what it did */
};

enum state_journal_status {
    STATE_JOURNAL_NONE = 0,     /* no journal (or no snapshot to apply it
                                   to) */
    STATE_JOURNAL_OK,           /* every record replayed */
    STATE_JOURNAL_TORN,         /* the last record was incomplete or bad:
                                   ignored (an interrupted append) */
    STATE_JOURNAL_STALE,        /* written for another generation: ignored */
    STATE_JOURNAL_CORRUPT       /* a bad record before the end (or a bad
                                   header record): replayed up to it */
};

struct state_read_info {
    bool snapshot_found;
    bool snapshot_corrupt;      /* NULL was returned; RECOVER: see
                                   quarantined */
    bool quarantined;           /* RECOVER: a corrupt snapshot (with its
                                   journal) or a corrupt journal was moved
                                   aside, to moved_to */
    uint64_t generation;        /* of the snapshot (0: none, or written
                                   before journals existed) */
    uint64_t journal_generation;/* named by the journal's header (0: no
                                   readable header).  A compaction must
                                   use a generation above both, so that a
                                   journal left behind never matches a
                                   later snapshot */
    size_t snapshot_bytes;
    enum state_journal_status journal;
    size_t records;             /* save records replayed */
    uint64_t journal_bytes;     /* size of the journal file */
    uint64_t journal_used;      /* the prefix of it that was replayed */
    char why[256];              /* what was wrong, when something was */
    char moved_to[512];
};

/*
 * Read the state: the snapshot and the replayed journal, as described
 * above.  Returns the document (an object with "version" ==
 * STATE_VERSION; {"version": 1} when there is no snapshot); info says
 * what was found (may be NULL).  Returns NULL:
 *   - with info->snapshot_corrupt (err says why): the snapshot does not
 *     decode.  RECOVER moves it and its journal aside (info->quarantined,
 *     the loud error logged): start clean.  When moving fails, or in
 *     READ_ONLY, nothing was moved;
 *   - without it: the snapshot or the journal cannot be read (permissions,
 *     I/O), or RECOVER could not move a corrupt journal aside: the caller
 *     must refuse to start (a state we could not read must not be
 *     overwritten by a clean one).
 * A READ_ONLY reader that sees a journal newer than the snapshot (a
 * compaction ran between the two reads) reads both again.
 */
cJSON *state_read(const char *dir, enum state_read_mode mode,
                  struct state_read_info *info, char *err, size_t errlen);

/*
 * state_read(dir, STATE_READ_RECOVER, ...) for callers that only need to
 * know whether a corrupt snapshot was moved aside (*quarantined): NULL
 * with *quarantined = true means "start clean"; NULL with false means
 * "refuse to start".
 */
cJSON *state_load_json(const char *dir, char *err, size_t errlen,
                       bool *quarantined);

#endif
