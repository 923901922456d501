#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"
#include "core/signature.h"

#define SIG88                                                                                      \
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="

static cJSON *vectors;

static int load_vectors(void **state)
{
    FILE *f = fopen(PB_TEST_DATA "/signature-vectors.json", "rb");
    char *text;
    long n;

    (void)state;
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    text = malloc((size_t)n + 1);
    if (!text || fread(text, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(text);
        return -1;
    }
    fclose(f);
    text[n] = '\0';
    vectors = cJSON_Parse(text);
    free(text);
    return vectors ? 0 : -1;
}

static int free_vectors(void **state)
{
    (void)state;
    cJSON_Delete(vectors);
    return 0;
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

/* string to sign of a NUL-terminated JSON text; returns rc, fills *sts (caller frees). */
static int sts_of(const char *json, pb_buf *sts)
{
    pb_buf_init(sts, PB_SIG_MAX_STRING);
    return pb_sig_string_to_sign(json, strlen(json), sts);
}

static void expect_sts(const char *json, const char *want)
{
    pb_buf b;
    assert_int_equal(sts_of(json, &b), PB_OK);
    assert_string_equal(pb_buf_cstr(&b), want);
    pb_buf_free(&b);
}

static int verify(const char *json, const char *secret, int *ok)
{
    return pb_sig_verify_json(json, strlen(json), secret, strlen(secret), ok);
}

/* ---- vectors ---------------------------------------------------------------------------- */

static void test_hmac_vectors(void **state)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(vectors, "hmac_vectors"), *v;
    int ran = 0;

    (void)state;
    cJSON_ArrayForEach(v, arr)
    {
        const char *secret = str_of(v, "secret");
        char *json = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(v, "params"));
        char sig[PB_SIG_LEN + 1];
        pb_buf b;

        assert_non_null(json);
        assert_int_equal(sts_of(json, &b), PB_OK);
        if (strcmp(pb_buf_cstr(&b), str_of(v, "string_to_sign")) != 0)
            fail_msg("%s: got %s", str_of(v, "id"), pb_buf_cstr(&b));
        assert_int_equal(pb_sig_sign_json(json, strlen(json), secret, strlen(secret), sig), 0);
        assert_string_equal(sig, str_of(v, "signature"));
        assert_int_equal(strlen(sig), PB_SIG_LEN);
        pb_buf_free(&b);
        cJSON_free(json);
        ran++;
    }
    assert_int_equal(ran, cJSON_GetArraySize(arr));
    assert_int_equal(ran, 31);
}

static void test_flatten_vectors(void **state)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(vectors, "flatten_vectors"), *v;
    int ran = 0;

    (void)state;
    cJSON_ArrayForEach(v, arr)
    {
        char *json = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(v, "params"));
        assert_non_null(json);
        expect_sts(json, str_of(v, "string_to_sign"));
        cJSON_free(json);
        ran++;
    }
    assert_int_equal(ran, cJSON_GetArraySize(arr));
    assert_int_equal(ran, 5);
}

static void test_hmac_primitive_vectors(void **state)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(vectors, "hmac_primitive_vectors"), *v;
    int ran = 0;

    (void)state;
    cJSON_ArrayForEach(v, arr)
    {
        const char *secret = str_of(v, "secret"), *msg = str_of(v, "string_to_sign");
        char sig[PB_SIG_LEN + 1];
        assert_int_equal(pb_sig_hmac_b64(secret, strlen(secret), msg, strlen(msg), sig), 0);
        assert_string_equal(sig, str_of(v, "signature"));
        ran++;
    }
    assert_int_equal(ran, cJSON_GetArraySize(arr));
    assert_int_equal(ran, 1);
}

static void test_callback_cases(void **state)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(vectors, "callback_cases"), *v;
    int ran = 0, accepted = 0;

    (void)state;
    cJSON_ArrayForEach(v, arr)
    {
        const cJSON *body = cJSON_GetObjectItemCaseSensitive(v, "body");
        int want = strcmp(str_of(v, "expect"), "accept") == 0;
        char *json = NULL;
        const char *text;
        int ok = -1, rc;

        if (cJSON_IsString(body)) {
            text = body->valuestring;
        } else {
            assert_true(cJSON_IsObject(body));
            json = cJSON_PrintUnformatted(body);
            assert_non_null(json);
            text = json;
        }
        rc = verify(text, str_of(v, "secret"), &ok);
        if (want) {
            if (rc != 0 || ok != 1)
                fail_msg("%s: expected accept, rc=%d ok=%d", str_of(v, "id"), rc, ok);
            accepted++;
        } else {
            if (!((rc == 0 && ok == 0) || (rc == PB_EPARSE && ok == 0)))
                fail_msg("%s: expected reject, rc=%d ok=%d", str_of(v, "id"), rc, ok);
        }
        cJSON_free(json);
        ran++;
    }
    assert_int_equal(ran, cJSON_GetArraySize(arr));
    assert_int_equal(ran, 32);
    assert_int_equal(accepted, 20);
}

/* ---- own cases -------------------------------------------------------------------------- */

static void test_unicode_escapes(void **state)
{
    static const char raw[] = "{\"general\":{\"project_id\":123,\"payment_id\":\"x\","
                              "\"signature\":\"zzz\"},\"customer\":{\"id\":\"Jos\xc3\xa9\"},"
                              "\"payment\":{\"amount\":1000,\"currency\":\"PHP\"}}";
    static const char esc[] = "{\"general\":{\"project_id\":123,\"payment_id\":\"x\","
                              "\"signature\":\"zzz\"},\"customer\":{\"id\":\"Jos\\u00e9\"},"
                              "\"payment\":{\"amount\":1000,\"currency\":\"PHP\"}}";
    static const char want[] =
        "boZb5v/X77UlHWBIWQOm9tOgr1lGrahKZAZdOheJkqS+xgclp1XULGHxRW+xyNvn2/q2hP0m3D5Ut0sotcLKaQ==";
    char a[PB_SIG_LEN + 1], b[PB_SIG_LEN + 1];

    (void)state;
    assert_int_equal(pb_sig_sign_json(raw, strlen(raw), "secret", 6, a), 0);
    assert_int_equal(pb_sig_sign_json(esc, strlen(esc), "secret", 6, b), 0);
    assert_string_equal(a, want);
    assert_string_equal(b, want);
    /* surrogate pair -> 4-byte UTF-8; simple escapes decoded */
    expect_sts("{\"e\":\"\\ud83d\\ude00\"}", "e:\xf0\x9f\x98\x80");
    expect_sts("{\"e\":\"a\\/b\\\"c\\\\d\\n\\t\\u0041\"}", "e:a/b\"c\\d\n\tA");
    expect_sts("{\"\\u0073ignature\":1,\"k\":2}", "k:2"); /* decoded name is dropped */
}

static void test_flatten_rules(void **state)
{
    (void)state;
    expect_sts("{\"k:1\":{\"a\":1},\"z\":2}", "k::1:a:1;z:2");
    expect_sts("{\"a\":1.10,\"b\":1e5,\"c\":-0.5E-3,\"d\":0}", "a:1.10;b:1e5;c:-0.5E-3;d:0");
    expect_sts("{\"n\":null,\"s\":\"\",\"t\":true,\"f\":false,\"o\":{},\"l\":[]}", "f:0;n:;s:;t:1");
    expect_sts(" {\"frame_mode\":\"x\",\"a\":{\"signature\":[1,2],\"b\":[[],{}]}} \n", "");
    expect_sts("{\"B\":1,\"a\":2,\"a-b\":3,\"a1\":4,\"a\":{\"x\":5}}", "B:1;a:2;a-b:3;a1:4;a:x:5");
    expect_sts("{}", "");
}

static void test_parse_errors(void **state)
{
    static const char *bad[] = {
        "",
        " ",
        "[]",
        "\"x\"",
        "1",
        "{",
        "{\"a\"",
        "{\"a\":}",
        "{\"a\":1,}",
        "{\"a\":1}x",
        "{\"a\":1}{}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":+1}",
        "{\"a\":1e}",
        "{\"a\":tru}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\ud800\\u0041\"}",
        "{\"a\":\"\t\"}",
        "{\"a\":\"\xc3\"}",
        "{\"a\":\"\xc0\xaf\"}",
        "{\"a\":\"\xed\xa0\x80\"}",
        "{\"a\":\"\xf4\x90\x80\x80\"}",
        "{\"a\":\"\x80\"}",
        "{'a':1}",
        "{\"a\":1 \"b\":2}",
        "\xef\xbb\xbf{}", /* BOM */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pb_buf b;
        int rc = sts_of(bad[i], &b), ok = -1;
        if (rc != PB_EPARSE)
            fail_msg("case %zu (%s): rc=%d", i, bad[i], rc);
        assert_int_equal(b.len, 0);
        pb_buf_free(&b);
        assert_int_equal(verify(bad[i], "k", &ok), PB_EPARSE);
        assert_int_equal(ok, 0);
    }
    /* duplicate member names: the entry order would be undefined */
    {
        pb_buf b;
        int ok = -1;
        assert_int_equal(sts_of("{\"a\":1,\"a\":2}", &b), PB_EPARSE);
        pb_buf_free(&b);
        assert_int_equal(verify("{\"a\":1,\"a\":2,\"signature\":\"" SIG88 "\"}", "k", &ok),
                         PB_EPARSE);
        assert_int_equal(ok, 0);
    }
    /* NUL inside the text is not JSON */
    {
        pb_buf b;
        pb_buf_init(&b, 100);
        assert_int_equal(pb_sig_string_to_sign("{\"a\":1}\0", 8, &b), PB_EPARSE);
        pb_buf_free(&b);
    }
}

static void test_limits(void **state)
{
    char deep[200];
    size_t i, n;
    pb_buf b;
    char *big;

    (void)state;
    /* depth 32 is fine, 33 is not */
    for (n = 31; n <= 32; n++) {
        size_t k = 0;
        k += (size_t)snprintf(deep, sizeof(deep), "{\"a\":");
        for (i = 0; i < n; i++)
            deep[k++] = '[';
        deep[k++] = '1';
        for (i = 0; i < n; i++)
            deep[k++] = ']';
        deep[k++] = '}';
        deep[k] = '\0';
        assert_int_equal(sts_of(deep, &b), n == 31 ? PB_OK : PB_ELIMIT);
        pb_buf_free(&b);
    }
    /* input over 1 MiB */
    n = PB_SIG_MAX_JSON + 1;
    big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    pb_buf_init(&b, 100);
    assert_int_equal(pb_sig_string_to_sign(big, n, &b), PB_ELIMIT);
    assert_int_equal(pb_sig_string_to_sign(big, n - 1, &b), PB_EPARSE); /* no closing } */
    big[n - 2] = '}';
    assert_int_equal(pb_sig_string_to_sign(big, n - 1, &b), PB_OK);
    free(big);
    /* caller's cap: out is restored on failure */
    assert_int_equal(pb_buf_puts(&b, "keep"), 0);
    b.max = 10;
    assert_int_equal(pb_sig_string_to_sign("{\"abc\":\"defghij\"}", 17, &b), PB_ELIMIT);
    assert_string_equal(pb_buf_cstr(&b), "keep");
    pb_buf_free(&b);
}

static void test_verify_rules(void **state)
{
    static const char good[] = "{\"payment\":{\"id\":\"11\",\"status\":\"success\"},\"signature\":"
                               "\"%s\"}";
    char sig[PB_SIG_LEN + 1], body[512];
    const char *sts = "payment:id:11;payment:status:success";
    int ok;

    (void)state;
    assert_int_equal(pb_sig_hmac_b64("qwerty", 6, sts, strlen(sts), sig), 0);
    snprintf(body, sizeof(body), good, sig);
    assert_int_equal(verify(body, "qwerty", &ok), 0);
    assert_int_equal(ok, 1);
    assert_int_equal(verify(body, "qwertz", &ok), 0);
    assert_int_equal(ok, 0);
    /* tampered value */
    body[19] = '2';
    assert_int_equal(verify(body, "qwerty", &ok), 0);
    assert_int_equal(ok, 0);
    /* signature in general, general becomes {} */
    snprintf(body, sizeof(body),
             "{\"general\":{\"signature\":\"%s\"},\"payment\":{\"id\":\"11\",\"status\":"
             "\"success\"}}",
             sig);
    assert_int_equal(verify(body, "qwerty", &ok), 0);
    assert_int_equal(ok, 1);
    /* wrong length / non-string / duplicate signatures */
    assert_int_equal(verify("{\"a\":1,\"signature\":\"abc\"}", "qwerty", &ok), 0);
    assert_int_equal(ok, 0);
    assert_int_equal(verify("{\"a\":1,\"signature\":5}", "qwerty", &ok), 0);
    assert_int_equal(ok, 0);
    assert_int_equal(verify("{\"signature\":\"a\",\"signature\":\"b\"}", "qwerty", &ok), PB_EPARSE);
    assert_int_equal(ok, 0);
}

static void test_natural_order_variant(void **state)
{
    char body[1024], sig[PB_SIG_LEN + 1];
    pb_buf nat, plain;
    int i, ok;

    (void)state;
    pb_buf_init(&nat, 4096);
    for (i = 0; i <= 10; i++)
        assert_int_equal(pb_buf_printf(&nat, "%sa:%d:%d", i ? ";" : "", i, i), 0);
    assert_int_equal(pb_sig_hmac_b64("s3cret", 6, nat.ptr, nat.len, sig), 0);
    snprintf(body, sizeof(body), "{\"a\":[0,1,2,3,4,5,6,7,8,9,10],\"signature\":\"%s\"}", sig);
    /* the normative string differs (a:10 sorts before a:2) ... */
    assert_int_equal(sts_of(body, &plain), 0);
    assert_string_not_equal(pb_buf_cstr(&plain), pb_buf_cstr(&nat));
    assert_non_null(strstr(pb_buf_cstr(&plain), "a:1:1;a:10:10;a:2:2"));
    /* ... yet the natural variant is accepted */
    assert_int_equal(verify(body, "s3cret", &ok), 0);
    assert_int_equal(ok, 1);
    assert_int_equal(verify(body, "s3cres", &ok), 0);
    assert_int_equal(ok, 0);
    /* Go/Java order (whole strings: a:0:0;a:10:10;a:1:1;...) is accepted too */
    pb_buf_clear(&nat);
    assert_int_equal(pb_buf_puts(&nat, "a:0:0;a:10:10"), 0);
    for (i = 1; i <= 9; i++)
        assert_int_equal(pb_buf_printf(&nat, ";a:%d:%d", i, i), 0);
    assert_int_equal(pb_sig_hmac_b64("s3cret", 6, nat.ptr, nat.len, sig), 0);
    snprintf(body, sizeof(body), "{\"a\":[0,1,2,3,4,5,6,7,8,9,10],\"signature\":\"%s\"}", sig);
    assert_int_equal(verify(body, "s3cret", &ok), 0);
    assert_int_equal(ok, 1);
    pb_buf_free(&nat);
    pb_buf_free(&plain);
}

static void test_alloc_failures(void **state)
{
    static const char body[] =
        "{\"general\":{\"project_id\":\"[2] projectId\",\"signature\":\"x\"},\"errors\":[{\"code\":"
        "1,\"message\":\"m\",\"d\":[\"a\",{\"b\":null}]},{\"code\":2}],\"k:e\\u00e9y\":true}";
    long n;
    int rc = -1, ok, done = 0;

    (void)state;
    for (n = 0; n < 200 && !done; n++) {
        pb_buf b;
        char sig[PB_SIG_LEN + 1];
        pb_buf_init(&b, PB_SIG_MAX_STRING);
        pb_alloc_fail_after(n);
        rc = pb_sig_string_to_sign(body, strlen(body), &b);
        pb_alloc_fail_after(-1);
        assert_true(rc == PB_OK || rc == PB_ENOMEM);
        if (rc == PB_ENOMEM)
            assert_int_equal(b.len, 0);
        pb_buf_free(&b);
        pb_alloc_fail_after(n);
        rc = pb_sig_sign_json(body, strlen(body), "k", 1, sig);
        pb_alloc_fail_after(-1);
        assert_true(rc == PB_OK || rc == PB_ENOMEM);
        pb_alloc_fail_after(n);
        rc = verify(body, "k", &ok);
        pb_alloc_fail_after(-1);
        assert_true(rc == PB_OK || rc == PB_ENOMEM);
        assert_int_equal(ok, 0);
        done = rc == PB_OK;
    }
    assert_true(done);
    assert_true(n > 1); /* at least one injected failure was exercised */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_vectors),           cmocka_unit_test(test_flatten_vectors),
        cmocka_unit_test(test_hmac_primitive_vectors), cmocka_unit_test(test_callback_cases),
        cmocka_unit_test(test_unicode_escapes),        cmocka_unit_test(test_flatten_rules),
        cmocka_unit_test(test_parse_errors),           cmocka_unit_test(test_limits),
        cmocka_unit_test(test_verify_rules),           cmocka_unit_test(test_natural_order_variant),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
