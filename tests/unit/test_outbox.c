/*
 * test_outbox.c - retry schedule (exact, with the seeded jitter),
 * Retry-After, the 24 h give-up, failure stats, ordering per group,
 * capacity and the state file form; thousands of entries handed out at
 * once and finished in any order (order per group kept, counts right
 * while removed entries are compacted away).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify/outbox.h"
#include "daemon/state.h"

#include "receivers_fixture.h"

#define T0 1787227200.0
#define SEED 42

static struct notification *mk(const char *id, const char *receiver,
                               const char *group_key)
{
    struct notification *n = notification_new();
    n->id = xstrdup(id);
    n->receiver = xstrdup(receiver);
    n->receiver_type = xstrdup("webhook");
    n->route = xstrdup("default");
    n->group_key = xstrdup(group_key);
    n->reason = NOTIFY_FIRST;
    n->created_at = T0;
    n->nalerts = 1;
    n->alerts = xcalloc(1, sizeof(*n->alerts));
    n->alerts[0].rule = xstrdup("r");
    n->alerts[0].status = xstrdup("firing");
    n->alerts[0].value = NAN;
    return n;
}

static const struct outbox_result OK = { OUTBOX_OK, 0, NULL };

static struct outbox_result retry(double retry_after_s, const char *why)
{
    struct outbox_result r = { OUTBOX_RETRY, retry_after_s, why };
    return r;
}

static struct outbox_result permanent(const char *why)
{
    struct outbox_result r = { OUTBOX_PERMANENT, 0, why };
    return r;
}

/* The one entry due at now (asserts there is exactly one). */
static struct outbox_entry *due_one(struct outbox *ob, double now)
{
    struct outbox_entry *e[4];
    size_t n = outbox_due(ob, now, e, 4);
    assert_int_equal(n, 1);
    assert_int_equal(e[0]->state, OB_IN_FLIGHT);
    return e[0];
}

static void assert_none_due(struct outbox *ob, double now)
{
    struct outbox_entry *e[4];
    assert_int_equal(outbox_due(ob, now, e, 4), 0);
}

static void test_backoff_schedule(void **state)
{
    struct outbox *ob = outbox_new(0, SEED);
    uint64_t id = outbox_add(ob, mk("g-1", "hook", "g"), T0);
    assert_true(id > 0);
    assert_true(outbox_next_due(ob) == T0);

    /* the expected jitter comes from the same rng, same seed */
    struct rng r;
    rng_seed(&r, SEED);
    static const double base[] = { 30, 60, 120, 240, 480, 600, 600, 600 };
    double now = T0;
    for (size_t k = 0; k < ARRAY_SIZE(base); k++) {
        struct outbox_entry *e = due_one(ob, now);
        assert_int_equal(e->id, id);
        assert_int_equal(e->attempts, (int)k + 1);
        assert_true(e->first_attempt == T0);
        /* in flight: nothing else due, nothing to wake up for */
        assert_none_due(ob, now + 1e6);
        assert_true(isinf(outbox_next_due(ob)));

        struct outbox_result res = retry(0, "http 503");
        assert_int_equal(outbox_done(ob, id, &res, now + 1),
                         OUTBOX_RESCHEDULED);
        double want = now + 1 + base[k] * (1.0 - 0.2 * rng_uniform(&r));
        const struct outbox_entry *g = outbox_get(ob, id);
        assert_true(g->next_attempt == want);
        assert_true(g->next_attempt <= now + 1 + base[k]);
        assert_true(g->next_attempt >= now + 1 + 0.8 * base[k]);
        assert_string_equal(g->last_error, "http 503");
        assert_int_equal(g->state, OB_QUEUED);
        assert_true(outbox_next_due(ob) == want);
        assert_none_due(ob, nextafter(want, 0));
        now = want;
    }
    struct outbox_entry *e = due_one(ob, now);
    assert_int_equal(outbox_done(ob, e->id, &OK, now), OUTBOX_DELIVERED);
    assert_int_equal(outbox_count(ob), 0);
    assert_true(isinf(outbox_next_due(ob)));

    struct outbox_stats st;
    outbox_receiver_stats(ob, "hook", &st);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.retries, ARRAY_SIZE(base));
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.queued, 0);
    outbox_free(ob);
}

static void test_retry_after(void **state)
{
    struct outbox *ob = outbox_new(0, SEED);
    struct rng r;
    rng_seed(&r, SEED);
    uint64_t id = outbox_add(ob, mk("g-1", "hook", "g"), T0);

    /* longer than the backoff: used as is, no jitter */
    due_one(ob, T0);
    struct outbox_result res = retry(300, "429");
    assert_int_equal(outbox_done(ob, id, &res, T0), OUTBOX_RESCHEDULED);
    rng_uniform(&r);        /* drawn anyway */
    assert_true(outbox_get(ob, id)->next_attempt == T0 + 300);

    /* shorter than the backoff (60 s at the second failure): backoff */
    due_one(ob, T0 + 300);
    res = retry(5, "429");
    outbox_done(ob, id, &res, T0 + 300);
    double want = T0 + 300 + 60 * (1.0 - 0.2 * rng_uniform(&r));
    assert_true(outbox_get(ob, id)->next_attempt == want);

    /* absurd values are clamped to 1 h */
    due_one(ob, want);
    res = retry(86400 * 7, "429");
    outbox_done(ob, id, &res, want);
    assert_true(outbox_get(ob, id)->next_attempt == want + 3600);
    outbox_free(ob);
}

static void test_give_up_24h(void **state)
{
    struct outbox *ob = outbox_new(0, SEED);
    uint64_t id = outbox_add(ob, mk("g-1", "hook", "g"), T0);
    double now = T0, last = 0;
    int attempts = 0;
    enum outbox_done_status st;
    do {
        struct outbox_entry *e = due_one(ob, now);
        attempts++;
        last = now;
        struct outbox_result res = retry(0, "connection refused");
        st = outbox_done(ob, e->id, &res, now);
        if (st == OUTBOX_RESCHEDULED) {
            now = outbox_get(ob, id)->next_attempt;
            assert_true(now <= T0 + 86400);
        }
    } while (st == OUTBOX_RESCHEDULED && attempts < 1000);
    assert_int_equal(st, OUTBOX_FAILED);
    /* the last try is exactly at the deadline, then it gives up */
    assert_true(last == T0 + 86400);
    assert_true(attempts > 140 && attempts < 200);   /* ~24h / ~9 min */
    assert_int_equal(outbox_count(ob), 0);

    struct outbox_failure f[4];
    assert_int_equal(outbox_failures(ob, "hook", f, 4), 1);
    assert_string_equal(f[0].reason, OUTBOX_REASON_EXPIRED);
    assert_int_equal(f[0].count, 1);
    struct outbox_stats s;
    outbox_receiver_stats(ob, "hook", &s);
    assert_int_equal(s.failed, 1);
    assert_int_equal(s.delivered, 0);
    assert_int_equal(s.retries, attempts);
    outbox_free(ob);
}

static void test_permanent_per_receiver(void **state)
{
    struct outbox *ob = outbox_new(0, SEED);
    const char *plan[][2] = {
        { "slack", "http 404" }, { "slack", "invalid_token" },
        { "slack", "http 404" }, { "pd", "http 400" }, { "pd", NULL },
        { "slack", NULL },
    };
    char id[32];
    for (size_t i = 0; i < ARRAY_SIZE(plan); i++) {
        snprintf(id, sizeof(id), "g%zu-1", i);
        outbox_add(ob, mk(id, plan[i][0], id), T0);
    }
    outbox_add(ob, mk("ok-1", "pd", "ok"), T0);
    struct outbox_entry *e[16];
    assert_int_equal(outbox_due(ob, T0, e, 16), ARRAY_SIZE(plan) + 1);
    /* entries are gone once done: keep the ids */
    uint64_t ids[16];
    for (size_t i = 0; i <= ARRAY_SIZE(plan); i++)
        ids[i] = e[i]->id;
    for (size_t i = 0; i < ARRAY_SIZE(plan); i++) {
        struct outbox_result res = permanent(plan[i][1]);
        assert_int_equal(outbox_done(ob, ids[i], &res, T0), OUTBOX_FAILED);
    }
    struct outbox_result res = permanent("late");
    assert_int_equal(outbox_done(ob, ids[0], &res, T0), OUTBOX_UNKNOWN);
    assert_int_equal(outbox_done(ob, ids[ARRAY_SIZE(plan)], &OK, T0),
                     OUTBOX_DELIVERED);

    struct outbox_failure f[8];
    assert_int_equal(outbox_failures(ob, "slack", f, 8), 3);
    assert_string_equal(f[0].reason, "http 404");
    assert_int_equal(f[0].count, 2);
    assert_string_equal(f[1].reason, "invalid_token");
    assert_int_equal(f[1].count, 1);
    assert_string_equal(f[2].reason, "unknown");
    assert_int_equal(outbox_failures(ob, "pd", f, 1), 2);   /* max 1 */
    assert_string_equal(f[0].reason, "http 400");
    assert_int_equal(outbox_failures(ob, "nobody", f, 8), 0);

    struct outbox_stats s;
    outbox_receiver_stats(ob, "slack", &s);
    assert_int_equal(s.failed, 4);
    assert_int_equal(s.delivered, 0);
    outbox_receiver_stats(ob, "pd", &s);
    assert_int_equal(s.failed, 2);
    assert_int_equal(s.delivered, 1);
    outbox_receiver_stats(ob, "nobody", &s);
    assert_int_equal(s.failed + s.delivered + s.retries + s.queued, 0);

    const char *names[4];
    assert_int_equal(outbox_receivers(ob, names, 4), 2);
    assert_string_equal(names[0], "slack");
    assert_string_equal(names[1], "pd");
    outbox_free(ob);
}

static void test_reason_cap(void **state)
{
    struct outbox *ob = outbox_new(0, SEED);
    char id[32], why[200];
    for (int i = 0; i < OUTBOX_MAX_REASONS + 4; i++) {
        snprintf(id, sizeof(id), "g%d-1", i);
        uint64_t eid = outbox_add(ob, mk(id, "hook", id), T0);
        due_one(ob, T0);
        /* long reasons are cut */
        snprintf(why, sizeof(why), "http 4%02d %0150d", i, 0);
        struct outbox_result res = permanent(why);
        outbox_done(ob, eid, &res, T0);
    }
    struct outbox_failure f[OUTBOX_MAX_REASONS + 2];
    size_t n = outbox_failures(ob, "hook", f, ARRAY_SIZE(f));
    assert_int_equal(n, OUTBOX_MAX_REASONS + 1);
    assert_int_equal(strlen(f[0].reason), OUTBOX_REASON_LEN);
    assert_string_equal(f[OUTBOX_MAX_REASONS].reason, "other");
    assert_int_equal(f[OUTBOX_MAX_REASONS].count, 4);
    outbox_free(ob);
}

/* A newer notification of the same group and receiver waits for the
 * older one, so "resolved" never overtakes "firing". */
static void test_order_per_group(void **state)
{
    struct outbox *ob = outbox_new(0, SEED);
    uint64_t a = outbox_add(ob, mk("g-1", "hook", "g"), T0);
    uint64_t b = outbox_add(ob, mk("g-2", "hook", "g"), T0);
    uint64_t c = outbox_add(ob, mk("g-3", "mail", "g"), T0);   /* other
                                                                  receiver */
    struct notification *nk = mk("t-1", "hook", NULL);        /* unordered */
    free(nk->group_key);
    nk->group_key = NULL;
    uint64_t d = outbox_add(ob, nk, T0);
    assert_true(a < b && b < c && c < d);

    struct outbox_entry *e[8];
    assert_int_equal(outbox_due(ob, T0, e, 8), 3);
    assert_int_equal(e[0]->id, a);
    assert_int_equal(e[1]->id, c);
    assert_int_equal(e[2]->id, d);
    assert_true(isinf(outbox_next_due(ob)));    /* b waits behind a */

    struct outbox_result res = retry(0, "timeout");
    outbox_done(ob, a, &res, T0);
    double na = outbox_get(ob, a)->next_attempt;
    assert_true(outbox_next_due(ob) == na);
    assert_none_due(ob, na - 1);
    /* a first, then b only after a is done */
    assert_int_equal(outbox_due(ob, na, e, 8), 1);
    assert_int_equal(e[0]->id, a);
    assert_int_equal(outbox_done(ob, a, &OK, na), OUTBOX_DELIVERED);
    assert_int_equal(outbox_due(ob, na, e, 8), 1);
    assert_int_equal(e[0]->id, b);
    assert_int_equal(e[0]->attempts, 1);
    assert_true(e[0]->first_attempt == na);

    /* max limits the batch; the rest stays due */
    outbox_add(ob, mk("x-1", "hook", "x"), na);
    outbox_add(ob, mk("y-1", "hook", "y"), na);
    assert_int_equal(outbox_due(ob, na, e, 1), 1);
    assert_true(outbox_next_due(ob) == na);
    assert_int_equal(outbox_due(ob, na, e, 1), 1);
    assert_int_equal(outbox_due(ob, na, e, 1), 0);
    outbox_free(ob);
}

static void test_capacity(void **state)
{
    struct outbox *ob = outbox_new(2, SEED);
    uint64_t a = outbox_add(ob, mk("a-1", "hook", "a"), T0);
    uint64_t b = outbox_add(ob, mk("b-1", "hook", "b"), T0);
    uint64_t c = outbox_add(ob, mk("c-1", "hook", "c"), T0);
    assert_int_equal(outbox_count(ob), 2);
    assert_null(outbox_get(ob, a));          /* the oldest went */
    assert_non_null(outbox_get(ob, b));
    assert_non_null(outbox_get(ob, c));
    struct outbox_entry *e[4];
    assert_int_equal(outbox_due(ob, T0, e, 4), 2);
    assert_int_equal(outbox_queued(ob), 0);
    /* everything in flight: the new one is refused */
    assert_int_equal(outbox_add(ob, mk("d-1", "hook", "d"), T0), 0);
    struct outbox_failure f[2];
    assert_int_equal(outbox_failures(ob, "hook", f, 2), 1);
    assert_string_equal(f[0].reason, OUTBOX_REASON_FULL);
    assert_int_equal(f[0].count, 2);
    outbox_free(ob);
}

static void test_unknown_and_generation(void **state)
{
    struct outbox *ob = outbox_new(0, SEED);
    uint64_t g0 = outbox_generation(ob);
    uint64_t a = outbox_add(ob, mk("a-1", "hook", "a"), T0);
    uint64_t g1 = outbox_generation(ob);
    assert_true(g1 > g0);
    /* not in flight yet */
    assert_int_equal(outbox_done(ob, a, &OK, T0), OUTBOX_UNKNOWN);
    assert_int_equal(outbox_done(ob, 999, &OK, T0), OUTBOX_UNKNOWN);
    assert_int_equal(outbox_generation(ob), g1);
    assert_none_due(ob, T0 - 1);
    assert_int_equal(outbox_generation(ob), g1);
    due_one(ob, T0);
    assert_true(outbox_generation(ob) > g1);
    outbox_free(NULL);
    outbox_free(ob);
}

/* Through text, as the state file carries it. */
static struct outbox *reload(const struct outbox *ob, size_t max)
{
    cJSON *j = outbox_to_json(ob);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    cJSON *back = cJSON_Parse(text);
    cJSON_free(text);
    assert_non_null(back);
    char err[256] = "";
    struct outbox *ob2 = outbox_from_json(back, max, SEED, err, sizeof(err));
    if (!ob2)
        fail_msg("%s", err);
    cJSON_Delete(back);
    return ob2;
}

static void test_json_in_flight_requeued(void **state)
{
    struct outbox *ob = outbox_new(0, SEED);
    uint64_t a = outbox_add(ob, mk("a-1", "hook", "a"), T0);
    uint64_t b = outbox_add(ob, mk("b-1", "hook", "b"), T0);
    uint64_t c = outbox_add(ob, mk("c-1", "mail", "c"), T0 + 0.5);
    struct outbox_entry *e[4];
    assert_int_equal(outbox_due(ob, T0 + 1, e, 2), 2);     /* a, b */
    struct outbox_result res = retry(0, "http 502 \"bad gateway\"");
    outbox_done(ob, b, &res, T0 + 2);
    double nb = outbox_get(ob, b)->next_attempt;
    /* a stays in flight: the process dies here */

    struct outbox *ob2 = reload(ob, 0);
    assert_int_equal(outbox_count(ob2), 3);
    assert_int_equal(outbox_queued(ob2), 3);
    const struct outbox_entry *ea = outbox_get(ob2, a);
    const struct outbox_entry *eb = outbox_get(ob2, b);
    const struct outbox_entry *ec = outbox_get(ob2, c);
    assert_int_equal(ea->state, OB_QUEUED);
    assert_int_equal(ea->attempts, 1);
    assert_true(ea->first_attempt == T0 + 1);
    assert_true(ea->added_at == T0);
    assert_int_equal(eb->attempts, 1);
    assert_true(eb->next_attempt == nb);
    assert_string_equal(eb->last_error, "http 502 \"bad gateway\"");
    assert_true(ec->added_at == T0 + 0.5);
    assert_true(ec->first_attempt == 0);
    assert_string_equal(ec->n->receiver, "mail");
    assert_string_equal(ec->n->id, "c-1");
    assert_true(isnan(ec->n->alerts[0].value));

    /* a (in flight before) is due again at once: at-least-once */
    assert_int_equal(outbox_due(ob2, T0 + 3, e, 4), 2);
    assert_int_equal(e[0]->id, a);
    assert_int_equal(e[0]->attempts, 2);
    assert_int_equal(e[1]->id, c);
    /* ids continue after the saved ones */
    uint64_t d = outbox_add(ob2, mk("d-1", "hook", "d"), T0 + 3);
    assert_true(d > c);

    /* an empty outbox survives too */
    struct outbox *empty = outbox_new(0, 1);
    struct outbox *empty2 = reload(empty, 0);
    assert_int_equal(outbox_count(empty2), 0);
    assert_int_equal(outbox_add(empty2, mk("e-1", "hook", "e"), T0), 1);

    outbox_free(empty);
    outbox_free(empty2);
    outbox_free(ob);
    outbox_free(ob2);
}

static void expect_bad(const char *text, const char *needle)
{
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    char err[256] = "";
    struct outbox *ob = outbox_from_json(j, 0, SEED, err, sizeof(err));
    if (ob)
        fail_msg("accepted %s", text);
    if (!strstr(err, needle))
        fail_msg("error for %s: '%s' (want '%s')", text, err, needle);
    cJSON_Delete(j);
}

static void test_json_hostile(void **state)
{
    struct outbox *ob = outbox_new(0, SEED);
    outbox_add(ob, mk("a-1", "hook", "a"), T0);
    cJSON *j = outbox_to_json(ob);
    char *good = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    outbox_free(ob);

    expect_bad("[]", "not an object");
    expect_bad("{\"entries\":[]}", "next_id");
    expect_bad("{\"next_id\":0,\"entries\":[]}", "next_id");
    expect_bad("{\"next_id\":1.5,\"entries\":[]}", "next_id");
    expect_bad("{\"next_id\":2}", "entries");
    expect_bad("{\"next_id\":2,\"entries\":{}}", "entries");
    expect_bad("{\"next_id\":2,\"entries\":[1]}", "entries[0]");

    /* each member of an entry: missing, or wrong */
    static const char *const keys[] = {
        "id", "attempts", "added_at", "next_attempt", "first_attempt",
        "last_error", "notification",
    };
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        cJSON *root = cJSON_Parse(good);
        cJSON *entry = cJSON_GetArrayItem(cJSON_GetObjectItem(root,
                                                              "entries"), 0);
        cJSON_DeleteItemFromObject(entry, keys[i]);
        char *t = cJSON_PrintUnformatted(root);
        expect_bad(t, keys[i]);
        cJSON_free(t);
        cJSON_AddItemToObject(entry, keys[i], cJSON_CreateArray());
        t = cJSON_PrintUnformatted(root);
        expect_bad(t, keys[i]);
        cJSON_free(t);
        cJSON_Delete(root);
    }
    /* a NaN time would never come due */
    cJSON *root = cJSON_Parse(good);
    cJSON *entries = cJSON_GetObjectItem(root, "entries");
    cJSON *entry = cJSON_GetArrayItem(entries, 0);
    cJSON_ReplaceItemInObject(entry, "next_attempt", cJSON_CreateNull());
    char *t = cJSON_PrintUnformatted(root);
    expect_bad(t, "finite");
    cJSON_free(t);
    cJSON_ReplaceItemInObject(entry, "next_attempt", cJSON_CreateNumber(T0));
    /* a broken notification inside */
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(entry, "notification"),
                               "receiver");
    t = cJSON_PrintUnformatted(root);
    expect_bad(t, "receiver");
    cJSON_free(t);
    cJSON_Delete(root);
    /* duplicate ids */
    root = cJSON_Parse(good);
    entries = cJSON_GetObjectItem(root, "entries");
    cJSON_AddItemToArray(entries,
                         cJSON_Duplicate(cJSON_GetArrayItem(entries, 0), 1));
    t = cJSON_PrintUnformatted(root);
    expect_bad(t, "entries[1]: id");
    cJSON_free(t);
    cJSON_Delete(root);
    cJSON_free(good);
}

#define MANY 6000
#define MANY_GROUPS 40

/* Every entry of MANY is handed out exactly once per attempt, one group at
 * a time and oldest first within a group; entries finish in a scattered
 * order, a tenth of them retry once; the counts follow. */
static void test_many_entries(void **state)
{
    struct outbox *ob = outbox_new(0, SEED);
    static uint64_t ids[MANY];
    static int attempts[MANY];
    char id[32], gk[32];
    for (int i = 0; i < MANY; i++) {
        snprintf(id, sizeof(id), "n-%d", i);
        /* half unordered (own group), half in MANY_GROUPS groups */
        if (i % 2)
            snprintf(gk, sizeof(gk), "solo-%d", i);
        else
            snprintf(gk, sizeof(gk), "g-%d", (i / 2) % MANY_GROUPS);
        ids[i] = outbox_add(ob, mk(id, i % 3 ? "hook" : "mail", gk), T0);
        assert_true(ids[i] > 0);
    }
    struct outbox_stats st;
    outbox_receiver_stats(ob, "mail", &st);
    assert_int_equal(st.queued, MANY / 3);
    struct outbox_entry **e = xcalloc(MANY, sizeof(*e));
    double now = T0;
    size_t delivered = 0;
    int rounds = 0;
    while (delivered < MANY) {
        assert_true(++rounds < 4 * MANY);     /* no livelock */
        size_t n = outbox_due(ob, now, e, MANY);
        if (n == 0) {
            now = outbox_next_due(ob);
            assert_true(isfinite(now));
            continue;
        }
        /* one per group at a time, oldest first */
        for (size_t k = 1; k < n; k++)
            assert_true(e[k]->id > e[k - 1]->id);
        uint64_t *got = xcalloc(n, sizeof(*got));
        for (size_t k = 0; k < n; k++) {
            got[k] = e[k]->id;
            if (e[k]->order_key)
                for (size_t m = 0; m < k; m++)
                    assert_false(e[m]->order_key == e[k]->order_key);
        }
        /* finish in a scattered order */
        for (size_t k = 0; k < n; k++) {
            size_t j = (k * 7919) % n;
            while (got[j] == 0)
                j = (j + 1) % n;
            int idx = -1;
            for (int m = 0; m < MANY && idx < 0; m++)
                if (ids[m] == got[j])
                    idx = m;
            assert_true(idx >= 0);
            attempts[idx]++;
            struct outbox_result res = retry(0, "timeout");
            bool fail = idx % 10 == 0 && attempts[idx] == 1;
            enum outbox_done_status st2 =
                outbox_done(ob, got[j], fail ? &res : &OK, now);
            assert_int_equal(st2, fail ? OUTBOX_RESCHEDULED
                                       : OUTBOX_DELIVERED);
            if (!fail)
                delivered++;
            got[j] = 0;
        }
        free(got);
        assert_int_equal(outbox_count(ob), MANY - delivered);
    }
    for (int i = 0; i < MANY; i++)
        assert_int_equal(attempts[i], i % 10 == 0 ? 2 : 1);
    assert_int_equal(outbox_queued(ob), 0);
    assert_true(isinf(outbox_next_due(ob)));
    outbox_receiver_stats(ob, "mail", &st);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.delivered, MANY / 3);
    free(e);
    outbox_free(ob);
}

/* The change log the state saver reads: every add, hand-out, retry and
 * removal, until cleared; a new outbox says "look at everything". */
static void test_change_log(void **state)
{
    (void)state;
    struct outbox *ob = outbox_new(0, 1);
    const uint64_t *ids;
    size_t n;
    assert_false(outbox_changes(ob, &ids, &n));
    outbox_changes_clear(ob);
    assert_true(outbox_changes(ob, &ids, &n));
    assert_int_equal(n, 0);
    uint64_t a = outbox_add(ob, mk("n1", "hook", "g1"), 100);
    uint64_t b = outbox_add(ob, mk("n2", "hook", "g2"), 100);
    assert_true(outbox_changes(ob, &ids, &n));
    assert_int_equal(n, 2);
    assert_true(ids[0] == a && ids[1] == b);
    outbox_changes_clear(ob);
    struct outbox_entry *due[2];
    assert_int_equal(outbox_due(ob, 100, due, 2), 2);
    struct outbox_result ok = { OUTBOX_OK, 0, NULL };
    struct outbox_result later = { OUTBOX_RETRY, 0, "500" };
    assert_int_equal(outbox_done(ob, a, &ok, 101), OUTBOX_DELIVERED);
    assert_int_equal(outbox_done(ob, b, &later, 101), OUTBOX_RESCHEDULED);
    assert_true(outbox_changes(ob, &ids, &n));
    /* both handed out, then a removed and b rescheduled */
    size_t na = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        na += ids[i] == a;
        nb += ids[i] == b;
    }
    assert_true(na >= 1 && nb >= 1 && na + nb == n);
    outbox_changes_clear(ob);
    assert_true(outbox_changes(ob, &ids, &n));
    assert_int_equal(n, 0);
    outbox_free(ob);
}

/* retrying is a gauge (waiting for a retry now), retries a total; both
 * and the other counters come back from the state file */
static void test_retrying_gauge_and_saved_counters(void **state)
{
    (void)state;
    struct outbox *ob = outbox_new(0, SEED);
    struct outbox_stats st;
    uint64_t a = outbox_add(ob, mk("a-1", "hook", "a"), T0);
    uint64_t b = outbox_add(ob, mk("b-1", "hook", "b"), T0);
    struct outbox_entry *e[4];
    assert_int_equal(outbox_due(ob, T0, e, 4), 2);
    struct outbox_result r = retry(0, "http 500");
    assert_int_equal(outbox_done(ob, a, &r, T0 + 1), OUTBOX_RESCHEDULED);
    assert_int_equal(outbox_done(ob, b, &r, T0 + 1), OUTBOX_RESCHEDULED);
    outbox_receiver_stats(ob, "hook", &st);
    assert_int_equal(st.retrying, 2);
    assert_int_equal(st.retries, 2);

    /* handed out again: no longer waiting */
    assert_int_equal(outbox_due(ob, T0 + 1000, e, 4), 2);
    outbox_receiver_stats(ob, "hook", &st);
    assert_int_equal(st.retrying, 0);
    assert_int_equal(outbox_done(ob, a, &OK, T0 + 1001), OUTBOX_DELIVERED);
    struct outbox_result p = permanent("http 404");
    assert_int_equal(outbox_done(ob, b, &p, T0 + 1001), OUTBOX_FAILED);
    outbox_receiver_stats(ob, "hook", &st);
    assert_int_equal(st.retrying, 0);
    assert_int_equal(st.retries, 2);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.failed, 1);

    /* one more waiting, then the process restarts */
    uint64_t c = outbox_add(ob, mk("c-1", "hook", "c"), T0 + 2000);
    assert_int_equal(outbox_due(ob, T0 + 2000, e, 4), 1);
    assert_int_equal(outbox_done(ob, c, &r, T0 + 2001), OUTBOX_RESCHEDULED);
    struct outbox *ob2 = reload(ob, 0);
    outbox_receiver_stats(ob2, "hook", &st);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.retries, 3);
    assert_int_equal(st.retrying, 1);
    assert_int_equal(st.queued, 1);
    struct outbox_failure f[4];
    assert_int_equal(outbox_failures(ob2, "hook", f, 4), 1);
    assert_string_equal(f[0].reason, "http 404");
    assert_int_equal(f[0].count, 1);

    /* a clock step moves the wait with it */
    double next = outbox_get(ob2, c)->next_attempt;
    outbox_shift_times(ob2, -86400);
    assert_true(outbox_get(ob2, c)->next_attempt == next - 86400);
    assert_true(outbox_next_due(ob2) == next - 86400);
    outbox_free(ob);
    outbox_free(ob2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_schedule),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_give_up_24h),
        cmocka_unit_test(test_permanent_per_receiver),
        cmocka_unit_test(test_reason_cap),
        cmocka_unit_test(test_order_per_group),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_unknown_and_generation),
        cmocka_unit_test(test_json_in_flight_requeued),
        cmocka_unit_test(test_json_hostile),
        cmocka_unit_test(test_many_entries),
        cmocka_unit_test(test_change_log),
        cmocka_unit_test(test_retrying_gauge_and_saved_counters),
    };
    fixture_register_receivers(NULL, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
