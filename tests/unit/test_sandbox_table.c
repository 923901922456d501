/*
 * test_sandbox_table.c - the sandbox's payment table: keyed, growing, 1,000,000 payments,
 * and ids crafted to collide under the old unkeyed hash (FNV-1a mod 4096) do not pile up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "batch/sandbox/sandbox_int.h"
#include "core/alloc.h"
#include "core/errors.h"

static pb__pay *make(const char *id)
{
    pb_sandbox_payout in;
    memset(&in, 0, sizeof(in));
    snprintf(in.payment_id, sizeof(in.payment_id), "%s", id);
    snprintf(in.account, sizeof(in.account), "60123456789");
    snprintf(in.currency, sizeof(in.currency), "MYR");
    in.amount = 5000;
    return pb__pay_new(&in);
}

static void drop_all(pb__table *t)
{
    size_t i;
    for (i = 0; i < t->cap; i++)
        pb_free(t->slot[i]);
    pb__table_free(t);
}

static uint32_t fnv_bucket(const char *k)
{
    uint32_t h = 2166136261u;
    while (*k)
        h = (h ^ (unsigned char)*k++) * 16777619u;
    return h % 4096;
}

static void test_million_payments(void **state)
{
    pb__table t;
    char id[32];
    size_t i;
    (void)state;
    memset(&t, 0, sizeof(t));
    t.key[0] = 0x0123456789abcdefull;
    t.key[1] = 0xfedcba9876543210ull;
    for (i = 0; i < 1000000; i++) {
        pb__pay *p;
        snprintf(id, sizeof(id), "p-%zu", i);
        p = make(id);
        assert_non_null(p);
        assert_int_equal(pb__table_add(&t, p), PB_OK);
    }
    assert_int_equal(t.n, 1000000);
    assert_true(t.cap >= 2000000); /* grown, at most half full */
    for (i = 0; i < 1000000; i += 9973) {
        pb__pay *p;
        snprintf(id, sizeof(id), "p-%zu", i);
        p = pb__table_find(&t, id);
        assert_non_null(p);
        assert_string_equal(p->p.payment_id, id);
        assert_string_equal(p->p.account, "60123456789");
    }
    assert_null(pb__table_find(&t, "p-1000000"));
    assert_true(pb__table_max_probe(&t) < 64);
    drop_all(&t);
}

static void test_crafted_collisions(void **state)
{
    pb__table t;
    char id[32];
    unsigned long k = 0;
    size_t n = 0;
    (void)state;
    memset(&t, 0, sizeof(t));
    t.key[0] = 42;
    t.key[1] = 4242;
    /* 20,000 ids that all land in bucket 0 of the old table */
    while (n < 20000) {
        snprintf(id, sizeof(id), "x%lu", k++);
        if (fnv_bucket(id) != 0)
            continue;
        assert_int_equal(pb__table_add(&t, make(id)), PB_OK);
        n++;
    }
    assert_true(pb__table_max_probe(&t) < 64);
    assert_non_null(pb__table_find(&t, id));
    drop_all(&t);
}

static void test_alloc_failure(void **state)
{
    pb__table t;
    (void)state;
    memset(&t, 0, sizeof(t));
    pb_alloc_fail_after(0);
    assert_null(make("a"));
    pb_alloc_fail_after(-1);
    {
        pb__pay *p = make("a");
        pb_alloc_fail_after(0);
        assert_int_equal(pb__table_add(&t, p), PB_ENOMEM);
        pb_alloc_fail_after(-1);
        assert_null(pb__table_find(&t, "a"));
        pb_free(p);
    }
    pb__table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_million_payments),
        cmocka_unit_test(test_crafted_collisions),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
