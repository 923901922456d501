#include "batch/send/send.h"

#include "batch/send/send_int.h"

#include "batch/net/http_client.h"
#include "batch/util/log.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "formats/gate_request.h"
#include "formats/gate_response.h"
#include "formats/header_map.h"

#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define PB__STATUS_PATH "/v2/payment/status"
#define PB__MAX_CELLS   1024

int64_t pb_send__now_ms(void)
{
    struct timespec ts;
    /* wall clock: next_at_ms is stored and must mean the same to the next run */
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A seed for the engine's own jitter stream (core/engine_outcome.c): spreads retries only,
 * never protects anything, so events carry no random value of their own. */
static uint64_t pb__seed(void)
{
    uint64_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        r = (uint64_t)pb_send__now_ms();
    return r;
}

static void pb__pump(pb__drv *d);
static void pb__pump_cmds(pb__drv *d);
static void pb__post_payout(pb__drv *d, uint32_t row_no, const char *endpoint, const pb_buf *body);
static void pb__post_body(pb__drv *d, uint32_t row_no, const char *url, const pb_buf *body,
                          int status);

void pb_send__fail(pb__drv *d, int rc, const char *what)
{
    if (d->rc == 0) {
        d->rc = rc < 0 ? rc : PB_ERROR;
        pb_log(PB_LOG_ERROR, NULL, "%s: %s", what, pb_error_last());
    }
}

static void pb__feed(pb__drv *d, pb_engine_event *ev)
{
    int rc;
    ev->now_ms = pb_send__now_ms();
    if ((rc = pb_engine_feed(d->engine, ev)) < 0)
        pb_send__fail(d, rc, "send engine");
}

static void pb__to_erow(const pb_store_row *s, pb_engine_row *e)
{
    memset(e, 0, sizeof(*e));
    e->row_no = s->row_no;
    e->state = s->state;
    e->attempts = s->attempts;
    e->next_at_ms = s->next_at_ms;
    e->amount = s->amount;
    pb_row_field_set(e->currency, PB_ENGINE_CURRENCY_MAX, s->currency, strlen(s->currency));
    pb_row_field_set(e->payment_id, PB_ROW_ID_MAX, s->payment_id, strlen(s->payment_id));
}

/*
 * Store work runs on one libuv worker thread, one operation at a time and in order: a
 * commit's fsync never stalls the loop (timers, answers, the rate limiter keep their pace),
 * and the store's connection is only ever used by one thread at a time. The engine already
 * waits for each answer (ROWS_*, COMMITTED) before it relies on it.
 */
static int pb__payout_body(pb__drv *d, uint32_t row_no, pb_buf *body, const pb_method **m);
static int pb__row_body(pb__drv *d, const pb_store_row *sr, pb_buf *body, const pb_method **m);

static void pb__op_run(pb__op *op)
{
    pb__drv *d = op->d;
    const pb_method *m = NULL;
    size_t i;

    pb_error_clear();
    switch (op->kind) {
    case PB__OP_ROWS:
        op->rc =
            op->claim
                ? pb_store_claim(d->o->store, d->o->batch, op->now_ms, op->max, op->rows, &op->n)
                : pb_store_due(d->o->store, d->o->batch, op->now_ms, op->max, op->rows, &op->n);
        /* the engine reads next_at only from an answer shorter than it asked for (a full
         * one means "ask again now"): most claims are full, and this saves each a query */
        if (op->rc == 0 && op->n < op->max)
            op->rc = pb_store_next_at(d->o->store, d->o->batch,
                                      op->claim ? PB_STORE_NEXT_QUEUED : PB_STORE_NEXT_PENDING,
                                      op->now_ms, &op->next_at);
        for (i = 0; op->rc == 0 && i < op->n; i++)
            pb__to_erow(&op->rows[i], &op->erows[i]);
        if (!op->claim)
            pb_store_rows_clear(op->rows, op->n);
        /* a claim's rows keep their cells: their bodies are built after the commit
         * (pb__claim_bodies) */
        break;
    case PB__OP_COMMIT:
        op->rc = pb_store_mark(d->o->store, d->o->batch, op->updates, op->n_updates, &op->applied);
        break;
    case PB__OP_LIST:
        op->rc = pb_store_list(d->o->store, d->o->batch, PB_ROW_ACCEPTED, op->row_no, op->max,
                               op->rows, &op->n);
        break;
    case PB__OP_MARK:
        op->rc = pb_store_mark(d->o->store, d->o->batch, op->updates, op->n_updates, &op->applied);
        break;
    case PB__OP_BODY:
        op->rc = pb__payout_body(d, op->row_no, &op->body, &m);
        if (op->rc == 0)
            op->endpoint = m->endpoint;
        break;
    case PB__OP_LOAD:
        op->rc = pb_send__load_run(op);
        break;
    }
    if (op->rc < 0)
        snprintf(op->err, sizeof(op->err), "%s", pb_error_last());
}

/*
 * The claimed rows' requests, built on the store's thread once the group is committed (the
 * claim's answer waits for them as it waited for the commit). They were built on the loop
 * when the store's thread was the bottleneck; with the load in large chunks (send_load.c)
 * the loop is: bench_send, 100,000 rows, the loop busy ~75% of the dispatch, ~68 us of CPU
 * a row, building and signing ~6.5 us of it. Only the store's thread builds bodies (here and
 * for a PB__OP_BODY): the header map is not shared.
 */
static void pb__claim_bodies(pb__op *op)
{
    const pb_method *m = NULL;
    size_t i;
    int rc = 0;
    pb_error_clear();
    for (i = 0; rc == 0 && i < op->n; i++) {
        op->preps[i].row_no = op->rows[i].row_no;
        rc = pb__row_body(op->d, &op->rows[i], &op->preps[i].body, &m);
        if (rc == 0)
            op->preps[i].endpoint = m->endpoint;
    }
    pb_store_rows_clear(op->rows, op->n);
    if ((op->body_rc = rc) < 0)
        snprintf(op->err, sizeof(op->err), "%s", pb_error_last());
}

/* The worker runs every op that waited, in order, as one store group: one durable commit for
 * the engine's COMMIT, its next CLAIM and the poller's marks together (SEND_DESIGN: a
 * claim's rows are posted only after the group is committed, in pb__op_after). When the
 * commit fails none of it happened: every op of the chain fails. */
static void pb__op_work(uv_work_t *w)
{
    pb__op *head = w->data, *op;
    pb_store *st = head->d->o->store;
    /* even one op: a claim and its next_at read share one transaction (fewer WAL locks) */
    int grouped = 1, rc, load_failed = 0;

    if (grouped && (rc = pb_store_group_begin(st)) < 0) {
        for (op = head; op; op = op->next) {
            op->rc = rc;
            snprintf(op->err, sizeof(op->err), "%s", pb_error_last());
        }
        return;
    }
    for (op = head; op; op = op->next) {
        /* a chunk after one that failed stays out: the stored rows must stay a prefix of the
         * file (a resume skips as many rows as are stored) */
        if (op->kind == PB__OP_LOAD && load_failed) {
            op->rc = PB_ERROR;
            snprintf(op->err, sizeof(op->err), "not stored: an earlier chunk failed");
            continue;
        }
        pb__op_run(op);
        load_failed |= op->kind == PB__OP_LOAD && op->rc < 0;
    }
    if (grouped && (rc = pb_store_group_end(st)) < 0) {
        for (op = head; op; op = op->next) {
            if (op->rc == 0) {
                op->rc = rc;
                snprintf(op->err, sizeof(op->err), "%s", pb_error_last());
            }
        }
    }
    for (op = head; op; op = op->next) {
        if (op->kind == PB__OP_ROWS && op->claim && op->rc == 0)
            pb__claim_bodies(op);
    }
}

static void pb__op_free(pb__op *op)
{
    size_t i;
    if (op->kind == PB__OP_ROWS && op->claim)
        pb_store_rows_clear(op->rows, op->n); /* a claim dropped before its bodies were built */
    for (i = 0; op->preps && i < op->max; i++)
        pb_buf_free(&op->preps[i].body);
    pb_buf_free(&op->body);
    if (op->chunk)
        pb_send__load_free(op);
    pb_free(op);
}

static void pb__op_after(uv_work_t *w, int status);

/* Hand every waiting op to the worker as one chain (linked through next). */
static void pb__op_next(pb__drv *d)
{
    pb__op *op = d->ops_head;
    int rc;
    if (d->op_running || !op)
        return;
    d->ops_head = d->ops_tail = NULL;
    op->work.data = op;
    if ((rc = uv_queue_work(&d->loop, &op->work, pb__op_work, pb__op_after)) != 0) {
        pb_error_set("cannot queue store work: %s", uv_strerror(rc));
        pb_send__fail(d, PB_ERROR, "state store");
        while (op) {
            pb__op *next = op->next;
            pb__op_free(op);
            op = next;
        }
        return;
    }
    d->op_running = 1;
}

pb__op *pb_send__op_new(pb__drv *d, pb__op_kind kind, size_t max)
{
    pb__op *op = pb_calloc(
        1, sizeof(*op) + max * (sizeof(pb_store_row) + sizeof(pb_engine_row) + sizeof(pb__prep)));
    size_t i;
    if (!op) {
        pb_send__fail(d, PB_ENOMEM, "out of memory");
        return NULL;
    }
    op->d = d;
    op->kind = kind;
    op->max = max;
    op->rows = (pb_store_row *)(void *)(op + 1);
    op->erows = (pb_engine_row *)(void *)(op->rows + max);
    op->preps = (pb__prep *)(void *)(op->erows + max);
    for (i = 0; i < max; i++)
        pb_buf_init(&op->preps[i].body, PB_GATE_BODY_MAX);
    pb_buf_init(&op->body, PB_GATE_BODY_MAX);
    return op;
}

void pb_send__op_submit(pb__drv *d, pb__op *op)
{
    if (d->ops_tail)
        d->ops_tail->next = op;
    else
        d->ops_head = op;
    d->ops_tail = op;
    if (!d->pumping)
        pb__op_next(d);
}

static void pb__rows_cmd(pb__drv *d, const pb_engine_cmd *c)
{
    pb__op *op;
    if (c->max > d->cap) {
        /* never cut short: fewer rows than asked means "no more are due" to the engine */
        pb_error_set("the engine asked for %u rows, more than the %zu it can hold", c->max, d->cap);
        pb_send__fail(d, PB_ERROR, "send engine");
        return;
    }
    op = pb_send__op_new(d, PB__OP_ROWS, c->max);
    if (!op)
        return;
    op->claim = c->type == PB_ENGINE_CLAIM;
    op->now_ms = pb_send__now_ms();
    op->next_at = PB_ENGINE_NEVER;
    pb_send__op_submit(d, op);
}

static void pb__commit(pb__drv *d, const pb_engine_cmd *c)
{
    pb__op *op = pb_send__op_new(d, PB__OP_COMMIT, 0);
    if (!op)
        return;
    op->updates = c->updates; /* valid until COMMITTED is fed */
    op->n_updates = c->n_updates;
    pb_send__op_submit(d, op);
}

void pb_send__log_updates(pb__drv *d, const pb_row_update *u, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++, u++) {
        if (u->to == PB_ROW_QUEUED) {
            /* claimed but not sent: its prepared body is rebuilt when it is claimed again */
            pb__prep *p = pb_send__preps_find(&d->preps, u->row_no);
            if (p)
                pb_send__preps_drop(&d->preps, p);
        }
        pb_log_ctx lc = {"row.state", d->o->batch_name, u->row_no, NULL,
                         u->code[0] ? u->code : NULL};
        /* a row Gate took in this run: once, when it leaves sending / in doubt */
        if ((u->from == PB_ROW_SENDING || u->from == PB_ROW_IN_DOUBT) &&
            (u->to == PB_ROW_ACCEPTED || u->to == PB_ROW_SUCCESS || u->to == PB_ROW_DECLINE ||
             u->to == PB_ROW_ERROR || u->to == PB_ROW_REVERSED))
            d->res->accepted_now++;
        pb_log(PB_LOG_DEBUG, &lc, "row %u: %s -> %s%s%s", u->row_no, pb_row_state_name(u->from),
               pb_row_state_name(u->to), u->message[0] ? ": " : "", u->message);
    }
}

/* Take the claimed rows' bodies into the driver's table (swapping buffers, no copies). A
 * row the full table cannot take gets its body built when its POST_PAYOUT comes. */
static void pb__prep_keep(pb__drv *d, pb__op *op)
{
    for (size_t i = 0; i < op->n; i++)
        (void)pb_send__preps_put(&d->preps, op->preps[i].row_no, op->preps[i].endpoint,
                                 &op->preps[i].body);
}

/* One op's answer, on the loop; frees the op. */
static void pb__op_done(pb__op *op, int status)
{
    pb__drv *d = op->d;
    pb_engine_event ev;

    if (status != 0 && op->rc == 0) {
        op->rc = PB_ERROR;
        snprintf(op->err, sizeof(op->err), "store work cancelled");
    }
    if (op->rc < 0) {
        pb_error_set("%s", op->err);
        pb_send__fail(d, op->rc,
                      op->kind == PB__OP_ROWS
                          ? (op->claim ? "cannot claim rows" : "cannot read rows in doubt")
                      : op->kind == PB__OP_COMMIT ? "cannot record row states"
                      : op->kind == PB__OP_LOAD   ? "cannot store the file's rows"
                                                  : "cannot build a request");
        pb__op_free(op);
        return;
    }
    memset(&ev, 0, sizeof(ev));
    switch (op->kind) {
    case PB__OP_ROWS:
        if (op->claim && op->body_rc < 0 && !d->done) {
            /* the rows stay `sending`: the next run resolves them by status query */
            pb_error_set("%s", op->err);
            pb_send__fail(d, op->body_rc, "cannot build a request");
            pb__op_free(op);
            return;
        }
        if (op->claim && !d->done)
            pb__prep_keep(d, op);
        if (op->claim)
            pb_send__load_claimed(d, op->n, op->max);
        ev.type = op->claim ? PB_ENGINE_ROWS_CLAIMED : PB_ENGINE_ROWS_DUE;
        ev.u.rows.rows = op->erows;
        ev.u.rows.n = op->n;
        ev.u.rows.next_at_ms = op->next_at;
        if (!d->done && !d->engine_done)
            pb__feed(d, &ev);
        break;
    case PB__OP_COMMIT:
        pb_send__log_updates(d, op->updates, op->n_updates);
        ev.type = PB_ENGINE_COMMITTED;
        ev.u.committed.applied = op->applied;
        if (!d->done && !d->engine_done)
            pb__feed(d, &ev);
        break;
    case PB__OP_LIST:
        pb_send__wait_listed(d, op);
        break;
    case PB__OP_MARK:
        pb_send__log_updates(d, op->updates, op->applied ? op->n_updates : 0);
        break;
    case PB__OP_BODY:
        if (!d->done)
            pb__post_payout(d, op->row_no, op->endpoint, &op->body);
        break;
    case PB__OP_LOAD:
        pb_send__load_done(d, op);
        break;
    }
    pb__op_free(op);
}

static void pb__op_after(uv_work_t *w, int status)
{
    pb__op *op = w->data;
    pb__drv *d = op->d;

    d->op_running = 0;
    d->pumping++; /* what the answers submit (the poller's LIST, MARK) waits for the pump */
    while (op) {
        pb__op *next = op->next;
        pb__op_done(op, status);
        op = next;
    }
    d->pumping--;
    pb__pump(d); /* dispatches what the answers led to, and what waited, as one chain */
}

static pb_engine_outcome pb__outcome(pb_http_outcome o)
{
    return o == PB_HTTP_NOT_SENT    ? PB_ENGINE_NOT_SENT
           : o == PB_HTTP_NO_ANSWER ? PB_ENGINE_NO_ANSWER
                                    : PB_ENGINE_ANSWERED;
}

static void pb__count(pb__drv *d, const pb_http_result *r)
{
    if (r->outcome == PB_HTTP_ANSWERED)
        d->res->answered++;
    else if (r->outcome == PB_HTTP_NOT_SENT)
        d->res->not_sent++;
    else
        d->res->no_answer++;
}

static void pb__on_payout(const pb_http_result *r, void *payload)
{
    pb__req *q = payload;
    pb__drv *d = q->d;
    pb_engine_event ev;
    pb_engine_payout_result *p = &ev.u.payout;
    pb_gate_answer a;

    memset(&ev, 0, sizeof(ev));
    ev.type = PB_ENGINE_PAYOUT_RESULT;
    p->row_no = q->row_no;
    p->outcome = pb__outcome(r->outcome);
    p->http_status = (int)r->status;
    p->retry_after_ms = r->retry_after_ms;
    p->fatal = r->fatal;
    pb__count(d, r);
    if (r->outcome == PB_HTTP_ANSWERED && pb_engine_throttled((int)r->status, r->retry_after_ms))
        pb_send__share_throttled(d, r->retry_after_ms); /* every worker pauses */
    if (r->outcome == PB_HTTP_ANSWERED && pb_gate_answer_parse(r->body, r->body_len, &a) == 0) {
        p->parsed = 1;
        memcpy(p->status, a.status, sizeof(p->status));
        memcpy(p->code, a.code, sizeof(p->code));
        memcpy(p->message, a.message, sizeof(p->message));
        memcpy(p->request_id, a.request_id, sizeof(p->request_id));
    }
    if (r->outcome != PB_HTTP_ANSWERED) {
        pb_log_ctx lc = {"http.failed", d->o->batch_name, q->row_no, NULL, NULL};
        pb_log(PB_LOG_WARN, &lc, "payout %s: %s",
               r->outcome == PB_HTTP_NOT_SENT ? "not sent" : "sent, no answer (in doubt)",
               r->error);
    }
    pb_free(q);
    if (!d->done) {
        pb__feed(d, &ev);
        pb__pump(d);
    }
}

static void pb__on_status(const pb_http_result *r, void *payload)
{
    pb__req *q = payload;
    pb__drv *d = q->d;
    pb_engine_event ev;
    pb_engine_status_result *s = &ev.u.status;
    pb_gate_payment p;

    memset(&ev, 0, sizeof(ev));
    ev.type = PB_ENGINE_STATUS_RESULT;
    s->row_no = q->row_no;
    s->outcome = pb__outcome(r->outcome);
    s->http_status = (int)r->status;
    s->retry_after_ms = r->retry_after_ms;
    s->fatal = r->fatal;
    pb__count(d, r);
    if (r->outcome == PB_HTTP_ANSWERED && pb_engine_throttled((int)r->status, r->retry_after_ms))
        pb_send__share_throttled(d, r->retry_after_ms);
    if (r->outcome == PB_HTTP_ANSWERED &&
        pb_gate_payment_parse(r->body, r->body_len, d->o->secret, d->o->secret_len, &p) == 0) {
        /* a payment's data is believed only with Gate's signature; an unsigned "not found"
         * is safe to believe: the resend it causes carries the same payment id (3041) */
        int has_payment = p.payment_status[0] != '\0';
        if (!has_payment || p.signature_ok) {
            s->parsed = 1;
            memcpy(s->code, p.code, sizeof(s->code));
            memcpy(s->message, p.message, sizeof(s->message));
            {
                const char *ps =
                    pb_gate_payment_state(&p) == PB_ROW_REVERSED ? "reversed" : p.payment_status;
                pb_row_field_set(s->payment_status, PB_ROW_STATUS_MAX, ps, strlen(ps));
            }
            s->has_amount = p.amount_ok;
            s->amount = p.amount;
            pb_row_field_set(s->currency, PB_ENGINE_CURRENCY_MAX, p.currency, strlen(p.currency));
            memcpy(s->operation_code, p.op_code, sizeof(s->operation_code));
            memcpy(s->operation_message, p.op_message, sizeof(s->operation_message));
            memcpy(s->request_id, p.request_id, sizeof(s->request_id));
            memcpy(s->operation_id, p.op_id, sizeof(s->operation_id));
            memcpy(s->provider_payment_id, p.provider_payment_id, sizeof(s->provider_payment_id));
        } else {
            pb_log_ctx lc = {"status.unsigned", d->o->batch_name, q->row_no, NULL, NULL};
            pb_log(PB_LOG_WARN, &lc, "a status answer without a valid signature was ignored");
        }
    }
    pb_free(q);
    if (!d->done) {
        pb__feed(d, &ev);
        pb__pump(d);
    }
}

static void pb__noop_finding(const pb_finding *f, void *ctx)
{
    (void)f, (void)ctx;
}

/* The signed payout body of a stored row, rebuilt from its original cells by the same code
 * that validated it. */
static int pb__payout_body(pb__drv *d, uint32_t row_no, pb_buf *body, const pb_method **m)
{
    pb_store_row sr;
    int rc;
    memset(&sr, 0, sizeof(sr));
    if ((rc = pb_store_row_get(d->o->store, d->o->batch, row_no, &sr)) < 0)
        return rc;
    rc = pb__row_body(d, &sr, body, m);
    pb_store_row_clear(&sr);
    return rc;
}

static int pb__row_body(pb__drv *d, const pb_store_row *srp, pb_buf *body, const pb_method **m)
{
    const pb_store_row sr = *srp;
    uint32_t row_no = sr.row_no;
    pb_str cells[PB__MAX_CELLS];
    pb_row row;
    pb_row_result res;
    pb_gate_cfg cfg;
    size_t n;
    int rc;

    rc = pb_store_cells_unpack(sr.cells, sr.cells_len, cells, PB__MAX_CELLS, &n);
    if (rc == 0 && n != pb_header_map_width(d->map))
        rc = pb_error_set("row %u: stored cells do not match the header", row_no);
    if (rc < 0)
        goto out;
    memset(&res, 0, sizeof(res));
    pb_header_map_row(d->map, cells, row_no, &row);
    pb_validate_row(&row, &d->o->rules, &res, pb__noop_finding, NULL);
    if (res.errors || !res.method) {
        rc = pb_error_set("row %u no longer passes validation (were the options changed "
                          "between runs?)",
                          row_no);
        goto out;
    }
    cfg.project_id = d->o->project_id;
    cfg.callback_url = d->o->callback_url;
    cfg.secret = d->o->secret;
    cfg.secret_len = d->o->secret_len;
    pb_buf_clear(body);
    rc = pb_gate_payout_body(&row, &res, &cfg, body);
    *m = res.method;
out:
    return rc;
}

int pb_send__post(pb__drv *d, const char *url, const pb_buf *body, pb_http_client_cb cb,
                  void *payload)
{
    if (d->share) /* a worker among several: the shared rate decides when it leaves */
        return pb_send__share_post(d, url, body, cb, payload);
    return pb_send__post_now(d, url, body->ptr, body->len, cb, payload);
}

int pb_send__post_now(pb__drv *d, const char *url, const char *body, size_t len,
                      pb_http_client_cb cb, void *payload)
{
    static const char *const headers[] = {"Content-Type: application/json",
                                          "Accept: application/json", NULL};
    int rc = pb_http_client_post(d->http, url, headers, body, len, d->o->timeout_ms, cb, payload);
    if (rc < 0)
        pb_send__fail(d, rc, "cannot start a request");
    return rc;
}

static void pb__post_body(pb__drv *d, uint32_t row_no, const char *url, const pb_buf *body,
                          int status)
{
    pb__req *q = pb_malloc(sizeof(*q));
    if (!q) {
        pb_send__fail(d, PB_ENOMEM, "out of memory");
        return;
    }
    q->d = d;
    q->row_no = row_no;
    q->status_query = status;
    if (pb_send__post(d, url, body, status ? pb__on_status : pb__on_payout, q) < 0)
        pb_free(q); /* not started: the callback will never run */
}

/* gate URL + path into url, or a failed run: cut short, a request would go elsewhere (and a
 * 404 there would read as "not found"). */
static int pb__url(pb__drv *d, const char *path, char *url, size_t cap)
{
    if ((size_t)snprintf(url, cap, "%s%s", d->o->gate_url, path) < cap)
        return 0;
    pb_error_set("--gate-url is too long (%zu bytes)", strlen(d->o->gate_url));
    pb_send__fail(d, PB_EINVAL, "cannot build a request");
    return -1;
}

/* A payout to the gate URL + the method's endpoint. */
static void pb__post_payout(pb__drv *d, uint32_t row_no, const char *endpoint, const pb_buf *body)
{
    char url[2048];
    if (pb__url(d, endpoint, url, sizeof(url)) == 0)
        pb__post_body(d, row_no, url, body, 0);
}

static void pb__post(pb__drv *d, const pb_engine_cmd *c)
{
    char url[2048];
    pb_gate_cfg cfg;
    pb__op *op;
    int rc;

    if (c->type == PB_ENGINE_POST_PAYOUT) {
        pb__prep *p = pb_send__preps_find(&d->preps, c->row->row_no);
        if (p) {
            pb__post_payout(d, c->row->row_no, p->endpoint, &p->body); /* the body is copied */
            pb_send__preps_drop(&d->preps, p);
            return;
        }
        /* not prepared: the body comes from the stored row, built by the store's thread */
        if ((op = pb_send__op_new(d, PB__OP_BODY, 0)) != NULL) {
            op->row_no = c->row->row_no;
            pb_send__op_submit(d, op);
        }
        return;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.project_id = d->o->project_id;
    cfg.secret = d->o->secret;
    cfg.secret_len = d->o->secret_len;
    pb_buf_clear(&d->body);
    rc = pb_gate_status_body(c->row->payment_id, strlen(c->row->payment_id), &cfg, &d->body);
    if (rc < 0) {
        pb_send__fail(d, rc, "cannot build a status query");
        return;
    }
    if (pb__url(d, PB__STATUS_PATH, url, sizeof(url)) == 0)
        pb__post_body(d, c->row->row_no, url, &d->body, 1);
}

static void pb__arm(pb__drv *d, int64_t at_ms);

static void pb__on_timer(uv_timer_t *t)
{
    pb__drv *d = t->data;
    pb_engine_event ev;
    if (d->engine_done)
        return;
    /* libuv times from its cached loop clock, which can run behind the wall clock: the
     * engine was promised a TICK at or after its time, never before */
    if (pb_send__now_ms() < d->timer_at) {
        pb__arm(d, d->timer_at);
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.type = PB_ENGINE_TICK;
    pb__feed(d, &ev);
    pb__pump(d);
}

static void pb__report_progress(pb__drv *d, int final)
{
    pb_engine_stats st;
    pb_send_progress p;
    if (!d->o->on_progress)
        return;
    pb_engine_get_stats(d->engine, &st);
    p.sent = st.posts;
    p.accepted = d->res->accepted_now;
    p.queries = st.queries + d->res->polled;
    p.elapsed_ms = pb_send__now_ms() - d->started_ms;
    p.final = final;
    d->o->on_progress(&p, d->o->progress_arg);
}

static void pb__progress(uv_timer_t *t)
{
    pb__report_progress(t->data, 0);
}

static void pb__on_signal(uv_signal_t *s, int signum)
{
    pb__drv *d = s->data;
    pb_engine_event ev;
    pb_log(PB_LOG_WARN, NULL, "%s: stopping; requests in flight finish first",
           signum == SIGINT ? "SIGINT" : "SIGTERM");
    d->res->stopped_by_signal = 1;
    if (d->engine_done) {
        pb_send__finish(d); /* waiting only: nothing to finish but the wait */
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.type = PB_ENGINE_STOP_REQUESTED;
    pb__feed(d, &ev);
    pb__pump(d);
}

static void pb__http_closed(pb_http_client *c, void *arg)
{
    (void)c, (void)arg;
}

void pb_send__finish(pb__drv *d)
{
    if (d->done)
        return;
    d->done = 1;
    {
        /* ops not started: a claim, a body, a load or a list did nothing yet and are dropped;
         * a COMMIT or MARK records what Gate or a callback already said, so it still goes
         * to the store (its answer is dropped) */
        pb__op *op = d->ops_head, *keep = NULL, *tail = NULL;
        while (op) {
            pb__op *next = op->next;
            op->next = NULL;
            if (op->kind == PB__OP_COMMIT || op->kind == PB__OP_MARK) {
                if (tail)
                    tail->next = op;
                else
                    keep = op;
                tail = op;
            } else {
                pb__op_free(op);
            }
            op = next;
        }
        d->ops_head = keep;
        d->ops_tail = tail;
        if (!d->pumping)
            pb__op_next(d);
    }
    pb_send__wait_stop(d);
    pb_send__callbacks_close(d);
    pb_send__share_close(d);
    /* uv_timer_stop and uv_signal_stop always return 0 (libuv 1.x) */
    (void)uv_timer_stop(&d->timer);
    (void)uv_timer_stop(&d->progress);
    (void)uv_signal_stop(&d->sigint);
    (void)uv_signal_stop(&d->sigterm);
    uv_close((uv_handle_t *)&d->timer, NULL);
    uv_close((uv_handle_t *)&d->progress, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    /* cancelled requests report NOT_SENT / NO_ANSWER; their rows stay sending, which the next
     * run resolves through a status query */
    pb_http_client_close(d->http, pb__http_closed, NULL);
}

static void pb__arm(pb__drv *d, int64_t at_ms)
{
    int64_t wait;
    uv_update_time(&d->loop);
    wait = at_ms - pb_send__now_ms();
    d->timer_at = at_ms;
    /* fails only on a closing handle: after pb_send__finish, when nothing is armed any more */
    (void)uv_timer_start(&d->timer, pb__on_timer, wait > 0 ? (uint64_t)wait : 0, 0);
}

/*
 * Store ops the engine asks for in one pump leave as one chain, after it: dispatched one by
 * one, the first (say a COMMIT) left alone and the next CLAIM waited for it, so claims and
 * commits took turns, each with a transaction and an fsync of its own (half the chains now).
 */
static void pb__pump(pb__drv *d)
{
    d->pumping++;
    pb__pump_cmds(d);
    d->pumping--;
    if (!d->pumping)
        pb__op_next(d);
}

void pb_send__pump(pb__drv *d)
{
    pb__pump(d);
}

static void pb__pump_cmds(pb__drv *d)
{
    pb_engine_cmd c;
    pb_send__load_more(d);
    while (!d->done && !d->engine_done && d->rc == 0 && pb_engine_next(d->engine, &c)) {
        switch (c.type) {
        case PB_ENGINE_CLAIM:
        case PB_ENGINE_DUE:
            pb__rows_cmd(d, &c);
            break;
        case PB_ENGINE_COMMIT:
            pb__commit(d, &c);
            break;
        case PB_ENGINE_POST_PAYOUT:
        case PB_ENGINE_QUERY_STATUS:
            pb__post(d, &c);
            break;
        case PB_ENGINE_TIMER:
            pb__arm(d, c.at_ms);
            break;
        case PB_ENGINE_DONE:
            d->res->reason = c.reason;
            d->engine_done = 1;
            /* --wait: callbacks and polling settle accepted rows before the run ends */
            if (c.reason == PB_ENGINE_FINISHED && (d->o->wait_ms > 0 || d->o->poll_once))
                pb_send__wait_start(d);
            else
                pb_send__finish(d);
            break;
        }
    }
    if (d->rc != 0)
        pb_send__finish(d); /* the store failed: stop; what is committed stays consistent */
}

static int pb__header_map(pb__drv *d)
{
    pb_batch_info info;
    pb_str cells[PB__MAX_CELLS];
    size_t n;
    unsigned errors = 0;
    int rc;

    memset(&info, 0, sizeof(info));
    rc = pb_store_batch_get(d->o->store, d->o->batch_name, &info);
    if (rc < 0)
        return rc;
    rc = pb_store_cells_unpack(info.header, info.header_len, cells, PB__MAX_CELLS, &n);
    if (rc == 0)
        rc = pb_header_map_new(&d->map, cells, n, 1, d->o->rules.default_method != NULL,
                               pb__noop_finding, NULL, &errors);
    if (rc == 0 && errors)
        rc = pb_error_set("the stored header of batch %s does not map", d->o->batch_name);
    pb_batch_info_clear(&info);
    return rc;
}

int pb_send_run(const pb_send_opts *o, pb_send_result *res)
{
    pb__drv d;
    pb_http_client_opts ho;
    pb_engine_event ev;
    int rc;

    memset(&d, 0, sizeof(d));
    memset(res, 0, sizeof(*res));
    d.o = o;
    d.res = res;
    d.started_ms = pb_send__now_ms();
    pb_buf_init(&d.body, PB_GATE_BODY_MAX);
    /* a DUE may ask for every row the engine holds, and claimed rows wait for their POST */
    d.cap = pb_engine_rows_max(o->engine.concurrency);
    if ((rc = pb_send__preps_init(&d.preps, d.cap, PB_GATE_BODY_MAX)) < 0)
        goto out;
    if ((rc = pb__header_map(&d)) < 0)
        goto out;
    {
        /* libuv's timers have millisecond steps and fire a little late: forgive 0.9 of an
         * interval of lateness so the achieved rate stays at the ceiling (any 1 s window still
         * holds at most rate + 1 requests up to 1,000/s, rate + 0.1% above: core/engine.c) */
        pb_engine_config ec = o->engine;
        if (!ec.rate_slack_permille)
            ec.rate_slack_permille = 900;
        ec.loading = o->loader != NULL;
        if (!ec.seed)
            ec.seed = pb__seed();
        rc = pb_engine_new(&d.engine, &ec);
    }
    if (rc < 0)
        goto out;
    if ((rc = uv_loop_init(&d.loop)) != 0) {
        rc = pb_error_set("event loop: %s", uv_strerror(rc));
        goto out;
    }
    memset(&ho, 0, sizeof(ho));
    ho.max_host_connections = o->engine.concurrency ? o->engine.concurrency : 8;
    ho.timeout_ms = o->timeout_ms;
    ho.ca_file = o->ca_file;
    if ((rc = pb_http_client_new(&d.http, &d.loop, &ho)) < 0)
        goto out_loop;
    /* uv_signal_init makes the loop's signal pipe on first use: it can fail (EMFILE); then
     * nothing but the client is open yet, and it closes on its own */
    if ((rc = uv_signal_init(&d.loop, &d.sigint)) != 0) {
        rc = pb_error_set("cannot catch SIGINT/SIGTERM: %s", uv_strerror(rc));
        pb_http_client_close(d.http, pb__http_closed, NULL);
        (void)uv_run(&d.loop, UV_RUN_DEFAULT); /* the client's pending closes */
        pb_http_client_free(d.http);
        goto out_loop;
    }
    if ((rc = uv_signal_init(&d.loop, &d.sigterm)) != 0) {
        rc = pb_error_set("cannot catch SIGINT/SIGTERM: %s", uv_strerror(rc));
        uv_close((uv_handle_t *)&d.sigint, NULL);
        pb_http_client_close(d.http, pb__http_closed, NULL);
        (void)uv_run(&d.loop, UV_RUN_DEFAULT); /* the client's pending closes */
        pb_http_client_free(d.http);
        goto out_loop;
    }
    /* uv_timer_init always returns 0 (libuv 1.x); uv_timer_start fails only on a closing
     * handle, and these were just initialised */
    (void)uv_timer_init(&d.loop, &d.timer);
    (void)uv_timer_init(&d.loop, &d.progress);
    d.timer.data = d.progress.data = d.sigint.data = d.sigterm.data = &d;
    if (o->on_progress) {
        unsigned every = o->progress_every_ms ? o->progress_every_ms : 5000;
        (void)uv_timer_start(&d.progress, pb__progress, every, every);
    }

    if ((rc = uv_signal_start(&d.sigint, pb__on_signal, SIGINT)) != 0 ||
        (rc = uv_signal_start(&d.sigterm, pb__on_signal, SIGTERM)) != 0)
        rc = pb_error_set("cannot catch SIGINT/SIGTERM: %s", uv_strerror(rc));
    else if ((rc = pb_send__share_start(&d)) == 0 && o->callback_listen)
        rc = pb_send__callbacks_start(&d);
    if (rc < 0) {
        pb_send__finish(&d);
        (void)uv_run(&d.loop, UV_RUN_DEFAULT);
        pb_send__callbacks_free(&d);
        pb_send__share_free(&d);
        pb_http_client_free(d.http);
        goto out_loop;
    }
    memset(&ev, 0, sizeof(ev));
    ev.type = PB_ENGINE_TICK;
    pb__feed(&d, &ev);
    pb__pump(&d);
    /* uv_run's result (handles still active) matters only after uv_stop, never called here */
    (void)uv_run(&d.loop, UV_RUN_DEFAULT);
    pb_send__callbacks_free(&d);
    pb_send__share_free(&d);
    pb__report_progress(&d, 1);
    pb_engine_get_stats(d.engine, &res->engine);
    pb_http_client_free(d.http);
out_loop:
    if (uv_loop_close(&d.loop) != 0)
        pb_log(PB_LOG_WARN, NULL, "event loop closed with handles open");
    if (rc == 0)
        rc = d.rc;
out:
    pb_engine_free(d.engine);
    pb_header_map_free(d.map);
    pb_send__preps_free(&d.preps);
    pb_buf_free(&d.body);
    return rc;
}
