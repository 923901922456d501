#include "core/engine.h"
#include "core/engine_int.h"

#include "core/alloc.h"
#include "core/backoff.h"
#include "core/errors.h"
#include "core/ratelimit.h"

#include <stdio.h>
#include <string.h>

static int64_t pb__min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

uint32_t pb_engine_rows_max(uint32_t concurrency)
{
    return (concurrency ? concurrency : 8) * PB__SLOTS_PER_REQUEST;
}

int pb_engine_new(pb_engine **out, const pb_engine_config *cfg)
{
    int rc = PB_OK;
    pb_engine *e = NULL;
    *out = NULL;
    if (cfg->concurrency > PB_ENGINE_CONC_MAX || cfg->status_delay_ms < 0 ||
        cfg->backoff_base_ms < 0 || cfg->backoff_cap_ms < 0 || cfg->retry_after_max_ms < 0 ||
        cfg->retry_after_default_ms < 0) {
        rc = PB_EINVAL;
        pb_error_set("engine: configuration out of range (concurrency 1..%d, no negative times)",
                     PB_ENGINE_CONC_MAX);
        goto out;
    }
    e = pb_calloc(1, sizeof *e);
    if (!e) {
        rc = PB_ENOMEM;
        goto out;
    }
    e->cfg = *cfg;
    pb_engine_config *c = &e->cfg;
    c->rate_milli = c->rate_milli ? c->rate_milli : 10000;
    c->concurrency = c->concurrency ? c->concurrency : 8;
    c->status_delay_ms = c->status_delay_ms ? c->status_delay_ms : 10000;
    c->max_attempts = c->max_attempts ? c->max_attempts : 10;
    c->backoff_base_ms = c->backoff_base_ms ? c->backoff_base_ms : 500;
    c->backoff_cap_ms = c->backoff_cap_ms ? c->backoff_cap_ms : 30000;
    c->retry_budget = c->retry_budget ? c->retry_budget : 100;
    c->budget_earn_permille = c->budget_earn_permille ? c->budget_earn_permille : 100;
    c->retry_after_default_ms = c->retry_after_default_ms ? c->retry_after_default_ms : 1000;
    c->retry_after_max_ms = c->retry_after_max_ms ? c->retry_after_max_ms : 60000;
    /* The engine's clock has millisecond steps: with a burst of 1, every slot of one
     * millisecond would be refused after the first and the limiter would let out about one
     * request per millisecond whatever the rate (650/s measured at --rate 100000). A burst of
     * one millisecond's worth of slots (1 up to 1,000/s) keeps the rate; any 1 s window then
     * holds at most rate + burst requests (rate + 1 up to 1,000/s, +0.1% above). */
    int64_t per_ms = (c->rate_milli + 999999) / 1000000;
    /* From 500/s (an interval of two clock steps or less) a timer that fires one step late
     * would cost a slot for good (813/s measured at --rate 1000): a burst of 2 lets that slot
     * go with the next; a 1 s window then holds at most rate + 2 (+0.4% at 500/s). */
    if (per_ms < 2 && c->rate_milli >= 500000)
        per_ms = 2;
    pb_ratelimit_config rc_cfg = {.rate_milli = c->rate_milli,
                                  .burst = (uint32_t)(per_ms > 1 ? per_ms : 1),
                                  .slack_permille = c->rate_slack_permille};
    rc = pb_ratelimit_init(&e->rl, &rc_cfg);
    if (rc)
        goto out;
    pb_retry_budget_init(&e->budget, c->retry_budget, c->budget_earn_permille);
    e->rng = c->seed;
    /* concurrency bounds the requests in flight; the rows in hand also include those waiting
     * for their claim's or their result's commit (SEND_DESIGN: "at most concurrency in flight
     * plus the ones waiting for a commit"), so while one fsync runs the next requests still
     * leave. Memory stays bounded by concurrency, not by the batch. */
    e->cap = pb_engine_rows_max(c->concurrency);
    e->q_cap = e->cap + PB__CMDQ_EXTRA;
    e->slots = pb_calloc(e->cap, sizeof *e->slots);
    /* one update per row in hand, two for a reversal found by a status query */
    e->pending = pb_calloc(2 * (size_t)e->cap, sizeof *e->pending);
    e->commit = pb_calloc(2 * (size_t)e->cap, sizeof *e->commit);
    e->q = pb_calloc(e->q_cap, sizeof *e->q);
    e->stale = pb_calloc(e->cap, sizeof *e->stale);
    if (!e->slots || !e->pending || !e->commit || !e->q || !e->stale) {
        rc = PB_ENOMEM;
        goto out;
    }
    e->timer_at = PB_ENGINE_NEVER;
    e->loading = c->loading != 0;
    *out = e;
    e = NULL;
out:
    pb_engine_free(e);
    return rc;
}

void pb_engine_free(pb_engine *e)
{
    if (!e)
        return;
    pb_free(e->slots);
    pb_free(e->pending);
    pb_free(e->commit);
    pb_free(e->q);
    pb_free(e->stale);
    pb_free(e);
}

void pb_engine_get_stats(const pb_engine *e, pb_engine_stats *out)
{
    *out = e->stats;
    out->config_refused = e->config_refused;
}

const char *pb_engine_reason_name(pb_engine_done_reason r)
{
    switch (r) {
    case PB_ENGINE_FINISHED:
        return "finished";
    case PB_ENGINE_STOPPED:
        return "stopped";
    case PB_ENGINE_GAVE_UP:
        return "gave up";
    }
    return "?";
}

static pb_engine_cmd *pb__emit(pb_engine *e, pb_engine_cmd_type type)
{
    /* the queue holds one command per slot plus the few global ones; it cannot overflow
     * because every pump drains into it at most that many */
    pb_engine_cmd *c = &e->q[(e->q_head + e->q_len++) % e->q_cap];
    memset(c, 0, sizeof *c);
    c->type = type;
    return c;
}

int pb_engine_next(pb_engine *e, pb_engine_cmd *out)
{
    if (!e->q_len)
        return 0;
    *out = e->q[e->q_head];
    e->q_head = (e->q_head + 1) % e->q_cap;
    e->q_len--;
    return 1;
}

static pb__slot *pb__find(pb_engine *e, uint32_t row_no)
{
    for (uint32_t i = 0; i < e->cap; i++)
        if (e->slots[i].phase != PB__FREE && e->slots[i].row.row_no == row_no)
            return &e->slots[i];
    return NULL;
}

static pb__slot *pb__take_slot(pb_engine *e, const pb_engine_row *row, int phase)
{
    for (uint32_t i = 0; i < e->cap; i++) {
        pb__slot *s = &e->slots[i];
        if (s->phase == PB__FREE) {
            memset(s, 0, sizeof *s);
            s->row = *row;
            s->phase = phase;
            e->used++;
            return s;
        }
    }
    return NULL;
}

void pb__eng_release(pb_engine *e, pb__slot *s)
{
    s->phase = PB__FREE;
    e->used--;
}

/* Queue a state change of the row in s for the next COMMIT; the slot is done with after it.
 * Only transitions of the machine leave: anything else is a bug here, refused loudly. */
int pb__eng_update(pb_engine *e, pb__slot *s, pb_row_state to, int64_t next_at, const char *message,
                   pb_row_update **out)
{
    if (!pb_row_state_allowed(s->row.state, to))
        return pb_error_set("engine: row %u: %s -> %s is not a transition", s->row.row_no,
                            pb_row_state_name(s->row.state), pb_row_state_name(to)),
               PB_EINVAL;
    pb_row_update *u = &e->pending[e->n_pending++];
    memset(u, 0, sizeof *u);
    u->row_no = s->row.row_no;
    u->from = s->row.state;
    u->to = to;
    u->at_ms = e->now;
    u->next_at_ms = next_at;
    if (message)
        pb_row_field_set(u->message, PB_ROW_MESSAGE_MAX, message, strlen(message));
    s->phase = PB__UPDATE;
    if (out)
        *out = u;
    return PB_OK;
}

static int pb__is_stale(const pb_engine *e, uint32_t row_no)
{
    for (uint32_t i = 0; i < e->n_stale; i++)
        if (e->stale[i] == row_no)
            return 1;
    return 0;
}

static int pb__rows(pb_engine *e, const pb_engine_event *ev, int claimed)
{
    uint32_t room = e->reserved;
    uint32_t took = 0;
    if (claimed ? !e->claim_out : !e->due_out)
        return pb_error_set("engine: %s answers nothing", claimed ? "ROWS_CLAIMED" : "ROWS_DUE"),
               PB_EINVAL;
    if (ev->u.rows.n > e->asked)
        return pb_error_set("engine: %zu rows for a request of %u", ev->u.rows.n, e->asked),
               PB_EINVAL;
    for (size_t i = 0; i < ev->u.rows.n; i++) {
        const pb_engine_row *r = &ev->u.rows.rows[i];
        int ok = claimed ? r->state == PB_ROW_SENDING
                         : (r->state == PB_ROW_SENDING || r->state == PB_ROW_IN_DOUBT);
        if (!ok)
            return pb_error_set("engine: row %u handed over as %s", r->row_no,
                                pb_row_state_name(r->state)),
                   PB_EINVAL;
    }
    e->reserved = 0;
    int dropped = 0;
    for (size_t i = 0; i < ev->u.rows.n; i++) {
        const pb_engine_row *r = &ev->u.rows.rows[i];
        /* DUE also returns the rows we hold (they are `sending` too): ours already. A row
         * whose commit landed while DUE was out may be shown as it was before: skip it, its
         * commit already arranged what comes next. (A claim's rows are always fresh.) */
        if (pb__find(e, r->row_no) || (!claimed && pb__is_stale(e, r->row_no)))
            continue;
        if (took >= room) {
            /* due, but no room: possible when rows we hold are no longer pending in the store
             * (a callback settled them), so DUE had room in its LIMIT for more new rows than
             * we have slots. Ask again when a slot frees (sim seed 10444289). */
            dropped = 1;
            continue;
        }
        pb__take_slot(e, r, claimed ? PB__POST_READY : PB__QUERY_READY);
        took++;
    }
    int full = ev->u.rows.n >= e->asked || dropped;
    if (claimed) {
        e->claim_out = 0;
        e->claim_at = full ? e->now : pb__min(ev->u.rows.next_at_ms, e->claim_wake);
    } else {
        e->due_out = 0;
        e->n_stale = 0;
        e->due_done_once = 1;
        e->due_at = full ? e->now : pb__min(ev->u.rows.next_at_ms, e->due_wake);
    }
    return PB_OK;
}

static int pb__committed(pb_engine *e)
{
    if (!e->commit_out)
        return pb_error_set("engine: COMMITTED answers nothing"), PB_EINVAL;
    for (size_t i = 0; i < e->n_commit; i++) {
        const pb_row_update *u = &e->commit[i];
        pb__slot *s = pb__find(e, u->row_no);
        if (s && s->phase == PB__COMMITTING) {
            pb__eng_release(e, s);
            if (e->due_out && e->n_stale < e->cap)
                e->stale[e->n_stale++] = u->row_no;
        }
        /* the store now holds rows for later: look for them again when they are due */
        if (u->to == PB_ROW_QUEUED) {
            e->claim_at = pb__min(e->claim_at, u->next_at_ms);
            e->claim_wake = pb__min(e->claim_wake, u->next_at_ms);
        } else if (u->to == PB_ROW_IN_DOUBT) {
            e->due_at = pb__min(e->due_at, u->next_at_ms);
            e->due_wake = pb__min(e->due_wake, u->next_at_ms);
        }
    }
    e->n_commit = 0;
    e->commit_out = 0;
    return PB_OK;
}

static pb__slot *pb__in_flight(pb_engine *e, uint32_t row_no, int phase, const char *what)
{
    pb__slot *s = pb__find(e, row_no);
    if (!s || s->phase != phase) {
        pb_error_set("engine: %s for row %u, which has no request out", what, row_no);
        return NULL;
    }
    return s;
}

static int64_t pb__rate_next_ms(const pb_engine *e)
{
    return (pb_ratelimit_next_us(&e->rl, e->now * 1000) + 999) / 1000;
}

static int pb__rate_take(pb_engine *e)
{
    return pb_ratelimit_take(&e->rl, e->now * 1000) == PB_OK;
}

/* Hand out whatever the state allows now, arm the timer for the next thing, or finish. */
static int pb__pump(pb_engine *e)
{
    int rc = PB_OK;
    int active = !e->stopping && !e->gave_up;
    int64_t wake = PB_ENGINE_NEVER;
    int ready = 0;
    uint32_t in_flight = 0, unsent = 0;
    for (uint32_t i = 0; i < e->cap; i++)
        in_flight += e->slots[i].phase == PB__POSTING || e->slots[i].phase == PB__QUERYING;
    for (uint32_t i = 0; i < e->cap; i++) {
        pb__slot *s = &e->slots[i];
        if (s->phase == PB__QUERY_WAIT && (!active || s->wait_until <= e->now))
            s->phase = PB__QUERY_READY;
        if (!active && s->phase == PB__QUERY_READY) {
            /* read-only so far: the row stays as the store has it, for the next run */
            pb__eng_release(e, s);
        } else if (!active && s->phase == PB__POST_READY) {
            rc = pb__eng_update(e, s, PB_ROW_QUEUED, e->now, "claimed, not sent: run ended", NULL);
            if (rc)
                return rc;
        } else if (s->phase == PB__POST_READY || s->phase == PB__QUERY_READY) {
            if (in_flight >= e->cfg.concurrency) {
                unsent++; /* an answer frees a request slot and pumps again */
            } else if (pb__rate_take(e)) {
                in_flight++;
                pb_engine_cmd *c = pb__emit(e, s->phase == PB__POST_READY ? PB_ENGINE_POST_PAYOUT
                                                                          : PB_ENGINE_QUERY_STATUS);
                c->row = &s->row;
                if (s->phase == PB__POST_READY) {
                    s->phase = PB__POSTING;
                    e->stats.posts++;
                } else {
                    s->phase = PB__QUERYING;
                    e->stats.queries++;
                }
            } else {
                ready = 1;
                unsent++;
            }
        } else if (s->phase == PB__QUERY_WAIT) {
            wake = pb__min(wake, s->wait_until);
        }
    }
    if (ready)
        wake = pb__min(wake, pb__rate_next_ms(e));

    if (e->n_pending && !e->commit_out) {
        memcpy(e->commit, e->pending, e->n_pending * sizeof *e->pending);
        e->n_commit = e->n_pending;
        e->n_pending = 0;
        for (size_t i = 0; i < e->n_commit; i++)
            pb__find(e, e->commit[i].row_no)->phase = PB__COMMITTING;
        pb_engine_cmd *c = pb__emit(e, PB_ENGINE_COMMIT);
        c->updates = e->commit;
        c->n_updates = e->n_commit;
        e->commit_out = 1;
        e->stats.commits++;
        e->stats.updates += e->n_commit;
    }

    if (e->cfg.status_only)
        e->claim_at = PB_ENGINE_NEVER; /* reconcile sends no payout */
    uint32_t free_slots = e->cap - e->used - e->reserved;
    /* claimed rows wait in `sending` for a request slot. A claim is posted only after its
     * store group's fsync (milliseconds), by which time a round in flight has come back, so
     * claims run up to three rounds of requests ahead of those in flight (one round ahead
     * left 37 of 64 requests in flight on average in bench_send, three 48). But no more rows
     * wait than the rate lets out in about a quarter second: past that they would only sit
     * in `sending`, and a crash leaves each one to a status query (a killed PostgreSQL
     * worker's lease holds them meanwhile; at --rate 30 with three rounds of 16 that was up
     * to 64 rows per kill, each a status query and a resend against the survivors' budget). */
    int64_t by_rate = 1 + pb_ratelimit_rate_milli(&e->rl) / 4000;
    int64_t ahead = 4 * (int64_t)e->cfg.concurrency - in_flight - unsent;
    if (ahead > by_rate - (int64_t)unsent)
        ahead = by_rate - (int64_t)unsent;
    if (active && !e->claim_out && !e->due_out && free_slots > 0) {
        if (e->due_at <= e->now) {
            /* DUE returns the rows we hold as well: ask for enough to see past them */
            pb_engine_cmd *c = pb__emit(e, PB_ENGINE_DUE);
            c->max = free_slots + e->used;
            e->asked = c->max;
            e->reserved = free_slots;
            e->due_out = 1;
            e->due_wake = PB_ENGINE_NEVER;
        } else if (e->due_done_once && e->claim_at <= e->now && pb__rate_next_ms(e) <= e->now &&
                   ahead > 0) {
            /* claim what the rate lets out within about a quarter second, so claimed rows do
             * not sit in `sending` while the limiter holds them back */
            pb_engine_cmd *c = pb__emit(e, PB_ENGINE_CLAIM);
            c->max = ahead < free_slots ? (uint32_t)ahead : free_slots;
            e->asked = c->max;
            e->reserved = c->max;
            e->claim_out = 1;
            e->claim_wake = PB_ENGINE_NEVER;
        } else {
            wake = pb__min(wake, e->due_at);
            if (e->due_done_once)
                wake = pb__min(wake, e->claim_at > pb__rate_next_ms(e) ? e->claim_at
                                                                       : pb__rate_next_ms(e));
        }
    }

    if (wake != PB_ENGINE_NEVER && wake > e->now && (e->timer_at <= e->now || wake < e->timer_at)) {
        pb__emit(e, PB_ENGINE_TIMER)->at_ms = wake;
        e->timer_at = wake;
    }

    if (!e->used && !e->reserved && !e->n_pending && !e->commit_out && !e->claim_out &&
        !e->due_out &&
        (!active ||
         (!e->loading && e->claim_at == PB_ENGINE_NEVER && e->due_at == PB_ENGINE_NEVER))) {
        pb__emit(e, PB_ENGINE_DONE)->reason = e->stopping  ? PB_ENGINE_STOPPED
                                              : e->gave_up ? PB_ENGINE_GAVE_UP
                                                           : PB_ENGINE_FINISHED;
        e->done = 1;
    }
    return rc;
}

int pb_engine_feed(pb_engine *e, const pb_engine_event *ev)
{
    int rc = PB_OK;
    pb__slot *s;
    if (e->done)
        return pb_error_set("engine: event after DONE"), PB_EINVAL;
    if (ev->now_ms > e->now)
        e->now = ev->now_ms;
    e->rng ^= ev->rnd;
    switch (ev->type) {
    case PB_ENGINE_ROWS_CLAIMED:
    case PB_ENGINE_ROWS_DUE:
        rc = pb__rows(e, ev, ev->type == PB_ENGINE_ROWS_CLAIMED);
        break;
    case PB_ENGINE_COMMITTED:
        rc = pb__committed(e);
        break;
    case PB_ENGINE_PAYOUT_RESULT:
        s = pb__in_flight(e, ev->u.payout.row_no, PB__POSTING, "PAYOUT_RESULT");
        rc = s ? pb__eng_payout_result(e, s, &ev->u.payout) : PB_EINVAL;
        break;
    case PB_ENGINE_STATUS_RESULT:
        s = pb__in_flight(e, ev->u.status.row_no, PB__QUERYING, "STATUS_RESULT");
        rc = s ? pb__eng_status_result(e, s, &ev->u.status) : PB_EINVAL;
        break;
    case PB_ENGINE_TICK:
        if (e->timer_at <= e->now)
            e->timer_at = PB_ENGINE_NEVER;
        break;
    case PB_ENGINE_STOP_REQUESTED:
        e->stopping = 1;
        break;
    case PB_ENGINE_ROWS_ADDED:
        if (!e->loading)
            return pb_error_set("engine: ROWS_ADDED while not loading"), PB_EINVAL;
        /* claimable now; also when a claim is out (it may have run before the rows were in):
         * its answer then asks again instead of trusting its next_at */
        e->claim_at = e->now;
        e->claim_wake = e->now;
        if (ev->u.added.last)
            e->loading = 0;
        break;
    default:
        return pb_error_set("engine: unknown event %d", (int)ev->type), PB_EINVAL;
    }
    if (rc)
        return rc;
    return pb__pump(e);
}
