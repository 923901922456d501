/*
 * sandbox.c - the server half of `paybatch sandbox` (see sandbox.h): HTTP routes, payment
 * table, ledger, held-back answers, signals. Bodies, callbacks and outcome timers are in
 * sandbox_notify.c; the shared structures in sandbox_int.h.
 */
#include "batch/sandbox/sandbox_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch/net/http_router.h"
#include "batch/util/log.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "formats/dupcheck.h"
#include "formats/json_write.h"
#include "core/errors.h"

/* ---- payment table ------------------------------------------------------------------ */

pb__pay *pb__table_find(const pb__table *t, const char *id)
{
    uint64_t h;
    size_t i;

    if (t->cap == 0)
        return NULL;
    h = pb_dupset_hash(t->key, id, strlen(id));
    for (i = h & (t->cap - 1); t->slot[i] != NULL; i = (i + 1) & (t->cap - 1))
        if (t->hash[i] == h && strcmp(t->slot[i]->p.payment_id, id) == 0)
            return t->slot[i];
    return NULL;
}

static void pb__table_place(pb__table *t, pb__pay *p, uint64_t h)
{
    size_t i;
    for (i = h & (t->cap - 1); t->slot[i] != NULL; i = (i + 1) & (t->cap - 1))
        ;
    t->slot[i] = p;
    t->hash[i] = h;
}

static int pb__table_grow(pb__table *t)
{
    pb__table g = *t;
    size_t i;

    g.cap = t->cap ? t->cap * 2 : 1024;
    g.slot = pb_calloc(g.cap, sizeof(*g.slot));
    g.hash = pb_calloc(g.cap, sizeof(*g.hash));
    if (g.slot == NULL || g.hash == NULL) {
        pb_free(g.slot);
        pb_free(g.hash);
        return PB_ENOMEM;
    }
    for (i = 0; i < t->cap; i++)
        if (t->slot[i] != NULL)
            pb__table_place(&g, t->slot[i], t->hash[i]);
    pb_free(t->slot);
    pb_free(t->hash);
    *t = g;
    return PB_OK;
}

int pb__table_add(pb__table *t, pb__pay *p)
{
    if ((t->n + 1) * 2 > t->cap && pb__table_grow(t) != PB_OK)
        return PB_ENOMEM;
    pb__table_place(t, p, pb_dupset_hash(t->key, p->p.payment_id, strlen(p->p.payment_id)));
    t->n++;
    return PB_OK;
}

size_t pb__table_max_probe(const pb__table *t)
{
    size_t i, max = 0;
    for (i = 0; i < t->cap; i++) {
        size_t home, d;
        if (t->slot[i] == NULL)
            continue;
        home = t->hash[i] & (t->cap - 1);
        d = (i - home) & (t->cap - 1);
        if (d + 1 > max)
            max = d + 1;
    }
    return max;
}

void pb__table_free(pb__table *t)
{
    pb_free(t->slot);
    pb_free(t->hash);
    t->slot = NULL;
    t->hash = NULL;
    t->cap = t->n = 0;
}

pb__pay *pb__pay_new(const pb_sandbox_payout *in)
{
    size_t li = strlen(in->payment_id) + 1, la = strlen(in->account) + 1;
    size_t lu = strlen(in->callback_url) + 1;
    pb__pay *p = pb_calloc(1, sizeof(*p) + li + la + lu);
    char *str;

    if (p == NULL)
        return NULL;
    str = p->strs;
    memcpy(str, in->payment_id, li);
    p->p.payment_id = str;
    memcpy(str + li, in->account, la);
    p->p.account = str + li;
    memcpy(str + li + la, in->callback_url, lu);
    p->p.callback_url = str + li + la;
    memcpy(p->p.currency, in->currency, sizeof(p->p.currency));
    p->p.amount = in->amount;
    p->p.project_id = in->project_id;
    return p;
}

/* ---- helpers ---------------------------------------------------------------------- */

static void pb__count_refusal(pb__sbx *s, int code)
{
    size_t i;
    s->sum.refused++;
    for (i = 0; i < s->sum.ncodes; i++) {
        if (s->sum.by_code[i].code == code) {
            s->sum.by_code[i].n++;
            return;
        }
    }
    if (s->sum.ncodes < PB_SANDBOX_NCODES) {
        s->sum.by_code[s->sum.ncodes].code = code;
        s->sum.by_code[s->sum.ncodes++].n = 1;
    }
}

/* Print cJSON to a pb_malloc'd string (cJSON uses pb_malloc through the hooks in main). */
static int pb__respond_json(pb_http_exchange *ex, int status, const char *extra, cJSON *j)
{
    char *txt = cJSON_PrintUnformatted(j);
    int rc;
    if (txt == NULL) {
        pb_http_respond_error(ex, 500, "Internal error", NULL);
        return PB_ENOMEM;
    }
    rc = pb_http_respond(ex, status, "application/json", extra, txt, strlen(txt));
    cJSON_free(txt);
    return rc;
}

static void pb__refuse(pb__sbx *s, pb_http_exchange *ex, int http, int code, int64_t project,
                       const char *payment_id)
{
    cJSON *j = cJSON_CreateObject();
    char num[16];
    char rid[48];
    int ok;
    pb__count_refusal(s, code);
    if (j == NULL) {
        pb_http_respond_error(ex, 500, "Internal error", NULL);
        return;
    }
    snprintf(num, sizeof(num), "%d", code);
    snprintf(rid, sizeof(rid), "sbx-req-%" PRIu64, ++s->seq);
    /* an answer with a field missing (out of memory) would mislead: 500 instead */
    ok = cJSON_AddStringToObject(j, "status", "error") != NULL &&
         cJSON_AddStringToObject(j, "request_id", rid) != NULL &&
         (project == 0 || pb_json_add_int(j, "project_id", project) == PB_OK) &&
         (payment_id == NULL || payment_id[0] == '\0' ||
          cJSON_AddStringToObject(j, "payment_id", payment_id) != NULL) &&
         cJSON_AddStringToObject(j, "code", num) != NULL &&
         cJSON_AddStringToObject(j, "message", pb_sandbox_code_message(code)) != NULL;
    if (ok)
        pb__respond_json(ex, http, NULL, j);
    else
        pb_http_respond_error(ex, 500, "Internal error", NULL);
    cJSON_Delete(j);
}

/* ---- held-back answers (--slow) --------------------------------------------------- */

static void pb__slow_answer(pb__slow *w)
{
    if (w->ex != NULL) {
        pb_http_respond(w->ex, 200, "application/json", NULL, w->txt, strlen(w->txt));
        w->ex = NULL;
    }
}

static void pb__slow_closed(uv_handle_t *h)
{
    pb__slow *w = (pb__slow *)h->data;
    cJSON_free(w->txt);
    pb_free(w);
}

static void pb__slow_unlink_close(pb__slow *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        w->sbx->slow = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    uv_close((uv_handle_t *)&w->timer, pb__slow_closed);
}

static void pb__slow_timer(uv_timer_t *t)
{
    pb__slow *w = (pb__slow *)t->data;
    pb__slow_answer(w);
    pb__slow_unlink_close(w);
}

/* Answer txt (taken over) after s->o->slow_ms; answers at once when that cannot be set up. */
static void pb__answer_later(pb__sbx *s, pb_http_exchange *ex, char *txt)
{
    pb__slow *w = pb_calloc(1, sizeof(*w));
    if (w == NULL || uv_timer_init(s->loop, &w->timer) != 0) {
        pb_free(w);
        pb_http_respond(ex, 200, "application/json", NULL, txt, strlen(txt));
        cJSON_free(txt);
        return;
    }
    w->sbx = s;
    w->ex = ex;
    w->txt = txt;
    w->timer.data = w;
    w->next = s->slow;
    if (s->slow != NULL)
        s->slow->prev = w;
    s->slow = w;
    (void)uv_timer_start(&w->timer, pb__slow_timer, s->o->slow_ms, 0); /* fails only if closing */
}

/* ---- handlers --------------------------------------------------------------------- */

static int pb__faults(pb__sbx *s, pb_http_exchange *ex)
{
    if (pb__sbx_chance(s, s->o->fail_429)) {
        s->sum.faults++;
        pb_http_respond_error(ex, 429, "Too many requests", "Retry-After: 1\r\n");
        return 1;
    }
    if (pb__sbx_chance(s, s->o->fail_500)) {
        s->sum.faults++;
        pb_http_respond_error(ex, 500, "Internal error", NULL);
        return 1;
    }
    return 0;
}

/*
 * One JSON line per accepted payout, line-atomic: the line goes out in one write() on an
 * O_APPEND descriptor; a short write (disk full, file size limit) is cut back to the last
 * complete line, so the next line never glues onto a fragment.
 */
static int pb__ledger_write_line(pb__sbx *s, const char *txt)
{
    size_t n = strlen(txt);
    char *line = pb_malloc(n + 1);
    off_t good;
    ssize_t w;
    int rc = PB_OK;

    if (line == NULL)
        return PB_ENOMEM;
    memcpy(line, txt, n);
    line[n++] = '\n';
    good = lseek(s->ledger_fd, 0, SEEK_END); /* this process is the ledger's only writer */
    do
        w = write(s->ledger_fd, line, n);
    while (w < 0 && errno == EINTR);
    if (w < 0) {
        pb_error_set("ledger %s: %s", s->o->ledger_path, strerror(errno));
        rc = PB_EIO;
    } else if ((size_t)w != n) {
        if (good >= 0 && ftruncate(s->ledger_fd, good) == 0)
            pb_error_set("ledger %s: short write (%zd of %zu bytes: disk full or file size "
                         "limit); cut back to the last complete line",
                         s->o->ledger_path, w, n);
        else
            pb_error_set("ledger %s: short write, cannot cut the partial line back: %s",
                         s->o->ledger_path, strerror(errno));
        rc = PB_EIO;
    }
    if (rc != PB_OK) {
        static const pb_log_ctx ctx = {"sandbox.ledger_failed", NULL, 0, NULL, NULL};
        pb_log(PB_LOG_ERROR, &ctx, "sandbox: %s", pb_error_last());
    }
    pb_free(line);
    return rc;
}

static int pb__ledger_append(pb__sbx *s, const pb__pay *p)
{
    cJSON *j;
    char *txt;
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    int rc = PB_OK;

    if (s->ledger_fd < 0)
        return PB_OK;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    j = cJSON_CreateObject();
    if (j == NULL)
        return PB_ENOMEM;
    /* a ledger line with a field missing would be a false record: pb__refuse it; time_ms (since
     * the epoch) lets rate tests count requests per sliding second */
    {
        struct timespec now_ts;
        (void)clock_gettime(CLOCK_REALTIME, &now_ts);
        if (cJSON_AddStringToObject(j, "payment_id", p->p.payment_id) == NULL ||
            cJSON_AddStringToObject(j, "method", p->m->name) == NULL ||
            pb_json_add_int(j, "amount", p->p.amount) != PB_OK ||
            cJSON_AddStringToObject(j, "currency", p->p.currency) == NULL ||
            cJSON_AddStringToObject(j, "account", p->p.account) == NULL ||
            cJSON_AddStringToObject(j, "time", ts) == NULL ||
            pb_json_add_int(j, "time_ms",
                            (int64_t)now_ts.tv_sec * 1000 + now_ts.tv_nsec / 1000000) != PB_OK) {
            rc = PB_ENOMEM;
            goto out;
        }
    }
    txt = cJSON_PrintUnformatted(j);
    if (txt == NULL) {
        rc = PB_ENOMEM;
        goto out;
    }
    rc = pb__ledger_write_line(s, txt);
    cJSON_free(txt);
out:
    cJSON_Delete(j);
    return rc;
}

static void pb__h_payout(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    pb__sbx *s = (pb__sbx *)ctx;
    const pb_method *m = pb_method_find_endpoint(req->path); /* routed here: never NULL */
    pb_sandbox_payout in;
    pb__pay *p;
    int code = 0;
    cJSON *j;

    if (pb__faults(s, ex))
        return;
    if (pb_sandbox_check_payout(m, s->o->project_id, s->o->secret, s->o->secret_len, req->body,
                                req->body_len, &in, &code) != PB_OK) {
        pb_http_respond_error(ex, 500, "Internal error", NULL);
        return;
    }
    if (code == 0 && pb__table_find(&s->pays, in.payment_id) != NULL)
        code = 3041;
    if (code != 0) {
        pb__refuse(s, ex, 400, code, in.project_id, in.payment_id);
        return;
    }
    if (s->pays.n >= s->max_pay || (p = pb__pay_new(&in)) == NULL) {
        /* full: a client may retry later (against a restarted sandbox) */
        pb_http_respond_error(ex, 503, "Sandbox full", "Retry-After: 5\r\n");
        return;
    }
    p->sbx = s;
    p->m = m;
    p->outcome = pb_sandbox_outcome_for(in.account);
    p->status = "processing";
    p->op_id = ++s->seq;
    snprintf(p->request_id, sizeof(p->request_id), "sbx-req-%" PRIu64, p->op_id);
    snprintf(p->provider_id, sizeof(p->provider_id), "prov-%016" PRIx64, pb__sbx_rnd(s));
    if (pb__ledger_append(s, p) != PB_OK) {
        pb_free(p);
        pb_http_respond_error(ex, 500, "Ledger write failed", NULL);
        return;
    }
    if (pb__table_add(&s->pays, p) != PB_OK) {
        /* recorded in the ledger but not kept: say so loudly, the ledger is the truth */
        pb_log_ctx lc = {"sandbox.not_kept", NULL, 0, p->p.payment_id, NULL};
        pb_log(PB_LOG_ERROR, &lc, "sandbox: out of memory after recording %s in the ledger",
               p->p.payment_id);
        pb_free(p);
        pb_http_respond_error(ex, 503, "Sandbox full", "Retry-After: 5\r\n");
        return;
    }
    s->sum.accepted++;
    if (uv_timer_init(s->loop, &p->timer) == 0) {
        p->timer_init = 1;
        p->timer.data = p;
        /* fails only on a closing handle; this one was just initialised */
        (void)uv_timer_start(&p->timer, pb__sbx_outcome_timer, s->o->callback_delay_ms, 0);
    }
    if (pb__sbx_chance(s, s->o->drop_after_record)) {
        s->sum.faults++;
        pb_http_drop(ex);
        return;
    }
    j = cJSON_CreateObject();
    if (j == NULL) {
        pb_http_respond_error(ex, 500, "Internal error", NULL);
        return;
    }
    if (cJSON_AddStringToObject(j, "status", "success") == NULL ||
        cJSON_AddStringToObject(j, "request_id", p->request_id) == NULL ||
        pb_json_add_int(j, "project_id", s->o->project_id) != PB_OK ||
        cJSON_AddStringToObject(j, "payment_id", p->p.payment_id) == NULL) {
        /* recorded, but no complete answer: the client is in doubt and asks the status */
        cJSON_Delete(j);
        pb_http_respond_error(ex, 500, "Internal error", NULL);
        return;
    }
    if (pb__sbx_chance(s, s->o->slow)) {
        char *txt = cJSON_PrintUnformatted(j);
        s->sum.faults++;
        cJSON_Delete(j);
        if (txt == NULL)
            pb_http_respond_error(ex, 500, "Internal error", NULL);
        else
            pb__answer_later(s, ex, txt);
        return;
    }
    pb__respond_json(ex, 200, NULL, j);
    cJSON_Delete(j);
}

static void pb__h_status(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    pb__sbx *s = (pb__sbx *)ctx;
    char id[PB_SANDBOX_ID_MAX];
    int64_t proj = 0;
    int code = 0;
    pb__pay *p;
    cJSON *j = NULL, *ops, *op;

    if (pb__faults(s, ex))
        return;
    if (pb_sandbox_check_status(s->o->project_id, s->o->secret, s->o->secret_len, req->body,
                                req->body_len, id, &proj, &code) != PB_OK) {
        pb_http_respond_error(ex, 500, "Internal error", NULL);
        return;
    }
    if (code != 0) {
        pb__refuse(s, ex, 400, code, proj, id);
        return;
    }
    p = pb__table_find(&s->pays, id);
    if (p == NULL) {
        pb__refuse(s, ex, 404, 3061, proj, id);
        return;
    }
    s->sum.polls++;
    p->polls++;
    if (p->outcome == PB_SANDBOX_AFTER_3_POLLS && p->delay_done && p->polls >= 3 &&
        strcmp(p->status, "processing") == 0)
        pb__sbx_finish(p, "success", 0);
    j = cJSON_CreateObject();
    if (j == NULL)
        goto fail;
    if (pb__sbx_add_payment(j, s, p) != PB_OK)
        goto fail;
    ops = cJSON_AddArrayToObject(j, "operations");
    op = cJSON_CreateObject();
    if (ops == NULL || op == NULL || !cJSON_AddItemToArray(ops, op)) {
        cJSON_Delete(op);
        goto fail;
    }
    if (pb__sbx_add_op(op, p, 0) != PB_OK)
        goto fail;
    if (p->reversed) {
        cJSON *rev = cJSON_CreateObject();
        if (rev == NULL || !cJSON_AddItemToArray(ops, rev)) {
            cJSON_Delete(rev);
            goto fail;
        }
        if (pb__sbx_add_op(rev, p, 1) != PB_OK)
            goto fail;
    }
    if (pb__sbx_sign(s, j) != PB_OK)
        goto fail;
    pb__respond_json(ex, 200, NULL, j);
    cJSON_Delete(j);
    return;
fail:
    cJSON_Delete(j);
    pb_http_respond_error(ex, 500, "Internal error", NULL);
}

/* GET /healthz: liveness for scripts and benchmarks; no faults, no counters. */
static void pb__h_healthz(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    static const char body[] = "{\"status\":\"ok\"}";
    (void)req;
    (void)ctx;
    pb_http_respond(ex, 200, "application/json", NULL, body, sizeof(body) - 1);
}

static const pb_http_route pb__routes[] = {
    {"GET", "/healthz", pb__h_healthz},
    {"POST", "/v2/payment/status", pb__h_status},
};

/* The fixed routes, then one payout route per method of the table (core/methods.c). */
static void pb__h_any(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    pb_http_route routes[sizeof(pb__routes) / sizeof(pb__routes[0]) + PB_METHOD_MAX];
    size_t n, i;

    memcpy(routes, pb__routes, sizeof(pb__routes));
    n = sizeof(pb__routes) / sizeof(pb__routes[0]);
    for (i = 0; i < pb_method_count(); i++) {
        routes[n].method = "POST";
        routes[n].path = pb_method_at(i)->endpoint;
        routes[n++].handler = pb__h_payout;
    }
    pb_http_route_dispatch(routes, n, ex, req, ctx);
}

/* ---- lifecycle -------------------------------------------------------------------- */

static void pb__on_server_closed(pb_http_server *srv, void *arg)
{
    (void)srv;
    (void)arg;
}

static void pb__on_signal(uv_signal_t *h, int signum)
{
    pb__sbx *s = (pb__sbx *)h->data;
    size_t i;
    pb__pay *p;
    (void)signum;
    if (s->stopping)
        return;
    s->stopping = 1;
    pb_sandbox_callbacks_close(s->cbs); /* in-flight attempts cancelled, waits stopped */
    while (s->slow != NULL) {           /* held-back answers go out now */
        pb__slow_answer(s->slow);
        pb__slow_unlink_close(s->slow);
    }
    pb_http_server_close(s->srv, pb__on_server_closed, s);
    for (i = 0; i < s->pays.cap; i++)
        if ((p = s->pays.slot[i]) != NULL && p->timer_init &&
            !uv_is_closing((uv_handle_t *)&p->timer))
            uv_close((uv_handle_t *)&p->timer, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
}

static void pb__free_payments(pb__sbx *s)
{
    size_t i;
    for (i = 0; i < s->pays.cap; i++)
        pb_free(s->pays.slot[i]);
    pb__table_free(&s->pays);
}

int pb_sandbox_run(const pb_sandbox_opts *o, pb_sandbox_summary *sum)
{
    pb__sbx *s = NULL;
    uv_loop_t loop;
    int rc = PB_OK, loop_ok = 0, sig_ok = 0, port;

    if (sum != NULL)
        memset(sum, 0, sizeof(*sum));
    if (o == NULL || o->host == NULL || o->secret == NULL)
        return PB_EINVAL;
    s = pb_calloc(1, sizeof(*s));
    if (s == NULL)
        return PB_ENOMEM;
    s->o = o;
    s->ledger_fd = -1;
    s->max_pay = o->max_payments ? o->max_payments : PB_SANDBOX_MAX_PAYMENTS;
    /* a secret key per run: nobody can craft payment ids that collide in the table */
    if (RAND_bytes((unsigned char *)s->pays.key, sizeof(s->pays.key)) != 1) {
        rc = pb_error_set("no random bytes for the payment table's key");
        pb_free(s);
        return rc;
    }
    s->rng = o->seed ? (uint64_t)o->seed : 0x9e3779b97f4a7c15ull;
    if (uv_loop_init(&loop) != 0) {
        rc = pb_error_set("cannot start the event loop");
        goto out;
    }
    loop_ok = 1;
    s->loop = &loop;
    if (o->ledger_path != NULL) {
        s->ledger_fd =
            open(o->ledger_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0666);
        if (s->ledger_fd < 0) {
            rc = pb_error_set("cannot open ledger %s: %s", o->ledger_path, strerror(errno));
            goto out;
        }
        /* over a file size limit a write fails (and is cut back) instead of killing us */
        signal(SIGXFSZ, SIG_IGN);
    }
    rc = pb_sandbox_callbacks_new(&s->cbs, &loop);
    if (rc != PB_OK)
        goto out;
    rc = pb_http_server_new(&s->srv, &loop, NULL, pb__h_any, s);
    if (rc != PB_OK)
        goto out;
    rc = pb_http_server_listen(s->srv, o->host, o->port);
    if (rc != PB_OK) {
        pb_error_set("cannot listen on %s:%d", o->host, o->port);
        pb_http_server_close(s->srv, NULL, NULL);
        goto out;
    }
    /* uv_signal_init makes the loop's signal pipe on first use: it can fail (EMFILE) */
    if ((rc = uv_signal_init(&loop, &s->sigint)) != 0) {
        rc = pb_error_set("cannot catch SIGINT/SIGTERM: %s", uv_strerror(rc));
        pb_http_server_close(s->srv, NULL, NULL);
        goto out;
    }
    if ((rc = uv_signal_init(&loop, &s->sigterm)) != 0) {
        rc = pb_error_set("cannot catch SIGINT/SIGTERM: %s", uv_strerror(rc));
        uv_close((uv_handle_t *)&s->sigint, NULL);
        pb_http_server_close(s->srv, NULL, NULL);
        goto out;
    }
    s->sigint.data = s->sigterm.data = s;
    if ((rc = uv_signal_start(&s->sigint, pb__on_signal, SIGINT)) != 0 ||
        (rc = uv_signal_start(&s->sigterm, pb__on_signal, SIGTERM)) != 0) {
        rc = pb_error_set("cannot catch SIGINT/SIGTERM: %s", uv_strerror(rc));
        uv_close((uv_handle_t *)&s->sigint, NULL);
        uv_close((uv_handle_t *)&s->sigterm, NULL);
        pb_http_server_close(s->srv, NULL, NULL);
        goto out;
    }
    sig_ok = 1;
    port = pb_http_server_port(s->srv);
    if (o->on_listening != NULL)
        o->on_listening(o->host, port, o->ctx);
    /* uv_run's result (handles still active) matters only after uv_stop, never called here;
     * the run after out: closes whatever is left and uv_loop_close checks it */
    (void)uv_run(&loop, UV_RUN_DEFAULT);
out:
    (void)sig_ok;
    if (loop_ok) {
        if (s->srv != NULL)
            pb_http_server_close(s->srv, NULL, NULL); /* ignored when already closing */
        pb_sandbox_callbacks_close(s->cbs);           /* likewise; accepts NULL */
        (void)uv_run(&loop, UV_RUN_DEFAULT);          /* pending closes */
        /* every handle was closed and the loop ran until they were: UV_EBUSY is a bug here */
        loop_ok = uv_loop_close(&loop);
        PB_ASSERT(loop_ok == 0);
    }
    if (s != NULL) {
        if (sum != NULL)
            *sum = s->sum;
        pb_http_server_free(s->srv);
        pb_sandbox_callbacks_free(s->cbs);
        pb__free_payments(s);
        if (s->ledger_fd >= 0)
            close(s->ledger_fd);
        pb_free(s);
    }
    return rc;
}
