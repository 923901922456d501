#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/errors.h"
#include "core/methods.h"
#include "core/money.h"

static void expect_minor(const char *s, int rc, int64_t v, pb_money_why why)
{
    int64_t out = -1;
    pb_money_why w = PB_MONEY_OK;
    int got = pb_money_parse_minor(s, strlen(s), &out, &w);
    print_message("minor '%s'\n", s);
    assert_int_equal(got, rc);
    assert_int_equal(w, why);
    if (rc == 0)
        assert_true(out == v);
}

static void expect_major(const char *s, int exp, int rc, int64_t v, pb_money_why why)
{
    int64_t out = -1;
    pb_money_why w = PB_MONEY_OK;
    int got = pb_money_parse_major(s, strlen(s), exp, &out, &w);
    print_message("major '%s' exp %d\n", s, exp);
    assert_int_equal(got, rc);
    assert_int_equal(w, why);
    if (rc == 0)
        assert_true(out == v);
}

static void test_minor(void **state)
{
    (void)state;
    expect_minor("50000", 0, 50000, PB_MONEY_OK);
    expect_minor("0", 0, 0, PB_MONEY_OK);
    expect_minor("007", 0, 7, PB_MONEY_OK);
    expect_minor("9223372036854775807", 0, INT64_MAX, PB_MONEY_OK);
    expect_minor("9223372036854775808", PB_ERANGE, 0, PB_MONEY_OVERFLOW);
    expect_minor("99999999999999999999999", PB_ERANGE, 0, PB_MONEY_OVERFLOW);
    expect_minor("", PB_EINVAL, 0, PB_MONEY_EMPTY);
    expect_minor("-500", PB_EINVAL, 0, PB_MONEY_SIGN);
    expect_minor("+500", PB_EINVAL, 0, PB_MONEY_SIGN);
    expect_minor(" 500", PB_EINVAL, 0, PB_MONEY_SPACE);
    expect_minor("5 00", PB_EINVAL, 0, PB_MONEY_SPACE);
    expect_minor("500.00", PB_EINVAL, 0, PB_MONEY_DECIMAL_POINT);
    expect_minor("500,00", PB_EINVAL, 0, PB_MONEY_DECIMAL_POINT);
    expect_minor("1'000", PB_EINVAL, 0, PB_MONEY_THOUSANDS);
    expect_minor("9.17E+09", PB_EINVAL, 0, PB_MONEY_SCIENTIFIC);
    expect_minor("1e5", PB_EINVAL, 0, PB_MONEY_SCIENTIFIC);
    expect_minor("12abc", PB_EINVAL, 0, PB_MONEY_NOT_A_NUMBER);
    expect_minor("0x10", PB_EINVAL, 0, PB_MONEY_NOT_A_NUMBER);
}

static void test_major(void **state)
{
    (void)state;
    expect_major("500.00", 2, 0, 50000, PB_MONEY_OK);
    expect_major("500.5", 2, 0, 50050, PB_MONEY_OK);
    expect_major("500", 2, 0, 50000, PB_MONEY_OK);
    expect_major("0.01", 2, 0, 1, PB_MONEY_OK);
    expect_major("1500", 0, 0, 1500, PB_MONEY_OK);
    expect_major("1.234", 3, 0, 1234, PB_MONEY_OK);
    expect_major("5.001", 2, PB_EINVAL, 0, PB_MONEY_TOO_MANY_DECIMALS);
    expect_major("5.000", 2, PB_EINVAL, 0, PB_MONEY_TOO_MANY_DECIMALS);
    expect_major("5.5", 0, PB_EINVAL, 0, PB_MONEY_TOO_MANY_DECIMALS);
    expect_major("500,00", 2, PB_EINVAL, 0, PB_MONEY_DECIMAL_COMMA);
    expect_major("500,5", 2, PB_EINVAL, 0, PB_MONEY_DECIMAL_COMMA);
    expect_major("1.000,50", 2, PB_EINVAL, 0, PB_MONEY_DECIMAL_COMMA);
    expect_major("1,000", 2, PB_EINVAL, 0, PB_MONEY_THOUSANDS);
    expect_major("1,000.50", 2, PB_EINVAL, 0, PB_MONEY_THOUSANDS);
    expect_major("1,000,000", 2, PB_EINVAL, 0, PB_MONEY_THOUSANDS);
    expect_major("1.000.000", 2, PB_EINVAL, 0, PB_MONEY_THOUSANDS);
    expect_major("-5.00", 2, PB_EINVAL, 0, PB_MONEY_SIGN);
    expect_major("5 .00", 2, PB_EINVAL, 0, PB_MONEY_SPACE);
    expect_major(".5", 2, PB_EINVAL, 0, PB_MONEY_NOT_A_NUMBER);
    expect_major("5.", 2, PB_EINVAL, 0, PB_MONEY_NOT_A_NUMBER);
    expect_major("abc", 2, PB_EINVAL, 0, PB_MONEY_NOT_A_NUMBER);
    expect_major("1.5E+3", 2, PB_EINVAL, 0, PB_MONEY_SCIENTIFIC);
    expect_major("92233720368547758.07", 2, 0, INT64_MAX, PB_MONEY_OK);
    expect_major("92233720368547758.08", 2, PB_ERANGE, 0, PB_MONEY_OVERFLOW);
    expect_major("92233720368547759", 2, PB_ERANGE, 0, PB_MONEY_OVERFLOW);
}

static void test_format(void **state)
{
    char out[32];
    (void)state;
    assert_int_equal(pb_money_format(50000, 2, out, sizeof(out)), 0);
    assert_string_equal(out, "500.00");
    assert_int_equal(pb_money_format(5, 2, out, sizeof(out)), 0);
    assert_string_equal(out, "0.05");
    assert_int_equal(pb_money_format(-5, 2, out, sizeof(out)), 0);
    assert_string_equal(out, "-0.05");
    assert_int_equal(pb_money_format(7, 0, out, sizeof(out)), 0);
    assert_string_equal(out, "7");
    assert_int_equal(pb_money_format(1234, 3, out, sizeof(out)), 0);
    assert_string_equal(out, "1.234");
    assert_int_equal(pb_money_format(INT64_MIN, 2, out, sizeof(out)), 0);
    assert_string_equal(out, "-92233720368547758.08");
    assert_int_equal(pb_money_format(1, 2, out, 3), PB_ELIMIT);
}

static void test_add(void **state)
{
    int64_t s;
    (void)state;
    assert_int_equal(pb_money_add(1, 2, &s), 0);
    assert_true(s == 3);
    assert_int_equal(pb_money_add(INT64_MAX, 1, &s), PB_ERANGE);
    assert_int_equal(pb_money_add(INT64_MIN, -1, &s), PB_ERANGE);
}

static void test_currencies(void **state)
{
    (void)state;
    assert_int_equal(pb_currency_find("MYR", 3)->exponent, 2);
    assert_int_equal(pb_currency_find("php", 3)->exponent, 2);
    assert_string_equal(pb_currency_find("php", 3)->code, "PHP");
    assert_int_equal(pb_currency_find("JPY", 3)->exponent, 0);
    assert_int_equal(pb_currency_find("KWD", 3)->exponent, 3);
    assert_int_equal(pb_currency_find("BHD", 3)->exponent, 3);
    assert_null(pb_currency_find("XXX", 3));
    assert_null(pb_currency_find("PH", 2));
    assert_null(pb_currency_find("PHPP", 4));
    /* every table entry is reachable (the binary search needs the table sorted) */
    {
        static const char *codes[] = {"AED", "ZWL", "EUR", "USD", "ZAR", "VND", "CLF", "UYW"};
        size_t i;
        for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
            assert_non_null(pb_currency_find(codes[i], 3));
    }
}

static void test_methods(void **state)
{
    const pb_method *m;
    size_t i;
    (void)state;
    m = pb_method_find("GCash", 5);
    assert_non_null(m);
    assert_string_equal(m->endpoint, "/v2/payment/wallet/gcash/payout");
    assert_string_equal(m->currency, "PHP");
    assert_true(m->min_minor == 1000 && m->max_minor == 10000000);
    assert_int_equal(m->account_min_digits, 11);
    assert_string_equal(m->account_prefix, "09");
    assert_true(m->customer_name_required);
    assert_false(m->conversion_allowed);
    assert_int_equal(m->result_basic_s, 86400);
    assert_int_equal(m->result_limit_s, 172800);
    m = pb_method_find("touchngo", 8);
    assert_non_null(m);
    assert_string_equal(m->currency, "MYR");
    assert_true(m->min_minor == 500 && m->max_minor == 2000000);
    assert_true(m->conversion_allowed);
    assert_int_equal(m->result_basic_s, 120);
    assert_null(pb_method_find("paypal", 6));
    assert_null(pb_method_find("gcas", 4));
    assert_int_equal(pb_method_count(), 2);
    for (i = 0; i < pb_method_count(); i++) {
        m = pb_method_at(i);
        /* every method's currency is a known currency and its limits are sane */
        assert_non_null(pb_currency_find(m->currency, strlen(m->currency)));
        assert_true(m->min_minor > 0 && m->min_minor <= m->max_minor);
        assert_true(m->account_min_digits <= m->account_max_digits);
    }
    assert_null(pb_method_at(pb_method_count()));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minor),      cmocka_unit_test(test_major),
        cmocka_unit_test(test_format),     cmocka_unit_test(test_add),
        cmocka_unit_test(test_currencies), cmocka_unit_test(test_methods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
