/*
 * test_callback.c - the pure decision of core/callback: what a verified callback does to a
 * row, with plain values (every case of the header's list).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/callback.h"

static pb_callback_row row_in(pb_row_state s)
{
    pb_callback_row r;
    r.row_no = 7;
    r.state = s;
    r.amount = 1050;
    r.currency = "PHP";
    return r;
}

static pb_callback_facts facts(const char *status)
{
    pb_callback_facts f;
    memset(&f, 0, sizeof(f));
    f.payment_status = status;
    f.amount_present = 1;
    f.amount_ok = 1;
    f.amount = 1050;
    f.currency_present = 1;
    f.currency = "PHP";
    f.code = "0";
    f.message = "Success";
    f.operation_id = "42";
    f.request_id = "req-1";
    f.provider_payment_id = "prov-9";
    return f;
}

static void decide(pb_row_state s, const pb_callback_facts *f, pb_callback_decision *d)
{
    pb_callback_row r = row_in(s);
    pb_callback_decide(&r, f, 1000, d);
    /* whatever is produced is a transition of the machine */
    for (size_t i = 0; i < d->n; i++)
        assert_true(pb_row_state_allowed(d->updates[i].from, d->updates[i].to));
    if (d->verdict != PB_CALLBACK_APPLY)
        assert_int_equal(d->n, 0);
    else
        assert_true(d->n >= 1);
}

static void expect_one(pb_row_state from, const char *status, pb_row_state to)
{
    pb_callback_facts f = facts(status);
    pb_callback_decision d;
    decide(from, &f, &d);
    assert_int_equal(d.verdict, PB_CALLBACK_APPLY);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.updates[0].from, from);
    assert_int_equal(d.updates[0].to, to);
    assert_int_equal(d.updates[0].row_no, 7);
    assert_int_equal(d.updates[0].at_ms, 1000);
    assert_string_equal(d.updates[0].gate_status, status);
    assert_string_equal(d.updates[0].operation_id, "42");
    assert_string_equal(d.updates[0].request_id, "req-1");
    assert_string_equal(d.updates[0].provider_payment_id, "prov-9");
}

static void expect_none(pb_row_state from, const pb_callback_facts *f, pb_callback_verdict v)
{
    pb_callback_decision d;
    decide(from, f, &d);
    if (d.verdict != v)
        fail_msg("%s + %s: got %s (%s), want %s", pb_row_state_name(from), f->payment_status,
                 pb_callback_verdict_name(d.verdict), d.why, pb_callback_verdict_name(v));
}

static void expect_none_s(pb_row_state from, const char *status, pb_callback_verdict v)
{
    pb_callback_facts f = facts(status);
    expect_none(from, &f, v);
}

static void test_status_mapping(void **state)
{
    (void)state;
    assert_int_equal(pb_callback_status_state("success", 0), PB_ROW_SUCCESS);
    assert_int_equal(pb_callback_status_state("decline", 0), PB_ROW_DECLINE);
    assert_int_equal(pb_callback_status_state("error", 0), PB_ROW_ERROR);
    assert_int_equal(pb_callback_status_state("partially paid out", 0), PB_ROW_ERROR);
    assert_int_equal(pb_callback_status_state("reversed", 0), PB_ROW_REVERSED);
    assert_int_equal(pb_callback_status_state("success", 1), PB_ROW_REVERSED);
    assert_int_equal(pb_callback_status_state("processing", 0), PB_ROW_ACCEPTED);
    assert_int_equal(pb_callback_status_state("awaiting retry", 0), PB_ROW_ACCEPTED);
    assert_int_equal(pb_callback_status_state("", 0), PB_ROW_ACCEPTED);
    assert_int_equal(pb_callback_status_state(NULL, 0), PB_ROW_ACCEPTED);
    assert_int_equal(pb_callback_status_state("Success", 0), PB_ROW_ACCEPTED); /* exact */
}

static void test_final_outcomes_applied(void **state)
{
    (void)state;
    static const pb_row_state live[] = {PB_ROW_SENDING, PB_ROW_IN_DOUBT, PB_ROW_ACCEPTED};
    for (size_t i = 0; i < 3; i++) {
        expect_one(live[i], "success", PB_ROW_SUCCESS);
        expect_one(live[i], "decline", PB_ROW_DECLINE);
        expect_one(live[i], "error", PB_ROW_ERROR);
    }
}

static void test_pending(void **state)
{
    (void)state;
    expect_one(PB_ROW_SENDING, "processing", PB_ROW_ACCEPTED);
    expect_one(PB_ROW_IN_DOUBT, "processing", PB_ROW_ACCEPTED);
    expect_one(PB_ROW_IN_DOUBT, "awaiting retry", PB_ROW_ACCEPTED);
    expect_none_s(PB_ROW_ACCEPTED, "processing", PB_CALLBACK_SAME);
    /* out of order: processing after a final state changes nothing */
    expect_none_s(PB_ROW_SUCCESS, "processing", PB_CALLBACK_STALE);
    expect_none_s(PB_ROW_DECLINE, "processing", PB_CALLBACK_STALE);
    expect_none_s(PB_ROW_ERROR, "processing", PB_CALLBACK_STALE);
    expect_none_s(PB_ROW_REVERSED, "processing", PB_CALLBACK_STALE);
}

static void test_duplicates(void **state)
{
    (void)state;
    expect_none_s(PB_ROW_SUCCESS, "success", PB_CALLBACK_SAME);
    expect_none_s(PB_ROW_DECLINE, "decline", PB_CALLBACK_SAME);
    expect_none_s(PB_ROW_ERROR, "error", PB_CALLBACK_SAME);
    expect_none_s(PB_ROW_REVERSED, "reversed", PB_CALLBACK_SAME);
}

static void test_final_never_overwritten(void **state)
{
    (void)state;
    expect_none_s(PB_ROW_SUCCESS, "decline", PB_CALLBACK_CONFLICT);
    expect_none_s(PB_ROW_DECLINE, "success", PB_CALLBACK_CONFLICT);
    expect_none_s(PB_ROW_ERROR, "success", PB_CALLBACK_CONFLICT);
    expect_none_s(PB_ROW_DECLINE, "reversed", PB_CALLBACK_CONFLICT);
    expect_none_s(PB_ROW_REVERSED, "success", PB_CALLBACK_STALE);
    expect_none_s(PB_ROW_REVERSED, "decline", PB_CALLBACK_CONFLICT);
    /* rows that were never sent, or were refused, are not moved by a callback */
    expect_none_s(PB_ROW_INVALID, "success", PB_CALLBACK_CONFLICT);
    expect_none_s(PB_ROW_QUEUED, "success", PB_CALLBACK_CONFLICT);
    expect_none_s(PB_ROW_QUEUED, "processing", PB_CALLBACK_CONFLICT);
    expect_none_s(PB_ROW_REJECTED, "success", PB_CALLBACK_CONFLICT);
}

static void test_reversal(void **state)
{
    pb_callback_facts f = facts("success");
    pb_callback_decision d;
    (void)state;
    expect_one(PB_ROW_SUCCESS, "reversed", PB_ROW_REVERSED);
    /* a successful reversal operation with payment status still "success" */
    f.reversed = 1;
    decide(PB_ROW_SUCCESS, &f, &d);
    assert_int_equal(d.verdict, PB_CALLBACK_APPLY);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.updates[0].to, PB_ROW_REVERSED);
    /* the success callback was missed: success, then reversed, in one go */
    decide(PB_ROW_ACCEPTED, &f, &d);
    assert_int_equal(d.verdict, PB_CALLBACK_APPLY);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.updates[0].from, PB_ROW_ACCEPTED);
    assert_int_equal(d.updates[0].to, PB_ROW_SUCCESS);
    assert_int_equal(d.updates[1].from, PB_ROW_SUCCESS);
    assert_int_equal(d.updates[1].to, PB_ROW_REVERSED);
    decide(PB_ROW_IN_DOUBT, &f, &d);
    assert_int_equal(d.n, 2);
    decide(PB_ROW_REVERSED, &f, &d);
    assert_int_equal(d.verdict, PB_CALLBACK_SAME);
}

static void test_money_mismatch(void **state)
{
    pb_callback_facts f;
    (void)state;
    /* another amount, even a final status for a live row: nothing */
    f = facts("success");
    f.amount = 1051;
    expect_none(PB_ROW_ACCEPTED, &f, PB_CALLBACK_MISMATCH);
    expect_none(PB_ROW_SUCCESS, &f, PB_CALLBACK_MISMATCH);
    f.amount = -1050;
    expect_none(PB_ROW_ACCEPTED, &f, PB_CALLBACK_MISMATCH);
    /* an amount that is there but not an integer token: "10.50", {}, [] ... */
    f = facts("success");
    f.amount_ok = 0;
    f.amount = 1050; /* whatever is left in amount does not count */
    expect_none(PB_ROW_ACCEPTED, &f, PB_CALLBACK_MISMATCH);
    /* another currency, or one that is not a string */
    f = facts("decline");
    f.currency = "MYR";
    expect_none(PB_ROW_SENDING, &f, PB_CALLBACK_MISMATCH);
    f.currency = "php";
    expect_none(PB_ROW_SENDING, &f, PB_CALLBACK_MISMATCH);
    f.currency = "";
    expect_none(PB_ROW_SENDING, &f, PB_CALLBACK_MISMATCH);
    f.currency = NULL;
    expect_none(PB_ROW_SENDING, &f, PB_CALLBACK_MISMATCH);
    /* a reversal about another amount does not reverse */
    f = facts("reversed");
    f.amount = 1;
    expect_none(PB_ROW_SUCCESS, &f, PB_CALLBACK_MISMATCH);
    /* absent amount and currency: the status decides */
    f = facts("success");
    f.amount_present = f.amount_ok = f.currency_present = 0;
    f.currency = NULL;
    expect_one(PB_ROW_ACCEPTED, "success", PB_ROW_SUCCESS);
    {
        pb_callback_decision d;
        decide(PB_ROW_ACCEPTED, &f, &d);
        assert_int_equal(d.verdict, PB_CALLBACK_APPLY);
    }
    /* an integer beyond 2^53 is compared exactly */
    {
        pb_callback_row r = row_in(PB_ROW_ACCEPTED);
        pb_callback_decision d;
        r.amount = INT64_C(9007199254740993);
        f = facts("success");
        f.amount = INT64_C(9007199254740992);
        pb_callback_decide(&r, &f, 1, &d);
        assert_int_equal(d.verdict, PB_CALLBACK_MISMATCH);
        f.amount = INT64_C(9007199254740993);
        pb_callback_decide(&r, &f, 1, &d);
        assert_int_equal(d.verdict, PB_CALLBACK_APPLY);
    }
}

static void test_every_pair_is_safe(void **state)
{
    static const char *st[] = {"success", "decline", "error", "reversed", "processing", ""};
    (void)state;
    for (int from = 0; from < PB_ROW_STATE_COUNT; from++)
        for (size_t k = 0; k < sizeof(st) / sizeof(st[0]); k++) {
            pb_callback_facts f = facts(st[k]);
            pb_callback_decision d;
            decide((pb_row_state)from, &f, &d);
            /* a final row ends final; only success may become reversed */
            if (pb_row_state_is_final((pb_row_state)from) && d.verdict == PB_CALLBACK_APPLY) {
                assert_int_equal(from, PB_ROW_SUCCESS);
                assert_int_equal(d.updates[d.n - 1].to, PB_ROW_REVERSED);
            }
        }
}

static void test_long_fields_cut(void **state)
{
    char big[600];
    pb_callback_facts f = facts("decline");
    pb_callback_decision d;
    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    f.message = big;
    f.code = big;
    f.operation_id = NULL;
    decide(PB_ROW_ACCEPTED, &f, &d);
    assert_int_equal(d.verdict, PB_CALLBACK_APPLY);
    assert_int_equal(strlen(d.updates[0].message), PB_ROW_MESSAGE_MAX);
    assert_int_equal(strlen(d.updates[0].code), PB_ROW_CODE_MAX);
    assert_string_equal(d.updates[0].operation_id, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_mapping),
        cmocka_unit_test(test_final_outcomes_applied),
        cmocka_unit_test(test_pending),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_final_never_overwritten),
        cmocka_unit_test(test_reversal),
        cmocka_unit_test(test_money_mismatch),
        cmocka_unit_test(test_every_pair_is_safe),
        cmocka_unit_test(test_long_fields_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
