/*
 * send_int.h - what the parts of the send driver share (send.c: the engine on the loop and
 * the store's worker; wait.c: the wait after dispatch, callbacks and polling). Internal.
 */
#ifndef PB_SEND_SEND_INT_H
#define PB_SEND_SEND_INT_H

#include "batch/net/http_client.h"
#include "batch/send/load.h"
#include "batch/send/prep.h"
#include "batch/send/send.h"
#include "core/buf.h"
#include "core/callback.h"
#include "core/ratelimit.h"
#include "formats/header_map.h"

#include <uv.h>

#define PB_SEND__PAGE 64

/* An accepted row the poller asks about. */
typedef struct {
    uint32_t row_no;
    int64_t amount;
    char currency[16];
    char payment_id[PB_ROW_ID_MAX + 1];
} pb__pollrow;

typedef struct {
    const pb_send_opts *o;
    uv_loop_t loop;
    uv_timer_t timer, progress;
    uv_signal_t sigint, sigterm;
    pb_http_client *http;
    pb_engine *engine;
    pb_header_map *map;
    size_t cap;
    pb__preps preps; /* claimed rows' bodies, by row number (prep.h) */
    pb_buf body;
    pb_send_result *res;
    int done;
    int rc; /* first fatal error */
    int64_t timer_at;
    struct pb__op *ops_head, *ops_tail; /* store work waiting for the worker */
    int op_running;
    int pumping; /* ops submitted meanwhile wait for the end of the pump (pb__pump) */
    int64_t started_ms;
    int engine_done; /* the engine said DONE: only the wait (callbacks, polling) may follow */
    /* the wait after dispatch (--wait, wait.c): callbacks, then polling of accepted rows */
    int waiting;
    int64_t wait_until;
    int64_t next_pass_at;
    uv_timer_t poll_timer;
    int poll_timer_init;
    pb_ratelimit prl;
    uint32_t cursor;
    pb__pollrow page[PB_SEND__PAGE];
    size_t page_n, page_pos;
    int list_out;
    int peek; /* the LIST out is the look at wait start (pb_send__wait_start) */
    unsigned polls_out;
    uint64_t polled;
    unsigned passes;        /* complete passes over the accepted rows */
    struct pb_share *share; /* several workers on one batch (share.c), or NULL */
    struct pb_receiver *rcv;
    struct pb_http_server *srv;
    int srv_open, rcv_open;
    /* the streaming load (opts.loader, send_load.c) */
    int load_eof;      /* the loader has handed out its last chunk */
    unsigned load_ops; /* chunks with the store's thread */
    int load_last_fed; /* the engine was told the load is over */
    /* queued rows stored by the load and not claimed yet, as far as this run knows (a claim
     * that comes back short sets it to 0: pb_send__load_claimed) */
    int64_t load_ahead;
    /* the next chunk is parsed on a thread of libuv's pool, off the loop (pb_loader_next
     * reads and validates thousands of rows); one at a time */
    uv_work_t load_work;
    int load_parsing;
    pb_load_chunk *load_parsed;
    int load_parse_rc, load_parse_eof;
    char load_err[512];
} pb__drv;

typedef struct {
    pb__drv *d;
    uint32_t row_no;
    int status_query;
} pb__req;

typedef enum {
    PB__OP_ROWS = 1, /* CLAIM or DUE */
    PB__OP_COMMIT,   /* the engine's COMMIT */
    PB__OP_BODY,     /* a payout body from the stored row */
    PB__OP_LIST,     /* a page of accepted rows (the wait) */
    PB__OP_MARK,     /* updates decided by the poller (owned by the op) */
    PB__OP_LOAD      /* a chunk of the file's rows into the batch (opts.loader) */
} pb__op_kind;

typedef struct pb__op {
    uv_work_t work;
    pb__drv *d;
    struct pb__op *next;
    pb__op_kind kind;
    int rc;
    char err[512];
    /* ROWS */
    int claim;
    int body_rc; /* a claim: building its rows' bodies failed (after the commit; err says) */
    size_t max, n;
    int64_t now_ms, next_at;
    pb_store_row *rows;
    pb_engine_row *erows;
    /* COMMIT, MARK */
    const pb_row_update *updates;
    size_t n_updates, applied;
    pb_row_update own[PB_CALLBACK_MAX_UPDATES]; /* MARK: the updates point here */
    /* BODY (one row), and the claimed rows' bodies (ROWS with claim, one per row) */
    uint32_t row_no;
    pb_buf body;
    const char *endpoint;
    pb__prep *preps;
    /* LOAD */
    struct pb_load_chunk *chunk;
} pb__op;

int64_t pb_send__now_ms(void);
void pb_send__fail(pb__drv *d, int rc, const char *what);
pb__op *pb_send__op_new(pb__drv *d, pb__op_kind kind, size_t max);
void pb_send__op_submit(pb__drv *d, pb__op *op);
void pb_send__log_updates(pb__drv *d, const pb_row_update *u, size_t n);
/* POST body to url with the driver's client; cb(payload) runs once unless this fails (then
 * the run fails with a message). */
int pb_send__post(pb__drv *d, const char *url, const pb_buf *body, pb_http_client_cb cb,
                  void *payload);
void pb_send__finish(pb__drv *d);
/* Run what the engine asks for now, then hand the store's thread what waits. */
void pb_send__pump(pb__drv *d);
/* pb_send__post without the shared rate (share.c releases held requests through it). */
int pb_send__post_now(pb__drv *d, const char *url, const char *body, size_t len,
                      pb_http_client_cb cb, void *payload);

/* share.c: several workers on one batch (o->worker set); each does nothing when d->share is
 * NULL. start opens the coordination handle; post holds a request until a rate slot;
 * throttled pauses every worker; close ends held requests as NOT_SENT; free after the loop. */
typedef struct pb_share pb_share;
int pb_send__share_start(pb__drv *d);
int pb_send__share_post(pb__drv *d, const char *url, const pb_buf *body, pb_http_client_cb cb,
                        void *payload);
void pb_send__share_throttled(pb__drv *d, int64_t retry_after_ms);
void pb_send__share_close(pb__drv *d);
void pb_send__share_free(pb__drv *d);

/* send_load.c: hand the store's thread the next chunks of the file (at most two out, and
 * only while fewer than a chunk of stored rows wait to be claimed), and tell the
 * engine when rows were added or the load is over. */
void pb_send__load_more(pb__drv *d);
/* A claim came back with n of the max rows it asked for. */
void pb_send__load_claimed(pb__drv *d, size_t n, size_t max);
int pb_send__load_run(pb__op *op);
void pb_send__load_done(pb__drv *d, pb__op *op);
void pb_send__load_free(pb__op *op);

/* wait.c */
int pb_send__callbacks_start(pb__drv *d);
void pb_send__callbacks_close(pb__drv *d);
void pb_send__callbacks_free(pb__drv *d);
void pb_send__wait_start(pb__drv *d);
void pb_send__wait_stop(pb__drv *d);
void pb_send__wait_listed(pb__drv *d, pb__op *op);

#endif
