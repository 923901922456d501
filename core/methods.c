#include "core/methods.h"

#include "core/str.h"

/*
 * From the seed documents (SPEC §4). Touch&Go's account rule is paybatch's own sanity check
 * (the seed only asks for "the account number"); keep it here so it changes in one place.
 */
static const pb_method pb__methods[] = {
    {
        .name = "touchngo",
        .display = "Touch'n Go",
        .endpoint = "/v2/payment/wallet/touchngo/payout",
        .currency = "MYR",
        .conversion_allowed = 1,
        .min_minor = 500,     /* 5.00 MYR */
        .max_minor = 2000000, /* 20,000.00 MYR */
        .account_min_digits = 6,
        .account_max_digits = 20,
        .account_prefix = NULL,
        .customer_name_required = 0,
        .result_basic_s = 120,
        .result_limit_s = 0,
    },
    {
        .name = "gcash",
        .display = "GCash",
        .endpoint = "/v2/payment/wallet/gcash/payout",
        .currency = "PHP",
        .conversion_allowed = 0,
        .min_minor = 1000,     /* 10.00 PHP */
        .max_minor = 10000000, /* 100,000.00 PHP */
        .account_min_digits = 11,
        .account_max_digits = 11,
        .account_prefix = "09",
        .customer_name_required = 1,
        .result_basic_s = 24 * 3600,
        .result_limit_s = 48 * 3600,
    },
};

#define PB__NMETHODS (sizeof(pb__methods) / sizeof(pb__methods[0]))

const pb_method *pb_method_find(const char *name, size_t len)
{
    size_t i;
    for (i = 0; i < PB__NMETHODS; i++) {
        if (pb_str_ieq(pb_str_make(name, len), pb__methods[i].name))
            return &pb__methods[i];
    }
    return NULL;
}

size_t pb_method_count(void)
{
    return PB__NMETHODS;
}

const pb_method *pb_method_at(size_t i)
{
    return i < PB__NMETHODS ? &pb__methods[i] : NULL;
}

const char *pb_method_names(void)
{
    return "touchngo, gcash";
}
