/* test_eval.c - the evaluator across a restart: instances saved as JSON
 * and restored into a fresh store never judge data older than they
 * already judged. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config/config.h"
#include "core/diag.h"
#include "engine/alert_json.h"
#include "engine/eval.h"
#include "engine/labels.h"
#include "engine/metrics.h"
#include "engine/rules.h"
#include "engine/store.h"

static const char RULES[] =
    "rule \"discards\" {\n"
    "  expr    = \"discard_ratio > 2% and attempted >= 100\"\n"
    "  recover = \"discard_ratio < 0.2% or attempted < 100\"\n"
    "  for     = \"0s\"\n"
    "  severity = \"critical\"\n"
    "}\n";

struct world {
    struct config *cfg;
    struct ruleset *rs;
    struct label_pool *pool;
    struct store *st;
    struct evaluator *ev;
    const struct labelset *conn;
};

static void world_open(struct world *w)
{
    char path[] = "/tmp/test_eval.XXXXXX";
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
    assert_non_null(w->rs);
    diag_list_free(&dl);
    w->pool = label_pool_new();
    w->st = store_new(NULL);
    struct labels_builder b;
    labels_builder_init(&b, w->pool);
    labels_builder_add(&b, "workspace", "ws");
    labels_builder_add(&b, "source", "web");
    labels_builder_add(&b, "destination", "amplitude");
    w->conn = labels_builder_finish(&b);
    labels_builder_free(&b);
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

/* One delivery window ending at t: 1,000 attempted, `discarded` lost. */
static void poll_at(struct world *w, double t, double discarded)
{
    double v[M__COUNT] = { 0 };
    bool has[M__COUNT] = { false };
    v[M_SUCCESSES] = 1000 - discarded;
    v[M_DISCARDED] = discarded;
    v[M_EXPIRED] = 0;
    has[M_SUCCESSES] = has[M_DISCARDED] = has[M_EXPIRED] = true;
    metrics_derive(v, has);
    store_add(w->st, store_get_or_add(w->st, FAM_CONNECTION, w->conn), t, v,
              has);
}

/* Run a pass at now; the kinds of the events, in a string ("F", "R"). */
static const char *run(struct world *w, double now, char out[8])
{
    const struct eval_event *evs;
    size_t n = evaluator_run(w->ev, w->st, now, NULL, &evs);
    size_t k = 0;
    for (size_t i = 0; i < n && k < 7; i++)
        out[k++] = evs[i].ev.kind == ALERT_EV_RESOLVED ? 'R'
                   : evs[i].ev.kind == ALERT_EV_FIRING ? 'F'
                                                       : '?';
    out[k] = '\0';
    return out;
}

static void test_restart_does_not_judge_the_past_again(void **state)
{
    (void)state;
    const double T0 = 1767225600;    /* 2026-01-01T00:00:00Z */
    char ev[8];
    struct world a = { 0 };
    world_open(&a);
    poll_at(&a, T0, 1);
    assert_string_equal(run(&a, T0 + 5, ev), "");
    poll_at(&a, T0 + 40, 200);          /* the incident: 20 % lost */
    assert_string_equal(run(&a, T0 + 45, ev), "F");

    /* Save the instance as the daemon does, then restore it into a fresh
     * evaluator whose store starts empty. */
    struct eval_instance *in = evaluator_find(a.ev, "discards", a.conn);
    assert_non_null(in);
    assert_true(in->st.data_through == T0 + 40);
    cJSON *j = alert_instance_to_json(&in->st);
    world_close(&a);

    struct world b = { 0 };
    world_open(&b);
    struct alert_instance saved;
    char err[200];
    assert_int_equal(alert_instance_from_json(j, &saved, err, sizeof(err)),
                     0);
    cJSON_Delete(j);
    assert_non_null(evaluator_restore(b.ev, "discards", b.conn, &saved));

    /* The first poll after the restart ends earlier than the last one
     * before it (its window ends where event volume is known): no news. */
    poll_at(&b, T0 + 0, 1);
    assert_string_equal(run(&b, T0 + 50, ev), "");
    in = evaluator_find(b.ev, "discards", b.conn);
    assert_int_equal(in->st.state, ALERT_FIRING);
    /* Still inside the incident, newer: still firing, nothing sent. */
    poll_at(&b, T0 + 45, 150);
    assert_string_equal(run(&b, T0 + 55, ev), "");
    /* Newer data that recovers resolves, once. */
    poll_at(&b, T0 + 100, 1);
    assert_string_equal(run(&b, T0 + 105, ev), "R");
    assert_string_equal(run(&b, T0 + 110, ev), "");
    world_close(&b);
}

/* A state file written before data_through existed still loads; the
 * instance then judges whatever comes first, as it used to. */
static void test_old_state_without_data_through(void **state)
{
    (void)state;
    struct alert_instance in;
    alert_instance_init(&in, 100);
    in.data_through = 90;
    cJSON *j = alert_instance_to_json(&in);
    cJSON_DeleteItemFromObject(j, "data_through");
    struct alert_instance back;
    char err[200];
    assert_int_equal(alert_instance_from_json(j, &back, err, sizeof(err)), 0);
    assert_true(back.data_through == 0);
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_does_not_judge_the_past_again),
        cmocka_unit_test(test_old_state_without_data_through),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
