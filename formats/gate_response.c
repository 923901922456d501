#include "formats/gate_response.h"

#include "core/callback.h"
#include "core/errors.h"
#include "core/json_flat.h"
#include "core/json_scan.h"
#include "core/signature.h"

#include <string.h>

#define PB__SET(dst, v, n) pb_row_field_set((dst), sizeof(dst) - 1, (v), (n))

/* PATH equal to the C string p (PATH bytes may contain doubled ':' in names; ours do not). */
static int pb__path_is(const pb_flat_entry *e, const char *p)
{
    size_t n = strlen(p);
    return e->plen == n && memcmp(e->s, p, n) == 0;
}

static const char *pb__val(const pb_flat_entry *e)
{
    return e->s + e->plen + 1;
}

static int pb__parse(pb_flat *f, const char *body, size_t len)
{
    pb_flat_init(f);
    return pb_flat_parse(f, body, len, 0);
}

int pb_gate_answer_parse(const char *body, size_t len, pb_gate_answer *out)
{
    pb_flat f;
    const pb_flat_entry *ents;
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = pb__parse(&f, body, len)) < 0)
        goto out;
    ents = (const pb_flat_entry *)(void *)f.ents.ptr;
    for (i = 0; i < f.count; i++) {
        const pb_flat_entry *e = &ents[i];
        if (pb__path_is(e, "status"))
            PB__SET(out->status, pb__val(e), e->vlen);
        else if (pb__path_is(e, "code"))
            PB__SET(out->code, pb__val(e), e->vlen);
        else if (pb__path_is(e, "message"))
            PB__SET(out->message, pb__val(e), e->vlen);
        else if (pb__path_is(e, "request_id"))
            PB__SET(out->request_id, pb__val(e), e->vlen);
    }
out:
    pb_flat_free(&f);
    return rc;
}

typedef struct {
    char type[32];
    char status[PB_ROW_STATUS_MAX + 1];
    char code[PB_ROW_CODE_MAX + 1];
    char message[PB_ROW_MESSAGE_MAX + 1];
    char id[PB_ROW_ID_MAX + 1];
    char request_id[PB_ROW_ID_MAX + 1];
    char provider_payment_id[PB_ROW_ID_MAX + 1];
    int used;
} pb__op;

/* An operation is complete: a successful reversal marks the payment reversed; any other
 * operation becomes "the latest payout operation". */
static void pb__op_done(pb__op *op, pb_gate_payment *out)
{
    if (!op->used)
        return;
    if (strcmp(op->type, "reversal") == 0) {
        if (strcmp(op->status, "success") == 0)
            out->reversed = 1;
    } else {
        memcpy(out->op_type, op->type, sizeof(out->op_type));
        memcpy(out->op_status, op->status, sizeof(out->op_status));
        memcpy(out->op_code, op->code, sizeof(out->op_code));
        memcpy(out->op_message, op->message, sizeof(out->op_message));
        memcpy(out->op_id, op->id, sizeof(out->op_id));
        memcpy(out->request_id, op->request_id, sizeof(out->request_id));
        memcpy(out->provider_payment_id, op->provider_payment_id, sizeof(out->provider_payment_id));
    }
    memset(op, 0, sizeof(*op));
}

/* field = the rest of the PATH after "operation:" or "operations:N:". */
static void pb__op_field(pb__op *op, const char *field, size_t flen, const char *v, size_t vlen)
{
#define PB__IS(lit) (flen == sizeof(lit) - 1 && memcmp(field, lit, flen) == 0)
    op->used = 1;
    if (PB__IS("type"))
        PB__SET(op->type, v, vlen);
    else if (PB__IS("status"))
        PB__SET(op->status, v, vlen);
    else if (PB__IS("code"))
        PB__SET(op->code, v, vlen);
    else if (PB__IS("message"))
        PB__SET(op->message, v, vlen);
    else if (PB__IS("id"))
        PB__SET(op->id, v, vlen);
    else if (PB__IS("request_id"))
        PB__SET(op->request_id, v, vlen);
    else if (PB__IS("provider:payment_id"))
        PB__SET(op->provider_payment_id, v, vlen);
#undef PB__IS
}

int pb_gate_payment_parse(const char *body, size_t len, const char *secret, size_t secret_len,
                          pb_gate_payment *out)
{
    pb_flat f;
    const pb_flat_entry *ents;
    pb__op op;
    size_t i;
    long cur = -1;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&op, 0, sizeof(op));
    if ((rc = pb__parse(&f, body, len)) < 0)
        goto out;
    ents = (const pb_flat_entry *)(void *)f.ents.ptr;
    for (i = 0; i < f.count; i++) {
        const pb_flat_entry *e = &ents[i];
        const char *v = pb__val(e);
        if (pb__path_is(e, "payment:id"))
            PB__SET(out->payment_id, v, e->vlen);
        else if (pb__path_is(e, "payment:status"))
            PB__SET(out->payment_status, v, e->vlen);
        else if (pb__path_is(e, "payment:sum:amount"))
            out->amount_ok = pb_json_int64(pb_str_make(v, e->vlen), &out->amount) == 0;
        else if (pb__path_is(e, "payment:sum:currency"))
            PB__SET(out->currency, v, e->vlen);
        else if (pb__path_is(e, "project_id") || pb__path_is(e, "general:project_id"))
            /* the digits of a number token or of a string ("123" in the SDKs' fixtures) */
            out->project_id_seen =
                pb_json_int64(pb_str_make(v, e->vlen), &out->project_id) == 0 ? 1 : -1;
        else if (pb__path_is(e, "code"))
            PB__SET(out->code, v, e->vlen);
        else if (pb__path_is(e, "message"))
            PB__SET(out->message, v, e->vlen);
        else if (e->plen > 10 && memcmp(e->s, "operation:", 10) == 0) {
            if (cur != -2) {
                pb__op_done(&op, out);
                cur = -2;
            }
            pb__op_field(&op, e->s + 10, e->plen - 10, v, e->vlen);
        } else if (e->plen > 11 && memcmp(e->s, "operations:", 11) == 0) {
            const char *p = e->s + 11, *end = e->s + e->plen;
            long idx = 0;
            while (p < end && *p >= '0' && *p <= '9' && idx < 1000000)
                idx = idx * 10 + (*p++ - '0');
            if (p >= end || *p != ':')
                continue;
            if (idx != cur) {
                pb__op_done(&op, out);
                cur = idx;
            }
            pb__op_field(&op, p + 1, (size_t)(end - p - 1), v, e->vlen);
        }
    }
    pb__op_done(&op, out);
    if (secret) {
        int ok = 0;
        if (pb_sig_verify_json(body, len, secret, secret_len, &ok) == 0)
            out->signature_ok = ok;
    }
out:
    pb_flat_free(&f);
    return rc;
}

int pb_gate_status_not_found(int http_status, const pb_gate_payment *p)
{
    return http_status == 404 || strcmp(p->code, "3061") == 0;
}

pb_row_state pb_gate_payment_state(const pb_gate_payment *p)
{
    return pb_callback_status_state(p->payment_status, p->reversed);
}

/* Presence and text of a member at payment.sum.<name>: 0 absent, 1 present. */
static int pb__sum_member(const char *body, size_t len, const char *name, pb_json_token *tok)
{
    const char *path[3] = {"payment", "sum", name};
    int rc = pb_json_get(body, len, path, 3, tok);
    if (rc == PB_ENOTFOUND)
        return 0;
    if (rc < 0)
        tok->type = PB_JSON_NULL; /* twice, or unreadable: present, never usable */
    return 1;
}

void pb_gate_payment_facts(const char *body, size_t len, const pb_gate_payment *p,
                           pb_callback_facts *f)
{
    pb_json_token tok;

    memset(f, 0, sizeof(*f));
    f->payment_status = p->payment_status;
    f->reversed = p->reversed;
    f->code = p->op_code;
    f->message = p->op_message;
    f->operation_id = p->op_id;
    f->request_id = p->request_id;
    f->provider_payment_id = p->provider_payment_id;
    if (pb__sum_member(body, len, "amount", &tok)) {
        f->amount_present = 1;
        /* the number token's digits, never a double: "10.50", 1e3, {} and [] are not ok */
        if (tok.type == PB_JSON_NUMBER && pb_json_int64(tok.text, &f->amount) == 0)
            f->amount_ok = 1;
        else
            f->amount = 0;
    }
    f->currency = p->currency;
    if (pb__sum_member(body, len, "currency", &tok)) {
        f->currency_present = 1;
        /* not a string, or longer than pb_gate_payment keeps: never equal to a row's */
        if (tok.type != PB_JSON_STRING || tok.text.len > sizeof(p->currency) + 1)
            f->currency = "\x01";
    }
}
