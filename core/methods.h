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

/* The method with this name (ASCII case-insensitive), or NULL. */
const pb_method *pb_method_find(const char *name, size_t len);
size_t pb_method_count(void);
const pb_method *pb_method_at(size_t i);
/* "touchngo, gcash": the names for messages. Static. */
const char *pb_method_names(void);

#endif
