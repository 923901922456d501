/*
 * test_http_client.c - the curl-multi client against the project's own HTTP server on
 * 127.0.0.1:0 in the same loop. Every loop is bounded by a guard timer; every test ends with
 * all handles closed and uv_loop_close() == 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "batch/net/http_client.h"
#include "batch/net/http_server.h"
#include "core/alloc.h"
#include "core/errors.h"

#define GUARD_MS 8000
#define MAXR     80

enum { ANSWER, HOLD, DROP, FIRST_OK_THEN_DROP };

typedef struct {
    int calls;
    pb_http_outcome outcome;
    long status;
    int64_t retry_after_ms;
    int curl_code;
    int reused;
    char body[128];
    size_t body_len;
    char error[512];
} rec;

typedef struct fx {
    uv_loop_t loop;
    uv_timer_t guard;
    uv_timer_t aux;
    pb_http_server *srv;
    pb_http_client *cli;
    pb_http_client_opts opts;
    int port;
    int guard_fired;
    int shutting;
    int cli_closed, srv_closed;
    /* server behaviour */
    int mode;
    int status;
    const char *extra;
    const char *body;
    size_t body_len;
    pb_http_exchange *held[MAXR];
    int nheld;
    int srv_requests;
    char srv_body[128];
    char srv_ctype[64];
    void (*on_held)(struct fx *);
    /* client results */
    rec r[MAXR];
    int nres;
    int expect;
    pb_http_client_counters final; /* read in the close callback */
    void (*on_result)(struct fx *, int idx);
} fx;

typedef struct {
    fx *f;
    int idx;
} slot;

static slot slots[MAXR];

/* ---- fixture ------------------------------------------------------------------------- */

static void on_cli_closed(pb_http_client *c, void *arg)
{
    fx *f = arg;
    f->cli_closed = 1;
    pb_http_client_counters_get(c, &f->final);
    pb_http_client_free(c);
    f->cli = NULL;
}

static void on_srv_closed(pb_http_server *s, void *arg)
{
    fx *f = arg;
    f->srv_closed = 1;
    pb_http_server_free(s);
    f->srv = NULL;
}

static void fx_shutdown(fx *f)
{
    int i;
    if (f->shutting)
        return;
    f->shutting = 1;
    for (i = 0; i < f->nheld; i++)
        if (f->held[i]) {
            pb_http_drop(f->held[i]);
            f->held[i] = NULL;
        }
    if (f->cli)
        pb_http_client_close(f->cli, on_cli_closed, f);
    if (f->srv)
        pb_http_server_close(f->srv, on_srv_closed, f);
    uv_close((uv_handle_t *)&f->guard, NULL);
    uv_close((uv_handle_t *)&f->aux, NULL);
}

static void on_guard(uv_timer_t *t)
{
    fx *f = t->data;
    f->guard_fired = 1;
    fx_shutdown(f);
}

static void handler(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    fx *f = ctx;
    const char *ct = pb_http_request_header(req, "Content-Type");

    f->srv_requests++;
    snprintf(f->srv_body, sizeof(f->srv_body), "%s", req->body);
    snprintf(f->srv_ctype, sizeof(f->srv_ctype), "%s", ct ? ct : "");
    if (f->mode == HOLD && f->nheld < MAXR) {
        f->held[f->nheld++] = ex;
        if (f->on_held)
            f->on_held(f);
        return;
    }
    if (f->mode == DROP || (f->mode == FIRST_OK_THEN_DROP && f->srv_requests > 1)) {
        pb_http_drop(ex);
        return;
    }
    /* PB_ENOMEM only under the allocation-failure test: the client sees a dropped connection */
    (void)pb_http_respond(ex, f->status, "application/json", f->extra, f->body, f->body_len);
}

static void fx_init(fx *f, int with_server)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(uv_timer_init(&f->loop, &f->guard), 0);
    assert_int_equal(uv_timer_init(&f->loop, &f->aux), 0);
    f->guard.data = f->aux.data = f;
    assert_int_equal(uv_timer_start(&f->guard, on_guard, GUARD_MS, 0), 0);
    f->status = 200;
    f->body = "{\"ok\":1}";
    f->body_len = strlen(f->body);
    if (with_server) {
        assert_int_equal(pb_http_server_new(&f->srv, &f->loop, NULL, handler, f), PB_OK);
        assert_int_equal(pb_http_server_listen(f->srv, "127.0.0.1", 0), PB_OK);
        f->port = pb_http_server_port(f->srv);
        assert_true(f->port > 0);
    }
}

static void fx_client(fx *f)
{
    assert_int_equal(pb_http_client_new(&f->cli, &f->loop, &f->opts), PB_OK);
}

/* Run to the end, then check that everything closed. */
static void fx_run(fx *f)
{
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_false(f->guard_fired);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void on_result(const pb_http_result *res, void *payload)
{
    slot *s = payload;
    fx *f = s->f;
    rec *r = &f->r[s->idx];

    r->calls++;
    r->outcome = res->outcome;
    r->status = res->status;
    r->retry_after_ms = res->retry_after_ms;
    r->curl_code = res->curl_code;
    r->reused = res->reused;
    assert_non_null(res->body);
    assert_non_null(res->error);
    r->body_len = res->body_len;
    snprintf(r->body, sizeof(r->body), "%s", res->body);
    snprintf(r->error, sizeof(r->error), "%s", res->error);
    f->nres++;
    if (f->on_result)
        f->on_result(f, s->idx);
    if (f->nres == f->expect)
        fx_shutdown(f);
}

static int post(fx *f, int idx, const char *url, long timeout_ms)
{
    static const char *const hdrs[] = {"Content-Type: application/json", NULL};
    static const char body[] = "{\"general\":{\"payment_id\":\"p-1\"}}";
    slots[idx].f = f;
    slots[idx].idx = idx;
    return pb_http_client_post(f->cli, url, hdrs, body, sizeof(body) - 1, timeout_ms, on_result,
                               &slots[idx]);
}

static void url_of(const fx *f, char *out, size_t n, const char *path)
{
    snprintf(out, n, "http://127.0.0.1:%d%s", f->port, path);
}

/* One request against the server's current behaviour. */
static void one(fx *f, long timeout_ms)
{
    char url[128];
    fx_client(f);
    url_of(f, url, sizeof(url), "/v2/payment?token=secret");
    f->expect = 1;
    assert_int_equal(post(f, 0, url, timeout_ms), PB_OK);
    fx_run(f);
    assert_int_equal(f->r[0].calls, 1);
}

/* ---- answers ------------------------------------------------------------------------- */

static void test_200_with_body(void **state)
{
    fx f;
    (void)state;
    fx_init(&f, 1);
    one(&f, 2000);
    assert_int_equal(f.r[0].outcome, PB_HTTP_ANSWERED);
    assert_int_equal(f.r[0].status, 200);
    assert_string_equal(f.r[0].body, "{\"ok\":1}");
    assert_int_equal(f.r[0].body_len, 8);
    assert_int_equal(f.r[0].retry_after_ms, -1);
    assert_int_equal(f.r[0].curl_code, 0);
    assert_string_equal(f.r[0].error, "");
    assert_string_equal(f.srv_body, "{\"general\":{\"payment_id\":\"p-1\"}}");
    assert_string_equal(f.srv_ctype, "application/json");
}

static void test_4xx(void **state)
{
    fx f;
    (void)state;
    fx_init(&f, 1);
    f.status = 404;
    f.body = "{\"code\":\"3061\"}";
    f.body_len = strlen(f.body);
    one(&f, 2000);
    assert_int_equal(f.r[0].outcome, PB_HTTP_ANSWERED);
    assert_int_equal(f.r[0].status, 404);
    assert_string_equal(f.r[0].body, "{\"code\":\"3061\"}");
}

static void test_500(void **state)
{
    fx f;
    (void)state;
    fx_init(&f, 1);
    f.status = 500;
    one(&f, 2000);
    assert_int_equal(f.r[0].outcome, PB_HTTP_ANSWERED);
    assert_int_equal(f.r[0].status, 500);
}

static void test_429_retry_after_seconds(void **state)
{
    fx f;
    (void)state;
    fx_init(&f, 1);
    f.status = 429;
    f.extra = "Retry-After: 7\r\n";
    one(&f, 2000);
    assert_int_equal(f.r[0].outcome, PB_HTTP_ANSWERED);
    assert_int_equal(f.r[0].status, 429);
    assert_int_equal(f.r[0].retry_after_ms, 7000);
}

static int64_t pinned_clock(void *arg)
{
    (void)arg;
    return 1445412480000LL - 5000; /* 5 s before Wed, 21 Oct 2015 07:28:00 GMT */
}

static void test_429_retry_after_date(void **state)
{
    fx f;
    (void)state;
    fx_init(&f, 1);
    f.opts.now_unix_ms = pinned_clock;
    f.status = 429;
    f.extra = "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n";
    one(&f, 2000);
    assert_int_equal(f.r[0].outcome, PB_HTTP_ANSWERED);
    assert_int_equal(f.r[0].retry_after_ms, 5000);
}

static void test_retry_after_parse(void **state)
{
    int64_t ms = 0, now = 1445412480000LL;
    (void)state;
    assert_int_equal(pb_http_retry_after_parse("120", now, &ms), PB_OK);
    assert_int_equal(ms, 120000);
    assert_int_equal(pb_http_retry_after_parse("  0 \t", now, &ms), PB_OK);
    assert_int_equal(ms, 0);
    assert_int_equal(pb_http_retry_after_parse("99999999999999999999999", now, &ms), PB_OK);
    assert_int_equal(ms, 86400000);
    assert_int_equal(pb_http_retry_after_parse("Wed, 21 Oct 2015 07:28:10 GMT", now, &ms), PB_OK);
    assert_int_equal(ms, 10000);
    assert_int_equal(pb_http_retry_after_parse("Wednesday, 21-Oct-15 07:28:03 GMT", now, &ms),
                     PB_OK);
    assert_int_equal(ms, 3000);
    assert_int_equal(pb_http_retry_after_parse("Wed Oct 21 07:28:02 2015", now, &ms), PB_OK);
    assert_int_equal(ms, 2000);
    assert_int_equal(pb_http_retry_after_parse("Tue, 20 Oct 2015 07:28:00 GMT", now, &ms), PB_OK);
    assert_int_equal(ms, 0); /* past */
    assert_int_equal(pb_http_retry_after_parse("", now, &ms), PB_EPARSE);
    assert_int_equal(pb_http_retry_after_parse("-5", now, &ms), PB_EPARSE);
    assert_int_equal(pb_http_retry_after_parse("1.5", now, &ms), PB_EPARSE);
    assert_int_equal(pb_http_retry_after_parse("soon", now, &ms), PB_EPARSE);
    assert_int_equal(pb_http_retry_after_parse(NULL, now, &ms), PB_EINVAL);
}

/* ---- failures ------------------------------------------------------------------------ */

static void test_refused_is_not_sent(void **state)
{
    fx f;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    char url[128];
    int fd;
    (void)state;
    /* a bound socket that does not listen: connect is refused, and the port stays ours */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    fx_init(&f, 0);
    f.port = ntohs(sa.sin_port);
    fx_client(&f);
    snprintf(url, sizeof(url), "http://user:pw@127.0.0.1:%d/v2/x?token=secret", f.port);
    f.expect = 1;
    assert_int_equal(post(&f, 0, url, 2000), PB_OK);
    fx_run(&f);
    close(fd);
    assert_int_equal(f.r[0].calls, 1);
    assert_int_equal(f.r[0].outcome, PB_HTTP_NOT_SENT);
    assert_int_equal(f.r[0].curl_code, CURLE_COULDNT_CONNECT);
    snprintf(url, sizeof(url), "(POST http://127.0.0.1:%d/v2/x)", f.port);
    assert_non_null(strstr(f.r[0].error, url));
    assert_null(strstr(f.r[0].error, "secret"));
    assert_null(strstr(f.r[0].error, "pw"));
}

static void test_never_answers_is_no_answer(void **state)
{
    fx f;
    (void)state;
    fx_init(&f, 1);
    f.mode = HOLD;
    one(&f, 300);
    assert_int_equal(f.srv_requests, 1);
    assert_int_equal(f.r[0].outcome, PB_HTTP_NO_ANSWER);
    assert_int_equal(f.r[0].curl_code, CURLE_OPERATION_TIMEDOUT);
}

static void test_closed_after_request_is_no_answer(void **state)
{
    fx f;
    (void)state;
    fx_init(&f, 1);
    f.mode = DROP;
    one(&f, 2000);
    assert_int_equal(f.srv_requests, 1);
    assert_int_equal(f.r[0].outcome, PB_HTTP_NO_ANSWER);
    assert_int_equal(f.r[0].curl_code, CURLE_GOT_NOTHING);
}

static void test_body_over_cap(void **state)
{
    fx f;
    static char big[4000];
    (void)state;
    memset(big, 'x', sizeof(big));
    fx_init(&f, 1);
    f.opts.max_body_bytes = 1024;
    f.body = big;
    f.body_len = sizeof(big);
    one(&f, 2000);
    /* the request went and an answer started, but it is not one we can act on: in doubt */
    assert_int_equal(f.r[0].outcome, PB_HTTP_NO_ANSWER);
    assert_int_equal(f.r[0].status, 200);
    assert_int_equal(f.r[0].body_len, 0);
    assert_non_null(strstr(f.r[0].error, "over 1024 bytes"));
}

/* With one connection per host, the second request waits inside curl behind a request the
 * server holds; both time out: the first was sent (in doubt), the second never left. */
static void test_timeout_while_queued_is_not_sent(void **state)
{
    fx f;
    char url[128];
    (void)state;
    fx_init(&f, 1);
    f.mode = HOLD;
    f.opts.max_host_connections = 1;
    fx_client(&f);
    url_of(&f, url, sizeof(url), "/v2/payment");
    f.expect = 2;
    assert_int_equal(post(&f, 0, url, 300), PB_OK);
    assert_int_equal(post(&f, 1, url, 300), PB_OK);
    fx_run(&f);
    assert_int_equal(f.srv_requests, 1);
    assert_int_equal(f.r[0].curl_code, CURLE_OPERATION_TIMEDOUT);
    assert_int_equal(f.r[1].curl_code, CURLE_OPERATION_TIMEDOUT);
    assert_int_equal(f.r[0].outcome + f.r[1].outcome, PB_HTTP_NO_ANSWER + PB_HTTP_NOT_SENT);
    assert_int_not_equal(f.r[0].outcome, f.r[1].outcome);
}

/* After an answered request on a keep-alive connection, the server drops the next one: curl
 * 7.88 re-sends it on a fresh connection by itself, so the server sees it twice. */
static void post_second(fx *f, int idx)
{
    char url[128];
    if (idx != 0)
        return;
    url_of(f, url, sizeof(url), "/v2/payment");
    assert_int_equal(post(f, 1, url, 2000), PB_OK);
}

static void test_silent_resend_on_reused_connection(void **state)
{
    fx f;
    char url[128];
    (void)state;
    fx_init(&f, 1);
    f.mode = FIRST_OK_THEN_DROP;
    f.on_result = post_second;
    fx_client(&f);
    url_of(&f, url, sizeof(url), "/v2/payment");
    f.expect = 2;
    assert_int_equal(post(&f, 0, url, 2000), PB_OK);
    fx_run(&f);
    assert_int_equal(f.r[0].outcome, PB_HTTP_ANSWERED);
    assert_int_equal(f.r[1].calls, 1);
    assert_int_equal(f.r[1].outcome, PB_HTTP_NO_ANSWER);
    assert_int_equal(f.srv_requests, 3); /* one post, two copies on the wire */
}

/* ---- concurrency and lifecycle ------------------------------------------------------- */

static void test_64_concurrent_reuse(void **state)
{
    fx f;
    pb_http_client_counters n;
    char url[128];
    int i;
    (void)state;
    fx_init(&f, 1);
    f.opts.max_host_connections = 8;
    fx_client(&f);
    url_of(&f, url, sizeof(url), "/v2/payment");
    f.expect = 64;
    for (i = 0; i < 64; i++)
        assert_int_equal(post(&f, i, url, 5000), PB_OK);
    pb_http_client_counters_get(f.cli, &n);
    assert_int_equal(n.requests, 64);
    assert_int_equal(n.in_flight, 64);
    fx_run(&f);
    n = f.final;
    for (i = 0; i < 64; i++) {
        assert_int_equal(f.r[i].calls, 1);
        assert_int_equal(f.r[i].outcome, PB_HTTP_ANSWERED);
        assert_int_equal(f.r[i].status, 200);
    }
    assert_int_equal(n.completed, 64);
    assert_int_equal(n.answered, 64);
    assert_int_equal(n.in_flight, 0);
    assert_true(n.new_connections <= 8);
    assert_true(n.reused >= 56);
}

static void close_client_later(uv_timer_t *t)
{
    fx *f = t->data;
    pb_http_client_close(f->cli, on_cli_closed, f);
}

static void held_first(fx *f)
{
    if (f->nheld == 1)
        assert_int_equal(uv_timer_start(&f->aux, close_client_later, 50, 0), 0);
}

static void test_close_with_requests_in_flight(void **state)
{
    fx f;
    char url[128];
    int i;
    (void)state;
    fx_init(&f, 1);
    f.mode = HOLD;
    f.on_held = held_first;
    f.opts.max_host_connections = 1; /* the 2nd and 3rd wait inside curl: nothing sent */
    fx_client(&f);
    url_of(&f, url, sizeof(url), "/v2/payment");
    f.expect = 3;
    for (i = 0; i < 3; i++)
        assert_int_equal(post(&f, i, url, 5000), PB_OK);
    fx_run(&f);
    assert_true(f.cli_closed);
    assert_int_equal(f.srv_requests, 1);
    for (i = 0; i < 3; i++)
        assert_int_equal(f.r[i].calls, 1);
    /* the list is newest first, but whichever got the connection was sent */
    {
        int sent = 0, queued = 0;
        for (i = 0; i < 3; i++) {
            sent += f.r[i].outcome == PB_HTTP_NO_ANSWER;
            queued += f.r[i].outcome == PB_HTTP_NOT_SENT;
            assert_int_equal(f.r[i].curl_code, -1);
            assert_non_null(strstr(f.r[i].error, "cancelled"));
        }
        assert_int_equal(sent, 1);
        assert_int_equal(queued, 2);
    }
}

/* close from inside a request callback, with another request still held by the server */
static void close_in_callback(fx *f, int idx)
{
    char url[128];
    (void)idx;
    pb_http_client_close(f->cli, on_cli_closed, f);
    url_of(f, url, sizeof(url), "/v2/payment");
    assert_int_equal(post(f, 5, url, 1000), PB_EINVAL); /* closing: refused */
}

static void test_close_from_callback(void **state)
{
    fx f;
    char url[128];
    (void)state;
    fx_init(&f, 1);
    f.mode = HOLD;
    f.on_result = close_in_callback;
    fx_client(&f);
    url_of(&f, url, sizeof(url), "/v2/payment");
    f.expect = 2;
    assert_int_equal(post(&f, 0, url, 5000), PB_OK);
    assert_int_equal(post(&f, 1, url, 300), PB_OK); /* times out first: its callback closes */
    fx_run(&f);
    assert_int_equal(f.r[0].calls, 1);
    assert_int_equal(f.r[1].calls, 1);
    assert_int_equal(f.r[1].outcome, PB_HTTP_NO_ANSWER);
    assert_int_equal(f.r[1].curl_code, CURLE_OPERATION_TIMEDOUT);
    assert_int_equal(f.r[0].outcome, PB_HTTP_NO_ANSWER);
    assert_int_equal(f.r[0].curl_code, -1);
}

static void test_alloc_failures(void **state)
{
    long n;
    int ok = 0;
    (void)state;
    for (n = 0; n < 200 && !ok; n++) {
        fx f;
        char url[128];
        int rc;
        fx_init(&f, 1);
        pb_alloc_fail_after(n);
        rc = pb_http_client_new(&f.cli, &f.loop, NULL);
        if (rc == PB_OK) {
            url_of(&f, url, sizeof(url), "/v2/payment");
            f.expect = 1;
            rc = post(&f, 0, url, 300);
            if (rc != PB_OK)
                fx_shutdown(&f); /* no callback will come */
        } else {
            assert_int_equal(rc, PB_ENOMEM);
            fx_shutdown(&f);
        }
        if (rc != PB_OK)
            assert_int_equal(rc, PB_ENOMEM);
        uv_run(&f.loop, UV_RUN_DEFAULT);
        pb_alloc_fail_after(-1);
        assert_false(f.guard_fired);
        assert_int_equal(uv_loop_close(&f.loop), 0);
        if (rc == PB_OK) {
            assert_int_equal(f.r[0].calls, 1);
            ok = f.r[0].outcome == PB_HTTP_ANSWERED && f.r[0].status == 200 &&
                 strcmp(f.r[0].body, "{\"ok\":1}") == 0;
        }
    }
    assert_true(ok);
    assert_true(n > 3); /* failures were really injected on the way */
}

static void test_bad_arguments(void **state)
{
    fx f;
    (void)state;
    pb_alloc_fail_after(-1);
    fx_init(&f, 0);
    fx_client(&f);
    assert_int_equal(pb_http_client_post(f.cli, NULL, NULL, "", 0, 0, on_result, NULL), PB_EINVAL);
    assert_int_equal(
        pb_http_client_post(f.cli, "http://127.0.0.1:1/", NULL, NULL, 3, 0, on_result, NULL),
        PB_EINVAL);
    assert_int_equal(pb_http_client_new(NULL, &f.loop, NULL), PB_EINVAL);
    pb_http_client_free(NULL);
    fx_shutdown(&f);
    fx_run(&f);
    assert_true(f.cli_closed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_200_with_body),
        cmocka_unit_test(test_4xx),
        cmocka_unit_test(test_500),
        cmocka_unit_test(test_429_retry_after_seconds),
        cmocka_unit_test(test_429_retry_after_date),
        cmocka_unit_test(test_retry_after_parse),
        cmocka_unit_test(test_refused_is_not_sent),
        cmocka_unit_test(test_never_answers_is_no_answer),
        cmocka_unit_test(test_closed_after_request_is_no_answer),
        cmocka_unit_test(test_body_over_cap),
        cmocka_unit_test(test_timeout_while_queued_is_not_sent),
        cmocka_unit_test(test_silent_resend_on_reused_connection),
        cmocka_unit_test(test_64_concurrent_reuse),
        cmocka_unit_test(test_close_with_requests_in_flight),
        cmocka_unit_test(test_close_from_callback),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_bad_arguments),
    };
    int rc;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
