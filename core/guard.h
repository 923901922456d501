/*
 * guard.h - the guard-rails checked before money moves (issue #14): policy limits
 * (--max-total, --max-rows, --max-amount), control totals (--expect-rows, --expect-total,
 * --control) and the key of the `paid-recently` check.
 *
 * Pure: the caller feeds every row that would be sent (row number, currency, amount) into a
 * pb_guard; pb_guard_check then reports every violated limit and control total, each with the
 * figure found and the rows that make it up (the first PB_GUARD_ROWS_SHOWN of them, and how
 * many in all). Amounts are int64_t minor units; figures given by people ("PHP:250000.00")
 * are parsed by core/money.
 *
 * Ownership: pb_guard is allocated by pb_guard_new and released by pb_guard_free (NULL is
 * fine). A violation handed to the callback is valid only during the call.
 */
#ifndef PB_CORE_GUARD_H
#define PB_CORE_GUARD_H

#include <stddef.h>
#include <stdint.h>

#define PB_GUARD_MAX_CUR    16 /* currencies named per kind of limit */
#define PB_GUARD_ROWS_SHOWN 10 /* row numbers a violation names; the rest are counted */

/* A per-currency figure: "PHP:250000.00" is {"PHP", 25000000}. */
typedef struct {
    char currency[4];
    int64_t amount; /* minor units */
} pb_guard_money;

typedef struct {
    pb_guard_money max_total[PB_GUARD_MAX_CUR]; /* sum of one currency's rows at most this */
    size_t n_max_total;
    pb_guard_money max_amount[PB_GUARD_MAX_CUR]; /* a single row at most this */
    size_t n_max_amount;
    int64_t max_rows;    /* -1: none */
    int64_t expect_rows; /* -1: none; else the valid rows must be exactly this many */
    /* when n_expect_total > 0, every currency's total must be exactly its figure, and a
     * currency not named must not occur (its expected total is 0) */
    pb_guard_money expect_total[PB_GUARD_MAX_CUR];
    size_t n_expect_total;
} pb_guard_limits;

/* Limits with nothing set (max_rows = expect_rows = -1). */
void pb_guard_limits_init(pb_guard_limits *l);

/*
 * Parse "CUR:AMOUNT" (currency alpha-3, case-insensitive; AMOUNT in major units with '.' and
 * at most the currency's decimals, as core/money reads it). PB_EINVAL with a message
 * (pb_error_last) saying the accepted form.
 */
int pb_guard_money_parse(const char *s, size_t len, pb_guard_money *out);

/* Append m to a list of at most PB_GUARD_MAX_CUR (same currency twice: PB_EEXISTS; full:
 * PB_ELIMIT), with a message naming `what` (e.g. "--max-total"). */
int pb_guard_money_add(pb_guard_money *list, size_t *n, const pb_guard_money *m, const char *what);

/* "PHP:250000.00" into out (28 + 4 bytes always suffice). */
void pb_guard_money_format(const pb_guard_money *m, char *out, size_t outlen);

typedef enum {
    PB_GUARD_MAX_TOTAL = 1,
    PB_GUARD_MAX_ROWS,
    PB_GUARD_MAX_AMOUNT,
    PB_GUARD_EXPECT_ROWS,
    PB_GUARD_EXPECT_TOTAL
} pb_guard_kind;

typedef struct {
    pb_guard_kind kind;
    char currency[4];     /* "" for the row counts */
    int64_t limit;        /* the figure in force: minor units, or rows */
    int64_t found;        /* what the rows make up: minor units, or rows */
    const uint32_t *rows; /* the first rows that make it up (row numbers) ... */
    size_t nrows;         /* ... how many of them are listed ... */
    uint64_t rows_total;  /* ... and how many there are in all */
} pb_guard_violation;

typedef struct pb_guard pb_guard;

/* limits is copied. */
int pb_guard_new(pb_guard **out, const pb_guard_limits *limits);
void pb_guard_free(pb_guard *g);

/* One row that would be sent. PB_EINVAL for an unknown currency, PB_ERANGE on overflow. */
int pb_guard_add(pb_guard *g, uint32_t row_no, const char *currency, int64_t amount);

/* Call cb for every violation, in the order: rows, totals, amounts, then the control totals;
 * *count = how many. A callback returning nonzero stops and that value is returned. */
int pb_guard_check(const pb_guard *g, int (*cb)(const pb_guard_violation *v, void *ctx), void *ctx,
                   size_t *count);

/* The rows and total of one currency fed so far (0 and 0 when none). */
void pb_guard_totals(const pb_guard *g, const char *currency, uint64_t *rows, int64_t *amount);
/* Every currency fed so far, sorted: i-th code, or NULL past the end. */
const char *pb_guard_currency(const pb_guard *g, size_t i);
uint64_t pb_guard_rows(const pb_guard *g);

/*
 * A violation as one line for people: which option, the figure in force, what was found, and
 * the rows ("--max-total PHP:250000.00: the PHP rows to send total 300000.00 (3 rows: 2, 5,
 * 9)"). Always NUL-terminated; cut at outlen.
 */
void pb_guard_violation_text(const pb_guard_violation *v, char *out, size_t outlen);

/*
 * The key of the paid-recently check: lowercase hex SHA-256 over
 * "paybatch-payee-v1" NUL method NUL account NUL amount (decimal minor units) NUL currency.
 * Same method, account number and amount in the same currency give the same key. The
 * account is taken as the validator accepted it (digits only for every method today).
 */
int pb_guard_payee_key(const char *method, const char *account, size_t account_len, int64_t amount,
                       const char *currency, char hex[65]);

#endif
