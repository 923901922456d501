#include "core/methods.h"

#include "core/assert.h"
#include "core/str.h"

#include <string.h>

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
_Static_assert(PB__NMETHODS <= PB_METHOD_MAX, "raise PB_METHOD_MAX in methods.h");

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

const pb_method *pb_method_find_endpoint(const char *path)
{
    size_t i;
    for (i = 0; path && i < PB__NMETHODS; i++) {
        if (strcmp(path, pb__methods[i].endpoint) == 0)
            return &pb__methods[i];
    }
    return NULL;
}

/* Append s to out[*used..outlen-1), keeping a NUL; cuts when full. */
static void pb__append(char *out, size_t outlen, size_t *used, const char *s)
{
    size_t n = strlen(s);
    if (*used + 1 >= outlen)
        return;
    if (n > outlen - 1 - *used)
        n = outlen - 1 - *used;
    memcpy(out + *used, s, n);
    *used += n;
    out[*used] = '\0';
}

void pb_method_names(char *out, size_t outlen, const char *last_sep, int display)
{
    size_t i, used = 0;

    if (outlen == 0)
        return;
    out[0] = '\0';
    for (i = 0; i < PB__NMETHODS; i++) {
        if (i)
            pb__append(out, outlen, &used, i + 1 == PB__NMETHODS ? last_sep : ", ");
        pb__append(out, outlen, &used, display ? pb__methods[i].display : pb__methods[i].name);
    }
}

pb_account_verdict pb_method_account_check(const pb_method *m, const char *s, size_t len)
{
    size_t i, plen;

    PB_ASSERT(s || len == 0);
    if (len == 0)
        return PB_ACCOUNT_EMPTY;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return PB_ACCOUNT_NOT_DIGITS;
    }
    if (!m)
        return PB_ACCOUNT_OK;
    plen = m->account_prefix ? strlen(m->account_prefix) : 0;
    if (plen && m->account_prefix[0] == '0' && len + 1 >= plen &&
        len + 1 == m->account_min_digits && m->account_min_digits == m->account_max_digits &&
        memcmp(s, m->account_prefix + 1, plen - 1) == 0)
        return PB_ACCOUNT_LEADING_ZERO_LOST;
    if (len < m->account_min_digits || len > m->account_max_digits ||
        (plen && (len < plen || memcmp(s, m->account_prefix, plen) != 0)))
        return PB_ACCOUNT_BAD_LENGTH;
    return PB_ACCOUNT_OK;
}
