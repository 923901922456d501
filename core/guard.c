#include "core/guard.h"

#include "core/alloc.h"
#include "core/errors.h"
#include "core/money.h"
#include "core/str.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char code[4];
    int exponent;
    uint64_t rows;
    int64_t total;
    uint32_t first[PB_GUARD_ROWS_SHOWN]; /* the first rows of this currency */
    uint32_t over[PB_GUARD_ROWS_SHOWN];  /* the first rows over --max-amount */
    uint64_t nover;
    int64_t over_max; /* the largest such row's amount */
} pb__gcur;

struct pb_guard {
    pb_guard_limits lim;
    pb__gcur *cur; /* sorted by code */
    size_t ncur, cap;
    uint64_t rows;
    uint32_t first[PB_GUARD_ROWS_SHOWN];
};

void pb_guard_limits_init(pb_guard_limits *l)
{
    memset(l, 0, sizeof(*l));
    l->max_rows = -1;
    l->expect_rows = -1;
}

int pb_guard_money_parse(const char *s, size_t len, pb_guard_money *out)
{
    const pb_currency *c;
    const char *colon = memchr(s, ':', len);
    pb_money_why why = PB_MONEY_OK;
    int64_t v = 0;

    memset(out, 0, sizeof(*out));
    if (!colon || colon - s != 3) {
        pb_error_set("'%.*s': use CUR:AMOUNT, e.g. PHP:250000.00", (int)(len > 60 ? 60 : len), s);
        return PB_EINVAL;
    }
    if (!(c = pb_currency_find(s, 3))) {
        pb_error_set("'%.*s': %.3s is not an ISO 4217 currency code", (int)(len > 60 ? 60 : len), s,
                     s);
        return PB_EINVAL;
    }
    if (pb_money_parse_major(colon + 1, len - 4, c->exponent, &v, &why) < 0) {
        pb_error_set("'%.*s': the amount %s; write it in major units with '.' and at most %d "
                     "decimals, e.g. %s:250000.00",
                     (int)(len > 60 ? 60 : len), s, pb_money_why_text(why), c->exponent, c->code);
        return PB_EINVAL;
    }
    memcpy(out->currency, c->code, 3);
    out->amount = v;
    return 0;
}

int pb_guard_money_add(pb_guard_money *list, size_t *n, const pb_guard_money *m, const char *what)
{
    size_t i;
    for (i = 0; i < *n; i++) {
        if (!strcmp(list[i].currency, m->currency)) {
            pb_error_set("%s: %s is given twice; give each currency once", what, m->currency);
            return PB_EEXISTS;
        }
    }
    if (*n >= PB_GUARD_MAX_CUR) {
        pb_error_set("%s: at most %d currencies", what, PB_GUARD_MAX_CUR);
        return PB_ELIMIT;
    }
    list[(*n)++] = *m;
    return 0;
}

static int pb__exponent(const char *code)
{
    const pb_currency *c = pb_currency_find(code, strlen(code));
    return c ? c->exponent : 2;
}

static void pb__fmt(int64_t minor, const char *code, char *out, size_t outlen)
{
    if (pb_money_format(minor, pb__exponent(code), out, outlen) < 0 && outlen)
        out[0] = '\0';
}

void pb_guard_money_format(const pb_guard_money *m, char *out, size_t outlen)
{
    char num[32];
    pb__fmt(m->amount, m->currency, num, sizeof(num));
    snprintf(out, outlen, "%s:%s", m->currency, num);
}

int pb_guard_new(pb_guard **out, const pb_guard_limits *limits)
{
    pb_guard *g = pb_calloc(1, sizeof(*g));
    *out = NULL;
    if (!g)
        return PB_ENOMEM;
    g->lim = *limits;
    *out = g;
    return 0;
}

void pb_guard_free(pb_guard *g)
{
    if (!g)
        return;
    pb_free(g->cur);
    pb_free(g);
}

static pb__gcur *pb__find(const pb_guard *g, const char *code)
{
    size_t i;
    for (i = 0; i < g->ncur; i++)
        if (!strcmp(g->cur[i].code, code))
            return &g->cur[i];
    return NULL;
}

static int pb__cur_get(pb_guard *g, const char *code, pb__gcur **out)
{
    const pb_currency *c;
    size_t i;
    if ((*out = pb__find(g, code)) != NULL)
        return 0;
    if (!(c = pb_currency_find(code, strlen(code)))) {
        pb_error_set("guard: unknown currency '%s'", code);
        return PB_EINVAL;
    }
    if (g->ncur == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 4;
        pb__gcur *p = pb_realloc(g->cur, cap * sizeof(*p));
        if (!p)
            return PB_ENOMEM;
        g->cur = p, g->cap = cap;
    }
    for (i = g->ncur; i > 0 && strcmp(g->cur[i - 1].code, c->code) > 0; i--)
        g->cur[i] = g->cur[i - 1];
    memset(&g->cur[i], 0, sizeof(g->cur[i]));
    memcpy(g->cur[i].code, c->code, 3);
    g->cur[i].exponent = c->exponent;
    g->ncur++;
    *out = &g->cur[i];
    return 0;
}

static const pb_guard_money *pb__lookup(const pb_guard_money *list, size_t n, const char *code)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!strcmp(list[i].currency, code))
            return &list[i];
    return NULL;
}

int pb_guard_add(pb_guard *g, uint32_t row_no, const char *currency, int64_t amount)
{
    const pb_guard_money *max;
    pb__gcur *c;
    int64_t sum;
    int rc;

    if ((rc = pb__cur_get(g, currency, &c)) < 0)
        return rc;
    if (pb_money_add(c->total, amount, &sum) < 0) {
        pb_error_set("guard: the %s total does not fit in 64 bits", c->code);
        return PB_ERANGE;
    }
    c->total = sum;
    if (c->rows < PB_GUARD_ROWS_SHOWN)
        c->first[c->rows] = row_no;
    c->rows++;
    if (g->rows < PB_GUARD_ROWS_SHOWN)
        g->first[g->rows] = row_no;
    g->rows++;
    max = pb__lookup(g->lim.max_amount, g->lim.n_max_amount, c->code);
    if (max && amount > max->amount) {
        if (c->nover < PB_GUARD_ROWS_SHOWN)
            c->over[c->nover] = row_no;
        c->nover++;
        if (amount > c->over_max)
            c->over_max = amount;
    }
    return 0;
}

static size_t pb__shown(uint64_t n)
{
    return n < PB_GUARD_ROWS_SHOWN ? (size_t)n : PB_GUARD_ROWS_SHOWN;
}

int pb_guard_check(const pb_guard *g, int (*cb)(const pb_guard_violation *v, void *ctx), void *ctx,
                   size_t *count)
{
    const pb_guard_limits *l = &g->lim;
    pb_guard_violation v;
    size_t i;
    int rc;

    *count = 0;
#define PB__EMIT()                                                                                 \
    do {                                                                                           \
        (*count)++;                                                                                \
        if (cb && (rc = cb(&v, ctx)) != 0)                                                         \
            return rc;                                                                             \
    } while (0)
    if (l->max_rows >= 0 && g->rows > (uint64_t)l->max_rows) {
        memset(&v, 0, sizeof(v));
        v.kind = PB_GUARD_MAX_ROWS;
        v.limit = l->max_rows;
        v.found = (int64_t)g->rows;
        v.rows = g->first, v.nrows = pb__shown(g->rows), v.rows_total = g->rows;
        PB__EMIT();
    }
    for (i = 0; i < l->n_max_total; i++) {
        const pb__gcur *c = pb__find(g, l->max_total[i].currency);
        if (!c || c->total <= l->max_total[i].amount)
            continue;
        memset(&v, 0, sizeof(v));
        v.kind = PB_GUARD_MAX_TOTAL;
        memcpy(v.currency, c->code, 4);
        v.limit = l->max_total[i].amount;
        v.found = c->total;
        v.rows = c->first, v.nrows = pb__shown(c->rows), v.rows_total = c->rows;
        PB__EMIT();
    }
    for (i = 0; i < g->ncur; i++) {
        const pb__gcur *c = &g->cur[i];
        const pb_guard_money *max = pb__lookup(l->max_amount, l->n_max_amount, c->code);
        if (!max || !c->nover)
            continue;
        memset(&v, 0, sizeof(v));
        v.kind = PB_GUARD_MAX_AMOUNT;
        memcpy(v.currency, c->code, 4);
        v.limit = max->amount;
        v.found = c->over_max;
        v.rows = c->over, v.nrows = pb__shown(c->nover), v.rows_total = c->nover;
        PB__EMIT();
    }
    if (l->expect_rows >= 0 && g->rows != (uint64_t)l->expect_rows) {
        memset(&v, 0, sizeof(v));
        v.kind = PB_GUARD_EXPECT_ROWS;
        v.limit = l->expect_rows;
        v.found = (int64_t)g->rows;
        v.rows = g->first, v.nrows = pb__shown(g->rows), v.rows_total = g->rows;
        PB__EMIT();
    }
    if (l->n_expect_total) {
        /* every named currency, then every currency found but not named (expected 0) */
        for (i = 0; i < l->n_expect_total + g->ncur; i++) {
            const pb__gcur *c;
            const char *code;
            int64_t want = 0;
            if (i < l->n_expect_total) {
                code = l->expect_total[i].currency;
                want = l->expect_total[i].amount;
            } else {
                code = g->cur[i - l->n_expect_total].code;
                if (pb__lookup(l->expect_total, l->n_expect_total, code))
                    continue;
            }
            c = pb__find(g, code);
            if ((c ? c->total : 0) == want)
                continue;
            memset(&v, 0, sizeof(v));
            v.kind = PB_GUARD_EXPECT_TOTAL;
            memcpy(v.currency, code, 3);
            v.limit = want;
            v.found = c ? c->total : 0;
            if (c)
                v.rows = c->first, v.nrows = pb__shown(c->rows), v.rows_total = c->rows;
            PB__EMIT();
        }
    }
#undef PB__EMIT
    return 0;
}

void pb_guard_totals(const pb_guard *g, const char *currency, uint64_t *rows, int64_t *amount)
{
    const pb__gcur *c = pb__find(g, currency);
    *rows = c ? c->rows : 0;
    *amount = c ? c->total : 0;
}

const char *pb_guard_currency(const pb_guard *g, size_t i)
{
    return i < g->ncur ? g->cur[i].code : NULL;
}

uint64_t pb_guard_rows(const pb_guard *g)
{
    return g->rows;
}

static size_t pb__put(char *out, size_t outlen, size_t k, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t pb__put(char *out, size_t outlen, size_t k, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (k >= outlen)
        return k;
    va_start(ap, fmt);
    n = vsnprintf(out + k, outlen - k, fmt, ap);
    va_end(ap);
    return n < 0 ? k : k + (size_t)n;
}

void pb_guard_violation_text(const pb_guard_violation *v, char *out, size_t outlen)
{
    char lim[32], found[32];
    size_t k = 0, i;

    if (!outlen)
        return;
    out[0] = '\0';
    if (v->currency[0]) {
        pb__fmt(v->limit, v->currency, lim, sizeof(lim));
        pb__fmt(v->found, v->currency, found, sizeof(found));
    }
    switch (v->kind) {
    case PB_GUARD_MAX_ROWS:
        k = pb__put(out, outlen, k, "--max-rows %" PRId64 ": %" PRId64 " rows to send", v->limit,
                    v->found);
        break;
    case PB_GUARD_MAX_TOTAL:
        k = pb__put(out, outlen, k, "--max-total %s:%s: the %s rows to send total %s", v->currency,
                    lim, v->currency, found);
        break;
    case PB_GUARD_MAX_AMOUNT:
        k = pb__put(
            out, outlen, k, "--max-amount %s:%s: %" PRIu64 " %s row%s over it (the largest %s)",
            v->currency, lim, v->rows_total, v->currency, v->rows_total == 1 ? "" : "s", found);
        break;
    case PB_GUARD_EXPECT_ROWS:
        k = pb__put(out, outlen, k, "control rows: expected %" PRId64 ", found %" PRId64, v->limit,
                    v->found);
        break;
    case PB_GUARD_EXPECT_TOTAL:
        k = pb__put(out, outlen, k, "control total %s: expected %s, found %s", v->currency, lim,
                    found);
        break;
    }
    if (v->kind == PB_GUARD_MAX_AMOUNT) {
        k = pb__put(out, outlen, k, " (row%s ", v->rows_total == 1 ? "" : "s");
    } else if (v->rows_total) {
        k = pb__put(out, outlen, k, " (%" PRIu64 " row%s: ", v->rows_total,
                    v->rows_total == 1 ? "" : "s");
    } else {
        return;
    }
    for (i = 0; i < v->nrows; i++)
        k = pb__put(out, outlen, k, "%s%" PRIu32, i ? ", " : "", v->rows[i]);
    if (v->rows_total > v->nrows)
        k = pb__put(out, outlen, k, " and %" PRIu64 " more", v->rows_total - v->nrows);
    (void)pb__put(out, outlen, k, ")");
}

int pb_guard_payee_key(const char *method, const char *account, size_t account_len, int64_t amount,
                       const char *currency, char hex[65])
{
    static const char tag[] = "paybatch-payee-v1";
    unsigned char d[32];
    /* tag NUL method NUL account NUL amount NUL currency, hashed in one call (asked for every
     * row a send loads: one buffer, not a digest context per row) */
    char stack[512], *msg = stack;
    size_t ml = strlen(method), cl = strlen(currency), k = 0;
    size_t need = sizeof(tag) + ml + 1 + account_len + 1 + 24 + cl;
    unsigned int dlen = 0;
    int n, ok;

    hex[0] = '\0';
    if (need > sizeof(stack) && !(msg = pb_malloc(need)))
        return PB_ENOMEM;
    memcpy(msg, tag, sizeof(tag));
    k = sizeof(tag);
    memcpy(msg + k, method, ml + 1);
    k += ml + 1;
    memcpy(msg + k, account, account_len);
    k += account_len;
    msg[k++] = '\0';
    n = snprintf(msg + k, 24, "%" PRId64, amount);
    k += (size_t)n + 1;
    memcpy(msg + k, currency, cl);
    k += cl;
    ok = EVP_Digest(msg, k, d, &dlen, EVP_sha256(), NULL) == 1 && dlen == 32;
    if (msg != stack)
        pb_free(msg);
    if (!ok)
        return pb_error_set("SHA-256 failed"), PB_ECRYPTO;
    pb_hex_lower(d, 32, hex);
    return 0;
}
