#include "core/plan.h"

#include "core/alloc.h"
#include "core/approval.h"
#include "core/str.h"
#include "core/buf.h"
#include "core/errors.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

struct pb_plan_hash {
    EVP_MD_CTX *md;
    int part; /* 0 nothing yet, 1 head done, 2 tail done, -1 failed */
    pb_buf line;
};

int pb_plan_hash_new(pb_plan_hash **out)
{
    pb_plan_hash *h = pb_calloc(1, sizeof(*h));
    *out = NULL;
    if (!h)
        return PB_ENOMEM;
    pb_buf_init(&h->line, 1u << 20);
    h->md = EVP_MD_CTX_new();
    if (!h->md || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
        pb_plan_hash_free(h);
        return pb_error_set("SHA-256 failed"), PB_ECRYPTO;
    }
    *out = h;
    return 0;
}

void pb_plan_hash_free(pb_plan_hash *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->md);
    pb_buf_free(&h->line);
    pb_free(h);
}

static int pb__field(pb_buf *b, const char *name, const char *val, size_t len)
{
    int rc = pb_buf_printf(b, "%s=%zu:", name, len);
    if (rc == 0)
        rc = pb_buf_put(b, val, len);
    if (rc == 0)
        rc = pb_buf_putc(b, '\n');
    return rc;
}

static int pb__str(pb_buf *b, const char *name, const char *val)
{
    val = val ? val : "";
    return pb__field(b, name, val, strlen(val));
}

static int pb__int(pb_buf *b, const char *name, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRId64, v);
    return pb__field(b, name, num, (size_t)n);
}

static int pb__money_list(pb_buf *b, const char *name, const pb_guard_money *list, size_t n)
{
    size_t i;
    int rc = pb__int(b, name, (int64_t)n);
    for (i = 0; rc == 0 && i < n; i++) {
        rc = pb__str(b, "currency", list[i].currency);
        if (rc == 0)
            rc = pb__int(b, "amount", list[i].amount);
    }
    return rc;
}

int pb_plan_head_canonical(const pb_plan_head *h, pb_buf *b)
{
    static const pb_guard_limits none = {{{"", 0}}, 0, {{"", 0}}, 0, -1, -1, {{"", 0}}, 0};
    const pb_guard_limits *l = h->limits ? h->limits : &none;
    int rc = pb_buf_puts(b, "paybatch-plan-v1\n");
    /* the same order as docs/PLAN.md */
    if (rc == 0)
        rc = pb__str(b, "file_sha256", h->file_sha256);
    if (rc == 0)
        rc = pb__str(b, "batch_id", h->batch_id);
    if (rc == 0)
        rc = pb__str(b, "gate_url", h->gate_url);
    if (rc == 0)
        rc = pb__int(b, "project_id", h->project_id);
    if (rc == 0)
        rc = pb__str(b, "callback_url", h->callback_url);
    if (rc == 0)
        rc = pb__str(b, "method", h->method);
    if (rc == 0)
        rc = pb__int(b, "allow_conversion", h->allow_conversion ? 1 : 0);
    if (rc == 0)
        rc = pb__int(b, "skip_invalid", h->skip_invalid ? 1 : 0);
    if (rc == 0)
        rc = pb__int(b, "rate_milli", h->rate_milli);
    if (rc == 0)
        rc = pb__money_list(b, "max_total", l->max_total, l->n_max_total);
    if (rc == 0)
        rc = pb__int(b, "max_rows", l->max_rows);
    if (rc == 0)
        rc = pb__money_list(b, "max_amount", l->max_amount, l->n_max_amount);
    if (rc == 0)
        rc = pb__int(b, "expect_rows", l->expect_rows);
    if (rc == 0)
        rc = pb__money_list(b, "expect_total", l->expect_total, l->n_expect_total);
    if (rc == 0)
        rc = pb__int(b, "recent_days", h->recent_days);
    if (rc == 0)
        rc = pb__int(b, "strict_recent", h->strict_recent ? 1 : 0);
    return rc;
}

static int pb__flush(pb_plan_hash *h, int rc)
{
    if (rc == 0 && EVP_DigestUpdate(h->md, h->line.ptr ? h->line.ptr : "", h->line.len) != 1)
        rc = (pb_error_set("SHA-256 failed"), PB_ECRYPTO);
    pb_buf_clear(&h->line);
    if (rc < 0)
        h->part = -1;
    return rc;
}

int pb_plan_hash_head(pb_plan_hash *h, const pb_plan_head *head)
{
    if (h->part != 0)
        return pb_error_set("plan: the head comes first, once"), PB_EINVAL;
    h->part = 1;
    return pb__flush(h, pb_plan_head_canonical(head, &h->line));
}

int pb_plan_hash_row(pb_plan_hash *h, const pb_plan_row *r)
{
    int rc;
    if (h->part != 1)
        return pb_error_set("plan: rows come between the head and the tail"), PB_EINVAL;
    rc = pb__int(&h->line, "row", r->row_no);
    if (rc == 0)
        rc = pb__str(&h->line, "payment_id", r->payment_id);
    if (rc == 0)
        rc = pb__str(&h->line, "method", r->method);
    if (rc == 0)
        rc = pb__int(&h->line, "amount", r->amount);
    if (rc == 0)
        rc = pb__str(&h->line, "currency", r->currency);
    if (rc == 0)
        rc = pb__str(&h->line, "account", r->account_masked);
    return pb__flush(h, rc);
}

int pb_plan_hash_tail(pb_plan_hash *h, const pb_plan_tail *t)
{
    size_t i;
    int rc;
    if (h->part != 1)
        return pb_error_set("plan: the tail comes after the head, once"), PB_EINVAL;
    h->part = 2;
    rc = pb__str(&h->line, "end_of_rows", "");
    if (rc == 0)
        rc = pb__int(&h->line, "rows_valid", (int64_t)t->rows_valid);
    if (rc == 0)
        rc = pb__int(&h->line, "rows_invalid", (int64_t)t->rows_invalid);
    if (rc == 0)
        rc = pb__int(&h->line, "totals", (int64_t)t->ntotals);
    for (i = 0; rc == 0 && i < t->ntotals; i++) {
        rc = pb__str(&h->line, "currency", t->totals[i].currency);
        if (rc == 0)
            rc = pb__int(&h->line, "rows", (int64_t)t->totals[i].rows);
        if (rc == 0)
            rc = pb__int(&h->line, "amount", t->totals[i].amount);
    }
    /* findings: every code with a count, in code order */
    for (i = 0; rc == 0 && t->findings && i < PB_F__COUNT; i++)
        if (t->findings[i])
            rc = pb__int(&h->line, pb_finding_name((pb_finding_code)i), (int64_t)t->findings[i]);
    return pb__flush(h, rc);
}

int pb_plan_hash_final(pb_plan_hash *h, char out[PB_PLAN_DIGEST_LEN + 1])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = '\0';
    if (h->part != 2)
        return pb_error_set("plan: the digest needs the head and the tail"), PB_EINVAL;
    if (EVP_DigestFinal_ex(h->md, d, &n) != 1 || n != 32)
        return pb_error_set("SHA-256 failed"), PB_ECRYPTO;
    h->part = -1;
    memcpy(out, "sha256:", 7);
    pb_hex_lower(d, 32, out + 7);
    return 0;
}
