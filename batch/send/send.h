/*
 * send.h - the driver of `send`: core/engine on the libuv loop, with the state store and the
 * HTTP client (docs/SEND_DESIGN.md).
 *
 * The engine decides; this file only turns its commands into store calls and HTTP requests
 * and their results into events. Store calls are synchronous (each commits before it
 * returns, so a request never leaves before its row's `sending` is durable). SIGINT/SIGTERM
 * stop dispatch: what is in flight finishes or becomes in doubt, then pb_send_run returns.
 *
 * Ownership: everything in pb_send_opts is borrowed for the call.
 */
#ifndef PB_SEND_SEND_H
#define PB_SEND_SEND_H

#include "batch/store/store.h"
#include "core/engine.h"
#include "core/validate.h"

#include <stdint.h>

/* The figures of a run so far (on_progress), plain values. */
typedef struct pb_send_progress {
    uint64_t sent;     /* payout requests */
    uint64_t accepted; /* rows accepted or settled in this run */
    uint64_t queries;  /* status queries (the engine's and the poller's) */
    int64_t elapsed_ms;
    int final; /* 1: the last call, when the run ends */
} pb_send_progress;

typedef struct {
    pb_store *store;
    uint64_t batch;
    const char *batch_name;
    const char *gate_url; /* base, without the endpoint path */
    int64_t project_id;
    const char *secret;
    size_t secret_len;
    const char *callback_url; /* or NULL */
    const char *ca_file;      /* or NULL */
    pb_validate_opts rules;   /* as when the rows were loaded (default method, conversion) */
    pb_engine_config engine;
    long timeout_ms;
    const char *store_uri;       /* the store's URI: the callback receiver opens its own handle */
    const char *callback_listen; /* HOST:PORT: receive result callbacks while running, or NULL */
    int64_t wait_ms; /* after dispatch, wait this long for final results (callbacks, then
                        status polling of accepted rows); 0: none */
    int poll_once;   /* reconcile: one full pass over the accepted rows even past wait_ms */
    /* called every progress_every_ms with the run's figures (the CLI draws or logs them; the
     * driver prints nothing for people); NULL: none */
    void (*on_progress)(const struct pb_send_progress *p, void *arg);
    void *progress_arg;
    unsigned progress_every_ms; /* 0: 5000 */
    int quiet;
    /* the rows still to be stored (batch/send/load.h), or NULL when the batch holds them all:
     * sending starts with the first stored chunk, and the engine (engine.loading, set by the
     * driver) does not finish before the last. A load that fails stops the run (PB_EPARSE for
     * a file changed since it was checked). */
    struct pb_loader *loader;
    /* Several workers on one batch (PostgreSQL, pb_store_lease_begin already called on store
     * with this id): the heartbeat and the shared rate (share.c); NULL: this process alone. */
    const char *worker;
    int64_t lease_ms;
} pb_send_opts;

typedef struct {
    pb_engine_done_reason reason;
    pb_engine_stats engine;
    uint64_t answered, not_sent, no_answer; /* HTTP outcomes */
    uint64_t accepted_now;                  /* rows accepted or better in this run */
    int stopped_by_signal;
    int file_failed; /* the run stopped because the file could not be read on, or changed */
    uint64_t polled; /* status queries for accepted rows during the wait */
} pb_send_result;

/* 0, or PB_EIO (the store failed: the run stopped, nothing left unclear in the store),
 * PB_ENOMEM, PB_ERROR, with a message. */
int pb_send_run(const pb_send_opts *o, pb_send_result *res);

#endif
