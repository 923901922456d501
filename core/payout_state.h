/*
 * payout_state.h - the row state machine of SPEC §7, and the one record of a state change
 * that the send engine emits and every store backend applies.
 *
 *   invalid                       (final: never sent)
 *   queued -> sending             (claimed; committed before the request leaves)
 *   sending -> accepted | rejected | in_doubt | queued (not sent: safe retry) | final
 *   in_doubt -> queued (status query: not found) | accepted | rejected | final
 *   accepted -> success | decline | error
 *   success -> reversed           (a payout reversal after success, reported as such)
 *
 * Final states are invalid, rejected, success, decline, error, reversed: a final state is
 * never replaced, except success -> reversed. Pure: no I/O; the tables are static.
 */
#ifndef PB_CORE_PAYOUT_STATE_H
#define PB_CORE_PAYOUT_STATE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    PB_ROW_INVALID = 0,
    PB_ROW_QUEUED,
    PB_ROW_SENDING,
    PB_ROW_IN_DOUBT,
    PB_ROW_ACCEPTED,
    PB_ROW_REJECTED, /* refused by Gate with a code (or a conflict we detected) */
    PB_ROW_SUCCESS,
    PB_ROW_DECLINE,
    PB_ROW_ERROR, /* Gate ended the payment as `error` after accepting the request */
    PB_ROW_REVERSED,
    PB_ROW_STATE_COUNT
} pb_row_state;

/* "queued", "in_doubt", ...: the names stored and printed. Static; "?" for a bad value. */
const char *pb_row_state_name(pb_row_state s);
/* The state with this exact name; PB_ENOTFOUND otherwise. */
int pb_row_state_parse(const char *name, size_t len, pb_row_state *out);
int pb_row_state_is_final(pb_row_state s);
/* 1 when from -> to is a transition of the machine above (from == to is not one). */
int pb_row_state_allowed(pb_row_state from, pb_row_state to);

/* Caps of the text fields a row carries (bytes, without the NUL). Longer values are cut. */
#define PB_ROW_CODE_MAX    15
#define PB_ROW_STATUS_MAX  47
#define PB_ROW_MESSAGE_MAX 255
#define PB_ROW_ID_MAX      127

/*
 * One state change of one row, applied by the store as compare-and-set: it takes effect
 * only if the row is still in `from`. Fixed-size fields, so an update owns nothing and can
 * be copied freely. An empty string means "leave this field as it is".
 */
typedef struct {
    uint32_t row_no; /* the row's spreadsheet row number within its batch */
    pb_row_state from;
    pb_row_state to;
    int64_t at_ms;                  /* when the change was decided (updated_at) */
    int64_t next_at_ms;             /* for queued / in_doubt rows: not before this time; else 0 */
    int add_attempt;                /* 1: the row's attempt counter goes up by one */
    char code[PB_ROW_CODE_MAX + 1]; /* Gate's code (refusal or operation code) */
    char message[PB_ROW_MESSAGE_MAX + 1];    /* Gate's message, or ours */
    char gate_status[PB_ROW_STATUS_MAX + 1]; /* payment status as Gate said it */
    char request_id[PB_ROW_ID_MAX + 1];
    char operation_id[PB_ROW_ID_MAX + 1];
    char provider_payment_id[PB_ROW_ID_MAX + 1];
} pb_row_update;

/* Copy at most cap bytes of src[0..len) into dst[cap + 1], always NUL-terminated; a cut
 * falls before a UTF-8 character, never inside one. */
void pb_row_field_set(char *dst, size_t cap, const char *src, size_t len);

#endif
