/*
 * test_export.c - the export layer: the names table, the ring, the ledger
 * (windows that tile, history never exported, volume buckets counted once
 * when final, usage gauges), the cursor file (round trip, corruption,
 * symbolic links), the four encoders (golden bodies in
 * tests/fixtures/export; UPDATE_GOLDEN=1 rewrites them), OTLP's verdicts,
 * the exporter's batching, gzip, retries, 413, permanent failures,
 * bounded buffer and write-ahead cursor over the fake transport, and the
 * export section of the configuration.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "config/config.h"
#include "core/clock.h"
#include "core/diag.h"
#include "core/json.h"
#include "core/util.h"
#include "engine/labels.h"
#include "export/buffer.h"
#include "export/cursor.h"
#include "export/exporter.h"
#include "export/exporters.h"
#include "export/gzip.h"
#include "export/intake.h"
#include "export/ledger.h"
#include "export/names.h"

#include "fake_transport.h"

#define T0 1787216400.0         /* 2026-08-20T09:00:00Z, a whole hour */

/* ---- helpers --------------------------------------------------------------------- */

static struct label_pool *pool;

static const struct labelset *conn_ls(const char *src, const char *dst)
{
    struct labels_builder b;
    labels_builder_init(&b, pool);
    labels_builder_add(&b, "workspace", "prod");
    labels_builder_add(&b, "source", src);
    labels_builder_add(&b, "source_id", src);
    labels_builder_add(&b, "destination", dst);
    labels_builder_add(&b, "destination_id", dst);
    labels_builder_add(&b, "destination_type", "amplitude");
    const struct labelset *ls = labels_builder_finish(&b);
    labels_builder_free(&b);
    return ls;
}

static const struct labelset *src_ls(const char *src)
{
    struct labels_builder b;
    labels_builder_init(&b, pool);
    labels_builder_add(&b, "workspace", "prod");
    if (src) {
        labels_builder_add(&b, "source", src);
        labels_builder_add(&b, "source_id", src);
    }
    const struct labelset *ls = labels_builder_finish(&b);
    labels_builder_free(&b);
    return ls;
}

struct sample_vals {
    double v[M__COUNT];
    bool has[M__COUNT];
};

static struct export_sample conn_sample(const struct labelset *ls, double t,
                                        double successes, double discarded,
                                        struct sample_vals *sv)
{
    memset(sv, 0, sizeof(*sv));
    sv->v[M_SUCCESSES] = successes;
    sv->v[M_DISCARDED] = discarded;
    sv->v[M_EXPIRED] = 0;
    sv->v[M_ATTEMPTED] = successes + discarded;
    sv->v[M_TIME_TO_SUCCESS_P95] = 1.5;
    sv->has[M_SUCCESSES] = sv->has[M_DISCARDED] = sv->has[M_EXPIRED] = true;
    sv->has[M_ATTEMPTED] = sv->has[M_TIME_TO_SUCCESS_P95] = true;
    struct export_sample s = { 0 };
    s.fam = FAM_CONNECTION;
    s.labels = ls;
    s.t = t;
    s.v = sv->v;
    s.has = sv->has;
    s.generation = 1;
    s.window_s = 300;
    return s;
}

static struct export_sample vol_sample(const struct labelset *ls, double t,
                                       double count, struct sample_vals *sv)
{
    memset(sv, 0, sizeof(*sv));
    sv->v[M_EVENT_VOLUME] = count;
    sv->has[M_EVENT_VOLUME] = true;
    struct export_sample s = { 0 };
    s.fam = FAM_SOURCE;
    s.labels = ls;
    s.t = t;
    s.v = sv->v;
    s.has = sv->has;
    s.bucket_s = 60;
    return s;
}

/* The point of metric m in o, or NULL. */
static const struct export_point *point_of(const struct ledger_out *o, int m)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->p[i].metric == m)
            return &o->p[i];
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    pool = label_pool_new();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    label_pool_free(pool);
    pool = NULL;
    return 0;
}

/* ---- names ---------------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(export_metric_of(FAM_CONNECTION, M_SUCCESSES, false),
                     EXM_SUCCESSES);
    assert_int_equal(export_metric_of(FAM_SOURCE, M_EVENT_VOLUME, false),
                     EXM_EVENT_VOLUME);
    assert_int_equal(export_metric_of(FAM_SOURCE, M_EVENT_VOLUME, true),
                     EXM_WORKSPACE_EVENT_VOLUME);
    assert_int_equal(export_metric_of(FAM_USAGE, M_MTU, true),
                     EXM_WORKSPACE_MTU);
    assert_int_equal(export_metric_of(FAM_USAGE, M_MTU, false), EXM_MTU);
    assert_int_equal(export_metric_of(FAM_CONNECTION, M_DISCARD_RATIO, false),
                     -1);
    assert_int_equal(export_metric_of(FAM_CONNECTION, M_SOURCE_VOLUME, false),
                     -1);
    assert_true(export_is_workspace_level(FAM_SOURCE, NULL));
    assert_false(export_is_workspace_level(FAM_SOURCE, "web"));
    assert_false(export_is_workspace_level(FAM_CONNECTION, NULL));
    /* every name is unique, with a unit; latencies are seconds */
    for (int i = 0; i < EXM__COUNT; i++) {
        assert_non_null(export_metric_table[i].unit);
        for (int k = 0; k < i; k++)
            assert_string_not_equal(export_metric_table[i].name,
                                    export_metric_table[k].name);
    }
    assert_string_equal(export_metric_table[EXM_TIME_TO_SUCCESS_P95].prom,
                        "segment_time_to_success_p95_seconds");
    assert_string_equal(export_metric_table[EXM_SUCCESSES].prom,
                        "segment_successes_total");
}

/* ---- ring ------------------------------------------------------------------------ */

static void test_ring(void **state)
{
    (void)state;
    struct export_ring r;
    export_ring_init(&r, 3);
    struct export_point p = { 0 };
    size_t dropped = 0;
    for (int i = 0; i < 5; i++) {
        p.v = i;
        dropped += export_ring_push(&r, &p);
    }
    assert_int_equal(dropped, 2);       /* the oldest two */
    assert_int_equal(r.n, 3);
    assert_true(export_ring_at(&r, 0)->v == 2);
    struct export_point out[3];
    assert_int_equal(export_ring_take(&r, out, 2), 2);
    assert_true(out[0].v == 2 && out[1].v == 3);
    /* back in front, in order; one does not fit any more */
    p.v = 9;
    export_ring_push(&r, &p);
    assert_int_equal(export_ring_unshift(&r, out, 2), 1);
    assert_int_equal(r.n, 3);
    assert_true(export_ring_at(&r, 0)->v == 2);
    assert_true(export_ring_at(&r, 1)->v == 4);
    assert_true(export_ring_at(&r, 2)->v == 9);
    /* smaller: the oldest go */
    assert_int_equal(export_ring_set_cap(&r, 1), 2);
    assert_true(export_ring_at(&r, 0)->v == 9);
    export_ring_free(&r);
}

/* ---- ledger: connections ----------------------------------------------------------- */

static void test_ledger_windows_tile(void **state)
{
    (void)state;
    struct ledger *l = ledger_new(T0);
    const struct labelset *ls = conn_ls("web", "amp");
    struct sample_vals sv;
    struct ledger_out o;

    /* the history read of the first sweep: never exported */
    struct export_sample s = conn_sample(ls, T0 - 4 * 3600, 99999, 9, &sv);
    s.history = true;
    ledger_add(l, &s, &o);
    assert_int_equal(o.n, 0);

    /* the first regular window of the poller: window_s back */
    s = conn_sample(ls, T0 + 120, 1000, 10, &sv);
    ledger_add(l, &s, &o);
    const struct export_point *p = point_of(&o, EXM_SUCCESSES);
    assert_non_null(p);
    assert_true(p->t == T0 + 120 - 300 && p->interval_s == 300);
    assert_true(p->v == 1000);
    assert_non_null(point_of(&o, EXM_DISCARDED));
    assert_non_null(point_of(&o, EXM_ATTEMPTED));
    const struct export_point *g = point_of(&o, EXM_TIME_TO_SUCCESS_P95);
    assert_non_null(g);
    assert_true(g->t == T0 + 120 && g->interval_s == 0);   /* at the end */
    assert_null(point_of(&o, EXM_RETRIED));     /* not in the sample */
    assert_true(o.count_end == T0 + 120);

    /* late poll: the next window continues where that one ended */
    s = conn_sample(ls, T0 + 120 + 420, 1400, 14, &sv);
    ledger_add(l, &s, &o);
    p = point_of(&o, EXM_SUCCESSES);
    assert_true(p->t == T0 + 120 && p->interval_s == 420);

    /* a new poller (reload): its first window reads back window_s and
     * overlaps what was counted: skipped whole */
    s = conn_sample(ls, T0 + 120 + 420 + 60, 1000, 10, &sv);
    s.generation = 2;
    ledger_add(l, &s, &o);
    assert_null(point_of(&o, EXM_SUCCESSES));
    /* ...and the next one of that poller continues it */
    s = conn_sample(ls, T0 + 120 + 420 + 360, 1000, 10, &sv);
    s.generation = 2;
    ledger_add(l, &s, &o);
    p = point_of(&o, EXM_SUCCESSES);
    assert_true(p->t == T0 + 600 && p->interval_s == 300);

    /* a gap longer than the API's 4 hours: window_s back again */
    s = conn_sample(ls, T0 + 900 + 5 * 3600, 5, 0, &sv);
    s.generation = 2;
    ledger_add(l, &s, &o);
    p = point_of(&o, EXM_SUCCESSES);
    assert_true(p->t == T0 + 900 + 5 * 3600 - 300 && p->interval_s == 300);

    double tot[EXM__COUNT] = { 0 };
    bool has[EXM__COUNT] = { 0 };
    assert_true(ledger_totals(l, ls, tot, has));
    assert_true(tot[EXM_SUCCESSES] == 1000 + 1400 + 1000 + 5);
    assert_true(tot[EXM_DISCARDED] == 10 + 14 + 10);
    assert_true(has[EXM_SUCCESSES]);
    assert_false(has[EXM_EVENT_VOLUME]);
    assert_int_equal(ledger_series(l), 1);
    ledger_free(l);
}

/* ---- ledger: event volume ----------------------------------------------------------- */

static void test_ledger_volume_once_final(void **state)
{
    (void)state;
    struct ledger *l = ledger_new(T0);
    const struct labelset *ls = src_ls("web");
    struct sample_vals sv;
    struct ledger_out o;
    struct export_sample s;

    /* hourly back-fill, older than the ledger: never exported */
    s = vol_sample(ls, T0 - 3 * 3600, 6000, &sv);
    s.bucket_s = 60;    /* the daemon says minutes: the horizon protects */
    ledger_add(l, &s, &o);
    assert_int_equal(o.n, 0);

    /* a poll reads minutes 1..3 (ends T0+60..T0+180): only the first is
     * final (the next poll re-reads the last two) */
    double total = 0;
    for (int m = 1; m <= 3; m++) {
        s = vol_sample(ls, T0 + 60 * m, 100 + m, &sv);
        ledger_add(l, &s, &o);
        for (size_t i = 0; i < o.n; i++)
            total += o.p[i].v;
    }
    assert_true(total == 101);
    /* the re-read raises minute 3 (late events) and adds minute 4 */
    s = vol_sample(ls, T0 + 120, 102, &sv);
    ledger_add(l, &s, &o);
    assert_int_equal(o.n, 0);
    s = vol_sample(ls, T0 + 180, 110, &sv);
    ledger_add(l, &s, &o);
    assert_int_equal(o.n, 0);
    s = vol_sample(ls, T0 + 240, 104, &sv);
    ledger_add(l, &s, &o);
    assert_int_equal(o.n, 1);
    assert_int_equal(o.p[0].metric, EXM_EVENT_VOLUME);
    assert_true(o.p[0].t == T0 + 60 && o.p[0].interval_s == 60);
    assert_true(o.p[0].v == 102);
    s = vol_sample(ls, T0 + 300, 105, &sv);
    ledger_add(l, &s, &o);
    assert_int_equal(o.n, 1);
    assert_true(o.p[0].v == 110);       /* the re-read value, once */
    /* re-reading a bucket already counted changes nothing */
    s = vol_sample(ls, T0 + 120, 999, &sv);
    ledger_add(l, &s, &o);
    assert_int_equal(o.n, 0);

    /* the workspace total is its own metric */
    const struct labelset *ws = src_ls(NULL);
    for (int m = 1; m <= 3; m++) {
        s = vol_sample(ws, T0 + 60 * m, 500, &sv);
        ledger_add(l, &s, &o);
    }
    assert_int_equal(o.n, 1);
    assert_int_equal(o.p[0].metric, EXM_WORKSPACE_EVENT_VOLUME);

    double tot[EXM__COUNT] = { 0 };
    bool has[EXM__COUNT] = { 0 };
    assert_true(ledger_totals(l, ls, tot, has));
    assert_true(tot[EXM_EVENT_VOLUME] == 101 + 102 + 110);
    ledger_free(l);
}

static void test_ledger_usage(void **state)
{
    (void)state;
    struct ledger *l = ledger_new(T0);
    struct sample_vals sv = { 0 };
    struct ledger_out o;
    sv.v[M_MTU] = 1000;
    sv.has[M_MTU] = true;
    struct export_sample s = { 0 };
    s.fam = FAM_USAGE;
    s.labels = src_ls(NULL);
    s.v = sv.v;
    s.has = sv.has;
    s.mtu_limit = 2000000;
    /* a past day of the period: not exported */
    s.t = T0 - 86400;
    ledger_add(l, &s, &o);
    assert_int_equal(o.n, 0);
    /* today's row */
    s.t = T0 + 10;
    ledger_add(l, &s, &o);
    assert_non_null(point_of(&o, EXM_WORKSPACE_MTU));
    assert_null(point_of(&o, EXM_WORKSPACE_API_CALLS));   /* not in it */
    const struct export_point *lim = point_of(&o, EXM_WORKSPACE_MTU_LIMIT);
    assert_non_null(lim);
    assert_true(lim->v == 2000000);
    assert_null(point_of(&o, EXM_WORKSPACE_API_CALLS_LIMIT));  /* unset */
    assert_null(point_of(&o, EXM_MTU));
    /* the same row again: nothing new */
    ledger_add(l, &s, &o);
    assert_int_equal(o.n, 0);
    /* the API calls row of the same sweep comes in a sample of its own,
     * stamped alike (api/poll.c): exported too */
    struct sample_vals sa = { 0 };
    sa.v[M_API_CALLS] = 6000;
    sa.has[M_API_CALLS] = true;
    struct export_sample s2 = s;
    s2.v = sa.v;
    s2.has = sa.has;
    s2.mtu_limit = 0;
    ledger_add(l, &s2, &o);
    assert_int_equal(o.n, 1);
    assert_int_equal(o.p[0].metric, EXM_WORKSPACE_API_CALLS);
    assert_true(o.p[0].v == 6000);
    /* per source */
    s.labels = src_ls("web");
    ledger_add(l, &s, &o);
    assert_non_null(point_of(&o, EXM_MTU));
    assert_null(point_of(&o, EXM_WORKSPACE_MTU_LIMIT));
    ledger_free(l);
}

/* ---- cursor ------------------------------------------------------------------------- */

static char tmpdir[64];

static int setup_dir(void **state)
{
    setup(state);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/segalert-test-export.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown_dir(void **state)
{
    /* every file the tests made (cursor files, moved-aside ones, links) */
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *p = xasprintf("%s/%s", tmpdir, e->d_name);
        unlink(p);
        free(p);
    }
    if (d)
        closedir(d);
    rmdir(tmpdir);
    return teardown(state);
}

static void test_cursor_roundtrip(void **state)
{
    (void)state;
    char err[256];
    struct export_cursor *c = export_cursor_open(tmpdir, "a", T0, err,
                                                 sizeof(err));
    assert_string_equal(err, "");
    assert_true(export_cursor_get(c, 42) == 0);
    export_cursor_set(c, 42, T0 + 300);
    export_cursor_set(c, 0xfedcba9876543210ull, T0 + 60);
    export_cursor_set(c, 7, T0 - 3 * 86400);    /* too old: forgotten */
    assert_true(export_cursor_dirty(c));
    assert_int_equal(export_cursor_save(c, T0, err, sizeof(err)), 0);
    assert_false(export_cursor_dirty(c));
    export_cursor_free(c);

    char *path = xasprintf("%s/export-a.cursor", tmpdir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    c = export_cursor_open(tmpdir, "a", T0, err, sizeof(err));
    assert_string_equal(err, "");
    assert_true(export_cursor_get(c, 42) == T0 + 300);
    assert_true(export_cursor_get(c, 0xfedcba9876543210ull) == T0 + 60);
    assert_true(export_cursor_get(c, 7) == 0);
    assert_true(export_cursor_floor(c) == 0);
    assert_int_equal(export_cursor_count(c), 2);
    export_cursor_free(c);
    free(path);
}

static void test_cursor_corrupt_and_symlink(void **state)
{
    (void)state;
    char err[256];
    char *path = xasprintf("%s/export-b.cursor", tmpdir);
    FILE *f = fopen(path, "w");
    fputs("segalert-export-cursor 1\nnot a line\n", f);
    fclose(f);
    struct export_cursor *c = export_cursor_open(tmpdir, "b", T0, err,
                                                 sizeof(err));
    assert_non_null(strstr(err, "is corrupt; moved aside"));
    assert_true(export_cursor_floor(c) == T0);  /* nothing before now */
    assert_int_equal(access(path, F_OK), -1);   /* moved */
    export_cursor_free(c);

    /* a symbolic link is never followed */
    char *target = xasprintf("%s/target", tmpdir);
    f = fopen(target, "w");
    fputs("segalert-export-cursor 1\n", f);
    fclose(f);
    assert_int_equal(symlink(target, path), 0);
    c = export_cursor_open(tmpdir, "b", T0, err, sizeof(err));
    assert_non_null(strstr(err, "cannot read"));
    assert_true(export_cursor_floor(c) == T0);
    export_cursor_free(c);
    unlink(path);
    free(target);
    free(path);
}

/* ---- encoders ----------------------------------------------------------------------- */

/* Compare text with tests/fixtures/export/NAME (UPDATE_GOLDEN=1 writes
 * it). */
static void golden(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/export/%s", FIXTURES_DIR, name);
    if (getenv("UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        return;
    }
    size_t len;
    char *want = read_file(path, 1u << 20, &len);
    if (!want) {
        fprintf(stderr, "missing golden file %s (UPDATE_GOLDEN=1)\n", path);
        fail();
    }
    if (strcmp(want, text) != 0) {
        fprintf(stderr, "%s differs; got:\n%s\n", path, text);
        free(want);
        fail();
    }
    free(want);
}

/* The points the goldens encode: a window's counts and latency, a volume
 * bucket, a workspace usage gauge, an alert. */
static size_t sample_points(struct export_point *p)
{
    const struct labelset *c = conn_ls("web", "Amplitude (prod)");
    memset(p, 0, 6 * sizeof(*p));
    p[0] = (struct export_point){ c, T0, 300, 1234, 0, 0, EXM_SUCCESSES };
    p[1] = (struct export_point){ c, T0, 300, 6, 0, 0, EXM_DISCARDED };
    p[2] = (struct export_point){ c, T0 + 300, 0, 1.75, 0, 0,
                                  EXM_TIME_TO_SUCCESS_P95 };
    p[3] = (struct export_point){ src_ls("web"), T0, 60, 321, 0, 0,
                                  EXM_EVENT_VOLUME };
    p[4] = (struct export_point){ src_ls(NULL), T0 + 10, 0, 150000, 0, 0,
                                  EXM_WORKSPACE_MTU };
    struct labels_builder b;
    labels_builder_init(&b, pool);
    labels_builder_add(&b, "rule", "delivery-discard-ratio");
    labels_builder_add(&b, "severity", "critical");
    labels_builder_add(&b, "state", "firing");
    labels_builder_add(&b, "workspace", "prod");
    labels_builder_add(&b, "source", "web");
    p[5] = (struct export_point){ labels_builder_finish(&b), T0 + 20, 0, 1,
                                  0, 0, EXM_ALERT };
    labels_builder_free(&b);
    return 6;
}

static struct config *golden_config(void)
{
    struct config *cfg = config_new_defaults();
    cfg->nworkspaces = 1;
    cfg->workspaces = xcalloc(1, sizeof(*cfg->workspaces));
    cfg->workspaces[0].name = xstrdup("prod");
    kv_list_add(&cfg->workspaces[0].labels, "env", "prod");
    kv_list_add(&cfg->workspaces[0].labels, "source", "not-this-one");
    return cfg;
}

static void export_cfg_init(struct export_cfg *xc, int type, const char *url)
{
    memset(xc, 0, sizeof(*xc));
    xc->name = (char *)"x";
    xc->type = type;
    xc->url = (char *)url;
    xc->api_version = 2;
    xc->prefix = (char *)"segment.";
    xc->interval_s = 60;
    xc->buffer_points = 1000;
    xc->gzip = true;
    xc->timeout_s = 10;
    str_list_add(&xc->workspaces, "*");
    kv_list_add(&xc->tags, "team", "data");
}

static void export_cfg_clear(struct export_cfg *xc)
{
    str_list_free(&xc->workspaces);
    kv_list_free(&xc->tags);
}

static void encode_golden(int type, int api_version, const char *file)
{
    struct config *cfg = golden_config();
    struct export_cfg xc;
    export_cfg_init(&xc, type, "http://intake.example");
    xc.api_version = api_version;
    xc.database = (char *)"seg";
    struct export_point p[6];
    size_t n = sample_points(p);
    struct export_encode_ctx ctx = { &xc, cfg, T0, NULL, NULL };
    struct strbuf out = STRBUF_INIT;
    const struct export_intake *in = export_intake_of(type);
    assert_int_equal(in->encode(&ctx, p, n, 1u << 20, &out), n);
    if (in->content_type && strstr(in->content_type, "json")) {
        cJSON *j = cJSON_Parse(out.buf);
        assert_non_null(j);     /* valid JSON */
        cJSON_Delete(j);
    }
    golden(file, out.buf);
    /* a small max_body: fewer points, never none */
    strbuf_reset(&out);
    size_t k = in->encode(&ctx, p, n, 10, &out);
    assert_true(k >= 1 && k < n);
    strbuf_free(&out);
    export_cfg_clear(&xc);
    config_free(cfg);
}

static void test_encode_datadog_v2(void **state)
{
    (void)state;
    encode_golden(EXPORT_DATADOG, 2, "datadog-v2.json");
}

static void test_encode_datadog_v1(void **state)
{
    (void)state;
    encode_golden(EXPORT_DATADOG, 1, "datadog-v1.json");
}

static void test_encode_newrelic(void **state)
{
    (void)state;
    encode_golden(EXPORT_NEWRELIC, 2, "newrelic.json");
}

static void test_encode_influx(void **state)
{
    (void)state;
    encode_golden(EXPORT_INFLUX, 2, "influx.txt");
}

static void test_encode_otlp(void **state)
{
    (void)state;
    encode_golden(EXPORT_OTLP, 2, "otlp.json");
}

static void test_intake_urls(void **state)
{
    (void)state;
    struct export_cfg xc;
    struct strbuf u = STRBUF_INIT;
    export_cfg_init(&xc, EXPORT_DATADOG, "https://api.datadoghq.eu");
    export_intake_of(EXPORT_DATADOG)->url(&xc, &u);
    assert_string_equal(u.buf, "https://api.datadoghq.eu/api/v2/series");
    strbuf_reset(&u);
    xc.api_version = 1;
    export_intake_of(EXPORT_DATADOG)->url(&xc, &u);
    assert_string_equal(u.buf, "https://api.datadoghq.eu/api/v1/series");
    strbuf_reset(&u);
    xc.url = (char *)"http://127.0.0.1:4318";
    export_intake_of(EXPORT_OTLP)->url(&xc, &u);
    assert_string_equal(u.buf, "http://127.0.0.1:4318/v1/metrics");
    strbuf_reset(&u);
    xc.url = (char *)"http://c/otlp/v1/metrics";
    export_intake_of(EXPORT_OTLP)->url(&xc, &u);
    assert_string_equal(u.buf, "http://c/otlp/v1/metrics");
    strbuf_reset(&u);
    xc.url = (char *)"http://i:8086";
    xc.database = (char *)"my db";
    export_intake_of(EXPORT_INFLUX)->url(&xc, &u);
    assert_string_equal(u.buf, "http://i:8086/write?db=my%20db&precision=s");
    strbuf_reset(&u);
    xc.database = NULL;
    xc.bucket = (char *)"b";
    xc.org = (char *)"o";
    export_intake_of(EXPORT_INFLUX)->url(&xc, &u);
    assert_string_equal(u.buf,
                        "http://i:8086/api/v2/write?org=o&bucket=b&precision=s");
    /* the write endpoint with its query, as in the README's example */
    strbuf_reset(&u);
    xc.bucket = xc.org = NULL;
    xc.url = (char *)"http://127.0.0.1:8086/write?db=segment";
    export_intake_of(EXPORT_INFLUX)->url(&xc, &u);
    assert_string_equal(u.buf,
                        "http://127.0.0.1:8086/write?db=segment&precision=s");
    assert_false(export_influx_write_url("http://i:8086"));
    assert_false(export_influx_write_url("http://i:8086/writer?db=x"));
    assert_true(export_influx_write_url("http://i/api/v2/write?org=o&bucket=b"));
    strbuf_free(&u);
    export_cfg_clear(&xc);
}

static void test_otlp_verdicts(void **state)
{
    (void)state;
    const struct export_intake *in = export_intake_of(EXPORT_OTLP);
    struct http_request r = { 0 };
    struct delivery_verdict v;
    size_t rej;
    r.status = 200;
    strbuf_adds(&r.body, "{\"partialSuccess\":{\"rejectedDataPoints\":\"3\","
                         "\"errorMessage\":\"bad unit\"}}");
    in->classify(&r, T0, &v, &rej);
    assert_int_equal(v.outcome, DELIVERY_OK);
    assert_int_equal(rej, 3);
    assert_non_null(strstr(v.reason, "bad unit"));
    strbuf_reset(&r.body);
    r.status = 500;     /* not one of 429, 502, 503, 504: not retried */
    in->classify(&r, T0, &v, &rej);
    assert_int_equal(v.outcome, DELIVERY_PERMANENT);
    r.status = 503;
    in->classify(&r, T0, &v, &rej);
    assert_int_equal(v.outcome, DELIVERY_RETRY);
    strbuf_free(&r.body);
}

/* ---- the exporter over the fake transport --------------------------------------------------- */

static char *gunzip(const struct strbuf *in)
{
    z_stream z = { 0 };
    assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    struct strbuf out = STRBUF_INIT;
    unsigned char buf[16384];
    z.next_in = (Bytef *)in->buf;
    z.avail_in = (uInt)in->len;
    int rc;
    do {
        z.next_out = buf;
        z.avail_out = sizeof(buf);
        rc = inflate(&z, Z_NO_FLUSH);
        assert_true(rc == Z_OK || rc == Z_STREAM_END);
        strbuf_add(&out, buf, sizeof(buf) - z.avail_out);
    } while (rc != Z_STREAM_END);
    inflateEnd(&z);
    return strbuf_detach(&out);
}

static bool has_header(const struct http_request *r, const char *line)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcmp(r->headers[i], line) == 0)
            return true;
    return false;
}

/* A ledger_out of one connection window of `npoints` count points. */
static struct ledger_out window_out(const struct labelset *ls, double start,
                                    double len, size_t npoints)
{
    struct ledger_out o = { 0 };
    o.key = labelset_hash(ls);
    for (size_t i = 0; i < npoints && i < LEDGER_MAX_POINTS; i++) {
        o.p[i].labels = ls;
        o.p[i].metric = EXM_SUCCESSES;
        o.p[i].t = start;
        o.p[i].interval_s = len;
        o.p[i].v = (double)i;
    }
    o.n = npoints;
    o.count_end = start + len;
    return o;
}

static void test_exporter_sends_batches(void **state)
{
    (void)state;
    struct fake_transport ft = { 0 };
    struct clock *clk = clock_fake_new(T0);
    ft.clock = clk;
    struct http_transport tr = fake_transport_of(&ft);
    struct config *cfg = golden_config();
    struct export_cfg xc;
    export_cfg_init(&xc, EXPORT_DATADOG, "http://dd");
    xc.name = (char *)"dd";
    xc.api_key = (char *)"k3y";
    xc.batch_points = 4;
    kv_list_add(&xc.headers, "X-Extra", "1");
    struct exporter *x = exporter_new(&xc, cfg, &tr, clk, tmpdir, T0);
    const struct labelset *ls = conn_ls("web", "amp");

    struct ledger_out o = window_out(ls, T0 - 300, 300, 3);
    exporter_offer(x, &o, T0);
    /* not due yet: the interval has not passed, the batch is not full */
    exporter_tick(x, T0 + 1);
    assert_int_equal(ft.npending, 0);
    /* a whole batch is queued: sent at once */
    o = window_out(ls, T0, 300, 3);
    exporter_offer(x, &o, T0 + 2);
    exporter_tick(x, T0 + 2);
    assert_int_equal(ft.npending, 1);
    struct http_request *r = ft.pending[0];
    assert_string_equal(r->url, "http://dd/api/v2/series");
    assert_true(has_header(r, "DD-API-KEY: k3y"));
    assert_true(has_header(r, "Content-Encoding: gzip"));
    assert_true(has_header(r, "Content-Type: application/json"));
    assert_true(has_header(r, "X-Extra: 1"));
    char *body = gunzip(&r->post_body);
    cJSON *j = cJSON_Parse(body);
    assert_int_equal(cJSON_GetArraySize(json_member(j, "series")), 4);
    cJSON_Delete(j);
    free(body);
    /* write-ahead: the cursor is on disk before the request answers */
    char err[256];
    struct export_cursor *c = export_cursor_open(tmpdir, "dd", T0, err,
                                                 sizeof(err));
    assert_true(export_cursor_get(c, labelset_hash(ls)) == T0 + 300);
    export_cursor_free(c);
    /* one request at a time */
    exporter_tick(x, T0 + 3);
    assert_int_equal(ft.npending, 1);
    fake_reply_with(&ft, 0, 202, "{\"errors\":[]}");
    struct exporter_stats st;
    exporter_stats(x, T0 + 3, &st);
    assert_int_equal(st.sent, 4);
    assert_true(st.up);
    assert_int_equal(st.buffered, 2);
    /* the rest at the interval */
    exporter_tick(x, T0 + 30);
    assert_int_equal(ft.npending, 0);
    exporter_tick(x, T0 + 61);
    assert_int_equal(ft.npending, 1);
    fake_reply_with(&ft, 0, 202, "{\"errors\":[]}");
    exporter_stats(x, T0 + 61, &st);
    assert_int_equal(st.sent, 6);
    assert_int_equal(st.buffered, 0);
    assert_true(st.lag_s == 0);
    assert_int_equal(st.requests_ok, 2);

    /* a restart: the same window again is not queued (no overlap drop:
     * it was exported whole); one that straddles the cursor is dropped */
    exporter_free(x);
    x = exporter_new(&xc, cfg, &tr, clk, tmpdir, T0 + 100);
    o = window_out(ls, T0, 300, 2);
    exporter_offer(x, &o, T0 + 100);
    o = window_out(ls, T0 + 200, 300, 2);
    exporter_offer(x, &o, T0 + 100);
    exporter_stats(x, T0 + 100, &st);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.dropped[EXPORT_DROP_OVERLAP], 2);
    o = window_out(ls, T0 + 300, 300, 2);
    exporter_offer(x, &o, T0 + 100);
    exporter_stats(x, T0 + 100, &st);
    assert_int_equal(st.queued, 2);

    exporter_free(x);
    xc.api_key = NULL;
    kv_list_free(&xc.headers);
    export_cfg_clear(&xc);
    config_free(cfg);
    fake_free(&ft);
    clock_free(clk);
}

static void test_exporter_failures(void **state)
{
    (void)state;
    struct fake_transport ft = { 0 };
    struct clock *clk = clock_fake_new(T0);
    ft.clock = clk;
    struct http_transport tr = fake_transport_of(&ft);
    struct config *cfg = golden_config();
    struct export_cfg xc;
    export_cfg_init(&xc, EXPORT_INFLUX, "http://influx");
    xc.name = (char *)"l";
    xc.database = (char *)"seg";
    xc.buffer_points = 10;
    xc.gzip = false;
    struct exporter *x = exporter_new(&xc, cfg, &tr, clk, NULL, T0);
    const struct labelset *ls = conn_ls("web", "amp");

    /* 503: kept, retried after the back-off (Retry-After wins when
     * longer) */
    struct ledger_out o = window_out(ls, T0, 300, 4);
    exporter_offer(x, &o, T0);
    exporter_tick(x, T0 + 60);
    assert_int_equal(ft.npending, 1);
    struct fake_reply busy = { .status = 503, .body = "busy",
                               .retry_after = "20" };
    clock_fake_advance(clk, 60);    /* the answer comes at T0 + 60 */
    fake_complete(&ft, 0, &busy);
    struct exporter_stats st;
    exporter_stats(x, T0 + 60, &st);
    assert_false(st.up);
    assert_int_equal(st.buffered, 4);
    assert_non_null(strstr(st.last_error, "503"));
    exporter_tick(x, T0 + 70);
    assert_int_equal(ft.npending, 0);
    exporter_tick(x, T0 + 81);
    assert_int_equal(ft.npending, 1);
    assert_string_equal(ft.pending[0]->url,
                        "http://influx/write?db=seg&precision=s");
    /* 413: the same points again, in halves */
    fake_reply_with(&ft, 0, 413, "too large");
    exporter_tick(x, T0 + 81);
    assert_int_equal(ft.npending, 1);
    fake_reply_with(&ft, 0, 204, "");
    exporter_stats(x, T0 + 81, &st);
    assert_int_equal(st.sent, 2);
    exporter_tick(x, T0 + 81);
    fake_reply_with(&ft, 0, 204, "");
    exporter_stats(x, T0 + 81, &st);
    assert_int_equal(st.sent, 4);
    assert_true(st.up);

    /* 400: dropped, counted, and a back-off so a bad key does not spin */
    o = window_out(ls, T0 + 300, 300, 2);
    exporter_offer(x, &o, T0 + 200);
    exporter_tick(x, T0 + 200);
    exporter_tick(x, T0 + 300);
    assert_int_equal(ft.npending, 1);
    clock_fake_advance(clk, 240);   /* T0 + 300 */
    fake_reply_with(&ft, 0, 400, "{\"error\":\"partial write\"}");
    exporter_stats(x, T0 + 300, &st);
    assert_int_equal(st.failed, 2);
    assert_int_equal(st.buffered, 0);
    assert_int_equal(st.requests_failed, 1);

    /* a full buffer drops the oldest, counted */
    for (int i = 0; i < 4; i++) {
        o = window_out(ls, T0 + 600 + 300 * i, 300, 4);
        exporter_offer(x, &o, T0 + 400);
    }
    exporter_stats(x, T0 + 400, &st);
    assert_int_equal(st.buffered, 10);
    assert_int_equal(st.dropped[EXPORT_DROP_BUFFER_FULL], 6);
    assert_true(st.lag_s == 0);
    exporter_stats(x, T0 + 430, &st);
    assert_true(st.lag_s == 30);

    /* a transport error is a retry */
    exporter_tick(x, T0 + 1000);
    assert_int_equal(ft.npending, 1);
    struct fake_reply down = { .curl_code = 7, .error = "refused" };
    fake_complete(&ft, 0, &down);
    exporter_stats(x, T0 + 1000, &st);
    assert_int_equal(st.requests_retried, 3);   /* 503, 413 and this */
    assert_int_equal(st.buffered, 10);

    /* points queued while that batch waits for its retry: the buffer
     * bounds both, and the batch's oldest points make room */
    unsigned long long before = st.dropped[EXPORT_DROP_BUFFER_FULL];
    o = window_out(ls, T0 + 2000, 300, 4);
    exporter_offer(x, &o, T0 + 1001);
    exporter_stats(x, T0 + 1001, &st);
    assert_int_equal(st.buffered, 10);
    assert_int_equal(st.dropped[EXPORT_DROP_BUFFER_FULL], before + 4);
    /* drained (in batches of 2 since the 413): the 10 newest */
    bool newest = false;
    for (int i = 0; i < 10 && (exporter_tick(x, T0 + 5000), ft.npending);
         i++) {
        if (strstr(ft.pending[0]->post_body.buf, " 1787218400"))
            newest = true;
        fake_reply_with(&ft, 0, 204, "");
    }
    assert_true(newest);
    exporter_stats(x, T0 + 5000, &st);
    assert_int_equal(st.sent, 4 + 10);
    assert_int_equal(st.buffered, 0);

    exporter_free(x);
    export_cfg_clear(&xc);
    config_free(cfg);
    fake_free(&ft);
    clock_free(clk);
}

/* Datadog refuses points older than an hour: they are not sent. */
static void test_exporter_too_old(void **state)
{
    (void)state;
    struct fake_transport ft = { 0 };
    struct clock *clk = clock_fake_new(T0);
    ft.clock = clk;
    struct http_transport tr = fake_transport_of(&ft);
    struct config *cfg = golden_config();
    struct export_cfg xc;
    export_cfg_init(&xc, EXPORT_DATADOG, "http://dd");
    struct exporter *x = exporter_new(&xc, cfg, &tr, clk, NULL, T0);
    const struct labelset *ls = conn_ls("web", "amp");
    struct ledger_out o = window_out(ls, T0 - 7200, 300, 3);
    exporter_offer(x, &o, T0);
    o = window_out(ls, T0 - 60, 300, 1);
    exporter_offer(x, &o, T0);
    exporter_tick(x, T0 + 60);
    assert_int_equal(ft.npending, 1);
    struct exporter_stats st;
    exporter_stats(x, T0 + 60, &st);
    assert_int_equal(st.dropped[EXPORT_DROP_TOO_OLD], 3);
    fake_reply_with(&ft, 0, 202, "{}");
    exporter_stats(x, T0 + 60, &st);
    assert_int_equal(st.sent, 1);
    exporter_free(x);
    export_cfg_clear(&xc);
    config_free(cfg);
    fake_free(&ft);
    clock_free(clk);
}

/* The set: samples through the ledger to every exporter; alert states
 * with a final 0; reload keeps an exporter by name. */
static void test_exporters_set(void **state)
{
    (void)state;
    struct fake_transport ft = { 0 };
    struct clock *clk = clock_fake_new(T0);
    ft.clock = clk;
    struct http_transport tr = fake_transport_of(&ft);
    struct config *cfg = golden_config();
    cfg->nexports = 1;
    cfg->exports = xcalloc(1, sizeof(*cfg->exports));
    export_cfg_init(&cfg->exports[0], EXPORT_NEWRELIC, "http://nr");
    cfg->exports[0].name = xstrdup("nr");
    cfg->exports[0].prefix = xstrdup("segment.");
    cfg->exports[0].url = xstrdup("http://nr");
    struct exporters *s = exporters_new(cfg, &tr, clk, NULL, T0);
    assert_true(exporters_alert_interval(s) == 60);
    struct sample_vals sv;
    struct export_sample smp = conn_sample(conn_ls("web", "amp"), T0 + 60,
                                           100, 1, &sv);
    exporters_sample(s, &smp, T0 + 60);
    struct export_point a = { 0 };
    a.labels = src_ls("alerting");
    a.metric = EXM_ALERT;
    a.t = T0 + 60;
    a.v = 1;
    exporters_alerts(s, &a, 1, T0 + 60);
    exporters_alerts(s, NULL, 0, T0 + 120);     /* resolved: one 0 */
    exporters_tick(s, T0 + 121);
    assert_int_equal(ft.npending, 1);
    char *body = gunzip(&ft.pending[0]->post_body);
    cJSON *j = cJSON_Parse(body);
    const cJSON *metrics = json_member(cJSON_GetArrayItem(j, 0), "metrics");
    int alerts = 0, zero = 0, counts = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, metrics) {
        if (streq(json_str(m, "name"), "segment.alert")) {
            alerts++;
            zero += json_num(m, "value", -1) == 0;
        }
        if (streq(json_str(m, "type"), "count")) {
            counts++;
            assert_true(json_num(m, "interval.ms", 0) == 300000);
        }
    }
    assert_int_equal(alerts, 2);
    assert_int_equal(zero, 1);
    assert_int_equal(counts, 4);    /* successes, discarded, expired,
                                       attempted */
    cJSON_Delete(j);
    free(body);
    double tot[EXM__COUNT] = { 0 };
    bool has[EXM__COUNT] = { 0 };
    assert_true(exporters_totals(s, conn_ls("web", "amp"), tot, has));
    assert_true(tot[EXM_SUCCESSES] == 100);

    /* reload with the same section: kept (its request still in flight) */
    exporters_reload(s, cfg, T0 + 130);
    assert_int_equal(exporters_count(s), 1);
    assert_true(exporters_busy(s));
    fake_reply_with(&ft, 0, 202, "{\"requestId\":\"1\"}");
    struct exporter_stats st;
    exporters_stats(s, 0, T0 + 130, &st);
    assert_int_equal(st.sent, 7);   /* 4 counts, the p95 gauge, 2 alert
                                       states */
    assert_string_equal(st.name, "nr");
    assert_string_equal(st.type, "newrelic");
    exporters_free(s);
    config_free(cfg);
    fake_free(&ft);
    clock_free(clk);
}

/* ---- the export section of the configuration -------------------------------------------- */

/* Load text as a configuration file in tmpdir; diagnostics into dl. */
static struct config *load_text(const char *text, struct diag_list *dl)
{
    char *path = xasprintf("%s/seg.conf", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    struct config *cfg = config_load(path, dl);
    unlink(path);
    free(path);
    return cfg;
}

/* Whether a diagnostic's message contains text. */
static bool diag_has(const struct diag_list *dl, const char *text)
{
    for (size_t i = 0; i < dl->n; i++)
        if (strstr(dl->items[i].msg, text))
            return true;
    return false;
}

/* The example of the issue (README.md "Export to your observability
 * tool") as written, and the mistakes `segalert check` reports. */
static void test_config_section(void **state)
{
    (void)state;
    setenv("DD_API_KEY", "dd-key", 1);
    setenv("NR_LICENSE_KEY", "nr-key", 1);
    setenv("INFLUX_TOKEN", "in-token", 1);
    struct diag_list dl = DIAG_LIST_INIT;
    struct config *cfg = load_text(
        "workspace \"prod\" { token = \"x\" }\n"
        "export \"dd\" {\n"
        "  type        = \"datadog\"\n"
        "  url         = \"https://api.datadoghq.com\"\n"
        "  api_version = 2\n"
        "  api_key_env = \"DD_API_KEY\"\n"
        "  prefix      = \"segment.\"\n"
        "  tags        = {\"env:prod\"}\n"
        "  interval    = \"1m\"\n"
        "  workspaces  = {\"*\"}\n"
        "}\n"
        "export \"nr\"     { type = \"newrelic\" url = \"https://metric-api."
        "newrelic.com/metric/v1\"  api_key_env = \"NR_LICENSE_KEY\" }\n"
        "export \"influx\" { type = \"influx\"   url = \"http://127.0.0.1:8086"
        "/write?db=segment\"     token_env = \"INFLUX_TOKEN\" }\n"
        "export \"otel\"   { type = \"otlp\"     url = \"http://127.0.0.1:4318"
        "/v1/metrics\"  headers = {\"Authorization=Bearer abc\"} "
        "buffer = 5000 batch_size = 100 gzip = false timeout = \"3s\" }\n",
        &dl);
    assert_non_null(cfg);
    diag_print(&dl, stderr);
    assert_int_equal(dl.nerrors, 0);
    assert_int_equal(cfg->nexports, 4);
    const struct export_cfg *x = &cfg->exports[0];
    assert_string_equal(x->name, "dd");
    assert_int_equal(x->type, EXPORT_DATADOG);
    assert_int_equal(x->api_version, 2);
    assert_string_equal(x->api_key, "dd-key");
    assert_string_equal(x->prefix, "segment.");
    assert_string_equal(kv_list_get(&x->tags, "env"), "prod");
    assert_true(x->interval_s == 60);
    assert_int_equal(x->workspaces.n, 1);
    assert_true(x->gzip);                       /* the defaults */
    assert_int_equal(x->batch_points, 0);
    assert_true(x->buffer_points > 0);
    x = &cfg->exports[1];
    assert_int_equal(x->type, EXPORT_NEWRELIC);
    assert_string_equal(x->api_key, "nr-key");
    x = &cfg->exports[2];
    assert_int_equal(x->type, EXPORT_INFLUX);
    assert_string_equal(x->token, "in-token");
    assert_null(x->database);
    struct strbuf u = STRBUF_INIT;
    export_intake_of(EXPORT_INFLUX)->url(x, &u);
    assert_string_equal(u.buf,
                        "http://127.0.0.1:8086/write?db=segment&precision=s");
    strbuf_free(&u);
    x = &cfg->exports[3];
    assert_int_equal(x->type, EXPORT_OTLP);
    assert_string_equal(kv_list_get(&x->headers, "Authorization"),
                        "Bearer abc");
    assert_int_equal(x->buffer_points, 5000);
    assert_int_equal(x->batch_points, 100);
    assert_false(x->gzip);
    assert_true(x->timeout_s == 3);
    config_free(cfg);
    diag_list_free(&dl);

    /* mistakes */
    struct diag_list d2 = DIAG_LIST_INIT;
    cfg = load_text(
        "workspace \"prod\" { token = \"x\" }\n"
        "export \"a\" { type = \"datadgo\" }\n"
        "export \"b\" { type = \"influx\" url = \"http://i:8086\" }\n"
        "export \"c\" { type = \"influx\" url = \"http://i/write?u=1\" }\n"
        "export \"d\" { type = \"influx\" url = \"http://i/write?db=x\" "
        "database = \"y\" }\n"
        "export \"e\" { type = \"otlp\" }\n"
        "export \"f\" { type = \"newrelic\" }\n"
        "export \"g/h\" { type = \"otlp\" url = \"http://o\" interval = "
        "\"500ms\" prefix = \"9x\" tags = {\"no-value\"} }\n"
        "export \"i\" { type = \"otlp\" url = \"http://o\" api_key = \"k\" "
        "}\n", &d2);
    assert_non_null(cfg);
    assert_true(diag_has(&d2, "did you mean 'datadog'"));
    assert_true(diag_has(&d2, "influx exporters need database"));
    assert_true(diag_has(&d2, "names no database"));
    assert_true(diag_has(&d2, "not both"));
    assert_true(diag_has(&d2, "url is required for otlp exporters"));
    assert_true(diag_has(&d2, "api_key is required"));
    assert_true(diag_has(&d2, "invalid export name 'g/h'"));
    assert_true(diag_has(&d2, "interval must be at least 1s"));
    assert_true(diag_has(&d2, "invalid prefix '9x'"));
    assert_true(diag_has(&d2, "invalid tag 'no-value'"));
    assert_true(diag_has(&d2, "api_key is not used by otlp exporters"));
    config_free(cfg);
    diag_list_free(&d2);
}

/* ---- gzip -------------------------------------------------------------------------- */

static void test_gzip(void **state)
{
    (void)state;
    struct strbuf in = STRBUF_INIT, out = STRBUF_INIT;
    for (int i = 0; i < 1000; i++)
        strbuf_addf(&in, "segment_connection,source=web successes=%d\n", i);
    assert_int_equal(export_gzip(in.buf, in.len, &out), 0);
    assert_true(out.len < in.len / 4);
    assert_true((unsigned char)out.buf[0] == 0x1f &&
                (unsigned char)out.buf[1] == 0x8b);
    char *back = gunzip(&out);
    assert_string_equal(back, in.buf);
    free(back);
    strbuf_free(&in);
    strbuf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ledger_windows_tile, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ledger_volume_once_final, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ledger_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursor_roundtrip, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_cursor_corrupt_and_symlink,
                                        setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_encode_datadog_v2, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_encode_datadog_v1, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_encode_newrelic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode_influx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode_otlp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intake_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_otlp_verdicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exporter_sends_batches,
                                        setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_exporter_failures, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_exporter_too_old, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_exporters_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_section, setup_dir,
                                        teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
