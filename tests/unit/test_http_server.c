/*
 * test_http_server.c - the HTTP server on 127.0.0.1:0, driven by raw libuv TCP clients in
 * the same loop. Every loop is bounded by a guard timer; every test ends with all handles
 * closed and uv_loop_close() == 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "batch/net/http_router.h"
#include "batch/net/http_server.h"
#include "core/errors.h"

#define GUARD_MS 5000
#define MAX_CL   4

typedef struct fx fx;

typedef struct client {
    fx *f;
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_timer_t trickle;
    char *out;
    size_t out_len;
    char in[65536];
    size_t in_len;
    int eof;
    int closing;
    int used;
    uint64_t t_start, t_end;
    int seen;                                  /* complete responses seen */
    int no_read;                               /* never reads its answers */
    void (*on_response)(struct client *, int); /* optional: after response #idx */
} client;

struct fx {
    uv_loop_t loop;
    pb_http_server *srv;
    uv_timer_t guard;
    uv_timer_t delay_timer;
    uv_timer_t aux;
    int port;
    int guard_fired;
    int server_closed;
    int shutting;
    client cl[MAX_CL];
    int ncl;
    int ndone;
    pb_http_exchange *pending[4];
    int npending;
    pb_http_exchange *delayed;
    int late_rc;      /* result of a respond after the connection died */
    int late_checked; /* 1 when late_rc was set */
    unsigned conns_after;
    void (*hook_pending)(fx *);
    void (*hook_done)(fx *);
};

/* ---- responses ----------------------------------------------------------------------- */

typedef struct {
    int status;
    const char *head;
    size_t head_len;
    const char *body;
    size_t body_len;
} resp;

static const char *find(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle), i;
    for (i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0)
            return s + i;
    return NULL;
}

static int parse_resps(const client *c, resp *r, int max)
{
    size_t off = 0;
    int n = 0;
    while (n < max && off < c->in_len) {
        const char *s = c->in + off, *e, *cl;
        size_t rem = c->in_len - off, hl, blen = 0;
        e = find(s, rem, "\r\n\r\n");
        if (!e)
            break;
        hl = (size_t)(e - s) + 4;
        cl = find(s, hl, "Content-Length: ");
        if (cl)
            blen = strtoul(cl + 16, NULL, 10);
        if (hl + blen > rem)
            break;
        r[n].status = (int)strtol(s + 9, NULL, 10);
        r[n].head = s;
        r[n].head_len = hl;
        r[n].body = s + hl;
        r[n].body_len = blen;
        off += hl + blen;
        n++;
    }
    return n;
}

static int has_header(const resp *r, const char *line)
{
    return find(r->head, r->head_len, line) != NULL;
}

static void assert_body(const resp *r, const char *body)
{
    assert_int_equal(r->body_len, strlen(body));
    assert_memory_equal(r->body, body, r->body_len);
}

/* ---- fixture ------------------------------------------------------------------------- */

static void fx_shutdown(fx *f);

static void on_srv_closed(pb_http_server *s, void *arg)
{
    fx *f = arg;
    int i;
    (void)s;
    f->server_closed = 1;
    for (i = 0; i < f->npending; i++) {
        if (f->pending[i]) {
            f->late_rc = pb_http_respond(f->pending[i], 200, NULL, NULL, "x", 1);
            f->late_checked = 1;
            f->pending[i] = NULL;
        }
    }
    if (f->delayed) {
        pb_http_drop(f->delayed);
        f->delayed = NULL;
    }
    uv_close((uv_handle_t *)&f->guard, NULL);
    uv_close((uv_handle_t *)&f->delay_timer, NULL);
    uv_close((uv_handle_t *)&f->aux, NULL);
}

static void client_close(client *c);

static void fx_shutdown(fx *f)
{
    int i;
    if (f->shutting)
        return;
    f->shutting = 1;
    for (i = 0; i < f->ncl; i++)
        client_close(&f->cl[i]);
    pb_http_server_close(f->srv, on_srv_closed, f);
}

static void on_guard(uv_timer_t *t)
{
    fx *f = t->data;
    f->guard_fired = 1;
    fx_shutdown(f);
}

static void client_done(client *c)
{
    fx *f = c->f;
    c->eof = 1;
    c->t_end = uv_now(&f->loop);
    client_close(c);
    f->ndone++;
    if (f->hook_done)
        f->hook_done(f); /* after every client */
    else if (f->ndone == f->ncl)
        fx_shutdown(f);
}

static void client_close(client *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, NULL);
    uv_close((uv_handle_t *)&c->trickle, NULL);
}

static void on_client_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    client *c = h->data;
    (void)sz;
    *b = uv_buf_init(c->in + c->in_len, (unsigned)(sizeof(c->in) - c->in_len));
}

static void on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    client *c = s->data;
    resp r[8];
    int k;
    (void)b;
    if (c->closing)
        return;
    if (n < 0 || c->in_len + (size_t)n >= sizeof(c->in)) {
        client_done(c);
        return;
    }
    c->in_len += (size_t)n;
    k = parse_resps(c, r, 8);
    while (c->seen < k) {
        int idx = c->seen++;
        if (c->on_response)
            c->on_response(c, idx);
    }
}

static void on_client_written(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static void client_write(client *c, const char *data, size_t len)
{
    uv_write_t *w;
    uv_buf_t b;
    if (c->closing)
        return;
    w = malloc(sizeof(*w));
    assert_non_null(w);
    w->data = malloc(len);
    assert_non_null(w->data);
    memcpy(w->data, data, len);
    b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_client_written) != 0) {
        free(w->data);
        free(w);
    }
}

static void on_client_connect(uv_connect_t *r, int status)
{
    client *c = r->data;
    if (c->closing)
        return;
    if (status < 0) {
        client_done(c);
        return;
    }
    if (!c->no_read)
        uv_read_start((uv_stream_t *)&c->tcp, on_client_alloc, on_client_read);
    if (c->out_len)
        client_write(c, c->out, c->out_len);
}

static client *client_start(fx *f, const char *data)
{
    client *c = &f->cl[f->ncl++];
    struct sockaddr_in a;
    c->f = f;
    c->out = (char *)data;
    c->out_len = data ? strlen(data) : 0;
    uv_tcp_init(&f->loop, &c->tcp);
    uv_timer_init(&f->loop, &c->trickle);
    c->tcp.data = c->trickle.data = c->creq.data = c;
    c->t_start = uv_now(&f->loop);
    uv_ip4_addr("127.0.0.1", f->port, &a);
    assert_int_equal(uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&a, on_client_connect),
                     0);
    return c;
}

/* ---- handlers ------------------------------------------------------------------------ */

static void h_echo(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    (void)ctx;
    assert_int_equal(pb_http_respond(ex, 200, req->content_type, NULL, req->body, req->body_len),
                     PB_OK);
}

static void h_hello(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    (void)req;
    (void)ctx;
    pb_http_respond(ex, 200, "text/plain", NULL, "hello", 5);
}

static void on_delay(uv_timer_t *t)
{
    fx *f = t->data;
    pb_http_exchange *ex = f->delayed;
    f->delayed = NULL;
    /* the request stays valid until the answer: echo its path */
    pb_http_respond(ex, 200, "text/plain", "X-Delayed: 1\r\n", "late", 4);
}

static void h_delay(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    fx *f = ctx;
    (void)req;
    f->delayed = ex;
    uv_timer_start(&f->delay_timer, on_delay, 100, 0);
}

static void h_drop(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    (void)req;
    (void)ctx;
    pb_http_drop(ex);
}

static void h_pending(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    fx *f = ctx;
    (void)req;
    f->pending[f->npending++] = ex;
    if (f->hook_pending)
        f->hook_pending(f);
}

static void h_big(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    static char big[1024 * 1024];
    (void)req;
    (void)ctx;
    pb_http_respond(ex, 200, "text/plain", NULL, big, sizeof(big));
}

static const pb_http_route routes[] = {
    {"POST", "/echo", h_echo},  {"PUT", "/echo", h_echo},  {"GET", "/hello", h_hello},
    {"GET", "/delay", h_delay}, {"POST", "/drop", h_drop}, {"GET", "/pending", h_pending},
    {"GET", "/big", h_big},
};

static void handler(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    pb_http_route_dispatch(routes, sizeof(routes) / sizeof(routes[0]), ex, req, ctx);
}

static fx *fx_new(const pb_http_limits *lim)
{
    fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(pb_http_server_new(&f->srv, &f->loop, lim, handler, f), PB_OK);
    assert_int_equal(pb_http_server_listen(f->srv, "127.0.0.1", 0), PB_OK);
    f->port = pb_http_server_port(f->srv);
    assert_true(f->port > 0);
    uv_timer_init(&f->loop, &f->guard);
    uv_timer_init(&f->loop, &f->delay_timer);
    uv_timer_init(&f->loop, &f->aux);
    f->guard.data = f->delay_timer.data = f->aux.data = f;
    uv_timer_start(&f->guard, on_guard, GUARD_MS, 0);
    return f;
}

static void fx_run(fx *f)
{
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_false(f->guard_fired);
    assert_true(f->server_closed);
}

static void fx_free(fx *f)
{
    pb_http_server_free(f->srv);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_echo_connection_close(void **state)
{
    fx *f = fx_new(NULL);
    client *c;
    resp r[2];
    (void)state;
    c = client_start(f, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Content-Length: 10\r\nConnection: close\r\n\r\n{\"a\":\"bc\"}");
    fx_run(f);
    assert_true(c->eof);
    assert_int_equal(parse_resps(c, r, 2), 1);
    assert_int_equal(r[0].status, 200);
    assert_true(has_header(&r[0], "Connection: close\r\n"));
    assert_true(has_header(&r[0], "Content-Type: application/json\r\n"));
    assert_body(&r[0], "{\"a\":\"bc\"}");
    fx_free(f);
}

static void keepalive_second(client *c, int idx)
{
    if (idx == 0) {
        static const char req[] = "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n";
        client_write(c, req, sizeof(req) - 1);
    }
}

static void test_keepalive_two_requests(void **state)
{
    fx *f = fx_new(NULL);
    client *c;
    resp r[3];
    (void)state;
    c = client_start(f, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    c->on_response = keepalive_second;
    fx_run(f);
    assert_int_equal(parse_resps(c, r, 3), 2);
    assert_int_equal(r[0].status, 200);
    assert_true(has_header(&r[0], "Connection: keep-alive\r\n"));
    assert_body(&r[0], "hello");
    assert_true(has_header(&r[1], "Connection: close\r\n"));
    assert_body(&r[1], "hello");
    fx_free(f);
}

static void test_pipelined_in_order(void **state)
{
    fx *f = fx_new(NULL);
    client *c;
    resp r[4];
    (void)state;
    c = client_start(f,
                     "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\none"
                     "GET /delay HTTP/1.1\r\n\r\n"
                     "PUT /echo HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nthree");
    fx_run(f);
    assert_int_equal(parse_resps(c, r, 4), 3);
    assert_body(&r[0], "one");
    assert_body(&r[1], "late");
    assert_true(has_header(&r[1], "X-Delayed: 1\r\n"));
    assert_body(&r[2], "three");
    fx_free(f);
}

static void test_delayed_answer(void **state)
{
    fx *f = fx_new(NULL);
    client *c;
    resp r[2];
    (void)state;
    c = client_start(f, "GET /delay HTTP/1.1\r\nConnection: close\r\n\r\n");
    fx_run(f);
    assert_int_equal(parse_resps(c, r, 2), 1);
    assert_int_equal(r[0].status, 200);
    assert_body(&r[0], "late");
    assert_true(c->t_end - c->t_start >= 90);
    fx_free(f);
}

static void test_drop(void **state)
{
    fx *f = fx_new(NULL);
    client *c;
    (void)state;
    c = client_start(f, "POST /drop HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
    fx_run(f);
    assert_true(c->eof);
    assert_int_equal(c->in_len, 0);
    fx_free(f);
}

static void test_404_405(void **state)
{
    fx *f = fx_new(NULL);
    client *c;
    resp r[3];
    (void)state;
    c = client_start(f, "GET /nope HTTP/1.1\r\n\r\n"
                        "GET /echo?x=1 HTTP/1.1\r\nConnection: close\r\n\r\n");
    fx_run(f);
    assert_int_equal(parse_resps(c, r, 3), 2);
    assert_int_equal(r[0].status, 404);
    assert_true(has_header(&r[0], "Content-Type: application/json\r\n"));
    assert_body(&r[0], "{\"status\":\"error\",\"code\":\"404\",\"message\":\"Not found\"}");
    assert_int_equal(r[1].status, 405);
    assert_true(has_header(&r[1], "Allow: POST, PUT\r\n"));
    assert_body(&r[1],
                "{\"status\":\"error\",\"code\":\"405\",\"message\":\"Method not allowed\"}");
    fx_free(f);
}

/* One request that the server must refuse with `status` and then close. */
static void expect_refusal(const pb_http_limits *lim, const char *req, int status)
{
    fx *f = fx_new(lim);
    client *c;
    resp r[2];
    char code[32];
    c = client_start(f, req);
    fx_run(f);
    assert_true(c->eof);
    assert_int_equal(parse_resps(c, r, 2), 1);
    assert_int_equal(r[0].status, status);
    assert_true(has_header(&r[0], "Connection: close\r\n"));
    snprintf(code, sizeof(code), "\"code\":\"%d\"", status);
    assert_non_null(find(r[0].body, r[0].body_len, code));
    fx_free(f);
}

static void test_limits(void **state)
{
    pb_http_limits lim = {1024, 1000, 0, 0, 0, 0, 0};
    char big[2100];
    (void)state;
    memset(big, 0, sizeof(big));
    memcpy(big, "GET /hello HTTP/1.1\r\nX-Big: ", 28);
    memset(big + 28, 'a', 2000);
    memcpy(big + 2028, "\r\n\r\n", 4);
    expect_refusal(&lim, big, 431);
    expect_refusal(&lim, "POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413);
    /* up-front 413 while the client keeps sending the body: still answered */
    {
        char req[3000];
        int n = snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nContent-Length: 2000\r\n\r\n");
        memset(req + n, 'b', 2000);
        req[n + 2000] = '\0';
        expect_refusal(&lim, req, 413);
    }
    /* body bytes beyond the cap while reading (chunked: no length up front) */
    {
        char req[3000];
        int n = snprintf(req, sizeof(req),
                         "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "200\r\n");
        memset(req + n, 'c', 512);
        n += 512;
        n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n200\r\n");
        memset(req + n, 'c', 512);
        n += 512;
        memcpy(req + n, "\r\n0\r\n\r\n", 8);
        expect_refusal(&lim, req, 413);
    }
    expect_refusal(NULL, "HELLO WORLD\r\n\r\n", 400);
    expect_refusal(NULL, "GET /x HTTP/1.1\r\nNo colon here\r\n\r\n", 400);
}

static void test_chunked_accepted(void **state)
{
    fx *f = fx_new(NULL);
    client *c;
    resp r[2];
    (void)state;
    c = client_start(f, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close"
                        "\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n");
    fx_run(f);
    assert_int_equal(parse_resps(c, r, 2), 1);
    assert_body(&r[0], "abcd");
    fx_free(f);
}

static void on_trickle(uv_timer_t *t)
{
    client *c = t->data;
    client_write(c, "a", 1);
}

static void test_header_timeout(void **state)
{
    pb_http_limits lim = {0, 0, 200, 1000, 0, 0, 0};
    fx *f = fx_new(&lim);
    client *c;
    (void)state;
    /* slowloris: a byte every 50 ms keeps the idle timer happy, not the header deadline */
    c = client_start(f, "GET /hello HTTP/1.1\r\nX-Slow: ");
    uv_timer_start(&c->trickle, on_trickle, 50, 50);
    fx_run(f);
    assert_true(c->eof);
    assert_int_equal(c->in_len, 0);
    assert_true(c->t_end - c->t_start >= 150);
    assert_true(c->t_end - c->t_start < 900);
    fx_free(f);
}

static void test_idle_timeout(void **state)
{
    pb_http_limits lim = {0, 0, 5000, 200, 0, 0, 0};
    fx *f = fx_new(&lim);
    client *c1, *c2;
    resp r[2];
    (void)state;
    /* keep-alive idle after an answer, and a silent connection */
    c1 = client_start(f, "GET /hello HTTP/1.1\r\n\r\n");
    c2 = client_start(f, NULL);
    fx_run(f);
    assert_int_equal(parse_resps(c1, r, 2), 1);
    assert_body(&r[0], "hello");
    assert_true(c1->eof && c2->eof);
    assert_int_equal(c2->in_len, 0);
    assert_true(c1->t_end - c1->t_start >= 150 && c1->t_end - c1->t_start < 2000);
    assert_true(c2->t_end - c2->t_start >= 150 && c2->t_end - c2->t_start < 2000);
    fx_free(f);
}

static void cap_pending(fx *f)
{
    if (f->npending == 2)
        client_start(f, "GET /hello HTTP/1.1\r\n\r\n"); /* the third: over the cap */
}

static void cap_done(fx *f)
{
    int i;
    if (f->ndone == 1 && f->ncl == 3) {
        /* the third was cut; now answer the two pending ones */
        f->conns_after = pb_http_server_connections(f->srv);
        for (i = 0; i < 2; i++) {
            pb_http_respond(f->pending[i], 200, NULL, NULL, "ok", 2);
            f->pending[i] = NULL;
        }
        return;
    }
    if (f->ndone == 3)
        fx_shutdown(f);
}

static void test_connection_cap(void **state)
{
    pb_http_limits lim = {0, 0, 0, 0, 2, 0, 0};
    fx *f = fx_new(&lim);
    resp r[2];
    (void)state;
    f->hook_pending = cap_pending;
    client_start(f, "GET /pending HTTP/1.1\r\nConnection: close\r\n\r\n");
    client_start(f, "GET /pending HTTP/1.1\r\nConnection: close\r\n\r\n");
    f->hook_done = cap_done;
    fx_run(f);
    assert_int_equal(f->ncl, 3);
    assert_int_equal(f->conns_after, 2);
    /* over the cap, nobody idle: 503 with Retry-After, then closed */
    assert_int_equal(parse_resps(&f->cl[2], r, 2), 1);
    assert_int_equal(r[0].status, 503);
    assert_true(has_header(&r[0], "Retry-After: "));
    assert_int_equal(parse_resps(&f->cl[0], r, 2), 1);
    assert_body(&r[0], "ok");
    assert_int_equal(parse_resps(&f->cl[1], r, 2), 1);
    assert_body(&r[0], "ok");
    fx_free(f);
}

/* a body trickled a byte at a time: reads re-arm the idle timer, not the request deadline */
static void test_body_trickle_deadline(void **state)
{
    pb_http_limits lim = {0, 0, 200, 1000, 0, 300, 0};
    fx *f = fx_new(&lim);
    client *c;
    (void)state;
    c = client_start(f, "POST /echo HTTP/1.1\r\nContent-Length: 1000\r\n\r\n");
    uv_timer_start(&c->trickle, on_trickle, 50, 50);
    fx_run(f);
    assert_true(c->eof);
    assert_int_equal(c->in_len, 0);
    assert_true(c->t_end - c->t_start >= 250);
    assert_true(c->t_end - c->t_start < 2000);
    fx_free(f);
}

/* the same after a first keep-alive request: the second's deadline starts with its body */
static void test_body_trickle_deadline_keepalive(void **state)
{
    pb_http_limits lim = {0, 0, 200, 1000, 0, 300, 0};
    fx *f = fx_new(&lim);
    client *c;
    resp r[2];
    (void)state;
    c = client_start(f, "GET /hello HTTP/1.1\r\n\r\n"
                        "POST /echo HTTP/1.1\r\nContent-Length: 1000\r\n\r\n");
    uv_timer_start(&c->trickle, on_trickle, 50, 50);
    fx_run(f);
    assert_true(c->eof);
    assert_int_equal(parse_resps(c, r, 2), 1);
    assert_true(c->t_end - c->t_start < 2000);
    fx_free(f);
}

static void count_then_stop(uv_timer_t *t)
{
    fx *f = t->data;
    f->conns_after = pb_http_server_connections(f->srv);
    fx_shutdown(f);
}

/* pipelined requests whose answers are never read: the write deadline cuts the connection */
static void test_write_deadline(void **state)
{
    static const char one[] = "GET /big HTTP/1.1\r\n\r\n";
    static char reqs[32 * sizeof(one)];
    pb_http_limits lim = {0, 0, 0, 0, 0, 0, 300};
    fx *f = fx_new(&lim);
    client *c;
    int i;
    (void)state;
    for (i = 0; i < 32; i++)
        memcpy(reqs + (size_t)i * (sizeof(one) - 1), one, sizeof(one));
    f->cl[0].no_read = 1;
    c = client_start(f, reqs);
    (void)c;
    uv_timer_start(&f->aux, count_then_stop, 2500, 0);
    fx_run(f);
    assert_int_equal(f->conns_after, 0);
    fx_free(f);
}

/* at the cap, an idle keep-alive connection makes room for a new client */
static void evict_second(client *c, int idx)
{
    (void)idx;
    client_start(c->f, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
}

static void test_cap_evicts_idle(void **state)
{
    pb_http_limits lim = {0, 0, 0, 0, 1, 0, 0};
    fx *f = fx_new(&lim);
    client *a;
    resp r[2];
    (void)state;
    a = client_start(f, "GET /hello HTTP/1.1\r\n\r\n");
    a->on_response = evict_second;
    fx_run(f);
    assert_int_equal(f->ncl, 2);
    assert_true(a->eof); /* closed by the server long before its idle timeout (30 s) */
    assert_int_equal(parse_resps(&f->cl[1], r, 2), 1);
    assert_int_equal(r[0].status, 200);
    assert_body(&r[0], "hello");
    fx_free(f);
}

static void late_answer(uv_timer_t *t)
{
    fx *f = t->data;
    f->late_rc = pb_http_respond(f->pending[0], 200, "text/plain", NULL, "late", 4);
    f->late_checked = 1;
    f->pending[0] = NULL;
}

static void check_conns_then_stop(uv_timer_t *t)
{
    fx *f = t->data;
    f->conns_after = pb_http_server_connections(f->srv);
    fx_shutdown(f);
}

static void disconnect_pending(fx *f)
{
    client_close(&f->cl[0]); /* the client gives up while the answer is pending */
    uv_timer_start(&f->delay_timer, late_answer, 100, 0);
    uv_timer_start(&f->aux, check_conns_then_stop, 400, 0);
}

static void test_client_disconnect_while_pending(void **state)
{
    fx *f = fx_new(NULL);
    (void)state;
    f->hook_pending = disconnect_pending;
    client_start(f, "GET /pending HTTP/1.1\r\n\r\n");
    fx_run(f);
    assert_true(f->late_checked);
    assert_true(f->late_rc == PB_OK || f->late_rc == PB_EIO);
    assert_int_equal(f->conns_after, 0); /* the server noticed when answering */
    fx_free(f);
}

static void shutdown_pending(fx *f)
{
    fx_shutdown(f); /* the server closes under a pending exchange */
}

static void test_server_close_while_pending(void **state)
{
    fx *f = fx_new(NULL);
    (void)state;
    f->hook_pending = shutdown_pending;
    client_start(f, "GET /pending HTTP/1.1\r\n\r\n");
    fx_run(f);
    assert_true(f->late_checked);
    assert_int_equal(f->late_rc, PB_EIO); /* dead exchange: error, freed */
    fx_free(f);
}

static void test_api_misuse(void **state)
{
    uv_loop_t loop;
    pb_http_server *s = NULL;
    const pb_http_route *r;
    int status;
    char allow[8];
    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(pb_http_server_new(NULL, &loop, NULL, handler, NULL), PB_EINVAL);
    assert_int_equal(pb_http_server_new(&s, &loop, NULL, handler, NULL), PB_OK);
    assert_true(pb_http_server_port(s) < 0);
    assert_int_equal(pb_http_server_listen(s, "not-an-ip", 0), PB_EINVAL);
    assert_int_equal(pb_http_respond(NULL, 200, NULL, NULL, NULL, 0), PB_EINVAL);
    pb_http_server_close(s, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    pb_http_server_free(s);
    assert_int_equal(uv_loop_close(&loop), 0);
    /* Allow is truncated, never overflowed */
    assert_int_equal(
        pb_http_route_find(routes, 6, "DELETE", "/echo", &r, &status, allow, sizeof(allow)),
        PB_ENOTFOUND);
    assert_int_equal(status, 405);
    assert_string_equal(allow, "POST");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_connection_close),
        cmocka_unit_test(test_keepalive_two_requests),
        cmocka_unit_test(test_pipelined_in_order),
        cmocka_unit_test(test_delayed_answer),
        cmocka_unit_test(test_drop),
        cmocka_unit_test(test_404_405),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_chunked_accepted),
        cmocka_unit_test(test_header_timeout),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_connection_cap),
        cmocka_unit_test(test_body_trickle_deadline),
        cmocka_unit_test(test_body_trickle_deadline_keepalive),
        cmocka_unit_test(test_write_deadline),
        cmocka_unit_test(test_cap_evicts_idle),
        cmocka_unit_test(test_client_disconnect_while_pending),
        cmocka_unit_test(test_server_close_while_pending),
        cmocka_unit_test(test_api_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
