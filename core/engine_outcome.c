/* engine_outcome.c - what the answer to a payout or a status query means for its row
 * (SPEC 5), and the retry, budget and throttle decisions that follow from it. */
#include "core/callback.h"
#include "core/engine_int.h"

#include "core/errors.h"

#include <stdio.h>
#include <string.h>

uint64_t pb__eng_rand(pb_engine *e)
{
    /* splitmix64: the engine's jitter, seeded from the config and each event's rnd */
    uint64_t z = (e->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#define PB__SET(dst, src) pb_row_field_set((dst), sizeof(dst) - 1, (src), strlen(src))

static int64_t pb__throttle(pb_engine *e, int64_t retry_after_ms)
{
    int64_t ra = retry_after_ms < 0 ? e->cfg.retry_after_default_ms : retry_after_ms;
    /* a gateway that only ever throttles is a gateway that refuses: give the run up rather
     * than wait forever (every row stays queued: nothing was sent) */
    if (++e->throttles_in_row > PB_ENGINE_THROTTLES_MAX)
        e->gave_up = 1;
    if (ra > e->cfg.retry_after_max_ms)
        ra = e->cfg.retry_after_max_ms;
    pb_ratelimit_throttle(&e->rl, e->now * 1000, ra * 1000);
    e->stats.throttles++;
    return (pb_ratelimit_paused_until_us(&e->rl) + 999) / 1000;
}

/* 3261 invalid signature, 3262 empty signature, 2442 project not found: about us, not the row */
static int pb__config_refusal(const char *code)
{
    return strcmp(code, "3261") == 0 || strcmp(code, "3262") == 0 || strcmp(code, "2442") == 0;
}

int pb_engine_throttled(int http_status, int64_t retry_after_ms)
{
    return http_status == 429 || (http_status == 503 && retry_after_ms >= 0);
}

/* The row's attempt cap alone: 1 when it may be sent again; else the run gives up (the row
 * keeps a truthful state and the next run takes it). */
static int pb__may_resend(pb_engine *e, const pb__slot *s)
{
    if (e->gave_up || e->stopping)
        return 0;
    if (s->row.attempts >= e->cfg.max_attempts) {
        e->gave_up = 1;
        return 0;
    }
    return 1;
}

/* A retry after a failure: the attempt cap and the retry budget. */
static int pb__may_retry(pb_engine *e, const pb__slot *s)
{
    if (!pb__may_resend(e, s))
        return 0;
    if (!pb_retry_budget_spend(&e->budget)) {
        e->gave_up = 1;
        return 0;
    }
    e->stats.retries++;
    return 1;
}

static void pb__success(pb_engine *e)
{
    e->throttles_in_row = 0;
    pb_ratelimit_success(&e->rl);
    pb_retry_budget_earn(&e->budget);
}

int pb__eng_payout_result(pb_engine *e, pb__slot *s, const pb_engine_payout_result *r)
{
    char msg[160];
    pb_row_update *u = NULL;
    int rc;
    int hs = r->http_status;
    if (r->outcome == PB_ENGINE_NOT_SENT && r->fatal) {
        /* the gateway's certificate was refused: every retry would meet the same one */
        e->gave_up = 1;
        e->stats.fatal++;
        return pb__eng_update(e, s, PB_ROW_QUEUED, e->now,
                              "not sent: the gateway's TLS certificate was refused (check "
                              "--gate-url and --ca-file)",
                              NULL);
    }
    if (r->outcome == PB_ENGINE_NOT_SENT) {
        /* nothing left the machine: back to queued, the only question is when */
        if (!pb__may_retry(e, s)) {
            snprintf(msg, sizeof msg, "not sent; stopped retrying after %u attempts",
                     s->row.attempts);
            return pb__eng_update(e, s, PB_ROW_QUEUED, e->now, msg, NULL);
        }
        int64_t d = pb_backoff_delay_ms(e->cfg.backoff_base_ms, e->cfg.backoff_cap_ms,
                                        s->row.attempts, pb__eng_rand(e));
        return pb__eng_update(e, s, PB_ROW_QUEUED, e->now + d, "not sent (connection failed)",
                              NULL);
    }
    if (r->outcome == PB_ENGINE_ANSWERED && pb_engine_throttled(hs, r->retry_after_ms)) {
        int64_t until = pb__throttle(e, r->retry_after_ms);
        snprintf(msg, sizeof msg, "throttled (HTTP %d); not sent", hs);
        return pb__eng_update(e, s, PB_ROW_QUEUED, until, msg, NULL);
    }
    if (r->outcome == PB_ENGINE_ANSWERED && r->parsed && strcmp(r->code, "3041") == 0) {
        /* Gate has this payment id already (an earlier attempt of ours, or someone else's):
         * only a status query can say which and how it ended */
        pb__success(e);
        s->phase = PB__QUERY_READY;
        return PB_OK;
    }
    if (r->outcome == PB_ENGINE_ANSWERED && r->parsed && hs >= 200 && hs < 300 &&
        strcmp(r->status, "success") == 0) {
        pb__success(e);
        rc = pb__eng_update(e, s, PB_ROW_ACCEPTED, 0, r->message, &u);
        /* "success" here is the request's status, not the payment's: the payment is being
         * processed, and finance must not read "success" in gate_status before it is paid */
        if (rc == PB_OK) {
            PB__SET(u->request_id, r->request_id);
            PB__SET(u->gate_status, "processing");
        }
        return rc;
    }
    if (r->outcome == PB_ENGINE_ANSWERED && r->parsed && pb__config_refusal(r->code)) {
        /* Gate refuses our signature or project, not this row: nothing was paid, and every
         * other row would be refused the same way. The row goes back to queued untouched and
         * the run stops so that the operator fixes the secret or the project id. */
        e->config_refused = 1;
        e->gave_up = 1;
        snprintf(msg, sizeof msg,
                 "Gate refused the request (%.15s %.60s): check the secret key and "
                 "the project id",
                 r->code, r->message);
        rc = pb__eng_update(e, s, PB_ROW_QUEUED, e->now, msg, &u);
        if (rc == PB_OK)
            PB__SET(u->code, r->code);
        return rc;
    }
    if (r->outcome == PB_ENGINE_ANSWERED && r->parsed && r->code[0] &&
        ((hs >= 400 && hs < 500) || (hs >= 200 && hs < 300 && strcmp(r->status, "error") == 0))) {
        pb__success(e);
        rc = pb__eng_update(e, s, PB_ROW_REJECTED, 0, r->message, &u);
        if (rc == PB_OK) {
            PB__SET(u->code, r->code);
            PB__SET(u->request_id, r->request_id);
            PB__SET(u->gate_status, r->status);
        }
        return rc;
    }
    /* no answer, 5xx, an unparsable or unexpected body: Gate may have the payment */
    if (r->outcome == PB_ENGINE_NO_ANSWER)
        snprintf(msg, sizeof msg, "no answer; status query pending");
    else
        snprintf(msg, sizeof msg, "unclear answer (HTTP %d%s); status query pending", hs,
                 r->parsed ? "" : ", unparsable");
    return pb__eng_update(e, s, PB_ROW_IN_DOUBT, e->now + e->cfg.status_delay_ms, msg, NULL);
}

/* The status query failed to tell: ask again later, or give the row up for this run. */
static int pb__query_failed(pb_engine *e, pb__slot *s)
{
    if (!pb__may_retry(e, s)) {
        if (s->row.state == PB_ROW_SENDING)
            return pb__eng_update(e, s, PB_ROW_IN_DOUBT, e->now,
                                  "status unknown; left for the next run", NULL);
        pb__eng_release(e, s); /* stays in_doubt in the store; the next run asks again */
        return PB_OK;
    }
    s->query_fails++;
    int64_t d =
        e->cfg.backoff_base_ms + pb_backoff_delay_ms(e->cfg.backoff_base_ms, e->cfg.backoff_cap_ms,
                                                     s->query_fails, pb__eng_rand(e));
    if (s->row.state == PB_ROW_SENDING)
        return pb__eng_update(e, s, PB_ROW_IN_DOUBT, e->now + d, "status query failed", NULL);
    /* in_doubt -> in_doubt is no transition: the retry time lives in hand */
    s->phase = PB__QUERY_WAIT;
    s->wait_until = e->now + d;
    return PB_OK;
}

int pb__eng_status_result(pb_engine *e, pb__slot *s, const pb_engine_status_result *r)
{
    char msg[PB_ROW_MESSAGE_MAX + 1];
    pb_row_update *u = NULL;
    int rc;
    int hs = r->http_status;
    if (r->outcome == PB_ENGINE_NOT_SENT && r->fatal) {
        e->gave_up = 1; /* no retry can help: the row is left as it is for the next run */
        e->stats.fatal++;
    }
    if (r->outcome != PB_ENGINE_ANSWERED)
        return pb__query_failed(e, s);
    if (pb_engine_throttled(hs, r->retry_after_ms)) {
        (void)pb__throttle(e, r->retry_after_ms);
        s->phase = PB__QUERY_READY; /* the pause holds it back */
        return PB_OK;
    }
    if (hs == 404 || (r->parsed && strcmp(r->code, "3061") == 0)) {
        /* Gate never recorded the payment: the one case where a row in doubt is sent again,
         * with the same payment id. A row still `sending` was claimed and never seen answered
         * (most often a killed run's, claimed ahead and never posted: several such took a
         * survivor's whole budget): its resend takes nothing from the retry budget, only its
         * attempt cap bounds it. A row `in_doubt` was posted and came back unclear: resending
         * it is a retry like any other, or a gateway that fails every payout unrecorded would
         * be posted to up to the attempt cap for every row, never giving up. */
        pb__success(e);
        if (!(s->row.state == PB_ROW_SENDING ? pb__may_resend(e, s) : pb__may_retry(e, s)))
            return pb__eng_update(e, s, PB_ROW_QUEUED, e->now,
                                  "status: not found; not resent in this run", NULL);
        return pb__eng_update(e, s, PB_ROW_QUEUED, e->now, "status: not found; resending", NULL);
    }
    if (!(hs >= 200 && hs < 300 && r->parsed && r->payment_status[0] && r->has_amount &&
          r->currency[0]))
        return pb__query_failed(e, s);
    pb__success(e);
    if (r->amount != s->row.amount || strcmp(r->currency, s->row.currency) != 0) {
        /* this payment id belongs to another payment: never adopt its result */
        e->stats.conflicts++;
        snprintf(msg, sizeof msg, "Gate's payment %s is %lld %s, the row is %lld %s",
                 s->row.payment_id, (long long)r->amount, r->currency, (long long)s->row.amount,
                 s->row.currency);
        rc = pb__eng_update(e, s, PB_ROW_REJECTED, 0, msg, &u);
        if (rc == PB_OK)
            PB__SET(u->code, "conflict");
        return rc;
    }
    /* the one rule from a payment status to a row state (core/callback); a reversal (the
     * payout was paid, then reversed) is two transitions in one COMMIT, in order, as a
     * callback records it: -> success, then success -> reversed */
    pb_row_state to = pb_callback_status_state(r->payment_status, 0);
    int reversed = to == PB_ROW_REVERSED;
    rc = pb__eng_update(e, s, reversed ? PB_ROW_SUCCESS : to, 0, r->operation_message, &u);
    if (rc == PB_OK) {
        PB__SET(u->code, r->operation_code);
        PB__SET(u->gate_status, r->payment_status);
        PB__SET(u->request_id, r->request_id);
        PB__SET(u->operation_id, r->operation_id);
        PB__SET(u->provider_payment_id, r->provider_payment_id);
        if (reversed) {
            /* room: pending holds two updates per slot (pb_engine_new) */
            pb_row_update *v = &e->pending[e->n_pending++];
            *v = *u;
            v->from = PB_ROW_SUCCESS;
            v->to = PB_ROW_REVERSED;
        }
    }
    return rc;
}
