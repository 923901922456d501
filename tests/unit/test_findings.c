/* The finding builder and account masking (SPEC 4: no unmasked account in any output). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/findings.h"

static void test_make(void **state)
{
    pb_finding f;
    char big[600];
    (void)state;
    pb_finding_make(&f, PB_F_DUPLICATE_PAYMENT_ID, 3, "payment_id", 2, "id '%s' again", "p-1");
    assert_int_equal(f.code, PB_F_DUPLICATE_PAYMENT_ID);
    assert_true(f.row == 3 && f.other_row == 2);
    assert_string_equal(f.column, "payment_id");
    assert_string_equal(f.message, "id 'p-1' again");
    /* a long message is cut at the buffer, terminated */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    pb_finding_make(&f, PB_F_TOO_LONG, 0, NULL, 0, "%s", big);
    assert_int_equal(strlen(f.message), PB_FINDING_MSG_MAX - 1);
    assert_null(f.column);
}

static void test_mask(void **state)
{
    char out[40];
    (void)state;
    pb_mask_account("09171234567", 11, out, sizeof(out));
    assert_string_equal(out, "*******4567");
    pb_mask_account("12345", 5, out, sizeof(out));
    assert_string_equal(out, "*2345");
    /* four or fewer: nothing is shown */
    pb_mask_account("1234", 4, out, sizeof(out));
    assert_string_equal(out, "****");
    pb_mask_account("", 0, out, sizeof(out));
    assert_string_equal(out, "");
    /* the length is the given one: bytes past it are never shown */
    pb_mask_account("0917123456789", 6, out, sizeof(out));
    assert_string_equal(out, "**1712");
    /* too long for the output: the tail is kept, still masked but the last four */
    pb_mask_account("123456789012", 12, out, 8);
    assert_string_equal(out, "***9012");
    /* tiny outputs never show more than the last four, never overrun */
    pb_mask_account("09171234567", 11, out, 3);
    assert_string_equal(out, "67");
    pb_mask_account("09171234567", 11, out, 1);
    assert_string_equal(out, "");
    out[0] = 'z';
    pb_mask_account("09171234567", 11, out, 0);
    assert_int_equal(out[0], 'z');
}

static void test_codes(void **state)
{
    int c;
    (void)state;
    for (c = 0; c < PB_F__COUNT; c++) {
        assert_true(strlen(pb_finding_name((pb_finding_code)c)) > 3);
        assert_string_not_equal(pb_finding_name((pb_finding_code)c), "unknown");
    }
    assert_string_equal(pb_finding_name(PB_F__COUNT), "unknown");
    assert_string_equal(pb_finding_name(PB_F_FORMULA_LIKE), "formula-like");
    assert_int_equal(pb_finding_severity(PB_F_FORMULA_LIKE), PB_SEV_WARNING);
    assert_true(pb_finding_is_file_level(PB_F_NO_HEADER));
    assert_false(pb_finding_is_file_level(PB_F_BAD_IP));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_make),
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
