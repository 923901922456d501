/*
 * sim_callback.c - callbacks in the simulator (issue #13): Gate's callbacks for our payments
 * (a `processing` one when it records a payment, the final one when it settles; lost,
 * duplicated, delayed and so reordered), forged ones from someone without the key, the
 * receiver, and the reconcile after the last event.
 *
 * The receiver is the real chain of batch/listen/receiver on real bytes: the body is JSON
 * text, pb_gate_payment_parse checks its signature with the project's secret, the facts are
 * read from its tokens (pb_gate_payment_facts) and pb_callback_decide says what changes; the
 * updates land compare-and-set on the committed rows, as pb_store_mark does. The listener is
 * a process of its own: our crashes do not stop it.
 *
 * Invariants: a forged callback is refused and changes no row; after the reconcile every
 * row's result, as the result CSV names it (pb_result_name), is the Gate's truth.
 */
#include "sim.h"

#include "core/callback.h"
#include "core/signature.h"
#include "formats/gate_response.h"
#include "formats/result_csv.h"

#include <stdio.h>
#include <string.h>

#define SIM_SECRET     "sim-project-secret"
#define SIM_FORGER_KEY "not-the-secret"
#define SIM_BODY_MAX   1024

static uint64_t sim__cb_rand(sim_world *w)
{
    return sim_mix(&w->cb_rng);
}

static uint64_t sim__cb_below(sim_world *w, uint64_t n)
{
    return n ? sim__cb_rand(w) % n : 0;
}

void sim_cb_setup(sim_world *w)
{
    w->cb_rng = w->seed * 0x9E3779B97F4A7C15ull + 7;
    if (!w->callbacks)
        return;
    w->p_cb_lost = (int)sim__cb_below(w, 500);
    w->p_cb_dup = (int)sim__cb_below(w, 500);
    /* forgeries at random moments of the first two minutes, against random rows */
    uint64_t forged = sim__cb_below(w, 13);
    for (uint64_t i = 0; i < forged; i++) {
        sim_ev *ev = sim_new_ev(w, w->now + (int64_t)sim__cb_below(w, 120000), SIM_CALLBACK);
        if (!ev)
            return;
        static const int st[] = {PB_ROW_SUCCESS, PB_ROW_DECLINE, PB_ROW_ACCEPTED, PB_ROW_REVERSED};
        ev->row = (uint32_t)sim__cb_below(w, w->n_rows);
        ev->cb_kind = 1 + (int)sim__cb_below(w, SIM_CB_KINDS - 1);
        ev->cb_status = st[sim__cb_below(w, 4)];
    }
}

static void sim__schedule(sim_world *w, uint32_t row, int status, int64_t delay)
{
    sim_ev *ev = sim_new_ev(w, w->now + delay, SIM_CALLBACK);
    if (!ev)
        return;
    ev->row = row;
    ev->cb_kind = SIM_CB_GENUINE;
    ev->cb_status = status;
}

void sim_cb_recorded(sim_world *w, uint32_t row)
{
    if (w->callbacks && sim__cb_below(w, 2))
        sim__schedule(w, row, PB_ROW_ACCEPTED, (int64_t)sim__cb_below(w, 5000));
}

/* Gate's callbacks for the row's current truth: lost, or one to three copies. */
static void sim__tell(sim_world *w, uint32_t row)
{
    int copies = 1;
    if ((int)sim__cb_below(w, 1000) < w->p_cb_lost)
        copies = 0; /* every retry of Gate's failed: only polling can tell */
    while (copies && copies < 3 && (int)sim__cb_below(w, 1000) < w->p_cb_dup)
        copies++;
    for (int i = 0; i < copies; i++) {
        /* mostly soon, sometimes minutes late: a `processing` may come after the final one */
        int64_t delay = (int64_t)sim__cb_below(w, sim__cb_below(w, 4) ? 3000 : 600000);
        sim__schedule(w, row, w->rows[row].gate_final, delay);
    }
}

void sim_cb_settled(sim_world *w, uint32_t row)
{
    if (!w->callbacks)
        return;
    sim__tell(w, row);
    /* one paid payout in ten is reversed later (minutes to hours) */
    if (w->rows[row].gate_final == PB_ROW_SUCCESS && sim__cb_below(w, 10) == 0) {
        sim_ev *ev = sim_new_ev(w, w->now + 1000 + (int64_t)sim__cb_below(w, 3600000), SIM_REVERSE);
        if (ev)
            ev->row = row;
    }
}

void sim_cb_reverse(sim_world *w, sim_ev *ev)
{
    w->rows[ev->row].gate_final = PB_ROW_REVERSED;
    w->reversals++;
    sim__tell(w, ev->row);
}

static const char *sim__status_name(int status)
{
    return status == PB_ROW_SUCCESS    ? "success"
           : status == PB_ROW_DECLINE  ? "decline"
           : status == PB_ROW_REVERSED ? "reversed"
                                       : "processing";
}

/* The unsigned callback JSON of a payment of row r with this status and amount. */
static int sim__body(char *out, size_t cap, const sim_row *r, int status, int64_t amount,
                     const char *cur)
{
    const char *op_status = status == PB_ROW_REVERSED ? "success" : sim__status_name(status);
    int n = snprintf(out, cap,
                     "{\"project_id\":7,\"payment\":{\"id\":\"%s\",\"type\":\"payout\","
                     "\"status\":\"%s\",\"sum\":{\"amount\":%lld,\"currency\":\"%s\"}},"
                     "\"operation\":{\"id\":%u,\"type\":\"payout\",\"status\":\"%s\","
                     "\"code\":\"%s\",\"message\":\"m\",\"request_id\":\"req-%u\"}}",
                     r->r.payment_id, sim__status_name(status), (long long)amount, cur, r->r.row_no,
                     op_status, status == PB_ROW_DECLINE ? "20101" : "0", r->r.row_no);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* body + a signature member (top level, or general.signature) before its closing brace. */
static int sim__attach(char *body, size_t cap, const char *sig, int general)
{
    size_t len = strlen(body);
    char tail[PB_SIG_LEN + 64];
    int n = general ? snprintf(tail, sizeof tail, ",\"general\":{\"signature\":\"%s\"}}", sig)
                    : snprintf(tail, sizeof tail, ",\"signature\":\"%s\"}", sig);
    if (n < 0 || len + (size_t)n >= cap)
        return -1;
    memcpy(body + len - 1, tail, (size_t)n + 1);
    return 0;
}

static int sim__sign(char *body, size_t cap, const char *key, int general)
{
    char sig[PB_SIG_LEN + 1];
    if (pb_sig_sign_json(body, strlen(body), key, strlen(key), sig) != 0)
        return -1;
    return sim__attach(body, cap, sig, general);
}

/* The bytes a callback of this kind carries. */
static int sim__make(sim_world *w, const sim_ev *ev, char *body, size_t cap)
{
    const sim_row *r = &w->rows[ev->row];
    /* a forger knows the row's payment id, amount and currency (from an earlier callback) */
    int64_t amount = r->gate_recorded ? r->gate_amount : r->r.amount;
    const char *cur = r->gate_recorded ? r->gate_cur : r->r.currency;
    char other[SIM_BODY_MAX], sig[PB_SIG_LEN + 1];

    if (sim__body(body, cap, r, ev->cb_status, amount, cur) < 0)
        return -1;
    switch (ev->cb_kind) {
    case SIM_CB_GENUINE:
        return sim__sign(body, cap, SIM_SECRET, (int)(ev->seq & 1));
    case SIM_CB_WRONG_KEY:
        return sim__sign(body, cap, SIM_FORGER_KEY, 0);
    case SIM_CB_COPIED:
        /* the genuine signature of another status of the same payment */
        if (sim__body(other, sizeof other, r,
                      ev->cb_status == PB_ROW_ACCEPTED ? PB_ROW_SUCCESS : PB_ROW_ACCEPTED, amount,
                      cur) < 0 ||
            pb_sig_sign_json(other, strlen(other), SIM_SECRET, strlen(SIM_SECRET), sig) != 0)
            return -1;
        return sim__attach(body, cap, sig, 0);
    case SIM_CB_UNSIGNED:
        return 0;
    case SIM_CB_TAMPERED: {
        /* signed for amount + 1, delivered with the row's amount (or the other way round) */
        char signed_body[SIM_BODY_MAX];
        if (sim__body(signed_body, sizeof signed_body, r, ev->cb_status, amount + 1, cur) < 0 ||
            pb_sig_sign_json(signed_body, strlen(signed_body), SIM_SECRET, strlen(SIM_SECRET),
                             sig) != 0)
            return -1;
        return sim__attach(body, cap, sig, 0);
    }
    case SIM_CB_GENERAL_SIG:
        return sim__attach(body, cap, "AAAAsimforgedAAAA", 1);
    }
    return -1;
}

/* What the receiver does with body: 1 when the signature held (a row may have changed). */
static int sim__receive(sim_world *w, const char *body, size_t len)
{
    pb_gate_payment pay;
    pb_callback_facts f;
    pb_callback_decision d;
    sim_row *r = NULL;

    if (pb_gate_payment_parse(body, len, SIM_SECRET, strlen(SIM_SECRET), &pay) != 0 ||
        !pay.signature_ok)
        return 0; /* 400: nothing changes */
    for (uint32_t i = 0; i < w->n_rows && !r; i++)
        if (strcmp(w->rows[i].r.payment_id, pay.payment_id) == 0)
            r = &w->rows[i];
    if (!r)
        return 1; /* unknown payment id: the inbox keeps it */
    pb_gate_payment_facts(body, len, &pay, &f);
    pb_callback_row cr = {r->r.row_no, r->r.state, r->r.amount, r->r.currency};
    pb_callback_decide(&cr, &f, w->now, &d);
    if (d.verdict != PB_CALLBACK_APPLY)
        return 1;
    int moved = 0;
    for (size_t i = 0; i < d.n; i++) {
        const pb_row_update *u = &d.updates[i];
        if (!pb_row_state_allowed(u->from, u->to)) {
            sim_fail(w, "row %u: callback update %s -> %s is no transition", r->r.row_no,
                     pb_row_state_name(u->from), pb_row_state_name(u->to));
            return 1;
        }
        if (r->r.state != u->from)
            continue; /* compare-and-set */
        r->r.state = u->to;
        if (u->code[0])
            snprintf(r->code, sizeof r->code, "%s", u->code);
        moved = 1;
    }
    if (moved) {
        r->cb_moves++;
        if (w->verbose)
            printf("%8lld CALLBACK row %u -> %s\n", (long long)w->now, r->r.row_no,
                   pb_row_state_name(r->r.state));
    }
    return 1;
}

void sim_cb_deliver(sim_world *w, sim_ev *ev)
{
    char body[SIM_BODY_MAX];
    sim_row *r = &w->rows[ev->row];
    if (sim__make(w, ev, body, sizeof body) < 0) {
        sim_fail(w, "cannot build a callback body for row %u", r->r.row_no);
        return;
    }
    if (ev->cb_kind == SIM_CB_GENUINE) {
        int moves = r->cb_moves;
        if (ev->cb_status == PB_ROW_REVERSED)
            r->reversal_told = 1;
        w->cb_genuine++;
        int ok = sim__receive(w, body, strlen(body));
        w->cb_applied += (uint64_t)(r->cb_moves - moves);
        if (!ok)
            sim_fail(w, "row %u: Gate's own callback was refused: %s", r->r.row_no, body);
        return;
    }
    /* a forgery: refused, and no row may change */
    sim_row before[SIM_ROWS_MAX];
    memcpy(before, w->rows, w->n_rows * sizeof *before);
    w->cb_forged++;
    if (sim__receive(w, body, strlen(body)))
        sim_fail(w, "a forged callback (kind %d) for row %u passed the signature check: %s",
                 ev->cb_kind, r->r.row_no, body);
    else if (memcmp(before, w->rows, w->n_rows * sizeof *before) != 0)
        sim_fail(w, "a forged callback (kind %d) changed row %u", ev->cb_kind, r->r.row_no);
    if (w->verbose)
        printf("%8lld FORGED kind %d row %u (%s): refused\n", (long long)w->now, ev->cb_kind,
               r->r.row_no, sim__status_name(ev->cb_status));
}

void sim_cb_reconcile_and_check(sim_world *w)
{
    char body[SIM_BODY_MAX];
    for (uint32_t i = 0; i < w->n_rows && !w->fail[0]; i++) {
        sim_row *r = &w->rows[i];
        /* the poller asks Gate about every row still pending; its answer goes through the
         * same decision as a callback */
        if (r->r.state == PB_ROW_ACCEPTED && r->gate_ours) {
            if (sim__body(body, sizeof body, r, r->gate_final, r->gate_amount, r->gate_cur) < 0 ||
                sim__sign(body, sizeof body, SIM_SECRET, 0) < 0) {
                sim_fail(w, "cannot build a status body for row %u", r->r.row_no);
                return;
            }
            w->cb_polled++;
            (void)sim__receive(w, body, strlen(body));
        }
        /* A reversal whose every callback was lost is not seen: reconcile polls the rows that
         * are not final, and a paid row is final (a known limit, counted and printed) */
        int unseen =
            r->gate_final == PB_ROW_REVERSED && !r->reversal_told && r->r.state == PB_ROW_SUCCESS;
        w->reversals_unseen += (uint64_t)unseen;
        const char *want = r->foreign || !r->gate_ours        ? "rejected"
                           : unseen                           ? "success"
                           : r->gate_final == PB_ROW_SUCCESS  ? "success"
                           : r->gate_final == PB_ROW_REVERSED ? "reversed"
                           : r->gate_final == PB_ROW_DECLINE  ? "decline"
                                                              : "pending";
        const char *got = pb_result_name(r->r.state, r->r.attempts);
        if (strcmp(want, got) != 0)
            sim_fail(w, "row %u: the result file says %s, Gate's truth is %s (row %s)", r->r.row_no,
                     got, want, pb_row_state_name(r->r.state));
    }
}
