/* The plan file: written, read back to the same digest, approvals added; clear refusals of
 * malformed plans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "formats/global.h"
#include "formats/plan.h"

static void make(pb_buf *b, char digest[PB_PLAN_DIGEST_LEN + 1])
{
    static pb_guard_limits lim;
    pb_plan_head h;
    pb_plan_row rows[2] = {{2, "p-1", "gcash", 150000, "PHP", "*******4567"},
                           {3, "p-\"2\"", "touchngo", 5000, "MYR", "*****4567"}};
    pb_plan_total tot[2] = {{"MYR", 1, 5000}, {"PHP", 1, 150000}};
    uint64_t counts[PB_F__COUNT] = {0};
    pb_plan_tail t = {tot, 2, 2, 1, counts};
    pb_plan_hash *ph = NULL;
    const char *methods[] = {"gcash", "touchngo"};
    pb_guard_money m = {"PHP", 500000};
    size_t i;

    pb_guard_limits_init(&lim);
    lim.max_total[lim.n_max_total++] = m;
    lim.expect_rows = 2;
    counts[PB_F_PAID_RECENTLY] = 2;
    memset(&h, 0, sizeof(h));
    h.file_sha256 = "59bf";
    h.batch_id = "b1";
    h.gate_url = "http://127.0.0.1:1";
    h.project_id = 77;
    h.callback_url = "";
    h.method = "";
    h.rate_milli = 2500;
    h.limits = &lim;
    h.recent_days = 7;
    h.strict_recent = 1;
    assert_int_equal(pb_plan_hash_new(&ph), 0);
    assert_int_equal(pb_plan_hash_head(ph, &h), 0);
    assert_int_equal(pb_plan_write_head(b, "f.csv", "2026-11-29T17:00:00Z", &h), 0);
    for (i = 0; i < 2; i++) {
        assert_int_equal(pb_plan_hash_row(ph, &rows[i]), 0);
        assert_int_equal(pb_plan_write_row(b, &rows[i], i == 0), 0);
    }
    assert_int_equal(pb_plan_hash_tail(ph, &t), 0);
    assert_int_equal(pb_plan_hash_final(ph, digest), 0);
    assert_int_equal(pb_plan_write_tail(b, &t, methods, 2, digest), 0);
    pb_plan_hash_free(ph);
}

static void test_round_trip(void **state)
{
    pb_buf b, b2;
    char digest[PB_PLAN_DIGEST_LEN + 1], again[PB_PLAN_DIGEST_LEN + 1];
    pb_plan_doc *d = NULL, *d2 = NULL;
    pb_plan_approval a;
    (void)state;
    pb_buf_init(&b, 1 << 20);
    pb_buf_init(&b2, 1 << 20);
    make(&b, digest);
    assert_int_equal(pb_plan_parse(b.ptr, b.len, &d), 0);
    assert_string_equal(d->digest, digest);
    assert_int_equal(pb_plan_doc_digest(d, again), 0);
    assert_string_equal(again, digest);
    assert_int_equal(d->nrows, 2);
    assert_string_equal(d->rows[1].payment_id, "p-\"2\"");
    assert_int_equal(d->rows[0].amount, 150000);
    assert_int_equal(d->head.rate_milli, 2500);
    assert_int_equal(d->limits.expect_rows, 2);
    assert_int_equal(d->limits.max_rows, -1);
    assert_int_equal(d->findings[PB_F_PAID_RECENTLY], 2);
    assert_int_equal(d->napprovals, 0);
    /* an approval added: the digest and the rest stay */
    memset(&a, 0, sizeof(a));
    snprintf(a.name, sizeof(a.name), "alice");
    snprintf(a.at, sizeof(a.at), "2026-11-29T18:00:00Z");
    memset(a.pub, 0xab, sizeof(a.pub));
    memset(a.sig, 0xcd, sizeof(a.sig));
    assert_int_equal(pb_plan_add_approval(b.ptr, b.len, &a, &b2), 0);
    assert_int_equal(pb_plan_parse(b2.ptr, b2.len, &d2), 0);
    assert_int_equal(d2->napprovals, 1);
    assert_string_equal(d2->approvals[0].name, "alice");
    assert_memory_equal(d2->approvals[0].pub, a.pub, 32);
    assert_memory_equal(d2->approvals[0].sig, a.sig, 64);
    assert_int_equal(pb_plan_doc_digest(d2, again), 0);
    assert_string_equal(again, digest);
    pb_plan_doc_free(d);
    pb_plan_doc_free(d2);
    pb_buf_free(&b);
    pb_buf_free(&b2);
}

/* replace the first occurrence of from by to in a copy of the plan, parse it */
static int parse_edited(const pb_buf *b, const char *from, const char *to)
{
    char *text = pb_malloc(b->len + strlen(to) + 1), *at;
    pb_plan_doc *d = NULL;
    size_t pre;
    int rc;
    assert_non_null(text);
    at = strstr(b->ptr, from);
    assert_non_null(at);
    pre = (size_t)(at - b->ptr);
    memcpy(text, b->ptr, pre);
    memcpy(text + pre, to, strlen(to));
    memcpy(text + pre + strlen(to), at + strlen(from), b->len - pre - strlen(from));
    rc = pb_plan_parse(text, b->len - strlen(from) + strlen(to), &d);
    pb_plan_doc_free(d);
    pb_free(text);
    return rc;
}

static void test_malformed(void **state)
{
    static const struct {
        const char *from, *to, *msg;
    } cases[] = {
        {"{\"paybatch_plan\":\"1\"", "{\"paybatch_plan\":\"2\"", "not a plan of this paybatch"},
        {"\"project_id\":\"77\"", "\"project_id\":77", "\"project_id\" is missing or not a string"},
        {"\"rate\":\"2.500\"", "\"rate\":\"2.5\"", "\"rate\" is not a rate"},
        {"\"amount\":\"1500.00\"", "\"amount\":\"1,500.00\"", "row 1 of the plan"},
        {"\"row\":\"2\"", "\"row\":\"x\"", "\"row\" is not a whole number"},
        {"\"max_total\":[\"PHP:5000.00\"]", "\"max_total\":[\"PHP5000\"]", "\"max_total\" holds"},
        {"\"paid-recently\":\"2\"", "\"no-such-code\":\"2\"", "does not know"},
        {"\"approvals\":[]", "\"approvals\":[{\"name\":\"a\"}]", "approval 1 of the plan"},
        {"\"digest\":\"sha256:", "\"digest\":\"md5:", "\"digest\" is missing"},
        {"\"strict\":true", "\"strict\":\"yes\"", "\"strict\" is missing or not true/false"},
    };
    pb_buf b;
    char digest[PB_PLAN_DIGEST_LEN + 1];
    pb_plan_doc *d = NULL;
    size_t i;
    (void)state;
    pb_buf_init(&b, 1 << 20);
    make(&b, digest);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse_edited(&b, cases[i].from, cases[i].to), PB_EPARSE);
        if (!strstr(pb_error_last(), cases[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, pb_error_last(), cases[i].msg);
    }
    assert_int_equal(pb_plan_parse("{", 1, &d), PB_EPARSE);
    assert_non_null(strstr(pb_error_last(), "not a JSON object"));
    assert_int_equal(pb_plan_parse("[]", 2, &d), PB_EPARSE);
    assert_null(d);
    pb_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_malformed),
    };
    pb_global_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
