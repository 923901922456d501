/*
 * test_receiver.c - the callback receiver on a real pb_http_server at 127.0.0.1:0 with the mem
 * store, driven by a raw libuv TCP client in the same loop (one request per connection).
 * Every wait is bounded by a guard timer; every test ends with uv_loop_close() == 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <cjson/cJSON.h>

#include "batch/listen/receiver.h"
#include "batch/net/http_server.h"
#include "batch/store/store.h"
#include "batch/util/log.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/signature.h"
#include "formats/global.h"

#define GUARD_MS 10000
#define SECRET   "k3y-for-tests"

typedef struct {
    uv_loop_t loop;
    uv_timer_t guard;
    int guard_fired;
    pb_http_server *srv;
    pb_receiver *rcv;
    pb_store *st;
    uint64_t batch;
    int port;
    int closed;
} fx;

/* ---- a raw client: one request, read to EOF, the status code ---------------------- */

typedef struct {
    fx *f;
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    char *out;
    size_t out_len;
    char in[4096];
    size_t in_len;
    int done;
} client;

static void cl_closed(uv_handle_t *h)
{
    client *c = h->data;
    c->done = 1;
}

static void cl_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    client *c = h->data;
    (void)sz;
    if (c->in_len >= sizeof(c->in) - 1)
        c->in_len = 0; /* keep the head only: the status line is what we look at */
    *b = uv_buf_init(c->in + c->in_len, (unsigned)(sizeof(c->in) - 1 - c->in_len));
}

static void cl_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    client *c = s->data;
    (void)b;
    if (n > 0) {
        c->in_len += (size_t)n;
        c->in[c->in_len] = '\0';
        return;
    }
    if (n < 0 && !uv_is_closing((uv_handle_t *)s))
        uv_close((uv_handle_t *)s, cl_closed);
}

static void cl_written(uv_write_t *w, int status)
{
    (void)w;
    (void)status; /* a 413 may close before the whole body went: the answer is read anyway */
}

static void cl_connected(uv_connect_t *r, int status)
{
    client *c = r->data;
    uv_buf_t b = uv_buf_init(c->out, (unsigned)c->out_len);
    assert_int_equal(status, 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, cl_alloc, cl_read), 0);
    assert_int_equal(uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, cl_written), 0);
}

static void run_until(fx *f, const int *flag)
{
    while (!*flag && !f->guard_fired)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_false(f->guard_fired);
}

/* method + body -> HTTP status of the answer (0 when none) */
static int request(fx *f, const char *method, const char *body, size_t len)
{
    client c;
    struct sockaddr_in a;
    char head[256];
    int hl, status = 0;

    memset(&c, 0, sizeof(c));
    c.f = f;
    hl = snprintf(head, sizeof(head),
                  "%s /cb HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                  method, len);
    c.out_len = (size_t)hl + len;
    c.out = pb_malloc(c.out_len);
    assert_non_null(c.out);
    memcpy(c.out, head, (size_t)hl);
    if (len)
        memcpy(c.out + hl, body, len);
    assert_int_equal(uv_ip4_addr("127.0.0.1", f->port, &a), 0);
    assert_int_equal(uv_tcp_init(&f->loop, &c.tcp), 0);
    c.tcp.data = c.creq.data = &c;
    assert_int_equal(uv_tcp_connect(&c.creq, &c.tcp, (struct sockaddr *)&a, cl_connected), 0);
    run_until(f, &c.done);
    if (sscanf(c.in, "HTTP/1.1 %d", &status) != 1)
        status = 0;
    pb_free(c.out);
    return status;
}

static int post(fx *f, const char *body)
{
    return request(f, "POST", body, strlen(body));
}

/* ---- fixture ---------------------------------------------------------------------- */

static void on_guard(uv_timer_t *t)
{
    fx *f = t->data;
    f->guard_fired = 1;
    uv_stop(&f->loop);
}

/* the receiver may be swapped between requests (one per secret) */
static void trampoline(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    fx *f = ctx;
    pb_receiver_handle(ex, req, f->rcv);
}

static int64_t g_project_id; /* the receiver's --project-id (0: unchecked) */

static void new_receiver(fx *f, const char *secret)
{
    pb_receiver_opts o;
    memset(&o, 0, sizeof(o));
    o.project_id = g_project_id;
    o.store = f->st;
    o.secret = secret;
    o.secret_len = strlen(secret);
    assert_int_equal(pb_receiver_new(&f->rcv, &f->loop, &o), PB_OK);
}

static void rcv_closed(pb_receiver *r, void *arg)
{
    int *done = arg;
    (void)r;
    *done = 1;
}

static void drop_receiver(fx *f)
{
    int done = 0;
    pb_receiver_close(f->rcv, rcv_closed, &done);
    run_until(f, &done);
    pb_receiver_free(f->rcv);
    f->rcv = NULL;
}

static void add_row(fx *f, uint32_t row_no, const char *id, int64_t amount, const char *cur,
                    pb_row_state want)
{
    pb_store_row r, got[4];
    pb_row_update u;
    size_t n = 0, applied = 0;

    memset(&r, 0, sizeof(r));
    r.row_no = row_no;
    r.state = PB_ROW_QUEUED;
    snprintf(r.payment_id, sizeof(r.payment_id), "%s", id);
    snprintf(r.method, sizeof(r.method), "gcash");
    r.amount = amount;
    snprintf(r.currency, sizeof(r.currency), "%s", cur);
    snprintf(r.account_masked, sizeof(r.account_masked), "09******01");
    assert_int_equal(pb_store_rows_add(f->st, f->batch, &r, 1), 0);
    assert_int_equal(pb_store_claim(f->st, f->batch, 0, 4, got, &n), 0);
    assert_int_equal(n, 1);
    pb_store_rows_clear(got, n);
    if (want == PB_ROW_SENDING)
        return;
    memset(&u, 0, sizeof(u));
    u.row_no = row_no;
    u.from = PB_ROW_SENDING;
    u.to = want == PB_ROW_REVERSED ? PB_ROW_SUCCESS : want;
    assert_int_equal(pb_store_mark(f->st, f->batch, &u, 1, &applied), 0);
    assert_int_equal(applied, 1);
}

static pb_row_state state_of(fx *f, const char *id)
{
    pb_store_row r;
    pb_row_state s;
    assert_int_equal(pb_store_row_by_payment_id(f->st, id, strlen(id), &r), 0);
    s = r.state;
    pb_store_row_clear(&r);
    return s;
}

static int count_one(const pb_store_inbox_rec *rec, void *payload)
{
    int *n = payload;
    (void)rec;
    (*n)++;
    return 0;
}

static int inbox_count(fx *f)
{
    int n = 0;
    assert_int_equal(pb_store_inbox_each(f->st, count_one, &n), 0);
    return n;
}

static void fx_open(fx *f, const char *secret)
{
    pb_batch_key k;
    pb_batch_info bi;
    int created;

    memset(f, 0, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(uv_timer_init(&f->loop, &f->guard), 0);
    f->guard.data = f;
    assert_int_equal(uv_timer_start(&f->guard, on_guard, GUARD_MS, 0), 0);
    uv_unref((uv_handle_t *)&f->guard);
    assert_int_equal(pb_store_open(&f->st, "mem:"), 0);
    memset(&k, 0, sizeof(k));
    k.name = "b1";
    k.file_name = "payouts.csv";
    k.file_sha256 = "0000000000000000000000000000000000000000000000000000000000000001";
    k.delimiter = ',';
    assert_int_equal(pb_store_batch_begin(f->st, &k, &bi, &created), 0);
    f->batch = bi.id;
    pb_batch_info_clear(&bi);
    new_receiver(f, secret);
    assert_int_equal(pb_http_server_new(&f->srv, &f->loop, NULL, trampoline, f), 0);
    assert_int_equal(pb_http_server_listen(f->srv, "127.0.0.1", 0), 0);
    f->port = pb_http_server_port(f->srv);
    assert_true(f->port > 0);
}

static void srv_closed(pb_http_server *s, void *arg)
{
    fx *f = arg;
    (void)s;
    f->closed = 1;
}

static void fx_close(fx *f)
{
    if (f->rcv)
        drop_receiver(f);
    pb_http_server_close(f->srv, srv_closed, f);
    run_until(f, &f->closed);
    pb_http_server_free(f->srv);
    uv_close((uv_handle_t *)&f->guard, NULL);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    pb_store_free(f->st);
}

/* ---- signed bodies ---------------------------------------------------------------- */

/* inner = the members without the signature, e.g. "\"payment\":{...}"; signed with secret;
 * general != 0 puts the signature into general.signature. The result is pb_malloc'd. */
static char *signed_body(const char *inner, const char *secret, int general)
{
    char sig[PB_SIG_LEN + 1], *unsigned_body, *out;
    size_t n = strlen(inner) + 256;

    unsigned_body = pb_malloc(n);
    out = pb_malloc(n);
    assert_non_null(unsigned_body);
    assert_non_null(out);
    snprintf(unsigned_body, n, "{%s}", inner);
    assert_int_equal(
        pb_sig_sign_json(unsigned_body, strlen(unsigned_body), secret, strlen(secret), sig), 0);
    if (general)
        snprintf(out, n, "{%s,\"general\":{\"signature\":\"%s\"}}", inner, sig);
    else
        snprintf(out, n, "{%s,\"signature\":\"%s\"}", inner, sig);
    pb_free(unsigned_body);
    return out;
}

/* a payout callback body for id with status, amount token and currency */
static char *callback(const char *id, const char *status, const char *amount, const char *cur,
                      const char *op_type)
{
    char inner[1024];
    snprintf(inner, sizeof(inner),
             "\"project_id\":11,\"payment\":{\"id\":\"%s\",\"type\":\"payout\",\"status\":\"%s\","
             "\"sum\":{\"amount\":%s,\"currency\":\"%s\"}},\"operation\":{\"id\":77,\"type\":"
             "\"%s\",\"status\":\"%s\",\"code\":\"%s\",\"message\":\"m\",\"request_id\":\"r-1\"}",
             id, status, amount, cur, op_type, strcmp(status, "reversed") == 0 ? "success" : status,
             strcmp(status, "decline") == 0 ? "20101" : "0");
    return signed_body(inner, SECRET, 0);
}

static int post_cb(fx *f, const char *id, const char *status, const char *amount, const char *cur)
{
    char *b = callback(id, status, amount, cur, "payout");
    int st = post(f, b);
    pb_free(b);
    return st;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_answer_codes(void **state)
{
    fx f;
    char *big;
    pb_receiver_stats s;
    (void)state;
    fx_open(&f, SECRET);
    add_row(&f, 2, "p-2", 150000, "PHP", PB_ROW_SENDING);

    assert_int_equal(request(&f, "GET", "", 0), 405);
    assert_int_equal(request(&f, "PUT", "{}", 2), 405);
    assert_int_equal(post(&f, "not json"), 400);
    assert_int_equal(post(&f, "{\"payment\":{\"id\":\"p-2\",\"status\":\"success\"}"), 400);
    assert_int_equal(post(&f, "[1,2]"), 400);
    /* no signature / a wrong one: 400, nothing changes */
    assert_int_equal(post(&f, "{\"payment\":{\"id\":\"p-2\",\"status\":\"success\"}}"), 400);
    assert_int_equal(post(&f, "{\"payment\":{\"id\":\"p-2\",\"status\":\"success\"},"
                              "\"signature\":\"AAAA\"}"),
                     400);
    {
        char *b = callback("p-2", "success", "150000", "PHP", "payout");
        char *wrong =
            signed_body("\"payment\":{\"id\":\"p-2\",\"status\":\"success\"}", "other", 0);
        assert_int_equal(post(&f, wrong), 400);
        assert_int_equal(state_of(&f, "p-2"), PB_ROW_SENDING);
        assert_int_equal(inbox_count(&f), 0);
        /* too large: 413 from the server, before the receiver */
        big = pb_malloc(1024 * 1024 + 16);
        assert_non_null(big);
        memset(big, ' ', 1024 * 1024 + 16);
        big[0] = '{';
        big[1024 * 1024 + 15] = '}';
        assert_int_equal(request(&f, "POST", big, 1024 * 1024 + 16), 413);
        pb_free(big);
        /* valid: recorded, then 200 */
        assert_int_equal(post(&f, b), 200);
        assert_int_equal(state_of(&f, "p-2"), PB_ROW_SUCCESS);
        assert_int_equal(inbox_count(&f), 1);
        pb_free(b);
        pb_free(wrong);
    }
    /* unknown payment id: 200, kept in the inbox */
    assert_int_equal(post_cb(&f, "nobody", "success", "100", "PHP"), 200);
    assert_int_equal(inbox_count(&f), 2);
    /* the signature in general.signature is accepted as well */
    {
        char *g = signed_body("\"payment\":{\"id\":\"p-2\",\"status\":\"success\"}", SECRET, 1);
        assert_int_equal(post(&f, g), 200);
        pb_free(g);
    }
    pb_receiver_get_stats(f.rcv, &s);
    assert_int_equal(s.bad_method, 2);
    assert_int_equal(s.not_json, 3);
    assert_int_equal(s.bad_signature, 3);
    assert_int_equal(s.applied, 1);
    assert_int_equal(s.unknown, 1);
    assert_int_equal(s.same, 1);
    /* closing: new callbacks are answered 503 (with Retry-After) */
    {
        int done = 0;
        pb_receiver_close(f.rcv, rcv_closed, &done);
        assert_true(done); /* nothing in flight: at once */
        assert_int_equal(post_cb(&f, "p-2", "success", "150000", "PHP"), 503);
        pb_receiver_free(f.rcv);
        f.rcv = NULL;
    }
    fx_close(&f);
}

static void test_sequence(void **state)
{
    fx f;
    pb_receiver_stats s;
    (void)state;
    fx_open(&f, SECRET);
    add_row(&f, 2, "p-2", 1050, "PHP", PB_ROW_SENDING);
    add_row(&f, 3, "p-3", 1050, "PHP", PB_ROW_IN_DOUBT);
    add_row(&f, 4, "p-4", 1050, "PHP", PB_ROW_ACCEPTED);
    add_row(&f, 5, "p-5", 1050, "PHP", PB_ROW_ACCEPTED);

    assert_int_equal(post_cb(&f, "p-2", "processing", "1050", "PHP"), 200);
    assert_int_equal(state_of(&f, "p-2"), PB_ROW_ACCEPTED);
    assert_int_equal(post_cb(&f, "p-3", "processing", "1050", "PHP"), 200);
    assert_int_equal(state_of(&f, "p-3"), PB_ROW_ACCEPTED);
    assert_int_equal(post_cb(&f, "p-2", "success", "1050", "PHP"), 200);
    assert_int_equal(state_of(&f, "p-2"), PB_ROW_SUCCESS);
    /* duplicate and out of order: nothing changes */
    assert_int_equal(post_cb(&f, "p-2", "success", "1050", "PHP"), 200);
    assert_int_equal(post_cb(&f, "p-2", "processing", "1050", "PHP"), 200);
    assert_int_equal(state_of(&f, "p-2"), PB_ROW_SUCCESS);
    /* a decline cannot replace a success */
    assert_int_equal(post_cb(&f, "p-2", "decline", "1050", "PHP"), 200);
    assert_int_equal(state_of(&f, "p-2"), PB_ROW_SUCCESS);
    /* decline, then a late success: stays decline */
    assert_int_equal(post_cb(&f, "p-4", "decline", "1050", "PHP"), 200);
    assert_int_equal(post_cb(&f, "p-4", "success", "1050", "PHP"), 200);
    assert_int_equal(state_of(&f, "p-4"), PB_ROW_DECLINE);
    /* reversal after success */
    {
        char *b = callback("p-2", "success", "1050", "PHP", "reversal");
        assert_int_equal(post(&f, b), 200);
        pb_free(b);
    }
    assert_int_equal(state_of(&f, "p-2"), PB_ROW_REVERSED);
    /* reversed for an accepted row whose success callback was missed: success, reversed */
    assert_int_equal(post_cb(&f, "p-5", "reversed", "1050", "PHP"), 200);
    assert_int_equal(state_of(&f, "p-5"), PB_ROW_REVERSED);
    pb_receiver_get_stats(f.rcv, &s);
    assert_int_equal(s.applied, 6);
    assert_int_equal(s.same, 1);
    assert_int_equal(s.stale, 1);
    assert_int_equal(s.conflict, 2);
    assert_int_equal(inbox_count(&f), 10);
    fx_close(&f);
}

/* A callback signed with our key but naming another project id changes no row (inbox only,
 * 200); the same callback for our project applies. */
static void test_other_project(void **state)
{
    fx f;
    pb_receiver_stats s;
    (void)state;
    g_project_id = 12; /* callback() says project 11 */
    fx_open(&f, SECRET);
    add_row(&f, 2, "p-2", 1050, "PHP", PB_ROW_ACCEPTED);
    assert_int_equal(post_cb(&f, "p-2", "decline", "1050", "PHP"), 200);
    assert_int_equal(state_of(&f, "p-2"), PB_ROW_ACCEPTED);
    /* a project id that is not an integer is another project too */
    {
        char *b = signed_body("\"project_id\":\"eleven\",\"payment\":{\"id\":\"p-2\",\"status\":"
                              "\"success\",\"sum\":{\"amount\":1050,\"currency\":\"PHP\"}}",
                              SECRET, 0);
        assert_int_equal(post(&f, b), 200);
        pb_free(b);
    }
    assert_int_equal(state_of(&f, "p-2"), PB_ROW_ACCEPTED);
    pb_receiver_get_stats(f.rcv, &s);
    assert_int_equal(s.other_project, 2);
    assert_int_equal(s.applied, 0);
    assert_int_equal(inbox_count(&f), 2);
    fx_close(&f);
    /* ours (11, and "11" as the SDK fixtures write it): applied */
    g_project_id = 11;
    fx_open(&f, SECRET);
    add_row(&f, 2, "p-2", 1050, "PHP", PB_ROW_ACCEPTED);
    add_row(&f, 3, "p-3", 1050, "PHP", PB_ROW_ACCEPTED);
    assert_int_equal(post_cb(&f, "p-2", "decline", "1050", "PHP"), 200);
    assert_int_equal(state_of(&f, "p-2"), PB_ROW_DECLINE);
    {
        char *b = signed_body("\"project_id\":\"11\",\"payment\":{\"id\":\"p-3\",\"status\":"
                              "\"success\",\"sum\":{\"amount\":1050,\"currency\":\"PHP\"}}",
                              SECRET, 0);
        assert_int_equal(post(&f, b), 200);
        pb_free(b);
    }
    assert_int_equal(state_of(&f, "p-3"), PB_ROW_SUCCESS);
    pb_receiver_get_stats(f.rcv, &s);
    assert_int_equal(s.other_project, 0);
    assert_int_equal(s.applied, 2);
    fx_close(&f);
    g_project_id = 0;
}

/* Amounts are read from the number token: nothing goes through a double. */
static void test_amount_tokens(void **state)
{
    fx f;
    pb_receiver_stats s;
    (void)state;
    fx_open(&f, SECRET);
    add_row(&f, 2, "p-2", 1050, "PHP", PB_ROW_ACCEPTED);
    add_row(&f, 3, "p-3", 1, "PHP", PB_ROW_ACCEPTED);
    add_row(&f, 4, "p-4", INT64_C(9007199254740993), "PHP", PB_ROW_ACCEPTED);
    add_row(&f, 5, "p-5", INT64_C(9007199254740992), "PHP", PB_ROW_ACCEPTED);

    /* 10.50 is not 1050 minor units; 1.000 is not 1 */
    assert_int_equal(post_cb(&f, "p-2", "success", "10.50", "PHP"), 200);
    assert_int_equal(post_cb(&f, "p-2", "success", "1050.0", "PHP"), 200);
    assert_int_equal(post_cb(&f, "p-2", "success", "1.05e3", "PHP"), 200);
    assert_int_equal(post_cb(&f, "p-3", "success", "1.000", "PHP"), 200);
    assert_int_equal(post_cb(&f, "p-2", "success", "{}", "PHP"), 200);
    assert_int_equal(post_cb(&f, "p-2", "success", "[]", "PHP"), 200);
    assert_int_equal(post_cb(&f, "p-2", "success", "\"1050\"", "PHP"), 200);
    assert_int_equal(post_cb(&f, "p-2", "success", "null", "PHP"), 200);
    assert_int_equal(post_cb(&f, "p-2", "success", "99999999999999999999", "PHP"), 200);
    assert_int_equal(post_cb(&f, "p-2", "success", "1050", "MYR"), 200);
    /* above 2^53: exact; a double would make ...992 and ...993 equal */
    assert_int_equal(post_cb(&f, "p-5", "success", "9007199254740993", "PHP"), 200);
    assert_int_equal(state_of(&f, "p-2"), PB_ROW_ACCEPTED);
    assert_int_equal(state_of(&f, "p-3"), PB_ROW_ACCEPTED);
    assert_int_equal(state_of(&f, "p-5"), PB_ROW_ACCEPTED);
    pb_receiver_get_stats(f.rcv, &s);
    assert_int_equal(s.mismatch, 11);
    assert_int_equal(s.applied, 0);
    assert_int_equal(inbox_count(&f), 11); /* every one kept */
    assert_int_equal(post_cb(&f, "p-4", "success", "9007199254740993", "PHP"), 200);
    assert_int_equal(state_of(&f, "p-4"), PB_ROW_SUCCESS);
    assert_int_equal(post_cb(&f, "p-2", "success", "1050", "PHP"), 200);
    assert_int_equal(state_of(&f, "p-2"), PB_ROW_SUCCESS);
    fx_close(&f);
}

/* A valid signature copied from another callback does not verify: 400, no change. */
static void test_copied_signature(void **state)
{
    fx f;
    char *ok_success, *ok_decline, *forged;
    const char *sig;
    (void)state;
    fx_open(&f, SECRET);
    add_row(&f, 2, "p-2", 1050, "PHP", PB_ROW_ACCEPTED);
    add_row(&f, 3, "p-3", 1050, "PHP", PB_ROW_ACCEPTED);

    ok_success = callback("p-2", "success", "1050", "PHP", "payout");
    assert_int_equal(post(&f, ok_success), 200);
    assert_int_equal(state_of(&f, "p-2"), PB_ROW_SUCCESS);
    /* a decline for p-2 carrying the success's signature */
    ok_decline = callback("p-2", "decline", "1050", "PHP", "payout");
    sig = strstr(ok_success, "\"signature\":\"");
    assert_non_null(sig);
    forged = pb_strdup(ok_decline);
    assert_non_null(forged);
    memcpy(strstr(forged, "\"signature\":\""), sig, strlen(sig));
    assert_int_equal(post(&f, forged), 400);
    assert_int_equal(state_of(&f, "p-2"), PB_ROW_SUCCESS);
    pb_free(forged);
    /* and the other way round: p-3 declined, a success with a decline's signature */
    pb_free(ok_decline);
    ok_decline = callback("p-3", "decline", "1050", "PHP", "payout");
    assert_int_equal(post(&f, ok_decline), 200);
    assert_int_equal(state_of(&f, "p-3"), PB_ROW_DECLINE);
    pb_free(ok_success);
    ok_success = callback("p-3", "success", "1050", "PHP", "payout");
    forged = pb_strdup(ok_success);
    assert_non_null(forged);
    sig = strstr(ok_decline, "\"signature\":\"");
    memcpy(strstr(forged, "\"signature\":\""), sig, strlen(sig));
    assert_int_equal(post(&f, forged), 400);
    assert_int_equal(state_of(&f, "p-3"), PB_ROW_DECLINE);
    assert_int_equal(inbox_count(&f), 2);
    pb_free(forged);
    pb_free(ok_success);
    pb_free(ok_decline);
    fx_close(&f);
}

static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *text;
    long n;
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    text = pb_malloc((size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    text[n] = '\0';
    return text;
}

/* Every callback case of the published vectors is accepted (200) or refused (400). */
static void test_vector_cases(void **state)
{
    fx f;
    char *text = read_file(PB_TEST_DATA "/signature-vectors.json");
    cJSON *all = cJSON_Parse(text), *v;
    const cJSON *arr;
    int ran = 0, accepted = 0;
    (void)state;
    assert_non_null(all);
    arr = cJSON_GetObjectItemCaseSensitive(all, "callback_cases");
    fx_open(&f, SECRET);
    cJSON_ArrayForEach(v, arr)
    {
        const cJSON *body = cJSON_GetObjectItemCaseSensitive(v, "body");
        const cJSON *secret = cJSON_GetObjectItemCaseSensitive(v, "secret");
        const cJSON *expect = cJSON_GetObjectItemCaseSensitive(v, "expect");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(v, "id");
        int want = strcmp(expect->valuestring, "accept") == 0, got, before = inbox_count(&f);
        char *json = NULL;
        const char *b;

        assert_true(cJSON_IsString(secret));
        if (cJSON_IsString(body)) {
            b = body->valuestring;
        } else {
            json = cJSON_PrintUnformatted(body);
            assert_non_null(json);
            b = json;
        }
        drop_receiver(&f);
        new_receiver(&f, secret->valuestring);
        got = post(&f, b);
        if (got != (want ? 200 : 400))
            fail_msg("%s: got HTTP %d", id->valuestring, got);
        /* accepted ones are kept (their payment ids are unknown here); refused ones not */
        assert_int_equal(inbox_count(&f), before + (want ? 1 : 0));
        accepted += want;
        ran++;
        cJSON_free(json);
    }
    assert_int_equal(ran, 32);
    assert_int_equal(accepted, 20);
    fx_close(&f);
    cJSON_Delete(all);
    pb_free(text);
}

/* The receiver opens its own store from a URI and records there. */
static void test_own_store(void **state)
{
    uv_loop_t loop;
    pb_receiver *r = NULL;
    pb_receiver_opts o;
    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    memset(&o, 0, sizeof(o));
    o.store_uri = "mem:";
    o.secret = SECRET;
    o.secret_len = strlen(SECRET);
    assert_int_equal(pb_receiver_new(&r, &loop, &o), 0);
    assert_int_equal(pb_receiver_pending(r), 0);
    pb_receiver_close(r, NULL, NULL);
    pb_receiver_free(r);
    /* both a URI and a handle, or neither: refused */
    o.store = (pb_store *)&o;
    assert_int_equal(pb_receiver_new(&r, &loop, &o), PB_EINVAL);
    assert_null(r);
    o.store = NULL;
    o.store_uri = NULL;
    assert_int_equal(pb_receiver_new(&r, &loop, &o), PB_EINVAL);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer_codes),     cmocka_unit_test(test_sequence),
        cmocka_unit_test(test_other_project),    cmocka_unit_test(test_amount_tokens),
        cmocka_unit_test(test_copied_signature), cmocka_unit_test(test_vector_cases),
        cmocka_unit_test(test_own_store),
    };
    pb_global_init();
    signal(SIGPIPE, SIG_IGN);
    pb_log_setup(stderr, PB_LOG_TEXT, PB_LOG_ERROR); /* the refusals are expected here */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
