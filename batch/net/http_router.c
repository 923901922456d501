/*
 * http_router.c - exact method+path routing for the HTTP server (see http_router.h).
 */
#include "batch/net/http_router.h"

#include <stdio.h>
#include <string.h>

#include "core/errors.h"

int pb_http_route_find(const pb_http_route *routes, size_t n, const char *method, const char *path,
                       const pb_http_route **found, int *status, char *allow, size_t allow_size)
{
    size_t i, alen = 0;
    int path_seen = 0;

    *found = NULL;
    *status = 404;
    if (allow && allow_size)
        allow[0] = '\0';
    if (!method || !path)
        return PB_ENOTFOUND;
    for (i = 0; i < n; i++) {
        if (!routes[i].path || strcmp(routes[i].path, path) != 0)
            continue;
        if (routes[i].method && strcmp(routes[i].method, method) == 0) {
            *found = &routes[i];
            *status = 0;
            return PB_OK;
        }
        path_seen = 1;
        if (allow && allow_size && routes[i].method) {
            size_t ml = strlen(routes[i].method), sep = alen ? 2 : 0;
            if (alen + sep + ml < allow_size) {
                memcpy(allow + alen, ", ", sep);
                memcpy(allow + alen + sep, routes[i].method, ml);
                alen += sep + ml;
                allow[alen] = '\0';
            }
        }
    }
    *status = path_seen ? 405 : 404;
    return PB_ENOTFOUND;
}

void pb_http_route_dispatch(const pb_http_route *routes, size_t n, pb_http_exchange *ex,
                            const pb_http_request *req, void *ctx)
{
    const pb_http_route *r;
    int status;
    char allow[256], extra[300];

    if (pb_http_route_find(routes, n, req->method, req->path, &r, &status, allow, sizeof(allow)) ==
        PB_OK) {
        r->handler(ex, req, ctx);
        return;
    }
    if (status == 405) {
        snprintf(extra, sizeof(extra), "Allow: %s\r\n", allow);
        pb_http_respond_error(ex, 405, "Method not allowed", extra);
    } else {
        pb_http_respond_error(ex, 404, "Not found", NULL);
    }
}
