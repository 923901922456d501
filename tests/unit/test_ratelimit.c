#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/errors.h"
#include "core/ratelimit.h"

static pb_ratelimit make(int64_t rate_milli)
{
    pb_ratelimit rl;
    pb_ratelimit_config cfg = {.rate_milli = rate_milli};
    assert_int_equal(pb_ratelimit_init(&rl, &cfg), PB_OK);
    return rl;
}

/* Take every slot as soon as it is free for `span_us`, then count the most requests any
 * window of one second holds (sliding over every take). */
static int max_in_window(pb_ratelimit *rl, int64_t span_us, int64_t step_us)
{
    static int64_t at[20000];
    int n = 0;
    for (int64_t now = 0; now < span_us && n < 20000; now += step_us)
        while (n < 20000 && pb_ratelimit_take(rl, now) == PB_OK)
            at[n++] = now;
    int best = 0;
    for (int i = 0, j = 0; i < n; i++) {
        while (at[i] - at[j] > 1000000)
            j++;
        if (i - j + 1 > best)
            best = i - j + 1;
    }
    return best;
}

static void test_bad_config(void **state)
{
    (void)state;
    pb_ratelimit rl;
    pb_ratelimit_config cfg = {.rate_milli = 0};
    assert_int_equal(pb_ratelimit_init(&rl, &cfg), PB_EINVAL);
    cfg.rate_milli = -5;
    assert_int_equal(pb_ratelimit_init(&rl, &cfg), PB_EINVAL);
    cfg.rate_milli = (int64_t)PB_RATE_MILLI_MAX + 1;
    assert_int_equal(pb_ratelimit_init(&rl, &cfg), PB_EINVAL);
    cfg.rate_milli = 1000;
    cfg.cut_permille = 1000;
    assert_int_equal(pb_ratelimit_init(&rl, &cfg), PB_EINVAL);
}

static void test_spacing(void **state)
{
    (void)state;
    pb_ratelimit rl = make(10000); /* 10/s: 100 ms apart */
    assert_int_equal(pb_ratelimit_take(&rl, 5000), PB_OK);
    assert_int_equal(pb_ratelimit_take(&rl, 5000), PB_EAGAIN);
    assert_int_equal(pb_ratelimit_next_us(&rl, 5000), 105000);
    assert_int_equal(pb_ratelimit_take(&rl, 104999), PB_EAGAIN);
    assert_int_equal(pb_ratelimit_take(&rl, 105000), PB_OK);
    /* idle time is not banked with burst 1 */
    assert_int_equal(pb_ratelimit_take(&rl, 10000000), PB_OK);
    assert_int_equal(pb_ratelimit_take(&rl, 10000000), PB_EAGAIN);
}

static void test_fractional(void **state)
{
    (void)state;
    pb_ratelimit rl = make(500); /* 0.5/s: 2 s apart */
    assert_int_equal(pb_ratelimit_take(&rl, 0), PB_OK);
    assert_int_equal(pb_ratelimit_next_us(&rl, 1), 2000000);
    rl = make(3000); /* 3/s: 333,334 us (rounded up, never faster) */
    assert_int_equal(pb_ratelimit_take(&rl, 0), PB_OK);
    assert_int_equal(pb_ratelimit_next_us(&rl, 0), 333334);
}

static void test_windows(void **state)
{
    (void)state;
    static const int64_t rates[] = {500, 1000, 3000, 10000, 1000000};
    static const int expect[] = {1, 2, 4, 11, 1001};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        pb_ratelimit rl = make(rates[i]);
        int got = max_in_window(&rl, 5000000, 1);
        print_message("rate %lld/1000: %d in 1 s\n", (long long)rates[i], got);
        assert_true(got <= expect[i]);
        assert_true(got >= expect[i] - 1);
    }
}

static void test_burst(void **state)
{
    (void)state;
    pb_ratelimit rl;
    pb_ratelimit_config cfg = {.rate_milli = 1000, .burst = 3};
    assert_int_equal(pb_ratelimit_init(&rl, &cfg), PB_OK);
    assert_int_equal(pb_ratelimit_take(&rl, 0), PB_OK);
    assert_int_equal(pb_ratelimit_take(&rl, 0), PB_OK);
    assert_int_equal(pb_ratelimit_take(&rl, 0), PB_OK);
    assert_int_equal(pb_ratelimit_take(&rl, 0), PB_EAGAIN);
    assert_int_equal(pb_ratelimit_next_us(&rl, 0), 1000000);
}

static void test_throttle_and_recovery(void **state)
{
    (void)state;
    pb_ratelimit rl;
    pb_ratelimit_config cfg = {.rate_milli = 8000, .add_milli = 1000, .floor_milli = 1000};
    assert_int_equal(pb_ratelimit_init(&rl, &cfg), PB_OK);
    assert_int_equal(pb_ratelimit_take(&rl, 0), PB_OK);
    pb_ratelimit_throttle(&rl, 10000, 3000000);
    assert_int_equal(pb_ratelimit_rate_milli(&rl), 4000);
    /* paused for everyone until now + Retry-After */
    assert_int_equal(pb_ratelimit_next_us(&rl, 20000), 3010000);
    assert_int_equal(pb_ratelimit_take(&rl, 3009999), PB_EAGAIN);
    assert_int_equal(pb_ratelimit_take(&rl, 3010000), PB_OK);
    assert_int_equal(pb_ratelimit_next_us(&rl, 3010000), 3010000 + 250000);
    /* a shorter second Retry-After does not shorten the pause */
    pb_ratelimit_throttle(&rl, 20000, 1000);
    assert_int_equal(pb_ratelimit_paused_until_us(&rl), 3010000);
    assert_int_equal(pb_ratelimit_rate_milli(&rl), 2000);
    pb_ratelimit_throttle(&rl, 20000, 0);
    pb_ratelimit_throttle(&rl, 20000, -7);
    assert_int_equal(pb_ratelimit_rate_milli(&rl), 1000); /* the floor */
    for (int i = 0; i < 6; i++)
        pb_ratelimit_success(&rl);
    assert_int_equal(pb_ratelimit_rate_milli(&rl), 7000);
    for (int i = 0; i < 6; i++)
        pb_ratelimit_success(&rl);
    assert_int_equal(pb_ratelimit_rate_milli(&rl), 8000); /* never above the ceiling */
}

/* A driver whose wake-ups come 1.3 ms late (millisecond timers on a busy loop): without
 * slack every late slot pushes the rest back; with half an interval of slack the rate holds,
 * and no closed one-second window holds more than rate + 1. */
static void test_slack_absorbs_late_timers(void **state)
{
    (void)state;
    static const int slacks[] = {0, 500, 900};
    for (size_t si = 0; si < sizeof(slacks) / sizeof(slacks[0]); si++) {
        int slack = slacks[si];
        pb_ratelimit rl;
        pb_ratelimit_config cfg = {.rate_milli = 100000, .slack_permille = (uint32_t)slack};
        static int64_t at[2000];
        int n = 0, best = 0;
        int64_t now = 0;
        assert_int_equal(pb_ratelimit_init(&rl, &cfg), PB_OK);
        while (n < 2000) {
            if (pb_ratelimit_take(&rl, now) == PB_OK) {
                at[n++] = now;
                continue;
            }
            now = pb_ratelimit_next_us(&rl, now) + 1300;
        }
        for (int i = 0, j = 0; i < n; i++) {
            while (at[i] - at[j] > 1000000)
                j++;
            if (i - j + 1 > best)
                best = i - j + 1;
        }
        /* achieved rate over the run, in requests per 1000 s */
        int64_t rate_k = (int64_t)(n - 1) * 1000000000 / (at[n - 1] - at[0]);
        if (slack == 0) {
            assert_true(rate_k < 90000); /* 11.3 ms apart: the late time is lost */
        } else {
            assert_true(rate_k >= 99900 && rate_k <= 100100);
            assert_true(best <= 101);
        }
    }
    pb_ratelimit rl;
    pb_ratelimit_config bad = {.rate_milli = 1000, .slack_permille = 1000};
    assert_int_equal(pb_ratelimit_init(&rl, &bad), PB_EINVAL);
}

static void test_defaults(void **state)
{
    (void)state;
    pb_ratelimit rl = make(50); /* 0.05/s: the default floor is the ceiling itself */
    pb_ratelimit_throttle(&rl, 0, 0);
    assert_int_equal(pb_ratelimit_rate_milli(&rl), 50);
    rl = make(16000);
    pb_ratelimit_throttle(&rl, 0, 0);
    assert_int_equal(pb_ratelimit_rate_milli(&rl), 8000);
    pb_ratelimit_success(&rl);
    assert_int_equal(pb_ratelimit_rate_milli(&rl), 9000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_config), cmocka_unit_test(test_spacing),
        cmocka_unit_test(test_fractional), cmocka_unit_test(test_windows),
        cmocka_unit_test(test_burst),      cmocka_unit_test(test_throttle_and_recovery),
        cmocka_unit_test(test_defaults),   cmocka_unit_test(test_slack_absorbs_late_timers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
