/*
 * sandbox_int.h - internals shared by the server half of the sandbox (sandbox.c: HTTP,
 * payment table, lifecycle; sandbox_notify.c: response bodies, signed callbacks, outcome
 * timers). Not for use outside batch/sandbox*.c.
 *
 * Ownership: one pb__sbx per run owns the payment table; each pb__pay owns its outcome
 * timer; each pb__slow (a held-back answer) owns its timer and answer text.
 */
#ifndef PB_SANDBOX_SANDBOX_INT_H
#define PB_SANDBOX_SANDBOX_INT_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "batch/net/http_server.h"
#include "batch/sandbox/sandbox_callback.h"
#include "batch/sandbox/sandbox.h"

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
    pb_sandbox_callbacks *cbs; /* the callback sender (closed on stop) */
    pb__slow *slow;            /* held-back answers */
} pb__sbx;

/* sandbox_notify.c */
uint64_t pb__sbx_rnd(pb__sbx *s);         /* the fault dice (xorshift64*) */
int pb__sbx_chance(pb__sbx *s, double p); /* 1 with probability p */
int pb__sbx_sign(pb__sbx *s, cJSON *j);   /* add the top-level signature */
void pb__sbx_add_sum(cJSON *parent, const char *name, const pb__pay *p);
void pb__sbx_add_op(cJSON *op, const pb__pay *p, int rev); /* rev: the reversal operation */
/* project_id and the payment object {id,type,status,method,sum} shared by status answers and
 * callbacks. Returns the payment object, or NULL on allocation failure. */
cJSON *pb__sbx_add_payment(cJSON *root, const pb__sbx *s, const pb__pay *p);
void pb__sbx_finish(pb__pay *p, const char *status, int code); /* set, send the callback */
void pb__sbx_outcome_timer(uv_timer_t *t);                     /* p->timer's callback */

#endif
