#include "core/money.h"

#include "core/errors.h"

#include <stdio.h>
#include <string.h>

/* ISO 4217 active codes. Exponent 2 unless listed otherwise (ISO 4217 amendment 176+). */
static const pb_currency pb__currencies[] = {
    {"AED", 2}, {"AFN", 2}, {"ALL", 2}, {"AMD", 2}, {"ANG", 2}, {"AOA", 2}, {"ARS", 2}, {"AUD", 2},
    {"AWG", 2}, {"AZN", 2}, {"BAM", 2}, {"BBD", 2}, {"BDT", 2}, {"BGN", 2}, {"BHD", 3}, {"BIF", 0},
    {"BMD", 2}, {"BND", 2}, {"BOB", 2}, {"BRL", 2}, {"BSD", 2}, {"BTN", 2}, {"BWP", 2}, {"BYN", 2},
    {"BZD", 2}, {"CAD", 2}, {"CDF", 2}, {"CHF", 2}, {"CLF", 4}, {"CLP", 0}, {"CNY", 2}, {"COP", 2},
    {"CRC", 2}, {"CUP", 2}, {"CVE", 2}, {"CZK", 2}, {"DJF", 0}, {"DKK", 2}, {"DOP", 2}, {"DZD", 2},
    {"EGP", 2}, {"ERN", 2}, {"ETB", 2}, {"EUR", 2}, {"FJD", 2}, {"FKP", 2}, {"GBP", 2}, {"GEL", 2},
    {"GHS", 2}, {"GIP", 2}, {"GMD", 2}, {"GNF", 0}, {"GTQ", 2}, {"GYD", 2}, {"HKD", 2}, {"HNL", 2},
    {"HTG", 2}, {"HUF", 2}, {"IDR", 2}, {"ILS", 2}, {"INR", 2}, {"IQD", 3}, {"IRR", 2}, {"ISK", 0},
    {"JMD", 2}, {"JOD", 3}, {"JPY", 0}, {"KES", 2}, {"KGS", 2}, {"KHR", 2}, {"KMF", 0}, {"KPW", 2},
    {"KRW", 0}, {"KWD", 3}, {"KYD", 2}, {"KZT", 2}, {"LAK", 2}, {"LBP", 2}, {"LKR", 2}, {"LRD", 2},
    {"LSL", 2}, {"LYD", 3}, {"MAD", 2}, {"MDL", 2}, {"MGA", 2}, {"MKD", 2}, {"MMK", 2}, {"MNT", 2},
    {"MOP", 2}, {"MRU", 2}, {"MUR", 2}, {"MVR", 2}, {"MWK", 2}, {"MXN", 2}, {"MYR", 2}, {"MZN", 2},
    {"NAD", 2}, {"NGN", 2}, {"NIO", 2}, {"NOK", 2}, {"NPR", 2}, {"NZD", 2}, {"OMR", 3}, {"PAB", 2},
    {"PEN", 2}, {"PGK", 2}, {"PHP", 2}, {"PKR", 2}, {"PLN", 2}, {"PYG", 0}, {"QAR", 2}, {"RON", 2},
    {"RSD", 2}, {"RUB", 2}, {"RWF", 0}, {"SAR", 2}, {"SBD", 2}, {"SCR", 2}, {"SDG", 2}, {"SEK", 2},
    {"SGD", 2}, {"SHP", 2}, {"SLE", 2}, {"SOS", 2}, {"SRD", 2}, {"SSP", 2}, {"STN", 2}, {"SVC", 2},
    {"SYP", 2}, {"SZL", 2}, {"THB", 2}, {"TJS", 2}, {"TMT", 2}, {"TND", 3}, {"TOP", 2}, {"TRY", 2},
    {"TTD", 2}, {"TWD", 2}, {"TZS", 2}, {"UAH", 2}, {"UGX", 0}, {"USD", 2}, {"UYI", 0}, {"UYU", 2},
    {"UYW", 4}, {"UZS", 2}, {"VED", 2}, {"VES", 2}, {"VND", 0}, {"VUV", 0}, {"WST", 2}, {"XAF", 0},
    {"XCD", 2}, {"XOF", 0}, {"XPF", 0}, {"YER", 2}, {"ZAR", 2}, {"ZMW", 2}, {"ZWG", 2}, {"ZWL", 2},
};

static char pb__upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - ('a' - 'A')) : c;
}

const pb_currency *pb_currency_find(const char *code, size_t len)
{
    char up[3];
    size_t i, lo = 0, hi = sizeof(pb__currencies) / sizeof(pb__currencies[0]);

    if (len != 3)
        return NULL;
    for (i = 0; i < 3; i++)
        up[i] = pb__upper(code[i]);
    while (lo < hi) { /* the table is sorted */
        size_t mid = lo + (hi - lo) / 2;
        const char *k = pb__currencies[mid].code; /* 3 bytes: inline, not a memcmp call */
        int c = up[0] != k[0]   ? (unsigned char)up[0] - (unsigned char)k[0]
                : up[1] != k[1] ? (unsigned char)up[1] - (unsigned char)k[1]
                                : (unsigned char)up[2] - (unsigned char)k[2];
        if (c == 0)
            return &pb__currencies[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *pb_money_why_text(pb_money_why why)
{
    switch (why) {
    case PB_MONEY_OK:
        return "valid";
    case PB_MONEY_EMPTY:
        return "is empty";
    case PB_MONEY_SIGN:
        return "has a sign";
    case PB_MONEY_SPACE:
        return "contains spaces";
    case PB_MONEY_THOUSANDS:
        return "has a thousands separator";
    case PB_MONEY_DECIMAL_COMMA:
        return "uses a decimal comma";
    case PB_MONEY_DECIMAL_POINT:
        return "has a decimal separator";
    case PB_MONEY_TOO_MANY_DECIMALS:
        return "has more decimals than the currency has";
    case PB_MONEY_SCIENTIFIC:
        return "is in scientific notation";
    case PB_MONEY_OVERFLOW:
        return "is too large to be an amount";
    case PB_MONEY_NOT_A_NUMBER:
        return "is not a number";
    }
    return "is not a number";
}

static int pb__digit(char c)
{
    return c >= '0' && c <= '9';
}

/* 9.17E+09, 1e5, 1.5e-3: what a spreadsheet writes for a long number. */
static int pb__is_scientific(const char *s, size_t len)
{
    size_t i = 0, d = 0;
    while (i < len && pb__digit(s[i]))
        i++, d++;
    if (i < len && (s[i] == '.' || s[i] == ',')) {
        i++;
        while (i < len && pb__digit(s[i]))
            i++, d++;
    }
    if (d == 0 || i >= len || (s[i] != 'e' && s[i] != 'E'))
        return 0;
    i++;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    if (i >= len || !pb__digit(s[i]))
        return 0;
    while (i < len && pb__digit(s[i]))
        i++;
    return i == len;
}

/* Checks shared by both units; returns PB_MONEY_OK when only digits and separators remain. */
static pb_money_why pb__precheck(const char *s, size_t len)
{
    size_t i;
    if (len == 0)
        return PB_MONEY_EMPTY;
    for (i = 0; i < len; i++) {
        if (s[i] == ' ' || s[i] == '\t')
            return PB_MONEY_SPACE;
        if ((unsigned char)s[i] == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] == 0xA0)
            return PB_MONEY_SPACE; /* U+00A0, the no-break space spreadsheets use for grouping */
    }
    if (s[0] == '+' || s[0] == '-')
        return PB_MONEY_SIGN;
    if (pb__is_scientific(s, len))
        return PB_MONEY_SCIENTIFIC;
    for (i = 0; i < len; i++) {
        if (!pb__digit(s[i]) && s[i] != '.' && s[i] != ',' && s[i] != '\'')
            return PB_MONEY_NOT_A_NUMBER;
    }
    return PB_MONEY_OK;
}

static int pb__fail(pb_money_why *why, pb_money_why w)
{
    if (why)
        *why = w;
    return w == PB_MONEY_OVERFLOW ? PB_ERANGE : PB_EINVAL;
}

/* Accumulate digits s[0..n) into *v; 0 on overflow. */
static int pb__accumulate(const char *s, size_t n, int64_t *v)
{
    size_t i;
    for (i = 0; i < n; i++) {
        int d = s[i] - '0';
        if (*v > (INT64_MAX - d) / 10)
            return 0;
        *v = *v * 10 + d;
    }
    return 1;
}

int pb_money_parse_minor(const char *s, size_t len, int64_t *out, pb_money_why *why)
{
    int64_t v = 0;
    size_t i;
    pb_money_why w = pb__precheck(s, len);

    if (w != PB_MONEY_OK)
        return pb__fail(why, w);
    for (i = 0; i < len; i++) {
        if (s[i] == '.' || s[i] == ',')
            return pb__fail(why, PB_MONEY_DECIMAL_POINT);
        if (s[i] == '\'')
            return pb__fail(why, PB_MONEY_THOUSANDS);
    }
    if (!pb__accumulate(s, len, &v))
        return pb__fail(why, PB_MONEY_OVERFLOW);
    *out = v;
    if (why)
        *why = PB_MONEY_OK;
    return PB_OK;
}

/* Tell "500,00" (decimal comma) from "1,000" / "1,000.00" / "1.000.000" (grouping). */
static pb_money_why pb__separator_problem(const char *s, size_t len, int exponent)
{
    size_t i, ndots = 0, ncommas = 0, last_dot = 0, last_comma = 0;
    for (i = 0; i < len; i++) {
        if (s[i] == '\'')
            return PB_MONEY_THOUSANDS;
        if (s[i] == '.')
            ndots++, last_dot = i;
        else if (s[i] == ',')
            ncommas++, last_comma = i;
    }
    if (ncommas == 0)
        return ndots > 1 ? PB_MONEY_THOUSANDS : PB_MONEY_OK;
    if (ndots > 0) /* both: the later one is the decimal separator */
        return last_comma > last_dot ? PB_MONEY_DECIMAL_COMMA : PB_MONEY_THOUSANDS;
    if (ncommas > 1)
        return PB_MONEY_THOUSANDS;
    /* one comma: three digits after it reads as grouping unless the currency has 3 decimals */
    if (len - last_comma - 1 == 3 && exponent != 3)
        return PB_MONEY_THOUSANDS;
    return PB_MONEY_DECIMAL_COMMA;
}

int pb_money_parse_major(const char *s, size_t len, int exponent, int64_t *out, pb_money_why *why)
{
    int64_t v = 0;
    size_t int_len, frac_len = 0;
    int e;
    pb_money_why w = pb__precheck(s, len);

    if (w != PB_MONEY_OK)
        return pb__fail(why, w);
    w = pb__separator_problem(s, len, exponent);
    if (w != PB_MONEY_OK)
        return pb__fail(why, w);
    for (int_len = 0; int_len < len && s[int_len] != '.'; int_len++)
        ;
    if (int_len < len)
        frac_len = len - int_len - 1;
    /* ".5" and "5." are not the form finance files use; ask for "0.50" / "5" */
    if (int_len == 0 || (int_len < len && frac_len == 0))
        return pb__fail(why, PB_MONEY_NOT_A_NUMBER);
    if (frac_len > (size_t)exponent)
        return pb__fail(why, PB_MONEY_TOO_MANY_DECIMALS);
    if (!pb__accumulate(s, int_len, &v))
        return pb__fail(why, PB_MONEY_OVERFLOW);
    if (frac_len && !pb__accumulate(s + int_len + 1, frac_len, &v))
        return pb__fail(why, PB_MONEY_OVERFLOW);
    for (e = (int)frac_len; e < exponent; e++) {
        if (v > INT64_MAX / 10)
            return pb__fail(why, PB_MONEY_OVERFLOW);
        v *= 10;
    }
    *out = v;
    if (why)
        *why = PB_MONEY_OK;
    return PB_OK;
}

int pb_money_format(int64_t minor, int exponent, char *out, size_t outlen)
{
    char digits[32];
    uint64_t mag = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
    size_t nd, pos = 0, i;
    int n;

    if (exponent < 0 || exponent > 18)
        return PB_EINVAL;
    n = snprintf(digits, sizeof(digits), "%0*llu", exponent + 1, (unsigned long long)mag);
    if (n < 0)
        return PB_EINVAL;
    nd = (size_t)n;
    if (outlen < nd + 3)
        return PB_ELIMIT;
    if (minor < 0)
        out[pos++] = '-';
    for (i = 0; i < nd; i++) {
        if (exponent > 0 && i == nd - (size_t)exponent)
            out[pos++] = '.';
        out[pos++] = digits[i];
    }
    out[pos] = '\0';
    return PB_OK;
}

int pb_money_add(int64_t a, int64_t b, int64_t *sum)
{
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b))
        return PB_ERANGE;
    *sum = a + b;
    return PB_OK;
}
