/*
 * sandbox_notify.c - the sandbox's payment bodies, signed callbacks (with their faults) and
 * scripted outcome timers (see sandbox.h, sandbox_int.h). Callbacks are sent by
 * batch/sandbox/sandbox_callback.h (batch/net/http_client on the sandbox's loop).
 */
#include "batch/sandbox/sandbox_int.h"

#include "batch/util/log.h"

#include <inttypes.h>
#include <string.h>

#include "batch/sandbox/sandbox_callback.h"
#include "core/errors.h"
#include "core/signature.h"
#include "formats/json_write.h"

/* ---- helpers ---------------------------------------------------------------------- */

uint64_t pb__sbx_rnd(pb__sbx *s)
{
    /* xorshift64* */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 2685821657736338717ull;
}

int pb__sbx_chance(pb__sbx *s, double p)
{
    if (p <= 0)
        return 0;
    return (double)(pb__sbx_rnd(s) >> 11) / 9007199254740992.0 < p;
}

/* The key of --callback-wrong-key: any key but the project's. */
static const char *pb__wrong_key(const pb__sbx *s)
{
    static const char a[] = "paybatch-sandbox-wrong-key", b[] = "paybatch-sandbox-wrong-key-2";
    if (s->o->secret_len == sizeof(a) - 1 && memcmp(s->o->secret, a, sizeof(a) - 1) == 0)
        return b;
    return a;
}

/* Sign j (without "signature") with the project's key (or a wrong one), add the signature. */
static int pb__sign_obj_key(pb__sbx *s, cJSON *j, int wrong)
{
    char sig[PB_SIG_LEN + 1];
    char *txt = cJSON_PrintUnformatted(j);
    const char *key = wrong ? pb__wrong_key(s) : s->o->secret;
    size_t key_len = wrong ? strlen(key) : s->o->secret_len;
    int rc;
    if (txt == NULL)
        return PB_ENOMEM;
    rc = pb_sig_sign_json(txt, strlen(txt), key, key_len, sig);
    cJSON_free(txt);
    if (rc != PB_OK)
        return rc;
    return cJSON_AddStringToObject(j, "signature", sig) ? PB_OK : PB_ENOMEM;
}

int pb__sbx_sign(pb__sbx *s, cJSON *j)
{
    return pb__sign_obj_key(s, j, 0);
}

/* The builders below return PB_ENOMEM when any field could not be added: a body with a
 * field silently missing would mislead the client, so callers answer 500 / send nothing. */
int pb__sbx_add_sum(cJSON *parent, const char *name, const pb__pay *p)
{
    cJSON *sum = cJSON_AddObjectToObject(parent, name);
    if (sum == NULL || pb_json_add_int(sum, "amount", p->p.amount) != PB_OK ||
        cJSON_AddStringToObject(sum, "currency", p->p.currency) == NULL)
        return PB_ENOMEM;
    return PB_OK;
}

int pb__sbx_add_payment(cJSON *root, const pb__sbx *s, const pb__pay *p)
{
    cJSON *pay;
    if (pb_json_add_int(root, "project_id", s->o->project_id) != PB_OK)
        return PB_ENOMEM;
    pay = cJSON_AddObjectToObject(root, "payment");
    if (pay == NULL || cJSON_AddStringToObject(pay, "id", p->p.payment_id) == NULL ||
        cJSON_AddStringToObject(pay, "type", "payout") == NULL ||
        cJSON_AddStringToObject(pay, "status", p->status) == NULL ||
        cJSON_AddStringToObject(pay, "method", p->m->name) == NULL)
        return PB_ENOMEM;
    return pb__sbx_add_sum(pay, "sum", p);
}

/* The payout operation of p, or (rev) its reversal operation. The literal type "reversal"
 * is an assumption (ecommpay-protocol.md §6 item 10). */
int pb__sbx_add_op(cJSON *op, const pb__pay *p, int rev)
{
    char num[16];
    cJSON *prov;
    const char *status = rev || p->reversed ? "success" : p->status;
    int code = rev ? 0 : p->code;
    snprintf(num, sizeof(num), "%d", code);
    if (pb_json_add_int(op, "id", rev ? p->rev_op_id : p->op_id) != PB_OK ||
        cJSON_AddStringToObject(op, "type", rev ? "reversal" : "payout") == NULL ||
        cJSON_AddStringToObject(op, "status", status) == NULL ||
        cJSON_AddStringToObject(op, "request_id", rev ? p->rev_request_id : p->request_id) ==
            NULL ||
        cJSON_AddStringToObject(op, "code", num) == NULL ||
        cJSON_AddStringToObject(op, "message",
                                code == 0 && strcmp(status, "processing") == 0
                                    ? "Awaiting processing"
                                    : pb_sandbox_code_message(code)) == NULL ||
        pb__sbx_add_sum(op, "sum_initial", p) != PB_OK)
        return PB_ENOMEM;
    prov = cJSON_AddObjectToObject(op, "provider");
    if (prov == NULL || pb_json_add_int(prov, "id", 1) != PB_OK ||
        cJSON_AddStringToObject(prov, "payment_id", p->provider_id) == NULL)
        return PB_ENOMEM;
    return PB_OK;
}

/* ---- callbacks -------------------------------------------------------------------- */

static void pb__cb_done(void *arg, int ok, long last_status, const char *url)
{
    pb__sbx *s = (pb__sbx *)arg;
    if (ok) {
        s->sum.cb_sent++;
    } else {
        static const pb_log_ctx ctx = {"sandbox.callback_failed", NULL, 0, NULL, NULL};
        s->sum.cb_failed++;
        /* the query string is left out: a merchant may put a token there */
        pb_log(PB_LOG_WARN, &ctx, "sandbox: callback to %.*s not acknowledged (last HTTP %ld)",
               (int)strcspn(url, "?#"), url, last_status);
    }
}

/* The signed callback body for p (cJSON_free), or NULL. */
static char *pb__callback_text(pb__sbx *s, const pb__pay *p, int wrong)
{
    cJSON *j = cJSON_CreateObject(), *op;
    char *txt = NULL;
    if (j == NULL)
        return NULL;
    if (pb__sbx_add_payment(j, s, p) != PB_OK)
        goto out;
    op = cJSON_AddObjectToObject(j, "operation");
    if (op == NULL || pb__sbx_add_op(op, p, p->reversed) != PB_OK) /* the latest operation */
        goto out;
    if (pb__sign_obj_key(s, j, wrong) != PB_OK)
        goto out;
    txt = cJSON_PrintUnformatted(j);
out:
    cJSON_Delete(j);
    return txt;
}

static void pb__send_callback(pb__sbx *s, pb__pay *p)
{
    const char *url = p->p.callback_url[0] ? p->p.callback_url : s->o->callback_url;
    char *txt = NULL, *late = NULL;
    int copies, i, wrong;

    if (url == NULL || url[0] == '\0' || s->stopping)
        return;
    if (pb__sbx_chance(s, s->o->cb_drop)) {
        s->sum.faults++;
        return;
    }
    copies = pb__sbx_chance(s, s->o->cb_dup) ? 2 : 1;
    if (copies == 2)
        s->sum.faults++;
    wrong = pb__sbx_chance(s, s->o->cb_wrong_key);
    if (wrong)
        s->sum.faults++;
    txt = pb__callback_text(s, p, wrong);
    if (txt == NULL)
        goto out;
    if (pb__sbx_chance(s, s->o->cb_reorder)) {
        /* the intermediate "processing" callback, sent after the final one */
        pb__pay mid = *p;
        mid.status = "processing";
        mid.code = 0;
        mid.reversed = 0;
        s->sum.faults++;
        late = pb__callback_text(s, &mid, wrong);
        if (late == NULL)
            goto out;
    }
    for (i = 0; i < copies; i++)
        if (pb_sandbox_callbacks_post(s->cbs, url, txt, late, s->o->cb_retry_scale,
                                      s->o->cb_max_attempts, pb__cb_done, s) != PB_OK)
            break;
out:
    cJSON_free(late);
    cJSON_free(txt);
}

/* ---- outcomes --------------------------------------------------------------------- */

void pb__sbx_finish(pb__pay *p, const char *status, int code)
{
    p->status = status;
    p->code = code;
    pb__send_callback(p->sbx, p);
}

void pb__sbx_outcome_timer(uv_timer_t *t)
{
    pb__pay *p = (pb__pay *)t->data;
    pb__sbx *s = p->sbx;
    if (p->outcome == PB_SANDBOX_REVERSAL && p->delay_done) { /* second delay: reversal */
        p->reversed = 1;
        p->rev_op_id = ++s->seq;
        snprintf(p->rev_request_id, sizeof(p->rev_request_id), "sbx-req-%" PRIu64, p->rev_op_id);
        pb__sbx_finish(p, "reversed", 0);
        return;
    }
    p->delay_done = 1;
    switch (p->outcome) {
    case PB_SANDBOX_DECLINE_20101:
        pb__sbx_finish(p, "decline", 20101);
        break;
    case PB_SANDBOX_DECLINE_20102:
        pb__sbx_finish(p, "decline", 20102);
        break;
    case PB_SANDBOX_AFTER_3_POLLS:
        if (p->polls >= 3)
            pb__sbx_finish(p, "success", 0);
        break;
    case PB_SANDBOX_REVERSAL:
        pb__sbx_finish(p, "success", 0);
        /* fails only on a closing handle, and a handle closes only when stopping */
        if (!s->stopping)
            (void)uv_timer_start(&p->timer, pb__sbx_outcome_timer, s->o->callback_delay_ms, 0);
        break;
    default:
        pb__sbx_finish(p, "success", 0);
        break;
    }
}
