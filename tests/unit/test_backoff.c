#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/backoff.h"

static void test_ceiling(void **state)
{
    (void)state;
    /* rnd = UINT64_MAX - k lands on known points; the ceiling itself is reachable */
    assert_int_equal(pb_backoff_delay_ms(500, 30000, 1, 500), 500);
    assert_int_equal(pb_backoff_delay_ms(500, 30000, 1, 501), 0);
    assert_int_equal(pb_backoff_delay_ms(500, 30000, 0, 500), 500);
    assert_int_equal(pb_backoff_delay_ms(500, 30000, 2, 1000), 1000);
    assert_int_equal(pb_backoff_delay_ms(500, 30000, 3, 2000), 2000);
    assert_int_equal(pb_backoff_delay_ms(500, 30000, 7, 30000), 30000);
    assert_int_equal(pb_backoff_delay_ms(500, 30000, 4000000000u, 30000), 30000);
    assert_int_equal(pb_backoff_delay_ms(500, 30000, 4000000000u, 30001), 0);
    assert_int_equal(pb_backoff_delay_ms(0, 30000, 3, 12345), 0);
}

static void test_full_jitter_range(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ull;
    int64_t lo = 1 << 30, hi = -1;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t d = pb_backoff_delay_ms(250, 60000, 3, x);
        assert_true(d >= 0 && d <= 1000);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    /* full jitter spans the whole range, not just its top half */
    assert_true(lo < 20);
    assert_true(hi > 980);
}

static void test_budget(void **state)
{
    (void)state;
    pb_retry_budget b;
    pb_retry_budget_init(&b, 3, 250);
    assert_int_equal(pb_retry_budget_left(&b), 3);
    assert_int_equal(pb_retry_budget_spend(&b), 1);
    assert_int_equal(pb_retry_budget_spend(&b), 1);
    assert_int_equal(pb_retry_budget_spend(&b), 1);
    assert_int_equal(pb_retry_budget_spend(&b), 0);
    assert_int_equal(pb_retry_budget_left(&b), 0);
    for (int i = 0; i < 3; i++)
        pb_retry_budget_earn(&b);
    assert_int_equal(pb_retry_budget_spend(&b), 0); /* 0.75 of a retry is not one */
    pb_retry_budget_earn(&b);
    assert_int_equal(pb_retry_budget_spend(&b), 1);
    for (int i = 0; i < 1000; i++)
        pb_retry_budget_earn(&b);
    assert_int_equal(pb_retry_budget_left(&b), 3); /* never above the initial amount */
    pb_retry_budget_init(&b, 0, 1000);
    assert_int_equal(pb_retry_budget_spend(&b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ceiling),
        cmocka_unit_test(test_full_jitter_range),
        cmocka_unit_test(test_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
