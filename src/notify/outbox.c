/*
 * outbox.c - see outbox.h.
 */
#include "notify/outbox.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "notify/notify_json.h"
#include "core/util.h"

struct reason_count {
    char *reason;
    uint64_t count;
};

struct recv_stats {
    char *name;
    uint64_t delivered, failed, retries;
    struct reason_count reasons[OUTBOX_MAX_REASONS + 1];   /* + "other" */
    size_t nreasons;
};

struct outbox {
    struct outbox_entry **entries;  /* increasing id (= insertion order) */
    size_t n, cap;
    struct recv_stats *recv;
    size_t nrecv, recv_cap;
    size_t max_entries;
    uint64_t next_id;
    uint64_t generation;
    struct rng rng;
};

struct outbox *outbox_new(size_t max_entries, uint64_t seed)
{
    struct outbox *ob = xcalloc(1, sizeof(*ob));
    ob->max_entries = max_entries;
    ob->next_id = 1;
    rng_seed(&ob->rng, seed);
    return ob;
}

static void entry_free(struct outbox_entry *e)
{
    notification_free(e->n);
    free(e);
}

void outbox_free(struct outbox *ob)
{
    if (!ob)
        return;
    for (size_t i = 0; i < ob->n; i++)
        entry_free(ob->entries[i]);
    free(ob->entries);
    for (size_t i = 0; i < ob->nrecv; i++) {
        free(ob->recv[i].name);
        for (size_t r = 0; r < ob->recv[i].nreasons; r++)
            free(ob->recv[i].reasons[r].reason);
    }
    free(ob->recv);
    free(ob);
}

/* ---- statistics -------------------------------------------------------- */

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
    }
    for (size_t i = 0; i < ob->n; i++)
        out->queued += streq(ob->entries[i]->n->receiver, receiver);
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

static size_t find_index(const struct outbox *ob, uint64_t id)
{
    size_t lo = 0, hi = ob->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ob->entries[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ob->n && ob->entries[lo]->id == id ? lo : (size_t)-1;
}

static void remove_at(struct outbox *ob, size_t i)
{
    entry_free(ob->entries[i]);
    memmove(&ob->entries[i], &ob->entries[i + 1],
            (ob->n - i - 1) * sizeof(ob->entries[0]));
    ob->n--;
}

/* Append (ids only grow, so the array stays sorted). */
static struct outbox_entry *append(struct outbox *ob, struct notification *n,
                                   uint64_t id)
{
    struct outbox_entry *e = xcalloc(1, sizeof(*e));
    e->id = id;
    e->n = n;
    e->order_key = order_key(n);
    e->state = OB_QUEUED;
    XGROW(ob->entries, ob->n + 1, ob->cap);
    ob->entries[ob->n++] = e;
    if (id >= ob->next_id)
        ob->next_id = id + 1;
    get_recv(ob, n->receiver);
    return e;
}

uint64_t outbox_add(struct outbox *ob, struct notification *n, double now)
{
    assert(n && n->id && n->receiver);
    ob->generation++;
    while (ob->max_entries && ob->n >= ob->max_entries) {
        size_t i = 0;
        while (i < ob->n && ob->entries[i]->state != OB_QUEUED)
            i++;
        if (i == ob->n) {
            count_failure(ob, n->receiver, OUTBOX_REASON_FULL);
            notification_free(n);
            return 0;
        }
        count_failure(ob, ob->entries[i]->n->receiver, OUTBOX_REASON_FULL);
        remove_at(ob, i);
    }
    struct outbox_entry *e = append(ob, n, ob->next_id);
    e->added_at = now;
    e->next_attempt = now;
    return e->id;
}

const struct outbox_entry *outbox_get(const struct outbox *ob, uint64_t id)
{
    size_t i = find_index(ob, id);
    return i == (size_t)-1 ? NULL : ob->entries[i];
}

size_t outbox_count(const struct outbox *ob)
{
    return ob->n;
}

size_t outbox_queued(const struct outbox *ob)
{
    size_t c = 0;
    for (size_t i = 0; i < ob->n; i++)
        c += ob->entries[i]->state == OB_QUEUED;
    return c;
}

uint64_t outbox_generation(const struct outbox *ob)
{
    return ob->generation;
}

/* ---- scheduling -------------------------------------------------------- */

/* Open-addressing set of order keys (0 = empty slot) for one scan. */
struct keyset {
    uint64_t *slot;
    size_t mask;
};

static void keyset_init(struct keyset *ks, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    ks->slot = xcalloc(cap, sizeof(*ks->slot));
    ks->mask = cap - 1;
}

/* Insert key; returns true when it was already there. */
static bool keyset_test_add(struct keyset *ks, uint64_t key)
{
    for (size_t i = (size_t)key & ks->mask;; i = (i + 1) & ks->mask) {
        if (ks->slot[i] == key)
            return true;
        if (ks->slot[i] == 0) {
            ks->slot[i] = key;
            return false;
        }
    }
}

/*
 * Walk the entries oldest first.  An entry is eligible when it is queued
 * and no older entry with its order key is still in the outbox; eligible
 * entries due at now are collected into out (up to max), the earliest
 * next_attempt of the others goes to *next.
 */
static size_t scan(const struct outbox *ob, double now,
                   struct outbox_entry *out[], size_t max, double *next)
{
    struct keyset ks;
    keyset_init(&ks, ob->n);
    size_t got = 0;
    *next = INFINITY;
    for (size_t i = 0; i < ob->n; i++) {
        struct outbox_entry *e = ob->entries[i];
        /* the first entry of a key claims it; later ones wait */
        if (e->order_key && keyset_test_add(&ks, e->order_key))
            continue;
        if (e->state != OB_QUEUED)
            continue;
        if (e->next_attempt <= now && got < max)
            out[got++] = e;
        else if (e->next_attempt < *next)
            *next = e->next_attempt;
    }
    free(ks.slot);
    return got;
}

size_t outbox_due(struct outbox *ob, double now, struct outbox_entry *out[],
                  size_t max)
{
    double next;
    size_t got = scan(ob, now, out, max, &next);
    for (size_t i = 0; i < got; i++) {
        struct outbox_entry *e = out[i];
        e->state = OB_IN_FLIGHT;
        e->attempts++;
        if (e->first_attempt == 0)
            e->first_attempt = now;
    }
    if (got)
        ob->generation++;
    return got;
}

double outbox_next_due(const struct outbox *ob)
{
    double next;
    scan(ob, -INFINITY, NULL, 0, &next);
    return next;
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
    if (i == (size_t)-1 || ob->entries[i]->state != OB_IN_FLIGHT)
        return OUTBOX_UNKNOWN;
    struct outbox_entry *e = ob->entries[i];
    ob->generation++;

    switch (res->kind) {
    case OUTBOX_OK:
        get_recv(ob, e->n->receiver)->delivered++;
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
        cJSON_AddItemToArray(arr, outbox_entry_to_json(ob->entries[i]));
    return o;
}

const struct outbox_entry *outbox_entry_at(const struct outbox *ob, size_t i)
{
    return ob->entries[i];
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
    struct outbox_entry *e = append(ob, n, (uint64_t)id);
    e->attempts = (int)attempts;
    e->added_at = added;
    e->next_attempt = next;
    e->first_attempt = first;
    snprintf(e->last_error, sizeof(e->last_error), "%s", last_error);
    return 0;
fail:
    snprintf(err, errlen, "outbox: entries[%zu]: %s", idx, why);
    return -1;
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
    size_t idx = 0;
    uint64_t prev = 0;
    for (const cJSON *eo = arr->child; eo; eo = eo->next, idx++) {
        if (entry_from_json(ob, eo, idx, prev, err, errlen) != 0) {
            outbox_free(ob);
            return NULL;
        }
        prev = ob->entries[ob->n - 1]->id;
    }
    return ob;
}
