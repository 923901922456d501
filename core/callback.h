/*
 * callback.h - what a verified Gate callback does to a stored row (SPEC §7, §8): a pure
 * decision, no I/O, no clock (the time comes in).
 *
 * The caller (batch/listen/receiver) has verified the signature, found the row by payment id
 * and read the callback's facts from the body's tokens; pb_callback_decide() says which
 * pb_row_update(s) to apply with pb_store_mark(), or that nothing changes, and why:
 *   - the amount or currency of the callback differs from the row's (or the amount is there
 *     but is not an integer token in int64: "10.50", {}, []): MISMATCH, never applied;
 *   - the row is already in the state the callback means: SAME (a duplicate);
 *   - a pending status ("processing", "awaiting ...") for a row in sending / in_doubt:
 *     -> accepted; for an accepted or final row: STALE (out of order, harmless);
 *   - success / decline / error for a row in sending / in_doubt / accepted: applied; for a
 *     final row with another outcome: CONFLICT (a final state is never overwritten);
 *   - reversed (payment status "reversed" or a successful reversal operation) for a success
 *     row: -> reversed; for a row in sending / in_doubt / accepted: two updates in order,
 *     -> success, then success -> reversed (the success callback was missed);
 *   - a row never sent or refused (invalid, queued, rejected): CONFLICT, nothing changes.
 * Only transitions pb_row_state_allowed() accepts are ever produced.
 *
 * Ownership: everything is plain values; strings in pb_callback_facts are borrowed for the
 * call and copied (cut at a UTF-8 boundary) into the updates.
 */
#ifndef PB_CORE_CALLBACK_H
#define PB_CORE_CALLBACK_H

#include <stddef.h>
#include <stdint.h>

#include "core/payout_state.h"

/*
 * The one rule from a Gate payment status to a row state: success -> SUCCESS, decline ->
 * DECLINE, error / "partially paid out" -> ERROR, reversed (or reversed != 0: a successful
 * reversal operation) -> REVERSED, anything else (processing, awaiting ..., "") -> ACCEPTED.
 * formats/gate_response's pb_gate_payment_state() uses it.
 */
pb_row_state pb_callback_status_state(const char *payment_status, int reversed);

/* The row as stored (only what the decision needs). */
typedef struct {
    uint32_t row_no;
    pb_row_state state;
    int64_t amount;       /* minor units */
    const char *currency; /* NUL-terminated */
} pb_callback_row;

/* What a verified callback says. Every string NUL-terminated; "" (or NULL) when absent. */
typedef struct {
    const char *payment_status; /* payment.status as received */
    int reversed;               /* a reversal operation ended in success */
    int amount_present;         /* payment.sum.amount is in the body (any JSON value) */
    int amount_ok;              /* ... and is an integer token within int64 */
    int64_t amount;             /* minor units, valid when amount_ok */
    int currency_present;       /* payment.sum.currency is in the body (any JSON value) */
    const char *currency;       /* its decoded text when it is a string, else "" */
    const char *code;           /* operation.code */
    const char *message;        /* operation.message */
    const char *operation_id;
    const char *request_id;
    const char *provider_payment_id;
} pb_callback_facts;

typedef enum {
    PB_CALLBACK_APPLY = 0, /* apply updates[0..n) with pb_store_mark (compare-and-set) */
    PB_CALLBACK_SAME,      /* the row already is where the callback says */
    PB_CALLBACK_STALE,     /* older news than the row (processing after a final state) */
    PB_CALLBACK_CONFLICT,  /* another outcome than a final row's, or a row never sent */
    PB_CALLBACK_MISMATCH   /* amount or currency differs from the row's: never applied */
} pb_callback_verdict;

#define PB_CALLBACK_MAX_UPDATES 2

typedef struct {
    pb_callback_verdict verdict;
    pb_row_state target; /* the state the callback means */
    size_t n;            /* updates to apply (0 unless APPLY) */
    pb_row_update updates[PB_CALLBACK_MAX_UPDATES];
    const char *why; /* static, short: "duplicate", "amount differs" ... */
} pb_callback_decision;

/* Fill *out (always: no failure is possible for valid pointers). now_ms is the updates'
 * at_ms. */
void pb_callback_decide(const pb_callback_row *row, const pb_callback_facts *f, int64_t now_ms,
                        pb_callback_decision *out);

/* "apply", "same", "stale", "conflict", "mismatch" (static). */
const char *pb_callback_verdict_name(pb_callback_verdict v);

#endif
