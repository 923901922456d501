/*
 * gate_request.h - the signed Gate payout request body of one validated row (SPEC §5).
 *
 * project_id and amount are written as JSON integers from their int64_t values (never through
 * a double); every other field is a string. Empty optional cells are left out, not sent as "".
 * The body is signed over exactly the JSON it carries, and the signature is put in
 * general.signature.
 */
#ifndef PB_FORMATS_GATE_REQUEST_H
#define PB_FORMATS_GATE_REQUEST_H

#include "core/buf.h"
#include "core/validate.h"

#include <stdint.h>

#define PB_GATE_BODY_MAX (64u * 1024u)

typedef struct {
    int64_t project_id;
    const char *callback_url; /* general.merchant_callback_url, or NULL */
    const char *secret;       /* the project's secret key (borrowed, never copied or logged) */
    size_t secret_len;
} pb_gate_cfg;

/*
 * Append the signed JSON body for a row that passed validation (res->method, res->currency and
 * res->amount_ok set) to out. Returns 0, PB_EINVAL (row not valid), PB_ELIMIT, PB_ENOMEM.
 */
int pb_gate_payout_body(const pb_row *row, const pb_row_result *res, const pb_gate_cfg *cfg,
                        pb_buf *out);

/* The signed body of a status request by payment id: {"general":{project_id,payment_id,sig}}. */
int pb_gate_status_body(const char *payment_id, size_t id_len, const pb_gate_cfg *cfg, pb_buf *out);

#endif
