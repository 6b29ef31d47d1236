/*
 * bench_packs.c - evaluation of the shipped rule packs (rules/ (every .conf)) at
 * scale, through the real evaluator (expressions + alert state machine),
 * with the store kept as the daemon keeps it (history per metric from the
 * rules, a sparkline window for value metrics, volume rolled up into
 * hours) and holding all the history the packs read: N connections
 * (default 10,000) with 6 h 15 min of 5-minute delivery samples, N / 10
 * sources with 7 days of hourly volume and 2 h of minutes, usage for the
 * month so far (per source and the workspace total).  A warm loop: the
 * running daemon's figures are tests/bench/daemon_eval.sh's.
 *
 * Prints: ns per (rule, series) evaluation, ms per full pass, store size,
 * RSS.
 *
 * With "state", the same world with every connection healthy (no alert
 * firing: the instances exist, inactive, with an evaluation history) is
 * saved as the daemon saves it (daemon/persist.h, a compaction) and the
 * row printed is state.json's size and its records, beside what saving
 * every (rule, series) instance would write.
 *
 * Usage: bench_packs RULES_DIR [CONNECTIONS] [state]
 */
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "core/util.h"
#include "daemon/daemon_int.h"
#include "daemon/persist.h"
#include "engine/alert_json.h"
#include "engine/eval.h"
#include "engine/labels.h"
#include "core/log.h"
#include "engine/rules.h"
#include "engine/store.h"
#include "notify/dispatch.h"
#include "notify/outbox.h"
#include "notify/receiver.h"

#define PASSES 20
#define POLL_S 300.0

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_packs: %s\n", what);
    exit(1);
}

static size_t json_array_len(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b)
        x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsArray(x) ? (size_t)cJSON_GetArraySize(x) : 0;
}

/* The state a compaction writes for this world, and what it would be if
 * every (rule, series) instance were saved (as before quiet instances
 * were left out). */
static void state_row(struct config *cfg, struct evaluator *ev,
                      struct label_pool *pool, double now, int nconn)
{
    char err[512];
    if (receivers_register(NULL, 0, err, sizeof(err)) != 0)
        die(err);
    char tmpl[] = "/tmp/bench_packs.XXXXXX";
    if (!mkdtemp(tmpl))
        die("mkdtemp");
    struct dispatcher *disp = dispatch_new(cfg);
    struct outbox *ob = outbox_new(0, 42);
    struct persist *p = persist_new(tmpl);
    struct persist_parts parts = { ev, pool, disp, ob, 0 };
    struct persist_save_stats pst;
    if (persist_save(p, &parts, now, PERSIST_COMPACT, &pst, err,
                     sizeof(err)) != 0)
        die(err);
    char *path = xasprintf("%s/state.json", tmpl);
    size_t len = 0;
    char *text = read_file(path, (size_t)1 << 30, &len);
    if (!text)
        die("cannot read state.json");
    cJSON *doc = cJSON_ParseWithLength(text, len);
    if (!doc)
        die("state.json does not parse");
    size_t ninst = json_array_len(doc, "instances", NULL);
    size_t ngroups = json_array_len(doc, "dispatch", "groups");
    size_t nqueued = json_array_len(doc, "outbox", "entries");
    cJSON_Delete(doc);
    free(text);

    /* every instance, as the state held them before */
    struct eval_instance *const *all;
    size_t ni = evaluator_instances(ev, &all);
    size_t every = 0;
    for (size_t i = 0; i < ni; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "rule", all[i]->rule->cfg->name);
        cJSON_AddItemToObject(o, "state", alert_instance_to_json(&all[i]->st));
        struct strbuf k = STRBUF_INIT;
        labelset_format(all[i]->series_labels, &k);
        char *t = cJSON_PrintUnformatted(o);
        /* the key and the series object each carry the labels once */
        every += strlen(t) + 2 * k.len + 16;
        free(t);
        strbuf_free(&k);
        cJSON_Delete(o);
    }
    struct eval_stats es;
    evaluator_stats(ev, &es);
    printf("| connections | alert instances / firing | state.json after a "
           "compaction | records (instances, groups, queued) "
           "| every instance saved (before, estimate) |\n");
    printf("|---|---|---|---|---|\n");
    printf("| %d | %zu / %zu | %zu B | %zu, %zu, %zu | %.1f MiB |\n", nconn,
           es.instances, es.firing, len, ninst, ngroups, nqueued,
           (double)every / 1048576.0);

    persist_free(p);
    outbox_free(ob);
    dispatch_free(disp);
    char *files[] = { "state.json", "state.journal", "segalert.lock", NULL };
    for (char **f = files; *f; f++) {
        char *fp = xasprintf("%s/%s", tmpl, *f);
        unlink(fp);
        free(fp);
    }
    rmdir(tmpl);
    free(path);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "rules";
    int NCONN = argc > 2 ? atoi(argv[2]) : 10000;
    if (NCONN < 10)
        NCONN = 10;
    bool state_mode = argc > 3 && strcmp(argv[3], "state") == 0;
    int NSRC = NCONN / 10;
    log_set_level(LOG_ERR);
    long rss0 = rss_kib();
    struct config *cfg = config_new_defaults();
    struct diag_list diags = DIAG_LIST_INIT;
    char pat[4096];
    snprintf(pat, sizeof(pat), "%s/*.conf", dir);
    glob_t g;
    if (glob(pat, 0, NULL, &g) != 0) {
        fprintf(stderr, "bench_packs: no rule files in %s\n", dir);
        return 1;
    }
    for (size_t i = 0; i < g.gl_pathc; i++)
        config_load_rule_file(cfg, g.gl_pathv[i], &diags);
    globfree(&g);
    struct ruleset *rs = ruleset_compile(cfg, &diags);
    if (diags.nerrors) {
        diag_print(&diags, stderr);
        return 1;
    }
    diag_list_free(&diags);

    double now = 1795687200;   /* 2026-11-26T10:00:00Z */
    /* as daemon_store_limits() (src/daemon/reload.c) at a 5-minute poll */
    struct store_limits lim = { 0 };
    double slack[FAM__COUNT] = { [FAM_CONNECTION] = 2 * POLL_S,
                                 [FAM_SOURCE] = 7200,
                                 [FAM_USAGE] = 2 * 86400.0 };
    lim.retention_s[FAM_CONNECTION] =
        fmax(rs->lookback_s[FAM_CONNECTION], 3600) + slack[FAM_CONNECTION];
    lim.retention_s[FAM_SOURCE] =
        fmax(rs->lookback_s[FAM_SOURCE], 3600) + slack[FAM_SOURCE];
    lim.retention_s[FAM_USAGE] = fmax(rs->lookback_s[FAM_USAGE], 35 * 86400.0);
    lim.spacing_s[FAM_CONNECTION] = POLL_S;
    lim.spacing_s[FAM_SOURCE] = 3600;
    lim.spacing_s[FAM_USAGE] = 86400;
    ruleset_store_history(rs, slack, DAEMON_SPARK_WINDOW_S, &lim);
    lim.rollup_after_s[FAM_SOURCE] = 7200;
    lim.rollup_step_s[FAM_SOURCE] = 3600;
    int conn_rows = (int)ceil(lim.retention_s[FAM_CONNECTION] / POLL_S);
    struct store *st = store_new(&lim);
    struct label_pool *pool = label_pool_new();
    struct labels_builder b;
    labels_builder_init(&b, pool);
    char name[64], id[64];

    for (int i = 0; i < NCONN; i++) {
        labels_builder_add(&b, "workspace", "prod");
        snprintf(name, sizeof(name), "src-%04d", i % NSRC);
        labels_builder_add(&b, "source", name);
        snprintf(id, sizeof(id), "srcid%017d", i % NSRC);
        labels_builder_add(&b, "source_id", id);
        snprintf(name, sizeof(name), "Destination %05d", i);
        labels_builder_add(&b, "destination", name);
        snprintf(id, sizeof(id), "dstid%017d", i);
        labels_builder_add(&b, "destination_id", id);
        labels_builder_add(&b, "destination_type", i % 2 ? "amplitude" : "webhooks");
        struct series *s = store_get_or_add(st, FAM_CONNECTION,
                                            labels_builder_finish(&b));
        for (int k = conn_rows - 1; k >= 0; k--) {
            double v[M__COUNT] = { 0 };
            bool has[M__COUNT] = { 0 };
            v[M_SUCCESSES] = 10000 + i % 97;
            v[M_SUCCESSES_AFTER_RETRY] = 50 + i % 13;
            v[M_DISCARDED] = i % 50 == 0 && !state_mode ? 400 : 3;
            v[M_EXPIRED] = 1;
            v[M_TIME_TO_SUCCESS_P95] = 2 + i % 5;
            v[M_TIME_TO_SUCCESS_AVG] = 0.5;
            v[M_SOURCE_VOLUME] = 10000;
            has[M_SUCCESSES] = has[M_SUCCESSES_AFTER_RETRY] = has[M_DISCARDED] =
                has[M_EXPIRED] = has[M_TIME_TO_SUCCESS_P95] =
                    has[M_TIME_TO_SUCCESS_AVG] = has[M_SOURCE_VOLUME] = true;
            metrics_derive(v, has);
            store_add(st, s, now - k * 300, v, has);
        }
    }
    for (int i = 0; i < NSRC; i++) {
        labels_builder_add(&b, "workspace", "prod");
        snprintf(name, sizeof(name), "src-%04d", i);
        labels_builder_add(&b, "source", name);
        snprintf(id, sizeof(id), "srcid%017d", i);
        labels_builder_add(&b, "source_id", id);
        const struct labelset *ls = labels_builder_finish(&b);
        struct series *s = store_get_or_add(st, FAM_SOURCE, ls);
        /* the back-fill: hours up to 2 h ago, then minutes */
        for (int k = 7 * 24 + 2; k >= 3; k--) {
            double v[M__COUNT] = { 0 };
            bool has[M__COUNT] = { 0 };
            v[M_EVENT_VOLUME] = 5000 + 1000 * sin(k / 24.0 * 6.283);
            has[M_EVENT_VOLUME] = true;
            store_add(st, s, now - k * 3600, v, has);
        }
        for (int k = 120; k >= 1; k--) {
            double v[M__COUNT] = { 0 };
            bool has[M__COUNT] = { 0 };
            v[M_EVENT_VOLUME] = 80 + k % 7;
            has[M_EVENT_VOLUME] = true;
            store_add(st, s, now - k * 60, v, has);
        }
        struct series *u = store_get_or_add(st, FAM_USAGE, ls);
        for (int d = 0; d < 26; d++) {
            double v[M__COUNT] = { 0 };
            bool has[M__COUNT] = { 0 };
            v[M_MTU] = 1000.0 * d;
            v[M_API_CALLS] = 100000.0 * d;
            has[M_MTU] = has[M_API_CALLS] = true;
            store_add(st, u, month_start_utc(now) + d * 86400, v, has);
        }
    }
    labels_builder_add(&b, "workspace", "prod");
    struct series *wu = store_get_or_add(st, FAM_USAGE, labels_builder_finish(&b));
    for (int d = 0; d < 26; d++) {
        double v[M__COUNT] = { 0 };
        bool has[M__COUNT] = { 0 };
        v[M_MTU] = 1e6 * d;
        v[M_API_CALLS] = 1e8 * d;
        has[M_MTU] = has[M_API_CALLS] = true;
        store_add(st, wu, month_start_utc(now) + d * 86400, v, has);
    }
    labels_builder_free(&b);
    long rss_loaded = rss_kib();

    struct evaluator *ev = evaluator_new(rs, cfg, pool);
    struct eval_hooks hooks = { 0 };
    hooks.stale_after_s[FAM_CONNECTION] = 900;
    hooks.stale_after_s[FAM_SOURCE] = 3 * 3600;
    hooks.stale_after_s[FAM_USAGE] = 3 * 86400;
    const struct eval_event *evs;
    /* First pass creates the instances; time the steady state. */
    evaluator_run(ev, st, now, &hooks, &evs);
    double best = INFINITY, total = 0;
    size_t nevals = 0, nevents = 0;
    for (int p = 1; p <= PASSES; p++) {
        double t0 = mono();
        nevents += evaluator_run(ev, st, now + p * 15, &hooks, &evs);
        double dt = mono() - t0;
        total += dt;
        if (dt < best)
            best = dt;
        struct eval_stats es;
        evaluator_stats(ev, &es);
        nevals = es.evaluations;
    }
    struct eval_stats es;
    evaluator_stats(ev, &es);
    size_t nseries, nsamples, bytes;
    store_stats(st, &nseries, &nsamples, &bytes);
    long rss_end = rss_kib();
    if (state_mode) {
        state_row(cfg, ev, pool, now + PASSES * 15, NCONN);
        goto out;
    }

    printf("| rule packs | %zu rules, %zu series, %zu samples |\n", rs->n,
           nseries, nsamples);
    printf("| (rule, series) evaluations per pass | %zu |\n", nevals);
    printf("| ns per (rule, series), mean | %.1f |\n", total / PASSES / (double)nevals * 1e9);
    printf("| ns per (rule, series), best pass | %.1f |\n", best / (double)nevals * 1e9);
    printf("| full pass, mean ms | %.2f |\n", total / PASSES * 1e3);
    printf("| alert instances / firing | %zu / %zu |\n", es.instances, es.firing);
    printf("| store bytes | %.1f MiB |\n", (double)bytes / 1048576.0);
    printf("| RSS: start / data loaded / after passes | %.1f / %.1f / %.1f MiB |\n",
           rss0 / 1024.0, rss_loaded / 1024.0, rss_end / 1024.0);
    (void)nevents;
out:
    evaluator_free(ev);
    store_free(st);
    label_pool_free(pool);
    ruleset_free(rs);
    config_free(cfg);
    return 0;
}
