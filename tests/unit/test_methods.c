/* The method table's shared rules: names for messages, endpoints, the account-number rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/methods.h"

#define ACC(s) (s), (sizeof(s) - 1)

static void test_names(void **state)
{
    char out[64];
    (void)state;
    pb_method_names(out, sizeof(out), ", ", 0);
    assert_string_equal(out, "touchngo, gcash");
    pb_method_names(out, sizeof(out), " or ", 0);
    assert_string_equal(out, "touchngo or gcash");
    pb_method_names(out, sizeof(out), ", ", 1);
    assert_string_equal(out, "Touch'n Go, GCash");
    /* cut, never overrun, always terminated */
    pb_method_names(out, 6, ", ", 0);
    assert_string_equal(out, "touch");
    pb_method_names(out, 1, ", ", 0);
    assert_string_equal(out, "");
    out[0] = 'x';
    pb_method_names(out, 0, ", ", 0);
    assert_int_equal(out[0], 'x');
}

static void test_endpoints(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < pb_method_count(); i++)
        assert_ptr_equal(pb_method_find_endpoint(pb_method_at(i)->endpoint), pb_method_at(i));
    assert_ptr_equal(pb_method_find_endpoint("/v2/payment/wallet/gcash/payout"),
                     pb_method_find("gcash", 5));
    assert_null(pb_method_find_endpoint("/v2/payment/wallet/gcash/payout/"));
    assert_null(pb_method_find_endpoint("/v2/payment/status"));
    assert_null(pb_method_find_endpoint(NULL));
    assert_true(pb_method_count() <= PB_METHOD_MAX);
}

static void test_account_rule(void **state)
{
    const pb_method *g = pb_method_find("gcash", 5), *t = pb_method_find("touchngo", 8);
    (void)state;
    assert_int_equal(pb_method_account_check(g, ACC("09171234567")), PB_ACCOUNT_OK);
    assert_int_equal(pb_method_account_check(g, ACC("")), PB_ACCOUNT_EMPTY);
    assert_int_equal(pb_method_account_check(g, ACC("0917 123456")), PB_ACCOUNT_NOT_DIGITS);
    assert_int_equal(pb_method_account_check(g, ACC("+639171234567")), PB_ACCOUNT_NOT_DIGITS);
    assert_int_equal(pb_method_account_check(g, ACC("9171234567")), PB_ACCOUNT_LEADING_ZERO_LOST);
    assert_int_equal(pb_method_account_check(g, ACC("0817123456")), PB_ACCOUNT_BAD_LENGTH);
    assert_int_equal(pb_method_account_check(g, ACC("08171234567")), PB_ACCOUNT_BAD_LENGTH);
    assert_int_equal(pb_method_account_check(g, ACC("091712345678")), PB_ACCOUNT_BAD_LENGTH);
    assert_int_equal(pb_method_account_check(t, ACC("123456")), PB_ACCOUNT_OK);
    assert_int_equal(pb_method_account_check(t, ACC("12345678901234567890")), PB_ACCOUNT_OK);
    assert_int_equal(pb_method_account_check(t, ACC("12345")), PB_ACCOUNT_BAD_LENGTH);
    assert_int_equal(pb_method_account_check(t, ACC("123456789012345678901")),
                     PB_ACCOUNT_BAD_LENGTH);
    /* without a method only the digits are checked */
    assert_int_equal(pb_method_account_check(NULL, ACC("1")), PB_ACCOUNT_OK);
    assert_int_equal(pb_method_account_check(NULL, ACC("1e9")), PB_ACCOUNT_NOT_DIGITS);
    /* the length is the given one: bytes past it are not read */
    assert_int_equal(pb_method_account_check(g, "09171234567xyz", 11), PB_ACCOUNT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_account_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
