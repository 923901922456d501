/* The exact-match router, without sockets: found, 404, 405 with its Allow list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "batch/net/http_router.h"
#include "core/errors.h"

static void h_a(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    (void)ex;
    (void)req;
    (void)ctx;
}

static void h_b(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    (void)ex;
    (void)req;
    (void)ctx;
}

static const pb_http_route routes[] = {
    {"GET", "/healthz", h_a},
    {"POST", "/v2/payment/status", h_b},
    {"PUT", "/v2/payment/status", h_a},
};

static void test_find(void **state)
{
    const pb_http_route *r = NULL;
    char allow[64];
    int status = 0;
    (void)state;
    assert_int_equal(pb_http_route_find(routes, 3, "POST", "/v2/payment/status", &r, &status, allow,
                                        sizeof(allow)),
                     PB_OK);
    assert_ptr_equal(r, &routes[1]);
    assert_int_equal(pb_http_route_find(routes, 3, "GET", "/healthz", &r, &status, NULL, 0), PB_OK);
    assert_ptr_equal(r->handler, h_a);
    /* unknown path: 404 */
    assert_int_equal(
        pb_http_route_find(routes, 3, "GET", "/nope", &r, &status, allow, sizeof(allow)),
        PB_ENOTFOUND);
    assert_int_equal(status, 404);
    /* exact match only: no prefix, no trailing slash */
    assert_int_equal(
        pb_http_route_find(routes, 3, "GET", "/healthz/", &r, &status, allow, sizeof(allow)),
        PB_ENOTFOUND);
    assert_int_equal(status, 404);
    /* known path, other method: 405 and the methods it has */
    assert_int_equal(pb_http_route_find(routes, 3, "GET", "/v2/payment/status", &r, &status, allow,
                                        sizeof(allow)),
                     PB_ENOTFOUND);
    assert_int_equal(status, 405);
    assert_string_equal(allow, "POST, PUT");
    /* a short Allow buffer is cut, never overrun */
    assert_int_equal(
        pb_http_route_find(routes, 3, "GET", "/v2/payment/status", &r, &status, allow, 6),
        PB_ENOTFOUND);
    assert_int_equal(status, 405);
    assert_true(strlen(allow) < 6);
    /* methods are case-sensitive (RFC 9110) */
    assert_int_equal(
        pb_http_route_find(routes, 3, "post", "/v2/payment/status", &r, &status, NULL, 0),
        PB_ENOTFOUND);
    assert_int_equal(status, 405);
    assert_int_equal(pb_http_route_find(routes, 0, "GET", "/healthz", &r, &status, NULL, 0),
                     PB_ENOTFOUND);
    assert_int_equal(status, 404);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
