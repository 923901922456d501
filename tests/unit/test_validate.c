#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/validate.h"
#include "support/rows.h"

typedef struct {
    int n;
    pb_finding f[32];
} sink;

static void collect(const pb_finding *f, void *ctx)
{
    sink *s = ctx;
    if (s->n < 32)
        s->f[s->n++] = *f;
}

/* A valid GCash row; tests overwrite single cells. */
static void base_gcash(pb_row *r)
{
    pb_test_row(r, NULL, "gcash", "p-1", "09171234567");
    r->row = 7;
    r->cell[PB_COL_CUSTOMER_ID] = pb_str_c("c-1");
}

static sink run(const pb_row *r, int allow_conversion, pb_row_result *res)
{
    sink s;
    pb_validate_opts o = {NULL, allow_conversion};
    memset(&s, 0, sizeof(s));
    pb_validate_row(r, &o, res, collect, &s);
    return s;
}

/* Exactly one finding, with this code, naming this column and row, with a message. */
static void expect_one(pb_row *r, int allow_conv, pb_finding_code code, const char *col)
{
    pb_row_result res;
    sink s = run(r, allow_conv, &res);
    int i;
    for (i = 0; i < s.n; i++)
        print_message("  %s: %s\n", pb_finding_name(s.f[i].code), s.f[i].message);
    assert_int_equal(s.n, 1);
    assert_string_equal(pb_finding_name(s.f[0].code), pb_finding_name(code));
    assert_string_equal(s.f[0].column, col);
    assert_int_equal(s.f[0].row, 7);
    assert_true(strlen(s.f[0].message) > 20);
    assert_int_equal(res.errors, pb_finding_severity(code) == PB_SEV_ERROR ? 1 : 0);
}

static void test_valid_rows(void **state)
{
    pb_row r;
    pb_row_result res;
    sink s;
    (void)state;
    base_gcash(&r);
    s = run(&r, 0, &res);
    assert_int_equal(s.n, 0);
    assert_true(res.amount_ok && res.amount_minor == 150000);
    assert_string_equal(res.method->name, "gcash");
    assert_string_equal(res.currency->code, "PHP");

    r.cell[PB_COL_METHOD] = pb_str_c("TouchNGo");
    r.cell[PB_COL_CURRENCY] = pb_str_c("MYR");
    r.cell[PB_COL_ACCOUNT] = pb_str_c("00004598");
    r.cell[PB_COL_CUSTOMER_NAME] = pb_str_c("");
    r.cell[PB_COL_IP] = pb_str_c("2001:db8::1");
    r.cell[PB_COL_AMOUNT] = pb_str_c("500");
    s = run(&r, 0, &res);
    assert_int_equal(s.n, 0);
    assert_string_equal(res.method->name, "touchngo");

    /* amount_major column instead of minor units */
    base_gcash(&r);
    r.name[PB_COL_AMOUNT] = NULL;
    r.name[PB_COL_AMOUNT_MAJOR] = "amount_major";
    r.cell[PB_COL_AMOUNT_MAJOR] = pb_str_c("1500.00");
    s = run(&r, 0, &res);
    assert_int_equal(s.n, 0);
    assert_true(res.amount_minor == 150000);
    /* the limits are inclusive */
    r.cell[PB_COL_AMOUNT_MAJOR] = pb_str_c("10.00");
    assert_int_equal(run(&r, 0, &res).n, 0);
    r.cell[PB_COL_AMOUNT_MAJOR] = pb_str_c("100000.00");
    assert_int_equal(run(&r, 0, &res).n, 0);
}

static void test_each_code(void **state)
{
    pb_row r;
    (void)state;
#define CASE(col, val, code, colname)                                                              \
    do {                                                                                           \
        base_gcash(&r);                                                                            \
        r.cell[col] = pb_str_c(val);                                                               \
        print_message("case %s='%s'\n", colname, val);                                             \
        expect_one(&r, 0, code, colname);                                                          \
    } while (0)
    CASE(PB_COL_METHOD, "paypal", PB_F_UNKNOWN_METHOD, "method");
    CASE(PB_COL_METHOD, "", PB_F_MISSING_VALUE, "method");
    CASE(PB_COL_PAYMENT_ID, "", PB_F_MISSING_VALUE, "general.payment_id");
    CASE(PB_COL_PAYMENT_ID, "a;b", PB_F_BAD_CHARACTERS, "general.payment_id");
    CASE(PB_COL_PAYMENT_ID, "a\tb", PB_F_BAD_CHARACTERS, "general.payment_id");
    CASE(PB_COL_PAYMENT_ID, "=1+2", PB_F_FORMULA_LIKE, "general.payment_id");
    CASE(PB_COL_AMOUNT, "1500.00", PB_F_AMOUNT_HAS_DECIMALS, "payment.amount");
    CASE(PB_COL_AMOUNT, "1500,00", PB_F_AMOUNT_HAS_DECIMALS, "payment.amount");
    CASE(PB_COL_AMOUNT, "-1500", PB_F_BAD_AMOUNT, "payment.amount");
    CASE(PB_COL_AMOUNT, "abc", PB_F_BAD_AMOUNT, "payment.amount");
    CASE(PB_COL_AMOUNT, "1.5E+05", PB_F_SCIENTIFIC_NOTATION, "payment.amount");
    CASE(PB_COL_AMOUNT, "999", PB_F_AMOUNT_TOO_SMALL, "payment.amount");
    CASE(PB_COL_AMOUNT, "10000001", PB_F_AMOUNT_TOO_LARGE, "payment.amount");
    CASE(PB_COL_AMOUNT, "", PB_F_MISSING_VALUE, "payment.amount");
    CASE(PB_COL_AMOUNT, "99999999999999999999", PB_F_BAD_AMOUNT, "payment.amount");
    CASE(PB_COL_CURRENCY, "USD", PB_F_CURRENCY_MISMATCH, "payment.currency");
    CASE(PB_COL_CURRENCY, "XYZ", PB_F_CURRENCY_MISMATCH, "payment.currency");
    CASE(PB_COL_CURRENCY, "", PB_F_MISSING_VALUE, "payment.currency");
    CASE(PB_COL_CUSTOMER_ID, "", PB_F_MISSING_VALUE, "customer.id");
    CASE(PB_COL_IP, "300.1.1.1", PB_F_BAD_IP, "customer.ip_address");
    CASE(PB_COL_IP, "localhost", PB_F_BAD_IP, "customer.ip_address");
    CASE(PB_COL_IP, "", PB_F_MISSING_VALUE, "customer.ip_address");
    CASE(PB_COL_ACCOUNT, "9171234567", PB_F_LEADING_ZERO_LOST, "account.number");
    CASE(PB_COL_ACCOUNT, "9.17E+09", PB_F_SCIENTIFIC_NOTATION, "account.number");
    CASE(PB_COL_ACCOUNT, "0917123456", PB_F_BAD_ACCOUNT_NUMBER, "account.number");
    CASE(PB_COL_ACCOUNT, "19171234567", PB_F_BAD_ACCOUNT_NUMBER, "account.number");
    CASE(PB_COL_ACCOUNT, "0917-123-4567", PB_F_BAD_ACCOUNT_NUMBER, "account.number");
    CASE(PB_COL_ACCOUNT, "", PB_F_MISSING_VALUE, "account.number");
    CASE(PB_COL_CUSTOMER_NAME, "", PB_F_MISSING_VALUE, "account.customer_name");
    CASE(PB_COL_CUSTOMER_NAME, "Juan\nDela Cruz", PB_F_BAD_CHARACTERS, "account.customer_name");
    CASE(PB_COL_CUSTOMER_NAME, "@Juan", PB_F_FORMULA_LIKE, "account.customer_name");
    CASE(PB_COL_DESCRIPTION, "bad\001char", PB_F_BAD_CHARACTERS, "payment.description");
    CASE(PB_COL_DESCRIPTION, "-rent", PB_F_FORMULA_LIKE, "payment.description");
    /* SPEC 4/8: TAB and CR starts are formula-like too (a description may hold them) */
    CASE(PB_COL_DESCRIPTION, "\trent", PB_F_FORMULA_LIKE, "payment.description");
    CASE(PB_COL_DESCRIPTION, "\rrent", PB_F_FORMULA_LIKE, "payment.description");
#undef CASE
}

static void test_touchngo_rules(void **state)
{
    pb_row r;
    pb_row_result res;
    sink s;
    (void)state;
    base_gcash(&r);
    r.cell[PB_COL_METHOD] = pb_str_c("touchngo");
    r.cell[PB_COL_CURRENCY] = pb_str_c("MYR");
    r.cell[PB_COL_ACCOUNT] = pb_str_c("12345");
    expect_one(&r, 0, PB_F_BAD_ACCOUNT_NUMBER, "account.number");
    r.cell[PB_COL_ACCOUNT] = pb_str_c("123456789012345678901");
    expect_one(&r, 0, PB_F_BAD_ACCOUNT_NUMBER, "account.number");
    r.cell[PB_COL_ACCOUNT] = pb_str_c("123456");
    r.cell[PB_COL_AMOUNT] = pb_str_c("499");
    expect_one(&r, 0, PB_F_AMOUNT_TOO_SMALL, "payment.amount");
    r.cell[PB_COL_AMOUNT] = pb_str_c("2000001");
    expect_one(&r, 0, PB_F_AMOUNT_TOO_LARGE, "payment.amount");
    /* another currency: refused unless conversion is allowed, then a warning only */
    r.cell[PB_COL_AMOUNT] = pb_str_c("2000001");
    r.cell[PB_COL_CURRENCY] = pb_str_c("USD");
    expect_one(&r, 0, PB_F_CURRENCY_MISMATCH, "payment.currency");
    expect_one(&r, 1, PB_F_CONVERTED_CURRENCY, "payment.currency");
    s = run(&r, 1, &res);
    assert_int_equal(res.errors, 0);
    assert_int_equal(res.warnings, 1);
    (void)s;
    /* GCash never converts, even when allowed */
    base_gcash(&r);
    r.cell[PB_COL_CURRENCY] = pb_str_c("USD");
    expect_one(&r, 1, PB_F_CURRENCY_MISMATCH, "payment.currency");
}

static void test_default_method_and_major(void **state)
{
    pb_row r;
    pb_row_result res;
    sink s;
    pb_validate_opts o = {NULL, 0};
    (void)state;
    base_gcash(&r);
    r.name[PB_COL_METHOD] = NULL;
    r.cell[PB_COL_METHOD] = pb_str_c("");
    o.default_method = pb_method_find("gcash", 5);
    memset(&s, 0, sizeof(s));
    pb_validate_row(&r, &o, &res, collect, &s);
    assert_int_equal(s.n, 0);
    assert_ptr_equal(res.method, o.default_method);

    base_gcash(&r);
    r.name[PB_COL_AMOUNT] = NULL;
    r.name[PB_COL_AMOUNT_MAJOR] = "Amount_Major";
    r.cell[PB_COL_AMOUNT_MAJOR] = pb_str_c("1500,00");
    expect_one(&r, 0, PB_F_DECIMAL_COMMA, "Amount_Major");
    r.cell[PB_COL_AMOUNT_MAJOR] = pb_str_c("1,500.00");
    expect_one(&r, 0, PB_F_BAD_AMOUNT, "Amount_Major");
    r.cell[PB_COL_AMOUNT_MAJOR] = pb_str_c("15.001");
    expect_one(&r, 0, PB_F_BAD_AMOUNT, "Amount_Major");
    r.cell[PB_COL_AMOUNT_MAJOR] = pb_str_c("9.99");
    expect_one(&r, 0, PB_F_AMOUNT_TOO_SMALL, "Amount_Major");
}

/* The one formula rule: the first byte is one of = + - @ TAB CR, nothing else. */
static void test_formula_rule(void **state)
{
    int c;
    pb_row r;
    pb_row_result res;
    sink s;
    (void)state;
    for (c = 0; c < 256; c++) {
        char b[2] = {(char)c, 'x'};
        int want = c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
        assert_int_equal(pb_formula_like(pb_str_make(b, 2)), want);
    }
    assert_false(pb_formula_like(pb_str_make("", 0)));
    assert_false(pb_formula_like(pb_str_c("5-")));
    /* the message names a tab in words rather than printing it */
    base_gcash(&r);
    r.cell[PB_COL_DESCRIPTION] = pb_str_c("\trent");
    s = run(&r, 0, &res);
    assert_int_equal(s.n, 1);
    assert_non_null(strstr(s.f[0].message, "starts with a tab"));
    r.cell[PB_COL_DESCRIPTION] = pb_str_c("=rent");
    s = run(&r, 0, &res);
    assert_non_null(strstr(s.f[0].message, "starts with '='"));
}

static void test_messages_mask_accounts(void **state)
{
    pb_row r;
    pb_row_result res;
    sink s;
    (void)state;
    base_gcash(&r);
    r.cell[PB_COL_ACCOUNT] = pb_str_c("19171234567");
    s = run(&r, 0, &res);
    assert_int_equal(s.n, 1);
    assert_null(strstr(s.f[0].message, "19171234567"));
    assert_non_null(strstr(s.f[0].message, "*******4567"));
}

static void test_mask_and_ip(void **state)
{
    char out[8];
    (void)state;
    pb_mask_account("09171234567", 11, out, sizeof(out));
    assert_string_equal(out, "***4567"); /* the tail survives truncation */
    pb_mask_account("1234", 4, out, sizeof(out));
    assert_string_equal(out, "****");
    assert_true(pb_ip_valid(pb_str_c("::1")));
    assert_true(pb_ip_valid(pb_str_c("10.0.0.1")));
    assert_false(pb_ip_valid(pb_str_c("10.0.0")));
    assert_false(pb_ip_valid(pb_str_c(" 10.0.0.1")));
    assert_false(pb_ip_valid(pb_str_make("10.0.0.1\0x", 10)));
    assert_int_equal(pb_find_control(pb_str_c("a\tb"), 1), -1);
    assert_int_equal(pb_find_control(pb_str_c("a\tb"), 0), 1);
}

/* pb_find_control looks 8 bytes at a time: every byte value at every place of cells of 0-40
   bytes (the other bytes plain, or UTF-8 lead bytes) gives the index a byte loop gives. */
static void test_find_control_words(void **state)
{
    char buf[48];
    size_t len, at;
    int c, fill, allow;
    (void)state;
    for (fill = 0; fill < 2; fill++) {
        for (len = 0; len <= 40; len++) {
            for (at = 0; at < len; at++) {
                for (c = 0; c < 256; c++) {
                    long want;
                    memset(buf, fill ? 0xC3 : 'a', len);
                    buf[at] = (char)c;
                    for (allow = 0; allow < 2; allow++) {
                        int ctl = c < 0x20 || c == 0x7f;
                        if (allow && (c == '\t' || c == '\n' || c == '\r'))
                            ctl = 0;
                        want = ctl ? (long)at : -1;
                        assert_int_equal(pb_find_control(pb_str_make(buf, len), allow), want);
                    }
                }
            }
            memset(buf, 0x1f, len); /* several: the first */
            if (len)
                assert_int_equal(pb_find_control(pb_str_make(buf, len), 0), 0);
        }
    }
}

static void test_codes_table(void **state)
{
    int c;
    (void)state;
    for (c = 0; c < PB_F__COUNT; c++)
        assert_non_null(pb_finding_name((pb_finding_code)c));
    assert_string_equal(pb_finding_name(PB_F_POSSIBLE_DUPLICATE_PAYOUT),
                        "possible-duplicate-payout");
    assert_int_equal(pb_finding_severity(PB_F_FORMULA_LIKE), PB_SEV_WARNING);
    assert_int_equal(pb_finding_severity(PB_F_CONVERTED_CURRENCY), PB_SEV_WARNING);
    assert_int_equal(pb_finding_severity(PB_F_BAD_IP), PB_SEV_ERROR);
    assert_true(pb_finding_is_file_level(PB_F_NO_HEADER));
    assert_false(pb_finding_is_file_level(PB_F_BAD_IP));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_rows),         cmocka_unit_test(test_each_code),
        cmocka_unit_test(test_touchngo_rules),     cmocka_unit_test(test_default_method_and_major),
        cmocka_unit_test(test_formula_rule),       cmocka_unit_test(test_messages_mask_accounts),
        cmocka_unit_test(test_mask_and_ip),        cmocka_unit_test(test_codes_table),
        cmocka_unit_test(test_find_control_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
