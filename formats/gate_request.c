#include "formats/gate_request.h"

#include "core/alloc.h"
#include "core/errors.h"
#include "core/signature.h"
#include "formats/json_write.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static int pb__add_str(cJSON *obj, const char *key, pb_str s)
{
    char *tmp;
    cJSON *item;
    if (s.len == 0)
        return PB_OK; /* empty optional cells are left out (SPEC §11) */
    tmp = pb_strndup(s.ptr, s.len);
    if (!tmp)
        return PB_ENOMEM;
    item = cJSON_AddStringToObject(obj, key, tmp);
    pb_free(tmp);
    return item ? PB_OK : PB_ENOMEM;
}

static cJSON *pb__obj(cJSON *root, const char *name)
{
    cJSON *o = cJSON_GetObjectItemCaseSensitive(root, name);
    return o ? o : cJSON_AddObjectToObject(root, name);
}

/* Print without the signature, sign that exact text, add the signature, print again. */
static int pb__sign_and_print(cJSON *root, cJSON *general, const pb_gate_cfg *cfg, pb_buf *out)
{
    char sig[PB_SIG_LEN + 1];
    char *text = cJSON_PrintUnformatted(root);
    int rc;

    if (!text)
        return PB_ENOMEM;
    rc = pb_sig_sign_json(text, strlen(text), cfg->secret, cfg->secret_len, sig);
    cJSON_free(text);
    if (rc < 0)
        return rc;
    if (!cJSON_AddStringToObject(general, "signature", sig))
        return PB_ENOMEM;
    text = cJSON_PrintUnformatted(root);
    if (!text)
        return PB_ENOMEM;
    rc = pb_buf_puts(out, text);
    cJSON_free(text);
    return rc;
}

int pb_gate_payout_body(const pb_row *row, const pb_row_result *res, const pb_gate_cfg *cfg,
                        pb_buf *out)
{
    cJSON *root = NULL, *general, *customer, *account, *payment;
    size_t i;
    int rc = PB_ENOMEM;

    if (!res->method || !res->currency || !res->amount_ok)
        return PB_EINVAL;
    root = cJSON_CreateObject();
    if (!root)
        goto out;
    if (!(general = cJSON_AddObjectToObject(root, "general")) ||
        !(customer = cJSON_AddObjectToObject(root, "customer")) ||
        !(account = cJSON_AddObjectToObject(root, "account")) ||
        !(payment = cJSON_AddObjectToObject(root, "payment")))
        goto out;
    if ((rc = pb_json_add_int(general, "project_id", cfg->project_id)) < 0 ||
        (rc = pb__add_str(general, "payment_id", row->cell[PB_COL_PAYMENT_ID])) < 0)
        goto out;
    if (cfg->callback_url && cfg->callback_url[0] &&
        (rc = pb__add_str(general, "merchant_callback_url", pb_str_c(cfg->callback_url))) < 0)
        goto out;
    if ((rc = pb__add_str(customer, "id", row->cell[PB_COL_CUSTOMER_ID])) < 0 ||
        (rc = pb__add_str(customer, "ip_address", row->cell[PB_COL_IP])) < 0 ||
        (rc = pb__add_str(account, "number", row->cell[PB_COL_ACCOUNT])) < 0 ||
        (rc = pb__add_str(account, "customer_name", row->cell[PB_COL_CUSTOMER_NAME])) < 0 ||
        (rc = pb_json_add_int(payment, "amount", res->amount_minor)) < 0 ||
        (rc = pb__add_str(payment, "currency", pb_str_c(res->currency->code))) < 0 ||
        (rc = pb__add_str(payment, "description", row->cell[PB_COL_DESCRIPTION])) < 0)
        goto out;
    for (i = 0; i < row->npass; i++) {
        const char *dot = strchr(row->pass[i].path, '.');
        char objname[16];
        size_t ol = dot ? (size_t)(dot - row->pass[i].path) : 0;
        cJSON *obj;
        if (!dot || ol >= sizeof(objname) || row->pass[i].value.len == 0)
            continue;
        memcpy(objname, row->pass[i].path, ol);
        objname[ol] = '\0';
        obj = pb__obj(root, objname);
        if (!obj) {
            rc = PB_ENOMEM;
            goto out;
        }
        /* a pass-through column never overrides a field paybatch sets */
        if (cJSON_GetObjectItemCaseSensitive(obj, dot + 1))
            continue;
        if ((rc = pb__add_str(obj, dot + 1, row->pass[i].value)) < 0)
            goto out;
    }
    rc = pb__sign_and_print(root, general, cfg, out);
out:
    cJSON_Delete(root);
    return rc;
}

int pb_gate_status_body(const char *payment_id, size_t id_len, const pb_gate_cfg *cfg, pb_buf *out)
{
    cJSON *root, *general;
    int rc = PB_ENOMEM;

    root = cJSON_CreateObject();
    if (!root)
        return PB_ENOMEM;
    if (!(general = cJSON_AddObjectToObject(root, "general")))
        goto out;
    if ((rc = pb_json_add_int(general, "project_id", cfg->project_id)) < 0 ||
        (rc = pb__add_str(general, "payment_id", pb_str_make(payment_id, id_len))) < 0)
        goto out;
    rc = pb__sign_and_print(root, general, cfg, out);
out:
    cJSON_Delete(root);
    return rc;
}
