#include "core/validate.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const pb_row *row;
    pb_row_result *res;
    pb_finding_cb cb;
    void *ctx;
} pb__vctx;

static const char *pb__canon[PB_COL__COUNT] = {
    [PB_COL_METHOD] = "method",
    [PB_COL_PAYMENT_ID] = "general.payment_id",
    [PB_COL_AMOUNT] = "payment.amount",
    [PB_COL_AMOUNT_MAJOR] = "amount_major",
    [PB_COL_CURRENCY] = "payment.currency",
    [PB_COL_CUSTOMER_ID] = "customer.id",
    [PB_COL_IP] = "customer.ip_address",
    [PB_COL_ACCOUNT] = "account.number",
    [PB_COL_CUSTOMER_NAME] = "account.customer_name",
    [PB_COL_DESCRIPTION] = "payment.description",
};

const char *pb_col_canonical(pb_col c)
{
    return (unsigned)c < PB_COL__COUNT ? pb__canon[c] : "";
}

static void pb__emit(pb__vctx *v, pb_finding_code code, const char *column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void pb__emit(pb__vctx *v, pb_finding_code code, const char *column, const char *fmt, ...)
{
    pb_finding f;
    va_list ap;

    va_start(ap, fmt);
    pb_finding_vmake(&f, code, v->row->row, column, 0, fmt, ap);
    va_end(ap);
    if (pb_finding_severity(code) == PB_SEV_ERROR)
        v->res->errors++;
    else
        v->res->warnings++;
    v->cb(&f, v->ctx);
}

long pb_find_control(pb_str s, int allow_tab_newlines)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;
    /* 8 bytes at a time while none is below 0x20 or 0x7f (exact tests, so a word that might
       hold one is looked at byte by byte): most cells have none */
    for (; i + 8 <= s.len; i += 8) {
        uint64_t w, d;
        memcpy(&w, s.ptr + i, 8);
        d = w ^ (0x7f * ones);
        if ((((w - 0x20 * ones) & ~w) | ((d - ones) & ~d)) & highs)
            break;
    }
    for (; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c < 0x20 || c == 0x7f) {
            if (allow_tab_newlines && (c == '\t' || c == '\n' || c == '\r'))
                continue;
            return (long)i;
        }
    }
    return -1;
}

int pb_ip_valid(pb_str s)
{
    char tmp[64];
    unsigned char addr[16];

    if (s.len == 0 || s.len >= sizeof(tmp))
        return 0;
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = '\0';
    if (memchr(s.ptr, '\0', s.len))
        return 0;
    /* inet_pton is a pure parser (no lookups): exactly the text forms of RFC 791 / 4291 */
    return inet_pton(AF_INET, tmp, addr) == 1 || inet_pton(AF_INET6, tmp, addr) == 1;
}

/* Is the column present with an empty cell? Reports missing-value when required. */
static int pb__required(pb__vctx *v, pb_col c, const char *what)
{
    if (v->row->cell[c].len > 0)
        return 1;
    pb__emit(v, PB_F_MISSING_VALUE, v->row->name[c], "%s is empty; fill in %s", v->row->name[c],
             what);
    return 0;
}

int pb_formula_like(pb_str s)
{
    if (s.len == 0)
        return 0;
    switch (s.ptr[0]) {
    case '=':
    case '+':
    case '-':
    case '@':
    case '\t':
    case '\r':
        return 1;
    default:
        return 0;
    }
}

static void pb__formula(pb__vctx *v, pb_str s, const char *name)
{
    char shown[4] = {'\'', s.len ? s.ptr[0] : '\0', '\'', '\0'};

    if (!pb_formula_like(s))
        return;
    pb__emit(v, PB_F_FORMULA_LIKE, name,
             "%s starts with %s, which a spreadsheet may run as a formula; check the value is "
             "meant literally",
             name,
             s.ptr[0] == '\t'   ? "a tab"
             : s.ptr[0] == '\r' ? "a carriage return"
                                : shown);
}

/* Free text rules shared by every text cell: length cap, control characters, formulas.
   1 when the cell has a control character. */
static int pb__text(pb__vctx *v, const char *name, pb_str s, size_t max, int allow_tab_newlines)
{
    int ctl = pb_find_control(s, allow_tab_newlines) >= 0;
    if (s.len > max)
        pb__emit(v, PB_F_TOO_LONG, name, "%s is %zu bytes long; shorten it to at most %zu bytes",
                 name, s.len, max);
    if (ctl)
        pb__emit(v, PB_F_BAD_CHARACTERS, name,
                 allow_tab_newlines
                     ? "%s contains a control character other than tab or line break; remove it"
                     : "%s contains a control character (tab, line break or similar); remove it",
                 name);
    pb__formula(v, s, name);
    return ctl;
}

/* Identifier rules: 1-255 bytes, no control characters, no ';'. */
static void pb__identifier(pb__vctx *v, pb_col c, const char *what)
{
    pb_str s = v->row->cell[c];
    const char *name = v->row->name[c];

    if (!pb__required(v, c, what))
        return;
    if (!pb__text(v, name, s, PB_ID_MAX_BYTES, 0) && memchr(s.ptr, ';', s.len))
        pb__emit(v, PB_F_BAD_CHARACTERS, name,
                 "%s contains ';', which identifiers may not; replace it (e.g. with '-')", name);
}

static const pb_method *pb__method(pb__vctx *v, const pb_validate_opts *o)
{
    const pb_row *r = v->row;
    pb_str s = pb_str_trim(r->cell[PB_COL_METHOD]);
    const pb_method *m;
    char names[128];

    if (!r->name[PB_COL_METHOD] || s.len == 0) {
        if (o->default_method)
            return o->default_method;
        if (r->name[PB_COL_METHOD]) {
            pb_method_names(names, sizeof(names), ", ", 0);
            pb__emit(v, PB_F_MISSING_VALUE, r->name[PB_COL_METHOD],
                     "%s is empty; write one of %s, or run with --method", r->name[PB_COL_METHOD],
                     names);
        }
        return NULL;
    }
    m = pb_method_find(s.ptr, s.len);
    if (!m) {
        pb_method_names(names, sizeof(names), ", ", 0);
        pb__emit(v, PB_F_UNKNOWN_METHOD, r->name[PB_COL_METHOD],
                 "method '%.*s' is not supported; use one of %s", (int)(s.len > 40 ? 40 : s.len),
                 s.ptr, names);
    }
    return m;
}

static const pb_currency *pb__currency(pb__vctx *v, const pb_method *m, const pb_validate_opts *o)
{
    const pb_row *r = v->row;
    const char *name = r->name[PB_COL_CURRENCY];
    pb_str s = r->cell[PB_COL_CURRENCY];
    const pb_currency *cur;

    if (!pb__required(v, PB_COL_CURRENCY, "the ISO 4217 currency code, e.g. PHP or MYR"))
        return NULL;
    cur = pb_currency_find(s.ptr, s.len);
    if (!cur) {
        int shown = (int)(s.len > 16 ? 16 : s.len);
        if (m)
            pb__emit(v, PB_F_CURRENCY_MISMATCH, name,
                     "'%.*s' is not an ISO 4217 currency code; %s pays out in %s", shown, s.ptr,
                     m->display, m->currency);
        else
            pb__emit(v, PB_F_CURRENCY_MISMATCH, name,
                     "'%.*s' is not an ISO 4217 currency code; write a code such as PHP or MYR",
                     shown, s.ptr);
        return NULL;
    }
    if (!m || strcmp(cur->code, m->currency) == 0)
        return cur;
    if (m->conversion_allowed && o->allow_conversion) {
        pb__emit(v, PB_F_CONVERTED_CURRENCY, name,
                 "%s pays out in %s; ecommpay will convert this %s amount, and checks the %s "
                 "limits itself",
                 m->display, m->currency, cur->code, m->currency);
    } else if (m->conversion_allowed) {
        pb__emit(v, PB_F_CURRENCY_MISMATCH, name,
                 "%s pays out in %s, not %s; change the currency, or run with "
                 "--allow-conversion to let ecommpay convert it",
                 m->display, m->currency, cur->code);
    } else {
        pb__emit(v, PB_F_CURRENCY_MISMATCH, name,
                 "%s pays out only in %s (no conversion for payouts), not %s; change the row to %s",
                 m->display, m->currency, cur->code, m->currency);
    }
    return cur;
}

static void pb__amount(pb__vctx *v, const pb_method *m, const pb_currency *cur)
{
    const pb_row *r = v->row;
    int major = r->name[PB_COL_AMOUNT_MAJOR] != NULL;
    pb_col c = major ? PB_COL_AMOUNT_MAJOR : PB_COL_AMOUNT;
    const char *name = r->name[c];
    pb_str s = r->cell[c];
    int exponent = cur ? cur->exponent : 2;
    pb_money_why why = PB_MONEY_OK;
    int64_t amount = 0;
    int rc;
    char lo[32], hi[32], got[32];

    if (!name)
        return; /* the header check reported the missing amount column */
    if (!pb__required(v, c,
                      major ? "the amount in major units, e.g. 500.00"
                            : "the amount in minor units, e.g. 50000 for 500.00"))
        return;
    rc = major ? pb_money_parse_major(s.ptr, s.len, exponent, &amount, &why)
               : pb_money_parse_minor(s.ptr, s.len, &amount, &why);
    if (rc < 0) {
        int shown = (int)(s.len > 40 ? 40 : s.len);
        if (why == PB_MONEY_SCIENTIFIC)
            pb__emit(v, PB_F_SCIENTIFIC_NOTATION, name,
                     "%s '%.*s' is in scientific notation (a spreadsheet reformatted it); "
                     "format the column as text and re-export",
                     name, shown, s.ptr);
        else if (!major && why == PB_MONEY_DECIMAL_POINT)
            pb__emit(v, PB_F_AMOUNT_HAS_DECIMALS, name,
                     "%s '%.*s' has a decimal separator but this column is integer minor units "
                     "(50000 = 500.00); did you mean amount_major?",
                     name, shown, s.ptr);
        else if (major && why == PB_MONEY_DECIMAL_COMMA)
            pb__emit(v, PB_F_DECIMAL_COMMA, name,
                     "%s '%.*s' uses a decimal comma; write it with a point, e.g. 500.00", name,
                     shown, s.ptr);
        else if (major)
            pb__emit(v, PB_F_BAD_AMOUNT, name,
                     "%s '%.*s' %s; write digits with '.' and at most %d decimals, no sign, "
                     "spaces or thousands separators (e.g. 1500.00)",
                     name, shown, s.ptr, pb_money_why_text(why), exponent);
        else
            pb__emit(v, PB_F_BAD_AMOUNT, name,
                     "%s '%.*s' %s; write the amount as digits only, in minor units (50000 = "
                     "500.00)",
                     name, shown, s.ptr, pb_money_why_text(why));
        return;
    }
    v->res->amount_minor = amount;
    v->res->amount_ok = 1;
    if (!m || !cur || strcmp(cur->code, m->currency) != 0) {
        if (amount == 0)
            pb__emit(v, PB_F_AMOUNT_TOO_SMALL, name, "%s is zero; a payout needs an amount", name);
        return; /* converted amounts: the method's limits are Gate's to check */
    }
    if (amount >= m->min_minor && amount <= m->max_minor)
        return; /* the common case: no formatting on the hot path */
    pb_money_format(m->min_minor, exponent, lo, sizeof(lo));
    pb_money_format(m->max_minor, exponent, hi, sizeof(hi));
    pb_money_format(amount, exponent, got, sizeof(got));
    if (amount < m->min_minor)
        pb__emit(v, PB_F_AMOUNT_TOO_SMALL, name, "%s %s %s is below %s's payout minimum of %s %s%s",
                 name, got, cur->code, m->display, lo, cur->code,
                 major ? "" : " (this column is in minor units: 50000 = 500.00)");
    else if (amount > m->max_minor)
        pb__emit(v, PB_F_AMOUNT_TOO_LARGE, name,
                 "%s %s %s is above %s's payout maximum of %s %s; split the payout or check the "
                 "unit%s",
                 name, got, cur->code, m->display, hi, cur->code,
                 major ? "" : " (this column is in minor units: 50000 = 500.00)");
}

static void pb__account(pb__vctx *v, const pb_method *m)
{
    const pb_row *r = v->row;
    const char *name = r->name[PB_COL_ACCOUNT];
    pb_str s = r->cell[PB_COL_ACCOUNT];
    char masked[40];
    size_t plen;

    if (!pb__required(v, PB_COL_ACCOUNT, "the wallet account number"))
        return;
    pb_mask_account(s.ptr, s.len, masked, sizeof(masked));
    if (pb_find_control(s, 0) >= 0) {
        pb__emit(v, PB_F_BAD_CHARACTERS, name,
                 "%s contains a control character; an account number is digits only", name);
        return;
    }
    plen = m && m->account_prefix ? strlen(m->account_prefix) : 0;
    switch (pb_method_account_check(m, s.ptr, s.len)) {
    case PB_ACCOUNT_OK:
    case PB_ACCOUNT_EMPTY: /* pb__required reported it */
        return;
    case PB_ACCOUNT_NOT_DIGITS: {
        int e = 0;
        size_t i;
        for (i = 0; i < s.len; i++)
            e |= s.ptr[i] == 'E' || s.ptr[i] == 'e';
        if (e && s.len >= 3 && s.ptr[0] >= '0' && s.ptr[0] <= '9') {
            pb__emit(v, PB_F_SCIENTIFIC_NOTATION, name,
                     "%s %s is in scientific notation (a spreadsheet turned the number into "
                     "9.17E+09); format the column as text and re-export",
                     name, masked);
            return;
        }
        if (m)
            pb__emit(v, PB_F_BAD_ACCOUNT_NUMBER, name,
                     "%s %s has characters other than digits; %s account numbers are digits "
                     "only (remove spaces, dashes and '+')",
                     name, masked, m->display);
        else
            pb__emit(v, PB_F_BAD_ACCOUNT_NUMBER, name,
                     "%s %s has characters other than digits; remove spaces, dashes and '+'", name,
                     masked);
        return;
    }
    case PB_ACCOUNT_LEADING_ZERO_LOST:
        pb__emit(v, PB_F_LEADING_ZERO_LOST, name,
                 "%s %s has %zu digits and starts with '%s': a spreadsheet probably dropped the "
                 "leading 0; format the column as text and restore it (%u digits starting %s)",
                 name, masked, s.len, m->account_prefix + 1, m->account_min_digits,
                 m->account_prefix);
        return;
    case PB_ACCOUNT_BAD_LENGTH:
        if (m->account_min_digits == m->account_max_digits)
            pb__emit(v, PB_F_BAD_ACCOUNT_NUMBER, name,
                     "%s %s (%zu digits) is not a %s account number: it must be exactly %u "
                     "digits%s%s",
                     name, masked, s.len, m->display, m->account_min_digits,
                     plen ? " starting with " : "", plen ? m->account_prefix : "");
        else
            pb__emit(v, PB_F_BAD_ACCOUNT_NUMBER, name,
                     "%s %s (%zu digits) is not a %s account number: it must be %u to %u "
                     "digits%s%s",
                     name, masked, s.len, m->display, m->account_min_digits, m->account_max_digits,
                     plen ? " starting with " : "", plen ? m->account_prefix : "");
        return;
    }
}

static void pb__customer_name(pb__vctx *v, const pb_method *m)
{
    const pb_row *r = v->row;
    const char *name = r->name[PB_COL_CUSTOMER_NAME];
    pb_str s = r->cell[PB_COL_CUSTOMER_NAME];

    if (s.len == 0) {
        if (m && m->customer_name_required) {
            if (name)
                pb__emit(v, PB_F_MISSING_VALUE, name,
                         "%s is empty; %s payouts need the account holder's name", name,
                         m->display);
            else
                pb__emit(v, PB_F_MISSING_VALUE, "account.customer_name",
                         "%s payouts need the account holder's name; add a customer_name "
                         "column",
                         m->display);
        }
        return;
    }
    pb__text(v, name, s, PB_ID_MAX_BYTES, 0);
}

static void pb__description(pb__vctx *v)
{
    const pb_row *r = v->row;
    const char *name = r->name[PB_COL_DESCRIPTION];
    pb_str s = r->cell[PB_COL_DESCRIPTION];

    if (!name || s.len == 0)
        return;
    /* tabs and line breaks are fine here: they are JSON-escaped in the request */
    pb__text(v, name, s, PB_ID_MAX_BYTES, 1);
}

static void pb__passthrough(pb__vctx *v)
{
    size_t i;
    for (i = 0; i < v->row->npass; i++) {
        const pb_passthrough *p = &v->row->pass[i];
        if (p->value.len)
            pb__text(v, p->name, p->value, 4096, 0);
    }
}

void pb_validate_row(const pb_row *row, const pb_validate_opts *opts, pb_row_result *res,
                     pb_finding_cb cb, void *ctx)
{
    pb__vctx v;
    const pb_method *m;
    const pb_currency *cur;

    memset(res, 0, sizeof(*res));
    v.row = row;
    v.res = res;
    v.cb = cb;
    v.ctx = ctx;

    m = pb__method(&v, opts);
    res->method = m;
    pb__identifier(&v, PB_COL_PAYMENT_ID, "a unique payment id");
    cur = pb__currency(&v, m, opts);
    res->currency = cur;
    pb__amount(&v, m, cur);
    pb__identifier(&v, PB_COL_CUSTOMER_ID, "the customer id");
    if (pb__required(&v, PB_COL_IP, "the customer's IP address, e.g. 198.51.100.7") &&
        !pb_ip_valid(row->cell[PB_COL_IP]))
        pb__emit(&v, PB_F_BAD_IP, row->name[PB_COL_IP],
                 "%s '%.*s' is not an IPv4 or IPv6 address; write e.g. 198.51.100.7",
                 row->name[PB_COL_IP],
                 (int)(row->cell[PB_COL_IP].len > 45 ? 45 : row->cell[PB_COL_IP].len),
                 row->cell[PB_COL_IP].ptr);
    pb__account(&v, m);
    pb__customer_name(&v, m);
    pb__description(&v);
    pb__passthrough(&v);
}
