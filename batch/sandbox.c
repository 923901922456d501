/*
 * sandbox.c - the server half of `paybatch sandbox` (see sandbox.h).
 *
 * Ownership: one pb__sbx per run, owning the HTTP server, the payment table (each payment
 * owns its outcome timer), the ledger FILE and the signal handles. Callbacks are sent by
 * batch/sandbox_callback.h (libcurl in the libuv thread pool).
 */
#include "batch/sandbox.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "batch/http_router.h"
#include "batch/http_server.h"
#include "batch/sandbox_callback.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/signature.h"

#define PB__BUCKETS      4096
#define PB__MAX_PAYMENTS 200000
#define PB__NCODES       32

typedef struct pb__pay {
    struct pb__pay *next; /* bucket chain */
    struct pb__sbx *sbx;
    uv_timer_t timer;
    int timer_init;
    pb_sandbox_payout p;
    const pb_method *m;
    pb_sandbox_outcome outcome;
    const char *status; /* "processing", "success", "decline", "reversed" */
    int code;           /* operation code, 0 while processing/success */
    int delay_done;     /* the outcome timer fired */
    unsigned polls;
    uint64_t op_id;
    char request_id[48];
    char provider_id[48];
    int reversed; /* ...04: the reversal happened (second operation) */
    uint64_t rev_op_id;
    char rev_request_id[48];
} pb__pay;

/* A recorded payout whose answer is held back (--slow). */
typedef struct pb__slow {
    struct pb__slow *prev, *next;
    struct pb__sbx *sbx;
    uv_timer_t timer;
    pb_http_exchange *ex; /* NULL once answered */
    char *txt;            /* the answer body (cJSON_free) */
} pb__slow;

typedef struct pb__sbx {
    const pb_sandbox_opts *o;
    uv_loop_t *loop;
    pb_http_server *srv;
    uv_signal_t sigint, sigterm;
    FILE *ledger;
    pb__pay *buckets[PB__BUCKETS];
    size_t npay;
    uint64_t rng;
    uint64_t seq;
    unsigned long accepted, refused, faults, polls, cb_sent, cb_failed;
    struct {
        int code;
        unsigned long n;
    } by_code[PB__NCODES];
    int stopping;
    atomic_int cb_stop; /* read by callback threads: no more retries */
    pb__slow *slow;     /* held-back answers */
} pb__sbx;

/* ---- helpers ---------------------------------------------------------------------- */

static uint64_t rnd(pb__sbx *s)
{
    /* xorshift64* */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 2685821657736338717ull;
}

static int chance(pb__sbx *s, double p)
{
    if (p <= 0)
        return 0;
    return (double)(rnd(s) >> 11) / 9007199254740992.0 < p;
}

static uint32_t hash(const char *k)
{
    uint32_t h = 2166136261u;
    while (*k)
        h = (h ^ (unsigned char)*k++) * 16777619u;
    return h % PB__BUCKETS;
}

static pb__pay *pay_find(pb__sbx *s, const char *id)
{
    pb__pay *p;
    for (p = s->buckets[hash(id)]; p != NULL; p = p->next)
        if (strcmp(p->p.payment_id, id) == 0)
            return p;
    return NULL;
}

static void count_refusal(pb__sbx *s, int code)
{
    int i;
    s->refused++;
    for (i = 0; i < PB__NCODES; i++) {
        if (s->by_code[i].code == code || s->by_code[i].code == 0) {
            s->by_code[i].code = code;
            s->by_code[i].n++;
            return;
        }
    }
}

/* Print cJSON to a pb_malloc'd string (cJSON uses pb_malloc through the hooks in main). */
static int respond_json(pb_http_exchange *ex, int status, const char *extra, cJSON *j)
{
    char *txt = cJSON_PrintUnformatted(j);
    int rc;
    if (txt == NULL) {
        pb_http_respond_error(ex, 500, "Internal error", NULL);
        return PB_ENOMEM;
    }
    rc = pb_http_respond(ex, status, "application/json", extra, txt, strlen(txt));
    cJSON_free(txt);
    return rc;
}

static void refuse(pb__sbx *s, pb_http_exchange *ex, int http, int code, int64_t project,
                   const char *payment_id)
{
    cJSON *j = cJSON_CreateObject();
    char num[16];
    char rid[48];
    count_refusal(s, code);
    if (j == NULL) {
        pb_http_respond_error(ex, 500, "Internal error", NULL);
        return;
    }
    snprintf(num, sizeof(num), "%d", code);
    snprintf(rid, sizeof(rid), "sbx-req-%" PRIu64, ++s->seq);
    cJSON_AddStringToObject(j, "status", "error");
    cJSON_AddStringToObject(j, "request_id", rid);
    if (project != 0)
        cJSON_AddNumberToObject(j, "project_id", (double)project);
    if (payment_id != NULL && payment_id[0] != '\0')
        cJSON_AddStringToObject(j, "payment_id", payment_id);
    cJSON_AddStringToObject(j, "code", num);
    cJSON_AddStringToObject(j, "message", pb_sandbox_code_message(code));
    respond_json(ex, http, NULL, j);
    cJSON_Delete(j);
}

/* The key of --callback-wrong-key: any key but the project's. */
static const char *wrong_key(const pb__sbx *s)
{
    static const char a[] = "paybatch-sandbox-wrong-key", b[] = "paybatch-sandbox-wrong-key-2";
    if (s->o->secret_len == sizeof(a) - 1 && memcmp(s->o->secret, a, sizeof(a) - 1) == 0)
        return b;
    return a;
}

/* Sign j (without "signature") with the project's key (or a wrong one), add the signature. */
static int sign_obj_key(pb__sbx *s, cJSON *j, int wrong)
{
    char sig[PB_SIG_LEN + 1];
    char *txt = cJSON_PrintUnformatted(j);
    const char *key = wrong ? wrong_key(s) : s->o->secret;
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

static int sign_obj(pb__sbx *s, cJSON *j)
{
    return sign_obj_key(s, j, 0);
}

static void add_sum(cJSON *parent, const char *name, const pb__pay *p)
{
    cJSON *sum = cJSON_AddObjectToObject(parent, name);
    if (sum == NULL)
        return;
    cJSON_AddNumberToObject(sum, "amount", (double)p->p.amount);
    cJSON_AddStringToObject(sum, "currency", p->p.currency);
}

/* The payout operation of p, or (rev) its reversal operation. The literal type "reversal"
 * is an assumption (ecommpay-protocol.md §6 item 10). */
static void add_op(cJSON *op, const pb__pay *p, int rev)
{
    char num[16];
    cJSON *prov;
    const char *status = rev || p->reversed ? "success" : p->status;
    int code = rev ? 0 : p->code;
    snprintf(num, sizeof(num), "%d", code);
    cJSON_AddNumberToObject(op, "id", (double)(rev ? p->rev_op_id : p->op_id));
    cJSON_AddStringToObject(op, "type", rev ? "reversal" : "payout");
    cJSON_AddStringToObject(op, "status", status);
    cJSON_AddStringToObject(op, "request_id", rev ? p->rev_request_id : p->request_id);
    cJSON_AddStringToObject(op, "code", num);
    cJSON_AddStringToObject(op, "message",
                            code == 0 && strcmp(status, "processing") == 0
                                ? "Awaiting processing"
                                : pb_sandbox_code_message(code));
    add_sum(op, "sum_initial", p);
    prov = cJSON_AddObjectToObject(op, "provider");
    if (prov != NULL) {
        cJSON_AddNumberToObject(prov, "id", 1);
        cJSON_AddStringToObject(prov, "payment_id", p->provider_id);
    }
}

/* ---- callbacks -------------------------------------------------------------------- */

static void cb_done(void *arg, int ok, long last_status, const char *url)
{
    pb__sbx *s = (pb__sbx *)arg;
    if (ok) {
        s->cb_sent++;
    } else {
        s->cb_failed++;
        fprintf(stderr, "sandbox: callback to %s not acknowledged (last HTTP %ld)\n", url,
                last_status);
    }
}

/* The signed callback body for p (cJSON_free), or NULL. */
static char *callback_text(pb__sbx *s, const pb__pay *p, int wrong)
{
    cJSON *j = cJSON_CreateObject(), *pay, *op;
    char *txt = NULL;
    if (j == NULL)
        return NULL;
    cJSON_AddNumberToObject(j, "project_id", (double)s->o->project_id);
    pay = cJSON_AddObjectToObject(j, "payment");
    op = cJSON_AddObjectToObject(j, "operation");
    if (pay == NULL || op == NULL)
        goto out;
    cJSON_AddStringToObject(pay, "id", p->p.payment_id);
    cJSON_AddStringToObject(pay, "type", "payout");
    cJSON_AddStringToObject(pay, "status", p->status);
    cJSON_AddStringToObject(pay, "method", p->m->name);
    add_sum(pay, "sum", p);
    add_op(op, p, p->reversed); /* the latest operation */
    if (sign_obj_key(s, j, wrong) != PB_OK)
        goto out;
    txt = cJSON_PrintUnformatted(j);
out:
    cJSON_Delete(j);
    return txt;
}

static void send_callback(pb__sbx *s, pb__pay *p)
{
    const char *url = p->p.callback_url[0] ? p->p.callback_url : s->o->callback_url;
    char *txt = NULL, *late = NULL;
    int copies, i, wrong;

    if (url == NULL || url[0] == '\0' || s->stopping)
        return;
    if (chance(s, s->o->cb_drop)) {
        s->faults++;
        return;
    }
    copies = chance(s, s->o->cb_dup) ? 2 : 1;
    if (copies == 2)
        s->faults++;
    wrong = chance(s, s->o->cb_wrong_key);
    if (wrong)
        s->faults++;
    txt = callback_text(s, p, wrong);
    if (txt == NULL)
        goto out;
    if (chance(s, s->o->cb_reorder)) {
        /* the intermediate "processing" callback, sent after the final one */
        pb__pay mid = *p;
        mid.status = "processing";
        mid.code = 0;
        mid.reversed = 0;
        s->faults++;
        late = callback_text(s, &mid, wrong);
        if (late == NULL)
            goto out;
    }
    for (i = 0; i < copies; i++)
        if (pb_sandbox_callback_post(s->loop, url, txt, late, s->o->cb_retry_scale,
                                     s->o->cb_max_attempts, &s->cb_stop, cb_done, s) != PB_OK)
            break;
out:
    cJSON_free(late);
    cJSON_free(txt);
}

/* ---- outcomes --------------------------------------------------------------------- */

static void finish(pb__pay *p, const char *status, int code)
{
    p->status = status;
    p->code = code;
    send_callback(p->sbx, p);
}

static void outcome_timer(uv_timer_t *t)
{
    pb__pay *p = (pb__pay *)t->data;
    pb__sbx *s = p->sbx;
    if (p->outcome == PB_SANDBOX_REVERSAL && p->delay_done) { /* second delay: reversal */
        p->reversed = 1;
        p->rev_op_id = ++s->seq;
        snprintf(p->rev_request_id, sizeof(p->rev_request_id), "sbx-req-%" PRIu64, p->rev_op_id);
        finish(p, "reversed", 0);
        return;
    }
    p->delay_done = 1;
    switch (p->outcome) {
    case PB_SANDBOX_DECLINE_20101:
        finish(p, "decline", 20101);
        break;
    case PB_SANDBOX_DECLINE_20102:
        finish(p, "decline", 20102);
        break;
    case PB_SANDBOX_AFTER_3_POLLS:
        if (p->polls >= 3)
            finish(p, "success", 0);
        break;
    case PB_SANDBOX_REVERSAL:
        finish(p, "success", 0);
        if (!s->stopping)
            uv_timer_start(&p->timer, outcome_timer, s->o->callback_delay_ms, 0);
        break;
    default:
        finish(p, "success", 0);
        break;
    }
}

/* ---- held-back answers (--slow) --------------------------------------------------- */

static void slow_answer(pb__slow *w)
{
    if (w->ex != NULL) {
        pb_http_respond(w->ex, 200, "application/json", NULL, w->txt, strlen(w->txt));
        w->ex = NULL;
    }
}

static void slow_closed(uv_handle_t *h)
{
    pb__slow *w = (pb__slow *)h->data;
    cJSON_free(w->txt);
    pb_free(w);
}

static void slow_unlink_close(pb__slow *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        w->sbx->slow = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    uv_close((uv_handle_t *)&w->timer, slow_closed);
}

static void slow_timer(uv_timer_t *t)
{
    pb__slow *w = (pb__slow *)t->data;
    slow_answer(w);
    slow_unlink_close(w);
}

/* Answer txt (taken over) after s->o->slow_ms; answers at once when that cannot be set up. */
static void answer_later(pb__sbx *s, pb_http_exchange *ex, char *txt)
{
    pb__slow *w = pb_calloc(1, sizeof(*w));
    if (w == NULL || uv_timer_init(s->loop, &w->timer) != 0) {
        pb_free(w);
        pb_http_respond(ex, 200, "application/json", NULL, txt, strlen(txt));
        cJSON_free(txt);
        return;
    }
    w->sbx = s;
    w->ex = ex;
    w->txt = txt;
    w->timer.data = w;
    w->next = s->slow;
    if (s->slow != NULL)
        s->slow->prev = w;
    s->slow = w;
    uv_timer_start(&w->timer, slow_timer, s->o->slow_ms, 0);
}

/* ---- handlers --------------------------------------------------------------------- */

static int faults(pb__sbx *s, pb_http_exchange *ex)
{
    if (chance(s, s->o->fail_429)) {
        s->faults++;
        pb_http_respond_error(ex, 429, "Too many requests", "Retry-After: 1\r\n");
        return 1;
    }
    if (chance(s, s->o->fail_500)) {
        s->faults++;
        pb_http_respond_error(ex, 500, "Internal error", NULL);
        return 1;
    }
    return 0;
}

static int ledger_append(pb__sbx *s, const pb__pay *p)
{
    cJSON *j;
    char *txt;
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    int rc = PB_OK;

    if (s->ledger == NULL)
        return PB_OK;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    j = cJSON_CreateObject();
    if (j == NULL)
        return PB_ENOMEM;
    cJSON_AddStringToObject(j, "payment_id", p->p.payment_id);
    cJSON_AddStringToObject(j, "method", p->m->name);
    cJSON_AddNumberToObject(j, "amount", (double)p->p.amount);
    cJSON_AddStringToObject(j, "currency", p->p.currency);
    cJSON_AddStringToObject(j, "account", p->p.account);
    cJSON_AddStringToObject(j, "time", ts);
    txt = cJSON_PrintUnformatted(j);
    if (txt == NULL) {
        rc = PB_ENOMEM;
        goto out;
    }
    if (fprintf(s->ledger, "%s\n", txt) < 0 || fflush(s->ledger) != 0)
        rc = PB_EIO;
    cJSON_free(txt);
out:
    cJSON_Delete(j);
    return rc;
}

static void h_payout(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    pb__sbx *s = (pb__sbx *)ctx;
    const char *name = strstr(req->path, "/gcash/") ? "gcash" : "touchngo";
    const pb_method *m = pb_method_find(name, strlen(name));
    pb_sandbox_payout in;
    pb__pay *p;
    int code = 0;
    cJSON *j;
    uint32_t b;

    if (faults(s, ex))
        return;
    if (pb_sandbox_check_payout(m, s->o->project_id, s->o->secret, s->o->secret_len, req->body,
                                req->body_len, &in, &code) != PB_OK) {
        pb_http_respond_error(ex, 500, "Internal error", NULL);
        return;
    }
    if (code == 0 && pay_find(s, in.payment_id) != NULL)
        code = 3041;
    if (code != 0) {
        refuse(s, ex, 400, code, in.project_id, in.payment_id);
        return;
    }
    if (s->npay >= PB__MAX_PAYMENTS || (p = pb_calloc(1, sizeof(*p))) == NULL) {
        pb_http_respond_error(ex, 503, "Sandbox full", NULL);
        return;
    }
    p->sbx = s;
    p->p = in;
    p->m = m;
    p->outcome = pb_sandbox_outcome_for(in.account);
    p->status = "processing";
    p->op_id = ++s->seq;
    snprintf(p->request_id, sizeof(p->request_id), "sbx-req-%" PRIu64, p->op_id);
    snprintf(p->provider_id, sizeof(p->provider_id), "prov-%016" PRIx64, rnd(s));
    if (ledger_append(s, p) != PB_OK) {
        pb_free(p);
        pb_http_respond_error(ex, 500, "Ledger write failed", NULL);
        return;
    }
    b = hash(p->p.payment_id);
    p->next = s->buckets[b];
    s->buckets[b] = p;
    s->npay++;
    s->accepted++;
    if (uv_timer_init(s->loop, &p->timer) == 0) {
        p->timer_init = 1;
        p->timer.data = p;
        uv_timer_start(&p->timer, outcome_timer, s->o->callback_delay_ms, 0);
    }
    if (chance(s, s->o->drop_after_record)) {
        s->faults++;
        pb_http_drop(ex);
        return;
    }
    j = cJSON_CreateObject();
    if (j == NULL) {
        pb_http_respond_error(ex, 500, "Internal error", NULL);
        return;
    }
    cJSON_AddStringToObject(j, "status", "success");
    cJSON_AddStringToObject(j, "request_id", p->request_id);
    cJSON_AddNumberToObject(j, "project_id", (double)s->o->project_id);
    cJSON_AddStringToObject(j, "payment_id", p->p.payment_id);
    if (chance(s, s->o->slow)) {
        char *txt = cJSON_PrintUnformatted(j);
        s->faults++;
        cJSON_Delete(j);
        if (txt == NULL)
            pb_http_respond_error(ex, 500, "Internal error", NULL);
        else
            answer_later(s, ex, txt);
        return;
    }
    respond_json(ex, 200, NULL, j);
    cJSON_Delete(j);
}

static void h_status(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    pb__sbx *s = (pb__sbx *)ctx;
    char id[PB_SANDBOX_ID_MAX];
    int64_t proj = 0;
    int code = 0;
    pb__pay *p;
    cJSON *j = NULL, *pay, *ops, *op;

    if (faults(s, ex))
        return;
    if (pb_sandbox_check_status(s->o->project_id, s->o->secret, s->o->secret_len, req->body,
                                req->body_len, id, &proj, &code) != PB_OK) {
        pb_http_respond_error(ex, 500, "Internal error", NULL);
        return;
    }
    if (code != 0) {
        refuse(s, ex, 400, code, proj, id);
        return;
    }
    p = pay_find(s, id);
    if (p == NULL) {
        refuse(s, ex, 404, 3061, proj, id);
        return;
    }
    s->polls++;
    p->polls++;
    if (p->outcome == PB_SANDBOX_AFTER_3_POLLS && p->delay_done && p->polls >= 3 &&
        strcmp(p->status, "processing") == 0)
        finish(p, "success", 0);
    j = cJSON_CreateObject();
    if (j == NULL)
        goto fail;
    cJSON_AddNumberToObject(j, "project_id", (double)s->o->project_id);
    pay = cJSON_AddObjectToObject(j, "payment");
    ops = cJSON_AddArrayToObject(j, "operations");
    op = cJSON_CreateObject();
    if (pay == NULL || ops == NULL || op == NULL || !cJSON_AddItemToArray(ops, op)) {
        cJSON_Delete(op);
        goto fail;
    }
    cJSON_AddStringToObject(pay, "id", p->p.payment_id);
    cJSON_AddStringToObject(pay, "type", "payout");
    cJSON_AddStringToObject(pay, "status", p->status);
    cJSON_AddStringToObject(pay, "method", p->m->name);
    add_sum(pay, "sum", p);
    add_op(op, p, 0);
    if (p->reversed) {
        cJSON *rev = cJSON_CreateObject();
        if (rev == NULL || !cJSON_AddItemToArray(ops, rev)) {
            cJSON_Delete(rev);
            goto fail;
        }
        add_op(rev, p, 1);
    }
    if (sign_obj(s, j) != PB_OK)
        goto fail;
    respond_json(ex, 200, NULL, j);
    cJSON_Delete(j);
    return;
fail:
    cJSON_Delete(j);
    pb_http_respond_error(ex, 500, "Internal error", NULL);
}

/* GET /healthz: liveness for scripts and benchmarks; no faults, no counters. */
static void h_healthz(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    static const char body[] = "{\"status\":\"ok\"}";
    (void)req;
    (void)ctx;
    pb_http_respond(ex, 200, "application/json", NULL, body, sizeof(body) - 1);
}

static const pb_http_route pb__routes[] = {
    {"GET", "/healthz", h_healthz},
    {"POST", "/v2/payment/wallet/touchngo/payout", h_payout},
    {"POST", "/v2/payment/wallet/gcash/payout", h_payout},
    {"POST", "/v2/payment/status", h_status},
};

static void h_any(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    pb_http_route_dispatch(pb__routes, sizeof(pb__routes) / sizeof(pb__routes[0]), ex, req, ctx);
}

/* ---- lifecycle -------------------------------------------------------------------- */

static void on_server_closed(pb_http_server *srv, void *arg)
{
    (void)srv;
    (void)arg;
}

static void summary(const pb__sbx *s)
{
    int i;
    fprintf(stderr,
            "sandbox: stopped: %lu accepted, %lu refused, %lu faults injected, %lu status "
            "queries, %lu callbacks acknowledged, %lu not\n",
            s->accepted, s->refused, s->faults, s->polls, s->cb_sent, s->cb_failed);
    for (i = 0; i < PB__NCODES && s->by_code[i].code != 0; i++)
        fprintf(stderr, "sandbox:   refused %d (%s): %lu\n", s->by_code[i].code,
                pb_sandbox_code_message(s->by_code[i].code), s->by_code[i].n);
}

static void on_signal(uv_signal_t *h, int signum)
{
    pb__sbx *s = (pb__sbx *)h->data;
    size_t i;
    pb__pay *p;
    (void)signum;
    if (s->stopping)
        return;
    s->stopping = 1;
    atomic_store(&s->cb_stop, 1);
    while (s->slow != NULL) { /* held-back answers go out now */
        slow_answer(s->slow);
        slow_unlink_close(s->slow);
    }
    pb_http_server_close(s->srv, on_server_closed, s);
    for (i = 0; i < PB__BUCKETS; i++)
        for (p = s->buckets[i]; p != NULL; p = p->next)
            if (p->timer_init && !uv_is_closing((uv_handle_t *)&p->timer))
                uv_close((uv_handle_t *)&p->timer, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
}

static void free_payments(pb__sbx *s)
{
    size_t i;
    for (i = 0; i < PB__BUCKETS; i++) {
        while (s->buckets[i] != NULL) {
            pb__pay *p = s->buckets[i];
            s->buckets[i] = p->next;
            pb_free(p);
        }
    }
}

int pb_sandbox_run(const pb_sandbox_opts *o)
{
    pb__sbx *s = NULL;
    uv_loop_t loop;
    int rc = PB_OK, loop_ok = 0, sig_ok = 0, port;

    if (o == NULL || o->host == NULL || o->secret == NULL)
        return PB_EINVAL;
    s = pb_calloc(1, sizeof(*s));
    if (s == NULL)
        return PB_ENOMEM;
    s->o = o;
    s->rng = o->seed ? (uint64_t)o->seed : 0x9e3779b97f4a7c15ull;
    if (uv_loop_init(&loop) != 0) {
        rc = pb_error_set("cannot start the event loop");
        goto out;
    }
    loop_ok = 1;
    s->loop = &loop;
    if (o->ledger_path != NULL) {
        s->ledger = fopen(o->ledger_path, "a");
        if (s->ledger == NULL) {
            rc = pb_error_set("cannot open ledger %s", o->ledger_path);
            goto out;
        }
    }
    rc = pb_http_server_new(&s->srv, &loop, NULL, h_any, s);
    if (rc != PB_OK)
        goto out;
    rc = pb_http_server_listen(s->srv, o->host, o->port);
    if (rc != PB_OK) {
        pb_error_set("cannot listen on %s:%d", o->host, o->port);
        pb_http_server_close(s->srv, NULL, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        goto out;
    }
    uv_signal_init(&loop, &s->sigint);
    uv_signal_init(&loop, &s->sigterm);
    s->sigint.data = s->sigterm.data = s;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    sig_ok = 1;
    port = pb_http_server_port(s->srv);
    printf("listening on %s:%d\n", o->host, port);
    fflush(stdout);
    uv_run(&loop, UV_RUN_DEFAULT);
    summary(s);
out:
    (void)sig_ok;
    if (loop_ok) {
        uv_run(&loop, UV_RUN_DEFAULT); /* pending closes / callback jobs */
        uv_loop_close(&loop);
    }
    if (s != NULL) {
        pb_http_server_free(s->srv);
        free_payments(s);
        if (s->ledger != NULL)
            fclose(s->ledger);
        pb_free(s);
    }
    return rc;
}
