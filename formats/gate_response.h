/*
 * gate_response.h - what Gate said: a payout answer, a status answer or a callback, as plain
 * values (SPEC §5, §8; ecommpay-protocol.md §2.4, §2.6, §2.7).
 *
 * Bodies are read through core/json_flat (the same strict parser the signature uses), so every
 * value comes from its JSON token text: amounts are parsed from the number token's digits,
 * never through a double, and `code` is accepted as a string ("3041") or an integer token.
 * Pure apart from reading the caller's bytes; results go to caller-owned structs with
 * fixed-size fields (long values are cut at a UTF-8 boundary).
 */
#ifndef PB_FORMATS_GATE_RESPONSE_H
#define PB_FORMATS_GATE_RESPONSE_H

#include "core/callback.h"
#include "core/payout_state.h"

#include <stddef.h>
#include <stdint.h>

/* The synchronous answer to a payout request. */
typedef struct {
    char status[PB_ROW_STATUS_MAX + 1]; /* "success", "error", or "" when absent */
    char code[PB_ROW_CODE_MAX + 1];     /* "3041"; "" when absent */
    char message[PB_ROW_MESSAGE_MAX + 1];
    char request_id[PB_ROW_ID_MAX + 1];
} pb_gate_answer;

/* 0; PB_EPARSE when the body is not a strict JSON object; PB_ELIMIT, PB_ENOMEM. */
int pb_gate_answer_parse(const char *body, size_t len, pb_gate_answer *out);

/* A payment as a status answer or a callback describes it. */
typedef struct {
    int signature_ok; /* a signature was present and matched the secret */
    char payment_id[256];
    char payment_status[PB_ROW_STATUS_MAX + 1]; /* payment.status */
    int amount_ok;  /* payment.sum.amount was an integer token that fits int64 */
    int64_t amount; /* minor units */
    char currency[16];
    /* the latest payout operation (operation, or the last of operations[]) */
    char op_type[32];
    char op_status[PB_ROW_STATUS_MAX + 1];
    char op_code[PB_ROW_CODE_MAX + 1];
    char op_message[PB_ROW_MESSAGE_MAX + 1];
    char op_id[PB_ROW_ID_MAX + 1];
    char request_id[PB_ROW_ID_MAX + 1];
    char provider_payment_id[PB_ROW_ID_MAX + 1];
    int reversed; /* an operation of type "reversal" ended in success */
    /* project_id (top level, or general.project_id): 0 absent, 1 read into project_id, -1
     * present but not an integer (a number or a string of digits) */
    int project_id_seen;
    int64_t project_id;
    /* an error answer (status query for an unknown payment): top-level code/message */
    char code[PB_ROW_CODE_MAX + 1];
    char message[PB_ROW_MESSAGE_MAX + 1];
} pb_gate_payment;

/*
 * Parse a status answer or a callback body and check its signature with secret (a NULL secret
 * skips the check: signature_ok stays 0). 0; PB_EPARSE not a strict JSON object; PB_ELIMIT;
 * PB_ENOMEM.
 */
int pb_gate_payment_parse(const char *body, size_t len, const char *secret, size_t secret_len,
                          pb_gate_payment *out);

/*
 * The facts of a parsed callback or status answer for pb_callback_decide(): the amount read
 * from its number token (present but "10.50", 1e3, {} or [] is never ok), the currency only
 * when it is a string. f's strings point into p (keep p alive while f is used); body is the
 * text p was parsed from.
 */
void pb_gate_payment_facts(const char *body, size_t len, const pb_gate_payment *p,
                           pb_callback_facts *f);

/* 1 when a status query's answer means "no such payment": HTTP 404, or code 3061. */
int pb_gate_status_not_found(int http_status, const pb_gate_payment *p);

/*
 * The row state a payment status means: success -> SUCCESS, decline -> DECLINE, error ->
 * ERROR, reversed (or a successful reversal operation) -> REVERSED, every other status
 * (processing, awaiting ...) -> ACCEPTED (still pending). "partially paid out" is final at
 * Gate but needs a person: it maps to ERROR, its status kept in gate_status.
 */
pb_row_state pb_gate_payment_state(const pb_gate_payment *p);

#endif
