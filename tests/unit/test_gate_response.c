/* Gate answers, status answers and callbacks read from their token text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/errors.h"
#include "core/signature.h"
#include "formats/gate_response.h"

static void test_answer_code_string_or_integer(void **state)
{
    pb_gate_answer a;
    const char *s1 = "{\"status\":\"error\",\"code\":\"3041\",\"message\":\"Payment ID already "
                     "exists\",\"request_id\":\"r-1\"}";
    const char *s2 = "{\"status\":\"error\",\"code\":3041}";
    (void)state;
    assert_int_equal(pb_gate_answer_parse(s1, strlen(s1), &a), 0);
    assert_string_equal(a.status, "error");
    assert_string_equal(a.code, "3041");
    assert_string_equal(a.request_id, "r-1");
    assert_int_equal(pb_gate_answer_parse(s2, strlen(s2), &a), 0);
    assert_string_equal(a.code, "3041");
    assert_string_equal(a.message, "");
}

static void test_answer_not_json(void **state)
{
    pb_gate_answer a;
    (void)state;
    assert_int_equal(pb_gate_answer_parse("<html>", 6, &a), PB_EPARSE);
    assert_int_equal(pb_gate_answer_parse("[1]", 3, &a), PB_EPARSE);
    assert_int_equal(pb_gate_answer_parse("{\"status\":\"success\"} x", 22, &a), PB_EPARSE);
    assert_int_equal(pb_gate_answer_parse("{}", 2, &a), 0);
    assert_string_equal(a.status, "");
}

static const char *status_body =
    "{\"project_id\":7,\"payment\":{\"id\":\"p-1\",\"type\":\"payout\",\"status\":\"success\","
    "\"sum\":{\"amount\":9007199254740993,\"currency\":\"PHP\"}},\"operations\":[{\"id\":11,"
    "\"type\":\"payout\",\"status\":\"success\",\"request_id\":\"rq-1\",\"code\":\"0\","
    "\"message\":\"Success\",\"provider\":{\"id\":1,\"payment_id\":\"prov-9\"}}]}";

static void test_status_answer(void **state)
{
    pb_gate_payment p;
    (void)state;
    assert_int_equal(pb_gate_payment_parse(status_body, strlen(status_body), NULL, 0, &p), 0);
    assert_string_equal(p.payment_id, "p-1");
    assert_int_equal(p.amount_ok, 1);
    /* above 2^53: exact, because it never went through a double */
    assert_true(p.amount == INT64_C(9007199254740993));
    assert_string_equal(p.currency, "PHP");
    assert_string_equal(p.op_id, "11");
    assert_string_equal(p.request_id, "rq-1");
    assert_string_equal(p.op_code, "0");
    assert_string_equal(p.provider_payment_id, "prov-9");
    assert_int_equal(p.signature_ok, 0);
    assert_int_equal(pb_gate_payment_state(&p), PB_ROW_SUCCESS);
    assert_int_equal(pb_gate_status_not_found(200, &p), 0);
}

static void test_amounts_that_are_not_integers(void **state)
{
    static const char *bodies[] = {
        "{\"payment\":{\"id\":\"p\",\"status\":\"success\",\"sum\":{\"amount\":10.50}}}",
        "{\"payment\":{\"id\":\"p\",\"status\":\"success\",\"sum\":{\"amount\":1.000}}}",
        "{\"payment\":{\"id\":\"p\",\"status\":\"success\",\"sum\":{\"amount\":1e3}}}",
        ("{\"payment\":{\"id\":\"p\",\"status\":\"success\",\"sum\":{\"amount\":"
         "99999999999999999999}}}"), /* one string, cut in two (parenthesised for clang) */
        "{\"payment\":{\"id\":\"p\",\"status\":\"success\",\"sum\":{\"amount\":{}}}}",
        "{\"payment\":{\"id\":\"p\",\"status\":\"success\",\"sum\":{\"amount\":[]}}}",
    };
    pb_gate_payment p;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        assert_int_equal(pb_gate_payment_parse(bodies[i], strlen(bodies[i]), NULL, 0, &p), 0);
        assert_int_equal(p.amount_ok, 0);
    }
}

static void test_callback_reversal_and_states(void **state)
{
    pb_gate_payment p;
    const char *cb = "{\"payment\":{\"id\":\"p\",\"status\":\"success\",\"sum\":{\"amount\":500,"
                     "\"currency\":\"MYR\"}},\"operation\":{\"type\":\"reversal\",\"status\":"
                     "\"success\",\"code\":0}}";
    const char *decl = "{\"payment\":{\"id\":\"p\",\"status\":\"decline\"},\"operation\":{"
                       "\"type\":\"payout\",\"status\":\"decline\",\"code\":20101}}";
    const char *proc = "{\"payment\":{\"id\":\"p\",\"status\":\"processing\"}}";
    const char *nf =
        "{\"status\":\"error\",\"code\":\"3061\",\"message\":\"Transaction not found\"}";
    (void)state;
    assert_int_equal(pb_gate_payment_parse(cb, strlen(cb), NULL, 0, &p), 0);
    assert_int_equal(p.reversed, 1);
    assert_int_equal(pb_gate_payment_state(&p), PB_ROW_REVERSED);
    assert_int_equal(pb_gate_payment_parse(decl, strlen(decl), NULL, 0, &p), 0);
    assert_int_equal(pb_gate_payment_state(&p), PB_ROW_DECLINE);
    assert_string_equal(p.op_code, "20101");
    assert_int_equal(pb_gate_payment_parse(proc, strlen(proc), NULL, 0, &p), 0);
    assert_int_equal(pb_gate_payment_state(&p), PB_ROW_ACCEPTED);
    assert_int_equal(pb_gate_payment_parse(nf, strlen(nf), NULL, 0, &p), 0);
    assert_int_equal(pb_gate_status_not_found(400, &p), 1);
    assert_int_equal(pb_gate_status_not_found(404, &p), 1);
}

static void test_signature_checked(void **state)
{
    const char *secret = "secret";
    char sig[PB_SIG_LEN + 1], body[2048];
    pb_gate_payment p;
    (void)state;
    assert_int_equal(
        pb_sig_sign_json(status_body, strlen(status_body), secret, strlen(secret), sig), 0);
    /* the signed body: the same JSON with "signature" added at the top level */
    snprintf(body, sizeof(body), "%.*s,\"signature\":\"%s\"}", (int)strlen(status_body) - 1,
             status_body, sig);
    assert_int_equal(pb_gate_payment_parse(body, strlen(body), secret, strlen(secret), &p), 0);
    assert_int_equal(p.signature_ok, 1);
    assert_int_equal(pb_gate_payment_parse(body, strlen(body), "other", 5, &p), 0);
    assert_int_equal(p.signature_ok, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer_code_string_or_integer),
        cmocka_unit_test(test_answer_not_json),
        cmocka_unit_test(test_status_answer),
        cmocka_unit_test(test_amounts_that_are_not_integers),
        cmocka_unit_test(test_callback_reversal_and_states),
        cmocka_unit_test(test_signature_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
