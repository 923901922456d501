/*
 * findings.h - the stable finding codes of SPEC §4 and the finding record.
 *
 * Codes are part of the contract (reports, scripts grep for them): never rename one. A finding
 * is a plain value; its `column` is borrowed from whoever produced it and valid only during
 * the callback that delivers it.
 */
#ifndef PB_CORE_FINDINGS_H
#define PB_CORE_FINDINGS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    /* file level */
    PB_F_NO_HEADER,
    PB_F_DUPLICATE_COLUMN,
    PB_F_UNKNOWN_COLUMN,
    PB_F_MISSING_COLUMN,
    PB_F_TWO_AMOUNT_COLUMNS,
    PB_F_MALFORMED_CSV,
    /* row level */
    PB_F_ENCODING,
    PB_F_WRONG_FIELD_COUNT,
    PB_F_MISSING_VALUE,
    PB_F_BAD_AMOUNT,
    PB_F_AMOUNT_HAS_DECIMALS,
    PB_F_DECIMAL_COMMA,
    PB_F_AMOUNT_TOO_SMALL,
    PB_F_AMOUNT_TOO_LARGE,
    PB_F_CURRENCY_MISMATCH,
    PB_F_CONVERTED_CURRENCY,
    PB_F_UNKNOWN_METHOD,
    PB_F_BAD_ACCOUNT_NUMBER,
    PB_F_LEADING_ZERO_LOST,
    PB_F_SCIENTIFIC_NOTATION,
    PB_F_BAD_IP,
    PB_F_DUPLICATE_PAYMENT_ID,
    PB_F_BAD_CHARACTERS,
    PB_F_TOO_LONG,
    PB_F_POSSIBLE_DUPLICATE_PAYOUT,
    PB_F_FORMULA_LIKE,
    PB_F_PAYMENT_ID_USED, /* send: the payment id belongs to another batch of the store */
    PB_F_PAID_RECENTLY,   /* send: same method, account, amount paid in another batch lately */
    PB_F__COUNT
} pb_finding_code;

typedef enum { PB_SEV_ERROR = 0, PB_SEV_WARNING = 1 } pb_severity;

#define PB_FINDING_MSG_MAX 400

typedef struct {
    pb_finding_code code;
    uint64_t row;                     /* spreadsheet row (header = 1); 0 for the file as a whole */
    const char *column;               /* header name as written in the file, or NULL */
    uint64_t other_row;               /* the earlier row a duplicate refers to, or 0 */
    char message[PB_FINDING_MSG_MAX]; /* what is wrong and how to fix it; no unmasked account */
    int escalated; /* 1: an error although its code is a warning (--strict-recent) */
} pb_finding;

typedef void (*pb_finding_cb)(const pb_finding *f, void *ctx);

/*
 * The one finding builder: fill *f (every field) with a printf-style message, cut to
 * PB_FINDING_MSG_MAX - 1 bytes. column is borrowed (see above); row/other_row 0 when none.
 */
void pb_finding_make(pb_finding *f, pb_finding_code code, uint64_t row, const char *column,
                     uint64_t other_row, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void pb_finding_vmake(pb_finding *f, pb_finding_code code, uint64_t row, const char *column,
                      uint64_t other_row, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

/* "duplicate-payment-id". Static, never NULL. */
const char *pb_finding_name(pb_finding_code code);
pb_severity pb_finding_severity(pb_finding_code code);
/* The severity of this finding: its code's, or error when escalated. */
pb_severity pb_finding_sev(const pb_finding *f);
/* 1 for the header/file-level codes that stop the whole file. */
int pb_finding_is_file_level(pb_finding_code code);
const char *pb_severity_name(pb_severity s);

/*
 * Mask an account number for logs and reports: every character but the last four becomes
 * '*' (all of them when it has four or fewer). Writes at most outlen-1 bytes plus a NUL.
 */
void pb_mask_account(const char *acct, size_t len, char *out, size_t outlen);

#endif
