/* Policy limits and control totals (issue #14): each figure at, below and above its limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "core/guard.h"

static pb_guard_money money(const char *s)
{
    pb_guard_money m;
    assert_int_equal(pb_guard_money_parse(s, strlen(s), &m), 0);
    return m;
}

typedef struct {
    pb_guard_violation v[8];
    uint32_t rows[8][PB_GUARD_ROWS_SHOWN];
    char text[8][300];
    size_t n;
} got;

static int collect(const pb_guard_violation *v, void *ctx)
{
    got *g = ctx;
    if (g->n < 8) {
        g->v[g->n] = *v;
        if (v->nrows)
            memcpy(g->rows[g->n], v->rows, v->nrows * sizeof(uint32_t));
        pb_guard_violation_text(v, g->text[g->n], sizeof(g->text[g->n]));
        g->n++;
    }
    return 0;
}

/* rows 2.. of amounts[], all in currency cur; returns the violations */
static size_t run(const pb_guard_limits *l, const char *cur, const int64_t *amounts, size_t n,
                  got *out)
{
    pb_guard *g = NULL;
    size_t i, count = 0;
    memset(out, 0, sizeof(*out));
    assert_int_equal(pb_guard_new(&g, l), 0);
    for (i = 0; i < n; i++)
        assert_int_equal(pb_guard_add(g, (uint32_t)(i + 2), cur, amounts[i]), 0);
    assert_int_equal(pb_guard_check(g, collect, out, &count), 0);
    assert_int_equal(count, out->n);
    pb_guard_free(g);
    return count;
}

static void test_money_parse(void **state)
{
    pb_guard_money m;
    char buf[40];
    (void)state;
    m = money("PHP:250000.00");
    assert_string_equal(m.currency, "PHP");
    assert_int_equal(m.amount, 25000000);
    m = money("myr:5");
    assert_string_equal(m.currency, "MYR");
    assert_int_equal(m.amount, 500);
    m = money("JPY:100");
    assert_int_equal(m.amount, 100);
    m = money("PHP:0.01");
    pb_guard_money_format(&m, buf, sizeof(buf));
    assert_string_equal(buf, "PHP:0.01");
    assert_int_equal(pb_guard_money_parse("PHP250000", 9, &m), PB_EINVAL);
    assert_int_equal(pb_guard_money_parse("XXX:1", 5, &m), PB_EINVAL);
    assert_int_equal(pb_guard_money_parse("PHP:1,000.00", 12, &m), PB_EINVAL);
    assert_non_null(strstr(pb_error_last(), "thousands"));
    assert_int_equal(pb_guard_money_parse("PHP:1.001", 9, &m), PB_EINVAL);
    assert_int_equal(pb_guard_money_parse("PHP:-1", 6, &m), PB_EINVAL);
    assert_int_equal(pb_guard_money_parse("PHP:", 4, &m), PB_EINVAL);
    assert_int_equal(pb_guard_money_parse("", 0, &m), PB_EINVAL);
}

static void test_money_list(void **state)
{
    pb_guard_money list[PB_GUARD_MAX_CUR], m = money("PHP:1");
    size_t n = 0, i;
    (void)state;
    assert_int_equal(pb_guard_money_add(list, &n, &m, "--max-total"), 0);
    assert_int_equal(pb_guard_money_add(list, &n, &m, "--max-total"), PB_EEXISTS);
    assert_non_null(strstr(pb_error_last(), "PHP is given twice"));
    for (i = 1; i < PB_GUARD_MAX_CUR; i++) {
        m.currency[0] = (char)('a' + i);
        assert_int_equal(pb_guard_money_add(list, &n, &m, "x"), 0);
    }
    m.currency[0] = 'Z', m.currency[1] = 'Z';
    assert_int_equal(pb_guard_money_add(list, &n, &m, "x"), PB_ELIMIT);
}

static void test_max_total(void **state)
{
    pb_guard_limits l;
    got g;
    const int64_t a[] = {10000, 15000}; /* 250.00 */
    (void)state;
    pb_guard_limits_init(&l);
    l.max_total[l.n_max_total++] = money("PHP:250.00");
    assert_int_equal(run(&l, "PHP", a, 2, &g), 0); /* at */
    l.max_total[0] = money("PHP:250.01");
    assert_int_equal(run(&l, "PHP", a, 2, &g), 0); /* below */
    l.max_total[0] = money("PHP:249.99");
    assert_int_equal(run(&l, "PHP", a, 2, &g), 1); /* above by one minor unit */
    assert_int_equal(g.v[0].kind, PB_GUARD_MAX_TOTAL);
    assert_int_equal(g.v[0].found, 25000);
    assert_int_equal(g.v[0].limit, 24999);
    assert_string_equal(g.text[0],
                        "--max-total PHP:249.99: the PHP rows to send total 250.00 (2 rows: 2, 3)");
    /* another currency's limit does not apply */
    l.max_total[0] = money("MYR:1.00");
    assert_int_equal(run(&l, "PHP", a, 2, &g), 0);
}

static void test_max_rows(void **state)
{
    pb_guard_limits l;
    got g;
    int64_t a[12];
    size_t i;
    (void)state;
    for (i = 0; i < 12; i++)
        a[i] = 1000;
    pb_guard_limits_init(&l);
    l.max_rows = 12;
    assert_int_equal(run(&l, "MYR", a, 12, &g), 0);
    l.max_rows = 13;
    assert_int_equal(run(&l, "MYR", a, 12, &g), 0);
    l.max_rows = 11;
    assert_int_equal(run(&l, "MYR", a, 12, &g), 1);
    assert_int_equal(g.v[0].kind, PB_GUARD_MAX_ROWS);
    assert_int_equal(g.v[0].rows_total, 12);
    assert_int_equal(g.v[0].nrows, PB_GUARD_ROWS_SHOWN);
    assert_string_equal(g.text[0], "--max-rows 11: 12 rows to send (12 rows: 2, 3, 4, 5, 6, 7, 8, "
                                   "9, 10, 11 and 2 more)");
    l.max_rows = 0;
    assert_int_equal(run(&l, "MYR", a, 1, &g), 1);
}

static void test_max_amount(void **state)
{
    pb_guard_limits l;
    got g;
    const int64_t a[] = {500, 700000, 699999, 700001, 900000};
    (void)state;
    pb_guard_limits_init(&l);
    l.max_amount[l.n_max_amount++] = money("MYR:9000.00");
    assert_int_equal(run(&l, "MYR", a, 5, &g), 0); /* at (900000) and below */
    l.max_amount[0] = money("MYR:7000.00");
    assert_int_equal(run(&l, "MYR", a, 5, &g), 1);
    assert_int_equal(g.v[0].kind, PB_GUARD_MAX_AMOUNT);
    assert_int_equal(g.v[0].rows_total, 2); /* 700001 and 900000; 700000 is at the limit */
    assert_int_equal(g.rows[0][0], 5);
    assert_int_equal(g.rows[0][1], 6);
    assert_int_equal(g.v[0].found, 900000);
    assert_string_equal(g.text[0],
                        "--max-amount MYR:7000.00: 2 MYR rows over it (the largest 9000.00) "
                        "(rows 5, 6)");
}

static void test_expect(void **state)
{
    pb_guard_limits l;
    got g;
    const int64_t a[] = {10000, 15000};
    (void)state;
    pb_guard_limits_init(&l);
    l.expect_rows = 2;
    l.expect_total[l.n_expect_total++] = money("PHP:250.00");
    assert_int_equal(run(&l, "PHP", a, 2, &g), 0); /* exact match */
    l.expect_rows = 3;                             /* off by one row */
    assert_int_equal(run(&l, "PHP", a, 2, &g), 1);
    assert_int_equal(g.v[0].kind, PB_GUARD_EXPECT_ROWS);
    assert_string_equal(g.text[0], "control rows: expected 3, found 2 (2 rows: 2, 3)");
    l.expect_rows = 1;
    assert_int_equal(run(&l, "PHP", a, 2, &g), 1);
    l.expect_rows = 2;
    l.expect_total[0] = money("PHP:250.01"); /* off by one minor unit, both ways */
    assert_int_equal(run(&l, "PHP", a, 2, &g), 1);
    assert_int_equal(g.v[0].kind, PB_GUARD_EXPECT_TOTAL);
    assert_string_equal(g.text[0],
                        "control total PHP: expected 250.01, found 250.00 (2 rows: 2, 3)");
    l.expect_total[0] = money("PHP:249.99");
    assert_int_equal(run(&l, "PHP", a, 2, &g), 1);
    /* a currency found but not named, and one named but not found */
    l.expect_total[0] = money("MYR:250.00");
    assert_int_equal(run(&l, "PHP", a, 2, &g), 2);
    assert_string_equal(g.text[0], "control total MYR: expected 250.00, found 0.00");
    assert_string_equal(g.text[1], "control total PHP: expected 0.00, found 250.00 (2 rows: 2, 3)");
}

static void test_totals_overflow(void **state)
{
    pb_guard_limits l;
    pb_guard *g = NULL;
    uint64_t rows;
    int64_t amount;
    (void)state;
    pb_guard_limits_init(&l);
    assert_int_equal(pb_guard_new(&g, &l), 0);
    assert_int_equal(pb_guard_add(g, 2, "PHP", INT64_MAX), 0);
    assert_int_equal(pb_guard_add(g, 3, "PHP", 1), PB_ERANGE);
    assert_int_equal(pb_guard_add(g, 4, "???", 1), PB_EINVAL);
    assert_int_equal(pb_guard_add(g, 5, "MYR", 7), 0);
    pb_guard_totals(g, "MYR", &rows, &amount);
    assert_true(rows == 1 && amount == 7);
    assert_string_equal(pb_guard_currency(g, 0), "MYR");
    assert_string_equal(pb_guard_currency(g, 1), "PHP");
    assert_null(pb_guard_currency(g, 2));
    pb_guard_free(g);
    pb_guard_free(NULL);
}

static void test_alloc_failures(void **state)
{
    pb_guard_limits l;
    long n;
    int ok = 0;
    (void)state;
    pb_guard_limits_init(&l);
    for (n = 0; n < 10 && !ok; n++) {
        pb_guard *g = NULL;
        pb_alloc_fail_after(n);
        if (pb_guard_new(&g, &l) == 0 && pb_guard_add(g, 2, "PHP", 1) == 0 &&
            pb_guard_add(g, 3, "MYR", 1) == 0)
            ok = 1;
        pb_alloc_fail_after(-1);
        pb_guard_free(g);
    }
    assert_true(ok);
}

static void test_payee_key(void **state)
{
    char a[65], b[65];
    (void)state;
    /* the reference value: python3 hashlib.sha256(b'paybatch-payee-v1\0gcash\0' +
     * b'09171234567\0' + b'150000\0PHP') */
    assert_int_equal(pb_guard_payee_key("gcash", "09171234567", 11, 150000, "PHP", a), 0);
    assert_string_equal(a, "0bfdbac676348ef4ce897ee6ef2260f86dcb1378d2cdd1e930074be71375b08e");
    assert_int_equal(pb_guard_payee_key("gcash", "09171234567", 11, 150001, "PHP", b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(pb_guard_payee_key("touchngo", "09171234567", 11, 150000, "PHP", b), 0);
    assert_string_not_equal(a, b);
    { /* longer than the key's stack buffer: the same hash, from the heap */
        char acct[600];
        memset(acct, '7', sizeof(acct));
        assert_int_equal(pb_guard_payee_key("gcash", acct, sizeof(acct), -5, "PHP", b), 0);
        assert_string_equal(b, "37caff7298262b6fa06a225a446f17c5f445d09c8fa5fe59e85edd16f77c19e9");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_money_parse),     cmocka_unit_test(test_money_list),
        cmocka_unit_test(test_max_total),       cmocka_unit_test(test_max_rows),
        cmocka_unit_test(test_max_amount),      cmocka_unit_test(test_expect),
        cmocka_unit_test(test_totals_overflow), cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_payee_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
