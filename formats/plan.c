#include "formats/plan.h"

#include "core/alloc.h"
#include "core/errors.h"
#include "core/money.h"
#include "core/str.h"
#include "formats/json_write.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void pb_plan_rate_format(uint32_t rate_milli, char out[24])
{
    snprintf(out, 24, "%" PRIu32 ".%03" PRIu32, rate_milli / 1000, rate_milli % 1000);
}

static int pb__kv(pb_buf *b, const char *key, const char *val, int comma)
{
    int rc = pb_buf_printf(b, "%s\"%s\":", comma ? "," : "", key);
    if (rc == 0)
        rc = pb_json_put_str(b, val ? val : "", val ? strlen(val) : 0);
    return rc;
}

static int pb__kint(pb_buf *b, const char *key, int64_t v)
{
    return pb_buf_printf(b, ",\"%s\":\"%" PRId64 "\"", key, v);
}

static int pb__money_arr(pb_buf *b, const char *key, const pb_guard_money *l, size_t n)
{
    size_t i;
    int rc = pb_buf_printf(b, "\"%s\":[", key);
    for (i = 0; rc == 0 && i < n; i++) {
        char m[48];
        pb_guard_money_format(&l[i], m, sizeof(m));
        rc = pb_buf_printf(b, "%s\"%s\"", i ? "," : "", m);
    }
    return rc ? rc : pb_buf_putc(b, ']');
}

static int pb__opt_count(pb_buf *b, const char *key, int64_t v)
{
    if (v < 0)
        return pb_buf_printf(b, ",\"%s\":null", key);
    return pb__kint(b, key, v);
}

int pb_plan_write_head(pb_buf *b, const char *file_name, const char *created_at,
                       const pb_plan_head *h)
{
    char rate[24];
    int rc = pb_buf_puts(b, "{\"paybatch_plan\":\"1\"");
    pb_plan_rate_format(h->rate_milli, rate);
    if (rc == 0)
        rc = pb__kv(b, "created_at", created_at, 1);
    if (rc == 0)
        rc = pb_buf_puts(b, ",\"file\":{");
    if (rc == 0)
        rc = pb__kv(b, "name", file_name, 0);
    if (rc == 0)
        rc = pb__kv(b, "sha256", h->file_sha256, 1);
    if (rc == 0)
        rc = pb_buf_putc(b, '}');
    if (rc == 0)
        rc = pb__kv(b, "batch_id", h->batch_id, 1);
    if (rc == 0)
        rc = pb__kv(b, "gate_url", h->gate_url, 1);
    if (rc == 0)
        rc = pb__kint(b, "project_id", h->project_id);
    if (rc == 0)
        rc = pb__kv(b, "callback_url", h->callback_url, 1);
    if (rc == 0)
        rc = pb__kv(b, "method", h->method, 1);
    if (rc == 0)
        rc = pb_buf_printf(b, ",\"allow_conversion\":%s,\"skip_invalid\":%s,\"rate\":\"%s\"",
                           h->allow_conversion ? "true" : "false",
                           h->skip_invalid ? "true" : "false", rate);
    if (rc == 0)
        rc = pb_buf_puts(b, ",\"limits\":{");
    if (rc == 0)
        rc = pb__money_arr(b, "max_total", h->limits->max_total, h->limits->n_max_total);
    if (rc == 0)
        rc = pb__opt_count(b, "max_rows", h->limits->max_rows);
    if (rc == 0)
        rc = pb_buf_putc(b, ',');
    if (rc == 0)
        rc = pb__money_arr(b, "max_amount", h->limits->max_amount, h->limits->n_max_amount);
    if (rc == 0)
        rc = pb__opt_count(b, "expect_rows", h->limits->expect_rows);
    if (rc == 0)
        rc = pb_buf_putc(b, ',');
    if (rc == 0)
        rc = pb__money_arr(b, "expect_total", h->limits->expect_total, h->limits->n_expect_total);
    if (rc == 0)
        rc = pb_buf_printf(b, "},\"paid_recently\":{\"days\":\"%u\",\"strict\":%s}", h->recent_days,
                           h->strict_recent ? "true" : "false");
    if (rc == 0)
        rc = pb_buf_puts(b, ",\"rows\":[");
    return rc;
}

static int pb__amount_text(int64_t minor, const char *currency, char out[32])
{
    const pb_currency *c = pb_currency_find(currency, strlen(currency));
    return pb_money_format(minor, c ? c->exponent : 2, out, 32);
}

int pb_plan_write_row(pb_buf *b, const pb_plan_row *r, int first)
{
    char amt[32];
    int rc = pb__amount_text(r->amount, r->currency, amt);
    if (rc == 0)
        rc = pb_buf_printf(b, "%s\n{\"row\":\"%" PRIu32 "\"", first ? "" : ",", r->row_no);
    if (rc == 0)
        rc = pb__kv(b, "payment_id", r->payment_id, 1);
    if (rc == 0)
        rc = pb__kv(b, "method", r->method, 1);
    if (rc == 0)
        rc = pb__kv(b, "amount", amt, 1);
    if (rc == 0)
        rc = pb__kv(b, "currency", r->currency, 1);
    if (rc == 0)
        rc = pb__kv(b, "account", r->account_masked, 1);
    return rc ? rc : pb_buf_putc(b, '}');
}

int pb_plan_write_tail(pb_buf *b, const pb_plan_tail *t, const char *const *methods,
                       size_t nmethods, const char *digest)
{
    size_t i;
    int rc = pb_buf_printf(
        b, "\n],\"rows_to_send\":\"%" PRIu64 "\",\"rows_not_sent\":\"%" PRIu64 "\",\"methods\":[",
        t->rows_valid, t->rows_invalid);
    for (i = 0; rc == 0 && i < nmethods; i++) {
        if (i)
            rc = pb_buf_putc(b, ',');
        if (rc == 0)
            rc = pb_json_put_str(b, methods[i], strlen(methods[i]));
    }
    if (rc == 0)
        rc = pb_buf_puts(b, "],\"totals\":[");
    for (i = 0; rc == 0 && i < t->ntotals; i++) {
        char amt[32];
        rc = pb__amount_text(t->totals[i].amount, t->totals[i].currency, amt);
        if (rc == 0)
            rc = pb_buf_printf(b,
                               "%s{\"currency\":\"%s\",\"rows\":\"%" PRIu64 "\",\"amount\":\"%s\"}",
                               i ? "," : "", t->totals[i].currency, t->totals[i].rows, amt);
    }
    if (rc == 0)
        rc = pb_buf_puts(b, "],\"findings\":{");
    for (i = 0, nmethods = 0; rc == 0 && i < PB_F__COUNT; i++) {
        if (!t->findings || !t->findings[i])
            continue;
        rc = pb_buf_printf(b, "%s\"%s\":\"%" PRIu64 "\"", nmethods++ ? "," : "",
                           pb_finding_name((pb_finding_code)i), t->findings[i]);
    }
    if (rc == 0)
        rc = pb_buf_printf(b, "},\"digest\":\"%s\",\"approvals\":[]}\n", digest);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------- */

static int pb__bad(const char *member, const char *what)
{
    pb_error_set("the plan's \"%s\" %s", member, what);
    return PB_EPARSE;
}

static const char *pb__get_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* a string member holding a decimal integer within [min, max] */
static int pb__get_int(const cJSON *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
    const char *s = pb__get_str(o, key);
    int64_t n = 0;
    int neg = 0;
    if (!s)
        return pb__bad(key, "is missing or not a string");
    if (*s == '-')
        neg = 1, s++;
    if (!*s || strlen(s) > 18)
        return pb__bad(key, "is not a whole number");
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return pb__bad(key, "is not a whole number");
        n = n * 10 + (*s - '0');
    }
    n = neg ? -n : n;
    if (n < min || n > max)
        return pb__bad(key, "is out of range");
    *out = n;
    return 0;
}

static int pb__get_bool(const cJSON *o, const char *key, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsBool(v))
        return pb__bad(key, "is missing or not true/false");
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return 0;
}

static int pb__need_str(const cJSON *o, const char *key, const char **out)
{
    if (!(*out = pb__get_str(o, key)))
        return pb__bad(key, "is missing or not a string");
    return 0;
}

static int pb__money_list(const cJSON *o, const char *key, pb_guard_money *l, size_t *n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key), *it;
    *n = 0;
    if (!cJSON_IsArray(a))
        return pb__bad(key, "is missing or not a list");
    cJSON_ArrayForEach(it, a)
    {
        pb_guard_money m;
        if (!cJSON_IsString(it) || !it->valuestring ||
            pb_guard_money_parse(it->valuestring, strlen(it->valuestring), &m) < 0 ||
            pb_guard_money_add(l, n, &m, key) < 0)
            return pb__bad(key, "holds something other than distinct CUR:AMOUNT figures");
    }
    return 0;
}

static int pb__opt_count_get(const cJSON *o, const char *key, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNull(v)) {
        *out = -1;
        return 0;
    }
    return pb__get_int(o, key, 0, INT64_MAX, out);
}

static int pb__amount_get(const cJSON *o, const char *currency, int64_t *out)
{
    const char *s = pb__get_str(o, "amount");
    const pb_currency *c = pb_currency_find(currency, strlen(currency));
    pb_money_why why;
    if (!s || !c || pb_money_parse_major(s, strlen(s), c->exponent, out, &why) < 0)
        return pb__bad("amount", "is not an amount in major units of a known currency");
    return 0;
}

static int pb__rate_get(const cJSON *o, uint32_t *out)
{
    const char *s = pb__get_str(o, "rate"), *dot;
    int64_t v = 0;
    size_t i;
    if (!s || !(dot = strchr(s, '.')) || strlen(dot) != 4 || dot == s || dot - s > 7)
        return pb__bad("rate", "is not a rate like \"10.000\"");
    for (i = 0; s[i]; i++) {
        if (s + i == dot)
            continue;
        if (s[i] < '0' || s[i] > '9')
            return pb__bad("rate", "is not a rate like \"10.000\"");
        v = v * 10 + (s[i] - '0');
    }
    *out = (uint32_t)v;
    return 0;
}

static int pb__rows(pb_plan_doc *d, const cJSON *root)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "rows"), *it;
    size_t n = 0;
    int rc;
    if (!cJSON_IsArray(a))
        return pb__bad("rows", "is missing or not a list");
    d->nrows = (size_t)cJSON_GetArraySize(a);
    if (!(d->rows = pb_calloc(d->nrows ? d->nrows : 1, sizeof(*d->rows))))
        return PB_ENOMEM;
    cJSON_ArrayForEach(it, a)
    {
        pb_plan_row *r = &d->rows[n++];
        int64_t row;
        if (!cJSON_IsObject(it))
            return pb__bad("rows", "holds something other than objects");
        if ((rc = pb__get_int(it, "row", 2, UINT32_MAX, &row)) < 0 ||
            (rc = pb__need_str(it, "payment_id", &r->payment_id)) < 0 ||
            (rc = pb__need_str(it, "method", &r->method)) < 0 ||
            (rc = pb__need_str(it, "currency", &r->currency)) < 0 ||
            (rc = pb__need_str(it, "account", &r->account_masked)) < 0 ||
            (rc = pb__amount_get(it, r->currency, &r->amount)) < 0) {
            char why[300];
            snprintf(why, sizeof(why), "%s", pb_error_last());
            pb_error_set("row %zu of the plan: %s", n, why);
            return rc;
        }
        r->row_no = (uint32_t)row;
    }
    return 0;
}

static int pb__totals(pb_plan_doc *d, const cJSON *root)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "totals"), *it;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "findings");
    size_t n = 0;
    int rc;
    if (!cJSON_IsArray(a))
        return pb__bad("totals", "is missing or not a list");
    d->ntotals = (size_t)cJSON_GetArraySize(a);
    if (d->ntotals > 256 ||
        !(d->totals = pb_calloc(d->ntotals ? d->ntotals : 1, sizeof(*d->totals))))
        return d->ntotals > 256 ? pb__bad("totals", "has too many currencies") : PB_ENOMEM;
    cJSON_ArrayForEach(it, a)
    {
        pb_plan_total *t = &d->totals[n++];
        const char *cur = pb__get_str(it, "currency");
        int64_t rows;
        if (!cur || strlen(cur) != 3)
            return pb__bad("totals", "has an entry without a currency");
        memcpy(t->currency, cur, 4);
        if ((rc = pb__get_int(it, "rows", 0, INT64_MAX, &rows)) < 0 ||
            (rc = pb__amount_get(it, cur, &t->amount)) < 0)
            return rc;
        t->rows = (uint64_t)rows;
    }
    if (!cJSON_IsObject(f))
        return pb__bad("findings", "is missing or not an object");
    cJSON_ArrayForEach(it, f)
    {
        size_t c;
        int64_t v;
        for (c = 0; c < PB_F__COUNT; c++)
            if (it->string && !strcmp(it->string, pb_finding_name((pb_finding_code)c)))
                break;
        if (c == PB_F__COUNT)
            return pb__bad("findings", "names a finding code this paybatch does not know");
        if ((rc = pb__get_int(f, it->string, 1, INT64_MAX, &v)) < 0)
            return rc;
        d->findings[c] = (uint64_t)v;
    }
    return 0;
}

static int pb__approvals(pb_plan_doc *d, const cJSON *root)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "approvals"), *it;
    size_t n = 0;
    if (!cJSON_IsArray(a))
        return pb__bad("approvals", "is missing or not a list");
    d->napprovals = (size_t)cJSON_GetArraySize(a);
    if (d->napprovals > PB_PLAN_MAX_APPROVALS)
        return pb__bad("approvals", "holds more than 64 approvals");
    if (!(d->approvals = pb_calloc(d->napprovals ? d->napprovals : 1, sizeof(*d->approvals))))
        return PB_ENOMEM;
    cJSON_ArrayForEach(it, a)
    {
        pb_plan_approval *ap = &d->approvals[n++];
        const char *name = pb__get_str(it, "name"), *at = pb__get_str(it, "at");
        const char *pub = pb__get_str(it, "public_key"), *sig = pb__get_str(it, "signature");
        if (!name || !at || !pub || !sig || !*name || strlen(name) > PB_APPROVAL_NAME ||
            strlen(at) >= sizeof(ap->at) ||
            pb_approval_unhex(pub, strlen(pub), ap->pub, PB_ED25519_KEY) < 0 ||
            pb_approval_unhex(sig, strlen(sig), ap->sig, PB_ED25519_SIG) < 0) {
            pb_error_set("approval %zu of the plan is malformed: it needs name, at, public_key "
                         "(64 hex digits) and signature (128 hex digits)",
                         n);
            return PB_EPARSE;
        }
        snprintf(ap->name, sizeof(ap->name), "%s", name);
        snprintf(ap->at, sizeof(ap->at), "%s", at);
    }
    return 0;
}

int pb_plan_parse(const char *json, size_t len, pb_plan_doc **out)
{
    pb_plan_doc *d;
    cJSON *root, *file, *lim, *recent;
    const char *digest;
    int64_t v;
    int rc;

    *out = NULL;
    if (len > PB_PLAN_MAX_BYTES)
        return pb_error_set("the plan is over %u bytes", PB_PLAN_MAX_BYTES), PB_ELIMIT;
    if (!(d = pb_calloc(1, sizeof(*d))))
        return PB_ENOMEM;
    root = cJSON_ParseWithLength(json, len);
    d->json = root;
    if (!cJSON_IsObject(root)) {
        pb_error_set("not a plan: the file is not a JSON object (was it written by paybatch "
                     "plan --out?)");
        rc = PB_EPARSE;
        goto out;
    }
    if (!pb__get_str(root, "paybatch_plan") || strcmp(pb__get_str(root, "paybatch_plan"), "1")) {
        pb_error_set("not a plan of this paybatch (\"paybatch_plan\": \"1\" is missing)");
        rc = PB_EPARSE;
        goto out;
    }
    pb_guard_limits_init(&d->limits);
    d->head.limits = &d->limits;
    file = cJSON_GetObjectItemCaseSensitive(root, "file");
    lim = cJSON_GetObjectItemCaseSensitive(root, "limits");
    recent = cJSON_GetObjectItemCaseSensitive(root, "paid_recently");
    if (!cJSON_IsObject(file) || !cJSON_IsObject(lim) || !cJSON_IsObject(recent)) {
        rc = pb__bad("file/limits/paid_recently", "are missing or not objects");
        goto out;
    }
    if ((rc = pb__need_str(root, "created_at", &d->created_at)) < 0 ||
        (rc = pb__need_str(file, "name", &d->file_name)) < 0 ||
        (rc = pb__need_str(file, "sha256", &d->head.file_sha256)) < 0 ||
        (rc = pb__need_str(root, "batch_id", &d->head.batch_id)) < 0 ||
        (rc = pb__need_str(root, "gate_url", &d->head.gate_url)) < 0 ||
        (rc = pb__get_int(root, "project_id", 0, INT64_MAX, &d->head.project_id)) < 0 ||
        (rc = pb__need_str(root, "callback_url", &d->head.callback_url)) < 0 ||
        (rc = pb__need_str(root, "method", &d->head.method)) < 0 ||
        (rc = pb__get_bool(root, "allow_conversion", &d->head.allow_conversion)) < 0 ||
        (rc = pb__get_bool(root, "skip_invalid", &d->head.skip_invalid)) < 0 ||
        (rc = pb__rate_get(root, &d->head.rate_milli)) < 0 ||
        (rc = pb__money_list(lim, "max_total", d->limits.max_total, &d->limits.n_max_total)) < 0 ||
        (rc = pb__opt_count_get(lim, "max_rows", &d->limits.max_rows)) < 0 ||
        (rc = pb__money_list(lim, "max_amount", d->limits.max_amount, &d->limits.n_max_amount)) <
            0 ||
        (rc = pb__opt_count_get(lim, "expect_rows", &d->limits.expect_rows)) < 0 ||
        (rc = pb__money_list(lim, "expect_total", d->limits.expect_total,
                             &d->limits.n_expect_total)) < 0 ||
        (rc = pb__get_int(recent, "days", 0, 3650, &v)) < 0 ||
        (rc = pb__get_bool(recent, "strict", &d->head.strict_recent)) < 0)
        goto out;
    d->head.recent_days = (unsigned)v;
    if ((rc = pb__rows(d, root)) < 0 || (rc = pb__totals(d, root)) < 0 ||
        (rc = pb__get_int(root, "rows_to_send", 0, INT64_MAX, &v)) < 0)
        goto out;
    d->rows_valid = (uint64_t)v;
    if ((rc = pb__get_int(root, "rows_not_sent", 0, INT64_MAX, &v)) < 0)
        goto out;
    d->rows_invalid = (uint64_t)v;
    if ((rc = pb__approvals(d, root)) < 0)
        goto out;
    digest = pb__get_str(root, "digest");
    if (!digest || strlen(digest) != PB_PLAN_DIGEST_LEN || strncmp(digest, "sha256:", 7)) {
        rc = pb__bad("digest", "is missing or not sha256:<64 hex digits>");
        goto out;
    }
    memcpy(d->digest, digest, PB_PLAN_DIGEST_LEN + 1);
    *out = d;
    return 0;
out:
    if (rc == 0)
        rc = PB_EPARSE;
    pb_plan_doc_free(d);
    return rc;
}

void pb_plan_doc_free(pb_plan_doc *d)
{
    if (!d)
        return;
    cJSON_Delete(d->json);
    pb_free(d->rows);
    pb_free(d->totals);
    pb_free(d->approvals);
    pb_free(d);
}

int pb_plan_doc_digest(const pb_plan_doc *d, char out[PB_PLAN_DIGEST_LEN + 1])
{
    pb_plan_hash *h = NULL;
    pb_plan_tail t;
    size_t i;
    int rc = pb_plan_hash_new(&h);
    t.totals = d->totals;
    t.ntotals = d->ntotals;
    t.rows_valid = d->rows_valid;
    t.rows_invalid = d->rows_invalid;
    t.findings = d->findings;
    if (rc == 0)
        rc = pb_plan_hash_head(h, &d->head);
    for (i = 0; rc == 0 && i < d->nrows; i++)
        rc = pb_plan_hash_row(h, &d->rows[i]);
    if (rc == 0)
        rc = pb_plan_hash_tail(h, &t);
    if (rc == 0)
        rc = pb_plan_hash_final(h, out);
    pb_plan_hash_free(h);
    return rc;
}

int pb_plan_add_approval(const char *json, size_t len, const pb_plan_approval *a, pb_buf *out)
{
    cJSON *root = cJSON_ParseWithLength(json, len), *arr, *o = NULL;
    char pub[2 * PB_ED25519_KEY + 1], sig[2 * PB_ED25519_SIG + 1];
    char *text = NULL;
    int rc = PB_ENOMEM;

    arr = cJSON_GetObjectItemCaseSensitive(root, "approvals");
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(root);
        return pb__bad("approvals", "is missing or not a list");
    }
    pb_hex_lower(a->pub, PB_ED25519_KEY, pub);
    pb_hex_lower(a->sig, PB_ED25519_SIG, sig);
    if (!(o = cJSON_CreateObject()) || !cJSON_AddStringToObject(o, "name", a->name) ||
        !cJSON_AddStringToObject(o, "at", a->at) ||
        !cJSON_AddStringToObject(o, "public_key", pub) ||
        !cJSON_AddStringToObject(o, "signature", sig))
        goto out;
    if (!cJSON_AddItemToArray(arr, o))
        goto out;
    o = NULL; /* the array owns it */
    if (!(text = cJSON_Print(root)))
        goto out;
    rc = pb_buf_puts(out, text);
    if (rc == 0)
        rc = pb_buf_putc(out, '\n');
out:
    cJSON_free(text);
    cJSON_Delete(o);
    cJSON_Delete(root);
    return rc;
}
