/*
 * http_server.h - a small HTTP/1.1 server on libuv TCP (gateway simulator, callback receiver).
 *
 * One loop, one thread. Requests are parsed by batch/http_request.h (http-parser adapter).
 * For every complete request the server calls the handler with a pb_http_exchange; the
 * handler answers now or later (from a timer ...) with pb_http_respond(), or closes the
 * connection without an answer with pb_http_drop(). Exactly one of the two must be called
 * for every exchange, also when the connection has died meanwhile: that call frees it.
 *
 * Connections: keep-alive (HTTP/1.1 default, HTTP/1.0 with "Connection: keep-alive").
 * One request at a time per connection: reading stops while an answer is pending, so
 * pipelined requests are answered in order. "Connection: close" is honoured (the answer
 * carries it and the connection closes after the write). A client that disconnects while
 * its answer is pending is noticed when the answer is written (reading is stopped).
 *
 * Failures answered by the server itself, then the connection is closed:
 *   400 malformed request, 413 body over max_body_bytes (Content-Length up front, or bytes
 *   of a chunked body while reading), 431 header over max_header_bytes. Chunked request
 *   bodies are accepted (decoded, capped). Error bodies are JSON:
 *   {"status":"error","code":"404","message":"Not found"}.
 * Timers per connection: the request line and headers must complete within
 * header_timeout_ms of the first byte (or of accept) - slowloris; and no more than
 * idle_timeout_ms may pass between reads, or while idle between keep-alive requests.
 * The whole request, body included, must arrive within request_timeout_ms of its first byte
 * (or of accept): reads re-arm the idle timer, never this deadline. An answer must be written
 * within write_timeout_ms (a client that pipelines and never reads is cut).
 * Any cut closes the connection without an answer. All are stopped while the handler owns an
 * exchange. At max_connections, a new connection first makes room by closing the keep-alive
 * connection idle the longest; when none is idle it is answered 503 with Retry-After and
 * closed (and past twice the cap of those in flight, closed at once).
 *
 * Lifecycle (libuv style): pb_http_server_new() -> pb_http_server_listen() -> ...
 * pb_http_server_close(cb) closes the listener and every connection; pending exchanges
 * become dead (pb_http_respond returns PB_EIO and frees them). When cb runs, every handle
 * is closed; call pb_http_server_free() then (also from inside cb). Freeing an open server
 * is a bug.
 *
 * Routing by method+path: batch/http_router.h.
 */
#ifndef PB_NET_HTTP_SERVER_H
#define PB_NET_HTTP_SERVER_H

#include <stddef.h>
#include <uv.h>

#include "batch/net/http_request.h"

typedef struct pb_http_server pb_http_server;
typedef struct pb_http_exchange pb_http_exchange; /* one request awaiting its answer */

/*
 * Called once per complete request. `req` (and every string in it) stays valid until
 * pb_http_respond() or pb_http_drop() is called for `ex`, so a delayed answer may use it.
 * The handler may call pb_http_server_close().
 */
typedef void (*pb_http_handler)(pb_http_exchange *ex, const pb_http_request *req, void *ctx);

typedef struct {
    size_t max_header_bytes;     /* 0 -> 8 KiB; over it 431 */
    size_t max_body_bytes;       /* 0 -> 1 MiB; over it 413 */
    unsigned header_timeout_ms;  /* 0 -> 10 s: headers complete within it (slowloris) */
    unsigned idle_timeout_ms;    /* 0 -> 30 s: between reads / keep-alive idle */
    unsigned max_connections;    /* 0 -> 256; over it see above (503 or an idle one goes) */
    unsigned request_timeout_ms; /* 0 -> 30 s (at least header_timeout_ms): a whole request,
                                    headers and body, from its first byte (trickling) */
    unsigned write_timeout_ms;   /* 0 -> 30 s: an answer must be taken by the client within it
                                    (a client that never reads) */
} pb_http_limits;

/* limits may be NULL (defaults). *out is owned by the caller (close, then free). */
int pb_http_server_new(pb_http_server **out, uv_loop_t *loop, const pb_http_limits *limits,
                       pb_http_handler h, void *ctx);
/* host is a numeric IPv4 or IPv6 address; port 0 = ephemeral. */
int pb_http_server_listen(pb_http_server *s, const char *host, int port);
/* The bound port, or a negative PB_E... code when not listening. */
int pb_http_server_port(const pb_http_server *s);
/* Open connections (accepted, not yet closed). */
unsigned pb_http_server_connections(const pb_http_server *s);

/*
 * Answer the exchange and free it (whatever the result). The body is copied.
 * content_type may be NULL (no Content-Type). extra_headers: NULL or complete header lines,
 * each ending in "\r\n" ("Retry-After: 2\r\n"). status 200..599 (204/304 send no body).
 * Returns PB_OK when the answer was queued, PB_EIO when the connection had died (nothing is
 * sent), PB_EINVAL for bad arguments (the connection is then closed), PB_ENOMEM.
 */
int pb_http_respond(pb_http_exchange *ex, int status, const char *content_type,
                    const char *extra_headers, const char *body, size_t len);
/* Answer with the JSON error body {"status":"error","code":"<status>","message":"<msg>"};
 * extra_headers as for pb_http_respond. */
int pb_http_respond_error(pb_http_exchange *ex, int status, const char *message,
                          const char *extra_headers);
/* Close the connection without answering and free the exchange. */
void pb_http_drop(pb_http_exchange *ex);
/* 1 while the connection of a pending exchange is open, 0 once it died. */
int pb_http_exchange_alive(const pb_http_exchange *ex);

/* cb(s, arg) runs when every handle is closed (then uv_loop_close can succeed). cb may be
 * NULL. Calling close twice is harmless (the second call is ignored). */
void pb_http_server_close(pb_http_server *s, void (*cb)(pb_http_server *, void *), void *arg);
/* Accepts NULL. Only after the close callback ran (or if listen/close were never needed:
 * a server that was never listened on still must be closed first). */
void pb_http_server_free(pb_http_server *s);

/* "127.0.0.1:8080" or "[::1]:8080" -> host (into host[cap]) and port. PB_EINVAL when malformed. */
int pb_http_hostport_parse(const char *s, char *host, size_t cap, int *port);

#endif
