/*
 * validate.h - the rules of one mapped CSV row (SPEC §4), as plain values in, findings out.
 *
 * Pure: no I/O. The caller (formats/validator) maps header columns to pb_col slots, fills a
 * pb_row whose cells borrow the reader's buffers, and gets every finding of the row through
 * a callback, plus the parsed method, currency and amount for building the request.
 * Cross-row checks (duplicates) live in formats/dupcheck.
 */
#ifndef PB_CORE_VALIDATE_H
#define PB_CORE_VALIDATE_H

#include "core/findings.h"
#include "core/methods.h"
#include "core/money.h"
#include "core/str.h"

#include <stdint.h>

typedef enum {
    PB_COL_METHOD,
    PB_COL_PAYMENT_ID,
    PB_COL_AMOUNT,       /* payment.amount: integer minor units */
    PB_COL_AMOUNT_MAJOR, /* amount_major: decimal major units */
    PB_COL_CURRENCY,
    PB_COL_CUSTOMER_ID,
    PB_COL_IP,
    PB_COL_ACCOUNT,
    PB_COL_CUSTOMER_NAME,
    PB_COL_DESCRIPTION,
    PB_COL__COUNT
} pb_col;

/* Canonical name of a column ("general.payment_id", "amount_major"). Static. */
const char *pb_col_canonical(pb_col c);

#define PB_ID_MAX_BYTES 255

typedef struct {
    const char *name; /* the header as written */
    const char *path; /* canonical Gate path, "customer.email" */
    pb_str value;
} pb_passthrough;

typedef struct {
    uint64_t row;                    /* spreadsheet row */
    pb_str cell[PB_COL__COUNT];      /* empty when absent */
    const char *name[PB_COL__COUNT]; /* header name as written, NULL when the file lacks it */
    const pb_passthrough *pass;      /* other object.field columns */
    size_t npass;
} pb_row;

typedef struct {
    const pb_method *default_method; /* --method, or NULL */
    int allow_conversion;            /* --allow-conversion */
} pb_validate_opts;

typedef struct {
    const pb_method *method;     /* NULL when unknown */
    const pb_currency *currency; /* NULL when unknown */
    int64_t amount_minor;        /* valid when amount_ok */
    int amount_ok;
    unsigned errors; /* error findings emitted for this row */
    unsigned warnings;
} pb_row_result;

/* Check every rule of SPEC §4 on one row; each finding goes to cb. Never fails. */
void pb_validate_row(const pb_row *row, const pb_validate_opts *opts, pb_row_result *res,
                     pb_finding_cb cb, void *ctx);

/* 1 when s is an IPv4 dotted quad or an IPv6 address (RFC 4291 text forms). */
int pb_ip_valid(pb_str s);

/*
 * 1 when a spreadsheet would run the cell as a formula (SPEC 4 formula-like, SPEC 8): its
 * first byte is '=', '+', '-', '@', TAB or CR. The one copy of the rule: the validation
 * warning and the CSV writer's neutralising both call it.
 */
int pb_formula_like(pb_str s);

/* Index of the first byte that is a C0 control or DEL, or -1. */
long pb_find_control(pb_str s, int allow_tab_newlines);

#endif
