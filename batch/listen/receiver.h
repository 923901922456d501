/*
 * receiver.h - the callback receiver (SPEC §8): one pb_http_server handler that verifies a
 * Gate callback and records it durably before it answers 200. Used by `paybatch listen` and by
 * a driver that serves callbacks on its own loop (`send --callback-listen`): the receiver runs
 * on the caller's uv loop and owns no process-wide state (no signals, no exit).
 *
 * Answers (pb_receiver_handle):
 *   POST, valid signature, row found, state recorded (or nothing to change)  200 "OK"
 *   POST, valid signature, payment id unknown (or absent): kept in the inbox  200 "OK"
 *   POST, valid signature, amount/currency differ from the row: inbox only    200 "OK"
 *   POST, signature missing or wrong (top-level or general.signature)         400, no change
 *   POST, body not a strict JSON object                                      400
 *   body over the server's max_body_bytes                  413 (answered by pb_http_server)
 *   any other method                                              405 with "Allow: POST"
 *   more than max_pending callbacks waiting for the store, or closing  503 + Retry-After
 *   the store failed (busy, I/O): nothing answered 200, the sender retries               503
 * The path is not looked at. Parsing and the HMAC check run on the loop thread (bad traffic
 * never reaches the store); the row lookup, the decision (core/callback.h) and the writes run
 * on a libuv worker (uv_queue_work), in arrival order, every callback that waited for the
 * worker in one store group (one durable commit), and the answers are written from the
 * after-work callback, on the loop thread, only after the group committed.
 * Recording = pb_store_inbox_put (the raw body; matched = 1 when it matched a row and its
 * amount/currency) then pb_store_mark (compare-and-set; when a concurrent `send` moved the
 * row meanwhile, the row is read again and the decision made again), both in one store group
 * (one transaction): a crash keeps both or neither, and no 200 was sent before the commit.
 * A callback naming another project_id than opts.project_id (top level or general) is kept
 * in the inbox unmatched and changes no row (200: Gate need not send it again).
 *
 * Logs go to the log sink (batch/util/log.h) from the loop thread only: payment id, batch,
 * row, state change, masked account; never the secret or the body.
 *
 * Ownership: the receiver copies the secret (wiped on free). With opts.store_uri it opens
 * its OWN store handle (SQLite WAL lets it share the file with a `send`) that only its worker
 * uses; with opts.store it borrows the caller's handle, which nobody else may use while the
 * receiver has work in flight (pb_receiver_pending() == 0 means none). The http server stays
 * the caller's.
 *
 * Lifecycle on a caller's loop:
 *   pb_receiver_new(&r, loop, &opts);
 *   pb_http_server_new(&srv, loop, &limits, pb_receiver_handle, r);  (or route to it)
 *   pb_http_server_listen(srv, host, port);
 *   ... to stop: pb_http_server_close(srv, ...) and pb_receiver_close(r, cb, arg): new
 *   callbacks get 503, the ones already received are recorded (their answers go out if the
 *   connection still lives), then cb(r, arg) runs (possibly inside pb_receiver_close when
 *   nothing is in flight); pb_receiver_free(r) after cb (also from inside cb).
 */
#ifndef PB_LISTEN_RECEIVER_H
#define PB_LISTEN_RECEIVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "batch/net/http_server.h"
#include "batch/store/store.h"

typedef struct pb_receiver pb_receiver;

typedef struct {
    const char *store_uri; /* opened by the receiver (its own handle), or NULL ... */
    pb_store *store;       /* ... borrowed instead (see above); exactly one of the two */
    const char *secret;    /* the project's secret key, copied */
    size_t secret_len;
    int64_t project_id;     /* a callback naming another project_id changes no row; 0: unchecked */
    unsigned max_pending;   /* callbacks waiting for or in the store; 0 -> 1024 */
    unsigned retry_after_s; /* Retry-After of a 503; 0 -> 1 */
    int64_t (*now_ms)(void *clock); /* wall clock in ms (NULL: the system's) */
    void *clock;
} pb_receiver_opts;

/* What the receiver did since it was made (read on the loop thread). */
typedef struct {
    uint64_t received; /* requests handed to the handler */
    uint64_t bad_method;
    uint64_t not_json;
    uint64_t bad_signature;
    uint64_t busy;          /* 503: queue full, closing, or the store failed */
    uint64_t applied;       /* a row changed */
    uint64_t same;          /* duplicate: nothing to change */
    uint64_t stale;         /* out of order: older news than the row */
    uint64_t conflict;      /* another outcome than a final row's, or a row never sent */
    uint64_t mismatch;      /* amount or currency differs: inbox only */
    uint64_t unknown;       /* payment id unknown to the store: inbox only */
    uint64_t other_project; /* signed, but naming another project_id: inbox only */
    uint64_t store_errors;
} pb_receiver_stats;

/* *out is the caller's: close, then free. Opens the store when store_uri is given (PB_EIO,
 * PB_EINVAL ... with a message). */
int pb_receiver_new(pb_receiver **out, uv_loop_t *loop, const pb_receiver_opts *opts);

/* The pb_http_handler: ctx is the pb_receiver. */
void pb_receiver_handle(pb_http_exchange *ex, const pb_http_request *req, void *ctx);

/* Callbacks received and not yet answered (queued + the one in the store). */
size_t pb_receiver_pending(const pb_receiver *r);
void pb_receiver_get_stats(const pb_receiver *r, pb_receiver_stats *out);

/* Stop taking callbacks (503), finish recording the ones received, then cb(r, arg) on the
 * loop thread. A second call is ignored. cb may be NULL. */
void pb_receiver_close(pb_receiver *r, void (*cb)(pb_receiver *r, void *arg), void *arg);

/* Accepts NULL. After the close callback ran, or when nothing was ever received. Frees the
 * receiver's own store handle (not a borrowed one). */
void pb_receiver_free(pb_receiver *r);

#endif
