/*
 * test_clock.c - the three clocks every module reads time from: the
 * system clock, the scaled clock of time-compressed tests (SEGALERT_CLOCK)
 * and the fake clock of unit tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void test_fake_clock(void **state)
{
    (void)state;
    struct clock *c = clock_fake_new(1000);
    assert_true(clock_wall(c) == 1000);
    assert_true(clock_mono(c) == 0);
    assert_true(clock_origin_wall(c) == 1000);
    clock_fake_advance(c, 2.5);
    assert_true(clock_wall(c) == 1002.5);
    assert_true(clock_mono(c) == 2.5);
    /* never backwards by advancing */
    clock_fake_advance(c, -10);
    assert_true(clock_wall(c) == 1002.5);
    /* a wall step leaves monotonic time alone */
    clock_fake_set_wall(c, 900);
    assert_true(clock_wall(c) == 900);
    assert_true(clock_mono(c) == 2.5);
    assert_true(clock_real_delay(c, 60) == 0);
    assert_false(clock_is_system(c));
    clock_free(c);
}

static void test_scaled_clock_runs_faster(void **state)
{
    (void)state;
    struct clock *c = clock_scaled_new(100, (double)time(NULL), 1.8e9);
    assert_non_null(c);
    assert_true(clock_factor(c) == 100);
    assert_true(clock_origin_wall(c) == 1.8e9);
    double w0 = clock_wall(c), m0 = clock_mono(c);
    sleep_ms(50);
    double dw = clock_wall(c) - w0, dm = clock_mono(c) - m0;
    /* 50 ms real are 5 s virtual (generous bounds: a loaded machine) */
    assert_true(dw >= 4.5 && dw < 60);
    assert_true(dm >= 4.5 && dm < 60);
    assert_true(fabs(clock_real_delay(c, 300) - 3) < 1e-9);
    assert_false(clock_is_system(c));
    clock_free(c);
    assert_null(clock_scaled_new(0, 0, 0));
    assert_null(clock_scaled_new(-2, 0, 0));
}

static void test_clock_from_env(void **state)
{
    (void)state;
    char err[256];
    unsetenv(CLOCK_ENV);
    const struct clock *c = clock_from_env(err, sizeof(err));
    assert_true(c == clock_system());
    assert_true(clock_is_system(c));
    assert_true(clock_factor(c) == 1);

    setenv(CLOCK_ENV, "scale=60,origin=1700000000,start=1800000000", 1);
    c = clock_from_env(err, sizeof(err));
    assert_non_null(c);
    assert_true(clock_factor(c) == 60);
    assert_true(clock_origin_wall(c) == 1800000000);
    /* the virtual clock ran 60x from the real origin */
    double expect = 1800000000 + ((double)time(NULL) - 1700000000) * 60;
    assert_true(fabs(clock_wall(c) - expect) < 180);
    clock_free(c);

    /* start defaults to the origin */
    setenv(CLOCK_ENV, "scale=2,origin=1700000000", 1);
    c = clock_from_env(err, sizeof(err));
    assert_non_null(c);
    assert_true(clock_origin_wall(c) == 1700000000);
    clock_free(c);

    static const char *const bad[] = {
        "scale=abc", "scale=0", "speed=3", "scale", "scale=-1,origin=5",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv(CLOCK_ENV, bad[i], 1);
        err[0] = '\0';
        assert_null(clock_from_env(err, sizeof(err)));
        assert_non_null(strstr(err, CLOCK_ENV));
    }
    unsetenv(CLOCK_ENV);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_clock),
        cmocka_unit_test(test_scaled_clock_runs_faster),
        cmocka_unit_test(test_clock_from_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
