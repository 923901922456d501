/*
 * sandbox_callback.h - the sandbox's callback sender: one POST of a JSON body, retried.
 *
 * Each call queues a job on the libuv thread pool (uv_queue_work) that POSTs body to url with
 * a libcurl easy handle (3 s timeout, 1 s connect timeout, http/https only) until the answer
 * is HTTP 200, at most max_attempts times, waiting pb_sandbox_cb_delay_ms(n, scale) before
 * attempt n (Gate's schedule, sandbox.h; scale compresses it). Only the POST itself runs on
 * the pool; the waits are loop timers (waking every 200 ms to notice *stop), so callbacks
 * that wait for days occupy no thread. Once *stop is non-zero no further attempt starts.
 * When `then` is non-NULL it is POSTed the same way after body's attempts ended (strictly
 * after, in the same job: the sandbox's out-of-order callback fault).
 * done(arg, ok, last_http_status, url) runs on the loop thread when the job ends; then the
 * job (its copies of url and body) is freed. The loop must run until every job ended.
 * curl_global_init must have been called.
 */
#ifndef PB_SANDBOX_SANDBOX_CALLBACK_H
#define PB_SANDBOX_SANDBOX_CALLBACK_H

#include <stdatomic.h>
#include <uv.h>

typedef void (*pb_sandbox_cb_done)(void *arg, int ok, long last_status, const char *url);

/* url, body and then (may be NULL) are copied. stop is borrowed (must outlive the job).
 * ok in done: every body was acknowledged. Returns PB_OK, PB_ENOMEM, PB_EINVAL, PB_ERROR (the
 * loop refused the job); done is called only after PB_OK. */
int pb_sandbox_callback_post(uv_loop_t *loop, const char *url, const char *body, const char *then,
                             double scale, unsigned max_attempts, const atomic_int *stop,
                             pb_sandbox_cb_done done, void *arg);

#endif
