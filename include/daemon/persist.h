/*
 * persist.h - what the daemon keeps across restarts, and saving it at a
 * cost proportional to what changed.
 *
 * What is kept: the alert instances worth keeping (not inactive-without-
 * history), the dispatcher (groups with their notification log, silences,
 * the notification sequence) and the outbox.  The state document
 * (daemon/state.h keeps it as a snapshot plus a journal) is
 *
 *   {"version": 1, "generation": G, "saved_at": T,
 *    "instances": [{"key": K, "rule": R, "series": {labels},
 *                   "state": {...engine/alert_json.h}}, ...],
 *    "dispatch": {"version": 1, "seq": N, "groups": [...],
 *                 "silences": [...]},                  (notify/dispatch.h)
 *    "outbox": {"next_id": N, "entries": [...]}}       (notify/outbox.h)
 *
 * where K, an instance's identity, is the rule name, a space and the
 * series labels as labelset_format() writes them.
 *
 * A save (PERSIST_CHANGES) compares each record with what the state on
 * disk holds, through a 64-bit digest per record kept from the last save
 * (alert_instance_digest, dispatch_group_digest, silence_digest,
 * outbox_entry_digest: only records whose digest moved are serialized),
 * and appends one journal record with the records that changed or
 * appeared ("put"), those that went away ("del"; by "key" for instances
 * and groups, "id" for silences and outbox entries), and the counters that
 * moved ("set" of dispatch.seq, outbox.next_id).  The outbox is not even
 * looked at when its generation did not move.  The bytes written are
 * proportional to the records that changed; the time is that plus one
 * digest per record.
 *
 * Compaction (a full snapshot and a fresh journal, PERSIST_COMPACT, as
 * every save did before journals) happens at start (after the restore),
 * at clean shutdown, when the journal has grown past
 * max(compact_min_bytes, compact_ratio x the snapshot's size), and after
 * a failed write (the journal is then not trusted for appending).
 *
 * Ownership: the persist object owns its journal handle and digests; the
 * parts are borrowed for the duration of a call (restore replaces
 * parts->ob, freeing the old outbox).  Errors: 0/-1 with a message in a
 * caller buffer.  Thread safety: none (the daemon's main thread).
 */
#ifndef SEGALERT_PERSIST_H
#define SEGALERT_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/eval.h"
#include "engine/labels.h"
#include "notify/dispatch.h"
#include "notify/outbox.h"

/* The journal is compacted when it is larger than both of these: a small
 * state must not be rewritten on every save, a large one not replayed
 * from a journal much longer than itself at start. */
#define PERSIST_COMPACT_MIN_BYTES ((uint64_t)4 << 20)
#define PERSIST_COMPACT_RATIO 1.0

/* What is saved and restored (borrowed). */
struct persist_parts {
    struct evaluator *ev;
    struct label_pool *pool;    /* restore: interns the series labels */
    struct dispatcher *disp;
    struct outbox *ob;          /* restore replaces it */
    double now;                 /* restore: the clock, for the time check
                                   (daemon/timefix.h); 0 = no check */
};

enum persist_how {
    PERSIST_CHANGES,    /* append what changed (compacts when due) */
    PERSIST_COMPACT     /* write a full snapshot and a fresh journal */
};

struct persist_save_stats {
    bool compacted;
    size_t changes;         /* records put or deleted, counters set */
    size_t bytes;           /* appended to the journal, or the snapshot's
                               size when compacted */
};

struct persist_restore_stats {
    size_t instances, dropped;  /* alert instances restored / not */
    size_t queued;              /* outbox entries */
    size_t journal_records;     /* saves replayed from the journal */
    bool clean_start;           /* a corrupt snapshot was moved aside */
    double ahead_s;             /* the state's times were this far ahead
                                   of parts->now and were moved back (a
                                   warning was logged); 0 = they were not */
};

/* state_dir is copied: saves go where the state was read from, even if a
 * reload names another directory. */
struct persist *persist_new(const char *state_dir);
/* Closes the journal (the files stay).  NULL is a no-op. */
void persist_free(struct persist *p);

/* Override the compaction bound (tests and benchmarks). */
void persist_set_compact_bound(struct persist *p, uint64_t min_bytes,
                               double ratio);

/*
 * Read the state (state_read, STATE_READ_RECOVER: damaged files are moved
 * aside and logged) into parts: instances through evaluator_restore()
 * (those of rules that no longer exist are dropped), the dispatcher
 * through dispatch_from_json(), the outbox rebuilt (outbox_from_json with
 * outbox_max and seed).  A section that does not decode is logged and
 * left as it was.  With parts->now set, a state whose times lie ahead
 * of it (the clock went back since the save) is moved back first
 * (timefix_state_doc, one warning); and a restored connection instance
 * then judges only data newer than parts->now (its data_through is raised
 * to it: the first windows after a start end before it, and from an old
 * state they would be judged as news).  Returns 0 (also after a corrupt snapshot was moved
 * aside: a clean start), or -1 with err when the state exists but cannot
 * be read: the caller must not start (it would be overwritten).  Does not
 * write: the caller compacts next (persist_save PERSIST_COMPACT).
 */
int persist_restore(struct persist *p, struct persist_parts *parts,
                    size_t outbox_max, uint64_t seed,
                    struct persist_restore_stats *st, char *err,
                    size_t errlen);

/*
 * Save parts at now (the document's saved_at).  Returns 0 when what is
 * on disk equals parts (st may be NULL), or -1 with err; after a failure
 * the next save compacts.
 */
int persist_save(struct persist *p, const struct persist_parts *parts,
                 double now, enum persist_how how,
                 struct persist_save_stats *st, char *err, size_t errlen);

/* Size of the journal file now (0 when none is open). */
uint64_t persist_journal_bytes(const struct persist *p);

#endif
