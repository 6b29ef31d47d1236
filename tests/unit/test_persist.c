/*
 * test_persist.c - the daemon's state across restarts (daemon/persist.h)
 * with the real models: an evaluator, a dispatcher, an outbox.
 *
 *   (a) after changing 1 of 20,000 records a save appends the same bytes
 *       as after changing 1 of 2,000 (and a small bound);
 *   (b) a save cut short at any byte restores the state before it;
 *   (c) a flipped byte mid-journal is detected: the state of the saves
 *       before it, the journal moved aside;
 *   (d) compaction and restore round-trip everything;
 *   (e) a restore after many appends (and compactions) equals memory;
 * plus the digests: every field a record writes moves its digest.
 *
 * "Equal" compares dumps: the instances worth saving (sorted by
 * identity) with their JSON, then dispatch_to_json() and
 * outbox_to_json().
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/diag.h"
#include "core/json.h"
#include "core/log.h"
#include "daemon/persist.h"
#include "daemon/state.h"
#include "engine/alert_json.h"
#include "engine/rules.h"
#include "notify/notify_json.h"
#include "notify/silence.h"

#include "receivers_fixture.h"

#define T0 1790000000.0

static const char conf_text[] =
    "workspace \"prod\" { token = \"t0ken\" }\n"
    "receiver \"console\" { type = \"log\" }\n"
    "defaults { group_wait = \"30s\" group_interval = \"1m\" "
    "repeat_interval = \"1h\" }\n"
    "route \"all\" { receiver = \"console\" group_by = {\"source\"} }\n"
    "rule \"r\" { expr = \"attempted > 0\" }\n"
    "rule \"q\" { expr = \"attempted > 1\" }\n";

/* The configuration (one per test) and the models built from it (one per
 * daemon run). */
struct env {
    char *dir;
    struct config *cfg;
    struct ruleset *rs;
};

struct world {
    const struct env *env;
    struct label_pool *pool;
    struct evaluator *ev;
    struct dispatcher *disp;
    struct outbox *ob;
    struct persist *p;
};

/* ---- helpers --------------------------------------------------------------- */

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (streq(e->d_name, ".") || streq(e->d_name, ".."))
            continue;
        char *p = xasprintf("%s/%s", dir, e->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

static int count_prefix(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += str_has_prefix(e->d_name, prefix);
    closedir(d);
    return n;
}

static int quiet_begin(void)
{
    fflush(stderr);
    int saved = dup(2);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    close(devnull);
    return saved;
}

static void quiet_end(int saved)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
}

static void env_open(struct env *e)
{
    char tmpl[] = "/tmp/test_persist.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    e->dir = xstrdup(tmpl);
    char *path = xasprintf("%s/segalert.conf", e->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(conf_text, f);
    fclose(f);
    struct diag_list dl = DIAG_LIST_INIT;
    e->cfg = config_load(path, &dl);
    assert_non_null(e->cfg);
    e->rs = ruleset_compile(e->cfg, &dl);
    if (dl.nerrors)
        diag_print(&dl, stderr);
    assert_int_equal(dl.nerrors, 0);
    diag_list_free(&dl);
    unlink(path);
    free(path);
}

static void env_close(struct env *e)
{
    ruleset_free(e->rs);
    config_free(e->cfg);
    rm_rf(e->dir);
    free(e->dir);
}

static void world_open(struct world *w, const struct env *e)
{
    w->env = e;
    w->pool = label_pool_new();
    w->ev = evaluator_new(e->rs, e->cfg, w->pool);
    w->disp = dispatch_new(e->cfg);
    w->ob = outbox_new(0, 42);
    w->p = persist_new(e->dir);
}

static void world_close(struct world *w)
{
    persist_free(w->p);
    outbox_free(w->ob);
    dispatch_free(w->disp);
    evaluator_free(w->ev);
    label_pool_free(w->pool);
    memset(w, 0, sizeof(*w));
}

static struct persist_parts parts_of(struct world *w)
{
    struct persist_parts parts = { w->ev, w->pool, w->disp, w->ob, 0 };
    return parts;
}

static struct persist_save_stats save(struct world *w, double now,
                                      enum persist_how how)
{
    struct persist_parts parts = parts_of(w);
    struct persist_save_stats st;
    char err[512] = "";
    if (persist_save(w->p, &parts, now, how, &st, err, sizeof(err)) != 0)
        fail_msg("persist_save: %s", err);
    return st;
}

/* A new world restored from the state directory. */
static void restore(struct world *w, const struct env *e,
                    struct persist_restore_stats *st)
{
    world_open(w, e);
    struct persist_parts parts = parts_of(w);
    char err[512] = "";
    if (persist_restore(w->p, &parts, 0, 42, st, err, sizeof(err)) != 0)
        fail_msg("persist_restore: %s", err);
    w->ob = parts.ob;
}

static const struct labelset *series(struct world *w, size_t i)
{
    char src[32];
    snprintf(src, sizeof(src), "s%05zu", i);
    struct labels_builder b;
    labels_builder_init(&b, w->pool);
    labels_builder_add(&b, "source", src);
    labels_builder_add(&b, "workspace", "prod");
    const struct labelset *ls = labels_builder_finish(&b);
    labels_builder_free(&b);
    return ls;
}

/* The instance of rule for series i, created (inactive) when missing.
 * The caller changes it: the evaluator is told (evaluator_mark_changed). */
static struct alert_instance *instance(struct world *w, const char *rule,
                                       size_t i, double now)
{
    const struct labelset *ls = series(w, i);
    evaluator_mark_changed(w->ev);
    struct eval_instance *in = evaluator_find(w->ev, rule, ls);
    if (!in) {
        struct alert_instance st;
        alert_instance_init(&st, now);
        in = evaluator_restore(w->ev, rule, ls, &st);
        assert_non_null(in);
    }
    return &in->st;
}

static void fire(struct alert_instance *st, double value, double now)
{
    st->state = ALERT_FIRING;
    st->severity = ALERT_SEV_CRITICAL;
    st->active_at = st->active_at ? st->active_at : now - 60;
    st->fired_at = now;
    st->last_true_at = st->last_data_at = st->last_eval_at = now;
    st->value = value;
    st->flap_bits = st->flap_bits << 1 | 1;
    st->flap_count = st->flap_count < ALERT_FLAP_HISTORY
                         ? st->flap_count + 1 : st->flap_count;
    st->announced_firing = true;
    st->announced_severity = ALERT_SEV_CRITICAL;
}

/* Feed the dispatcher the alert of series i (group "all:{source=...}"). */
static void feed(struct world *w, size_t i, bool firing, double value,
                 double now)
{
    struct notify_alert a;
    memset(&a, 0, sizeof(a));
    char src[32];
    snprintf(src, sizeof(src), "s%05zu", i);
    a.rule = xstrdup("r");
    a.fingerprint = xasprintf("%016zx", i);
    a.nlabels = 3;
    a.labels = xcalloc(3, sizeof(*a.labels));
    a.labels[0].key = xstrdup("rule");
    a.labels[0].value = xstrdup("r");
    a.labels[1].key = xstrdup("source");
    a.labels[1].value = xstrdup(src);
    a.labels[2].key = xstrdup("workspace");
    a.labels[2].value = xstrdup("prod");
    a.severity = xstrdup("critical");
    a.status = xstrdup(firing ? "firing" : "resolved");
    a.value = value;
    a.summary = xasprintf("%s discards %.1f%% of its events", src,
                          value * 100);
    a.starts_at = T0;
    a.ends_at = firing ? 0 : now;
    dispatch_alert(w->disp, &a, now);
    notify_alert_free_fields(&a);
}

/* A notification straight into the outbox. */
static uint64_t queue(struct world *w, size_t i, double now)
{
    struct notification *n = fixture_notification("console", "log", now);
    free(n->id);
    n->id = xasprintf("%016zx-%zu", i, i);
    return outbox_add(w->ob, n, now);
}

static const struct silence *add_silence(struct world *w, const char *src,
                                         double now)
{
    struct kv m = { (char *)"source", (char *)src };
    const struct silence *s = NULL;
    char err[256];
    assert_int_equal(silence_add(dispatch_silences(w->disp), &m, 1, now,
                                 now + 3600, "test", "maintenance", now, &s,
                                 err, sizeof(err)), SILENCE_OK);
    return s;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Everything persist saves, in a canonical text. */
static char *dump(struct world *w)
{
    struct eval_instance *const *all;
    size_t n = evaluator_instances(w->ev, &all);
    char **lines = xcalloc(n ? n : 1, sizeof(char *));
    size_t nl = 0;
    for (size_t i = 0; i < n; i++) {
        const struct alert_instance *st = &all[i]->st;
        if (st->state == ALERT_INACTIVE && !st->flapping &&
            !st->announced_firing && st->flap_bits == 0 &&
            !(st->nodata_s > 0))
            continue;
        struct strbuf sb = STRBUF_INIT;
        strbuf_addf(&sb, "%s ", all[i]->rule->cfg->name);
        labelset_format(all[i]->series_labels, &sb);
        cJSON *j = alert_instance_to_json(st);
        char *t = cJSON_PrintUnformatted(j);
        strbuf_addf(&sb, " %s", t);
        cJSON_free(t);
        cJSON_Delete(j);
        lines[nl++] = strbuf_detach(&sb);
    }
    qsort(lines, nl, sizeof(char *), cmp_str);
    struct strbuf out = STRBUF_INIT;
    for (size_t i = 0; i < nl; i++) {
        strbuf_addf(&out, "%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
    cJSON *d = dispatch_to_json(w->disp);
    char *t = cJSON_PrintUnformatted(d);
    strbuf_addf(&out, "%s\n", t);
    cJSON_free(t);
    cJSON_Delete(d);
    cJSON *o = outbox_to_json(w->ob);
    t = cJSON_PrintUnformatted(o);
    strbuf_addf(&out, "%s\n", t);
    cJSON_free(t);
    cJSON_Delete(o);
    return strbuf_detach(&out);
}

static void assert_restores_to(const struct env *e, const char *want)
{
    struct world r;
    struct persist_restore_stats st;
    restore(&r, e, &st);
    char *got = dump(&r);
    if (!streq(got, want))
        fail_msg("restored:\n%s\nin memory:\n%s", got, want);
    free(got);
    world_close(&r);
}

/* n instances (every other one of rule "r" firing, the rest pending of
 * "q"), n groups, a few silences and queued notifications. */
static void fill(struct world *w, size_t n, double now)
{
    for (size_t i = 0; i < n; i++) {
        struct alert_instance *st = instance(w, i % 2 ? "q" : "r", i, now);
        if (i % 2) {
            st->state = ALERT_PENDING;
            st->severity = ALERT_SEV_CRITICAL;
            st->active_at = st->last_eval_at = now;
            st->value = 0.25;
            st->flap_count = 1;
        } else {
            fire(st, 0.5, now);
        }
        feed(w, i, true, 0.5, now);
    }
    for (size_t i = 0; i < 3; i++) {
        char src[32];
        snprintf(src, sizeof(src), "s%05zu", i);
        add_silence(w, src, now);
    }
    for (size_t i = 0; i < 10; i++)
        queue(w, i, now);
}

/* ---- (a) a save writes what changed ------------------------------------------ */

enum { CH_INSTANCE, CH_GROUP, CH_SILENCE, CH_OUTBOX, CH_GONE, CH__COUNT };

/* Bytes appended by a save after each kind of single change. */
static void single_changes(size_t n, size_t bytes[CH__COUNT],
                           size_t *snapshot)
{
    struct env e;
    env_open(&e);
    struct world w;
    world_open(&w, &e);
    double now = T0;
    fill(&w, n, now);
    struct persist_save_stats st = save(&w, now, PERSIST_COMPACT);
    assert_true(st.compacted);
    *snapshot = st.bytes;

    /* nothing changed: nothing written */
    st = save(&w, now + 1, PERSIST_CHANGES);
    assert_int_equal(st.changes, 0);
    assert_int_equal(st.bytes, 0);

    for (int k = 0; k < CH__COUNT; k++) {
        now += 10;
        size_t i = n / 2;               /* the one that changes */
        switch (k) {
        case CH_INSTANCE:
            fire(instance(&w, "r", i, now), 0.75, now);
            break;
        case CH_GROUP:
            feed(&w, i, true, 0.75, now);
            break;
        case CH_SILENCE:
            add_silence(&w, "s00042", now);
            break;
        case CH_OUTBOX: {
            struct outbox_entry *due[1];
            assert_int_equal(outbox_due(w.ob, now, due, 1), 1);
            struct outbox_result ok = { OUTBOX_OK, 0, NULL };
            assert_int_equal(outbox_done(w.ob, due[0]->id, &ok, now),
                             OUTBOX_DELIVERED);
            break;
        }
        case CH_GONE:
            alert_instance_init(instance(&w, "r", i, now), now);
            break;
        }
        uint64_t before = persist_journal_bytes(w.p);
        st = save(&w, now, PERSIST_CHANGES);
        assert_false(st.compacted);
        /* a delivery also moves the receiver's counters (one "set") */
        assert_int_equal(st.changes, k == CH_OUTBOX ? 2 : 1);
        assert_int_equal(persist_journal_bytes(w.p), before + st.bytes);
        bytes[k] = st.bytes;
    }
    char *want = dump(&w);
    assert_restores_to(&e, want);
    free(want);
    world_close(&w);
    env_close(&e);
}

static void test_save_writes_what_changed(void **state)
{
    size_t small[CH__COUNT], big[CH__COUNT], snap_small, snap_big;
    single_changes(2000, small, &snap_small);
    single_changes(20000, big, &snap_big);
    print_message("snapshot: %zu bytes at 2000 records, %zu at 20000; one "
                  "change appends %zu (instance), %zu (group), %zu (silence), "
                  "%zu (outbox entry), %zu (instance gone) bytes at both\n",
                  snap_small, snap_big, big[CH_INSTANCE], big[CH_GROUP],
                  big[CH_SILENCE], big[CH_OUTBOX], big[CH_GONE]);
    /* ten times the records: ten times the snapshot ... */
    assert_true(snap_big > 9 * snap_small);
    for (int k = 0; k < CH__COUNT; k++) {
        /* ... and the very same journal record for one change */
        if (big[k] != small[k])
            fail_msg("change %d: %zu bytes at 20000 records, %zu at 2000",
                     k, big[k], small[k]);
        assert_true(big[k] > STATE_FRAME_OVERHEAD);
        assert_true(big[k] < 2048);
        assert_true(big[k] < snap_big / 1000);
    }
}

/* ---- (b) a save cut short ------------------------------------------------------ */

/* A compacted state of n records and three saves; returns the dump after
 * each save and the journal size after each. */
static void three_saves(struct world *w, size_t n, char *dumps[3],
                        uint64_t ends[3])
{
    double now = T0;
    fill(w, n, now);
    save(w, now, PERSIST_COMPACT);
    for (int s = 0; s < 3; s++) {
        now += 60;
        /* a little of everything */
        fire(instance(w, "r", (size_t)s * 2, now), 0.6 + s, now);
        feed(w, (size_t)s + 1, s != 1, 0.6 + s, now);
        queue(w, 100 + (size_t)s, now);
        if (s == 2)
            add_silence(w, "s00009", now);
        struct notification **ns = NULL;
        size_t k = dispatch_tick(w->disp, now, &ns);
        for (size_t i = 0; i < k; i++)
            outbox_add(w->ob, ns[i], now);
        free(ns);
        struct persist_save_stats st = save(w, now, PERSIST_CHANGES);
        assert_false(st.compacted);
        assert_true(st.changes > 0);
        dumps[s] = dump(w);
        ends[s] = persist_journal_bytes(w->p);
    }
}

static void test_torn_last_save(void **state)
{
    struct env e;
    env_open(&e);
    struct world w;
    world_open(&w, &e);
    char *dumps[3];
    uint64_t ends[3];
    three_saves(&w, 12, dumps, ends);
    world_close(&w);
    char *jp = xasprintf("%s/" STATE_JOURNAL_FILE, e.dir);
    int saved = quiet_begin();
    for (uint64_t cut = ends[1]; cut < ends[2]; cut++) {
        assert_int_equal(truncate(jp, (off_t)cut), 0);
        struct world r;
        struct persist_restore_stats st;
        restore(&r, &e, &st);
        char *got = dump(&r);
        if (!streq(got, dumps[1])) {
            quiet_end(saved);
            fail_msg("cut at %llu (of %llu..%llu): restored\n%s\nwant\n%s",
                     (unsigned long long)cut, (unsigned long long)ends[1],
                     (unsigned long long)ends[2], got, dumps[1]);
        }
        assert_int_equal(st.journal_records, 2);
        free(got);
        world_close(&r);
    }
    quiet_end(saved);
    /* nothing was moved aside: an interrupted save is not damage */
    assert_int_equal(count_prefix(e.dir, "state.journal.corrupt"), 0);
    for (int s = 0; s < 3; s++)
        free(dumps[s]);
    free(jp);
    env_close(&e);
}

/* ---- (c) damage mid-journal ------------------------------------------------------- */

static void test_flipped_byte(void **state)
{
    struct env e;
    env_open(&e);
    struct world w;
    world_open(&w, &e);
    char *dumps[3];
    uint64_t ends[3];
    three_saves(&w, 12, dumps, ends);
    world_close(&w);
    char *jp = xasprintf("%s/" STATE_JOURNAL_FILE, e.dir);
    size_t len;
    char *buf = read_file(jp, 1 << 26, &len);
    assert_non_null(buf);
    /* one byte in the middle of the second save */
    buf[(ends[0] + ends[1]) / 2] ^= 0x04;
    FILE *f = fopen(jp, "w");
    fwrite(buf, 1, len, f);
    fclose(f);

    struct world r;
    struct persist_restore_stats st;
    int saved = quiet_begin();
    restore(&r, &e, &st);
    quiet_end(saved);
    char *got = dump(&r);
    assert_string_equal(got, dumps[0]);
    assert_int_equal(st.journal_records, 1);
    assert_int_equal(count_prefix(e.dir, "state.journal.corrupt-"), 1);
    /* the daemon carries on from there: compaction, more saves */
    struct persist_save_stats ss = save(&r, T0 + 1000, PERSIST_COMPACT);
    assert_true(ss.compacted);
    fire(instance(&r, "r", 4, T0 + 1001), 9, T0 + 1001);
    save(&r, T0 + 1001, PERSIST_CHANGES);
    char *want = dump(&r);
    assert_restores_to(&e, want);
    free(want);
    free(got);
    world_close(&r);
    for (int s = 0; s < 3; s++)
        free(dumps[s]);
    free(buf);
    free(jp);
    env_close(&e);
}

/* ---- (d) compaction --------------------------------------------------------------- */

static void test_compaction_roundtrip(void **state)
{
    struct env e;
    env_open(&e);
    struct world w;
    world_open(&w, &e);
    double now = T0;
    fill(&w, 200, now);
    /* odd values */
    struct alert_instance *st = instance(&w, "r", 0, now);
    st->value = NAN;
    st->flapping = true;
    st->nodata = true;
    instance(&w, "q", 1, now)->value = INFINITY;
    feed(&w, 3, false, NAN, now + 5);
    /* notification log, retries, an expired silence */
    now += 40;
    struct notification **ns = NULL;
    size_t k = dispatch_tick(w.disp, now, &ns);
    assert_true(k > 0);
    for (size_t i = 0; i < k; i++)
        outbox_add(w.ob, ns[i], now);
    free(ns);
    struct outbox_entry *due[3];
    assert_int_equal(outbox_due(w.ob, now, due, 3), 3);
    struct outbox_result retry = { OUTBOX_RETRY, 0, "http 503 \"busy\"" };
    for (int i = 0; i < 3; i++)
        outbox_done(w.ob, due[i]->id, &retry, now);
    const struct silence *s = add_silence(&w, "s00100", now);
    char id[SILENCE_ID_MAX + 1];
    snprintf(id, sizeof(id), "%s", s->id);
    char err[256];
    assert_int_equal(silence_expire(dispatch_silences(w.disp), id, now + 1,
                                    err, sizeof(err)), SILENCE_OK);

    struct persist_save_stats ss = save(&w, now, PERSIST_COMPACT);
    assert_true(ss.compacted);
    char *want = dump(&w);
    assert_restores_to(&e, want);

    /* the journal holds no save; the snapshot everything */
    struct state_read_info info;
    cJSON *doc = state_read(e.dir, STATE_READ_ONLY, &info, err, sizeof(err));
    assert_non_null(doc);
    assert_int_equal(info.records, 0);
    assert_int_equal(info.journal, STATE_JOURNAL_OK);
    assert_int_equal(cJSON_GetArraySize(json_member(doc, "instances")), 200);
    /* (the group of the alert resolved before group_wait is gone) */
    assert_int_equal(cJSON_GetArraySize(json_member(json_member(doc,
                     "dispatch"), "groups")), dispatch_group_count(w.disp));
    assert_true(dispatch_group_count(w.disp) >= 199);
    cJSON_Delete(doc);
    /* and a compaction of a restored state writes the same state */
    struct world r;
    struct persist_restore_stats rst;
    restore(&r, &e, &rst);
    save(&r, now, PERSIST_COMPACT);
    world_close(&r);
    assert_restores_to(&e, want);
    free(want);
    world_close(&w);
    env_close(&e);
}

/* ---- (e) many appends -------------------------------------------------------------- */

static void test_many_appends(void **state)
{
    struct env e;
    env_open(&e);
    struct world w;
    world_open(&w, &e);
    /* a small bound, so that compactions happen in between */
    persist_set_compact_bound(w.p, 32 << 10, 1.0);
    struct rng rng;
    rng_seed(&rng, 2026);
    double now = T0;
    const size_t n = 60;
    fill(&w, n, now);
    save(&w, now, PERSIST_COMPACT);
    int compactions = 0;
    char err[256];
    for (int step = 1; step <= 400; step++) {
        now += 7;
        int ops = 1 + (int)(rng_next(&rng) % 4);
        for (int o = 0; o < ops; o++) {
            size_t i = (size_t)(rng_next(&rng) % n);
            switch (rng_next(&rng) % 8) {
            case 0:
                fire(instance(&w, "r", i, now), rng_uniform(&rng), now);
                break;
            case 1:     /* an instance goes away */
                alert_instance_init(instance(&w, i % 2 ? "q" : "r", i, now),
                                    now);
                break;
            case 2:
                feed(&w, i, rng_next(&rng) % 3 != 0, rng_uniform(&rng), now);
                break;
            case 3: {
                struct notification **ns = NULL;
                size_t k = dispatch_tick(w.disp, now, &ns);
                for (size_t x = 0; x < k; x++)
                    outbox_add(w.ob, ns[x], now);
                free(ns);
                break;
            }
            case 4: {
                struct outbox_entry *due[4];
                size_t k = outbox_due(w.ob, now, due, 4);
                for (size_t x = 0; x < k; x++) {
                    struct outbox_result res = { OUTBOX_OK, 0, NULL };
                    if (rng_next(&rng) % 2)
                        res = (struct outbox_result){ OUTBOX_RETRY, 0,
                                                      "timeout" };
                    outbox_done(w.ob, due[x]->id, &res, now);
                }
                break;
            }
            case 5: {
                char src[32];
                snprintf(src, sizeof(src), "s%05zu", i);
                add_silence(&w, src, now);
                break;
            }
            case 6: {
                size_t ns = 0;
                const struct silence *all =
                    silences_list(dispatch_silences(w.disp), &ns);
                if (ns) {
                    char id[SILENCE_ID_MAX + 1];
                    snprintf(id, sizeof(id), "%s", all[i % ns].id);
                    silence_expire(dispatch_silences(w.disp), id, now, err,
                                   sizeof(err));
                }
                silences_gc(dispatch_silences(w.disp), now, 300);
                break;
            }
            default:
                queue(&w, 1000 + (size_t)step, now);
                break;
            }
        }
        struct persist_save_stats st = save(&w, now, PERSIST_CHANGES);
        compactions += st.compacted;
        if (step % 50 == 0) {
            char *want = dump(&w);
            assert_restores_to(&e, want);
            free(want);
        }
    }
    assert_true(compactions >= 1);
    /* a clean stop compacts; the state is the same */
    char *want = dump(&w);
    save(&w, now, PERSIST_COMPACT);
    assert_restores_to(&e, want);
    free(want);
    world_close(&w);
    env_close(&e);
}

/* A restart reads what the last run wrote, and the run after it appends to
 * a journal of its own (generations only grow). */
static void test_restart_chain(void **state)
{
    struct env e;
    env_open(&e);
    double now = T0;
    char *want = NULL;
    for (int run = 0; run < 4; run++) {
        struct world w;
        struct persist_restore_stats st;
        restore(&w, &e, &st);
        if (want) {
            char *got = dump(&w);
            assert_string_equal(got, want);
            free(got);
            free(want);
        }
        save(&w, now, PERSIST_COMPACT);          /* at start */
        fill(&w, 5 + (size_t)run, now);
        for (int s = 0; s < 5; s++) {
            now += 30;
            feed(&w, (size_t)s, s % 2, s, now);
            save(&w, now, PERSIST_CHANGES);
        }
        want = dump(&w);
        world_close(&w);                         /* a crash: no last save */
    }
    free(want);
    env_close(&e);
}

/* ---- digests ----------------------------------------------------------------------- */

/* Quiet instances are not saved (rebuilt from data); those a restart
 * would lose something of are. */
static void test_only_what_matters_is_saved(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    struct world w;
    struct persist_restore_stats st;
    restore(&w, &e, &st);
    double now = T0;
    for (size_t i = 0; i < 1000; i++) {
        /* evaluated many times, never true: a full, empty flap history */
        struct alert_instance *in = instance(&w, "r", i, now);
        in->flap_count = ALERT_FLAP_HISTORY;
        in->last_eval_at = in->last_data_at = now;
        in->data_through = now;
    }
    struct alert_instance *a = instance(&w, "r", 1000, now);
    fire(a, 0.5, now);
    struct alert_instance *b = instance(&w, "r", 1001, now);
    b->flap_count = 3;
    b->flap_bits = 0x4;             /* fired two observations ago */
    struct alert_instance *c = instance(&w, "q", 1002, now);
    c->nodata_s = 30;               /* counting towards no_data */
    save(&w, now, PERSIST_COMPACT);
    world_close(&w);
    restore(&w, &e, &st);
    assert_int_equal(st.instances, 3);
    world_close(&w);
    env_close(&e);
}

/* A restored connection instance judges only data newer than the restart
 * (persist.c judge_from): from a state a day old, the first window after
 * the start (ending a minute or more back) would otherwise be news, and a
 * quiet minute before a running incident resolved it. */
static void test_restored_judges_from_restart(void **state)
{
    (void)state;
    struct env e;
    env_open(&e);
    struct world w;
    struct persist_restore_stats st;
    restore(&w, &e, &st);
    double then = T0 - 86400;
    struct alert_instance *a = instance(&w, "r", 1, then);
    fire(a, 0.5, then);
    a->data_through = then - 30;
    save(&w, then, PERSIST_COMPACT);
    world_close(&w);

    /* no clock given (tests, tools): the saved value */
    restore(&w, &e, &st);
    assert_int_equal(st.instances, 1);
    assert_true(instance(&w, "r", 1, T0)->data_through == then - 30);
    world_close(&w);

    /* the daemon's restart: from the restart's second on */
    world_open(&w, &e);
    struct persist_parts parts = parts_of(&w);
    parts.now = T0 + 0.5;
    char err[512] = "";
    if (persist_restore(w.p, &parts, 0, 42, &st, err, sizeof(err)) != 0)
        fail_msg("persist_restore: %s", err);
    w.ob = parts.ob;
    struct alert_instance *r = instance(&w, "r", 1, T0);
    assert_true(r->data_through == T0);
    assert_int_equal(r->state, ALERT_FIRING);
    world_close(&w);
    env_close(&e);
}

static void test_digests_cover_every_field(void **state)
{
    struct alert_instance a;
    memset(&a, 0, sizeof(a));
    alert_instance_init(&a, T0);
    uint64_t base = alert_instance_digest(&a);
    struct alert_instance b;
#define MOVES(field, v)                                                   \
    do {                                                                  \
        b = a;                                                            \
        b.field = v;                                                      \
        if (alert_instance_digest(&b) == base)                            \
            fail_msg("alert_instance." #field " does not move the digest"); \
    } while (0)
    MOVES(state, ALERT_FIRING);
    MOVES(severity, ALERT_SEV_WARNING);
    MOVES(nodata, true);
    MOVES(created_at, 1);
    MOVES(active_at, 1);
    MOVES(fired_at, 1);
    MOVES(resolved_at, 1);
    MOVES(last_true_at, 1);
    MOVES(last_data_at, 1);
    MOVES(last_eval_at, 1);
    MOVES(nodata_s, 1);
    MOVES(value, 1);
    MOVES(flap_bits, 1);
    MOVES(flap_count, 1);
    MOVES(flapping, true);
    MOVES(announced_firing, true);
    MOVES(announced_severity, ALERT_SEV_CRITICAL);
#undef MOVES

    struct notification *n = fixture_notification("console", "log", T0);
    struct notify_alert *x = &n->alerts[0];
    uint64_t h0 = notify_alert_digest(0, x);
#define MOVES(stmt)                                                     \
    do {                                                                \
        struct notification *m = fixture_notification("console", "log", \
                                                      T0);              \
        struct notify_alert *y = &m->alerts[0];                         \
        stmt;                                                           \
        if (notify_alert_digest(0, y) == h0)                            \
            fail_msg("notify_alert: " #stmt " does not move the digest"); \
        notification_free(m);                                           \
    } while (0)
    MOVES(free(y->rule); y->rule = xstrdup("s"));
    MOVES(y->fingerprint = xstrdup("f"));
    MOVES(y->labels = xcalloc(1, sizeof(*y->labels)); y->nlabels = 1;
          y->labels[0].key = xstrdup("k"));
    MOVES(free(y->severity); y->severity = xstrdup("warning"));
    MOVES(free(y->status); y->status = NULL);
    MOVES(y->nodata = true);
    MOVES(y->flapping = true);
    MOVES(y->value = 1);
    MOVES(y->summary = xstrdup(""));
    MOVES(y->description = xstrdup("d"));
    MOVES(y->runbook_url = xstrdup("u"));
    MOVES(y->starts_at = 1);
    MOVES(y->ends_at = 1);
#undef MOVES
    notification_free(n);

    /* strings: NULL, "" and where one ends are told apart */
    assert_true(notify_digest_str(0, NULL) != notify_digest_str(0, ""));
    assert_true(notify_digest_str(notify_digest_str(0, "ab"), "c") !=
                notify_digest_str(notify_digest_str(0, "a"), "bc"));

    struct silences *set = silences_new();
    struct kv m = { (char *)"source", (char *)"web" };
    const struct silence *s;
    char err[128];
    assert_int_equal(silence_add(set, &m, 1, T0, T0 + 60, "me", NULL, T0, &s,
                                 err, sizeof(err)), SILENCE_OK);
    uint64_t sd = silence_digest(s);
    struct silence c = *s;
    c.ends_at += 1;
    assert_true(silence_digest(&c) != sd);
    c = *s;
    c.comment = (char *)"";
    assert_true(silence_digest(&c) != sd);
    c = *s;
    c.created_by = NULL;
    assert_true(silence_digest(&c) != sd);
    silences_free(set);

    struct outbox *ob = outbox_new(0, 1);
    outbox_add(ob, fixture_notification("console", "log", T0), T0);
    const struct outbox_entry *oe = outbox_entry_at(ob, 0);
    uint64_t od = outbox_entry_digest(oe);
    struct outbox_entry *due[1];
    assert_int_equal(outbox_due(ob, T0, due, 1), 1);
    assert_true(outbox_entry_digest(oe) != od);       /* attempts, first */
    od = outbox_entry_digest(oe);
    struct outbox_result retry = { OUTBOX_RETRY, 0, "later" };
    outbox_done(ob, oe->id, &retry, T0 + 1);
    assert_true(outbox_entry_digest(oe) != od);       /* next, last_error */
    outbox_free(ob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digests_cover_every_field),
        cmocka_unit_test(test_save_writes_what_changed),
        cmocka_unit_test(test_torn_last_save),
        cmocka_unit_test(test_flipped_byte),
        cmocka_unit_test(test_compaction_roundtrip),
        cmocka_unit_test(test_many_appends),
        cmocka_unit_test(test_restart_chain),
        cmocka_unit_test(test_only_what_matters_is_saved),
        cmocka_unit_test(test_restored_judges_from_restart),
    };
    fixture_register_receivers(NULL, 0);
    log_set_level(LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
