/*
 * bench_eval.c - rule evaluation cost (docs/design.md "Performance
 * targets": <= 200 ns per (rule, series), one pass <= 50 ms at 10,000
 * connections, <= 64 MiB RSS).
 *
 * Builds a store with 10,000 connection series holding 2h of 5-minute
 * samples and 1,000 source series holding 7d+2h of hourly volume, compiles
 * representative rules and times repeated evaluation passes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/expr.h"
#include "engine/labels.h"
#include "engine/store.h"
#include "core/util.h"

#define NCONN 10000
#define NSRC 1000
#define PASSES 50

static double now_s(void)
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

int main(void)
{
    static const char *const rules[] = {
        "discard_ratio > 2% and attempted >= 100",
        "time_to_success_p95 > 5m",
        "retry_ratio > 10% and successes >= 100",
        "sum(event_volume,1h) < 0.5 * sum(event_volume,1h,7d)",
    };
    enum { NRULES = sizeof(rules) / sizeof(rules[0]) };
    long rss0 = rss_kib();
    struct label_pool *pool = label_pool_new();
    struct expr *ex[NRULES];
    struct store_limits lim;
    memset(&lim, 0, sizeof(lim));
    lim.spacing_s[FAM_CONNECTION] = 300;
    lim.spacing_s[FAM_SOURCE] = 3600;
    lim.spacing_s[FAM_USAGE] = 86400;
    for (int r = 0; r < NRULES; r++) {
        struct expr_error err;
        ex[r] = expr_compile(rules[r], &expr_env_std, &err);
        if (!ex[r]) {
            fprintf(stderr, "bench_eval: %s: %s\n", rules[r], err.msg);
            return 1;
        }
        int fam = expr_family(ex[r]);
        /* retention = lookback + one poll interval of slack */
        double need = expr_max_lookback(ex[r]) + lim.spacing_s[fam];
        if (need > lim.retention_s[fam])
            lim.retention_s[fam] = need;
    }
    if (lim.retention_s[FAM_CONNECTION] < 7200)
        lim.retention_s[FAM_CONNECTION] = 7200;     /* 2h of samples */
    struct store *st = store_new(&lim);

    double t_end = 1780000000.0;
    struct rng rng;
    rng_seed(&rng, 42);
    struct labels_builder b;
    labels_builder_init(&b, pool);
    char name[64];
    double t0 = now_s();
    for (int i = 0; i < NCONN; i++) {
        snprintf(name, sizeof(name), "src-%d", i % NSRC);
        labels_builder_add(&b, "workspace", "prod");
        labels_builder_add(&b, "source", name);
        snprintf(name, sizeof(name), "src_id_%d", i % NSRC);
        labels_builder_add(&b, "source_id", name);
        snprintf(name, sizeof(name), "Destination %d", i);
        labels_builder_add(&b, "destination", name);
        snprintf(name, sizeof(name), "dst_id_%d", i);
        labels_builder_add(&b, "destination_id", name);
        labels_builder_add(&b, "destination_type", i % 3 ? "amplitude"
                                                         : "webhooks");
        struct series *s = store_get_or_add(st, FAM_CONNECTION,
                                            labels_builder_finish(&b));
        for (double t = t_end - 7200; t <= t_end; t += 300) {
            double v[M__COUNT] = { 0 };
            bool has[M__COUNT] = { false };
            v[M_SUCCESSES] = 500 + 1000 * rng_uniform(&rng);
            v[M_SUCCESSES_FIRST_ATTEMPT] = v[M_SUCCESSES] * 0.9;
            v[M_SUCCESSES_AFTER_RETRY] = v[M_SUCCESSES] * 0.1;
            v[M_DISCARDED] = 30 * rng_uniform(&rng);
            v[M_EXPIRED] = rng_uniform(&rng) < 0.1 ? 1 : 0;
            v[M_RETRIED] = 10;
            v[M_TIME_TO_SUCCESS_AVG] = 1;
            v[M_TIME_TO_SUCCESS_P95] = 600 * rng_uniform(&rng);
            v[M_TIME_TO_FIRST_ATTEMPT_AVG] = 0.5;
            v[M_TIME_TO_FIRST_ATTEMPT_P95] = 2;
            for (int m = M_SUCCESSES; m <= M_TIME_TO_FIRST_ATTEMPT_P95; m++)
                has[m] = true;
            metrics_derive(v, has);
            store_add(st, s, t, v, has);
        }
    }
    for (int i = 0; i < NSRC; i++) {
        snprintf(name, sizeof(name), "src-%d", i);
        labels_builder_add(&b, "workspace", "prod");
        labels_builder_add(&b, "source", name);
        snprintf(name, sizeof(name), "src_id_%d", i);
        labels_builder_add(&b, "source_id", name);
        struct series *s = store_get_or_add(st, FAM_SOURCE,
                                            labels_builder_finish(&b));
        for (double t = t_end - 7 * 86400 - 7200; t <= t_end; t += 3600) {
            double v[M__COUNT] = { 0 };
            bool has[M__COUNT] = { false };
            v[M_EVENT_VOLUME] = 1e4 * (1 + rng_uniform(&rng));
            has[M_EVENT_VOLUME] = true;
            store_add(st, s, t, v, has);
        }
    }
    labels_builder_free(&b);
    double t_fill = now_s() - t0;
    long rss1 = rss_kib();

    double per[NRULES] = { 0 };
    size_t nser[NRULES], fired[NRULES] = { 0 };
    double vals[EXPR_VAR__COUNT] = { 0, 0, 0, 0 };
    struct expr_vars vars = { vals, EXPR_VAR__COUNT };
    double pass_total = 0;
    for (int pass = 0; pass < PASSES; pass++) {
        double p0 = now_s();
        for (int r = 0; r < NRULES; r++) {
            enum family fam = (enum family)expr_family(ex[r]);
            size_t n = store_count(st, fam);
            nser[r] = n;
            double r0 = now_s();
            for (size_t i = 0; i < n; i++) {
                struct expr_result res = expr_eval(ex[r], store_at(st, fam, i),
                                                   t_end + 60, &vars);
                fired[r] += res.cond;
            }
            per[r] += now_s() - r0;
        }
        pass_total += now_s() - p0;
    }

    size_t ns, nsamp, bytes;
    store_stats(st, &ns, &nsamp, &bytes);
    printf("bench_eval: %d connection + %d source series, %d passes\n",
           NCONN, NSRC, PASSES);
    printf("%-56s %8s %10s %8s\n", "rule", "series", "ns/eval", "fired");
    double total_ns = 0, total_evals = 0;
    for (int r = 0; r < NRULES; r++) {
        double ns_eval = per[r] * 1e9 / ((double)nser[r] * PASSES);
        total_ns += per[r] * 1e9;
        total_evals += (double)nser[r] * PASSES;
        printf("%-56s %8zu %10.1f %7.1f%%\n", rules[r], nser[r], ns_eval,
               100.0 * (double)fired[r] / ((double)nser[r] * PASSES));
    }
    printf("%-56s %8s %10.1f\n", "all rules (mean per (rule, series))", "",
           total_ns / total_evals);
    printf("ms per pass (all rules, all series): %.2f\n",
           pass_total * 1e3 / PASSES);
    printf("store: %zu series, %zu rows, %.1f MiB; fill %.2f s\n", ns, nsamp,
           (double)bytes / (1024.0 * 1024.0), t_fill);
    printf("RSS: %.1f MiB (%.1f MiB before the store)\n", rss1 / 1024.0,
           rss0 / 1024.0);

    for (int r = 0; r < NRULES; r++)
        expr_free(ex[r]);
    store_free(st);
    label_pool_free(pool);
    return 0;
}
