/*
 * bench_state.c - what saving the daemon's state costs (daemon/persist.h):
 * the full rewrite every save did before the journal, against a journal
 * save after changing 1, 100 and all alerts (an alert is an instance and
 * its group), and what a restore costs.
 *
 *   bench_state [ALERTS...]      default: 2000 20000
 *
 * Prints two tables.  The state lives in a temp dir under $TMPDIR (/tmp):
 * fsync costs are those of that file system.  Times are the best of three.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/diag.h"
#include "core/json.h"
#include "core/log.h"
#include "daemon/persist.h"
#include "daemon/state.h"
#include "engine/alert_json.h"
#include "engine/rules.h"
#include "notify/receiver.h"

#define T0 1790000000.0
#define REPS 3

static const char conf_text[] =
    "workspace \"prod\" { token = \"t0ken\" }\n"
    "receiver \"console\" { type = \"log\" }\n"
    "route \"all\" { receiver = \"console\" group_by = {\"source\"} }\n"
    "rule \"r\" { expr = \"attempted > 0\" }\n";

struct world {
    struct config *cfg;
    struct ruleset *rs;
    struct label_pool *pool;
    struct evaluator *ev;
    struct dispatcher *disp;
    struct outbox *ob;
    struct persist *p;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_state: %s\n", what);
    exit(1);
}

static void load_config(struct world *w, const char *dir)
{
    char *path = xasprintf("%s/segalert.conf", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write the configuration");
    fputs(conf_text, f);
    fclose(f);
    struct diag_list dl = DIAG_LIST_INIT;
    w->cfg = config_load(path, &dl);
    if (!w->cfg)
        die("configuration");
    w->rs = ruleset_compile(w->cfg, &dl);
    if (dl.nerrors) {
        diag_print(&dl, stderr);
        die("rules");
    }
    diag_list_free(&dl);
    unlink(path);
    free(path);
}

static void models_new(struct world *w, const char *dir)
{
    w->pool = label_pool_new();
    w->ev = evaluator_new(w->rs, w->cfg, w->pool);
    w->disp = dispatch_new(w->cfg);
    w->ob = outbox_new(0, 42);
    w->p = persist_new(dir);
    /* compaction is measured on its own row */
    persist_set_compact_bound(w->p, UINT64_MAX, 1e9);
}

static void models_free(struct world *w)
{
    persist_free(w->p);
    outbox_free(w->ob);
    dispatch_free(w->disp);
    evaluator_free(w->ev);
    label_pool_free(w->pool);
}

static const struct labelset *series(struct world *w, size_t i)
{
    char src[32];
    snprintf(src, sizeof(src), "s%06zu", i);
    struct labels_builder b;
    labels_builder_init(&b, w->pool);
    labels_builder_add(&b, "source", src);
    labels_builder_add(&b, "workspace", "prod");
    const struct labelset *ls = labels_builder_finish(&b);
    labels_builder_free(&b);
    return ls;
}

/* Alert i fires with value v at now: its instance and its group. */
static void alert(struct world *w, size_t i, double v, double now)
{
    const struct labelset *ls = series(w, i);
    struct eval_instance *in = evaluator_find(w->ev, "r", ls);
    if (!in) {
        struct alert_instance st;
        alert_instance_init(&st, now);
        in = evaluator_restore(w->ev, "r", ls, &st);
    }
    struct alert_instance *st = &in->st;
    st->state = ALERT_FIRING;
    st->severity = ALERT_SEV_CRITICAL;
    st->active_at = st->fired_at = T0;
    st->last_true_at = st->last_data_at = st->last_eval_at = now;
    st->value = v;
    st->flap_bits = 1;
    st->flap_count = 1;
    st->announced_firing = true;
    st->announced_severity = ALERT_SEV_CRITICAL;

    char src[32];
    snprintf(src, sizeof(src), "s%06zu", i);
    struct notify_alert a;
    memset(&a, 0, sizeof(a));
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
    a.status = xstrdup("firing");
    a.value = v;
    a.summary = xasprintf("%s discards %.1f%% of its events", src, v * 100);
    a.starts_at = T0;
    dispatch_alert(w->disp, &a, now);
    notify_alert_free_fields(&a);
}

/* What every save did before the journal: the whole document, printed,
 * written atomically.  Returns the bytes written. */
static size_t old_full_save(struct world *w, const char *dir, double now)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "version", STATE_VERSION);
    cJSON_AddItemToObject(root, "saved_at", json_double(now));
    cJSON *insts = cJSON_AddArrayToObject(root, "instances");
    struct eval_instance *const *all;
    size_t ni = evaluator_instances(w->ev, &all);
    for (size_t i = 0; i < ni; i++) {
        const struct eval_instance *in = all[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "rule", in->rule->cfg->name);
        cJSON *s = cJSON_AddObjectToObject(o, "series");
        for (size_t k = 0; k < labelset_count(in->series_labels); k++)
            cJSON_AddStringToObject(s, labelset_key(in->series_labels, k),
                                    labelset_value(in->series_labels, k));
        cJSON_AddItemToObject(o, "state", alert_instance_to_json(&in->st));
        cJSON_AddItemToArray(insts, o);
    }
    cJSON_AddItemToObject(root, "dispatch", dispatch_to_json(w->disp));
    cJSON_AddItemToObject(root, "outbox", outbox_to_json(w->ob));
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    size_t len = strlen(text);
    char err[256];
    if (state_save(dir, text, len, err, sizeof(err)) != 0)
        die(err);
    free(text);
    return len;
}

static void human_bytes(double b, char *buf, size_t len)
{
    if (b >= 1 << 20)
        snprintf(buf, len, "%.1f MiB", b / (1 << 20));
    else if (b >= 1 << 10)
        snprintf(buf, len, "%.1f KiB", b / (1 << 10));
    else
        snprintf(buf, len, "%.0f B", b);
}

static void human_time(double s, char *buf, size_t len)
{
    if (s >= 1)
        snprintf(buf, len, "%.2f s", s);
    else if (s >= 1e-3)
        snprintf(buf, len, "%.1f ms", s * 1e3);
    else
        snprintf(buf, len, "%.0f µs", s * 1e6);
}

struct restore_row {
    size_t alerts;
    double compact_s, restore_snap_s, restore_journal_s;
    size_t snapshot_bytes;
    uint64_t journal_bytes;
    size_t journal_records;
};

static double restore_time(struct world *w, const char *dir,
                           size_t *records)
{
    double best = INFINITY;
    for (int r = 0; r < REPS; r++) {
        struct world x = *w;
        models_new(&x, dir);
        struct persist_parts parts = { x.ev, x.pool, x.disp, x.ob, 0 };
        struct persist_restore_stats st;
        char err[512];
        double t = now_s();
        if (persist_restore(x.p, &parts, 0, 42, &st, err, sizeof(err)) != 0)
            die(err);
        t = now_s() - t;
        x.ob = parts.ob;
        best = fmin(best, t);
        *records = st.journal_records;
        models_free(&x);
    }
    return best;
}

static void bench(size_t n, struct restore_row *rr)
{
    char tmpl[] = "/tmp/bench_state.XXXXXX";
    if (!mkdtemp(tmpl))
        die("mkdtemp");
    char *olddir = xasprintf("%s/old", tmpl);
    mkdir(olddir, 0700);
    struct world w;
    memset(&w, 0, sizeof(w));
    load_config(&w, tmpl);
    models_new(&w, tmpl);
    double now = T0;
    for (size_t i = 0; i < n; i++)
        alert(&w, i, 0.5, now);
    struct persist_parts parts = { w.ev, w.pool, w.disp, w.ob, 0 };
    struct persist_save_stats st;
    char err[512];

    /* compaction: a full snapshot and a fresh journal */
    rr->alerts = n;
    rr->compact_s = INFINITY;
    for (int r = 0; r < REPS; r++) {
        double t = now_s();
        if (persist_save(w.p, &parts, now, PERSIST_COMPACT, &st, err,
                         sizeof(err)) != 0)
            die(err);
        rr->compact_s = fmin(rr->compact_s, now_s() - t);
        rr->snapshot_bytes = st.bytes;
    }
    rr->restore_snap_s = restore_time(&w, tmpl, &rr->journal_records);

    const size_t changes[] = { 1, 100, n };
    double v = 0.5;
    for (size_t c = 0; c < ARRAY_SIZE(changes); c++) {
        size_t k = changes[c];
        double old_s = INFINITY, new_s = INFINITY;
        size_t old_bytes = 0, new_bytes = 0, records = 0;
        /* the journal first, then the old way (freeing the old way's big
         * trees costs the allocator later: kept out of the journal's
         * figures) */
        for (int r = 0; r < REPS; r++) {
            now += 15;
            v += 0.001;
            for (size_t i = 0; i < k; i++)
                alert(&w, (i * 7919 + (size_t)r) % n, v, now);
            double t = now_s();
            if (persist_save(w.p, &parts, now, PERSIST_CHANGES, &st, err,
                             sizeof(err)) != 0)
                die(err);
            new_s = fmin(new_s, now_s() - t);
            new_bytes = st.bytes;
            records = st.changes;
        }
        for (int r = 0; r < REPS; r++) {
            now += 15;
            v += 0.001;
            for (size_t i = 0; i < k; i++)
                alert(&w, (i * 7919 + (size_t)r) % n, v, now);
            double t = now_s();
            old_bytes = old_full_save(&w, olddir, now);
            old_s = fmin(old_s, now_s() - t);
        }
        /* what the old way changed, into the journal (not measured) */
        persist_save(w.p, &parts, now, PERSIST_CHANGES, &st, err,
                     sizeof(err));
        char ot[32], ob[32], nt[32], nb[32];
        human_time(old_s, ot, sizeof(ot));
        human_bytes((double)old_bytes, ob, sizeof(ob));
        human_time(new_s, nt, sizeof(nt));
        human_bytes((double)new_bytes, nb, sizeof(nb));
        printf("| %zu | %zu%s | %zu | %s | %s | %s | %s |\n", n, k,
               k == n ? " (all)" : "", records, ot, ob, nt, nb);
        fflush(stdout);
    }
    /* a save with nothing changed */
    double t = now_s();
    persist_save(w.p, &parts, now, PERSIST_CHANGES, &st, err, sizeof(err));
    t = now_s() - t;
    char nt[32];
    human_time(t, nt, sizeof(nt));
    printf("| %zu | 0 | 0 | (not saved) | | %s | 0 B |\n", n, nt);

    rr->journal_bytes = persist_journal_bytes(w.p);
    rr->restore_journal_s = restore_time(&w, tmpl, &rr->journal_records);
    models_free(&w);
    ruleset_free(w.rs);
    config_free(w.cfg);
    /* leave nothing behind */
    char *cmd[] = { "state.json", "state.journal", "segalert.lock", NULL };
    for (char **f = cmd; *f; f++) {
        char *p = xasprintf("%s/%s", tmpl, *f);
        unlink(p);
        free(p);
        p = xasprintf("%s/%s", olddir, *f);
        unlink(p);
        free(p);
    }
    rmdir(olddir);
    rmdir(tmpl);
    free(olddir);
}

int main(int argc, char **argv)
{
    log_set_level(LOG_ERR);
    char err[256];
    if (receivers_register(NULL, 0, err, sizeof(err)) != 0)
        die(err);
    size_t sizes[8] = { 2000, 20000 };
    size_t nsizes = 2;
    if (argc > 1) {
        nsizes = 0;
        for (int i = 1; i < argc && nsizes < ARRAY_SIZE(sizes); i++) {
            long v;
            if (parse_long(argv[i], &v) != 0 || v < 100)
                die("usage: bench_state [ALERTS (>= 100)...]");
            sizes[nsizes++] = (size_t)v;
        }
    }
    struct restore_row rows[8];
    printf("| alerts | changed | records written | full rewrite (before) "
           "| bytes | journal save | bytes |\n");
    printf("|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < nsizes; i++)
        bench(sizes[i], &rows[i]);
    printf("\n| alerts | compaction (snapshot + new journal) | snapshot "
           "| restore: snapshot only | restore: snapshot + journal "
           "(saves, bytes) |\n");
    printf("|---|---|---|---|---|\n");
    for (size_t i = 0; i < nsizes; i++) {
        char c[32], sb[32], rs[32], rj[32], jb[32];
        human_time(rows[i].compact_s, c, sizeof(c));
        human_bytes((double)rows[i].snapshot_bytes, sb, sizeof(sb));
        human_time(rows[i].restore_snap_s, rs, sizeof(rs));
        human_time(rows[i].restore_journal_s, rj, sizeof(rj));
        human_bytes((double)rows[i].journal_bytes, jb, sizeof(jb));
        printf("| %zu | %s | %s | %s | %s (%zu, %s) |\n", rows[i].alerts, c,
               sb, rs, rj, rows[i].journal_records, jb);
    }
    return 0;
}
