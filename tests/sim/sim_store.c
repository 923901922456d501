/* sim_store.c - the store model (committed rows: a claim commits at once, a COMMIT when its
 * event fires, compare-and-set like pb_store_mark) and the checks at the end of a seed. */
#include "sim.h"

#include "core/alloc.h"

#include <stdio.h>
#include <string.h>

sim_row *sim_row_of(sim_world *w, uint32_t row_no)
{
    if (row_no < 2 || row_no - 2 >= w->n_rows) {
        sim_fail(w, "the engine named row %u, which does not exist", row_no);
        return NULL;
    }
    return &w->rows[row_no - 2];
}

/* rows in `want` states whose next_at has come, lowest row first; *hint: the earliest
 * next_at among the others (the contract addition in core/engine.h) */
pb_engine_row *sim_store_select(sim_world *w, int claim, uint32_t max, size_t *n, int64_t *hint)
{
    pb_engine_row *out = pb_calloc(max ? max : 1, sizeof *out);
    *n = 0;
    *hint = PB_ENGINE_NEVER;
    if (!out) {
        sim_fail(w, "out of memory");
        return NULL;
    }
    for (uint32_t i = 0; i < w->n_loaded; i++) { /* rows not loaded yet are not in the store */
        sim_row *r = &w->rows[i];
        int match = claim ? r->r.state == PB_ROW_QUEUED
                          : r->r.state == PB_ROW_SENDING || r->r.state == PB_ROW_IN_DOUBT;
        if (!match)
            continue;
        if (r->r.next_at_ms > w->now) {
            *hint = r->r.next_at_ms < *hint ? r->r.next_at_ms : *hint;
            continue;
        }
        if (*n >= max)
            continue;
        if (claim) {
            r->r.state = PB_ROW_SENDING;
            r->r.attempts++;
        }
        out[(*n)++] = r->r;
    }
    return out;
}

void sim_store_apply(sim_world *w, sim_ev *ev)
{
    size_t applied = 0, moved = 0;
    for (size_t i = 0; i < ev->n; i++) {
        const pb_row_update *u = &ev->ups[i];
        sim_row *r = sim_row_of(w, u->row_no);
        if (!r)
            return;
        if (!pb_row_state_allowed(u->from, u->to)) {
            sim_fail(w, "row %u: update %s -> %s is no transition", u->row_no,
                     pb_row_state_name(u->from), pb_row_state_name(u->to));
            return;
        }
        if (r->r.state != u->from) {
            /* compare-and-set: skipped; only a callback may have moved a row the engine holds */
            if (r->cb_moves)
                moved++;
            continue;
        }
        r->r.state = u->to;
        r->r.next_at_ms = u->next_at_ms;
        r->r.attempts += u->add_attempt ? 1 : 0;
        if (u->code[0])
            snprintf(r->code, sizeof r->code, "%s", u->code);
        applied++;
    }
    /* only this engine and callbacks write these rows: an update skipped for another reason
     * means the engine lost track of one */
    if (applied + moved != ev->n)
        sim_fail(w, "COMMIT: %zu of %zu updates applied", applied, ev->n);
    ev->ev.type = PB_ENGINE_COMMITTED;
    ev->ev.u.committed.applied = applied;
}

void sim_check_end(sim_world *w)
{
    for (uint32_t i = 0; i < w->n_rows && !w->fail[0]; i++) {
        sim_row *r = &w->rows[i];
        pb_row_state s = r->r.state;
        int paid = s == PB_ROW_ACCEPTED || s == PB_ROW_SUCCESS || s == PB_ROW_DECLINE ||
                   s == PB_ROW_ERROR || s == PB_ROW_REVERSED;
        if (!paid && s != PB_ROW_REJECTED)
            sim_fail(w, "row %u left %s", r->r.row_no, pb_row_state_name(s));
        else if (r->gate_records > 1)
            sim_fail(w, "row %u paid %d times", r->r.row_no, r->gate_records);
        else if (r->foreign && (s != PB_ROW_REJECTED || strcmp(r->code, "conflict") != 0))
            sim_fail(w, "row %u: another payment holds its id, yet it ended %s (%s)", r->r.row_no,
                     pb_row_state_name(s), r->code);
        else if (!r->foreign && r->gate_ours && !paid)
            sim_fail(w, "row %u: Gate has its payment, it ended %s (%s)", r->r.row_no,
                     pb_row_state_name(s), r->code);
        else if (!r->foreign && !r->gate_ours && paid)
            sim_fail(w, "row %u ended %s but Gate never had it", r->r.row_no, pb_row_state_name(s));
        else if (!r->foreign && !r->gate_ours && (!r->refuse || strcmp(r->code, "3025") != 0))
            sim_fail(w, "row %u: never paid, ended %s (%s)", r->r.row_no, pb_row_state_name(s),
                     r->code);
        else if ((s == PB_ROW_SUCCESS || s == PB_ROW_DECLINE || s == PB_ROW_REVERSED) &&
                 (int)s != r->gate_final &&
                 !(s == PB_ROW_SUCCESS && r->gate_final == PB_ROW_REVERSED))
            sim_fail(w, "row %u ended %s, Gate says otherwise", r->r.row_no, pb_row_state_name(s));
    }
    /* the rate: every window of one second of simulated time */
    for (size_t i = 0, j = 0; i < w->n_req && !w->fail[0]; i++) {
        while (w->req_at[i] - w->req_at[j] > 1000)
            j++;
        int64_t count = (int64_t)(i - j + 1);
        /* the engine's promise: rate + its burst (core/engine.c: one clock step's slots, at
         * least 2 from 500/s) */
        int64_t burst = (w->cfg.rate_milli + 999999) / 1000000;
        if (burst < 2)
            burst = w->cfg.rate_milli >= 500000 ? 2 : 1;
        if (count * 1000 > w->cfg.rate_milli + burst * 1000)
            sim_fail(w, "%lld requests within one second ending at %lld (rate %lld/1000)",
                     (long long)count, (long long)w->req_at[i], (long long)w->cfg.rate_milli);
    }
}
