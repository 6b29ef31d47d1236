/*
 * bench_export.c - what exporting costs at 10,000 connections (README.md
 * "Export to your observability tool"): one regular delivery sweep of
 * 10,000 connections (1,000 sources x 10 destinations, the labels the
 * poller makes) through the ledger into points, then those points encoded
 * by each intake type in batches of its documented size, with and without
 * gzip (the exporters' zlib level), on the main thread's CPU clock.
 *
 * Prints markdown table rows (tests/bench/run.sh prints the header):
 *   | what | points | batches | CPU per batch | CPU per batch with gzip |
 *     bytes per point | bytes per point gzipped |
 * once for the ledger, then once per intake type.
 * Each figure is the best of REPEAT runs (the machine may be busy).
 * Usage: bench_export
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "core/kv.h"
#include "core/log.h"
#include "core/util.h"
#include "engine/labels.h"
#include "export/gzip.h"
#include "export/intake.h"
#include "export/ledger.h"
#include "export/names.h"

#define NCONN 10000
#define NSRC 1000
#define REPEAT 5
#define T0 1795687200.0     /* 2026-11-26T10:00:00Z */

static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const struct labelset *conn_labels(struct labels_builder *b, int i)
{
    char name[64], id[64];
    labels_builder_add(b, "workspace", "prod");
    snprintf(name, sizeof(name), "src-%04d", i % NSRC);
    labels_builder_add(b, "source", name);
    snprintf(id, sizeof(id), "srcid%017d", i % NSRC);
    labels_builder_add(b, "source_id", id);
    snprintf(name, sizeof(name), "Destination %05d", i);
    labels_builder_add(b, "destination", name);
    snprintf(id, sizeof(id), "dstid%017d", i);
    labels_builder_add(b, "destination_id", id);
    labels_builder_add(b, "destination_type", i % 2 ? "amplitude"
                                                    : "webhooks");
    return labels_builder_finish(b);
}

/* One sample of connection i at time t (a 5-minute window). */
static void conn_values(int i, double v[M__COUNT], bool has[M__COUNT])
{
    memset(v, 0, M__COUNT * sizeof(*v));
    memset(has, 0, M__COUNT * sizeof(*has));
    v[M_SUCCESSES] = 10000 + i % 97;
    v[M_SUCCESSES_FIRST_ATTEMPT] = 9950;
    v[M_SUCCESSES_AFTER_RETRY] = 50 + i % 13;
    v[M_DISCARDED] = i % 50 == 0 ? 400 : 3;
    v[M_EXPIRED] = 1;
    v[M_RETRIED] = 60;
    v[M_ATTEMPTED] = v[M_SUCCESSES] + v[M_DISCARDED] + v[M_EXPIRED];
    v[M_TIME_TO_SUCCESS_P95] = 2 + i % 5 * 0.137;
    v[M_TIME_TO_SUCCESS_AVG] = 0.512;
    v[M_TIME_TO_FIRST_ATTEMPT_P95] = 0.75;
    v[M_TIME_TO_FIRST_ATTEMPT_AVG] = 0.281;
    static const int m[] = {
        M_SUCCESSES, M_SUCCESSES_FIRST_ATTEMPT, M_SUCCESSES_AFTER_RETRY,
        M_DISCARDED, M_EXPIRED, M_RETRIED, M_ATTEMPTED,
        M_TIME_TO_SUCCESS_P95, M_TIME_TO_SUCCESS_AVG,
        M_TIME_TO_FIRST_ATTEMPT_P95, M_TIME_TO_FIRST_ATTEMPT_AVG
    };
    for (size_t k = 0; k < ARRAY_SIZE(m); k++)
        has[m[k]] = true;
}

struct result {
    size_t batches;
    double encode_s, gzip_s;        /* per sweep */
    size_t raw_bytes, gz_bytes;
};

/* Encode all n points as the exporter would: batches of the intake's
 * size, each within its byte limit; gzip each body. */
static void run_intake(const struct export_intake *in,
                       const struct export_cfg *xc, const struct config *cfg,
                       const struct export_point *pts, size_t n,
                       struct result *best)
{
    struct export_limits lim = { 0 };
    in->limits(xc, &lim);
    struct strbuf raw = STRBUF_INIT, gz = STRBUF_INIT;
    for (int r = 0; r < REPEAT; r++) {
        struct result res = { 0 };
        size_t i = 0;
        while (i < n) {
            size_t want = n - i < lim.batch_points ? n - i : lim.batch_points;
            struct export_encode_ctx ctx = { xc, cfg, T0, NULL, NULL };
            strbuf_reset(&raw);
            double c0 = cpu();
            size_t k = in->encode(&ctx, pts + i, want,
                                  lim.max_body ? lim.max_body : SIZE_MAX,
                                  &raw);
            double c1 = cpu();
            export_gzip(raw.buf, raw.len, &gz);
            double c2 = cpu();
            res.encode_s += c1 - c0;
            res.gzip_s += c2 - c1;
            res.raw_bytes += raw.len;
            res.gz_bytes += gz.len;
            res.batches++;
            i += k;
        }
        if (r == 0 || res.encode_s + res.gzip_s <
                          best->encode_s + best->gzip_s)
            *best = res;
    }
    strbuf_free(&raw);
    strbuf_free(&gz);
}

int main(void)
{
    log_set_level(LOG_ERR);
    struct label_pool *pool = label_pool_new();
    struct labels_builder b;
    labels_builder_init(&b, pool);
    const struct labelset **ls = xcalloc(NCONN, sizeof(*ls));
    for (int i = 0; i < NCONN; i++)
        ls[i] = conn_labels(&b, i);
    labels_builder_free(&b);

    /* the ledger: a first window, then the sweep measured (best of
     * REPEAT consecutive sweeps, each continuing the previous windows) */
    struct ledger *l = ledger_new(T0);
    size_t cap = (size_t)NCONN * LEDGER_MAX_POINTS;
    struct export_point *pts = xcalloc(cap, sizeof(*pts));
    size_t npts = 0;
    double best_ledger = INFINITY;
    double v[M__COUNT];
    bool has[M__COUNT];
    for (int sweep = 0; sweep <= REPEAT; sweep++) {
        npts = 0;
        double c0 = cpu();
        for (int i = 0; i < NCONN; i++) {
            conn_values(i, v, has);
            struct export_sample s = { 0 };
            s.fam = FAM_CONNECTION;
            s.labels = ls[i];
            s.t = T0 + 300.0 * sweep;
            s.v = v;
            s.has = has;
            s.generation = 1;
            s.window_s = 300;
            struct ledger_out o;
            ledger_add(l, &s, &o);
            memcpy(pts + npts, o.p, o.n * sizeof(*pts));
            npts += o.n;
        }
        double c = cpu() - c0;
        if (sweep > 0 && c < best_ledger)
            best_ledger = c;
    }
    printf("| ledger: a delivery sweep of %d connections into points | "
           "%zu | 1 | %.2f ms | | | |\n", NCONN, npts, best_ledger * 1e3);

    struct config *cfg = config_new_defaults();
    cfg->nworkspaces = 1;
    cfg->workspaces = xcalloc(1, sizeof(*cfg->workspaces));
    cfg->workspaces[0].name = xstrdup("prod");
    kv_list_add(&cfg->workspaces[0].labels, "env", "prod");

    static const struct {
        const char *label;
        int type, api_version;
    } kinds[] = {
        { "datadog (v2)", EXPORT_DATADOG, 2 },
        { "datadog (v1)", EXPORT_DATADOG, 1 },
        { "newrelic", EXPORT_NEWRELIC, 2 },
        { "influx", EXPORT_INFLUX, 2 },
        { "otlp", EXPORT_OTLP, 2 },
    };
    for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
        struct export_cfg xc;
        memset(&xc, 0, sizeof(xc));
        xc.name = (char *)"bench";
        xc.type = kinds[k].type;
        xc.api_version = kinds[k].api_version;
        xc.url = (char *)"http://127.0.0.1:1";
        xc.database = (char *)"segment";
        xc.prefix = (char *)"segment.";
        xc.interval_s = 60;
        xc.buffer_points = cap;
        xc.gzip = true;
        str_list_add(&xc.workspaces, "*");
        kv_list_add(&xc.tags, "team", "data");
        struct result r = { 0 };
        run_intake(export_intake_of(xc.type), &xc, cfg, pts, npts, &r);
        printf("| %s | %zu | %zu | %.2f ms | %.2f ms | %.0f B | %.1f B |\n",
               kinds[k].label, npts, r.batches,
               r.encode_s * 1e3 / (double)r.batches,
               (r.encode_s + r.gzip_s) * 1e3 / (double)r.batches,
               (double)r.raw_bytes / (double)npts,
               (double)r.gz_bytes / (double)npts);
        str_list_free(&xc.workspaces);
        kv_list_free(&xc.tags);
    }
    config_free(cfg);
    free(pts);
    free(ls);
    ledger_free(l);
    label_pool_free(pool);
    return 0;
}
