/*
 * http_router.h - a tiny exact-match router for pb_http_server handlers.
 *
 * The route table is owned by the caller and must outlive its use. Unknown path -> 404,
 * known path with another method -> 405 with an Allow header; both with the JSON error body
 * {"status":"error","code":"404","message":"Not found"}. pb_http_route_find is pure (the
 * fuzzer uses it without sockets).
 */
#ifndef PB_NET_HTTP_ROUTER_H
#define PB_NET_HTTP_ROUTER_H

#include <stddef.h>

#include "batch/net/http_server.h"

typedef struct {
    const char *method; /* "POST" ... */
    const char *path;   /* exact match, without query */
    pb_http_handler handler;
} pb_http_route;

/*
 * Pure lookup (no I/O): *found = the route for method+path. Returns PB_OK, or
 * PB_ENOTFOUND with *status = 404 (no such path) or 405 (path known, method not).
 * When allow is non-NULL it receives the methods of the path, comma-separated (405's Allow),
 * truncated to allow_size.
 */
int pb_http_route_find(const pb_http_route *routes, size_t n, const char *method, const char *path,
                       const pb_http_route **found, int *status, char *allow, size_t allow_size);

/* Handler-shaped dispatch: calls the matching route's handler(ex, req, ctx), or answers
 * 404 / 405 (with Allow) with a JSON error body. */
void pb_http_route_dispatch(const pb_http_route *routes, size_t n, pb_http_exchange *ex,
                            const pb_http_request *req, void *ctx);

#endif
