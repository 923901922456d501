/*
 * result_csv.h - the result file finance reads (SPEC §8, contract): every original cell of
 * the input row verbatim, then result, gate_status, code, message, request_id, operation_id,
 * provider_payment_id, attempts, updated_at (UTC, ISO 8601). Cells a spreadsheet would run as
 * a formula get a "'" prefix (the one rule: pb_formula_like). Records go into a capped pb_buf
 * owned by the caller; the input's delimiter is used.
 */
#ifndef PB_FORMATS_RESULT_CSV_H
#define PB_FORMATS_RESULT_CSV_H

#include "core/buf.h"
#include "core/payout_state.h"
#include "core/str.h"

#include <stddef.h>
#include <stdint.h>

/* What the store knows of one row, as plain values (borrowed). */
typedef struct {
    pb_row_state state;
    uint32_t attempts;
    const char *gate_status;
    const char *code;
    const char *message;
    const char *request_id;
    const char *operation_id;
    const char *provider_payment_id;
    const char *findings;  /* an invalid row's finding names, or NULL */
    int64_t updated_at_ms; /* 0: never updated */
} pb_result_row;

/*
 * The `result` column: success, decline, rejected (refused by Gate, a conflict, or Gate's
 * `error`), reversed (paid, then a payout reversal: reported as such), pending (accepted,
 * sending, in doubt, or queued after an attempt), invalid, not_sent (valid, never attempted).
 * Static.
 */
const char *pb_result_name(pb_row_state state, uint32_t attempts);

/* The result columns after the input's cells: PB_RESULT_CSV_COLS names ("result", ...,
 * "updated_at"); i < PB_RESULT_CSV_COLS. Static. */
#define PB_RESULT_CSV_COLS 9
const char *pb_result_csv_column(size_t i);

/* The header record: the input's header cells, then the nine result columns. */
int pb_result_csv_header(pb_buf *out, const pb_str *header, size_t n, char delimiter);
/* One row: its original cells, then what became of it. PB_ELIMIT past the buffer's cap. */
int pb_result_csv_row(pb_buf *out, const pb_str *cells, size_t n, const pb_result_row *r,
                      char delimiter);

#endif
