/*
 * money.h - amounts as int64_t minor units, and ISO 4217 currency exponents.
 *
 * No floating point anywhere: a cell is parsed digit by digit into minor units with the
 * currency's exponent, and formatted back the same way. Parse failures say why (pb_money_why)
 * so that the validator can tell a decimal comma from a thousands separator from a sign.
 */
#ifndef PB_CORE_MONEY_H
#define PB_CORE_MONEY_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *code; /* "PHP" */
    int exponent;     /* minor digits: 2 for PHP, 0 for JPY, 3 for KWD */
} pb_currency;

/* The currency with this alpha-3 code (ASCII case-insensitive), or NULL. Static storage. */
const pb_currency *pb_currency_find(const char *code, size_t len);

typedef enum {
    PB_MONEY_OK = 0,
    PB_MONEY_EMPTY,             /* nothing there */
    PB_MONEY_SIGN,              /* "+5" or "-5": payouts are positive amounts without a sign */
    PB_MONEY_SPACE,             /* a space anywhere, inner or surrounding */
    PB_MONEY_THOUSANDS,         /* "1,000.00", "1'000", "1 000" */
    PB_MONEY_DECIMAL_COMMA,     /* "500,00" */
    PB_MONEY_DECIMAL_POINT,     /* "500.00" where integer minor units were expected */
    PB_MONEY_TOO_MANY_DECIMALS, /* "5.001" for a 2-digit currency */
    PB_MONEY_SCIENTIFIC,        /* "9.17E+09": a spreadsheet reformatted the number */
    PB_MONEY_OVERFLOW,          /* does not fit int64_t minor units */
    PB_MONEY_NOT_A_NUMBER       /* anything else */
} pb_money_why;

/* A short explanation of why, for messages ("has a thousands separator"). */
const char *pb_money_why_text(pb_money_why why);

/*
 * Integer minor units: digits only ("50000" = 500.00 for a 2-digit currency).
 * Returns 0, or PB_EINVAL / PB_ERANGE with *why saying what is wrong.
 */
int pb_money_parse_minor(const char *s, size_t len, int64_t *out, pb_money_why *why);

/*
 * Decimal major units with '.' as separator and at most `exponent` decimals ("500.00",
 * "500.5", "500"). Returns 0, or PB_EINVAL / PB_ERANGE with *why.
 */
int pb_money_parse_major(const char *s, size_t len, int exponent, int64_t *out, pb_money_why *why);

/*
 * Format minor units as a decimal major-unit string ("1234.50"; "-0.05"; "7" for exponent 0)
 * into out (NUL-terminated). Returns PB_ELIMIT when outlen is too small (28 is always enough).
 */
int pb_money_format(int64_t minor, int exponent, char *out, size_t outlen);

/* a + b into *sum; PB_ERANGE on overflow (totals of huge files must not wrap). */
int pb_money_add(int64_t a, int64_t b, int64_t *sum);

#endif
