/*
 * test_alert.c - the alert instance state machine (alert.h).
 *
 * Most tests are timelines: a list of (t, verdict) steps, each with the
 * state expected after the step and the events it must emit, written as
 * a short string so a failure prints both sides readably:
 *
 *   verdict letters: c = crit, w = warn, r = recovered, n = no data,
 *                    d = api down, "-" = nothing holds
 *   events: "firing:critical", "firing:critical:nodata", "resolved:warning",
 *           "severity:warning>critical", "flap_start", "flap_stop",
 *           space separated, "" for none
 *
 * Every step's verdict value is 100 + t (NAN with no data), and every event
 * must carry the step's time and value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/alert.h"
#include "core/util.h"

#define T0 1700000000.0

struct tl_step {
    double t;                   /* seconds after T0 */
    const char *v;              /* verdict letters */
    enum alert_state want;      /* state after the step */
    const char *events;         /* expected events */
};

static struct alert_params params(double for_s, double keep_s)
{
    struct alert_params p = {
        .for_s = for_s,
        .keep_firing_for_s = keep_s,
        .no_data = NODATA_KEEP,
        .no_data_after_s = 1800,
    };
    return p;
}

static struct alert_verdict verdict(const char *letters, double t)
{
    struct alert_verdict v = { .value = 100 + t };

    for (const char *c = letters; *c; c++) {
        switch (*c) {
        case 'c': v.crit = true; break;
        case 'w': v.warn = true; break;
        case 'r': v.recovered = true; break;
        case 'n': v.nodata = true; v.value = NAN; break;
        case 'd': v.api_down = true; break;
        case '-': break;
        default: fail_msg("bad verdict letter '%c'", *c);
        }
    }
    return v;
}

static void format_events(struct strbuf *sb, const struct alert_event *ev,
                          int n)
{
    strbuf_reset(sb);
    strbuf_adds(sb, "");
    for (int i = 0; i < n; i++) {
        const struct alert_event *e = &ev[i];
        if (i > 0)
            strbuf_addc(sb, ' ');
        strbuf_adds(sb, alert_event_kind_name(e->kind));
        switch (e->kind) {
        case ALERT_EV_FIRING:
            strbuf_addf(sb, ":%s%s", alert_severity_name(e->severity),
                        e->nodata ? ":nodata" : "");
            break;
        case ALERT_EV_RESOLVED:
            strbuf_addf(sb, ":%s", alert_severity_name(e->severity));
            break;
        case ALERT_EV_SEVERITY:
            strbuf_addf(sb, ":%s>%s", alert_severity_name(e->old_severity),
                        alert_severity_name(e->severity));
            break;
        default:
            break;
        }
    }
}

/* Run steps on in (already initialised); fails naming the step. */
static void run_steps(struct alert_instance *in, const struct alert_params *p,
                      const struct tl_step *steps, size_t n)
{
    struct strbuf sb = STRBUF_INIT;

    for (size_t i = 0; i < n; i++) {
        const struct tl_step *s = &steps[i];
        struct alert_verdict v = verdict(s->v, s->t);
        struct alert_event ev[ALERT_STEP_MAX_EVENTS];
        double now = T0 + s->t;
        int nev = alert_step(in, p, &v, now, ev, ALERT_STEP_MAX_EVENTS);

        assert_in_range(nev, 0, ALERT_STEP_MAX_EVENTS);
        format_events(&sb, ev, nev);
        if (in->state != s->want || strcmp(sb.buf, s->events) != 0) {
            char got[256];
            snprintf(got, sizeof(got), "%s", sb.buf);
            strbuf_free(&sb);
            fail_msg("step %zu (t=%g, '%s'): state %s events \"%s\", "
                     "want state %s events \"%s\"", i, s->t, s->v,
                     alert_state_name(in->state), got,
                     alert_state_name(s->want), s->events);
        }
        for (int k = 0; k < nev; k++) {
            assert_true(ev[k].at == now);
            if (v.nodata)
                assert_true(isnan(ev[k].value));
            else
                assert_true(ev[k].value == v.value);
        }
        assert_true(in->last_eval_at == now);
    }
    strbuf_free(&sb);
}

static struct alert_instance timeline(const struct alert_params *p,
                                      const struct tl_step *steps, size_t n)
{
    struct alert_instance in;

    alert_instance_init(&in, T0);
    run_steps(&in, p, steps, n);
    return in;
}

#define TIMELINE(p, steps) timeline((p), (steps), ARRAY_SIZE(steps))

/* ---- basic transitions -------------------------------------------------- */

static void test_for_zero_fires_at_once(void **state)
{
    struct alert_params p = params(0, 0);
    const struct tl_step steps[] = {
        { 0,   "-", ALERT_INACTIVE, "" },
        { 60,  "c", ALERT_FIRING, "firing:critical" },
        { 120, "c", ALERT_FIRING, "" },
        { 180, "-", ALERT_INACTIVE, "resolved:critical" },
        { 240, "-", ALERT_INACTIVE, "" },
    };
    struct alert_instance in = TIMELINE(&p, steps);

    assert_true(in.active_at == T0 + 60);
    assert_true(in.fired_at == T0 + 60);
    assert_true(in.resolved_at == T0 + 180);
    assert_true(in.last_true_at == T0 + 120);
    assert_int_equal(in.severity, ALERT_SEV_NONE);
    assert_false(in.announced_firing);
}

static void test_for_pending_then_firing(void **state)
{
    struct alert_params p = params(600, 0);
    const struct tl_step steps[] = {
        { 0,   "c", ALERT_PENDING, "" },
        { 300, "c", ALERT_PENDING, "" },
        { 599, "c", ALERT_PENDING, "" },
        { 600, "c", ALERT_FIRING, "firing:critical" },
        { 900, "c", ALERT_FIRING, "" },
    };
    struct alert_instance in = TIMELINE(&p, steps);

    /* active_at is kept from pending to firing */
    assert_true(in.active_at == T0);
    assert_true(in.fired_at == T0 + 600);
    assert_string_equal(alert_state_name(in.state), "firing");
}

static void test_firing_event_carries_active_at(void **state)
{
    struct alert_params p = params(300, 0);
    struct alert_instance in;
    struct alert_event ev[ALERT_STEP_MAX_EVENTS];
    struct alert_verdict v = verdict("c", 0);

    alert_instance_init(&in, T0);
    assert_int_equal(alert_step(&in, &p, &v, T0 + 15, ev, 4), 0);
    v = verdict("c", 400);
    assert_int_equal(alert_step(&in, &p, &v, T0 + 400, ev, 4), 1);
    assert_int_equal(ev[0].kind, ALERT_EV_FIRING);
    assert_true(ev[0].active_at == T0 + 15);
    assert_true(ev[0].at == T0 + 400);
    assert_true(ev[0].value == 500);
    assert_int_equal(ev[0].old_severity, ALERT_SEV_NONE);
    assert_false(ev[0].nodata);
}

static void test_pending_then_false_is_silent(void **state)
{
    struct alert_params p = params(600, 0);
    const struct tl_step steps[] = {
        { 0,   "c", ALERT_PENDING, "" },
        { 300, "-", ALERT_INACTIVE, "" },
        /* a new episode starts its own `for` */
        { 400, "c", ALERT_PENDING, "" },
        { 900, "c", ALERT_PENDING, "" },
        { 1000, "c", ALERT_FIRING, "firing:critical" },
    };
    struct alert_instance in = TIMELINE(&p, steps);

    assert_true(in.active_at == T0 + 400);
    assert_true(in.resolved_at == 0);   /* never resolved: never fired */
}

static void test_keep_firing_for_bridges_gap(void **state)
{
    struct alert_params p = params(0, 300);
    const struct tl_step steps[] = {
        { 0,   "c", ALERT_FIRING, "firing:critical" },
        { 60,  "-", ALERT_FIRING, "" },
        { 240, "-", ALERT_FIRING, "" },
        { 300, "c", ALERT_FIRING, "" },      /* back within the window */
        { 500, "-", ALERT_FIRING, "" },
        { 599, "-", ALERT_FIRING, "" },
        { 600, "-", ALERT_INACTIVE, "resolved:critical" },
    };
    struct alert_instance in = TIMELINE(&p, steps);

    assert_true(in.fired_at == T0);     /* one episode throughout */
    assert_true(in.last_true_at == T0 + 300);
    assert_true(in.resolved_at == T0 + 600);
}

/* ---- recover hysteresis ------------------------------------------------- */

static void test_recover_hysteresis(void **state)
{
    struct alert_params p = params(0, 0);
    p.has_recover = true;
    const struct tl_step steps[] = {
        { 0,   "c",  ALERT_FIRING, "firing:critical" },
        { 60,  "-",  ALERT_FIRING, "" },    /* not crit, not recovered */
        { 120, "-",  ALERT_FIRING, "" },
        { 180, "cr", ALERT_FIRING, "" },    /* recover overlapping crit */
        { 240, "r",  ALERT_INACTIVE, "resolved:critical" },
        { 300, "r",  ALERT_INACTIVE, "" },
        { 360, "-",  ALERT_INACTIVE, "" },  /* recover only gates firing */
    };
    struct alert_instance in = TIMELINE(&p, steps);

    assert_true(in.resolved_at == T0 + 240);
}

static void test_recover_ignored_without_recover_expr(void **state)
{
    struct alert_params p = params(0, 0);
    const struct tl_step steps[] = {
        { 0,  "c", ALERT_FIRING, "firing:critical" },
        { 60, "-", ALERT_INACTIVE, "resolved:critical" },
    };

    TIMELINE(&p, steps);
}

static void test_recover_and_keep_firing_for_both_apply(void **state)
{
    struct alert_params p = params(0, 300);
    p.has_recover = true;
    const struct tl_step steps[] = {
        { 0,   "c", ALERT_FIRING, "firing:critical" },
        { 60,  "r", ALERT_FIRING, "" },     /* recovered, but keep 5m */
        { 299, "r", ALERT_FIRING, "" },
        { 300, "-", ALERT_FIRING, "" },     /* kept, but not recovered */
        { 360, "r", ALERT_INACTIVE, "resolved:critical" },
    };

    TIMELINE(&p, steps);
}

/* ---- tiers -------------------------------------------------------------- */

static void test_warn_tier_only(void **state)
{
    struct alert_params p = params(120, 0);
    p.has_warn = true;
    const struct tl_step steps[] = {
        { 0,   "w", ALERT_PENDING, "" },
        { 120, "w", ALERT_FIRING, "firing:warning" },
        { 180, "-", ALERT_INACTIVE, "resolved:warning" },
    };
    struct alert_instance in = TIMELINE(&p, steps);

    assert_string_equal(alert_severity_label(ALERT_SEV_WARNING, "page"),
                        "warning");
    assert_int_equal(in.announced_severity, ALERT_SEV_NONE);
}

static void test_warn_ignored_without_warn_expr(void **state)
{
    struct alert_params p = params(0, 0);
    const struct tl_step steps[] = {
        { 0,  "w", ALERT_INACTIVE, "" },
        { 60, "cw", ALERT_FIRING, "firing:critical" },
        { 120, "w", ALERT_INACTIVE, "resolved:critical" },
    };

    TIMELINE(&p, steps);
}

static void test_warn_crit_warn_changes(void **state)
{
    struct alert_params p = params(120, 0);
    p.has_warn = true;
    const struct tl_step steps[] = {
        /* tier changes while pending are not announced; `for` counts
         * from the first tier and the fire uses the tier at that time */
        { 0,   "w",  ALERT_PENDING, "" },
        { 60,  "cw", ALERT_PENDING, "" },
        { 90,  "w",  ALERT_PENDING, "" },
        { 120, "cw", ALERT_FIRING, "firing:critical" },
        { 180, "w",  ALERT_FIRING, "severity:critical>warning" },
        { 240, "w",  ALERT_FIRING, "" },
        { 300, "cw", ALERT_FIRING, "severity:warning>critical" },
        { 360, "c",  ALERT_FIRING, "" },     /* crit alone: still crit */
        { 420, "-",  ALERT_INACTIVE, "resolved:critical" },
    };
    struct alert_instance in = TIMELINE(&p, steps);

    assert_true(in.active_at == T0);
    assert_true(in.fired_at == T0 + 120);
}

static void test_severity_kept_during_keep_firing_for(void **state)
{
    struct alert_params p = params(0, 600);
    p.has_warn = true;
    const struct tl_step steps[] = {
        { 0,   "c", ALERT_FIRING, "firing:critical" },
        { 60,  "-", ALERT_FIRING, "" },      /* last tier kept */
        { 120, "w", ALERT_FIRING, "severity:critical>warning" },
        { 180, "-", ALERT_FIRING, "" },
        { 780, "-", ALERT_INACTIVE, "resolved:warning" },
    };
    struct alert_instance in = TIMELINE(&p, steps);

    assert_true(in.last_true_at == T0 + 120);
}

static void test_severity_event_fields(void **state)
{
    struct alert_params p = params(0, 0);
    struct alert_instance in;
    struct alert_event ev[ALERT_STEP_MAX_EVENTS];
    struct alert_verdict v = verdict("w", 0);

    p.has_warn = true;
    alert_instance_init(&in, T0);
    assert_int_equal(alert_step(&in, &p, &v, T0, ev, 4), 1);
    assert_int_equal(ev[0].severity, ALERT_SEV_WARNING);
    v = verdict("c", 30);
    v.value = 7.5;
    assert_int_equal(alert_step(&in, &p, &v, T0 + 30, ev, 4), 1);
    assert_int_equal(ev[0].kind, ALERT_EV_SEVERITY);
    assert_int_equal(ev[0].old_severity, ALERT_SEV_WARNING);
    assert_int_equal(ev[0].severity, ALERT_SEV_CRITICAL);
    assert_true(ev[0].value == 7.5);
    assert_true(ev[0].at == T0 + 30);
    assert_true(ev[0].active_at == T0);
    assert_true(in.value == 7.5);
}

/* ---- no data ------------------------------------------------------------ */

static void test_nodata_keep(void **state)
{
    struct alert_params p = params(0, 0);
    p.no_data = NODATA_KEEP;
    p.no_data_after_s = 600;
    const struct tl_step steps[] = {
        { 0,    "c", ALERT_FIRING, "firing:critical" },
        { 300,  "n", ALERT_FIRING, "" },
        { 600,  "n", ALERT_FIRING, "" },
        { 3600, "n", ALERT_FIRING, "" },
        { 3660, "-", ALERT_INACTIVE, "resolved:critical" },
    };
    struct alert_instance in = TIMELINE(&p, steps);

    assert_true(in.last_data_at == T0 + 3660);
    assert_true(in.nodata_s == 0);
}

static void test_nodata_ok(void **state)
{
    struct alert_params p = params(0, 0);
    p.no_data = NODATA_OK;
    p.no_data_after_s = 600;
    const struct tl_step steps[] = {
        { 0,   "c", ALERT_FIRING, "firing:critical" },
        { 300, "n", ALERT_FIRING, "" },
        { 599, "n", ALERT_FIRING, "" },      /* 599 s without data */
        { 600, "n", ALERT_INACTIVE, "resolved:critical" },
        { 900, "n", ALERT_INACTIVE, "" },
        { 960, "c", ALERT_FIRING, "firing:critical" },
    };
    struct alert_instance in = TIMELINE(&p, steps);

    assert_true(in.resolved_at == T0 + 600);
    assert_true(in.fired_at == T0 + 960);
}

static void test_nodata_ok_drops_pending(void **state)
{
    struct alert_params p = params(3600, 0);
    p.no_data = NODATA_OK;
    p.no_data_after_s = 600;
    const struct tl_step steps[] = {
        { 0,    "c", ALERT_PENDING, "" },
        { 60,   "n", ALERT_PENDING, "" },
        { 660,  "n", ALERT_INACTIVE, "" },   /* silently: never fired */
        { 720,  "c", ALERT_PENDING, "" },
        { 4320, "c", ALERT_FIRING, "firing:critical" },
    };
    struct alert_instance in = TIMELINE(&p, steps);

    assert_true(in.active_at == T0 + 720);
}

static void test_nodata_pending_held_keeps_for_clock(void **state)
{
    /* before no_data_after, a pending instance holds, and its `for` keeps
     * counting from active_at: data that returns still holding fires */
    struct alert_params p = params(600, 0);
    const struct tl_step steps[] = {
        { 0,   "c", ALERT_PENDING, "" },
        { 300, "n", ALERT_PENDING, "" },
        { 700, "n", ALERT_PENDING, "" },     /* no fire without data */
        { 760, "c", ALERT_FIRING, "firing:critical" },
    };
    struct alert_instance in = TIMELINE(&p, steps);

    assert_true(in.active_at == T0);
}

static void test_nodata_alert_fires_after_threshold(void **state)
{
    struct alert_params p = params(600, 0);
    p.no_data = NODATA_ALERT;
    p.no_data_after_s = 1800;
    const struct tl_step steps[] = {
        { 0,    "-", ALERT_INACTIVE, "" },
        { 60,   "n", ALERT_INACTIVE, "" },
        /* counted from the last data, at t = 0 */
        { 1799, "n", ALERT_INACTIVE, "" },
        /* no `for`: no_data_after is the delay */
        { 1800, "n", ALERT_FIRING, "firing:critical:nodata" },
        { 2400, "n", ALERT_FIRING, "" },
    };
    struct alert_instance in = TIMELINE(&p, steps);

    assert_true(in.nodata);
    assert_string_equal(alert_display_state(&in), "nodata");
    assert_true(in.active_at == T0 + 1800);
    assert_true(in.fired_at == T0 + 1800);
    assert_true(in.last_data_at == T0);
    assert_true(isnan(in.value));
    assert_true(in.nodata_s == 2400);
}

static void test_nodata_never_had_data_counts_from_creation(void **state)
{
    struct alert_params p = params(0, 0);
    struct alert_instance in;
    p.no_data = NODATA_ALERT;
    p.no_data_after_s = 600;
    const struct tl_step steps[] = {
        { 300, "n", ALERT_INACTIVE, "" },
        { 599, "n", ALERT_INACTIVE, "" },
        { 600, "n", ALERT_FIRING, "firing:critical:nodata" },
    };

    in = TIMELINE(&p, steps);
    assert_true(in.last_data_at == 0);
}

static void test_nodata_alert_resolved_when_data_returns(void **state)
{
    /* the condition never fired it: keep_firing_for and recover do not
     * apply when data comes back without the condition */
    struct alert_params p = params(0, 3600);
    p.has_recover = true;
    p.no_data = NODATA_ALERT;
    p.no_data_after_s = 600;
    const struct tl_step steps[] = {
        { 0,   "-", ALERT_INACTIVE, "" },
        { 300, "n", ALERT_INACTIVE, "" },
        { 600, "n", ALERT_FIRING, "firing:critical:nodata" },
        { 660, "-", ALERT_INACTIVE, "resolved:critical" },
        { 720, "-", ALERT_INACTIVE, "" },
    };
    struct alert_instance in = TIMELINE(&p, steps);

    assert_false(in.nodata);
    assert_true(in.resolved_at == T0 + 660);
}

static void test_nodata_alert_data_returns_still_holding(void **state)
{
    struct alert_params p = params(0, 0);
    p.has_warn = true;
    p.no_data = NODATA_ALERT;
    p.no_data_after_s = 600;
    const struct tl_step steps[] = {
        { 0,    "w", ALERT_FIRING, "firing:warning" },
        /* a firing instance losing data gets the critical tier */
        { 600,  "n", ALERT_FIRING, "severity:warning>critical" },
        { 660,  "w", ALERT_FIRING, "severity:critical>warning" },
        { 720,  "-", ALERT_INACTIVE, "resolved:warning" },
    };
    struct alert_instance in = TIMELINE(&p, steps);

    assert_true(in.fired_at == T0);
    assert_false(in.nodata);
}

static void test_nodata_alert_then_crit_keeps_episode(void **state)
{
    struct alert_params p = params(0, 0);
    struct alert_instance in;
    p.no_data = NODATA_ALERT;
    p.no_data_after_s = 60;
    const struct tl_step steps[] = {
        { 60,  "n", ALERT_FIRING, "firing:critical:nodata" },
        { 120, "c", ALERT_FIRING, "" },      /* same tier: no event */
    };

    in = TIMELINE(&p, steps);
    assert_false(in.nodata);
    assert_string_equal(alert_display_state(&in), "firing");
    assert_true(in.fired_at == T0 + 60);
    assert_true(in.last_true_at == T0 + 120);
}

/* ---- api down ----------------------------------------------------------- */

static void test_api_down_freezes(void **state)
{
    struct alert_params p = params(600, 0);
    p.no_data = NODATA_OK;
    p.no_data_after_s = 600;
    const struct tl_step steps[] = {
        { 0,    "c", ALERT_PENDING, "" },
        { 300,  "n", ALERT_PENDING, "" },    /* 300 s without data */
        /* an hour of outage: no transition, no no_data progress, even
         * though `for` would have elapsed */
        { 360,  "d", ALERT_PENDING, "" },
        { 1800, "d", ALERT_PENDING, "" },
        { 3900, "d", ALERT_PENDING, "" },
        /* 3900..4100 counts: 300 + 200 = 500 < 600 */
        { 4100, "n", ALERT_PENDING, "" },
        { 4200, "n", ALERT_INACTIVE, "" },   /* 600 reached */
    };
    struct alert_instance in = TIMELINE(&p, steps);

    assert_true(in.nodata_s == 600);
    assert_true(in.last_data_at == T0);
}

static void test_api_down_keeps_firing_and_value(void **state)
{
    struct alert_params p = params(0, 0);
    struct alert_instance in;
    const struct tl_step steps[] = {
        { 0,   "c", ALERT_FIRING, "firing:critical" },
        { 60,  "d", ALERT_FIRING, "" },
        /* letters after d are ignored: the verdict is not trusted */
        { 120, "d-", ALERT_FIRING, "" },
        { 180, "-", ALERT_INACTIVE, "resolved:critical" },
    };

    alert_instance_init(&in, T0);
    run_steps(&in, &p, steps, 3);
    assert_true(in.value == 100);        /* from t = 0 */
    assert_int_equal(in.flap_count, 1);  /* outages are not observations */
    assert_true(in.last_eval_at == T0 + 120);
    run_steps(&in, &p, steps + 3, 1);
}

static void test_api_down_pending_fires_after_outage(void **state)
{
    struct alert_params p = params(600, 0);
    const struct tl_step steps[] = {
        { 0,    "c", ALERT_PENDING, "" },
        { 60,   "d", ALERT_PENDING, "" },
        { 1200, "d", ALERT_PENDING, "" },
        { 1260, "c", ALERT_FIRING, "firing:critical" },
    };
    struct alert_instance in = TIMELINE(&p, steps);

    assert_true(in.active_at == T0);
}

/* ---- flap detection ----------------------------------------------------- */

/* Steps 60 s apart, step i (1-based) at t = 60 * (i - 1). */
static void flap_step(struct alert_instance *in, const struct alert_params *p,
                      int i, const char *v, enum alert_state want,
                      const char *events)
{
    struct tl_step s = { 60.0 * (i - 1), v, want, events };

    run_steps(in, p, &s, 1);
}

static void test_flap_percent(void **state)
{
    struct alert_instance in;

    alert_instance_init(&in, T0);
    assert_true(alert_flap_percent(&in) == 0);
    /* newest transition only: weight 1.25 / 20 */
    in.flap_bits = 0x1;
    in.flap_count = 2;
    assert_float_equal(alert_flap_percent(&in), 6.25, 1e-9);
    /* oldest of 21: weight 0.75 / 20 */
    in.flap_bits = UINT32_C(1) << 20;
    in.flap_count = 21;
    assert_float_equal(alert_flap_percent(&in), 3.75, 1e-9);
    /* all 20 transitions: 100 % */
    in.flap_bits = 0x155555;                /* 1010...1, 21 bits */
    assert_float_equal(alert_flap_percent(&in), 100, 1e-9);
    /* a change older than what was recorded does not count */
    in.flap_bits = 0x2;
    in.flap_count = 1;
    assert_float_equal(alert_flap_percent(&in), 0, 1e-9);
}

static void flap_alternate(struct alert_instance *in,
                           const struct alert_params *p, bool start_crit)
{
    /* steps 1..9 announce every transition; step 10 crosses 50 %
     * (9 changes: 51.5 %) and emits only FLAP_START */
    for (int i = 1; i <= 10; i++) {
        bool crit = (i % 2 == 1) == start_crit;
        const char *ev = crit ? "firing:critical" : "resolved:critical";
        if (i == 1 && !start_crit)
            ev = "";
        if (i == 10)
            ev = "flap_start";
        flap_step(in, p, i, crit ? "c" : "-",
                  crit ? ALERT_FIRING : ALERT_INACTIVE, ev);
    }
    assert_true(in->flapping);
}

static void test_flap_start_and_stop_with_resolve(void **state)
{
    struct alert_params p = params(0, 0);
    struct alert_instance in;
    struct alert_event ev[ALERT_STEP_MAX_EVENTS];

    p.flap_detection = true;
    alert_instance_init(&in, T0);
    flap_alternate(&in, &p, true);
    /* step 9 announced firing; step 10 went inactive unannounced */
    assert_true(in.announced_firing);
    /* quiet steps: the percentage falls below 25 % at step 24 */
    for (int i = 11; i <= 23; i++)
        flap_step(&in, &p, i, "-", ALERT_INACTIVE, "");
    assert_true(in.flapping);
    flap_step(&in, &p, 24, "-", ALERT_INACTIVE,
              "flap_stop resolved:critical");
    assert_false(in.flapping);
    assert_false(in.announced_firing);
    flap_step(&in, &p, 25, "-", ALERT_INACTIVE, "");

    /* the FLAP_STOP event carries the percentage (24.47 %) */
    struct alert_instance again;
    alert_instance_init(&again, T0);
    flap_alternate(&again, &p, true);
    for (int i = 11; i <= 23; i++)
        flap_step(&again, &p, i, "-", ALERT_INACTIVE, "");
    struct alert_verdict v = verdict("-", 60 * 23);
    assert_int_equal(alert_step(&again, &p, &v, T0 + 60 * 23, ev, 4), 2);
    assert_int_equal(ev[0].kind, ALERT_EV_FLAP_STOP);
    assert_float_equal(ev[0].flap_pct, 24.4737, 1e-3);
}

static void test_flap_suppresses_transitions(void **state)
{
    struct alert_params p = params(0, 0);
    struct alert_instance in;

    p.flap_detection = true;
    alert_instance_init(&in, T0);
    flap_alternate(&in, &p, true);
    /* the storm goes on: state tracked, nothing announced */
    for (int i = 11; i <= 20; i++) {
        bool crit = i % 2 == 1;
        flap_step(&in, &p, i, crit ? "c" : "-",
                  crit ? ALERT_FIRING : ALERT_INACTIVE, "");
    }
    assert_true(in.flapping);
    assert_true(in.fired_at == T0 + 60 * 18);   /* step 19 */
    assert_true(in.resolved_at == T0 + 60 * 19); /* step 20 */
}

static void test_flap_stop_catches_up_firing(void **state)
{
    struct alert_params p = params(0, 0);
    struct alert_instance in;

    p.flap_detection = true;
    alert_instance_init(&in, T0);
    /* -, c, -, c ... : step 9 announced resolved, step 10 fires unheard */
    flap_alternate(&in, &p, false);
    assert_int_equal(in.state, ALERT_FIRING);
    assert_false(in.announced_firing);
    for (int i = 11; i <= 23; i++)
        flap_step(&in, &p, i, "c", ALERT_FIRING, "");
    flap_step(&in, &p, 24, "c", ALERT_FIRING, "flap_stop firing:critical");
    assert_true(in.announced_firing);
}

static void test_flap_stop_nothing_to_catch_up(void **state)
{
    struct alert_params p = params(0, 0);
    struct alert_instance in;

    p.flap_detection = true;
    alert_instance_init(&in, T0);
    flap_alternate(&in, &p, true);          /* announced firing at step 9 */
    /* fires again at step 11 (one more change), stays: stop at step 25 */
    for (int i = 11; i <= 24; i++)
        flap_step(&in, &p, i, "c", ALERT_FIRING, "");
    flap_step(&in, &p, 25, "c", ALERT_FIRING, "flap_stop");
}

static void test_flap_stop_catches_up_severity(void **state)
{
    struct alert_params p = params(0, 0);
    struct alert_instance in;

    p.flap_detection = true;
    p.has_warn = true;
    alert_instance_init(&in, T0);
    flap_alternate(&in, &p, true);          /* announced critical */
    for (int i = 11; i <= 24; i++)
        flap_step(&in, &p, i, "w", ALERT_FIRING, "");
    flap_step(&in, &p, 25, "w", ALERT_FIRING,
              "flap_stop severity:critical>warning");
}

static void test_flap_detection_off(void **state)
{
    struct alert_params p = params(0, 0);
    struct alert_instance in;

    alert_instance_init(&in, T0);
    for (int i = 1; i <= 30; i++) {
        bool crit = i % 2 == 1;
        flap_step(&in, &p, i, crit ? "c" : "-",
                  crit ? ALERT_FIRING : ALERT_INACTIVE,
                  crit ? "firing:critical" : "resolved:critical");
    }
    assert_false(in.flapping);
    /* the history is still kept (full and alternating) */
    assert_int_equal(in.flap_count, ALERT_FLAP_HISTORY);
    assert_float_equal(alert_flap_percent(&in), 100, 1e-9);
}

static void test_flap_detection_turned_off_while_flapping(void **state)
{
    struct alert_params p = params(0, 0);
    struct alert_instance in;

    p.flap_detection = true;
    alert_instance_init(&in, T0);
    flap_alternate(&in, &p, true);          /* inactive, announced firing */
    p.flap_detection = false;               /* SIGHUP with a new rule */
    flap_step(&in, &p, 11, "-", ALERT_INACTIVE,
              "flap_stop resolved:critical");
    flap_step(&in, &p, 12, "c", ALERT_FIRING, "firing:critical");
}

static void test_flap_not_counting_pending(void **state)
{
    /* with `for`, an alternating condition never fires: nothing flaps */
    struct alert_params p = params(300, 0);
    struct alert_instance in;

    p.flap_detection = true;
    alert_instance_init(&in, T0);
    for (int i = 1; i <= 30; i++) {
        bool crit = i % 2 == 1;
        flap_step(&in, &p, i, crit ? "c" : "-",
                  crit ? ALERT_PENDING : ALERT_INACTIVE, "");
    }
    assert_false(in.flapping);
    assert_true(alert_flap_percent(&in) == 0);
}

/* ---- restart ------------------------------------------------------------ */

static void test_restart_pending_past_for_fires(void **state)
{
    struct alert_params p = params(600, 0);
    struct alert_instance before, after;
    const struct tl_step steps[] = {
        { 0,   "c", ALERT_PENDING, "" },
        { 120, "c", ALERT_PENDING, "" },
    };
    /* segalert is down from t = 120 to t = 3600; state.c restored the
     * struct field by field (a byte copy stands in for that here) */
    const struct tl_step resumed[] = {
        { 3600, "d", ALERT_PENDING, "" },   /* first poll not done yet */
        { 3615, "c", ALERT_FIRING, "firing:critical" },
    };

    before = TIMELINE(&p, steps);
    memcpy(&after, &before, sizeof(after));
    run_steps(&after, &p, resumed, ARRAY_SIZE(resumed));
    assert_true(after.active_at == T0);
    assert_true(after.fired_at == T0 + 3615);
}

static void test_restart_firing_not_reannounced(void **state)
{
    struct alert_params p = params(0, 0);
    struct alert_instance before, after;
    const struct tl_step steps[] = {
        { 0, "c", ALERT_FIRING, "firing:critical" },
    };
    const struct tl_step resumed[] = {
        { 7200, "c", ALERT_FIRING, "" },
        { 7260, "-", ALERT_INACTIVE, "resolved:critical" },
    };

    before = TIMELINE(&p, steps);
    memcpy(&after, &before, sizeof(after));
    run_steps(&after, &p, resumed, ARRAY_SIZE(resumed));
}

static void test_clock_step_back(void **state)
{
    /* wall clock stepped back: nothing goes negative or fires early */
    struct alert_params p = params(600, 0);
    p.no_data = NODATA_ALERT;
    p.no_data_after_s = 600;
    const struct tl_step steps[] = {
        { 1000, "c", ALERT_PENDING, "" },
        { 500,  "n", ALERT_PENDING, "" },
        { 400,  "c", ALERT_PENDING, "" },
        { 1600, "c", ALERT_FIRING, "firing:critical" },
    };
    struct alert_instance in = TIMELINE(&p, steps);

    assert_true(in.nodata_s == 0);
}

/* ---- helpers ------------------------------------------------------------ */

static void test_init(void **state)
{
    struct alert_instance in;

    memset(&in, 0xff, sizeof(in));
    alert_instance_init(&in, T0);
    assert_int_equal(in.state, ALERT_INACTIVE);
    assert_int_equal(in.severity, ALERT_SEV_NONE);
    assert_false(in.nodata);
    assert_true(in.created_at == T0);
    assert_true(in.active_at == 0);
    assert_true(in.fired_at == 0);
    assert_true(in.resolved_at == 0);
    assert_true(in.last_true_at == 0);
    assert_true(in.last_data_at == 0);
    assert_true(in.last_eval_at == 0);
    assert_true(in.nodata_s == 0);
    assert_true(isnan(in.value));
    assert_int_equal(in.flap_bits, 0);
    assert_int_equal(in.flap_count, 0);
    assert_false(in.flapping);
    assert_false(in.announced_firing);
    assert_int_equal(in.announced_severity, ALERT_SEV_NONE);
}

static void test_params_from_rule(void **state)
{
    struct rule_cfg rule;
    struct alert_params p;

    memset(&rule, 0, sizeof(rule));
    rule.for_s = 600;
    rule.keep_firing_for_s = 120;
    rule.no_data = NODATA_ALERT;
    rule.no_data_after_s = 1800;
    rule.flap_detection = true;
    p = alert_params_from_rule(&rule, true, false);
    assert_true(p.for_s == 600);
    assert_true(p.keep_firing_for_s == 120);
    assert_int_equal(p.no_data, NODATA_ALERT);
    assert_true(p.no_data_after_s == 1800);
    assert_true(p.flap_detection);
    assert_true(p.has_recover);
    assert_false(p.has_warn);
    p = alert_params_from_rule(&rule, false, true);
    assert_false(p.has_recover);
    assert_true(p.has_warn);
}

static void test_names(void **state)
{
    struct alert_instance in;

    assert_string_equal(alert_state_name(ALERT_INACTIVE), "inactive");
    assert_string_equal(alert_state_name(ALERT_PENDING), "pending");
    assert_string_equal(alert_state_name(ALERT_FIRING), "firing");
    assert_string_equal(alert_severity_name(ALERT_SEV_NONE), "none");
    assert_string_equal(alert_severity_name(ALERT_SEV_WARNING), "warning");
    assert_string_equal(alert_severity_name(ALERT_SEV_CRITICAL), "critical");
    assert_string_equal(alert_severity_label(ALERT_SEV_CRITICAL, "page"),
                        "page");
    assert_string_equal(alert_severity_label(ALERT_SEV_CRITICAL, NULL),
                        "critical");
    assert_string_equal(alert_severity_label(ALERT_SEV_NONE, "page"), "none");
    assert_string_equal(alert_event_kind_name(ALERT_EV_FIRING), "firing");
    assert_string_equal(alert_event_kind_name(ALERT_EV_RESOLVED), "resolved");
    assert_string_equal(alert_event_kind_name(ALERT_EV_SEVERITY), "severity");
    assert_string_equal(alert_event_kind_name(ALERT_EV_FLAP_START),
                        "flap_start");
    assert_string_equal(alert_event_kind_name(ALERT_EV_FLAP_STOP),
                        "flap_stop");
    alert_instance_init(&in, T0);
    assert_string_equal(alert_display_state(&in), "inactive");
    in.state = ALERT_FIRING;
    assert_string_equal(alert_display_state(&in), "firing");
    in.nodata = true;
    assert_string_equal(alert_display_state(&in), "nodata");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_for_zero_fires_at_once),
        cmocka_unit_test(test_for_pending_then_firing),
        cmocka_unit_test(test_firing_event_carries_active_at),
        cmocka_unit_test(test_pending_then_false_is_silent),
        cmocka_unit_test(test_keep_firing_for_bridges_gap),
        cmocka_unit_test(test_recover_hysteresis),
        cmocka_unit_test(test_recover_ignored_without_recover_expr),
        cmocka_unit_test(test_recover_and_keep_firing_for_both_apply),
        cmocka_unit_test(test_warn_tier_only),
        cmocka_unit_test(test_warn_ignored_without_warn_expr),
        cmocka_unit_test(test_warn_crit_warn_changes),
        cmocka_unit_test(test_severity_kept_during_keep_firing_for),
        cmocka_unit_test(test_severity_event_fields),
        cmocka_unit_test(test_nodata_keep),
        cmocka_unit_test(test_nodata_ok),
        cmocka_unit_test(test_nodata_ok_drops_pending),
        cmocka_unit_test(test_nodata_pending_held_keeps_for_clock),
        cmocka_unit_test(test_nodata_alert_fires_after_threshold),
        cmocka_unit_test(test_nodata_never_had_data_counts_from_creation),
        cmocka_unit_test(test_nodata_alert_resolved_when_data_returns),
        cmocka_unit_test(test_nodata_alert_data_returns_still_holding),
        cmocka_unit_test(test_nodata_alert_then_crit_keeps_episode),
        cmocka_unit_test(test_api_down_freezes),
        cmocka_unit_test(test_api_down_keeps_firing_and_value),
        cmocka_unit_test(test_api_down_pending_fires_after_outage),
        cmocka_unit_test(test_flap_percent),
        cmocka_unit_test(test_flap_start_and_stop_with_resolve),
        cmocka_unit_test(test_flap_suppresses_transitions),
        cmocka_unit_test(test_flap_stop_catches_up_firing),
        cmocka_unit_test(test_flap_stop_nothing_to_catch_up),
        cmocka_unit_test(test_flap_stop_catches_up_severity),
        cmocka_unit_test(test_flap_detection_off),
        cmocka_unit_test(test_flap_detection_turned_off_while_flapping),
        cmocka_unit_test(test_flap_not_counting_pending),
        cmocka_unit_test(test_restart_pending_past_for_fires),
        cmocka_unit_test(test_restart_firing_not_reannounced),
        cmocka_unit_test(test_clock_step_back),
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_params_from_rule),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
