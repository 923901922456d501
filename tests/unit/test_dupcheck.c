#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "formats/dupcheck.h"

static void test_rows_and_growth(void **state)
{
    pb_dupset *s;
    uint32_t first, i;
    char key[32];
    (void)state;
    assert_int_equal(pb_dupset_new(&s, 1, NULL), 0);
    for (i = 0; i < 200000; i++) {
        int n = snprintf(key, sizeof(key), "p-%u", i);
        assert_int_equal(pb_dupset_check(s, key, (size_t)n, i + 2, &first), 0);
        assert_int_equal(first, 0);
    }
    assert_int_equal(pb_dupset_count(s), 200000);
    /* every key is found again after many growths, with the row of its first occurrence */
    for (i = 0; i < 200000; i += 997) {
        int n = snprintf(key, sizeof(key), "p-%u", i);
        assert_int_equal(pb_dupset_check(s, key, (size_t)n, 999999, &first), 0);
        assert_int_equal(first, i + 2);
    }
    assert_int_equal(pb_dupset_count(s), 200000);
    /* ~12 bytes a slot at <= 90% load, well under 2x */
    assert_true(pb_dupset_bytes(s) < 200000 * 12 * 2);
    /* a prefix or a key with a different length is a different key */
    assert_int_equal(pb_dupset_check(s, "p-1", 2, 5, &first), 0);
    assert_int_equal(first, 0);
    pb_dupset_free(s);
}

static void test_no_rows(void **state)
{
    pb_dupset *s;
    uint32_t first;
    (void)state;
    assert_int_equal(pb_dupset_new(&s, 0, NULL), 0);
    assert_int_equal(pb_dupset_check(s, "a\0b", 3, 2, &first), 0);
    assert_int_equal(first, 0);
    assert_int_equal(pb_dupset_check(s, "a\0b", 3, 3, &first), 0);
    assert_int_equal(first, 1);
    assert_int_equal(pb_dupset_check(s, "a\0c", 3, 3, &first), 0);
    assert_int_equal(first, 0);
    pb_dupset_free(s);
    pb_dupset_free(NULL);
}

static void test_alloc_failure(void **state)
{
    pb_dupset *s;
    uint32_t first, i;
    char key[32];
    int rc = 0;
    (void)state;
    pb_alloc_fail_after(0);
    assert_int_equal(pb_dupset_new(&s, 1, NULL), PB_ENOMEM);
    pb_alloc_fail_after(2);
    assert_int_equal(pb_dupset_new(&s, 1, NULL), PB_ENOMEM);
    pb_alloc_fail_after(-1);
    assert_int_equal(pb_dupset_new(&s, 1, NULL), 0);
    /* growth fails: the set keeps working with what it has */
    pb_alloc_fail_after(0);
    for (i = 0; i < 2000 && rc == 0; i++) {
        int n = snprintf(key, sizeof(key), "k%u", i);
        rc = pb_dupset_check(s, key, (size_t)n, i + 2, &first);
    }
    pb_alloc_fail_after(-1);
    assert_int_equal(rc, PB_ENOMEM);
    assert_int_equal(pb_dupset_check(s, "k0", 2, 7, &first), 0);
    assert_int_equal(first, 2);
    pb_dupset_free(s);
}

/* Reference vector: SipHash-1-3 has none published in Debian; check key sensitivity instead. */
static void test_keyed(void **state)
{
    const uint64_t k1[2] = {1, 2}, k2[2] = {1, 3};
    (void)state;
    assert_true(pb_dupset_hash(k1, "payment-1", 9) == pb_dupset_hash(k1, "payment-1", 9));
    assert_true(pb_dupset_hash(k1, "payment-1", 9) != pb_dupset_hash(k2, "payment-1", 9));
    assert_true(pb_dupset_hash(k1, "payment-1", 9) != pb_dupset_hash(k1, "payment-2", 9));
    assert_true(pb_dupset_hash(k1, "", 0) != pb_dupset_hash(k1, "\0", 1));
    assert_true(pb_dupset_hash(k1, "12345678", 8) != pb_dupset_hash(k1, "123456789", 9));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_and_growth),
        cmocka_unit_test(test_no_rows),
        cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_keyed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
