/*
 * http_request.h - HTTP/1.1 request parsing without sockets (adapter over http-parser 2.9.4).
 *
 * The only module that includes <http_parser.h>: a later swap to llhttp stays local. The
 * server (batch/http_server.c) and the fuzzer (tests/fuzz/http_request_fuzz.c) feed bytes in
 * any split and get complete requests, one at a time, or an HTTP status to fail with.
 *
 * Flow:
 *   pb_httpreq_parser_new(&p, &limits)
 *   loop: pb_httpreq_feed(p, data, len, &used)
 *         - PB_OK, pb_httpreq_state(p) != PB_HTTPREQ_READY: all bytes used, feed more.
 *         - PB_OK, state READY: the parser stopped right after one complete request (`used`
 *           may be < len; the rest belongs to the next, pipelined request). Take it with
 *           pb_httpreq_take(), then feed the rest.
 *         - < 0: the input is unusable; pb_httpreq_error_status() says how to answer
 *           (400, 413, 431, 500) and pb_httpreq_error_message() a short reason. The parser
 *           is stuck in ERROR: answer and close the connection.
 *
 * Limits (per parser, not process-wide): the request line plus header names and values
 * (plus 4 bytes per header for ": " and CRLF) may not exceed max_header_bytes, and at most
 * PB_HTTPREQ_MAX_HEADERS headers -> 431. A Content-Length over max_body_bytes -> 413 before
 * any body byte is read; body bytes are counted while reading as well -> 413.
 * Chunked bodies (Transfer-Encoding: chunked) are ACCEPTED, decoded by http-parser and capped
 * by the same running count; trailers count against the header cap. Content-Length together
 * with Transfer-Encoding, or an unknown transfer coding, is refused with 400 (http-parser).
 * A request without Content-Length or chunked coding has an empty body (RFC 9112 6.3).
 * Upgrade / CONNECT requests are parsed as plain requests with keep_alive forced to 0.
 *
 * Ownership: pb_httpreq_take() hands a pb_httpreq_msg to the caller, who frees it with
 * pb_httpreq_msg_free(); the pb_http_request inside and every string it points to stay
 * valid until then, independent of the parser.
 */
#ifndef PB_NET_HTTP_REQUEST_H
#define PB_NET_HTTP_REQUEST_H

#include <stddef.h>

#define PB_HTTPREQ_MAX_HEADERS 100

typedef struct {
    const char *method;       /* "GET", "POST" ... (static string) */
    const char *path;         /* decoded nothing: the raw path, without query; never NULL */
    const char *query;        /* raw query without '?', or NULL */
    const char *body;         /* NUL-terminated (NUL not counted); "" when empty */
    size_t body_len;          /* bytes of body */
    const char *content_type; /* Content-Type value or NULL */
    int http_minor;           /* 1 for HTTP/1.1, 0 for HTTP/1.0 */
    int keep_alive;           /* 1 if the connection may serve another request */
    /* private: header storage for pb_http_request_header() */
    const char *hdrs_;
    size_t hdrs_len_;
} pb_http_request;

/* Value of the first header named `name` (case-insensitive), or NULL. Owned by the request. */
const char *pb_http_request_header(const pb_http_request *req, const char *name);

/* Iterate headers: *pos = 0 to start; returns 0 and sets name/value, PB_ENOTFOUND at end. */
int pb_http_request_header_next(const pb_http_request *req, size_t *pos, const char **name,
                                const char **value);

typedef struct {
    size_t max_header_bytes; /* 0 -> 8 KiB */
    size_t max_body_bytes;   /* 0 -> 1 MiB */
} pb_httpreq_limits;

#define PB_HTTPREQ_DEFAULT_MAX_HEADER ((size_t)8 * 1024)
#define PB_HTTPREQ_DEFAULT_MAX_BODY   ((size_t)1024 * 1024)

typedef enum {
    PB_HTTPREQ_IDLE,    /* between requests: nothing of the next one seen yet */
    PB_HTTPREQ_HEADERS, /* request line / headers in progress */
    PB_HTTPREQ_BODY,    /* headers complete, body in progress */
    PB_HTTPREQ_READY,   /* a complete request waits for pb_httpreq_take() */
    PB_HTTPREQ_ERROR    /* unusable input; see pb_httpreq_error_status() */
} pb_httpreq_state_t;

typedef struct pb_httpreq_parser pb_httpreq_parser;
typedef struct pb_httpreq_msg pb_httpreq_msg;

/* limits may be NULL (defaults). *out owned by the caller: pb_httpreq_parser_free(). */
int pb_httpreq_parser_new(pb_httpreq_parser **out, const pb_httpreq_limits *limits);
void pb_httpreq_parser_free(pb_httpreq_parser *p);

/* Feed bytes (see the flow above). *used receives the bytes consumed. Feeding in state
 * READY consumes nothing and returns PB_OK; in state ERROR it returns the error again. */
int pb_httpreq_feed(pb_httpreq_parser *p, const char *data, size_t len, size_t *used);

pb_httpreq_state_t pb_httpreq_state(const pb_httpreq_parser *p);

/* In state READY: move the request out (caller frees) and continue with the next one.
 * PB_EINVAL in any other state. When the request does not keep the connection alive
 * (req.keep_alive == 0) the parser goes to ERROR (status 400): nothing may follow it. */
int pb_httpreq_take(pb_httpreq_parser *p, pb_httpreq_msg **out);

/* HTTP status for the failure (400/413/431/500), 0 when not in ERROR. */
int pb_httpreq_error_status(const pb_httpreq_parser *p);
/* Short static reason for the failure, "" when none. */
const char *pb_httpreq_error_message(const pb_httpreq_parser *p);

/* The request inside a message; valid until pb_httpreq_msg_free(). */
const pb_http_request *pb_httpreq_msg_request(const pb_httpreq_msg *m);
void pb_httpreq_msg_free(pb_httpreq_msg *m);

#endif
