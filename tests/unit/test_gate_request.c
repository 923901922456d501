#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <string.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "core/signature.h"
#include "formats/gate_request.h"
#include "support/rows.h"
#include "formats/global.h"

static pb_row row;
static pb_row_result res;
static pb_passthrough pass[2];

static void setup_row(void)
{
    pb_test_row(&row, &res, "gcash", "batch42-row7", "09171234567");
}

static const pb_gate_cfg cfg = {123, NULL, "secret", 6};

/* The body of the protocol reference's worked example must carry its published signature. */
static void test_reference_vector(void **state)
{
    pb_buf b;
    (void)state;
    setup_row();
    pb_buf_init(&b, PB_GATE_BODY_MAX);
    assert_int_equal(pb_gate_payout_body(&row, &res, &cfg, &b), 0);
    assert_string_equal(
        pb_buf_cstr(&b),
        "{\"general\":{\"project_id\":123,\"payment_id\":\"batch42-row7\",\"signature\":"
        "\"x4md8/"
        "GNziSHnaRNWJFhQw0aBbSgzl7F7tM+hEC636r7JCwEBuJGBqfFjF+Yj2B3+NRbhcyKp5rmPenUI5A31g==\"},"
        "\"customer\":{\"id\":\"cust-9\",\"ip_address\":\"198.51.100.7\"},\"account\":{\"number\":"
        "\"09171234567\",\"customer_name\":\"Juan Dela Cruz\"},\"payment\":{\"amount\":150000,"
        "\"currency\":\"PHP\",\"description\":\"payout\"}}");
    pb_buf_free(&b);
}

static void test_tng_vector_and_empty_cells(void **state)
{
    pb_buf b;
    (void)state;
    setup_row();
    row.cell[PB_COL_PAYMENT_ID] = pb_str_c("tng-1");
    row.cell[PB_COL_CUSTOMER_ID] = pb_str_c("c1");
    row.cell[PB_COL_ACCOUNT] = pb_str_c("60123456789");
    row.cell[PB_COL_CUSTOMER_NAME] = pb_str_c("");
    row.cell[PB_COL_DESCRIPTION] = pb_str_c("");
    res.method = pb_method_find("touchngo", 8);
    res.currency = pb_currency_find("myr", 3);
    res.amount_minor = 500;
    pb_buf_init(&b, PB_GATE_BODY_MAX);
    assert_int_equal(pb_gate_payout_body(&row, &res, &cfg, &b), 0);
    /* empty optional cells are left out, never sent as "" */
    assert_null(strstr(pb_buf_cstr(&b), "customer_name"));
    assert_null(strstr(pb_buf_cstr(&b), "description"));
    assert_non_null(strstr(pb_buf_cstr(&b), "\"currency\":\"MYR\""));
    assert_non_null(strstr(pb_buf_cstr(&b),
                           "0p5wpldxhyx1PQnuPoi9hpVdqr+AxpEg9/"
                           "f5x9W3U5e6g1vKhJCUnmTRNi8X3dP7tgNHhGLoY0QDvlPAWJ1q8g=="));
    pb_buf_free(&b);
}

static void test_big_amount_exact_and_verifies(void **state)
{
    pb_buf b;
    int ok = 0;
    pb_gate_cfg c2 = {9007199254740993LL, "http://127.0.0.1:8765/cb", "k3y", 3};
    (void)state;
    setup_row();
    res.amount_minor = INT64_MAX; /* beyond a double's 53 bits: must survive digit for digit */
    row.cell[PB_COL_DESCRIPTION] = pb_str_c("line1\nline2\ttab \"q\"");
    pass[0].name = "customer.email";
    pass[0].path = "customer.email";
    pass[0].value = pb_str_c("a@b.c");
    pass[1].name = "payment.extra";
    pass[1].path = "payment.extra";
    pass[1].value = pb_str_c("");
    row.pass = pass;
    row.npass = 2;
    pb_buf_init(&b, PB_GATE_BODY_MAX);
    assert_int_equal(pb_gate_payout_body(&row, &res, &c2, &b), 0);
    assert_non_null(strstr(pb_buf_cstr(&b), "\"amount\":9223372036854775807"));
    assert_non_null(strstr(pb_buf_cstr(&b), "\"project_id\":9007199254740993"));
    assert_non_null(
        strstr(pb_buf_cstr(&b), "\"merchant_callback_url\":\"http://127.0.0.1:8765/cb\""));
    assert_non_null(strstr(pb_buf_cstr(&b), "\"email\":\"a@b.c\""));
    assert_null(strstr(pb_buf_cstr(&b), "extra"));
    assert_non_null(strstr(pb_buf_cstr(&b), "line1\\nline2\\ttab \\\"q\\\""));
    /* what we send verifies with the same key, and not with another */
    assert_int_equal(pb_sig_verify_json(b.ptr, b.len, "k3y", 3, &ok), 0);
    assert_int_equal(ok, 1);
    assert_int_equal(pb_sig_verify_json(b.ptr, b.len, "k3z", 3, &ok), 0);
    assert_int_equal(ok, 0);
    pb_buf_free(&b);
}

static void test_status_body_and_errors(void **state)
{
    pb_buf b;
    int ok = 0;
    (void)state;
    pb_buf_init(&b, PB_GATE_BODY_MAX);
    assert_int_equal(pb_gate_status_body("p-1", 3, &cfg, &b), 0);
    {
        const char *want =
            "{\"general\":{\"project_id\":123,\"payment_id\":\"p-1\",\"signature\":\"";
        assert_int_equal(strncmp(pb_buf_cstr(&b), want, strlen(want)), 0);
    }
    assert_int_equal(pb_sig_verify_json(b.ptr, b.len, "secret", 6, &ok), 0);
    assert_int_equal(ok, 1);
    pb_buf_free(&b);
    setup_row();
    res.amount_ok = 0;
    pb_buf_init(&b, PB_GATE_BODY_MAX);
    assert_int_equal(pb_gate_payout_body(&row, &res, &cfg, &b), PB_EINVAL);
    /* a body over the cap is refused, not truncated */
    setup_row();
    pb_buf_free(&b);
    pb_buf_init(&b, 100);
    assert_int_equal(pb_gate_payout_body(&row, &res, &cfg, &b), PB_ELIMIT);
    pb_buf_free(&b);
}

static void test_alloc_failures(void **state)
{
    long n;
    int rc = PB_ENOMEM;
    (void)state;
    for (n = 0; n < 200 && rc != 0; n++) {
        pb_buf b;
        setup_row();
        pb_buf_init(&b, PB_GATE_BODY_MAX);
        pb_alloc_fail_after(n);
        rc = pb_gate_payout_body(&row, &res, &cfg, &b);
        pb_alloc_fail_after(-1);
        assert_true(rc == 0 || rc == PB_ENOMEM);
        pb_buf_free(&b);
    }
    assert_int_equal(rc, 0);
    assert_true(n > 5);
}

int main(void)
{
    cJSON_Hooks hooks = {pb_malloc, pb_free};
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_vector),
        cmocka_unit_test(test_tng_vector_and_empty_cells),
        cmocka_unit_test(test_big_amount_exact_and_verifies),
        cmocka_unit_test(test_status_body_and_errors),
        cmocka_unit_test(test_alloc_failures),
    };
    cJSON_InitHooks(&hooks);
    pb_global_init(); /* cJSON allocates through core/alloc.h */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
