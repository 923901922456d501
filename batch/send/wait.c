/*
 * wait.c - what the send driver does besides sending: receive result callbacks on its own
 * loop (--callback-listen), and after dispatch wait for final results (--wait): callbacks
 * first, then status queries for the rows still accepted, a page at a time, within the rate.
 * The poller never sends a payout; what a status answer does to a row is the same pure
 * decision as a callback's (core/callback), applied by compare-and-set.
 */
#include "batch/send/send_int.h"

#include "batch/listen/receiver.h"
#include "batch/net/http_server.h"
#include "batch/util/log.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "formats/gate_request.h"
#include "formats/gate_response.h"

#include <stdio.h>
#include <string.h>

#define PB__STATUS_PATH   "/v2/payment/status"
#define PB__FIRST_PASS_MS 5000 /* callbacks get this long before the first status query */
#define PB__PASS_EVERY_MS 5000 /* then a pass over the accepted rows this often */

/* ---- callbacks ---------------------------------------------------------------------- */

static void pb__srv_closed(pb_http_server *s, void *arg)
{
    pb__drv *d = arg;
    (void)s;
    d->srv_open = 0;
}

static void pb__rcv_closed(pb_receiver *r, void *arg)
{
    pb__drv *d = arg;
    (void)r;
    d->rcv_open = 0;
}

int pb_send__callbacks_start(pb__drv *d)
{
    pb_receiver_opts ro;
    char host[256];
    int port, rc;

    if (pb_http_hostport_parse(d->o->callback_listen, host, sizeof(host), &port) < 0)
        return pb_error_set("--callback-listen %s: use HOST:PORT", d->o->callback_listen),
               PB_EINVAL;
    memset(&ro, 0, sizeof(ro));
    ro.store_uri = d->o->store_uri; /* its own handle: SQLite WAL serves both */
    ro.secret = d->o->secret;
    ro.secret_len = d->o->secret_len;
    ro.project_id = d->o->project_id;
    if ((rc = pb_receiver_new(&d->rcv, &d->loop, &ro)) < 0)
        return rc;
    d->rcv_open = 1;
    if ((rc = pb_http_server_new(&d->srv, &d->loop, NULL, pb_receiver_handle, d->rcv)) < 0)
        return rc;
    d->srv_open = 1;
    if ((rc = pb_http_server_listen(d->srv, host, port)) < 0)
        return pb_error_set("--callback-listen %s: %s", d->o->callback_listen, pb_error_last()), rc;
    pb_log(PB_LOG_INFO, NULL, "receiving result callbacks on %s:%d", host,
           pb_http_server_port(d->srv));
    return 0;
}

void pb_send__callbacks_close(pb__drv *d)
{
    if (d->srv && d->srv_open)
        pb_http_server_close(d->srv, pb__srv_closed, d);
    if (d->rcv && d->rcv_open)
        pb_receiver_close(d->rcv, pb__rcv_closed, d);
}

void pb_send__callbacks_free(pb__drv *d)
{
    pb_http_server_free(d->srv);
    pb_receiver_free(d->rcv);
    d->srv = NULL;
    d->rcv = NULL;
}

/* ---- polling ------------------------------------------------------------------------ */

typedef struct {
    pb__drv *d;
    pb__pollrow row;
} pb__poll;

static void pb__poll_pump(pb__drv *d);

static void pb__poll_timer(uv_timer_t *t)
{
    pb__poll_pump(t->data);
}

static void pb__poll_arm(pb__drv *d, int64_t at_ms)
{
    int64_t wait;
    uv_update_time(&d->loop);
    wait = at_ms - pb_send__now_ms();
    /* fails only on a closing handle: after pb_send__wait_stop, when nothing polls any more */
    (void)uv_timer_start(&d->poll_timer, pb__poll_timer, wait > 0 ? (uint64_t)wait : 0, 0);
}

static void pb__on_poll(const pb_http_result *r, void *payload)
{
    pb__poll *p = payload;
    pb__drv *d = p->d;
    pb_gate_payment pay;
    pb_callback_facts f;
    pb_callback_row row;
    pb_callback_decision dec;
    pb_log_ctx lc = {"poll.status", d->o->batch_name, p->row.row_no, NULL, NULL};

    d->polls_out--;
    d->res->polled++;
    if (d->done)
        goto out;
    if (r->outcome != PB_HTTP_ANSWERED || r->status >= 500 ||
        pb_gate_payment_parse(r->body, r->body_len, d->o->secret, d->o->secret_len, &pay) < 0) {
        pb_log(PB_LOG_DEBUG, &lc, "status query unanswered; asked again in the next pass");
        goto next;
    }
    if (r->status == 429 || r->status == 503) {
        pb_ratelimit_throttle(&d->prl, pb_send__now_ms() * 1000,
                              (r->retry_after_ms >= 0 ? r->retry_after_ms : 1000) * 1000);
        goto next;
    }
    if (pb_gate_status_not_found((int)r->status, &pay)) {
        pb_log(PB_LOG_WARN, &lc, "Gate does not know an accepted payment; left for reconcile");
        goto next;
    }
    if (!pay.signature_ok) {
        pb_log(PB_LOG_WARN, &lc, "a status answer without a valid signature was ignored");
        goto next;
    }
    pb_gate_payment_facts(r->body, r->body_len, &pay, &f);
    row.row_no = p->row.row_no;
    row.state = PB_ROW_ACCEPTED;
    row.amount = p->row.amount;
    row.currency = p->row.currency;
    pb_callback_decide(&row, &f, pb_send__now_ms(), &dec);
    if (dec.verdict == PB_CALLBACK_APPLY) {
        pb__op *op = pb_send__op_new(d, PB__OP_MARK, 0);
        if (op) {
            memcpy(op->own, dec.updates, dec.n * sizeof(dec.updates[0]));
            op->updates = op->own;
            op->n_updates = dec.n;
            pb_send__op_submit(d, op);
        }
    } else if (dec.verdict == PB_CALLBACK_MISMATCH || dec.verdict == PB_CALLBACK_CONFLICT) {
        pb_log(PB_LOG_WARN, &lc, "status answer not applied: %s", dec.why);
    }
next:
    pb__poll_pump(d);
out:
    pb_free(p);
}

static void pb__poll_one(pb__drv *d, const pb__pollrow *row)
{
    pb_gate_cfg cfg;
    char url[2048];
    pb__poll *p = pb_malloc(sizeof(*p));
    if (!p) {
        pb_send__fail(d, PB_ENOMEM, "out of memory");
        return;
    }
    p->d = d;
    p->row = *row;
    memset(&cfg, 0, sizeof(cfg));
    cfg.project_id = d->o->project_id;
    cfg.secret = d->o->secret;
    cfg.secret_len = d->o->secret_len;
    pb_buf_clear(&d->body);
    if (pb_gate_status_body(row->payment_id, strlen(row->payment_id), &cfg, &d->body) < 0) {
        pb_free(p);
        pb_send__fail(d, PB_ERROR, "cannot build a status query");
        return;
    }
    snprintf(url, sizeof(url), "%s%s", d->o->gate_url, PB__STATUS_PATH);
    if (pb_send__post(d, url, &d->body, pb__on_poll, p) < 0) {
        pb_free(p);
        return;
    }
    d->polls_out++;
}

/* Hand out what the rate allows; fetch the next page; end the run when the wait is over or no
 * row is left to settle. */
static void pb__poll_pump(pb__drv *d)
{
    int64_t now = pb_send__now_ms();
    unsigned conc = d->o->engine.concurrency ? d->o->engine.concurrency : 8;

    if (d->done)
        return;
    if (d->rc || (now >= d->wait_until && (!d->o->poll_once || d->passes > 0))) {
        pb_send__finish(d);
        return;
    }
    if (now < d->next_pass_at) {
        pb__poll_arm(d, d->next_pass_at < d->wait_until ? d->next_pass_at : d->wait_until);
        return;
    }
    while (d->page_pos < d->page_n && d->polls_out < conc) {
        if (pb_ratelimit_take(&d->prl, now * 1000) != PB_OK) {
            int64_t at = (pb_ratelimit_next_us(&d->prl, now * 1000) + 999) / 1000;
            pb__poll_arm(d, at < d->wait_until || d->o->poll_once ? at : d->wait_until);
            return;
        }
        pb__poll_one(d, &d->page[d->page_pos++]);
        if (d->done || d->rc)
            return;
    }
    if (d->page_pos >= d->page_n && !d->list_out && d->polls_out == 0) {
        pb__op *op = pb_send__op_new(d, PB__OP_LIST, PB_SEND__PAGE);
        if (!op)
            return;
        op->row_no = d->cursor;
        d->list_out = 1;
        pb_send__op_submit(d, op);
        return;
    }
    /* the wait ends on its own even if nothing else happens */
    if (!d->o->poll_once || d->passes > 0)
        pb__poll_arm(d, d->wait_until);
}

void pb_send__wait_listed(pb__drv *d, pb__op *op)
{
    size_t i;
    d->list_out = 0;
    if (d->done)
        return;
    if (d->peek) {
        d->peek = 0;
        pb_store_rows_clear(op->rows, op->n);
        if (op->n == 0) { /* nothing accepted: nothing to wait for */
            pb_send__finish(d);
            return;
        }
        op->n = 0;
        pb__poll_pump(d); /* the callbacks' head start, then the first pass */
        return;
    }
    if (op->n == 0) {
        /* end of a pass: nothing accepted at all means every row is settled */
        if (d->cursor == 0) {
            pb_send__finish(d);
            return;
        }
        d->cursor = 0;
        d->passes++;
        d->next_pass_at = pb_send__now_ms() + PB__PASS_EVERY_MS;
        pb__poll_pump(d);
        return;
    }
    for (i = 0; i < op->n; i++) {
        pb__pollrow *p = &d->page[i];
        memset(p, 0, sizeof(*p));
        p->row_no = op->rows[i].row_no;
        p->amount = op->rows[i].amount;
        pb_row_field_set(p->currency, sizeof(p->currency) - 1, op->rows[i].currency,
                         strlen(op->rows[i].currency));
        pb_row_field_set(p->payment_id, PB_ROW_ID_MAX, op->rows[i].payment_id,
                         strlen(op->rows[i].payment_id));
    }
    pb_store_rows_clear(op->rows, op->n);
    op->n = 0;
    d->page_n = i;
    d->page_pos = 0;
    d->cursor = d->page[i - 1].row_no;
    pb__poll_pump(d);
}

void pb_send__wait_start(pb__drv *d)
{
    pb_ratelimit_config rc = {.rate_milli =
                                  d->o->engine.rate_milli ? d->o->engine.rate_milli : 10000,
                              .slack_permille = 900};
    int64_t now = pb_send__now_ms();
    d->waiting = 1;
    d->wait_until = now + d->o->wait_ms;
    /* with a callback receiver, results come by themselves first; without one, ask at once */
    d->next_pass_at = d->rcv ? now + (d->o->wait_ms / 3 < PB__FIRST_PASS_MS ? d->o->wait_ms / 3
                                                                            : PB__FIRST_PASS_MS)
                             : now;
    if (pb_ratelimit_init(&d->prl, &rc) < 0) {
        pb_send__fail(d, PB_EINVAL, "rate limit");
        pb_send__finish(d);
        return;
    }
    if (uv_timer_init(&d->loop, &d->poll_timer) == 0) {
        d->poll_timer_init = 1;
        d->poll_timer.data = d;
    }
    pb_log(PB_LOG_INFO, NULL, "dispatch done; waiting up to %lld s for results",
           (long long)(d->o->wait_ms / 1000));
    if (now < d->next_pass_at) {
        /* a look at the first page before the callbacks' head start: a batch with nothing
         * accepted (all settled already) ends now, not after it */
        pb__op *op = pb_send__op_new(d, PB__OP_LIST, PB_SEND__PAGE);
        if (!op)
            return;
        op->row_no = 0;
        d->list_out = 1;
        d->peek = 1;
        pb_send__op_submit(d, op);
        return;
    }
    pb__poll_pump(d);
}

void pb_send__wait_stop(pb__drv *d)
{
    if (d->poll_timer_init) {
        (void)uv_timer_stop(&d->poll_timer); /* returns 0 always */
        uv_close((uv_handle_t *)&d->poll_timer, NULL);
        d->poll_timer_init = 0;
    }
}
