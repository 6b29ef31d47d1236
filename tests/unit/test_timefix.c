/*
 * test_timefix.c - the state file's times after the clock went back
 * between two runs, and wall-clock steps seen against the monotonic clock
 * (daemon/timefix.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "daemon/timefix.h"

#define NOW 1765000000.0
#define DAY 86400.0

static double num(const cJSON *o, const char *path)
{
    /* path: members separated by '.', array elements by index */
    const cJSON *it = o;
    const char *p = path;
    while (*p) {
        size_t n = strcspn(p, ".");
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)n, p);
        if (cJSON_IsArray(it))
            it = cJSON_GetArrayItem(it, name[0] - '0');
        else
            it = cJSON_GetObjectItemCaseSensitive(it, name);
        assert_non_null(it);
        p += n + (p[n] == '.');
    }
    double v = NAN;
    assert_true(json_number_value(it, &v));
    return v;
}

/* A state saved at `saved`, with a group due 30 s after it and a retry
 * due 600 s after it. */
static cJSON *doc(double saved)
{
    char text[2048];
    snprintf(text, sizeof(text),
        "{\"version\":1,\"saved_at\":%.3f,"
        "\"instances\":[{\"key\":\"r {}\",\"rule\":\"r\",\"series\":{},"
        "  \"state\":{\"created_at\":%.3f,\"active_at\":%.3f,\"fired_at\":0,"
        "  \"last_eval_at\":%.3f,\"data_through\":%.3f}}],"
        "\"dispatch\":{\"groups\":[{\"key\":\"g\",\"created_at\":%.3f,"
        "  \"next_flush\":%.3f,\"nflog\":{\"notified_at\":%.3f},"
        "  \"alerts\":[{\"starts_at\":%.3f,\"ends_at\":0}]}],"
        "  \"silences\":[{\"id\":\"s\",\"starts_at\":%.3f,\"ends_at\":%.3f}]},"
        "\"outbox\":{\"entries\":[{\"id\":1,\"added_at\":%.3f,"
        "  \"next_attempt\":%.3f,\"first_attempt\":%.3f,"
        "  \"notification\":{\"created_at\":%.3f,"
        "  \"alerts\":[{\"starts_at\":%.3f,\"ends_at\":%.3f}]}}]}}",
        saved, saved - 100, saved - 50, saved - 5, saved - 10,
        saved - 40, saved + 30, saved - 40, saved - 50,
        saved - 60, saved + 3600,
        saved - 20, saved + 600, saved - 20, saved - 20, saved - 50,
        saved - 20);
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    return j;
}

static void test_state_a_day_ahead(void **state)
{
    (void)state;
    cJSON *j = doc(NOW + DAY);
    double ahead = timefix_state_doc(j, NOW, TIMEFIX_TOLERANCE_S);
    assert_true(fabs(ahead - DAY) < 1e-6);
    /* the latest event is now; every time moved back by a day */
    assert_true(fabs(num(j, "saved_at") - NOW) < 1e-6);
    assert_true(fabs(num(j, "instances.0.state.active_at") - (NOW - 50)) < 1e-6);
    assert_true(num(j, "instances.0.state.fired_at") == 0);   /* never */
    assert_true(fabs(num(j, "instances.0.state.data_through") - (NOW - 10)) < 1e-6);
    /* a timer keeps what it had left: the group in 30 s, the retry in
     * 600 s, not tomorrow */
    assert_true(fabs(num(j, "dispatch.groups.0.next_flush") - (NOW + 30)) < 1e-6);
    assert_true(fabs(num(j, "dispatch.groups.0.nflog.notified_at") - (NOW - 40)) < 1e-6);
    assert_true(fabs(num(j, "dispatch.groups.0.alerts.0.starts_at") - (NOW - 50)) < 1e-6);
    assert_true(fabs(num(j, "outbox.entries.0.next_attempt") - (NOW + 600)) < 1e-6);
    assert_true(fabs(num(j, "outbox.entries.0.notification.alerts.0.ends_at") - (NOW - 20)) < 1e-6);
    /* silences are the user's wall-clock intent */
    assert_true(fabs(num(j, "dispatch.silences.0.ends_at") - (NOW + DAY + 3600)) < 1e-6);
    cJSON_Delete(j);
}

static void test_state_in_time_or_behind(void **state)
{
    (void)state;
    /* saved a minute ago, a day ago, or a little "ahead" (two clocks):
     * left as it is */
    double saved[] = { NOW - 60, NOW - DAY, NOW + TIMEFIX_TOLERANCE_S - 1 };
    for (size_t i = 0; i < 3; i++) {
        cJSON *j = doc(saved[i]);
        assert_true(timefix_state_doc(j, NOW, TIMEFIX_TOLERANCE_S) == 0);
        assert_true(num(j, "saved_at") == saved[i]);
        assert_true(num(j, "outbox.entries.0.next_attempt") == saved[i] + 600);
        cJSON_Delete(j);
    }
    /* a timer far ahead alone is not a clock step (a long Retry-After) */
    cJSON *j = doc(NOW - 10);
    cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(
        cJSON_GetObjectItem(j, "outbox"), "entries"), 0);
    cJSON_ReplaceItemInObject(e, "next_attempt", json_double(NOW + 3600));
    assert_true(timefix_state_doc(j, NOW, TIMEFIX_TOLERANCE_S) == 0);
    cJSON_Delete(j);
    /* not an object, or no clock: nothing */
    cJSON *a = cJSON_CreateArray();
    assert_true(timefix_state_doc(a, NOW, TIMEFIX_TOLERANCE_S) == 0);
    cJSON_Delete(a);
    j = doc(NOW + DAY);
    assert_true(timefix_state_doc(j, 0, TIMEFIX_TOLERANCE_S) == 0);
    cJSON_Delete(j);
}

static void test_clock_watch(void **state)
{
    (void)state;
    struct clock *c = clock_fake_new(NOW);
    struct clock_watch w = { 0, false };
    assert_true(clock_watch_step(&w, c, TIMEFIX_TOLERANCE_S) == 0);
    clock_fake_advance(c, 3600);            /* time passing is no step */
    assert_true(clock_watch_step(&w, c, TIMEFIX_TOLERANCE_S) == 0);
    /* NTP sets the clock back a day */
    clock_fake_set_wall(c, clock_wall(c) - DAY);
    assert_true(fabs(clock_watch_step(&w, c, TIMEFIX_TOLERANCE_S) + DAY) < 1e-6);
    assert_true(clock_watch_step(&w, c, TIMEFIX_TOLERANCE_S) == 0);
    /* a small correction is not */
    clock_fake_set_wall(c, clock_wall(c) + 5);
    assert_true(clock_watch_step(&w, c, TIMEFIX_TOLERANCE_S) == 0);
    /* and forward an hour */
    clock_fake_set_wall(c, clock_wall(c) + 3600);
    assert_true(fabs(clock_watch_step(&w, c, TIMEFIX_TOLERANCE_S) - 3600) < 1e-6);
    clock_free(c);
}

static void test_instance_moves(void **state)
{
    (void)state;
    struct alert_instance in;
    alert_instance_init(&in, NOW + DAY - 100);
    in.active_at = NOW + DAY - 50;
    in.data_through = NOW + DAY - 10;
    in.fired_at = 0;
    timefix_instance(&in, -DAY, NOW);
    assert_true(in.created_at == NOW - 100);
    assert_true(in.active_at == NOW - 50);
    assert_true(in.fired_at == 0);
    assert_true(in.data_through == NOW);        /* never later than now */
    in.data_through = NOW - 10;
    timefix_instance(&in, 3600, NOW + 3600);    /* forward: data stays */
    assert_true(in.data_through == NOW - 10);
    assert_true(in.active_at == NOW + 3550);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_a_day_ahead),
        cmocka_unit_test(test_state_in_time_or_behind),
        cmocka_unit_test(test_clock_watch),
        cmocka_unit_test(test_instance_moves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
