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

/* What a payment keeps of its request: strings sized to fit (they live in pb__pay's tail). */
typedef struct {
    const char *payment_id, *account, *callback_url;
    char currency[8];
    int64_t amount;
    int64_t project_id;
} pb__paydata;

typedef struct pb__pay {
    struct pb__sbx *sbx;
    uv_timer_t timer;
    int timer_init;
    pb__paydata p;
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
    char strs[]; /* payment_id, account, callback_url, NUL-terminated */
} pb__pay;

/*
 * The payment table: open addressing over a keyed hash (SipHash, formats/dupcheck.h, with a
 * random key per run), grown by doubling at half load, so crafted ids cannot pile up.
 */
typedef struct {
    uint64_t key[2];
    pb__pay **slot;
    uint64_t *hash;
    size_t cap; /* power of two, 0 before the first add */
    size_t n;
} pb__table;

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
    int ledger_fd; /* O_APPEND, -1 without --ledger */
    pb__table pays;
    size_t max_pay; /* o->max_payments or the default */
    uint64_t rng;
    uint64_t seq;
    pb_sandbox_summary sum; /* counters of the run, handed to the caller at the end */
    int stopping;
    pb_sandbox_callbacks *cbs; /* the callback sender (closed on stop) */
    pb__slow *slow;            /* held-back answers */
} pb__sbx;

/* sandbox.c: the payment table. add: PB_OK or PB_ENOMEM (id must not be there yet). */
pb__pay *pb__table_find(const pb__table *t, const char *id);
int pb__table_add(pb__table *t, pb__pay *p);
size_t pb__table_max_probe(const pb__table *t); /* longest probe sequence (tests) */
void pb__table_free(pb__table *t);              /* the slots only, not the payments */
/* A payment record sized to its strings (pb_free). NULL on allocation failure. */
pb__pay *pb__pay_new(const pb_sandbox_payout *in);

/* sandbox_notify.c */
uint64_t pb__sbx_rnd(pb__sbx *s);         /* the fault dice (xorshift64*) */
int pb__sbx_chance(pb__sbx *s, double p); /* 1 with probability p */
int pb__sbx_sign(pb__sbx *s, cJSON *j);   /* add the top-level signature */
/* The JSON builders return PB_OK, or PB_ENOMEM when any field could not be added (the object
 * is then incomplete and must not be sent). */
int pb__sbx_add_sum(cJSON *parent, const char *name, const pb__pay *p);
int pb__sbx_add_op(cJSON *op, const pb__pay *p, int rev); /* rev: the reversal operation */
/* project_id and the payment object {id,type,status,method,sum} shared by status answers and
 * callbacks. */
int pb__sbx_add_payment(cJSON *root, const pb__sbx *s, const pb__pay *p);
void pb__sbx_finish(pb__pay *p, const char *status, int code); /* set, send the callback */
void pb__sbx_outcome_timer(uv_timer_t *t);                     /* p->timer's callback */

#endif
