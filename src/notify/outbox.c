/*
 * outbox.c - see outbox.h.
 *
 * Nothing per entry looks at every entry:
 *   - entries sit in an array by id (binary search); a removed entry
 *     leaves a hole (NULL) until holes outnumber entries, then the array
 *     is compacted, so removal is O(1) amortised;
 *   - entries of one order key form a list, oldest first, reached through
 *     a hash index of the keys: only the oldest of a key can be handed out;
 *   - the entries that can be handed out (queued; the oldest of their key
 *     or unordered) wait in a heap by (next_attempt, id), so the next due
 *     time is its top and a hand-out pops what is due.
 */
#include "notify/outbox.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/heap.h"
#include "core/index.h"
#include "core/json.h"
#include "notify/notify_json.h"
#include "core/util.h"

/* An entry and what only the outbox sees of it. */
struct entry {
    struct outbox_entry pub;    /* first: callers get &pub */
    struct orderq *q;           /* its key's list; NULL = unordered */
    struct entry *older, *newer;        /* in that list */
    size_t heap_pos;            /* in ob->ready, HEAP_NONE when not */
};

/* The entries of one order key, oldest first. */
struct orderq {
    uint64_t key;
    struct entry *head, *tail;
};

/* Compact the entry array once it has this many holes and more holes than
 * entries. */
#define MIN_HOLES 64

struct reason_count {
    char *reason;
    uint64_t count;
};

struct recv_stats {
    char *name;
    uint64_t delivered, failed, retries;
    size_t entries;             /* in the outbox now */
    size_t waiting;             /* of them queued after a failed attempt */
    struct reason_count reasons[OUTBOX_MAX_REASONS + 1];   /* + "other" */
    size_t nreasons;
};

struct outbox {
    struct entry **entries;     /* increasing id (= insertion order);
                                   NULL = a hole */
    uint64_t *ids;              /* entries[i]'s id, holes included */
    size_t n, cap;              /* slots used (holes included) */
    size_t live, queued;        /* entries; of them not in flight */
    struct orderq **queues;     /* any order */
    size_t nqueues, queues_cap;
    struct index_map queue_index;       /* order key -> queues[] */
    struct heap ready;          /* entries outbox_due() could hand out */
    struct recv_stats *recv;
    size_t nrecv, recv_cap;
    size_t max_entries;
    uint64_t next_id;
    uint64_t generation;
    uint64_t stats_generation;  /* bumped by every change of the counters */
    /* ids added, changed or removed since outbox_changes_clear(), for a
     * state save in O(changed); changed_all when the log gave up */
    uint64_t *changed;
    size_t nchanged, changed_cap;
    bool changed_all;
    struct rng rng;
};

/* Log a change of entry id (see outbox_changes()).  A log longer than
 * the outbox twice over is no cheaper than a walk: it gives up. */
static void note_change(struct outbox *ob, uint64_t id)
{
    if (ob->changed_all)
        return;
    if (ob->nchanged >= 2 * ob->live + 1024) {
        ob->changed_all = true;
        ob->nchanged = 0;
        return;
    }
    XGROW(ob->changed, ob->nchanged + 1, ob->changed_cap);
    ob->changed[ob->nchanged++] = id;
}

static bool ready_less(const void *x, const void *y)
{
    const struct entry *a = x, *b = y;
    if (a->pub.next_attempt != b->pub.next_attempt)
        return a->pub.next_attempt < b->pub.next_attempt;
    return a->pub.id < b->pub.id;
}

static size_t *ready_pos(void *e)
{
    return &((struct entry *)e)->heap_pos;
}

struct outbox *outbox_new(size_t max_entries, uint64_t seed)
{
    struct outbox *ob = xcalloc(1, sizeof(*ob));
    ob->changed_all = true;         /* nothing saved yet: walk them all */
    ob->max_entries = max_entries;
    ob->next_id = 1;
    rng_seed(&ob->rng, seed);
    heap_init(&ob->ready, ready_less, ready_pos);
    return ob;
}

static void entry_free(struct entry *e)
{
    notification_free(e->pub.n);
    free(e);
}

void outbox_free(struct outbox *ob)
{
    if (!ob)
        return;
    for (size_t i = 0; i < ob->n; i++)
        if (ob->entries[i])
            entry_free(ob->entries[i]);
    free(ob->entries);
    free(ob->ids);
    free(ob->changed);
    for (size_t i = 0; i < ob->nqueues; i++)
        free(ob->queues[i]);
    free(ob->queues);
    index_map_free(&ob->queue_index);
    heap_free(&ob->ready);
    for (size_t i = 0; i < ob->nrecv; i++) {
        free(ob->recv[i].name);
        for (size_t r = 0; r < ob->recv[i].nreasons; r++)
            free(ob->recv[i].reasons[r].reason);
    }
    free(ob->recv);
    free(ob);
}

/* ---- statistics -------------------------------------------------------- */

/* Queued again after an attempt: waiting for a retry (an entry in flight
 * when the state was saved is one too after a restart). */
static bool waits_for_retry(const struct entry *e)
{
    return e->pub.state == OB_QUEUED && e->pub.attempts > 0;
}

static struct recv_stats *find_recv(const struct outbox *ob, const char *name)
{
    for (size_t i = 0; i < ob->nrecv; i++)
        if (streq(ob->recv[i].name, name))
            return &ob->recv[i];
    return NULL;
}

static struct recv_stats *get_recv(struct outbox *ob, const char *name)
{
    struct recv_stats *rs = find_recv(ob, name);
    if (rs)
        return rs;
    XGROW(ob->recv, ob->nrecv + 1, ob->recv_cap);
    rs = &ob->recv[ob->nrecv++];
    memset(rs, 0, sizeof(*rs));
    rs->name = xstrdup(name ? name : "");
    return rs;
}

static void count_failure(struct outbox *ob, const char *receiver,
                          const char *reason)
{
    struct recv_stats *rs = get_recv(ob, receiver);
    char buf[OUTBOX_REASON_LEN + 1];
    ob->stats_generation++;
    snprintf(buf, sizeof(buf), "%s", reason && *reason ? reason : "unknown");
    rs->failed++;
    for (size_t i = 0; i < rs->nreasons; i++) {
        if (streq(rs->reasons[i].reason, buf)) {
            rs->reasons[i].count++;
            return;
        }
    }
    if (rs->nreasons < OUTBOX_MAX_REASONS) {
        rs->reasons[rs->nreasons].reason = xstrdup(buf);
        rs->reasons[rs->nreasons++].count = 1;
        return;
    }
    /* the slot after the last kept reason collects the rest */
    if (rs->nreasons == OUTBOX_MAX_REASONS) {
        rs->reasons[rs->nreasons].reason = xstrdup("other");
        rs->reasons[rs->nreasons++].count = 0;
    }
    rs->reasons[OUTBOX_MAX_REASONS].count++;
}

void outbox_receiver_stats(const struct outbox *ob, const char *receiver,
                           struct outbox_stats *out)
{
    memset(out, 0, sizeof(*out));
    const struct recv_stats *rs = find_recv(ob, receiver);
    if (rs) {
        out->delivered = rs->delivered;
        out->failed = rs->failed;
        out->retries = rs->retries;
        out->queued = rs->entries;
        out->retrying = rs->waiting;
    }
}

size_t outbox_failures(const struct outbox *ob, const char *receiver,
                       struct outbox_failure out[], size_t max)
{
    const struct recv_stats *rs = find_recv(ob, receiver);
    if (!rs)
        return 0;
    for (size_t i = 0; i < rs->nreasons && i < max; i++) {
        out[i].reason = rs->reasons[i].reason;
        out[i].count = rs->reasons[i].count;
    }
    return rs->nreasons;
}

size_t outbox_receivers(const struct outbox *ob, const char *out[],
                        size_t max)
{
    for (size_t i = 0; i < ob->nrecv && i < max; i++)
        out[i] = ob->recv[i].name;
    return ob->nrecv;
}

/* ---- entries ----------------------------------------------------------- */

static uint64_t order_key(const struct notification *n)
{
    if (!n->group_key)
        return 0;
    uint64_t h = hash_bytes(n->group_key, strlen(n->group_key),
                            hash_str(n->receiver ? n->receiver : ""));
    return h ? h : 1;   /* 0 means "unordered" */
}

/* Slot of id in the entry array (a hole when removed), or (size_t)-1. */
static size_t find_index(const struct outbox *ob, uint64_t id)
{
    size_t lo = 0, hi = ob->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ob->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ob->n && ob->ids[lo] == id && ob->entries[lo]
           ? lo : (size_t)-1;
}

static bool queue_match(const void *ctx, size_t idx, const void *key)
{
    const struct outbox *ob = ctx;
    return ob->queues[idx]->key == *(const uint64_t *)key;
}

static size_t queue_slot(const struct outbox *ob, uint64_t key)
{
    return index_map_get(&ob->queue_index, key, queue_match, ob, &key);
}

/* e joins the back of its key's list; it can be handed out when it is the
 * only one there (or unordered). */
static void enqueue(struct outbox *ob, struct entry *e)
{
    uint64_t key = e->pub.order_key;
    if (key) {
        size_t i = queue_slot(ob, key);
        struct orderq *q;
        if (i == INDEX_NONE) {
            q = xcalloc(1, sizeof(*q));
            q->key = key;
            XGROW(ob->queues, ob->nqueues + 1, ob->queues_cap);
            index_map_put(&ob->queue_index, key, ob->nqueues);
            ob->queues[ob->nqueues++] = q;
        } else {
            q = ob->queues[i];
        }
        e->q = q;
        e->older = q->tail;
        if (q->tail)
            q->tail->newer = e;
        else
            q->head = e;
        q->tail = e;
    }
    if (!e->older && e->pub.state == OB_QUEUED)
        heap_push(&ob->ready, e);
}

/* Take e out of its key's list and the ready heap; the next of its key
 * becomes ready when e was the oldest. */
static void dequeue(struct outbox *ob, struct entry *e)
{
    heap_remove(&ob->ready, e);
    struct orderq *q = e->q;
    if (!q)
        return;
    if (e->older)
        e->older->newer = e->newer;
    else
        q->head = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        q->tail = e->older;
    if (!e->older && q->head && q->head->pub.state == OB_QUEUED)
        heap_push(&ob->ready, q->head);
    e->q = NULL;
    e->older = e->newer = NULL;
    if (q->head)
        return;
    size_t i = queue_slot(ob, q->key);
    index_map_remove(&ob->queue_index, q->key, i);
    size_t last = --ob->nqueues;
    if (i != last) {
        struct orderq *moved = ob->queues[last];
        index_map_remove(&ob->queue_index, moved->key, last);
        index_map_put(&ob->queue_index, moved->key, i);
        ob->queues[i] = moved;
    }
    free(q);
}

/* Squeeze the holes out of the entry array. */
static void compact(struct outbox *ob)
{
    size_t k = 0;
    for (size_t i = 0; i < ob->n; i++) {
        if (!ob->entries[i])
            continue;
        ob->entries[k] = ob->entries[i];
        ob->ids[k++] = ob->ids[i];
    }
    ob->n = k;
}

static void remove_at(struct outbox *ob, size_t i)
{
    struct entry *e = ob->entries[i];
    note_change(ob, e->pub.id);
    dequeue(ob, e);
    if (e->pub.state == OB_QUEUED)
        ob->queued--;
    struct recv_stats *rs = get_recv(ob, e->pub.n->receiver);
    rs->entries--;
    if (waits_for_retry(e))
        rs->waiting--;
    entry_free(e);
    ob->entries[i] = NULL;
    ob->live--;
    size_t holes = ob->n - ob->live;
    if (holes >= MIN_HOLES && holes > ob->live)
        compact(ob);
}

/* Append a queued entry (ids only grow, so the array stays sorted). */
static struct entry *append(struct outbox *ob, struct notification *n,
                            uint64_t id)
{
    struct entry *e = xcalloc(1, sizeof(*e));
    e->pub.id = id;
    e->pub.n = n;
    e->pub.order_key = order_key(n);
    e->pub.state = OB_QUEUED;
    e->heap_pos = HEAP_NONE;
    size_t cap = ob->cap;
    XGROW(ob->entries, ob->n + 1, ob->cap);
    if (ob->cap != cap)
        ob->ids = xrealloc(ob->ids, ob->cap * sizeof(*ob->ids));
    ob->entries[ob->n] = e;
    ob->ids[ob->n++] = id;
    ob->live++;
    note_change(ob, id);
    ob->queued++;
    if (id >= ob->next_id)
        ob->next_id = id + 1;
    get_recv(ob, n->receiver)->entries++;
    return e;
}

uint64_t outbox_add(struct outbox *ob, struct notification *n, double now)
{
    assert(n && n->id && n->receiver);
    ob->generation++;
    while (ob->max_entries && ob->live >= ob->max_entries) {
        /* the oldest queued entry goes (a full outbox is the exception:
         * the scan is fine there) */
        size_t i = 0;
        while (i < ob->n && (!ob->entries[i] ||
                             ob->entries[i]->pub.state != OB_QUEUED))
            i++;
        if (i == ob->n) {
            count_failure(ob, n->receiver, OUTBOX_REASON_FULL);
            notification_free(n);
            return 0;
        }
        count_failure(ob, ob->entries[i]->pub.n->receiver,
                      OUTBOX_REASON_FULL);
        remove_at(ob, i);
    }
    struct entry *e = append(ob, n, ob->next_id);
    e->pub.added_at = now;
    e->pub.next_attempt = now;
    enqueue(ob, e);
    return e->pub.id;
}

const struct outbox_entry *outbox_get(const struct outbox *ob, uint64_t id)
{
    size_t i = find_index(ob, id);
    return i == (size_t)-1 ? NULL : &ob->entries[i]->pub;
}

size_t outbox_count(const struct outbox *ob)
{
    return ob->live;
}

size_t outbox_queued(const struct outbox *ob)
{
    return ob->queued;
}

uint64_t outbox_generation(const struct outbox *ob)
{
    return ob->generation;
}

/* ---- scheduling -------------------------------------------------------- */

static int by_id(const void *x, const void *y)
{
    const struct entry *a = *(const struct entry *const *)x;
    const struct entry *b = *(const struct entry *const *)y;
    return a->pub.id < b->pub.id ? -1 : a->pub.id > b->pub.id;
}

size_t outbox_due(struct outbox *ob, double now, struct outbox_entry *out[],
                  size_t max)
{
    /* Everything due leaves the heap; the oldest max are handed out, the
     * others go back (the daemon takes all of them at once). */
    struct entry **due = NULL;
    size_t ndue = 0, cap = 0;
    struct entry *e;
    while ((e = heap_top(&ob->ready)) != NULL && e->pub.next_attempt <= now) {
        heap_pop(&ob->ready);
        XGROW(due, ndue + 1, cap);
        due[ndue++] = e;
    }
    if (ndue > 1)
        qsort(due, ndue, sizeof(*due), by_id);
    size_t got = ndue < max ? ndue : max;
    for (size_t i = 0; i < got; i++) {
        e = due[i];
        if (waits_for_retry(e))
            get_recv(ob, e->pub.n->receiver)->waiting--;
        e->pub.state = OB_IN_FLIGHT;
        e->pub.attempts++;
        note_change(ob, e->pub.id);
        if (e->pub.first_attempt == 0)
            e->pub.first_attempt = now;
        ob->queued--;
        out[i] = &e->pub;
    }
    for (size_t i = got; i < ndue; i++)
        heap_push(&ob->ready, due[i]);
    free(due);
    if (got)
        ob->generation++;
    return got;
}

double outbox_next_due(const struct outbox *ob)
{
    const struct entry *e = heap_top(&ob->ready);
    return e ? e->pub.next_attempt : INFINITY;
}

static double backoff_s(int attempts, struct rng *rng)
{
    double base = OUTBOX_BACKOFF_FIRST_S;
    for (int k = 1; k < attempts && base < OUTBOX_BACKOFF_MAX_S; k++)
        base *= 2;
    if (base > OUTBOX_BACKOFF_MAX_S)
        base = OUTBOX_BACKOFF_MAX_S;
    return base * (1.0 - OUTBOX_JITTER * rng_uniform(rng));
}

enum outbox_done_status outbox_done(struct outbox *ob, uint64_t id,
                                    const struct outbox_result *res,
                                    double now)
{
    size_t i = find_index(ob, id);
    if (i == (size_t)-1 || ob->entries[i]->pub.state != OB_IN_FLIGHT)
        return OUTBOX_UNKNOWN;
    struct entry *en = ob->entries[i];
    struct outbox_entry *e = &en->pub;
    ob->generation++;

    switch (res->kind) {
    case OUTBOX_OK:
        get_recv(ob, e->n->receiver)->delivered++;
        ob->stats_generation++;
        remove_at(ob, i);
        return OUTBOX_DELIVERED;
    case OUTBOX_PERMANENT:
        count_failure(ob, e->n->receiver, res->reason);
        remove_at(ob, i);
        return OUTBOX_FAILED;
    case OUTBOX_RETRY:
        break;
    }

    get_recv(ob, e->n->receiver)->retries++;
    ob->stats_generation++;
    note_change(ob, e->id);
    double deadline = e->first_attempt + OUTBOX_GIVE_UP_S;
    if (now >= deadline) {
        count_failure(ob, e->n->receiver, OUTBOX_REASON_EXPIRED);
        remove_at(ob, i);
        return OUTBOX_FAILED;
    }
    /* the rng is drawn on every retry, so the sequence does not depend on
     * which servers sent Retry-After */
    double delay = backoff_s(e->attempts, &ob->rng);
    double ra = res->retry_after_s;
    if (ra > OUTBOX_RETRY_AFTER_MAX_S)
        ra = OUTBOX_RETRY_AFTER_MAX_S;
    if (ra > delay)
        delay = ra;
    e->next_attempt = now + delay;
    if (e->next_attempt > deadline)     /* one last try at 24 h */
        e->next_attempt = deadline;
    snprintf(e->last_error, sizeof(e->last_error), "%s",
             res->reason ? res->reason : "");
    e->state = OB_QUEUED;
    ob->queued++;
    get_recv(ob, e->n->receiver)->waiting++;
    /* still the oldest of its key: ready again */
    heap_push(&ob->ready, en);
    return OUTBOX_RESCHEDULED;
}

/* ---- state file ---------------------------------------------------------- */

cJSON *outbox_entry_to_json(const struct outbox_entry *e)
{
    cJSON *eo = cJSON_CreateObject();
    cJSON_AddItemToObject(eo, "id", json_double((double)e->id));
    cJSON_AddItemToObject(eo, "attempts", json_double(e->attempts));
    cJSON_AddItemToObject(eo, "added_at", json_double(e->added_at));
    cJSON_AddItemToObject(eo, "next_attempt", json_double(e->next_attempt));
    cJSON_AddItemToObject(eo, "first_attempt",
                          json_double(e->first_attempt));
    cJSON_AddStringToObject(eo, "last_error", e->last_error);
    cJSON_AddItemToObject(eo, "notification", notification_to_json(e->n));
    return eo;
}

cJSON *outbox_to_json(const struct outbox *ob)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "next_id", json_double((double)ob->next_id));
    cJSON *arr = cJSON_AddArrayToObject(o, "entries");
    for (size_t i = 0; i < ob->n; i++)
        if (ob->entries[i])
            cJSON_AddItemToArray(arr,
                                 outbox_entry_to_json(&ob->entries[i]->pub));
    cJSON_AddItemToObject(o, "stats", outbox_stats_to_json(ob));
    return o;
}

void outbox_compact(struct outbox *ob)
{
    if (ob->n != ob->live)
        compact(ob);
}

const struct outbox_entry *outbox_entry_at(const struct outbox *ob, size_t i)
{
    /* outbox_compact() first: no holes, so i < outbox_count() indexes */
    return i < ob->n && ob->entries[i] ? &ob->entries[i]->pub : NULL;
}

/* Keep in step with outbox_entry_to_json(). */
uint64_t outbox_entry_digest(const struct outbox_entry *e)
{
    uint64_t h = notify_digest_int(0, (int64_t)e->id);
    h = notify_digest_int(h, e->attempts);
    h = notify_digest_num(h, e->added_at);
    h = notify_digest_num(h, e->next_attempt);
    h = notify_digest_num(h, e->first_attempt);
    h = notify_digest_str(h, e->last_error);
    return notify_digest_str(h, e->n ? e->n->id : NULL);
}

uint64_t outbox_next_id(const struct outbox *ob)
{
    return ob->next_id;
}

/* ids are kept below 2^53 so they survive the trip through a double */
#define MAX_ID 9007199254740991.0

static int entry_from_json(struct outbox *ob, const cJSON *eo, size_t idx,
                           uint64_t prev_id, char *err, size_t errlen)
{
    char why[300] = "";
    double id, attempts, added, next, first;
    const char *last_error;
    if (!cJSON_IsObject(eo)) {
        snprintf(why, sizeof(why), "not an object");
        goto fail;
    }
    if (json_get_int(eo, "id", 1, MAX_ID, &id, why, sizeof(why)) ||
        json_get_int(eo, "attempts", 0, 1e9, &attempts, why,
                      sizeof(why)) ||
        json_get_double(eo, "added_at", &added, why, sizeof(why)) ||
        json_get_double(eo, "next_attempt", &next, why, sizeof(why)) ||
        json_get_double(eo, "first_attempt", &first, why, sizeof(why)) ||
        json_get_string(eo, "last_error", false, &last_error, why,
                         sizeof(why)))
        goto fail;
    /* a NaN time would never be due: the entry would sit there forever */
    if (!isfinite(added) || !isfinite(next) || !isfinite(first)) {
        snprintf(why, sizeof(why), "times must be finite numbers");
        goto fail;
    }
    if ((uint64_t)id <= prev_id) {
        snprintf(why, sizeof(why), "id %.0f not above the previous one",
                 id);
        goto fail;
    }
    const cJSON *nj = cJSON_GetObjectItemCaseSensitive(eo, "notification");
    if (!nj) {
        snprintf(why, sizeof(why), "notification: missing");
        goto fail;
    }
    struct notification *n = notification_from_json(nj, why, sizeof(why));
    if (!n)
        goto fail;
    struct entry *en = append(ob, n, (uint64_t)id);
    struct outbox_entry *e = &en->pub;
    e->attempts = (int)attempts;
    e->added_at = added;
    e->next_attempt = next;
    e->first_attempt = first;
    snprintf(e->last_error, sizeof(e->last_error), "%s", last_error);
    if (waits_for_retry(en))
        get_recv(ob, n->receiver)->waiting++;
    enqueue(ob, en);
    return 0;
fail:
    snprintf(err, errlen, "outbox: entries[%zu]: %s", idx, why);
    return -1;
}

cJSON *outbox_stats_to_json(const struct outbox *ob)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < ob->nrecv; i++) {
        const struct recv_stats *rs = &ob->recv[i];
        cJSON *r = cJSON_CreateObject();
        cJSON_AddItemToObject(r, "delivered", json_double((double)rs->delivered));
        cJSON_AddItemToObject(r, "failed", json_double((double)rs->failed));
        cJSON_AddItemToObject(r, "retries", json_double((double)rs->retries));
        cJSON *reasons = cJSON_AddArrayToObject(r, "reasons");
        for (size_t k = 0; k < rs->nreasons; k++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "reason", rs->reasons[k].reason);
            cJSON_AddItemToObject(e, "count",
                                  json_double((double)rs->reasons[k].count));
            cJSON_AddItemToArray(reasons, e);
        }
        cJSON_AddItemToObject(o, rs->name, r);
    }
    return o;
}

uint64_t outbox_stats_generation(const struct outbox *ob)
{
    return ob->stats_generation;
}

/* The counters of a state file (all or nothing: checked first). */
static int stats_from_json(struct outbox *ob, const cJSON *j, char *err,
                           size_t errlen)
{
    char why[200] = "";
    const cJSON *r;
    if (!cJSON_IsObject(j)) {
        snprintf(why, sizeof(why), "not an object");
        goto fail;
    }
    cJSON_ArrayForEach(r, j) {
        double v;
        const cJSON *reasons = cJSON_GetObjectItemCaseSensitive(r, "reasons");
        const cJSON *e;
        if (!cJSON_IsObject(r) ||
            json_get_int(r, "delivered", 0, MAX_ID, &v, why, sizeof(why)) ||
            json_get_int(r, "failed", 0, MAX_ID, &v, why, sizeof(why)) ||
            json_get_int(r, "retries", 0, MAX_ID, &v, why, sizeof(why)) ||
            !cJSON_IsArray(reasons) ||
            cJSON_GetArraySize(reasons) > OUTBOX_MAX_REASONS + 1) {
            if (!why[0])
                snprintf(why, sizeof(why), "receiver '%s': malformed",
                         r->string ? r->string : "?");
            goto fail;
        }
        cJSON_ArrayForEach(e, reasons) {
            const char *reason;
            if (json_get_string(e, "reason", false, &reason, why,
                                sizeof(why)) ||
                json_get_int(e, "count", 0, MAX_ID, &v, why, sizeof(why)))
                goto fail;
        }
    }
    cJSON_ArrayForEach(r, j) {
        struct recv_stats *rs = get_recv(ob, r->string);
        rs->delivered = (uint64_t)json_num(r, "delivered", 0);
        rs->failed = (uint64_t)json_num(r, "failed", 0);
        rs->retries = (uint64_t)json_num(r, "retries", 0);
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r, "reasons")) {
            char buf[OUTBOX_REASON_LEN + 1];
            snprintf(buf, sizeof(buf), "%s", json_str(e, "reason"));
            rs->reasons[rs->nreasons].reason = xstrdup(buf);
            rs->reasons[rs->nreasons++].count =
                (uint64_t)json_num(e, "count", 0);
        }
    }
    return 0;
fail:
    snprintf(err, errlen, "outbox: stats: %s", why);
    return -1;
}

void outbox_shift_times(struct outbox *ob, double delta_s)
{
    /* every entry moves by the same amount: the ready heap keeps its
     * order */
    for (size_t i = 0; i < ob->n; i++) {
        struct entry *e = ob->entries[i];
        if (!e)
            continue;
        if (e->pub.added_at > 0)
            e->pub.added_at += delta_s;
        if (e->pub.next_attempt > 0)
            e->pub.next_attempt += delta_s;
        if (e->pub.first_attempt > 0)
            e->pub.first_attempt += delta_s;
        note_change(ob, e->pub.id);
    }
    ob->generation++;
}

struct outbox *outbox_from_json(const cJSON *j, size_t max_entries,
                                uint64_t seed, char *err, size_t errlen)
{
    char why[200] = "";
    double next_id;
    if (!cJSON_IsObject(j)) {
        snprintf(err, errlen, "outbox: not an object");
        return NULL;
    }
    if (json_get_int(j, "next_id", 1, MAX_ID, &next_id, why, sizeof(why))) {
        snprintf(err, errlen, "outbox: %s", why);
        return NULL;
    }
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "entries");
    if (!cJSON_IsArray(arr)) {
        snprintf(err, errlen, "outbox: entries: %s",
                 arr ? "not an array" : "missing");
        return NULL;
    }
    struct outbox *ob = outbox_new(max_entries, seed);
    ob->next_id = (uint64_t)next_id;
    const cJSON *stats = cJSON_GetObjectItemCaseSensitive(j, "stats");
    if (stats && stats_from_json(ob, stats, err, errlen) != 0) {
        outbox_free(ob);
        return NULL;
    }
    size_t idx = 0;
    uint64_t prev = 0;
    for (const cJSON *eo = arr->child; eo; eo = eo->next, idx++) {
        if (entry_from_json(ob, eo, idx, prev, err, errlen) != 0) {
            outbox_free(ob);
            return NULL;
        }
        prev = ob->ids[ob->n - 1];
    }
    return ob;
}

bool outbox_changes(const struct outbox *ob, const uint64_t **ids, size_t *n)
{
    *ids = ob->changed;
    *n = ob->nchanged;
    return !ob->changed_all;
}

void outbox_changes_clear(struct outbox *ob)
{
    ob->nchanged = 0;
    ob->changed_all = false;
}
