/*
 * http_request_fuzz.c - bytes -> request parser -> router stub, at input-chosen split points.
 *
 * The first byte picks the split step (1..64), the rest is the raw request stream. Every
 * complete request is routed with pb_http_route_find (pure) and its headers are walked.
 */
#include <stdint.h>
#include <string.h>

#include "batch/net/http_request.h"
#include "batch/net/http_router.h"
#include "batch/net/http_server.h"
#include "core/errors.h"
#include "formats/global.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void stub(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    (void)ex;
    (void)req;
    (void)ctx;
}

static const pb_http_route routes[] = {
    {"POST", "/v1/payouts", stub},
    {"GET", "/v1/payouts/status", stub},
    {"POST", "/callback", stub},
};

static void use_request(const pb_http_request *req)
{
    const pb_http_route *r;
    const char *name, *value;
    size_t pos = 0, total = 0;
    int status;
    char allow[64];

    pb_http_route_find(routes, sizeof(routes) / sizeof(routes[0]), req->method, req->path, &r,
                       &status, allow, sizeof(allow));
    while (pb_http_request_header_next(req, &pos, &name, &value) == PB_OK)
        total += strlen(name) + strlen(value);
    if (req->body_len && req->body[req->body_len] != '\0')
        __builtin_trap();
    (void)total;
    (void)pb_http_request_header(req, "content-length");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_httpreq_parser *p = NULL;
    pb_httpreq_limits lim = {512, 256};
    size_t step, off = 0;

    pb_global_init(); /* idempotent: cJSON allocates through core/alloc.h */
    if (size < 1)
        return 0;
    step = (size_t)(data[0] % 64) + 1;
    data++;
    size--;
    if (pb_httpreq_parser_new(&p, &lim) != PB_OK)
        return 0;
    while (off < size) {
        size_t n = size - off < step ? size - off : step, used = 0;
        int rc = pb_httpreq_feed(p, (const char *)data + off, n, &used);
        if (used > n)
            __builtin_trap();
        off += used;
        if (rc < 0) {
            int st = pb_httpreq_error_status(p);
            if (st != 400 && st != 413 && st != 431 && st != 500)
                __builtin_trap();
            break;
        }
        if (pb_httpreq_state(p) == PB_HTTPREQ_READY) {
            pb_httpreq_msg *m = NULL;
            if (pb_httpreq_take(p, &m) != PB_OK)
                __builtin_trap();
            use_request(pb_httpreq_msg_request(m));
            pb_httpreq_msg_free(m);
        } else if (used != n) {
            __builtin_trap();
        }
    }
    pb_httpreq_parser_free(p);
    return 0;
}
