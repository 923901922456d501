/*
 * callback_fuzz.c - bytes -> callback parse -> signature check -> decision -> mem store, the
 * path of batch/listen/receiver without the sockets. The first byte picks the row's state;
 * the rest is the body. Bodies are checked as received and, to reach the decision and the
 * store, also as if their signature had verified. Invariants: the decision only produces
 * allowed transitions and the store accepts them; a mismatch never changes the row.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch/store/store.h"
#include "core/callback.h"
#include "core/errors.h"
#include "core/json_scan.h"
#include "formats/gate_response.h"
#include "formats/global.h"

static void pb__check(int ok)
{
    if (!ok)
        abort();
}

static int pb__member(const char *b, size_t n, const char *name, pb_json_token *tok)
{
    const char *path[3] = {"payment", "sum", name};
    int rc = pb_json_get(b, n, path, 3, tok);
    if (rc == PB_ENOTFOUND)
        return 0;
    if (rc < 0)
        tok->type = PB_JSON_NULL;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    pb_gate_payment p;
    pb_callback_facts f;
    pb_callback_row cr;
    pb_callback_decision d;
    pb_json_token tok;
    pb_store *st = NULL;
    pb_store_row row, got[1];
    pb_batch_key k;
    pb_batch_info bi;
    const char *body;
    size_t len, n = 0, applied = 0;
    int created;

    if (!inited) {
        pb_global_init();
        inited = 1;
    }
    if (size < 1)
        return 0;
    body = (const char *)data + 1;
    len = size - 1;
    if (pb_gate_payment_parse(body, len, "fuzz-secret", 11, &p) < 0)
        return 0;
    memset(&f, 0, sizeof(f));
    f.payment_status = p.payment_status;
    f.reversed = p.reversed;
    f.code = p.op_code;
    f.message = p.op_message;
    f.operation_id = p.op_id;
    f.request_id = p.request_id;
    f.provider_payment_id = p.provider_payment_id;
    f.currency = p.currency;
    if (pb__member(body, len, "amount", &tok)) {
        f.amount_present = 1;
        f.amount_ok = tok.type == PB_JSON_NUMBER && pb_json_int64(tok.text, &f.amount) == 0;
    }
    if (pb__member(body, len, "currency", &tok)) {
        f.currency_present = 1;
        if (tok.type != PB_JSON_STRING)
            f.currency = "\x01";
    }

    /* a row in the state the first byte names, amount 1050 PHP */
    pb__check(pb_store_open(&st, "mem:") == 0);
    memset(&k, 0, sizeof(k));
    k.name = "f";
    k.file_name = "f.csv";
    k.file_sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    pb__check(pb_store_batch_begin(st, &k, &bi, &created) == 0);
    memset(&row, 0, sizeof(row));
    row.row_no = 2;
    row.state = PB_ROW_QUEUED;
    memcpy(row.payment_id, "p-2", 4);
    memcpy(row.method, "gcash", 6);
    row.amount = 1050;
    memcpy(row.currency, "PHP", 4);
    pb__check(pb_store_rows_add(st, bi.id, &row, 1) == 0);
    pb__check(pb_store_claim(st, bi.id, 0, 1, got, &n) == 0 && n == 1);
    pb_store_rows_clear(got, n);

    cr.row_no = 2;
    cr.state = (pb_row_state)(data[0] % PB_ROW_STATE_COUNT);
    if (cr.state != PB_ROW_SENDING) {
        /* bring the stored row there when the machine allows it, else decide on sending */
        pb_row_update u;
        memset(&u, 0, sizeof(u));
        u.row_no = 2;
        u.from = PB_ROW_SENDING;
        u.to = cr.state;
        if (pb_row_state_allowed(u.from, u.to))
            pb__check(pb_store_mark(st, bi.id, &u, 1, &applied) == 0 && applied == 1);
        else
            cr.state = PB_ROW_SENDING;
    }
    cr.amount = 1050;
    cr.currency = "PHP";
    pb_callback_decide(&cr, &f, 1, &d);
    for (size_t i = 0; i < d.n; i++)
        pb__check(pb_row_state_allowed(d.updates[i].from, d.updates[i].to));
    if (d.verdict == PB_CALLBACK_MISMATCH)
        pb__check(d.n == 0 && (f.amount_present || f.currency_present));
    if (d.verdict == PB_CALLBACK_APPLY)
        pb__check(pb_store_mark(st, bi.id, d.updates, d.n, &applied) == 0 && applied == d.n);
    pb_batch_info_clear(&bi);
    pb_store_free(st);
    return 0;
}
