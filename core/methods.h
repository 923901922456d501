/*
 * methods.h - the payout rules of each e-wallet method, as one table (SPEC §4).
 *
 * Adding a wallet is adding a row to the table in methods.c. Entries are static and never
 * freed; pointers returned here stay valid for the life of the program.
 */
#ifndef PB_CORE_METHODS_H
#define PB_CORE_METHODS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;       /* the `method` column value: "touchngo" */
    const char *display;    /* "Touch'n Go" */
    const char *endpoint;   /* Gate path: "/v2/payment/wallet/touchngo/payout" */
    const char *currency;   /* the method's own currency, ISO 4217 */
    int conversion_allowed; /* Gate converts other currencies (only with --allow-conversion) */
    int64_t min_minor;      /* payout limits in minor units of `currency`, inclusive */
    int64_t max_minor;
    unsigned account_min_digits; /* account.number: digits only, this many */
    unsigned account_max_digits;
    const char *account_prefix; /* required leading digits, or NULL */
    int customer_name_required;
    unsigned result_basic_s; /* a missing result is worth a status query after this */
    unsigned result_limit_s; /* Gate declines by itself after this; 0 = set per project */
} pb_method;

/* The table never holds more rows than this (checked at compile time in methods.c), so a
 * caller may size an array by it. */
#define PB_METHOD_MAX 8

/* The method with this name (ASCII case-insensitive), or NULL. */
const pb_method *pb_method_find(const char *name, size_t len);
size_t pb_method_count(void);
const pb_method *pb_method_at(size_t i);
/* The method whose Gate endpoint is exactly path (NUL-terminated), or NULL. */
const pb_method *pb_method_find_endpoint(const char *path);

/*
 * The names of every method for messages, in table order, separated by ", " except before
 * the last, which gets last_sep (", " or " or "): "touchngo, gcash" / "touchngo or gcash".
 * Writes at most outlen-1 bytes and a NUL (cut when out is too small; outlen 0 writes
 * nothing). display = 0 lists `name`s, 1 lists `display` names ("Touch'n Go, GCash").
 */
void pb_method_names(char *out, size_t outlen, const char *last_sep, int display);

/* Why an account number fails a method's rule (SPEC 4). */
typedef enum {
    PB_ACCOUNT_OK = 0,
    PB_ACCOUNT_EMPTY,
    PB_ACCOUNT_NOT_DIGITS,
    /* one digit short of a fixed length whose prefix starts with 0, and the number starts with
     * the rest of the prefix: a spreadsheet read it as a number and dropped the leading 0 */
    PB_ACCOUNT_LEADING_ZERO_LOST,
    PB_ACCOUNT_BAD_LENGTH, /* digits only, but the length or the required prefix is wrong */
} pb_account_verdict;

/*
 * The one account-number rule: digits only, then (with a method) the method's length and
 * prefix. With m == NULL only the digits are checked. Used by validation (which words the
 * finding) and by the sandbox (which refuses with 3242).
 */
pb_account_verdict pb_method_account_check(const pb_method *m, const char *s, size_t len);

#endif
