#include "formats/header_map.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct pb_header_map {
    size_t width;
    char **names; /* trimmed header names as written */
    int *target;  /* pb_col, PB_COL__COUNT + k for pass-through k, or PB_MAP_IGNORE */
    const char *colname[PB_COL__COUNT];
    pb_passthrough *pass;
    size_t npass;
    long account_field;
};

static const struct {
    const char *name;
    pb_col col;
} pb__aliases[] = {
    {"method", PB_COL_METHOD},
    {"payment_method", PB_COL_METHOD},
    {"general.payment_id", PB_COL_PAYMENT_ID},
    {"payment_id", PB_COL_PAYMENT_ID},
    {"payment.amount", PB_COL_AMOUNT},
    {"amount", PB_COL_AMOUNT},
    {"amount_major", PB_COL_AMOUNT_MAJOR},
    {"amount_decimal", PB_COL_AMOUNT_MAJOR},
    {"payment.currency", PB_COL_CURRENCY},
    {"currency", PB_COL_CURRENCY},
    {"customer.id", PB_COL_CUSTOMER_ID},
    {"customer_id", PB_COL_CUSTOMER_ID},
    {"customer.ip_address", PB_COL_IP},
    {"ip_address", PB_COL_IP},
    {"customer_ip", PB_COL_IP},
    {"account.number", PB_COL_ACCOUNT},
    {"account_number", PB_COL_ACCOUNT},
    {"account.customer_name", PB_COL_CUSTOMER_NAME},
    {"customer_name", PB_COL_CUSTOMER_NAME},
    {"payment.description", PB_COL_DESCRIPTION},
    {"description", PB_COL_DESCRIPTION},
};

/* Fields paybatch sets itself: a column for them would be ambiguous or dangerous. */
static const char *pb__reserved[] = {"general.project_id", "general.signature",
                                     "general.merchant_callback_url"};

static void pb__file_finding(pb_finding_cb cb, void *ctx, unsigned *errors, pb_finding_code code,
                             uint64_t row, const char *column, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static void pb__file_finding(pb_finding_cb cb, void *ctx, unsigned *errors, pb_finding_code code,
                             uint64_t row, const char *column, const char *fmt, ...)
{
    pb_finding f;
    va_list ap;
    va_start(ap, fmt);
    pb_finding_vmake(&f, code, row, column, 0, fmt, ap);
    va_end(ap);
    (*errors)++;
    cb(&f, ctx);
}

static int pb__is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* "customer.email" -> 1 when object is one of the four and field is [a-z0-9_]+ (lower-cased). */
static int pb__passthrough_path(const char *lower)
{
    static const char *objects[] = {"general.", "customer.", "account.", "payment."};
    size_t i, k;
    for (i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
        size_t ol = strlen(objects[i]);
        if (strncmp(lower, objects[i], ol) != 0 || lower[ol] == '\0')
            continue;
        for (k = ol; lower[k]; k++) {
            if (!pb__is_key_char(lower[k]))
                return 0;
        }
        return 1;
    }
    return 0;
}

int pb_header_map_new(pb_header_map **out, const pb_str *fields, size_t n, uint64_t header_row,
                      int has_default_method, pb_finding_cb cb, void *ctx, unsigned *errors)
{
    pb_header_map *m;
    size_t i, j, known = 0;
    long first_of[PB_COL__COUNT];
    int rc = PB_ENOMEM;
    char lower[256];

    *out = NULL;
    *errors = 0;
    m = pb_calloc(1, sizeof(*m));
    if (!m)
        return PB_ENOMEM;
    m->account_field = -1;
    m->width = n;
    m->names = pb_calloc(n, sizeof(char *));
    m->target = pb_calloc(n, sizeof(int));
    m->pass = pb_calloc(n, sizeof(pb_passthrough));
    if (!m->names || !m->target || !m->pass)
        goto out;
    for (j = 0; j < PB_COL__COUNT; j++)
        first_of[j] = -1;

    for (i = 0; i < n; i++) {
        pb_str t = pb_str_trim(fields[i]);
        m->target[i] = PB_MAP_IGNORE;
        m->names[i] = pb_strndup(t.ptr, t.len);
        if (!m->names[i])
            goto out;
        if (t.len >= sizeof(lower)) {
            /* cutting it could turn it into a different, valid name: refuse it whole */
            pb__file_finding(cb, ctx, errors, PB_F_UNKNOWN_COLUMN, header_row, m->names[i],
                             "column %zu's name is %zu bytes long; no payout field has a name "
                             "that long, rename it",
                             i + 1, t.len);
            known++;
            continue;
        }
        for (j = 0; j < t.len; j++) {
            char c = t.ptr[j];
            lower[j] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        lower[t.len] = '\0';
        for (j = 0; j < sizeof(pb__aliases) / sizeof(pb__aliases[0]); j++) {
            if (strcmp(lower, pb__aliases[j].name) == 0) {
                m->target[i] = (int)pb__aliases[j].col;
                break;
            }
        }
        if (m->target[i] == PB_MAP_IGNORE && pb__passthrough_path(lower)) {
            int reserved = 0;
            for (j = 0; j < sizeof(pb__reserved) / sizeof(pb__reserved[0]); j++)
                reserved |= strcmp(lower, pb__reserved[j]) == 0;
            if (reserved) {
                pb__file_finding(cb, ctx, errors, PB_F_UNKNOWN_COLUMN, header_row, m->names[i],
                                 "column '%s' is set by paybatch itself (project id, signature "
                                 "and callback URL come from the configuration); remove it",
                                 m->names[i]);
                known++;
                continue;
            }
            /* the same pass-through path twice is a duplicate too */
            for (j = 0; j < m->npass; j++) {
                if (strcmp(m->pass[j].path, lower) == 0)
                    break;
            }
            if (j < m->npass) {
                pb__file_finding(cb, ctx, errors, PB_F_DUPLICATE_COLUMN, header_row, m->names[i],
                                 "column '%s' appears twice (also as '%s'); keep one", m->names[i],
                                 m->pass[j].name);
                known++;
                continue;
            }
            m->pass[m->npass].name = m->names[i];
            m->pass[m->npass].path = pb_strdup(lower);
            if (!m->pass[m->npass].path)
                goto out;
            m->target[i] = PB_COL__COUNT + (int)m->npass;
            m->npass++;
            known++;
            continue;
        }
        if (m->target[i] == PB_MAP_IGNORE)
            continue;
        known++;
        j = (size_t)m->target[i];
        if (first_of[j] >= 0) {
            pb__file_finding(cb, ctx, errors, PB_F_DUPLICATE_COLUMN, header_row, m->names[i],
                             "columns '%s' and '%s' both mean %s; keep one", m->names[first_of[j]],
                             m->names[i], pb_col_canonical((pb_col)j));
            m->target[i] = PB_MAP_IGNORE;
            continue;
        }
        first_of[j] = (long)i;
        m->colname[j] = m->names[i];
        if (j == PB_COL_ACCOUNT)
            m->account_field = (long)i;
    }

    if (known == 0) {
        /* nothing recognisable: data without a header, or an empty first line */
        pb__file_finding(cb, ctx, errors, PB_F_NO_HEADER, header_row, NULL,
                         "row %llu is not a header (no column name is known); put a header row "
                         "first, e.g. method,payment_id,amount,currency,customer_id,ip_address,"
                         "account_number,customer_name",
                         (unsigned long long)header_row);
        rc = PB_OK;
        goto out;
    }
    for (i = 0; i < n; i++) {
        pb_str t = pb_str_make(m->names[i], strlen(m->names[i]));
        int is_known = 0;
        if (m->target[i] != PB_MAP_IGNORE || t.len >= sizeof(lower))
            continue; /* mapped, or reported above as too long */
        for (j = 0; j < sizeof(pb__aliases) / sizeof(pb__aliases[0]); j++)
            is_known |= pb_str_ieq(t, pb__aliases[j].name);
        for (j = 0; j < sizeof(pb__reserved) / sizeof(pb__reserved[0]); j++)
            is_known |= pb_str_ieq(t, pb__reserved[j]);
        for (j = 0; j < m->npass; j++)
            is_known |= pb_str_ieq(t, m->pass[j].path);
        if (is_known)
            continue; /* reported above as a duplicate or reserved column */
        if (t.len == 0)
            pb__file_finding(cb, ctx, errors, PB_F_UNKNOWN_COLUMN, header_row, "",
                             "column %zu has no name; name it or delete the column", i + 1);
        else
            pb__file_finding(cb, ctx, errors, PB_F_UNKNOWN_COLUMN, header_row, m->names[i],
                             "column '%s' is not a payout field; rename it to a known column "
                             "(payment_id, amount, amount_major, currency, customer_id, "
                             "ip_address, account_number, customer_name, description, method) "
                             "or an object.field path such as customer.email, or delete it",
                             m->names[i]);
    }
    if (m->colname[PB_COL_AMOUNT] && m->colname[PB_COL_AMOUNT_MAJOR])
        pb__file_finding(cb, ctx, errors, PB_F_TWO_AMOUNT_COLUMNS, header_row,
                         m->colname[PB_COL_AMOUNT_MAJOR],
                         "both '%s' (minor units) and '%s' (major units) are present; keep "
                         "exactly one amount column",
                         m->colname[PB_COL_AMOUNT], m->colname[PB_COL_AMOUNT_MAJOR]);
    if (!m->colname[PB_COL_AMOUNT] && !m->colname[PB_COL_AMOUNT_MAJOR])
        pb__file_finding(cb, ctx, errors, PB_F_MISSING_COLUMN, header_row, "payment.amount",
                         "no amount column; add 'amount' (integer minor units, 50000 = 500.00) "
                         "or 'amount_major' (500.00)");
    {
        static const struct {
            pb_col col;
            const char *hint;
        } required[] = {
            {PB_COL_PAYMENT_ID, "payment_id"},   {PB_COL_CURRENCY, "currency"},
            {PB_COL_CUSTOMER_ID, "customer_id"}, {PB_COL_IP, "ip_address"},
            {PB_COL_ACCOUNT, "account_number"},
        };
        for (j = 0; j < sizeof(required) / sizeof(required[0]); j++) {
            if (!m->colname[required[j].col])
                pb__file_finding(cb, ctx, errors, PB_F_MISSING_COLUMN, header_row,
                                 pb_col_canonical(required[j].col),
                                 "required column %s is missing; add a column named '%s'",
                                 pb_col_canonical(required[j].col), required[j].hint);
        }
        if (!m->colname[PB_COL_METHOD] && !has_default_method) {
            char names[128];
            pb_method_names(names, sizeof(names), " or ", 0);
            pb__file_finding(cb, ctx, errors, PB_F_MISSING_COLUMN, header_row, "method",
                             "no method column; add one (%s per row) or run with --method", names);
        }
    }
    rc = PB_OK;
out:
    if (rc < 0) {
        pb_header_map_free(m);
        return rc;
    }
    *out = m;
    return PB_OK;
}

int pb_header_map_is_sensitive(const pb_header_map *m, size_t i)
{
    int t;
    if (i >= m->width)
        return 0;
    t = m->target[i];
    if (t == PB_COL_ACCOUNT)
        return 1;
    return t >= PB_COL__COUNT && strncmp(m->pass[t - PB_COL__COUNT].path, "account.", 8) == 0;
}

int pb_header_map_is_amount(const pb_header_map *m, size_t i)
{
    return i < m->width && (m->target[i] == PB_COL_AMOUNT || m->target[i] == PB_COL_AMOUNT_MAJOR);
}

size_t pb_header_map_width(const pb_header_map *m)
{
    return m->width;
}

const char *pb_header_map_name(const pb_header_map *m, size_t i)
{
    return i < m->width ? m->names[i] : "";
}

long pb_header_map_account_field(const pb_header_map *m)
{
    return m->account_field;
}

void pb_header_map_row(pb_header_map *m, const pb_str *fields, uint64_t rownum, pb_row *row)
{
    size_t i;
    memset(row, 0, sizeof(*row));
    row->row = rownum;
    memcpy(row->name, m->colname, sizeof(m->colname));
    for (i = 0; i < m->width; i++) {
        int t = m->target[i];
        if (t == PB_MAP_IGNORE)
            continue;
        if (t < PB_COL__COUNT)
            row->cell[t] = fields[i];
        else
            m->pass[t - PB_COL__COUNT].value = fields[i];
    }
    row->pass = m->pass;
    row->npass = m->npass;
}

void pb_header_map_free(pb_header_map *m)
{
    size_t i;
    if (!m)
        return;
    if (m->names) {
        for (i = 0; i < m->width; i++)
            pb_free(m->names[i]);
    }
    if (m->pass) {
        for (i = 0; i < m->npass; i++)
            pb_free((char *)m->pass[i].path);
    }
    pb_free(m->names);
    pb_free(m->target);
    pb_free(m->pass);
    pb_free(m);
}
