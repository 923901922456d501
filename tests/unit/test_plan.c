/* The canonical form of a plan and its digest: exact bytes of the head, every field counts,
 * parts in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/errors.h"
#include "core/plan.h"

static pb_guard_limits lim;

static pb_plan_head head(void)
{
    pb_plan_head h;
    memset(&h, 0, sizeof(h));
    pb_guard_limits_init(&lim);
    h.file_sha256 = "ab";
    h.batch_id = "b1";
    h.gate_url = "http://127.0.0.1:1";
    h.project_id = 77;
    h.callback_url = "";
    h.method = "";
    h.rate_milli = 10000;
    h.limits = &lim;
    h.recent_days = 7;
    return h;
}

static void digest(const pb_plan_head *h, const pb_plan_row *rows, size_t n, const pb_plan_tail *t,
                   char out[PB_PLAN_DIGEST_LEN + 1])
{
    pb_plan_hash *ph = NULL;
    size_t i;
    assert_int_equal(pb_plan_hash_new(&ph), 0);
    assert_int_equal(pb_plan_hash_head(ph, h), 0);
    for (i = 0; i < n; i++)
        assert_int_equal(pb_plan_hash_row(ph, &rows[i]), 0);
    assert_int_equal(pb_plan_hash_tail(ph, t), 0);
    assert_int_equal(pb_plan_hash_final(ph, out), 0);
    pb_plan_hash_free(ph);
}

static void test_head_bytes(void **state)
{
    pb_plan_head h = head();
    pb_buf b;
    static const char want[] = "paybatch-plan-v1\nfile_sha256=2:ab\nbatch_id=2:b1\n"
                               "gate_url=18:http://127.0.0.1:1\nproject_id=2:77\ncallback_url=0:\n"
                               "method=0:\nallow_conversion=1:0\nskip_invalid=1:0\n"
                               "rate_milli=5:10000\nmax_total=1:0\nmax_rows=2:-1\nmax_amount=1:0\n"
                               "expect_rows=2:-1\nexpect_total=1:0\nrecent_days=1:7\n"
                               "strict_recent=1:0\n";
    (void)state;
    pb_buf_init(&b, 1 << 16);
    assert_int_equal(pb_plan_head_canonical(&h, &b), 0);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.ptr, want, b.len);
    pb_buf_free(&b);
}

static void test_every_field_counts(void **state)
{
    pb_plan_row rows[2] = {{2, "p-1", "gcash", 150000, "PHP", "*******4567"},
                           {3, "p-2", "gcash", 100000, "PHP", "*******4568"}};
    pb_plan_total tot[1] = {{"PHP", 2, 250000}};
    uint64_t counts[PB_F__COUNT] = {0};
    pb_plan_tail t = {tot, 1, 2, 0, counts};
    pb_plan_head h = head(), h2;
    char base[PB_PLAN_DIGEST_LEN + 1], d[PB_PLAN_DIGEST_LEN + 1];
    pb_guard_money m = {"PHP", 1};
    (void)state;
    digest(&h, rows, 2, &t, base);
    assert_int_equal(strlen(base), PB_PLAN_DIGEST_LEN);
    assert_memory_equal(base, "sha256:", 7);
    digest(&h, rows, 2, &t, d);
    assert_string_equal(base, d); /* deterministic */
#define CHANGED(stmt)                                                                              \
    do {                                                                                           \
        h2 = head();                                                                               \
        stmt;                                                                                      \
        digest(&h2, rows, 2, &t, d);                                                               \
        assert_string_not_equal(base, d);                                                          \
    } while (0)
    CHANGED(h2.file_sha256 = "ac");
    CHANGED(h2.batch_id = "b2");
    CHANGED(h2.gate_url = "http://127.0.0.1:2");
    CHANGED(h2.project_id = 78);
    CHANGED(h2.callback_url = "http://x");
    CHANGED(h2.method = "gcash");
    CHANGED(h2.allow_conversion = 1);
    CHANGED(h2.skip_invalid = 1);
    CHANGED(h2.rate_milli = 10001);
    CHANGED(lim.max_rows = 5);
    CHANGED(lim.max_total[lim.n_max_total++] = m);
    CHANGED(lim.max_amount[lim.n_max_amount++] = m);
    CHANGED(lim.expect_total[lim.n_expect_total++] = m);
    CHANGED(lim.expect_rows = 2);
    CHANGED(h2.recent_days = 8);
    CHANGED(h2.strict_recent = 1);
#undef CHANGED
    h = head();
    rows[1].amount++;
    digest(&h, rows, 2, &t, d);
    assert_string_not_equal(base, d);
    rows[1].amount--;
    digest(&h, rows, 1, &t, d); /* a row less */
    assert_string_not_equal(base, d);
    counts[PB_F_PAID_RECENTLY] = 1;
    digest(&h, rows, 2, &t, d);
    assert_string_not_equal(base, d);
    counts[PB_F_PAID_RECENTLY] = 0;
    t.rows_invalid = 1;
    digest(&h, rows, 2, &t, d);
    assert_string_not_equal(base, d);
}

static void test_order(void **state)
{
    pb_plan_hash *ph = NULL;
    pb_plan_head h = head();
    pb_plan_row r = {2, "p", "gcash", 1, "PHP", "*"};
    pb_plan_tail t = {NULL, 0, 0, 0, NULL};
    char d[PB_PLAN_DIGEST_LEN + 1];
    (void)state;
    assert_int_equal(pb_plan_hash_new(&ph), 0);
    assert_int_equal(pb_plan_hash_row(ph, &r), PB_EINVAL);
    assert_int_equal(pb_plan_hash_final(ph, d), PB_EINVAL);
    assert_int_equal(pb_plan_hash_head(ph, &h), 0);
    assert_int_equal(pb_plan_hash_head(ph, &h), PB_EINVAL);
    assert_int_equal(pb_plan_hash_tail(ph, &t), 0);
    assert_int_equal(pb_plan_hash_row(ph, &r), PB_EINVAL);
    assert_int_equal(pb_plan_hash_final(ph, d), 0);
    pb_plan_hash_free(ph);
    pb_plan_hash_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_bytes),
        cmocka_unit_test(test_every_field_counts),
        cmocka_unit_test(test_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
