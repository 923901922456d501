/*
 * share.c - a `send` worker among several on one batch (PostgreSQL; docs/SEND_DESIGN.md):
 * the heartbeat that keeps this worker's leases, and the shared rate.
 *
 * Both talk to the database through a handle of their own (a second connection, on a libuv
 * worker thread of its own, one statement at a time), so a heartbeat or a token block never
 * waits behind the run's commits.
 *
 * Rate: every request of the driver (payouts, status queries, the poller's) passes
 * pb_send__share_post, which holds it until this worker owns a slot of the project's shared
 * budget: blocks of slots (100 ms worth) are taken from one GCRA row in the database
 * (pb_store_rate_take, one round trip per block) and spent here, one request per slot, each
 * inside its own interval; a slot that passes unused is lost. A 429 / Retry-After seen here
 * pauses the row (pb_store_rate_pause), so every worker's next block starts after it.
 *
 * Leases: renewed every lease/3. A request leaves only while the last renewal is fresh enough
 * that it ends (timeout) before the leases could lapse; past that it waits for a renewal, and
 * when the leases may have lapsed (no renewal for a whole lease) the run stops (PB_EAGAIN,
 * exit 75): another worker may own this worker's rows by then.
 */
#include "batch/send/send_int.h"

#include "batch/util/log.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "formats/gate_request.h"

#include <stdio.h>
#include <string.h>

typedef struct pb__held {
    struct pb__held *next;
    char *url;
    pb_buf body;
    pb_http_client_cb cb;
    void *payload;
} pb__held;

enum { PB__W_NONE = 0, PB__W_RENEW, PB__W_PAUSE, PB__W_TAKE };

struct pb_share {
    pb__drv *d;
    pb_store *st; /* the coordination handle */
    char key[2200];
    int64_t interval_us, lease_us, timeout_us;
    uint32_t block;
    /* slots: the current block and the one taken ahead (times on the monotonic clock, µs) */
    int64_t slot_at, next_at;
    uint32_t slots, next_slots;
    int64_t lease_ok; /* when the last successful renewal was sent */
    pb__held *head, *tail;
    size_t n_held;
    /* the database work, one at a time */
    uv_work_t work;
    int busy, kind, want_renew, want_take;
    int64_t want_pause_ms, pause_ms;
    int rc;
    char err[512];
    int64_t t_sent, t_done, start_in;
    uv_timer_t slot_timer, renew_timer;
    int closing;
    uint64_t blocks, renewals; /* figures for the log */
};

static int64_t pb__mono_us(void)
{
    return (int64_t)(uv_hrtime() / 1000);
}

static void pb__pump(pb_share *s);
static void pb__arm(pb_share *s, int64_t at_us);

static void pb__work(uv_work_t *w)
{
    pb_share *s = w->data;
    uint64_t n = 0;
    pb_error_clear();
    s->t_sent = pb__mono_us();
    switch (s->kind) {
    case PB__W_RENEW:
        s->rc = pb_store_lease_renew(s->st, s->d->o->batch, &n);
        break;
    case PB__W_PAUSE:
        s->rc = pb_store_rate_pause(s->st, s->key, s->pause_ms);
        break;
    case PB__W_TAKE:
        s->rc = pb_store_rate_take(s->st, s->key, s->interval_us, s->block, &s->start_in);
        break;
    }
    s->t_done = pb__mono_us();
    if (s->rc < 0)
        snprintf(s->err, sizeof(s->err), "%s", pb_error_last());
}

/* The leases may have lapsed: stop the run (what is in flight ends before they could). */
static void pb__lost(pb_share *s, const char *why)
{
    pb_error_set("this worker could not renew its leases in time (%s): the other workers may "
                 "take its rows over; stopping (run it again to go on)",
                 why);
    pb_send__fail(s->d, PB_EAGAIN, "leases");
    pb_send__finish(s->d);
}

static void pb__after(uv_work_t *w, int status)
{
    pb_share *s = w->data;
    int kind = s->kind;
    s->busy = 0;
    if (s->closing)
        return;
    if (status != 0 && s->rc == 0)
        s->rc = PB_ERROR;
    if (s->rc < 0) {
        pb_log(PB_LOG_WARN, NULL, "shared batch: %s: %s",
               kind == PB__W_RENEW   ? "renewing leases"
               : kind == PB__W_PAUSE ? "pausing the shared rate"
                                     : "taking rate slots",
               s->err);
        if (kind == PB__W_RENEW)
            s->want_renew = 1; /* again at the next tick of the renewal timer */
        if (kind == PB__W_TAKE) {
            /* a second later: the pump asks again when a slot is still wanted */
            s->want_take = 0;
            pb__arm(s, pb__mono_us() + 1000000);
            return;
        }
    } else if (kind == PB__W_RENEW) {
        /* continuity: the renewal ran before the previous leases could lapse, so no row of
         * this worker was taken over meanwhile */
        if (s->t_done < s->lease_ok + s->lease_us)
            s->lease_ok = s->t_sent;
        s->renewals++;
    } else if (kind == PB__W_TAKE) {
        /* the database's "now" lies between sending and the answer: take the middle */
        int64_t at = s->t_sent + (s->t_done - s->t_sent) / 2 + s->start_in;
        int64_t end = s->slots ? s->slot_at + (int64_t)s->slots * s->interval_us : 0;
        if (at < end)
            at = end; /* never overlap the block before (the row issued them in order) */
        if (!s->slots) {
            s->slot_at = at;
            s->slots = s->block;
        } else {
            s->next_at = at;
            s->next_slots = s->block;
        }
        s->want_take = 0;
        s->blocks++;
    }
    pb__pump(s);
}

static void pb__kick(pb_share *s)
{
    int rc;
    if (s->busy || s->closing)
        return;
    if (s->want_renew) {
        s->kind = PB__W_RENEW;
        s->want_renew = 0;
    } else if (s->want_pause_ms >= 0) {
        s->kind = PB__W_PAUSE;
        s->pause_ms = s->want_pause_ms;
        s->want_pause_ms = -1;
    } else if (s->want_take == 1) {
        s->kind = PB__W_TAKE;
        s->want_take = 2; /* out */
    } else {
        return;
    }
    s->rc = 0;
    s->work.data = s;
    if ((rc = uv_queue_work(&s->d->loop, &s->work, pb__work, pb__after)) != 0) {
        pb_error_set("cannot queue store work: %s", uv_strerror(rc));
        pb_send__fail(s->d, PB_ERROR, "shared batch");
        pb_send__finish(s->d);
        return;
    }
    s->busy = 1;
}

static void pb__on_slot(uv_timer_t *t)
{
    pb__pump(t->data);
}

static void pb__arm(pb_share *s, int64_t at_us)
{
    int64_t wait = (at_us - pb__mono_us() + 999) / 1000;
    /* fails only on a closing handle */
    (void)uv_timer_start(&s->slot_timer, pb__on_slot, wait > 0 ? (uint64_t)wait : 0, 0);
}

static void pb__pump(pb_share *s)
{
    pb__drv *d = s->d;
    while (s->head && !s->closing && !d->done) {
        int64_t now = pb__mono_us();
        if (now >= s->lease_ok + s->lease_us) {
            pb__lost(s, "no renewal for a whole lease");
            return;
        }
        if (now + s->timeout_us + 1000000 >= s->lease_ok + s->lease_us) {
            /* a request sent now could outlive the leases: wait for a renewal */
            s->want_renew = 1;
            pb__arm(s, now + 100000);
            break;
        }
        if (s->slots && s->slot_at + s->interval_us <= now) {
            int64_t gone = (now - s->slot_at) / s->interval_us; /* passed unused: lost */
            if (gone >= (int64_t)s->slots) {
                s->slots = 0;
            } else {
                s->slots -= (uint32_t)gone;
                s->slot_at += gone * s->interval_us;
            }
        }
        if (!s->slots && s->next_slots) {
            s->slot_at = s->next_at;
            s->slots = s->next_slots;
            s->next_slots = 0;
            continue;
        }
        if (!s->slots) {
            if (!s->want_take)
                s->want_take = 1;
            break;
        }
        if (s->slot_at > now) {
            pb__arm(s, s->slot_at);
            break;
        }
        {
            pb__held *h = s->head;
            s->head = h->next;
            if (!s->head)
                s->tail = NULL;
            s->n_held--;
            s->slots--;
            s->slot_at += s->interval_us;
            /* a failure fails the run (the callback will never run) */
            (void)pb_send__post_now(d, h->url, h->body.ptr, h->body.len, h->cb, h->payload);
            pb_free(h->url);
            pb_buf_free(&h->body);
            pb_free(h);
        }
    }
    /* take the next block ahead while this one is being spent */
    if (s->head && !s->want_take && !s->next_slots && s->n_held > s->slots)
        s->want_take = 1;
    pb__kick(s);
}

int pb_send__share_post(pb__drv *d, const char *url, const pb_buf *body, pb_http_client_cb cb,
                        void *payload)
{
    pb_share *s = d->share;
    pb__held *h;
    if (s->closing) /* the run ended: the closed client answers it as not sent */
        return pb_send__post_now(d, url, body->ptr, body->len, cb, payload);
    h = pb_calloc(1, sizeof(*h));
    if (!h || !(h->url = pb_strdup(url))) {
        pb_free(h);
        pb_send__fail(d, PB_ENOMEM, "out of memory");
        return PB_ENOMEM;
    }
    pb_buf_init(&h->body, PB_GATE_BODY_MAX);
    if (body->len && pb_buf_put(&h->body, body->ptr, body->len) < 0) {
        pb_free(h->url);
        pb_free(h);
        pb_send__fail(d, PB_ENOMEM, "out of memory");
        return PB_ENOMEM;
    }
    h->cb = cb;
    h->payload = payload;
    if (s->tail)
        s->tail->next = h;
    else
        s->head = h;
    s->tail = h;
    s->n_held++;
    pb__pump(s);
    return PB_OK;
}

void pb_send__share_throttled(pb__drv *d, int64_t retry_after_ms)
{
    pb_share *s = d->share;
    int64_t ms = retry_after_ms >= 0 ? retry_after_ms : 1000;
    if (!s || s->closing)
        return;
    if (ms > 60000)
        ms = 60000; /* as the engine clamps it */
    if (ms > s->want_pause_ms)
        s->want_pause_ms = ms;
    /* this worker's own slots go too: the next block starts after the pause */
    s->slots = s->next_slots = 0;
    pb__kick(s);
}

static void pb__on_renew(uv_timer_t *t)
{
    pb_share *s = t->data;
    s->want_renew = 1;
    pb__pump(s);
}

int pb_send__share_start(pb__drv *d)
{
    const pb_send_opts *o = d->o;
    pb_share *s;
    int64_t rate_milli = o->engine.rate_milli ? o->engine.rate_milli : 10000;
    int rc;
    if (!o->worker || !o->worker[0])
        return PB_OK;
    s = pb_calloc(1, sizeof(*s));
    if (!s)
        return pb_error_set("out of memory"), PB_ENOMEM;
    s->d = d;
    s->want_pause_ms = -1;
    s->interval_us = 1000000000 / rate_milli;
    if (s->interval_us < 1)
        s->interval_us = 1;
    s->block = (uint32_t)(rate_milli / 10000 > 1 ? rate_milli / 10000 : 1); /* 100 ms worth */
    s->lease_us = o->lease_ms * 1000;
    s->timeout_us = (int64_t)(o->timeout_ms > 0 ? o->timeout_ms : 30000) * 1000;
    snprintf(s->key, sizeof(s->key), "project=%lld gate=%s", (long long)o->project_id, o->gate_url);
    if ((rc = pb_store_open(&s->st, o->store_uri)) < 0 ||
        (rc = pb_store_lease_begin(s->st, o->worker, o->lease_ms)) < 0) {
        pb_store_free(s->st);
        pb_free(s);
        return rc;
    }
    /* the driver's claims lease rows from now on: as fresh as a renewal sent now */
    s->lease_ok = pb__mono_us();
    (void)uv_timer_init(&d->loop, &s->slot_timer); /* always 0 (libuv 1.x) */
    (void)uv_timer_init(&d->loop, &s->renew_timer);
    s->slot_timer.data = s->renew_timer.data = s;
    (void)uv_timer_start(&s->renew_timer, pb__on_renew, (uint64_t)o->lease_ms / 3,
                         (uint64_t)o->lease_ms / 3);
    d->share = s;
    pb_log(PB_LOG_INFO, NULL,
           "shared batch: worker %s, leases of %lld ms, rate slots in blocks of %u", o->worker,
           (long long)o->lease_ms, s->block);
    return PB_OK;
}

/* Requests still held never left: they end as NOT_SENT (their rows go back to queued). */
void pb_send__share_close(pb__drv *d)
{
    pb_share *s = d->share;
    pb_http_result r;
    if (!s || s->closing)
        return;
    s->closing = 1;
    (void)uv_timer_stop(&s->slot_timer);
    (void)uv_timer_stop(&s->renew_timer);
    uv_close((uv_handle_t *)&s->slot_timer, NULL);
    uv_close((uv_handle_t *)&s->renew_timer, NULL);
    memset(&r, 0, sizeof(r));
    r.outcome = PB_HTTP_NOT_SENT;
    r.retry_after_ms = -1;
    r.body = "";
    r.curl_code = -1;
    r.error = "the run ended before a rate slot came";
    while (s->head) {
        pb__held *h = s->head;
        s->head = h->next;
        h->cb(&r, h->payload);
        pb_free(h->url);
        pb_buf_free(&h->body);
        pb_free(h);
    }
    s->tail = NULL;
    s->n_held = 0;
}

void pb_send__share_free(pb__drv *d)
{
    pb_share *s = d->share;
    if (!s)
        return;
    pb_log(PB_LOG_DEBUG, NULL, "shared batch: %llu rate blocks, %llu lease renewals",
           (unsigned long long)s->blocks, (unsigned long long)s->renewals);
    pb_store_free(s->st);
    pb_free(s);
    d->share = NULL;
}
