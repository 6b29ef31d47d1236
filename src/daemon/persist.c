/*
 * persist.c - see persist.h: the state document, what changed since the
 * last save, and the daemon's save/restore (daemon_int.h).
 *
 * One walk over the daemon's records serves both kinds of save.  Each
 * collection has a shadow: per record its identity, the key written in the
 * document and the digest of what the state on disk holds.  The walk
 * emits a "put" for every record whose digest differs (or that is new to
 * the shadow) and a "del" for every shadow record it did not meet.  A
 * journal save turns those into state_change_*() objects; a compaction
 * starts from empty shadows, so every record is a put, and the puts are
 * the arrays of the snapshot.  The shadows only take the new digests once
 * the write is durable.
 */
#include "daemon/persist.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/index.h"
#include "core/json.h"
#include "core/log.h"
#include "daemon/daemon_int.h"
#include "daemon/state.h"
#include "daemon/timefix.h"
#include "engine/alert_json.h"
#include "notify/silence.h"

/* ---- shadows --------------------------------------------------------------- */

struct shadow_entry {
    char *key;              /* as written: "key" or "id" */
    uint64_t ident;         /* instances: the series label set's address;
                               outbox: the id; else 0 */
    uint64_t digest;        /* of the record on disk (when live) */
    uint64_t seen;          /* the walk that last met it */
    bool live;              /* the state on disk has it */
};

struct shadow {
    const char *path;       /* the array in the document */
    const char *by;         /* the member naming an element */
    bool numeric;           /* keys are numbers (outbox ids) */
    struct shadow_entry *e;
    size_t n, cap;
    struct index_map map;
};

enum { SH_INSTANCES, SH_GROUPS, SH_SILENCES, SH_OUTBOX, SH__COUNT };

static const struct {
    const char *path, *by;
    bool numeric;
} shadow_def[SH__COUNT] = {
    [SH_INSTANCES] = { "instances", "key", false },
    [SH_GROUPS] = { "dispatch.groups", "key", false },
    [SH_SILENCES] = { "dispatch.silences", "id", false },
    [SH_OUTBOX] = { "outbox.entries", "id", true },
};

/* A digest update that waits for the write to be durable. */
struct pending {
    struct shadow *sh;
    size_t idx;
    uint64_t digest;
    bool live;
};

struct persist {
    char *dir;
    struct state_journal *journal;
    uint64_t generation;            /* highest seen on disk */
    size_t snapshot_bytes;
    uint64_t compact_min_bytes;
    double compact_ratio;
    struct shadow sh[SH__COUNT];
    uint64_t walk;
    /* counters as on disk */
    bool counters_known;
    uint64_t seq, next_id;
    /* the outbox as of the last save: skipped while it did not move */
    const struct outbox *ob_seen;
    uint64_t ob_generation;
    /* the receivers' counters as of the last save */
    uint64_t stats_generation;
    /* the same for the instances and the groups */
    const struct evaluator *ev_seen;
    unsigned long ev_generation;
    const struct dispatcher *disp_seen;
    uint64_t disp_generation;
    struct pending *pend;
    size_t npend, pcap;
};

static void shadow_init(struct shadow *sh, int kind)
{
    memset(sh, 0, sizeof(*sh));
    sh->path = shadow_def[kind].path;
    sh->by = shadow_def[kind].by;
    sh->numeric = shadow_def[kind].numeric;
}

static void shadow_clear(struct shadow *sh)
{
    for (size_t i = 0; i < sh->n; i++)
        free(sh->e[i].key);
    free(sh->e);
    index_map_free(&sh->map);
    sh->e = NULL;
    sh->n = sh->cap = 0;
}

static size_t shadow_add(struct shadow *sh, uint64_t hash, char *key,
                         uint64_t ident)
{
    XGROW(sh->e, sh->n + 1, sh->cap);
    struct shadow_entry *e = &sh->e[sh->n];
    memset(e, 0, sizeof(*e));
    e->key = key;
    e->ident = ident;
    index_map_put(&sh->map, hash, sh->n);
    return sh->n++;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static bool match_key(const void *ctx, size_t idx, const void *key)
{
    const struct shadow *sh = ctx;
    return streq(sh->e[idx].key, key);
}

static bool match_ident(const void *ctx, size_t idx, const void *key)
{
    const struct shadow *sh = ctx;
    return sh->e[idx].ident == *(const uint64_t *)key;
}

struct inst_id {
    const char *rule;
    uint64_t ls;
};

static bool match_instance(const void *ctx, size_t idx, const void *key)
{
    const struct shadow *sh = ctx;
    const struct inst_id *id = key;
    const char *k = sh->e[idx].key;
    size_t n = strlen(id->rule);
    return sh->e[idx].ident == id->ls && strncmp(k, id->rule, n) == 0 &&
           k[n] == ' ';
}

/* ---- one walk ----------------------------------------------------------------- */

/* What a walk produces: journal changes, or the arrays of a snapshot. */
struct walk {
    struct persist *p;
    bool snapshot;
    cJSON *changes;                 /* journal */
    cJSON *arrays[SH__COUNT];       /* snapshot */
    size_t nchanges;
};

static void pending_add(struct persist *p, struct shadow *sh, size_t idx,
                        uint64_t digest, bool live)
{
    XGROW(p->pend, p->npend + 1, p->pcap);
    p->pend[p->npend++] = (struct pending){ sh, idx, digest, live };
}

/* The record at idx of sh was met with digest: does it need writing? */
static bool met(struct walk *w, struct shadow *sh, size_t idx,
                uint64_t digest)
{
    struct shadow_entry *e = &sh->e[idx];
    e->seen = w->p->walk;
    if (e->live && e->digest == digest)
        return false;
    pending_add(w->p, sh, idx, digest, true);
    return true;
}

static void emit_put(struct walk *w, int kind, cJSON *element)
{
    struct shadow *sh = &w->p->sh[kind];
    if (w->snapshot)
        cJSON_AddItemToArray(w->arrays[kind], element);
    else
        cJSON_AddItemToArray(w->changes,
                             state_change_put(sh->path, sh->by, element));
    w->nchanges++;
}

/* The record at i of sh is gone (when it is on disk): a "del". */
static void emit_del(struct walk *w, int kind, size_t i)
{
    struct shadow *sh = &w->p->sh[kind];
    struct shadow_entry *e = &sh->e[i];
    if (!e->live)
        return;
    pending_add(w->p, sh, i, 0, false);
    cJSON *key;
    if (sh->numeric) {
        double id = 0;
        parse_double(e->key, &id);
        key = json_double(id);
    } else {
        key = cJSON_CreateString(e->key);
    }
    cJSON_AddItemToArray(w->changes, state_change_del(sh->path, sh->by, key));
    w->nchanges++;
}

/* Records of sh the walk did not meet: gone. */
static void emit_gone(struct walk *w, int kind)
{
    struct shadow *sh = &w->p->sh[kind];
    for (size_t i = 0; i < sh->n; i++)
        if (sh->e[i].live && sh->e[i].seen != w->p->walk)
            emit_del(w, kind, i);
}

static void emit_counter(struct walk *w, const char *path, uint64_t v,
                         uint64_t on_disk)
{
    if (w->snapshot || !w->p->counters_known || v != on_disk) {
        if (!w->snapshot)
            cJSON_AddItemToArray(w->changes,
                                 state_change_set(path, json_double(
                                                      (double)v)));
        w->nchanges++;
    }
}

static cJSON *labels_json(const struct labelset *ls)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < labelset_count(ls); i++)
        cJSON_AddStringToObject(o, labelset_key(ls, i), labelset_value(ls, i));
    return o;
}

static void walk_instances(struct walk *w, const struct evaluator *ev)
{
    struct shadow *sh = &w->p->sh[SH_INSTANCES];
    if (!w->snapshot && ev == w->p->ev_seen &&
        evaluator_generation(ev) == w->p->ev_generation)
        return;         /* no pass since the last save: nothing moved */
    struct eval_instance *const *all;
    size_t ni = evaluator_instances(ev, &all);
    for (size_t i = 0; i < ni; i++) {
        const struct eval_instance *in = all[i];
        /* An inactive instance is saved only when a restart would lose
         * something the data cannot give back: an announced alert, a
         * flap history with a firing observation in it, data-less time
         * counting towards no_data.  The rest (most of them: every rule
         * x every series) is rebuilt from data, so the state grows with
         * the alerts, not with rules x connections. */
        if (in->st.state == ALERT_INACTIVE && !in->st.flapping &&
            !in->st.announced_firing && in->st.flap_bits == 0 &&
            !(in->st.nodata_s > 0))
            continue;
        const char *rule = in->rule->cfg->name;
        struct inst_id id = { rule, (uint64_t)(uintptr_t)in->series_labels };
        uint64_t hash = hash_str(rule) ^ mix64(id.ls);
        size_t idx = index_map_get(&sh->map, hash, match_instance, sh, &id);
        if (idx == INDEX_NONE) {
            struct strbuf k = STRBUF_INIT;
            strbuf_addf(&k, "%s ", rule);
            labelset_format(in->series_labels, &k);
            idx = shadow_add(sh, hash, strbuf_detach(&k), id.ls);
        }
        if (!met(w, sh, idx, alert_instance_digest(&in->st)))
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "key", sh->e[idx].key);
        cJSON_AddStringToObject(o, "rule", rule);
        cJSON_AddItemToObject(o, "series", labels_json(in->series_labels));
        cJSON_AddItemToObject(o, "state", alert_instance_to_json(&in->st));
        emit_put(w, SH_INSTANCES, o);
    }
    if (!w->snapshot)
        emit_gone(w, SH_INSTANCES);
}

/* A record named by a string key: its shadow index. */
static size_t by_key(struct shadow *sh, const char *key)
{
    uint64_t hash = hash_str(key);
    size_t idx = index_map_get(&sh->map, hash, match_key, sh, key);
    if (idx == INDEX_NONE)
        idx = shadow_add(sh, hash, xstrdup(key), 0);
    return idx;
}

static void walk_dispatch(struct walk *w, struct dispatcher *disp)
{
    struct shadow *sh = &w->p->sh[SH_GROUPS];
    /* a delivery storm changes the outbox only: its saves skip the
     * groups instead of taking a digest of every one */
    if (w->snapshot || disp != w->p->disp_seen ||
        dispatch_generation(disp) != w->p->disp_generation) {
        size_t ng = dispatch_group_count(disp);
        for (size_t i = 0; i < ng; i++) {
            size_t idx = by_key(sh, dispatch_group_key(disp, i));
            if (met(w, sh, idx, dispatch_group_digest(disp, i)))
                emit_put(w, SH_GROUPS, dispatch_group_to_json(disp, i));
        }
        if (!w->snapshot)
            emit_gone(w, SH_GROUPS);
    }

    sh = &w->p->sh[SH_SILENCES];
    size_t ns = 0;
    const struct silence *all = silences_list(dispatch_silences(disp), &ns);
    for (size_t i = 0; i < ns; i++) {
        size_t idx = by_key(sh, all[i].id);
        if (met(w, sh, idx, silence_digest(&all[i])))
            emit_put(w, SH_SILENCES, silence_to_json(&all[i]));
    }
    if (!w->snapshot)
        emit_gone(w, SH_SILENCES);
    emit_counter(w, "dispatch.seq", dispatch_seq(disp), w->p->seq);
}

/* The receivers' counters: a "set" whenever they moved. */
static void emit_stats(struct walk *w, const struct outbox *ob)
{
    if (w->snapshot || (w->p->counters_known && ob == w->p->ob_seen &&
                        outbox_stats_generation(ob) == w->p->stats_generation))
        return;
    cJSON_AddItemToArray(w->changes, state_change_set(
                             "outbox.stats", outbox_stats_to_json(ob)));
    w->nchanges++;
}

static void walk_outbox(struct walk *w, const struct outbox *ob)
{
    struct persist *p = w->p;
    if (!w->snapshot && ob == p->ob_seen &&
        outbox_generation(ob) == p->ob_generation)
        return;         /* nothing in it moved */
    struct shadow *sh = &p->sh[SH_OUTBOX];
    const uint64_t *ids;
    size_t nids;
    if (!w->snapshot && ob == p->ob_seen && outbox_changes(ob, &ids, &nids)) {
        /* only the entries the outbox says changed since the last save */
        for (size_t i = 0; i < nids; i++) {
            uint64_t id = ids[i];
            const struct outbox_entry *e = outbox_get(ob, id);
            size_t idx = index_map_get(&sh->map, mix64(id), match_ident, sh,
                                       &id);
            if (idx != INDEX_NONE && sh->e[idx].seen == p->walk)
                continue;       /* listed twice */
            if (e) {
                if (idx == INDEX_NONE)
                    idx = shadow_add(sh, mix64(id),
                                     xasprintf("%" PRIu64, id), id);
                if (met(w, sh, idx, outbox_entry_digest(e)))
                    emit_put(w, SH_OUTBOX, outbox_entry_to_json(e));
            } else if (idx != INDEX_NONE) {
                sh->e[idx].seen = p->walk;
                emit_del(w, SH_OUTBOX, idx);
            }
        }
        emit_counter(w, "outbox.next_id", outbox_next_id(ob), p->next_id);
        emit_stats(w, ob);
        return;
    }
    size_t n = outbox_count(ob);
    for (size_t i = 0; i < n; i++) {
        const struct outbox_entry *e = outbox_entry_at(ob, i);
        uint64_t hash = mix64(e->id);
        size_t idx = index_map_get(&sh->map, hash, match_ident, sh, &e->id);
        if (idx == INDEX_NONE)
            idx = shadow_add(sh, hash, xasprintf("%" PRIu64, e->id), e->id);
        if (met(w, sh, idx, outbox_entry_digest(e)))
            emit_put(w, SH_OUTBOX, outbox_entry_to_json(e));
    }
    if (!w->snapshot)
        emit_gone(w, SH_OUTBOX);
    emit_counter(w, "outbox.next_id", outbox_next_id(ob), p->next_id);
    emit_stats(w, ob);
}

static void walk_all(struct walk *w, const struct persist_parts *parts)
{
    w->p->walk++;
    w->p->npend = 0;
    walk_instances(w, parts->ev);
    walk_dispatch(w, parts->disp);
    outbox_compact(parts->ob);      /* entry_at() indexes without holes */
    walk_outbox(w, parts->ob);
}

/* The write is durable: the shadows follow it. */
static void commit(struct persist *p, const struct persist_parts *parts)
{
    for (size_t i = 0; i < p->npend; i++) {
        struct shadow_entry *e = &p->pend[i].sh->e[p->pend[i].idx];
        e->digest = p->pend[i].digest;
        e->live = p->pend[i].live;
    }
    p->npend = 0;
    p->counters_known = true;
    p->seq = dispatch_seq(parts->disp);
    p->next_id = outbox_next_id(parts->ob);
    p->ob_seen = parts->ob;
    p->ob_generation = outbox_generation(parts->ob);
    p->stats_generation = outbox_stats_generation(parts->ob);
    outbox_changes_clear(parts->ob);
    p->ev_seen = parts->ev;
    p->ev_generation = evaluator_generation(parts->ev);
    p->disp_seen = parts->disp;
    p->disp_generation = dispatch_generation(parts->disp);
}

/* ---- saving ---------------------------------------------------------------------- */

struct persist *persist_new(const char *state_dir)
{
    struct persist *p = xcalloc(1, sizeof(*p));
    p->dir = xstrdup(state_dir);
    p->compact_min_bytes = PERSIST_COMPACT_MIN_BYTES;
    p->compact_ratio = PERSIST_COMPACT_RATIO;
    for (int k = 0; k < SH__COUNT; k++)
        shadow_init(&p->sh[k], k);
    return p;
}

void persist_free(struct persist *p)
{
    if (!p)
        return;
    state_journal_close(p->journal);
    for (int k = 0; k < SH__COUNT; k++)
        shadow_clear(&p->sh[k]);
    free(p->pend);
    free(p->dir);
    free(p);
}

void persist_set_compact_bound(struct persist *p, uint64_t min_bytes,
                               double ratio)
{
    p->compact_min_bytes = min_bytes;
    p->compact_ratio = ratio;
}

uint64_t persist_journal_bytes(const struct persist *p)
{
    return p->journal ? state_journal_bytes(p->journal) : 0;
}

static void drop_journal(struct persist *p)
{
    state_journal_close(p->journal);
    p->journal = NULL;
}

static int compact(struct persist *p, const struct persist_parts *parts,
                   double now, struct persist_save_stats *st, char *err,
                   size_t errlen)
{
    /* from empty shadows every record is a put: the snapshot's arrays */
    drop_journal(p);
    for (int k = 0; k < SH__COUNT; k++)
        shadow_clear(&p->sh[k]);
    p->counters_known = false;
    p->ob_seen = NULL;
    p->ev_seen = NULL;
    p->disp_seen = NULL;

    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "version", STATE_VERSION);
    cJSON_AddItemToObject(root, "saved_at", json_double(now));
    struct walk w = { p, true, NULL, { NULL }, 0 };
    w.arrays[SH_INSTANCES] = cJSON_AddArrayToObject(root, "instances");
    cJSON *disp = cJSON_AddObjectToObject(root, "dispatch");
    cJSON_AddNumberToObject(disp, "version", 1);
    cJSON_AddItemToObject(disp, "seq",
                          json_double((double)dispatch_seq(parts->disp)));
    w.arrays[SH_GROUPS] = cJSON_AddArrayToObject(disp, "groups");
    w.arrays[SH_SILENCES] = cJSON_AddArrayToObject(disp, "silences");
    cJSON *ob = cJSON_AddObjectToObject(root, "outbox");
    cJSON_AddItemToObject(ob, "next_id",
                          json_double((double)outbox_next_id(parts->ob)));
    w.arrays[SH_OUTBOX] = cJSON_AddArrayToObject(ob, "entries");
    cJSON_AddItemToObject(ob, "stats", outbox_stats_to_json(parts->ob));
    walk_all(&w, parts);

    uint64_t gen = p->generation + 1;
    size_t bytes = 0;
    int rc = state_write_snapshot(p->dir, root, gen, &p->journal, &bytes,
                                  err, errlen);
    cJSON_Delete(root);
    /* generations only grow, whatever reached the disk */
    p->generation = gen;
    if (rc != 0) {
        drop_journal(p);
        return -1;
    }
    commit(p, parts);
    p->snapshot_bytes = bytes;
    if (st) {
        st->compacted = true;
        st->changes = w.nchanges;
        st->bytes = bytes;
    }
    return 0;
}

/* 0 appended (or nothing to append), -1 failed. */
static int append_changes(struct persist *p, const struct persist_parts *parts,
                          double now, struct persist_save_stats *st,
                          char *err, size_t errlen)
{
    struct walk w = { p, false, cJSON_CreateArray(), { NULL }, 0 };
    walk_all(&w, parts);
    int rc = 0;
    size_t bytes = 0;
    if (w.nchanges)
        rc = state_journal_append(p->journal, now, w.changes, &bytes, err,
                                  errlen);
    cJSON_Delete(w.changes);
    if (rc != 0)
        return -1;
    commit(p, parts);
    if (st) {
        st->changes = w.nchanges;
        st->bytes = bytes;
    }
    return 0;
}

static bool compaction_due(const struct persist *p)
{
    uint64_t j = state_journal_bytes(p->journal);
    return j > p->compact_min_bytes &&
           (double)j > p->compact_ratio * (double)p->snapshot_bytes;
}

int persist_save(struct persist *p, const struct persist_parts *parts,
                 double now, enum persist_how how,
                 struct persist_save_stats *st, char *err, size_t errlen)
{
    if (st)
        memset(st, 0, sizeof(*st));
    if (how == PERSIST_CHANGES && p->journal && state_journal_ok(p->journal)) {
        if (append_changes(p, parts, now, st, err, errlen) != 0) {
            /* the journal is not trusted any more: a full rewrite now */
            log_err("%s; writing a full snapshot instead", err);
            drop_journal(p);
        } else if (!compaction_due(p)) {
            return 0;
        }
    }
    return compact(p, parts, now, st, err, errlen);
}

/* ---- restoring ------------------------------------------------------------------- */

/*
 * A restored connection instance judges only data newer than the restart:
 * its state already stands for what was seen before it.  The first
 * delivery window after a start ends where the source's volume is known
 * (up to a few minutes back), and data_through only guards against it
 * when the state was saved moments ago: from a state a day old (or a
 * wall clock that moved ahead between the runs) that older window was
 * news, and a minute before an incident that is still going on resolved
 * the alert, which the next window fired again.
 */
static void judge_from(struct eval_instance *in, double now)
{
    if (now > 0 && in->rule->family == FAM_CONNECTION &&
        in->st.data_through < floor(now))
        in->st.data_through = floor(now);
}

static void restore_instances(struct persist_parts *parts, const cJSON *insts,
                              size_t *restored, size_t *dropped)
{
    char err[256];
    const cJSON *it;
    cJSON_ArrayForEach(it, insts) {
        const char *rule = json_str(it, "rule");
        const cJSON *series = json_member(it, "series");
        struct alert_instance st;
        if (!rule || !cJSON_IsObject(series) ||
            alert_instance_from_json(json_member(it, "state"), &st, err,
                                     sizeof(err)) != 0) {
            (*dropped)++;
            continue;
        }
        struct labels_builder b;
        labels_builder_init(&b, parts->pool);
        const cJSON *kv;
        cJSON_ArrayForEach(kv, series)
            if (cJSON_IsString(kv))
                labels_builder_add(&b, kv->string, kv->valuestring);
        const struct labelset *ls = labels_builder_finish(&b);
        labels_builder_free(&b);
        struct eval_instance *in = evaluator_restore(parts->ev, rule, ls,
                                                     &st);
        if (in) {
            judge_from(in, parts->now);
            (*restored)++;
        } else {
            (*dropped)++;
        }
    }
}

int persist_restore(struct persist *p, struct persist_parts *parts,
                    size_t outbox_max, uint64_t seed,
                    struct persist_restore_stats *st, char *err,
                    size_t errlen)
{
    struct persist_restore_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof(*st));
    struct state_read_info info;
    char why[512];
    cJSON *root = state_read(p->dir, STATE_READ_RECOVER, &info, why,
                             sizeof(why));
    /* a compaction must not reuse a generation a file on disk names */
    p->generation = info.generation > info.journal_generation
                        ? info.generation : info.journal_generation;
    if (!root) {
        if (info.snapshot_corrupt && info.quarantined) {
            log_err("daemon: the state file was corrupt (%s); it was moved "
                    "aside and segalert starts clean", why);
            st->clean_start = true;
            return 0;
        }
        err_set(err, errlen, "%s", why);
        return -1;
    }
    char derr[256];
    st->ahead_s = timefix_state_doc(root, parts->now, TIMEFIX_TOLERANCE_S);
    if (st->ahead_s > 0) {
        char ahead[32];
        format_duration(st->ahead_s, ahead, sizeof(ahead));
        log_warn("daemon: the state file's times are up to %s (%.0f s) "
                 "ahead of the clock (was the clock set back since it was "
                 "saved?): moved back by that much, so what was due is "
                 "due now", ahead, st->ahead_s);
    }
    restore_instances(parts, json_member(root, "instances"), &st->instances,
                      &st->dropped);
    const cJSON *disp = json_member(root, "dispatch");
    if (disp && dispatch_from_json(parts->disp, disp, derr,
                                   sizeof(derr)) != 0)
        log_err("daemon: state file: notification groups not restored: %s",
                derr);
    const cJSON *ob = json_member(root, "outbox");
    if (ob) {
        struct outbox *o = outbox_from_json(ob, outbox_max, seed, derr,
                                            sizeof(derr));
        if (o) {
            outbox_free(parts->ob);
            parts->ob = o;
        } else {
            log_err("daemon: state file: outbox not restored: %s", derr);
        }
    }
    st->queued = outbox_count(parts->ob);
    st->journal_records = info.records;
    cJSON_Delete(root);
    return 0;
}

/* ---- the daemon's -------------------------------------------------------------- */

/* A failed save: the first is logged at once with what it means, then
 * one line per DAEMON_SAVE_ERR_LOG_S (a full disk fails every pass). */
static void save_failed(struct daemon *d, const char *err)
{
    int64_t now_ms = now_mono_ms();
    d->save_failures++;
    snprintf(d->save_error, sizeof(d->save_error), "%s", err);
    if (!d->unwritable_since_ms) {
        d->unwritable_since_ms = now_ms;
        d->unwritable_since_wall = daemon_now(d);
        d->save_err_logged_ms = now_ms;
        log_err("daemon: cannot save state: %s; alert %s: new notifications "
                "wait up to %.0f s for a save before they go out unsaved",
                err, META_RULE_STATE_UNWRITABLE, DAEMON_UNSAVED_HOLD_S);
        return;
    }
    if (now_ms - d->save_err_logged_ms < DAEMON_SAVE_ERR_LOG_S * 1000)
        return;
    d->save_err_logged_ms = now_ms;
    log_err("daemon: still cannot save state (%lu attempts in %.0f s): %s",
            d->save_failures, (double)(now_ms - d->unwritable_since_ms) / 1e3,
            err);
}

int daemon_save_state(struct daemon *d)
{
    struct persist_parts parts = { d->ev, d->pool, d->disp, d->ob, 0 };
    /* teardown sets stopping before its last save: a clean shutdown
     * leaves a full snapshot and an empty journal */
    enum persist_how how = d->stopping ? PERSIST_COMPACT : PERSIST_CHANGES;
    if (d->unwritable_since_ms && !d->stopping &&
        now_mono_ms() - d->save_attempt_ms <
            (int64_t)(DAEMON_SAVE_RETRY_S * 1000))
        return -1;
    struct persist_save_stats st;
    char err[512];
    if (persist_save(d->persist, &parts, daemon_now(d), how, &st, err,
                     sizeof(err)) != 0) {
        d->save_attempt_ms = now_mono_ms();
        save_failed(d, err);
        return -1;
    }
    if (d->unwritable_since_ms) {
        log_info("daemon: state saved again after %.0f s (%lu failed "
                 "attempts); alert %s resolved", (double)(now_mono_ms() -
                 d->unwritable_since_ms) / 1e3, d->save_failures,
                 META_RULE_STATE_UNWRITABLE);
        d->unwritable_since_ms = 0;
        d->save_failures = 0;
    }
    d->dirty = false;
    d->outcomes_unsaved = false;
    if (st.compacted)
        log_debug("state: compacted: %zu records, %zu bytes", st.changes,
                  st.bytes);
    return 0;
}

bool daemon_hold_unsaved(const struct daemon *d)
{
    return d->unwritable_since_ms &&
           now_mono_ms() - d->unwritable_since_ms <
               (int64_t)(DAEMON_UNSAVED_HOLD_S * 1000);
}

int daemon_restore_state(struct daemon *d)
{
    d->persist = persist_new(d->cfg->state_dir);
    struct persist_parts parts = { d->ev, d->pool, d->disp, d->ob,
                                   daemon_now(d) };
    struct persist_restore_stats st;
    char err[512];
    if (persist_restore(d->persist, &parts, DAEMON_OUTBOX_MAX,
                        (uint64_t)getpid(), &st, err, sizeof(err)) != 0) {
        log_err("daemon: cannot read the state file in %s: %s",
                d->cfg->state_dir, err);
        return -1;
    }
    d->ob = parts.ob;
    if (!st.clean_start)
        log_info("daemon: state restored: %zu alert instances (%zu dropped), "
                 "%zu queued notifications (snapshot and %zu journal saves)",
                 st.instances, st.dropped, st.queued, st.journal_records);
    /* Start from a full snapshot and an empty journal: what was read
     * (damaged parts moved aside) becomes the base of this run. */
    if (persist_save(d->persist, &parts, daemon_now(d), PERSIST_COMPACT, NULL,
                     err, sizeof(err)) != 0) {
        save_failed(d, err);
        d->dirty = true;
    }
    return 0;
}
