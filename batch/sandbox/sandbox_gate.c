/*
 * sandbox_gate.c - the pure half of the sandbox: request checks and outcome scripting.
 * See sandbox.h for the order of the checks and the codes.
 */
#include "batch/sandbox/sandbox.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "core/errors.h"
#include "core/json_scan.h"
#include "core/signature.h"
#include "core/str.h"
#include "core/validate.h"

enum { F_OK = 0, F_MISSING = 1, F_TYPE = 2 };

static const struct {
    int code;
    const char *msg;
} pb__codes[] = {
    {0, "Success"},
    {2003, "Invalid JSON string"},
    {2004, "Required field not provided"},
    {2442, "Project ID not found"},
    {2642, "Operation amount is greater than limit"},
    {3041, "Payment ID already exists"},
    {3061, "Transaction not found"},
    {3121, "Invalid currency"},
    {3242, "Account must be defined"},
    {3261, "Invalid signature"},
    {3262, "Empty signature"},
    {3358, "Operation amount is less than limit"},
    {20101, "Decline due to amount or frequency limit"},
    {20102, "Incorrect account data entered"},
};

const char *pb_sandbox_code_message(int code)
{
    size_t i;
    for (i = 0; i < sizeof(pb__codes) / sizeof(pb__codes[0]); i++)
        if (pb__codes[i].code == code)
            return pb__codes[i].msg;
    return "Unknown error";
}

/* obj.a.b -> item or NULL; *st = F_TYPE when an intermediate is not an object. */
static const cJSON *pb__get2(const cJSON *root, const char *a, const char *b, int *st)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, a);
    *st = F_OK;
    if (o == NULL) {
        *st = F_MISSING;
        return NULL;
    }
    if (!cJSON_IsObject(o)) {
        *st = F_TYPE;
        return NULL;
    }
    o = cJSON_GetObjectItemCaseSensitive(o, b);
    if (o == NULL)
        *st = F_MISSING;
    return o;
}

/* A string field, non-empty, copied (capped; too long is a type error). */
static int pb__get_str(const cJSON *root, const char *a, const char *b, char *dst, size_t cap)
{
    int st;
    const cJSON *it = pb__get2(root, a, b, &st);
    size_t n;
    if (st != F_OK)
        return st;
    if (cJSON_IsNull(it))
        return F_MISSING;
    if (!cJSON_IsString(it) || it->valuestring == NULL)
        return F_TYPE;
    n = strlen(it->valuestring);
    if (n == 0)
        return F_MISSING;
    if (dst != NULL) {
        if (n >= cap)
            return F_TYPE;
        memcpy(dst, it->valuestring, n + 1);
    }
    return F_OK;
}

/*
 * A JSON integer, read from its number token in the request text (core/json_scan), never
 * through cJSON's double: "5000" is 5000, "5000.0", "5e3" and anything past int64 are a wrong
 * type. cJSON still says whether the member is there and is a number.
 */
static int pb__get_int(const cJSON *root, const char *body, size_t len, const char *a,
                       const char *b, int64_t *v)
{
    int st;
    const cJSON *it = pb__get2(root, a, b, &st);
    const char *path[2];
    pb_json_token tok;
    if (st != F_OK)
        return st;
    if (cJSON_IsNull(it))
        return F_MISSING;
    if (!cJSON_IsNumber(it))
        return F_TYPE;
    path[0] = a;
    path[1] = b;
    if (pb_json_get(body, len, path, 2, &tok) != PB_OK || tok.type != PB_JSON_NUMBER ||
        pb_json_int64(tok.text, v) != PB_OK)
        return F_TYPE;
    return F_OK;
}

static int pb__field_code(int st)
{
    return st == F_MISSING ? 2004 : 2003;
}

/* Parse, signature presence, project, signature value: shared by payout and status. */
static int pb__check_common(int64_t project_id, const char *secret, size_t secret_len,
                            const char *body, size_t len, cJSON **root_out, int64_t *req_project,
                            int *code)
{
    cJSON *root = NULL;
    const cJSON *sig;
    int st, ok = 0, rc;

    *root_out = NULL;
    *code = 0;
    root = cJSON_ParseWithLength(body, len);
    if (root == NULL) {
        pb_json_token whole;
        /* cJSON says NULL for bad text and for no memory alike: text the strict scanner
         * accepts (which cJSON accepts too) means cJSON ran out of memory */
        if (pb_json_get(body, len, NULL, 0, &whole) == PB_OK) {
            pb_error_set("sandbox: out of memory parsing the request");
            return PB_ENOMEM;
        }
        *code = 2003;
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        *code = 2003;
        goto out;
    }
    sig = cJSON_GetObjectItemCaseSensitive(root, "signature");
    if (!cJSON_IsString(sig))
        sig = pb__get2(root, "general", "signature", &st);
    if (sig == NULL || !cJSON_IsString(sig) || sig->valuestring == NULL ||
        sig->valuestring[0] == '\0') {
        *code = 3262;
        goto out;
    }
    st = pb__get_int(root, body, len, "general", "project_id", req_project);
    if (st != F_OK) {
        *code = pb__field_code(st);
        goto out;
    }
    if (*req_project != project_id) {
        *code = 2442;
        goto out;
    }
    rc = pb_sig_verify_json(body, len, secret, secret_len, &ok);
    if (rc == PB_ENOMEM) {
        cJSON_Delete(root);
        return rc;
    }
    if (rc != PB_OK) {
        *code = 2003;
        goto out;
    }
    if (!ok)
        *code = 3261;
out:
    *root_out = root;
    return PB_OK;
}

int pb_sandbox_check_payout(const pb_method *m, int64_t project_id, const char *secret,
                            size_t secret_len, const char *body, size_t len, pb_sandbox_payout *out,
                            int *code)
{
    cJSON *root = NULL;
    char ip[PB_SANDBOX_ID_MAX];
    int rc, st;

    if (m == NULL || secret == NULL || body == NULL || out == NULL || code == NULL)
        return PB_EINVAL;
    memset(out, 0, sizeof(*out));
    rc = pb__check_common(project_id, secret, secret_len, body, len, &root, &out->project_id, code);
    if (rc == PB_OK && *code != 0 && root != NULL)
        (void)pb__get_str(root, "general", "payment_id", out->payment_id, sizeof(out->payment_id));
    if (rc != PB_OK || *code != 0)
        goto out;
    /* payment_id first so that later refusals can echo it */
    if ((st = pb__get_str(root, "general", "payment_id", out->payment_id,
                          sizeof(out->payment_id))) ||
        (st = pb__get_str(root, "customer", "id", NULL, 0)) ||
        (st = pb__get_str(root, "customer", "ip_address", ip, sizeof(ip))) ||
        (st = pb__get_str(root, "account", "number", out->account, sizeof(out->account))) ||
        (st = pb__get_int(root, body, len, "payment", "amount", &out->amount)) ||
        (st = pb__get_str(root, "payment", "currency", out->currency, sizeof(out->currency))) ||
        (m->customer_name_required &&
         (st = pb__get_str(root, "account", "customer_name", NULL, 0)))) {
        *code = pb__field_code(st);
        goto out;
    }
    if (pb__get_str(root, "general", "merchant_callback_url", out->callback_url,
                    sizeof(out->callback_url)) == F_TYPE) {
        *code = 2003;
        goto out;
    }
    if (!pb_ip_valid(pb_str_c(ip))) {
        *code = 2004;
        goto out;
    }
    if (strcmp(out->currency, m->currency) != 0) {
        *code = 3121;
        goto out;
    }
    if (out->amount < m->min_minor) {
        *code = 3358;
        goto out;
    }
    if (out->amount > m->max_minor) {
        *code = 2642;
        goto out;
    }
    if (pb_method_account_check(m, out->account, strlen(out->account)) != PB_ACCOUNT_OK) {
        *code = 3242;
        goto out;
    }
out:
    cJSON_Delete(root);
    return rc;
}

int pb_sandbox_check_status(int64_t project_id, const char *secret, size_t secret_len,
                            const char *body, size_t len, char *payment_id, int64_t *req_project,
                            int *code)
{
    cJSON *root = NULL;
    int rc, st;

    if (secret == NULL || body == NULL || payment_id == NULL || req_project == NULL || code == NULL)
        return PB_EINVAL;
    payment_id[0] = '\0';
    *req_project = 0;
    rc = pb__check_common(project_id, secret, secret_len, body, len, &root, req_project, code);
    if (rc != PB_OK || *code != 0)
        goto out;
    st = pb__get_str(root, "general", "payment_id", payment_id, PB_SANDBOX_ID_MAX);
    if (st != F_OK)
        *code = pb__field_code(st);
out:
    cJSON_Delete(root);
    return rc;
}

pb_sandbox_outcome pb_sandbox_outcome_for(const char *account)
{
    size_t n = account ? strlen(account) : 0;
    if (n < 2)
        return PB_SANDBOX_SUCCESS;
    if (account[n - 2] != '0')
        return PB_SANDBOX_SUCCESS;
    switch (account[n - 1]) {
    case '1':
        return PB_SANDBOX_DECLINE_20101;
    case '2':
        return PB_SANDBOX_DECLINE_20102;
    case '3':
        return PB_SANDBOX_AFTER_3_POLLS;
    case '4':
        return PB_SANDBOX_REVERSAL;
    default:
        return PB_SANDBOX_SUCCESS;
    }
}

uint64_t pb_sandbox_cb_delay_ms(unsigned n, double scale)
{
    double sec, f = 1.0;
    unsigned i;
    if (n <= 1 || !(scale > 0))
        return 0;
    if (n <= 6) {
        sec = 10.0;
    } else {
        /* 1.12^(n-4), stopping once past the cap (no libm needed) */
        for (i = 4; i < n && 70.0 + 10.0 * f <= (double)PB_SANDBOX_CB_CAP_MS / 1000.0; i++)
            f *= 1.12;
        sec = 70.0 + 10.0 * f;
        if (sec > (double)PB_SANDBOX_CB_CAP_MS / 1000.0)
            sec = (double)PB_SANDBOX_CB_CAP_MS / 1000.0;
    }
    return (uint64_t)(sec * 1000.0 * scale + 0.5);
}
