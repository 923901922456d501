#include "core/callback.h"

#include <string.h>

pb_row_state pb_callback_status_state(const char *s, int reversed)
{
    if (!s)
        s = "";
    if (reversed || strcmp(s, "reversed") == 0)
        return PB_ROW_REVERSED;
    if (strcmp(s, "success") == 0)
        return PB_ROW_SUCCESS;
    if (strcmp(s, "decline") == 0)
        return PB_ROW_DECLINE;
    if (strcmp(s, "error") == 0 || strcmp(s, "partially paid out") == 0 ||
        strcmp(s, "partially_paid_out") == 0)
        return PB_ROW_ERROR;
    return PB_ROW_ACCEPTED;
}

const char *pb_callback_verdict_name(pb_callback_verdict v)
{
    switch (v) {
    case PB_CALLBACK_APPLY:
        return "apply";
    case PB_CALLBACK_SAME:
        return "same";
    case PB_CALLBACK_STALE:
        return "stale";
    case PB_CALLBACK_CONFLICT:
        return "conflict";
    case PB_CALLBACK_MISMATCH:
        return "mismatch";
    }
    return "?";
}

static void pb__field(char *dst, size_t cap, const char *src)
{
    if (!src)
        src = "";
    pb_row_field_set(dst, cap, src, strlen(src));
}

#define PB__SET(dst, src) pb__field((dst), sizeof(dst) - 1, (src))

static void pb__update(pb_callback_decision *d, const pb_callback_row *row,
                       const pb_callback_facts *f, pb_row_state from, pb_row_state to,
                       int64_t now_ms)
{
    pb_row_update *u = &d->updates[d->n++];
    memset(u, 0, sizeof(*u));
    u->row_no = row->row_no;
    u->from = from;
    u->to = to;
    u->at_ms = now_ms;
    PB__SET(u->gate_status, f->payment_status);
    PB__SET(u->code, f->code);
    PB__SET(u->message, f->message);
    PB__SET(u->request_id, f->request_id);
    PB__SET(u->operation_id, f->operation_id);
    PB__SET(u->provider_payment_id, f->provider_payment_id);
}

static void pb__verdict(pb_callback_decision *d, pb_callback_verdict v, const char *why)
{
    d->verdict = v;
    d->why = why;
    d->n = 0;
}

void pb_callback_decide(const pb_callback_row *row, const pb_callback_facts *f, int64_t now_ms,
                        pb_callback_decision *out)
{
    pb_row_state from = row->state, to;
    const char *cur = row->currency ? row->currency : "";

    memset(out, 0, sizeof(*out));
    to = out->target = pb_callback_status_state(f->payment_status, f->reversed);

    /* money first: a callback about another amount or currency never moves the row */
    if (f->amount_present && (!f->amount_ok || f->amount != row->amount)) {
        pb__verdict(out, PB_CALLBACK_MISMATCH, "amount differs from the row's");
        return;
    }
    if (f->currency_present && strcmp(f->currency ? f->currency : "", cur) != 0) {
        pb__verdict(out, PB_CALLBACK_MISMATCH, "currency differs from the row's");
        return;
    }
    if (from == to) {
        pb__verdict(out, PB_CALLBACK_SAME, "duplicate");
        return;
    }
    if (from == PB_ROW_INVALID || from == PB_ROW_QUEUED || from == PB_ROW_REJECTED) {
        pb__verdict(out, PB_CALLBACK_CONFLICT, "row was never sent or was refused");
        return;
    }
    if (to == PB_ROW_ACCEPTED) {
        if (from == PB_ROW_SENDING || from == PB_ROW_IN_DOUBT) {
            out->verdict = PB_CALLBACK_APPLY;
            out->why = "pending";
            pb__update(out, row, f, from, to, now_ms);
            return;
        }
        pb__verdict(out, PB_CALLBACK_STALE, "pending status after a later one");
        return;
    }
    if (to == PB_ROW_REVERSED) {
        if (from == PB_ROW_SUCCESS) {
            out->verdict = PB_CALLBACK_APPLY;
            out->why = "reversal";
            pb__update(out, row, f, from, to, now_ms);
            return;
        }
        if (!pb_row_state_is_final(from)) {
            /* the success callback was missed: record it, then the reversal, in order */
            out->verdict = PB_CALLBACK_APPLY;
            out->why = "success and reversal";
            pb__update(out, row, f, from, PB_ROW_SUCCESS, now_ms);
            pb__update(out, row, f, PB_ROW_SUCCESS, PB_ROW_REVERSED, now_ms);
            return;
        }
        pb__verdict(out, PB_CALLBACK_CONFLICT, "reversal of a row that did not succeed");
        return;
    }
    /* success, decline, error */
    if (pb_row_state_is_final(from)) {
        /* success after reversed is the older news of the same payment */
        if (from == PB_ROW_REVERSED && to == PB_ROW_SUCCESS)
            pb__verdict(out, PB_CALLBACK_STALE, "success after its reversal");
        else
            pb__verdict(out, PB_CALLBACK_CONFLICT, "final state is never overwritten");
        return;
    }
    if (!pb_row_state_allowed(from, to)) {
        pb__verdict(out, PB_CALLBACK_CONFLICT, "not a transition of the state machine");
        return;
    }
    out->verdict = PB_CALLBACK_APPLY;
    out->why = "final";
    pb__update(out, row, f, from, to, now_ms);
}
