/* The control sidecar file (--control): rows and totals, and clear messages for the rest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/errors.h"
#include "formats/control.h"

static int parse(const char *text, pb_guard_limits *l)
{
    pb_guard_limits_init(l);
    return pb_control_parse(text, strlen(text), l);
}

static void test_good(void **state)
{
    pb_guard_limits l;
    (void)state;
    assert_int_equal(parse("# exporter v2\nrows = 120\ntotal = PHP:250000.00\n"
                           "  Total=myr:1000  \r\n\n",
                           &l),
                     0);
    assert_int_equal(l.expect_rows, 120);
    assert_int_equal(l.n_expect_total, 2);
    assert_string_equal(l.expect_total[0].currency, "PHP");
    assert_int_equal(l.expect_total[0].amount, 25000000);
    assert_string_equal(l.expect_total[1].currency, "MYR");
    assert_int_equal(l.expect_total[1].amount, 100000);
    assert_int_equal(parse("rows = 0", &l), 0);
    assert_int_equal(l.expect_rows, 0);
    assert_int_equal(l.n_expect_total, 0);
    assert_int_equal(parse("total = PHP:1.5\n", &l), 0);
    assert_int_equal(l.expect_rows, -1);
}

static void test_bad(void **state)
{
    pb_guard_limits l;
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"", "neither rows nor a total"},
        {"# only a comment\n\n", "neither rows nor a total"},
        {"rows = 1\nrows = 1\n", "line 2: rows is given twice"},
        {"rows = -1\n", "line 1: rows = '-1': use a whole number"},
        {"rows = 1e3\n", "use a whole number"},
        {"rows = 9999999999999999999\n", "use a whole number"},
        {"total = PHP:1\ntotal = PHP:2\n", "line 2: total: PHP is given twice"},
        {"total = PHP:1,000.00\n", "line 1: 'PHP:1,000.00': the amount"},
        {"total = XXX:1\n", "not an ISO 4217 currency"},
        {"total = 250000\n", "use CUR:AMOUNT"},
        {"\nsum = 3\n", "line 2: unknown key 'sum'"},
        {"rows 3\n", "line 1: not a `key = value` line"},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse(cases[i].text, &l), PB_EPARSE);
        if (!strstr(pb_error_last(), cases[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, pb_error_last(), cases[i].msg);
    }
    assert_int_equal(pb_control_parse("rows = 1\0", 9, &l), PB_EPARSE);
}

static void test_too_big(void **state)
{
    static char big[PB_CONTROL_MAX_BYTES + 2];
    pb_guard_limits l;
    (void)state;
    memset(big, '\n', sizeof(big));
    pb_guard_limits_init(&l);
    assert_int_equal(pb_control_parse(big, sizeof(big), &l), PB_ELIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_too_big),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
