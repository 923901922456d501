/* The strict JSON scanner: member lookup by path, integer tokens, strictness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "core/json_scan.h"

static int get(const char *json, const char *a, const char *b, pb_json_token *t)
{
    const char *path[2] = {a, b};
    return pb_json_get(json, strlen(json), path, b ? 2 : 1, t);
}

static void expect_int(const char *json, const char *a, const char *b, int64_t want)
{
    pb_json_token t;
    int64_t v = 0;
    assert_int_equal(get(json, a, b, &t), PB_OK);
    assert_int_equal(t.type, PB_JSON_NUMBER);
    assert_int_equal(pb_json_int64(t.text, &v), PB_OK);
    assert_true(v == want);
}

static void test_get(void **state)
{
    const char *doc = "{\"general\":{\"project_id\":77,\"payment_id\":\"p-1\"},"
                      " \"payment\" : {\"amount\" : 9007199254740993, \"currency\":\"PHP\"},"
                      "\"list\":[1,{\"amount\":2}],\"t\":true,\"n\":null}";
    pb_json_token t;
    (void)state;
    expect_int(doc, "general", "project_id", 77);
    /* 2^53 + 1: a double would round it to ...992 */
    expect_int(doc, "payment", "amount", INT64_C(9007199254740993));
    assert_int_equal(get(doc, "general", "payment_id", &t), PB_OK);
    assert_int_equal(t.type, PB_JSON_STRING);
    assert_int_equal(t.text.len, 5);
    assert_memory_equal(t.text.ptr, "\"p-1\"", 5);
    assert_int_equal(get(doc, "payment", NULL, &t), PB_OK);
    assert_int_equal(t.type, PB_JSON_OBJECT);
    assert_int_equal(t.text.ptr[0], '{');
    assert_int_equal(t.text.ptr[t.text.len - 1], '}');
    assert_int_equal(get(doc, "t", NULL, &t), PB_OK);
    assert_int_equal(t.type, PB_JSON_TRUE);
    assert_int_equal(get(doc, "n", NULL, &t), PB_OK);
    assert_int_equal(t.type, PB_JSON_NULL);
    assert_int_equal(get(doc, "list", NULL, &t), PB_OK);
    assert_int_equal(t.type, PB_JSON_ARRAY);
    /* missing members, and members of something that is not an object */
    assert_int_equal(get(doc, "payment", "fee", &t), PB_ENOTFOUND);
    assert_int_equal(get(doc, "nope", "amount", &t), PB_ENOTFOUND);
    assert_int_equal(get(doc, "list", "amount", &t), PB_ENOTFOUND);
    assert_int_equal(get(doc, "t", "x", &t), PB_ENOTFOUND);
    /* an escaped member name matches its decoded form */
    expect_int("{\"p\\u0061yment\":{\"amount\":5}}", "payment", "amount", 5);
}

static void test_strict(void **state)
{
    pb_json_token t;
    char deep[80];
    int i;
    (void)state;
    /* the same path twice is ambiguous */
    assert_int_equal(get("{\"a\":{\"b\":1,\"b\":2}}", "a", "b", &t), PB_EPARSE);
    assert_int_equal(get("{\"a\":{\"b\":1},\"a\":{\"b\":2}}", "a", "b", &t), PB_EPARSE);
    /* the whole text is checked, also past the match */
    assert_int_equal(get("{\"a\":{\"b\":1}} x", "a", "b", &t), PB_EPARSE);
    assert_int_equal(get("{\"a\":{\"b\":1},}", "a", "b", &t), PB_EPARSE);
    assert_int_equal(get("{\"a\":{\"b\":01}}", "a", "b", &t), PB_EPARSE);
    assert_int_equal(get("{\"a\":{\"b\":1},\"c\":\"\xff\"}", "a", "b", &t), PB_EPARSE);
    assert_int_equal(get("{\"a\":{\"b\":1},\"c\":\"\\ud800\"}", "a", "b", &t), PB_EPARSE);
    assert_int_equal(get("{\"a\":{\"b\":1},\"c\":tru}", "a", "b", &t), PB_EPARSE);
    assert_int_equal(get("", "a", NULL, &t), PB_EPARSE);
    /* depth cap */
    for (i = 0; i < 40; i++)
        deep[i] = '[';
    deep[40] = '\0';
    assert_int_equal(pb_json_get(deep, 40, NULL, 0, &t), PB_ELIMIT);
    assert_int_equal(pb_json_get("[[1]]", 5, NULL, 0, &t), PB_OK);
    assert_int_equal(t.type, PB_JSON_ARRAY);
}

static void test_int64(void **state)
{
    int64_t v;
    (void)state;
    assert_int_equal(pb_json_int64(pb_str_c("0"), &v), PB_OK);
    assert_true(v == 0);
    assert_int_equal(pb_json_int64(pb_str_c("-0"), &v), PB_OK);
    assert_int_equal(pb_json_int64(pb_str_c("9223372036854775807"), &v), PB_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(pb_json_int64(pb_str_c("-9223372036854775808"), &v), PB_OK);
    assert_true(v == INT64_MIN);
    assert_int_equal(pb_json_int64(pb_str_c("9223372036854775808"), &v), PB_ERANGE);
    assert_int_equal(pb_json_int64(pb_str_c("-9223372036854775809"), &v), PB_ERANGE);
    assert_int_equal(pb_json_int64(pb_str_c("1.0"), &v), PB_EINVAL);
    assert_int_equal(pb_json_int64(pb_str_c("1e3"), &v), PB_EINVAL);
    assert_int_equal(pb_json_int64(pb_str_c("-"), &v), PB_EINVAL);
    assert_int_equal(pb_json_int64(pb_str_c("01"), &v), PB_EINVAL);
    assert_int_equal(pb_json_int64(pb_str_c(""), &v), PB_EINVAL);
}

/* Escaped member names use a scratch buffer: every allocation failure is clean, and the
 * loop ends with a success. */
static void test_alloc_failures(void **state)
{
    const char *doc = "{\"p\\u0061yment\":{\"amount\":5}}";
    pb_json_token t;
    long n;
    int rc = PB_ENOMEM;
    (void)state;
    for (n = 0; n < 16 && rc != PB_OK; n++) {
        pb_alloc_fail_after(n);
        rc = get(doc, "payment", "amount", &t);
        pb_alloc_fail_after(-1);
        assert_true(rc == PB_OK || rc == PB_ENOMEM);
    }
    assert_int_equal(rc, PB_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_strict),
        cmocka_unit_test(test_int64),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
