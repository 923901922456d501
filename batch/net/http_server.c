/*
 * http_server.c - HTTP/1.1 server on libuv TCP (see http_server.h).
 *
 * Per connection: one uv_tcp_t and two uv_timer_t (header deadline, idle), one request
 * parser and a fixed read buffer. The connection struct is freed in the close callback of
 * its last handle; an exchange outliving its connection only loses its `conn` pointer.
 * Requests are handled strictly one at a time: while an exchange is pending or its answer
 * is being written, reading is stopped and the unparsed rest of the buffer (pipelined
 * requests) waits; the write callback resumes. No recursion from respond into the handler.
 */
#include "batch/net/http_server.h"

#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "batch/net/http_response.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/buf.h"
#include "core/errors.h"

#define PB_HTTP_READ_BUF   16384
#define PB_HTTP_LINGER_MS  1000u          /* drain after a final answer, at most */
#define PB_HTTP_LINGER_MAX (256u * 1024u) /* bytes drained before giving up */
#define PB_HTTP_HEAD_SLACK 1024u          /* response header room beyond the caller's */

typedef struct pb__conn pb__conn;

struct pb_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    pb_http_limits lim;
    pb_http_handler handler;
    void *ctx;
    pb__conn *conns;
    unsigned nconns; /* accepted and counted against max_connections */
    unsigned nlive;  /* connection structs not yet freed */
    int listening;
    int closing;
    int listener_closed;
    int finished;
    void (*close_cb)(pb_http_server *, void *);
    void *close_arg;
};

struct pb__conn {
    uv_tcp_t tcp;
    uv_timer_t hdr_timer;
    uv_timer_t idle_timer; /* idle between reads / keep-alive; the write deadline; linger */
    uv_timer_t req_timer;  /* whole request: first byte to complete body (trickling) */
    uv_shutdown_t shutdown_req;
    pb_http_server *srv;
    pb__conn *prev, *next;
    pb_httpreq_parser *parser;
    pb_http_exchange *ex; /* pending exchange */
    int open_handles;
    int timers_init;
    int counted;
    int closing;
    int reading;
    int writing;
    int hdr_armed;
    int req_armed;
    int close_after_write;
    int rejecting;       /* over the cap: answered 503, never counted */
    unsigned served;     /* answers written (keep-alive) */
    uint64_t idle_since; /* loop time of the last answer, for eviction at the cap */
    int draining;
    size_t drained;
    size_t roff, rlen;
    char rbuf[PB_HTTP_READ_BUF];
};

struct pb_http_exchange {
    pb__conn *conn; /* NULL once the connection died */
    pb_httpreq_msg *msg;
    int is_head;
};

typedef struct {
    uv_write_t req;
    pb__conn *conn;
    char *data;
} pb__write;

static void pb__conn_process(pb__conn *c);

/*
 * libuv results dropped with (void) in this file, and why that is right:
 *   uv_timer_init, uv_timer_stop, uv_read_stop  always return 0 (libuv 1.x);
 *   uv_timer_start  fails only on a closing handle (UV_EINVAL), and a closing connection
 *                   needs no timeout any more.
 */

/* ---- helpers ------------------------------------------------------------------------- */

/* ---- connection lifecycle ------------------------------------------------------------ */

static void pb__server_maybe_finish(pb_http_server *s)
{
    if (s->closing && s->listener_closed && s->nlive == 0 && !s->finished) {
        s->finished = 1;
        if (s->close_cb)
            s->close_cb(s, s->close_arg);
    }
}

static void pb__conn_on_close(uv_handle_t *h)
{
    pb__conn *c = h->data;
    pb_http_server *s = c->srv;

    if (--c->open_handles > 0)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nlive--;
    pb_httpreq_parser_free(c->parser);
    pb_free(c);
    pb__server_maybe_finish(s);
}

static void pb__conn_close(pb__conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (c->counted) { /* a closing connection frees its place at once */
        c->counted = 0;
        c->srv->nconns--;
    }
    if (c->ex) {
        c->ex->conn = NULL; /* the exchange is dead; its owner still frees it */
        c->ex = NULL;
    }
    uv_close((uv_handle_t *)&c->tcp, pb__conn_on_close);
    if (c->timers_init) {
        uv_close((uv_handle_t *)&c->hdr_timer, pb__conn_on_close);
        uv_close((uv_handle_t *)&c->idle_timer, pb__conn_on_close);
        uv_close((uv_handle_t *)&c->req_timer, pb__conn_on_close);
    }
}

static void pb__on_timeout(uv_timer_t *t)
{
    pb__conn_close(t->data);
}

static void pb__read_stop(pb__conn *c)
{
    if (c->reading) {
        (void)uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

static void pb__on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    pb__conn *c = h->data;
    (void)suggested;
    if (c->draining) {
        *b = uv_buf_init(c->rbuf, sizeof(c->rbuf));
        return;
    }
    /* reading only runs when the buffer is empty (roff == rlen == 0) */
    *b = uv_buf_init(c->rbuf + c->rlen, (unsigned)(sizeof(c->rbuf) - c->rlen));
}

static void pb__on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    pb__conn *c = st->data;
    (void)b;

    if (c->closing || nread == 0)
        return;
    if (nread < 0) { /* EOF or error: nothing can be answered any more */
        pb__conn_close(c);
        return;
    }
    if (c->draining) {
        c->drained += (size_t)nread;
        if (c->drained > PB_HTTP_LINGER_MAX)
            pb__conn_close(c);
        return;
    }
    c->rlen += (size_t)nread;
    (void)uv_timer_start(&c->idle_timer, pb__on_timeout, c->srv->lim.idle_timeout_ms, 0);
    pb__conn_process(c);
}

static void pb__read_start(pb__conn *c)
{
    if (!c->reading && !c->closing) {
        if (uv_read_start((uv_stream_t *)&c->tcp, pb__on_alloc, pb__on_read) != 0) {
            pb__conn_close(c);
            return;
        }
        c->reading = 1;
    }
}

static void pb__on_shutdown(uv_shutdown_t *r, int status)
{
    pb__conn *c = r->data;
    if (c->closing)
        return;
    if (status < 0) {
        pb__conn_close(c);
        return;
    }
    /* lingering close: let the client read the answer; discard what it still sends */
    c->draining = 1;
    c->roff = c->rlen = 0;
    pb__read_start(c);
}

static void pb__conn_linger(pb__conn *c)
{
    unsigned ms = c->srv->lim.idle_timeout_ms;
    if (ms > PB_HTTP_LINGER_MS)
        ms = PB_HTTP_LINGER_MS;
    pb__read_stop(c);
    (void)uv_timer_stop(&c->hdr_timer);
    (void)uv_timer_start(&c->idle_timer, pb__on_timeout, ms, 0);
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, pb__on_shutdown) != 0)
        pb__conn_close(c);
}

static void pb__on_write(uv_write_t *r, int status)
{
    pb__write *w = (pb__write *)r;
    pb__conn *c = w->conn;

    pb_free(w->data);
    pb_free(w);
    c->writing = 0;
    if (c->closing)
        return;
    if (status < 0) {
        pb__conn_close(c);
        return;
    }
    if (c->close_after_write) {
        pb__conn_linger(c);
        return;
    }
    /* keep-alive: idle until the next request starts; then serve what is buffered */
    c->served++;
    c->idle_since = uv_now(c->srv->loop);
    (void)uv_timer_start(&c->idle_timer, pb__on_timeout, c->srv->lim.idle_timeout_ms, 0);
    pb__conn_process(c);
}

/* Queue one complete response. On failure the caller closes the connection. */
static int pb__conn_write(pb__conn *c, int status, const char *ctype, const char *extra,
                          const char *body, size_t len, int is_head)
{
    pb_buf b;
    pb__write *w = NULL;
    size_t cap;
    int no_body = status == 204 || status == 304;
    int rc;

    cap = PB_HTTP_HEAD_SLACK + (ctype ? strlen(ctype) : 0) + (extra ? strlen(extra) : 0);
    if (len > SIZE_MAX - cap)
        return PB_ERANGE;
    pb_buf_init(&b, cap + len);
    rc = pb_buf_printf(&b, "HTTP/1.1 %d %s\r\n", status, pb_http_reason(status));
    if (rc == PB_OK && ctype)
        rc = pb_buf_printf(&b, "Content-Type: %s\r\n", ctype);
    if (rc == PB_OK && !no_body)
        rc = pb_buf_printf(&b, "Content-Length: %zu\r\n", len);
    if (rc == PB_OK)
        rc = pb_buf_puts(&b, c->close_after_write ? "Connection: close\r\n"
                                                  : "Connection: keep-alive\r\n");
    if (rc == PB_OK && extra)
        rc = pb_buf_puts(&b, extra);
    if (rc == PB_OK)
        rc = pb_buf_puts(&b, "\r\n");
    if (rc == PB_OK && !no_body && !is_head && len)
        rc = pb_buf_put(&b, body, len);
    if (rc != PB_OK)
        goto out;
    w = pb_calloc(1, sizeof(*w));
    if (!w) {
        rc = PB_ENOMEM;
        goto out;
    }
    {
        size_t n;
        uv_buf_t ub;
        w->conn = c;
        w->data = pb_buf_detach(&b, &n);
        ub = uv_buf_init(w->data, (unsigned)n);
        if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &ub, 1, pb__on_write) != 0) {
            pb_free(w->data);
            rc = PB_EIO;
            goto out;
        }
    }
    w = NULL;
    c->writing = 1;
    pb__read_stop(c);
    (void)uv_timer_stop(&c->hdr_timer);
    (void)uv_timer_stop(&c->req_timer);
    /* a client that does not read its answers holds the connection no longer than this */
    (void)uv_timer_start(&c->idle_timer, pb__on_timeout, c->srv->lim.write_timeout_ms, 0);
    c->hdr_armed = c->req_armed = 0;
out:
    pb_free(w);
    pb_buf_free(&b);
    return rc;
}

/* The server's own error answer; the connection closes after it. */
static void pb__conn_fail_with(pb__conn *c, int status, const char *message, const char *extra)
{
    pb_buf b;
    int rc;

    pb_buf_init(&b, 512);
    c->close_after_write = 1;
    rc = pb_http_json_error(&b, status, message);
    if (rc == PB_OK)
        rc = pb__conn_write(c, status, "application/json", extra, b.ptr, b.len, 0);
    pb_buf_free(&b);
    if (rc != PB_OK)
        pb__conn_close(c);
}

static void pb__conn_fail(pb__conn *c, int status, const char *message)
{
    pb__conn_fail_with(c, status, message, NULL);
}

static void pb__conn_dispatch(pb__conn *c)
{
    pb_httpreq_msg *msg = NULL;
    pb_http_exchange *ex;
    const pb_http_request *req;

    if (pb_httpreq_take(c->parser, &msg) != PB_OK) {
        pb__conn_fail(c, 500, "Internal error");
        return;
    }
    ex = pb_calloc(1, sizeof(*ex));
    if (!ex) {
        pb_httpreq_msg_free(msg);
        pb__conn_fail(c, 500, "Out of memory");
        return;
    }
    req = pb_httpreq_msg_request(msg);
    ex->conn = c;
    ex->msg = msg;
    ex->is_head = strcmp(req->method, "HEAD") == 0;
    c->ex = ex;
    c->close_after_write = !req->keep_alive;
    pb__read_stop(c);
    (void)uv_timer_stop(&c->hdr_timer);
    (void)uv_timer_stop(&c->idle_timer);
    (void)uv_timer_stop(&c->req_timer);
    c->hdr_armed = c->req_armed = 0;
    c->srv->handler(ex, req, c->srv->ctx);
}

/* Parse buffered bytes and serve at most one request; arm timers and reading. */
static void pb__conn_process(pb__conn *c)
{
    while (!c->closing && !c->ex && !c->writing && c->roff < c->rlen) {
        size_t used = 0;
        int rc = pb_httpreq_feed(c->parser, c->rbuf + c->roff, c->rlen - c->roff, &used);
        c->roff += used;
        if (rc < 0) {
            pb__conn_fail(c, pb_httpreq_error_status(c->parser),
                          pb_httpreq_error_message(c->parser));
            return;
        }
        if (pb_httpreq_state(c->parser) == PB_HTTPREQ_READY)
            pb__conn_dispatch(c);
    }
    if (c->closing || c->ex || c->writing)
        return;
    c->roff = c->rlen = 0;
    switch (pb_httpreq_state(c->parser)) {
    case PB_HTTPREQ_HEADERS:
        if (!c->hdr_armed) {
            (void)uv_timer_start(&c->hdr_timer, pb__on_timeout, c->srv->lim.header_timeout_ms, 0);
            c->hdr_armed = 1;
        }
        if (!c->req_armed) {
            (void)uv_timer_start(&c->req_timer, pb__on_timeout, c->srv->lim.request_timeout_ms, 0);
            c->req_armed = 1;
        }
        break;
    case PB_HTTPREQ_BODY:
        (void)uv_timer_stop(&c->hdr_timer);
        c->hdr_armed = 0;
        /* the body too must be complete in time: trickling cannot extend this */
        if (!c->req_armed) {
            (void)uv_timer_start(&c->req_timer, pb__on_timeout, c->srv->lim.request_timeout_ms, 0);
            c->req_armed = 1;
        }
        break;
    default:
        break;
    }
    pb__read_start(c);
}

/* The keep-alive connection idle the longest (no request in progress), or NULL. */
static pb__conn *pb__conn_find_idle(pb_http_server *s)
{
    pb__conn *c, *best = NULL;
    for (c = s->conns; c; c = c->next) {
        if (!c->counted || c->closing || c->ex || c->writing || c->draining || !c->served ||
            c->roff != c->rlen || pb_httpreq_state(c->parser) != PB_HTTPREQ_IDLE)
            continue;
        if (!best || c->idle_since < best->idle_since)
            best = c;
    }
    return best;
}

static void pb__on_connection(uv_stream_t *l, int status)
{
    pb_http_server *s = l->data;
    pb__conn *c, *idle;
    pb_httpreq_limits pl;

    if (status < 0 || s->closing)
        return;
    c = pb_calloc(1, sizeof(*c));
    if (!c)
        return; /* libuv pauses the listener until a later accept */
    c->srv = s;
    if (uv_tcp_init(s->loop, &c->tcp) != 0) {
        pb_free(c);
        return;
    }
    c->tcp.data = c;
    c->open_handles = 1;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nlive++;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        pb__conn_close(c);
        return;
    }
    /* at the cap, an idle keep-alive connection makes room for a new client */
    if (s->nconns >= s->lim.max_connections && (idle = pb__conn_find_idle(s)) != NULL)
        pb__conn_close(idle);
    if (s->nconns >= s->lim.max_connections) {
        /* still full: answer 503 (Retry-After) and close; past twice the cap of such
         * answers in flight, close at once (nothing may grow without bound) */
        if (s->nlive > 2u * s->lim.max_connections + 16u) {
            pb__conn_close(c);
            return;
        }
        c->rejecting = 1;
    } else {
        c->counted = 1;
        s->nconns++;
    }
    (void)uv_timer_init(s->loop, &c->hdr_timer);
    (void)uv_timer_init(s->loop, &c->idle_timer);
    (void)uv_timer_init(s->loop, &c->req_timer);
    c->hdr_timer.data = c->idle_timer.data = c->req_timer.data = c;
    c->timers_init = 1;
    c->open_handles = 4;
    if (c->rejecting) {
        pb__conn_fail_with(c, 503, "Too many connections; retry later", "Retry-After: 1\r\n");
        return;
    }
    pl.max_header_bytes = s->lim.max_header_bytes;
    pl.max_body_bytes = s->lim.max_body_bytes;
    if (pb_httpreq_parser_new(&c->parser, &pl) != PB_OK) {
        pb__conn_close(c);
        return;
    }
    (void)uv_tcp_nodelay(&c->tcp, 1); /* a failure only leaves Nagle on: slower, not wrong */
    (void)uv_timer_start(&c->hdr_timer, pb__on_timeout, s->lim.header_timeout_ms, 0);
    (void)uv_timer_start(&c->idle_timer, pb__on_timeout, s->lim.idle_timeout_ms, 0);
    (void)uv_timer_start(&c->req_timer, pb__on_timeout, s->lim.request_timeout_ms, 0);
    c->hdr_armed = c->req_armed = 1;
    pb__read_start(c);
}

/* ---- server -------------------------------------------------------------------------- */

int pb_http_server_new(pb_http_server **out, uv_loop_t *loop, const pb_http_limits *limits,
                       pb_http_handler h, void *ctx)
{
    pb_http_server *s = NULL;
    int rc = PB_OK;

    if (!out || !loop || !h)
        return PB_EINVAL;
    *out = NULL;
    s = pb_calloc(1, sizeof(*s));
    if (!s) {
        rc = PB_ENOMEM;
        goto out;
    }
    if (limits)
        s->lim = *limits;
    if (!s->lim.max_header_bytes)
        s->lim.max_header_bytes = PB_HTTPREQ_DEFAULT_MAX_HEADER;
    if (!s->lim.max_body_bytes)
        s->lim.max_body_bytes = PB_HTTPREQ_DEFAULT_MAX_BODY;
    if (!s->lim.header_timeout_ms)
        s->lim.header_timeout_ms = 10000;
    if (!s->lim.idle_timeout_ms)
        s->lim.idle_timeout_ms = 30000;
    if (!s->lim.max_connections)
        s->lim.max_connections = 256;
    if (!s->lim.request_timeout_ms)
        s->lim.request_timeout_ms = 30000;
    if (s->lim.request_timeout_ms < s->lim.header_timeout_ms)
        s->lim.request_timeout_ms = s->lim.header_timeout_ms;
    if (!s->lim.write_timeout_ms)
        s->lim.write_timeout_ms = 30000;
    s->loop = loop;
    s->handler = h;
    s->ctx = ctx;
    if (uv_tcp_init(loop, &s->listener) != 0) {
        rc = pb_error_set("uv_tcp_init failed");
        goto out;
    }
    s->listener.data = s;
    *out = s;
    s = NULL;
out:
    pb_free(s);
    return rc;
}

int pb_http_server_listen(pb_http_server *s, const char *host, int port)
{
    struct sockaddr_storage ss;
    int r;

    if (!s || !host || port < 0 || port > 65535 || s->closing || s->listening)
        return PB_EINVAL;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
        pb_error_set("not a numeric address: %s", host);
        return PB_EINVAL;
    }
    r = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&s->listener, 128, pb__on_connection);
    if (r != 0) {
        pb_error_set("listen on %s:%d: %s", host, port, uv_strerror(r));
        return PB_EIO;
    }
    s->listening = 1;
    return PB_OK;
}

int pb_http_server_port(const pb_http_server *s)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    if (!s || !s->listening || s->closing)
        return PB_EINVAL;
    if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len) != 0)
        return PB_EIO;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

unsigned pb_http_server_connections(const pb_http_server *s)
{
    return s ? s->nconns : 0;
}

static void pb__on_listener_close(uv_handle_t *h)
{
    pb_http_server *s = h->data;
    s->listener_closed = 1;
    pb__server_maybe_finish(s);
}

void pb_http_server_close(pb_http_server *s, void (*cb)(pb_http_server *, void *), void *arg)
{
    pb__conn *c;

    if (!s || s->closing)
        return;
    s->closing = 1;
    s->close_cb = cb;
    s->close_arg = arg;
    uv_close((uv_handle_t *)&s->listener, pb__on_listener_close);
    for (c = s->conns; c; c = c->next)
        pb__conn_close(c);
}

void pb_http_server_free(pb_http_server *s)
{
    if (!s)
        return;
    /* a caller's bug: free only once the close callback ran (every handle closed) */
    PB_ASSERT(s->finished);
    /* release builds: freeing open handles would corrupt the loop, so leak instead */
    if (!s->finished)
        return;
    pb_free(s);
}

/* ---- exchanges ----------------------------------------------------------------------- */

static void pb__exchange_free(pb_http_exchange *ex)
{
    pb_httpreq_msg_free(ex->msg);
    pb_free(ex);
}

int pb_http_exchange_alive(const pb_http_exchange *ex)
{
    return ex && ex->conn && !ex->conn->closing;
}

int pb_http_respond(pb_http_exchange *ex, int status, const char *content_type,
                    const char *extra_headers, const char *body, size_t len)
{
    pb__conn *c;
    int rc;

    if (!ex)
        return PB_EINVAL;
    c = ex->conn;
    if (!c) {
        rc = PB_EIO;
        goto out;
    }
    c->ex = NULL;
    ex->conn = NULL;
    if (status < 200 || status > 599 || pb_http_has_crlf(content_type) ||
        !pb_http_extra_headers_ok(extra_headers) || (!body && len)) {
        rc = PB_EINVAL;
        pb__conn_close(c);
        goto out;
    }
    /* body may point into the request (echo): write before freeing the exchange */
    rc = pb__conn_write(c, status, content_type, extra_headers, body, len, ex->is_head);
    if (rc != PB_OK)
        pb__conn_close(c);
out:
    pb__exchange_free(ex);
    return rc;
}

int pb_http_respond_error(pb_http_exchange *ex, int status, const char *message,
                          const char *extra_headers)
{
    pb_buf b;
    int rc;

    pb_buf_init(&b, 1024);
    rc = pb_http_json_error(&b, status, message);
    if (rc != PB_OK) {
        pb_http_drop(ex);
        goto out;
    }
    rc = pb_http_respond(ex, status, "application/json", extra_headers, b.ptr, b.len);
out:
    pb_buf_free(&b);
    return rc;
}

void pb_http_drop(pb_http_exchange *ex)
{
    if (!ex)
        return;
    if (ex->conn) {
        ex->conn->ex = NULL;
        pb__conn_close(ex->conn);
        ex->conn = NULL;
    }
    pb__exchange_free(ex);
}

/* "127.0.0.1:8080", "[::1]:8080" -> host (in buf) and port */
int pb_http_hostport_parse(const char *s, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(s, ':');
    char *end;
    unsigned long p;
    size_t hl;

    if (!colon || colon[1] == '\0')
        return PB_EINVAL;
    errno = 0;
    p = strtoul(colon + 1, &end, 10);
    if (errno || *end != '\0' || p > 65535 || colon[1] == '-' || colon[1] == '+')
        return PB_EINVAL;
    hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl == 0 || hl >= cap)
        return PB_EINVAL;
    memcpy(host, s, hl);
    host[hl] = '\0';
    *port = (int)p;
    return PB_OK;
}
