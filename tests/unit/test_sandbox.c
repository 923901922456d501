/* Unit tests of the pure half of the sandbox: request checks -> refusal code, outcomes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch/sandbox/sandbox.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/methods.h"
#include "core/signature.h"
#include "formats/global.h"

#define SECRET  "unit-secret"
#define PROJECT 77

static cJSON *base(int gcash)
{
    cJSON *j =
        cJSON_Parse(gcash ? "{\"general\":{\"project_id\":77,\"payment_id\":\"p-1\"},"
                            "\"customer\":{\"id\":\"c\",\"ip_address\":\"2001:db8::1\"},"
                            "\"account\":{\"number\":\"09171234567\",\"customer_name\":\"J D\"},"
                            "\"payment\":{\"amount\":150000,\"currency\":\"PHP\"}}"
                          : "{\"general\":{\"project_id\":77,\"payment_id\":\"t-1\"},"
                            "\"customer\":{\"id\":\"c\",\"ip_address\":\"10.0.0.1\"},"
                            "\"account\":{\"number\":\"60123456789\"},"
                            "\"payment\":{\"amount\":500,\"currency\":\"MYR\"}}");
    assert_non_null(j);
    return j;
}

/* Sign (unless sig given / "-" for none) and check; returns the code. */
static int run(const char *method, cJSON *j, const char *sig, pb_sandbox_payout *out)
{
    char s[PB_SIG_LEN + 1];
    char *txt = cJSON_PrintUnformatted(j);
    pb_sandbox_payout local;
    int code = -1;
    assert_non_null(txt);
    if (sig == NULL) {
        assert_int_equal(pb_sig_sign_json(txt, strlen(txt), SECRET, strlen(SECRET), s), 0);
        sig = s;
    }
    free(txt);
    if (strcmp(sig, "-") != 0)
        cJSON_AddStringToObject(cJSON_GetObjectItem(j, "general"), "signature", sig);
    txt = cJSON_PrintUnformatted(j);
    assert_int_equal(pb_sandbox_check_payout(pb_method_find(method, strlen(method)), PROJECT,
                                             SECRET, strlen(SECRET), txt, strlen(txt),
                                             out ? out : &local, &code),
                     PB_OK);
    free(txt);
    cJSON_Delete(j);
    return code;
}

static cJSON *with(cJSON *j, const char *sec, const char *field, cJSON *v)
{
    cJSON *o = cJSON_GetObjectItem(j, sec);
    if (v == NULL)
        cJSON_DeleteItemFromObject(o, field);
    else if (cJSON_GetObjectItem(o, field) != NULL)
        cJSON_ReplaceItemInObject(o, field, v);
    else
        cJSON_AddItemToObject(o, field, v);
    return j;
}

static void test_accept(void **state)
{
    pb_sandbox_payout p;
    (void)state;
    assert_int_equal(run("gcash", base(1), NULL, &p), 0);
    assert_string_equal(p.payment_id, "p-1");
    assert_string_equal(p.account, "09171234567");
    assert_string_equal(p.currency, "PHP");
    assert_true(p.amount == 150000);
    assert_true(p.project_id == PROJECT);
    assert_string_equal(p.callback_url, "");
    assert_int_equal(run("touchngo", base(0), NULL, NULL), 0);
    assert_int_equal(run("gcash",
                         with(base(1), "general", "merchant_callback_url",
                              cJSON_CreateString("http://127.0.0.1:9/cb")),
                         NULL, &p),
                     0);
    assert_string_equal(p.callback_url, "http://127.0.0.1:9/cb");
}

static void test_refusals(void **state)
{
    const char *raw = "{\"general\":";
    pb_sandbox_payout p;
    int code = 0;
    (void)state;
    assert_int_equal(pb_sandbox_check_payout(pb_method_find("gcash", 5), PROJECT, SECRET,
                                             strlen(SECRET), raw, strlen(raw), &p, &code),
                     0);
    assert_int_equal(code, 2003);
    assert_int_equal(pb_sandbox_check_payout(pb_method_find("gcash", 5), PROJECT, SECRET,
                                             strlen(SECRET), "[]", 2, &p, &code),
                     0);
    assert_int_equal(code, 2003);
    assert_int_equal(run("gcash", base(1), "-", NULL), 3262);
    assert_int_equal(run("gcash", base(1), "", NULL), 3262);
    assert_int_equal(run("gcash", base(1), "bad", NULL), 3261);
    assert_int_equal(
        run("gcash", with(base(1), "general", "project_id", cJSON_CreateNumber(78)), NULL, &p),
        2442);
    assert_string_equal(p.payment_id, "p-1");
    assert_int_equal(
        run("gcash", with(base(1), "general", "project_id", cJSON_CreateString("77")), NULL, NULL),
        2003);
    assert_int_equal(run("gcash", with(base(1), "general", "project_id", NULL), NULL, NULL), 2004);
    assert_int_equal(
        run("gcash", with(base(1), "payment", "amount", cJSON_CreateNumber(1500.5)), NULL, NULL),
        2003);
    assert_int_equal(
        run("gcash", with(base(1), "payment", "amount", cJSON_CreateNumber(1e17)), NULL, NULL),
        2003);
    assert_int_equal(
        run("gcash", with(base(1), "payment", "amount", cJSON_CreateString("1500")), NULL, NULL),
        2003);
    /* integers are read from their number token, never through a double */
    assert_int_equal(
        run("gcash", with(base(1), "payment", "amount", cJSON_CreateRaw("150000.0")), NULL, NULL),
        2003);
    assert_int_equal(
        run("gcash", with(base(1), "payment", "amount", cJSON_CreateRaw("15e4")), NULL, NULL),
        2003);
    assert_int_equal(run("gcash",
                         with(base(1), "payment", "amount", cJSON_CreateRaw("9007199254740993")),
                         NULL, &p),
                     2642);
    assert_int_equal(
        run("gcash", with(base(1), "payment", "amount", cJSON_CreateRaw("99999999999999999999")),
            NULL, NULL),
        2003);
    assert_int_equal(
        run("gcash", with(base(1), "general", "project_id", cJSON_CreateRaw("77.0")), NULL, NULL),
        2003);
    assert_int_equal(
        run("gcash", with(base(1), "account", "number", cJSON_CreateNumber(9)), NULL, NULL), 2003);
    assert_int_equal(run("gcash", with(base(1), "account", "customer_name", NULL), NULL, NULL),
                     2004);
    assert_int_equal(run("touchngo", with(base(0), "account", "customer_name", NULL), NULL, NULL),
                     0);
    assert_int_equal(
        run("gcash", with(base(1), "customer", "id", cJSON_CreateString("")), NULL, NULL), 2004);
    assert_int_equal(run("gcash", with(base(1), "customer", "ip_address", NULL), NULL, NULL), 2004);
    assert_int_equal(run("gcash",
                         with(base(1), "customer", "ip_address", cJSON_CreateString("1.2.3")), NULL,
                         NULL),
                     2004);
    assert_int_equal(run("gcash", with(base(1), "general", "payment_id", NULL), NULL, NULL), 2004);
    assert_int_equal(run("gcash", with(base(1), "payment", "currency", NULL), NULL, NULL), 2004);
    assert_int_equal(
        run("gcash", with(base(1), "payment", "currency", cJSON_CreateString("MYR")), NULL, NULL),
        3121);
    assert_int_equal(
        run("gcash", with(base(1), "payment", "amount", cJSON_CreateNumber(999)), NULL, NULL),
        3358);
    assert_int_equal(
        run("gcash", with(base(1), "payment", "amount", cJSON_CreateNumber(1000)), NULL, NULL), 0);
    assert_int_equal(
        run("gcash", with(base(1), "payment", "amount", cJSON_CreateNumber(10000001)), NULL, NULL),
        2642);
    assert_int_equal(
        run("touchngo", with(base(0), "payment", "amount", cJSON_CreateNumber(499)), NULL, NULL),
        3358);
    assert_int_equal(run("gcash",
                         with(base(1), "account", "number", cJSON_CreateString("0817123456")), NULL,
                         NULL),
                     3242);
    assert_int_equal(run("gcash",
                         with(base(1), "account", "number", cJSON_CreateString("08171234567")),
                         NULL, NULL),
                     3242);
    assert_int_equal(run("touchngo",
                         with(base(0), "account", "number", cJSON_CreateString("12a456")), NULL,
                         NULL),
                     3242);
    assert_int_equal(run("gcash",
                         with(base(1), "general", "merchant_callback_url", cJSON_CreateNumber(1)),
                         NULL, NULL),
                     2003);
}

static void test_toplevel_signature_not_string(void **state)
{
    cJSON *j = base(1);
    (void)state;
    cJSON_AddNumberToObject(j, "signature", 5); /* ignored: the general one counts */
    assert_int_equal(run("gcash", j, NULL, NULL), 0);
}

static void test_status(void **state)
{
    const char *body0 = "{\"general\":{\"project_id\":77,\"payment_id\":\"p-9\"}}";
    char sig[PB_SIG_LEN + 1], body[512], id[PB_SANDBOX_ID_MAX];
    int64_t proj;
    int code;
    (void)state;
    assert_int_equal(pb_sig_sign_json(body0, strlen(body0), SECRET, strlen(SECRET), sig), 0);
    snprintf(body, sizeof(body),
             "{\"general\":{\"project_id\":77,\"payment_id\":\"p-9\",\"signature\":\"%s\"}}", sig);
    assert_int_equal(pb_sandbox_check_status(PROJECT, SECRET, strlen(SECRET), body, strlen(body),
                                             id, &proj, &code),
                     0);
    assert_int_equal(code, 0);
    assert_string_equal(id, "p-9");
    assert_int_equal(
        pb_sandbox_check_status(78, SECRET, strlen(SECRET), body, strlen(body), id, &proj, &code),
        0);
    assert_int_equal(code, 2442);
    assert_int_equal(pb_sandbox_check_status(PROJECT, "x", 1, body, strlen(body), id, &proj, &code),
                     0);
    assert_int_equal(code, 3261);
    assert_int_equal(pb_sandbox_check_status(PROJECT, SECRET, strlen(SECRET), body0, strlen(body0),
                                             id, &proj, &code),
                     0);
    assert_int_equal(code, 3262);
}

static void test_outcomes(void **state)
{
    (void)state;
    assert_int_equal(pb_sandbox_outcome_for("09171234500"), PB_SANDBOX_SUCCESS);
    assert_int_equal(pb_sandbox_outcome_for("09171234567"), PB_SANDBOX_SUCCESS);
    assert_int_equal(pb_sandbox_outcome_for("09171234501"), PB_SANDBOX_DECLINE_20101);
    assert_int_equal(pb_sandbox_outcome_for("09171234502"), PB_SANDBOX_DECLINE_20102);
    assert_int_equal(pb_sandbox_outcome_for("09171234503"), PB_SANDBOX_AFTER_3_POLLS);
    assert_int_equal(pb_sandbox_outcome_for("09171234504"), PB_SANDBOX_REVERSAL);
    assert_int_equal(pb_sandbox_outcome_for("09171234511"), PB_SANDBOX_SUCCESS);
    assert_int_equal(pb_sandbox_outcome_for("1"), PB_SANDBOX_SUCCESS);
    assert_int_equal(pb_sandbox_outcome_for(""), PB_SANDBOX_SUCCESS);
    assert_int_equal(pb_sandbox_outcome_for(NULL), PB_SANDBOX_SUCCESS);
    assert_string_equal(pb_sandbox_code_message(3041), "Payment ID already exists");
    assert_string_equal(pb_sandbox_code_message(1), "Unknown error");
}

static void test_cb_schedule(void **state)
{
    uint64_t total = 0;
    unsigned n, capped_at = 0;
    (void)state;
    assert_int_equal(pb_sandbox_cb_delay_ms(0, 1.0), 0);
    assert_int_equal(pb_sandbox_cb_delay_ms(1, 1.0), 0);
    for (n = 2; n <= 6; n++)
        assert_int_equal(pb_sandbox_cb_delay_ms(n, 1.0), 10000);
    assert_int_equal(pb_sandbox_cb_delay_ms(7, 1.0), 84049); /* 70 + 10*1.12^3 = 84.04928 s */
    assert_int_equal(pb_sandbox_cb_delay_ms(8, 1.0), 85735); /* 70 + 10*1.12^4 = 85.73519 s */
    for (n = 7; n <= PB_SANDBOX_CB_MAX_ATTEMPTS; n++) {
        assert_true(pb_sandbox_cb_delay_ms(n, 1.0) >= pb_sandbox_cb_delay_ms(n - 1, 1.0));
        assert_true(pb_sandbox_cb_delay_ms(n, 1.0) <= PB_SANDBOX_CB_CAP_MS);
        if (capped_at == 0 && pb_sandbox_cb_delay_ms(n, 1.0) == PB_SANDBOX_CB_CAP_MS)
            capped_at = n;
    }
    assert_int_equal(capped_at, 69);
    assert_int_equal(pb_sandbox_cb_delay_ms(1000000, 1.0), PB_SANDBOX_CB_CAP_MS);
    for (n = 1; n <= PB_SANDBOX_CB_MAX_ATTEMPTS; n++)
        total += pb_sandbox_cb_delay_ms(n, 1.0);
    assert_true(total > 10ull * 86400 * 1000); /* ~10.3 days, "within 11 days" */
    assert_true(total < 11ull * 86400 * 1000);
    /* compressed */
    assert_int_equal(pb_sandbox_cb_delay_ms(2, 0.001), 10);
    assert_int_equal(pb_sandbox_cb_delay_ms(200, 0.001), 14400);
    assert_int_equal(pb_sandbox_cb_delay_ms(5, 0.0), 0);
}

static void test_alloc_failures(void **state)
{
    const char *body = "{\"general\":{\"project_id\":77,\"payment_id\":\"p\",\"signature\":\"x\"},"
                       "\"customer\":{\"id\":\"c\",\"ip_address\":\"10.0.0.1\"}}";
    pb_sandbox_payout p;
    long n;
    int code, rc;
    (void)state;
    /* fail the 1st, 2nd, ... allocation (cJSON's too: pb_global_init) until the check runs
     * through; every failure is PB_ENOMEM, never a refusal code, and the loop must end */
    rc = PB_ENOMEM;
    for (n = 0; n < 256 && rc != PB_OK; n++) {
        pb_alloc_fail_after(n);
        code = -1;
        rc = pb_sandbox_check_payout(pb_method_find("gcash", 5), PROJECT, SECRET, strlen(SECRET),
                                     body, strlen(body), &p, &code);
        pb_alloc_fail_after(-1);
        assert_true(rc == PB_OK || rc == PB_ENOMEM);
    }
    assert_int_equal(rc, PB_OK);
    assert_true(n > 1); /* allocations were made, and failed */
    assert_int_equal(code, 3261);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept),      cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_status),      cmocka_unit_test(test_toplevel_signature_not_string),
        cmocka_unit_test(test_outcomes),    cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_cb_schedule),
    };
    pb_global_init(); /* cJSON allocates through core/alloc.h */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
