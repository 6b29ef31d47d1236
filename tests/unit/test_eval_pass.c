/* test_eval_pass.c - one evaluation pass over several rules, families and
 * series: events and instances come in rule order, then series order
 * (whatever order the pass reads the store in); a series id reused after
 * an expiry finds its own instance; windows read once through the memo
 * give what separate reads give. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/diag.h"
#include "engine/eval.h"
#include "engine/expr.h"
#include "engine/labels.h"
#include "engine/metrics.h"
#include "engine/rules.h"
#include "engine/store.h"

/* Rules of two families, interleaved in file order. */
static const char RULES[] =
    "rule \"conn-a\" {\n"
    "  expr = \"discarded > 0\"\n"
    "  for  = \"0s\"\n"
    "}\n"
    "rule \"src\" {\n"
    "  expr = \"sum(event_volume, 15m) > 0\"\n"
    "  for  = \"0s\"\n"
    "}\n"
    "rule \"conn-b\" {\n"
    "  expr = \"sum(discarded, 15m) > 0 and count(discarded, 15m) >= 1\"\n"
    "  warn = \"avg(discarded, 15m) > 0\"\n"
    "  for  = \"0s\"\n"
    "}\n";

#define T0 1767225600.0
#define NCONN 3
#define NSRC 2

struct world {
    struct config *cfg;
    struct ruleset *rs;
    struct label_pool *pool;
    struct store *st;
    struct evaluator *ev;
};

static void world_open(struct world *w)
{
    char path[] = "/tmp/test_eval_pass.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(RULES, f);
    fclose(f);
    struct diag_list dl = { 0 };
    w->cfg = config_new_defaults();
    assert_int_equal(config_load_rule_file(w->cfg, path, &dl), 0);
    unlink(path);
    w->rs = ruleset_compile(w->cfg, &dl);
    assert_int_equal(dl.nerrors, 0);
    diag_list_free(&dl);
    struct store_limits lim = { 0 };
    lim.retention_s[FAM_CONNECTION] = lim.retention_s[FAM_SOURCE] = 3600;
    w->pool = label_pool_new();
    w->st = store_new(&lim);
    w->ev = evaluator_new(w->rs, w->cfg, w->pool);
}

static void world_close(struct world *w)
{
    evaluator_free(w->ev);
    store_free(w->st);
    label_pool_free(w->pool);
    ruleset_free(w->rs);
    config_free(w->cfg);
}

static const struct labelset *labels(struct world *w, const char *key,
                                     const char *value)
{
    struct labels_builder b;
    labels_builder_init(&b, w->pool);
    labels_builder_add(&b, "workspace", "ws");
    labels_builder_add(&b, key, value);
    const struct labelset *ls = labels_builder_finish(&b);
    labels_builder_free(&b);
    return ls;
}

static void add(struct world *w, enum family fam, const struct labelset *ls,
                double t, double x)
{
    double v[M__COUNT] = { 0 };
    bool has[M__COUNT] = { false };
    enum metric_id m = fam == FAM_SOURCE ? M_EVENT_VOLUME : M_DISCARDED;
    v[m] = x;
    has[m] = true;
    store_add(w->st, store_get_or_add(w->st, fam, ls), t, v, has);
}

/* "rule:label" of an instance */
static void name_of(const struct eval_instance *in, char *buf, size_t len)
{
    const char *v = labelset_get(in->series_labels, "destination");
    if (!v)
        v = labelset_get(in->series_labels, "source");
    snprintf(buf, len, "%s:%s", in->rule->cfg->name, v);
}

static void test_order_rule_then_series(void **state)
{
    (void)state;
    struct world w = { 0 };
    world_open(&w);
    const char *dst[NCONN] = { "d0", "d1", "d2" };
    const char *src[NSRC] = { "s0", "s1" };
    /* series created interleaved across families */
    for (int i = 0; i < NCONN; i++) {
        add(&w, FAM_CONNECTION, labels(&w, "destination", dst[i]), T0, 5);
        if (i < NSRC)
            add(&w, FAM_SOURCE, labels(&w, "source", src[i]), T0, 7);
    }
    const char *want[] = { "conn-a:d0", "conn-a:d1", "conn-a:d2",
                           "src:s0", "src:s1",
                           "conn-b:d0", "conn-b:d1", "conn-b:d2" };
    const struct eval_event *evs;
    size_t n = evaluator_run(w.ev, w.st, T0 + 10, NULL, &evs);
    assert_int_equal(n, ARRAY_SIZE(want));
    char got[64];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(evs[i].ev.kind, ALERT_EV_FIRING);
        name_of(evs[i].inst, got, sizeof(got));
        assert_string_equal(got, want[i]);
    }
    struct eval_instance *const *all;
    assert_int_equal(evaluator_instances(w.ev, &all), ARRAY_SIZE(want));
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        name_of(all[i], got, sizeof(got));
        assert_string_equal(got, want[i]);
    }

    /* A later pass: new series' instances come after the old ones, in
     * rule order; their events too. */
    add(&w, FAM_SOURCE, labels(&w, "source", "s2"), T0 + 20, 1);
    add(&w, FAM_CONNECTION, labels(&w, "destination", "d3"), T0 + 20, 1);
    n = evaluator_run(w.ev, w.st, T0 + 30, NULL, &evs);
    const char *want2[] = { "conn-a:d3", "src:s2", "conn-b:d3" };
    assert_int_equal(n, ARRAY_SIZE(want2));
    for (size_t i = 0; i < n; i++) {
        name_of(evs[i].inst, got, sizeof(got));
        assert_string_equal(got, want2[i]);
    }
    assert_int_equal(evaluator_instances(w.ev, &all), ARRAY_SIZE(want) + 3);
    for (size_t i = 0; i < ARRAY_SIZE(want2); i++) {
        name_of(all[ARRAY_SIZE(want) + i], got, sizeof(got));
        assert_string_equal(got, want2[i]);
    }
    world_close(&w);
}

static void test_reused_series_id(void **state)
{
    (void)state;
    struct world w = { 0 };
    world_open(&w);
    const struct labelset *a = labels(&w, "destination", "a");
    const struct labelset *b = labels(&w, "destination", "b");
    add(&w, FAM_CONNECTION, a, T0, 5);
    const struct eval_event *evs;
    assert_int_equal(evaluator_run(w.ev, w.st, T0 + 10, NULL, &evs), 2);
    size_t id_a = series_id(store_find(w.st, FAM_CONNECTION, a));
    /* a leaves the store; b takes its id and has no discards */
    assert_int_equal(store_expire(w.st, T0 + 1000, 500), 1);
    add(&w, FAM_CONNECTION, b, T0 + 1000, 0);
    assert_int_equal(series_id(store_find(w.st, FAM_CONNECTION, b)), id_a);
    evaluator_run(w.ev, w.st, T0 + 1010, NULL, &evs);
    struct eval_instance *ib = evaluator_find(w.ev, "conn-a", b);
    struct eval_instance *ia = evaluator_find(w.ev, "conn-a", a);
    assert_non_null(ib);
    assert_non_null(ia);
    assert_ptr_not_equal(ia, ib);
    assert_ptr_equal(ib->series_labels, b);
    assert_int_equal(ib->st.state, ALERT_INACTIVE);
    /* a's instance is the one whose series left: no data, not b's 0 */
    assert_true(ia->seen_pass != ib->seen_pass);
    world_close(&w);
}

static void test_memo_gives_what_reads_give(void **state)
{
    (void)state;
    struct world w = { 0 };
    world_open(&w);
    const struct labelset *ls = labels(&w, "destination", "a");
    for (int i = 0; i < 12; i++)
        add(&w, FAM_CONNECTION, ls, T0 + 60 * i, i % 4 ? 0.5 * i : NAN);
    const struct series *s = store_find(w.st, FAM_CONNECTION, ls);
    static const char *const exprs[] = {
        "sum(discarded, 5m) + sum(discarded, 5m)",
        "avg(discarded, 5m) * count(discarded, 5m) - sum(discarded, 5m)",
        "max(discarded, 5m) - min(discarded, 5m, 1m) + last(discarded, 5m)",
        "delta(discarded, 10m) + rate(discarded, 10m) + sum(successes, 5m)",
        "count(discarded, 5m) + sum(discarded, 1h, 1m)",
    };
    struct expr_memo memo;
    expr_memo_reset(&memo);
    for (size_t i = 0; i < ARRAY_SIZE(exprs); i++) {
        struct expr_error err;
        struct expr *e = expr_compile(exprs[i], NULL, &err);
        assert_non_null(e);
        double now = T0 + 660;
        struct expr_result plain = expr_eval(e, s, now, NULL);
        /* shared with the expressions before it */
        struct expr_result shared = expr_eval_memo(e, s, now, NULL, &memo);
        assert_memory_equal(&plain.value, &shared.value, sizeof(double));
        assert_int_equal(plain.cond, shared.cond);
        assert_int_equal(plain.nodata, shared.nodata);
        expr_free(e);
    }
    assert_true(memo.n > 0 && memo.n < 12);
    world_close(&w);
}

static void test_store_history_from_rules(void **state)
{
    (void)state;
    struct world w = { 0 };
    world_open(&w);
    struct store_limits lim = { 0 };
    lim.retention_s[FAM_CONNECTION] = 7200;
    lim.retention_s[FAM_SOURCE] = 3600;
    double slack[FAM__COUNT] = { [FAM_CONNECTION] = 60, [FAM_SOURCE] = 30 };
    /* discarded: 15m windows (and the value metric of both conn rules) */
    ruleset_store_history(w.rs, slack, 0, &lim);
    assert_true(lim.history_s[M_DISCARDED] == 900 + 60);
    assert_true(lim.history_s[M_EVENT_VOLUME] == 900 + 30);
    assert_true(lim.history_s[M_SUCCESSES] == STORE_LATEST_ONLY);
    assert_true(lim.history_s[M_MTU] == STORE_LATEST_ONLY);
    /* a sparkline window for value metrics, within the retention */
    ruleset_store_history(w.rs, slack, 3600, &lim);
    assert_true(lim.history_s[M_DISCARDED] == 3600);
    assert_true(lim.history_s[M_EVENT_VOLUME] == 3600);
    ruleset_store_history(w.rs, slack, 6 * 3600, &lim);
    assert_true(lim.history_s[M_DISCARDED] == 7200);
    assert_true(lim.history_s[M_SUCCESSES] == STORE_LATEST_ONLY);
    world_close(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_rule_then_series),
        cmocka_unit_test(test_reused_series_id),
        cmocka_unit_test(test_memo_gives_what_reads_give),
        cmocka_unit_test(test_store_history_from_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
