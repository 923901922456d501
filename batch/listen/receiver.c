/*
 * receiver.c - verify on the loop, record on a worker, answer after the commit (receiver.h).
 */
#include "batch/listen/receiver.h"

#include "batch/util/log.h"
#include "core/alloc.h"
#include "core/assert.h"
#include "core/callback.h"
#include "core/errors.h"
#include "core/json_scan.h"
#include "formats/gate_response.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define PB__DEFAULT_PENDING 1024u
#define PB__MARK_TRIES      4

typedef struct pb__job pb__job;

struct pb__job {
    pb__job *next;
    pb_receiver *r;
    pb_http_exchange *ex;
    const char *body; /* borrowed from the request: valid until the exchange is answered */
    size_t body_len;
    int64_t received_at_ms;
    int other_project; /* signed, but for another project id: inbox only */
    pb_gate_payment pay;
    pb_callback_facts facts;
    /* results, written by the worker */
    int rc; /* < 0: the store failed (message in err) */
    int found;
    uint64_t batch;
    uint32_t row_no;
    pb_row_state before, after;
    char account[PB_STORE_ACCOUNT_MAX + 1];
    pb_callback_verdict verdict;
    const char *why;
    char err[256];
};

struct pb_receiver {
    uv_loop_t *loop;
    pb_store *store;
    int own_store;
    char *secret;
    size_t secret_len;
    unsigned max_pending;
    int64_t project_id;
    char retry_after[48];
    int64_t (*now_ms)(void *clock);
    void *clock;
    pb__job *head, *tail; /* waiting for the worker */
    size_t queued;
    pb__job *running; /* in the worker: a chain through next */
    size_t n_running;
    uv_work_t work;
    int closing, closed;
    void (*close_cb)(pb_receiver *r, void *arg);
    void *close_arg;
    pb_receiver_stats stats;
};

static int64_t pb__wall_ms(pb_receiver *r)
{
    uv_timeval64_t tv;
    if (r->now_ms)
        return r->now_ms(r->clock);
    if (uv_gettimeofday(&tv) != 0)
        return 0;
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int pb_receiver_new(pb_receiver **out, uv_loop_t *loop, const pb_receiver_opts *o)
{
    pb_receiver *r = NULL;
    int rc;

    *out = NULL;
    if (!loop || !o || !o->secret || o->secret_len == 0 || (!o->store_uri == !o->store)) {
        pb_error_set("receiver: a loop, a secret and one store (uri or handle) are needed");
        rc = PB_EINVAL;
        goto out;
    }
    if (!(r = pb_calloc(1, sizeof(*r)))) {
        rc = PB_ENOMEM;
        pb_error_set("receiver: out of memory");
        goto out;
    }
    r->loop = loop;
    r->max_pending = o->max_pending ? o->max_pending : PB__DEFAULT_PENDING;
    r->project_id = o->project_id;
    snprintf(r->retry_after, sizeof(r->retry_after), "Retry-After: %u\r\n",
             o->retry_after_s ? o->retry_after_s : 1u);
    r->now_ms = o->now_ms;
    r->clock = o->clock;
    if (!(r->secret = pb_malloc(o->secret_len + 1))) {
        rc = PB_ENOMEM;
        pb_error_set("receiver: out of memory");
        goto out;
    }
    memcpy(r->secret, o->secret, o->secret_len);
    r->secret[o->secret_len] = '\0';
    r->secret_len = o->secret_len;
    if (o->store) {
        r->store = o->store;
    } else {
        if ((rc = pb_store_open(&r->store, o->store_uri)) < 0)
            goto out;
        r->own_store = 1;
    }
    *out = r;
    r = NULL;
    rc = PB_OK;
out:
    pb_receiver_free(r);
    return rc;
}

void pb_receiver_free(pb_receiver *r)
{
    if (!r)
        return;
    PB_ASSERT(!r->running && !r->head);
    if (r->own_store)
        pb_store_free(r->store);
    if (r->secret) {
        for (volatile char *p = r->secret; r->secret_len > 0; r->secret_len--)
            *p++ = 0;
        pb_free(r->secret);
    }
    pb_free(r);
}

size_t pb_receiver_pending(const pb_receiver *r)
{
    return r->queued + r->n_running;
}

void pb_receiver_get_stats(const pb_receiver *r, pb_receiver_stats *out)
{
    *out = r->stats;
}

/* ---- the worker ------------------------------------------------------------------- */

static void pb__job_err(pb__job *j, int rc, const char *what)
{
    j->rc = rc;
    snprintf(j->err, sizeof(j->err), "%s: %s", what, pb_error_last());
}

/* Runs on a libuv worker thread: touches only the job and the store (one job at a time). */
static void pb__record(pb__job *j)
{
    pb_store *st = j->r->store;
    pb_store_row row;
    pb_store_inbox_rec rec;
    pb_callback_decision d;
    int rc, tries, logged = 0;

    memset(&row, 0, sizeof(row));
    j->verdict = PB_CALLBACK_SAME;
    j->why = "";
    for (tries = 0; tries < PB__MARK_TRIES && !j->other_project; tries++) {
        pb_callback_row cr;
        size_t applied = 0;

        pb_store_row_clear(&row);
        rc = j->pay.payment_id[0] ? pb_store_row_by_payment_id(st, j->pay.payment_id,
                                                               strlen(j->pay.payment_id), &row)
                                  : PB_ENOTFOUND;
        if (rc == PB_ENOTFOUND) {
            j->found = 0;
            break;
        }
        if (rc < 0) {
            pb__job_err(j, rc, "reading the row");
            goto out;
        }
        j->found = 1;
        j->batch = row.batch;
        j->row_no = row.row_no;
        j->before = j->after = row.state;
        memcpy(j->account, row.account_masked, sizeof(j->account));
        cr.row_no = row.row_no;
        cr.state = row.state;
        cr.amount = row.amount;
        cr.currency = row.currency;
        pb_callback_decide(&cr, &j->facts, j->received_at_ms, &d);
        j->verdict = d.verdict;
        j->why = d.why;
        if (!logged) {
            /* the raw callback first: what Gate said is kept whatever the row does */
            memset(&rec, 0, sizeof(rec));
            rec.received_at_ms = j->received_at_ms;
            rec.body = j->body;
            rec.body_len = j->body_len;
            rec.payment_id = j->pay.payment_id;
            rec.matched = d.verdict != PB_CALLBACK_MISMATCH;
            rec.batch = rec.matched ? row.batch : 0;
            rec.row_no = rec.matched ? row.row_no : 0;
            if ((rc = pb_store_inbox_put(st, &rec)) < 0) {
                pb__job_err(j, rc, "keeping the callback");
                goto out;
            }
            logged = 1;
        }
        if (d.verdict != PB_CALLBACK_APPLY)
            goto out;
        if ((rc = pb_store_mark(st, row.batch, d.updates, d.n, &applied)) < 0) {
            pb__job_err(j, rc, "recording the state");
            goto out;
        }
        if (applied > 0) {
            j->after = d.updates[d.n - 1].to;
            if (applied < d.n) /* success -> reversed applied, the first update was late */
                j->after = PB_ROW_REVERSED;
            goto out;
        }
        /* the row moved meanwhile (a concurrent send): read it again, decide again */
    }
    if (tries == PB__MARK_TRIES) {
        j->rc = PB_EAGAIN;
        snprintf(j->err, sizeof(j->err), "the row kept changing while recording");
        goto out;
    }
    /* unknown payment id (or none), or another project's: the inbox keeps it */
    memset(&rec, 0, sizeof(rec));
    rec.received_at_ms = j->received_at_ms;
    rec.body = j->body;
    rec.body_len = j->body_len;
    rec.payment_id = j->pay.payment_id;
    if ((rc = pb_store_inbox_put(st, &rec)) < 0)
        pb__job_err(j, rc, "keeping the callback");
out:
    pb_store_row_clear(&row);
}

/* Every callback that waited is recorded in one store group (one durable commit for all of
 * them: callbacks come in bursts, and an fsync per callback capped intake at a few hundred a
 * second). Each one's inbox line and row change are one step of it: both or neither; none is
 * answered before the group committed, and when the commit fails none is answered 200 (Gate
 * sends them again). */
static void pb__work(uv_work_t *w)
{
    pb__job *head = w->data, *j;
    int rc;

    if ((rc = pb_store_group_begin(head->r->store)) < 0) {
        for (j = head; j; j = j->next)
            pb__job_err(j, rc, "starting a transaction");
        return;
    }
    for (j = head; j; j = j->next)
        pb__record(j);
    if ((rc = pb_store_group_end(head->r->store)) < 0) {
        for (j = head; j; j = j->next)
            if (j->rc == 0)
                pb__job_err(j, rc, "committing the callback");
    }
}

static void pb__kick(pb_receiver *r);

static void pb__log_job(pb_receiver *r, const pb__job *j)
{
    char batch[24];
    pb_log_ctx c;

    memset(&c, 0, sizeof(c));
    snprintf(batch, sizeof(batch), "%" PRIu64, j->batch);
    c.payment_id = j->pay.payment_id[0] ? j->pay.payment_id : NULL;
    c.code = j->pay.op_code[0] ? j->pay.op_code : NULL;
    if (j->rc < 0) {
        r->stats.store_errors++;
        r->stats.busy++;
        c.event = "callback.store_error";
        pb_log(PB_LOG_ERROR, &c, "callback not recorded (answered 503): %s", j->err);
        return;
    }
    if (j->other_project) {
        r->stats.other_project++;
        c.event = "callback.other_project";
        pb_log(PB_LOG_WARN, &c,
               "callback for project %s%" PRId64 ", not %" PRId64
               " (--project-id): no row changed; kept in the inbox",
               j->pay.project_id_seen == 1 ? "" : "(unreadable) ",
               j->pay.project_id_seen == 1 ? j->pay.project_id : 0, r->project_id);
        return;
    }
    if (!j->found) {
        r->stats.unknown++;
        c.event = "callback.unknown";
        pb_log(PB_LOG_WARN, &c,
               "callback for a payment id unknown to the store (status %s); kept "
               "in the inbox",
               j->pay.payment_status[0] ? j->pay.payment_status : "-");
        return;
    }
    c.batch = batch;
    c.row = j->row_no;
    switch (j->verdict) {
    case PB_CALLBACK_APPLY:
        r->stats.applied++;
        c.event = "callback.applied";
        pb_log(PB_LOG_INFO, &c, "row %s -> %s (gate status %s, account %s)",
               pb_row_state_name(j->before), pb_row_state_name(j->after), j->pay.payment_status,
               j->account);
        break;
    case PB_CALLBACK_SAME:
        r->stats.same++;
        c.event = "callback.duplicate";
        pb_log(PB_LOG_DEBUG, &c, "row already %s", pb_row_state_name(j->before));
        break;
    case PB_CALLBACK_STALE:
        r->stats.stale++;
        c.event = "callback.stale";
        pb_log(PB_LOG_INFO, &c, "row %s: %s callback ignored (%s)", pb_row_state_name(j->before),
               j->pay.payment_status, j->why);
        break;
    case PB_CALLBACK_CONFLICT:
        r->stats.conflict++;
        c.event = "callback.conflict";
        pb_log(PB_LOG_WARN, &c, "row %s: %s callback not applied (%s; account %s)",
               pb_row_state_name(j->before), j->pay.payment_status, j->why, j->account);
        break;
    case PB_CALLBACK_MISMATCH:
        r->stats.mismatch++;
        c.event = "callback.mismatch";
        pb_log(PB_LOG_WARN, &c,
               "row %s: callback not applied: %s (callback %s%" PRId64 " %s); kept in the inbox",
               pb_row_state_name(j->before), j->why, j->facts.amount_ok ? "" : "unreadable ",
               j->facts.amount_ok ? j->facts.amount : 0, j->facts.currency);
        break;
    }
}

static void pb__after_work(uv_work_t *w, int status)
{
    pb__job *j = w->data;
    pb_receiver *r = j->r;

    r->running = NULL;
    r->n_running = 0;
    while (j) {
        pb__job *next = j->next;
        if (status != 0 && j->rc == 0) {
            j->rc = PB_ERROR;
            snprintf(j->err, sizeof(j->err), "worker: %s", uv_strerror(status));
        }
        pb__log_job(r, j);
        if (j->rc < 0)
            (void)pb_http_respond_error(j->ex, 503, "callback not recorded; retry", r->retry_after);
        else
            (void)pb_http_respond(j->ex, 200, "text/plain", NULL, "OK", 2);
        /* (a dead connection makes respond return PB_EIO: the exchange is freed all the same) */
        pb_free(j);
        j = next;
    }
    pb__kick(r);
}

static void pb__kick(pb_receiver *r)
{
    pb__job *j;
    int rc;

    if (!r->running && r->head) {
        /* everything that waited goes to the worker as one chain */
        j = r->head;
        r->running = j;
        r->n_running = r->queued;
        r->head = r->tail = NULL;
        r->queued = 0;
        r->work.data = j;
        if ((rc = uv_queue_work(r->loop, &r->work, pb__work, pb__after_work)) != 0) {
            r->running = NULL;
            r->n_running = 0;
            pb_log(PB_LOG_ERROR, NULL, "callback: cannot queue store work: %s", uv_strerror(rc));
            while (j) {
                pb__job *next = j->next;
                r->stats.busy++;
                (void)pb_http_respond_error(j->ex, 503, "busy", r->retry_after);
                pb_free(j);
                j = next;
            }
        }
    }
    if (r->closing && !r->running && !r->head && !r->closed) {
        r->closed = 1;
        if (r->close_cb)
            r->close_cb(r, r->close_arg);
    }
}

void pb_receiver_close(pb_receiver *r, void (*cb)(pb_receiver *r, void *arg), void *arg)
{
    if (!r || r->closing)
        return;
    r->closing = 1;
    r->close_cb = cb;
    r->close_arg = arg;
    pb__kick(r);
}

/* ---- the handler (loop thread) ---------------------------------------------------- */

static void pb__facts(pb__job *j, const pb_http_request *req)
{
    pb_gate_payment_facts(req->body, req->body_len, &j->pay, &j->facts);
}

void pb_receiver_handle(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    pb_receiver *r = ctx;
    pb__job *j = NULL;
    pb_log_ctx c;
    int rc;

    memset(&c, 0, sizeof(c));
    r->stats.received++;
    if (strcmp(req->method, "POST") != 0) {
        r->stats.bad_method++;
        (void)pb_http_respond_error(ex, 405, "Method not allowed", "Allow: POST\r\n");
        return;
    }
    if (r->closing || pb_receiver_pending(r) >= r->max_pending) {
        r->stats.busy++;
        (void)pb_http_respond_error(ex, 503, "busy; retry", r->retry_after);
        return;
    }
    if (!(j = pb_calloc(1, sizeof(*j)))) {
        r->stats.busy++;
        (void)pb_http_respond_error(ex, 503, "out of memory; retry", r->retry_after);
        return;
    }
    rc = pb_gate_payment_parse(req->body, req->body_len, r->secret, r->secret_len, &j->pay);
    if (rc == PB_ENOMEM) {
        r->stats.busy++;
        (void)pb_http_respond_error(ex, 503, "out of memory; retry", r->retry_after);
        goto out;
    }
    if (rc < 0) {
        r->stats.not_json++;
        c.event = "callback.not_json";
        pb_log(PB_LOG_WARN, &c, "callback refused (400): not a JSON object (%zu bytes)",
               req->body_len);
        (void)pb_http_respond_error(ex, 400, "not a JSON object", NULL);
        goto out;
    }
    if (!j->pay.signature_ok) {
        r->stats.bad_signature++;
        c.event = "callback.bad_signature";
        c.payment_id = j->pay.payment_id[0] ? j->pay.payment_id : NULL;
        pb_log(PB_LOG_WARN, &c, "callback refused (400): signature missing or wrong");
        (void)pb_http_respond_error(ex, 400, "signature missing or wrong", NULL);
        goto out;
    }
    j->r = r;
    j->ex = ex;
    j->body = req->body;
    j->body_len = req->body_len;
    j->received_at_ms = pb__wall_ms(r);
    /* the secret is per project, so this is rare (two projects sharing one key): such a
     * callback never changes a row of this project's batches */
    j->other_project = r->project_id && j->pay.project_id_seen &&
                       (j->pay.project_id_seen < 0 || j->pay.project_id != r->project_id);
    pb__facts(j, req);
    if (r->tail)
        r->tail->next = j;
    else
        r->head = j;
    r->tail = j;
    r->queued++;
    j = NULL;
    pb__kick(r);
out:
    pb_free(j);
}
