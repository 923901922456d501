/* sim_gate.c - the simulated network and Gate: latency, resets, answers past the client
 * timeout, throttling, 5xx, refusals, 3041 on a recorded payment id, status queries. Gate's
 * side survives our crashes: a request that left is processed whatever happens to us. */
#include "sim.h"

#include <stdio.h>
#include <string.h>

#define SIM_CLIENT_TIMEOUT_MS 30000

static sim_ev *sim__client(sim_world *w, int64_t t, uint32_t row, uint32_t gen,
                           pb_engine_event_type type)
{
    sim_ev *ev = sim_new_ev(w, t, SIM_CLIENT);
    if (!ev)
        return NULL;
    ev->gen = gen;
    ev->row = row;
    ev->ev.type = type;
    ev->ev.rnd = sim_rand(w);
    if (type == PB_ENGINE_PAYOUT_RESULT) {
        ev->ev.u.payout.row_no = w->rows[row].r.row_no;
        ev->ev.u.payout.retry_after_ms = -1;
    } else {
        ev->ev.u.status.row_no = w->rows[row].r.row_no;
        ev->ev.u.status.retry_after_ms = -1;
    }
    return ev;
}

static void sim__no_answer(sim_world *w, int64_t t, uint32_t row, uint32_t gen,
                           pb_engine_event_type type)
{
    sim_ev *ev = sim__client(w, t, row, gen, type);
    if (!ev)
        return;
    if (type == PB_ENGINE_PAYOUT_RESULT)
        ev->ev.u.payout.outcome = PB_ENGINE_NO_ANSWER;
    else
        ev->ev.u.status.outcome = PB_ENGINE_NO_ANSWER;
}

static void sim__not_sent(sim_world *w, uint32_t row, pb_engine_event_type type)
{
    sim_ev *ev = sim__client(w, w->now + 1 + (int64_t)sim_below(w, 50), row, w->gen, type);
    if (!ev)
        return;
    if (type == PB_ENGINE_PAYOUT_RESULT)
        ev->ev.u.payout.outcome = PB_ENGINE_NOT_SENT;
    else
        ev->ev.u.status.outcome = PB_ENGINE_NOT_SENT;
}

/* The request leaves now: decide its fate on the way to Gate and back. */
static void sim__send(sim_world *w, uint32_t row, sim_ev_type type)
{
    pb_engine_event_type rt =
        type == SIM_GATE_POST ? PB_ENGINE_PAYOUT_RESULT : PB_ENGINE_STATUS_RESULT;
    if (sim_chance(w, w->p_notsent)) {
        sim__not_sent(w, row, rt);
        return;
    }
    int64_t arrive = w->now + 2 + (int64_t)sim_below(w, 100);
    if (sim_chance(w, 50))
        arrive += (int64_t)sim_below(w, 3000); /* a slow path */
    if (sim_chance(w, w->p_drop_before)) {
        sim__no_answer(w, arrive + (int64_t)sim_below(w, 100), row, w->gen, rt);
        return;
    }
    uint32_t flags = 0;
    if (sim_chance(w, w->p_late)) {
        /* Gate takes its time: the client gives up first; Gate may act after a status
         * query already said "not found" */
        arrive += 5000 + (int64_t)sim_below(w, 40000);
        flags |= SIM_F_LATE;
        sim__no_answer(w, w->now + SIM_CLIENT_TIMEOUT_MS, row, w->gen, rt);
    }
    if (sim_chance(w, w->p_drop_after))
        flags |= SIM_F_DROP_AFTER;
    if (sim_chance(w, w->p_garbage))
        flags |= SIM_F_GARBAGE;
    sim_ev *ev = sim_new_ev(w, arrive, type);
    if (!ev)
        return;
    ev->row = row;
    ev->gen = w->gen;
    ev->flags = flags;
    ev->sent_at = w->now;
}

void sim_gate_post(sim_world *w, uint32_t row)
{
    sim__send(w, row, SIM_GATE_POST);
}

void sim_gate_status(sim_world *w, uint32_t row)
{
    sim__send(w, row, SIM_GATE_STATUS);
}

static void sim__record(sim_world *w, sim_row *r)
{
    r->gate_recorded = 1;
    r->gate_ours = 1;
    r->gate_records++;
    r->gate_amount = r->r.amount;
    snprintf(r->gate_cur, sizeof r->gate_cur, "%s", r->r.currency);
    if (r->gate_records > 1)
        sim_fail(w, "row %u: Gate recorded payment %s twice", r->r.row_no, r->r.payment_id);
    sim_ev *ev = sim_new_ev(w, w->now + 500 + (int64_t)sim_below(w, 30000), SIM_SETTLE);
    if (ev)
        ev->row = (uint32_t)(r - w->rows);
    sim_cb_recorded(w, (uint32_t)(r - w->rows));
}

void sim_gate_settle(sim_world *w, sim_ev *ev)
{
    sim_row *r = &w->rows[ev->row];
    r->gate_final = r->declines ? PB_ROW_DECLINE : PB_ROW_SUCCESS;
    sim_cb_settled(w, ev->row);
}

static void sim__answer_post(sim_world *w, sim_ev *in, sim_row *r)
{
    int http = 200, parsed = 1;
    int64_t ra = -1;
    const char *status = "success", *code = "";
    w->gate_posts++;
    if (sim_chance(w, w->p_429)) {
        http = 429, ra = 200 + (int64_t)sim_below(w, 3000), parsed = 0;
    } else if (sim_chance(w, w->p_503)) {
        http = 503, ra = 500 + (int64_t)sim_below(w, 2000), parsed = 0;
    } else if (r->gate_recorded) {
        http = 400, status = "error", code = "3041";
    } else if (r->refuse) {
        http = 400, status = "error", code = "3025";
    } else if (sim_chance(w, w->p_500)) {
        /* a crash inside Gate: it may or may not have kept the payment */
        if (sim_chance(w, 500))
            sim__record(w, r);
        http = 500, parsed = 0;
    } else {
        sim__record(w, r);
    }
    if (in->flags & SIM_F_LATE)
        return; /* the client has long reported NO_ANSWER */
    if (in->flags & SIM_F_DROP_AFTER) {
        sim_ev *ev = sim__client(w, w->now + (int64_t)sim_below(w, 50), in->row, in->gen,
                                 PB_ENGINE_PAYOUT_RESULT);
        if (ev)
            ev->ev.u.payout.outcome = PB_ENGINE_NO_ANSWER;
        return;
    }
    sim_ev *ev = sim__client(w, w->now + 1 + (int64_t)sim_below(w, 100), in->row, in->gen,
                             PB_ENGINE_PAYOUT_RESULT);
    if (!ev)
        return;
    pb_engine_payout_result *p = &ev->ev.u.payout;
    p->outcome = PB_ENGINE_ANSWERED;
    p->http_status = http;
    p->retry_after_ms = ra;
    p->parsed = parsed && !(in->flags & SIM_F_GARBAGE);
    if (p->parsed) {
        snprintf(p->status, sizeof p->status, "%s", status);
        snprintf(p->code, sizeof p->code, "%s", code);
        snprintf(p->message, sizeof p->message, "%s", *code ? "refused" : "");
        snprintf(p->request_id, sizeof p->request_id, "req-%llu", (unsigned long long)w->ev_seq);
    }
}

static void sim__answer_status(sim_world *w, sim_ev *in, sim_row *r)
{
    w->gate_queries++;
    if (in->flags & SIM_F_LATE)
        return;
    if (in->flags & SIM_F_DROP_AFTER) {
        sim__no_answer(w, w->now + (int64_t)sim_below(w, 50), in->row, in->gen,
                       PB_ENGINE_STATUS_RESULT);
        return;
    }
    sim_ev *ev = sim__client(w, w->now + 1 + (int64_t)sim_below(w, 300), in->row, in->gen,
                             PB_ENGINE_STATUS_RESULT);
    if (!ev)
        return;
    pb_engine_status_result *s = &ev->ev.u.status;
    s->outcome = PB_ENGINE_ANSWERED;
    s->parsed = !(in->flags & SIM_F_GARBAGE);
    if (sim_chance(w, w->p_429)) {
        s->http_status = 429, s->retry_after_ms = 100 + (int64_t)sim_below(w, 2000);
        s->parsed = 0;
    } else if (sim_chance(w, w->p_500)) {
        s->http_status = 500, s->parsed = 0;
    } else if (r->gate_recorded) {
        s->http_status = 200;
        if (!s->parsed)
            return;
        const char *st = r->gate_final == PB_ROW_SUCCESS    ? "success"
                         : r->gate_final == PB_ROW_DECLINE  ? "decline"
                         : r->gate_final == PB_ROW_REVERSED ? "reversed"
                                                            : "processing";
        snprintf(s->payment_status, sizeof s->payment_status, "%s", st);
        s->has_amount = 1;
        s->amount = r->gate_amount;
        snprintf(s->currency, sizeof s->currency, "%s", r->gate_cur);
        snprintf(s->operation_id, sizeof s->operation_id, "op-%u", r->r.row_no);
    } else if (sim_chance(w, 500)) {
        s->http_status = 404;
    } else {
        s->http_status = 200;
        if (s->parsed)
            snprintf(s->code, sizeof s->code, "3061");
    }
}

void sim_gate_arrive(sim_world *w, sim_ev *ev)
{
    sim_row *r = &w->rows[ev->row];
    if (ev->type == SIM_GATE_POST)
        sim__answer_post(w, ev, r);
    else
        sim__answer_status(w, ev, r);
}
