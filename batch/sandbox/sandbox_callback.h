/*
 * sandbox_callback.h - the sandbox's callback sender: POSTs of JSON bodies, retried.
 *
 * One sender per sandbox run owns one pb_http_client (batch/net/http_client.h) on the
 * sandbox's loop, so attempts run concurrently on the loop and never wait on each other:
 * at most PB_SANDBOX_CB_MAX_HOST connections per receiver (host:port), at most
 * PB_SANDBOX_CB_MAX_INFLIGHT attempts in flight in all (more wait in a queue, in order).
 * Each attempt has 3 s in all (1 s to connect). A callback is retried until the answer is HTTP
 * 200, at most max_attempts times, waiting pb_sandbox_cb_delay_ms(n, scale) before attempt n
 * (Gate's schedule, sandbox.h; scale compresses it) on a loop timer. When `then` is non-NULL
 * it is POSTed the same way after body's attempts ended (strictly after: the sandbox's
 * out-of-order callback fault).
 *
 * done(arg, ok, last_http_status, url) runs on the loop when a callback's attempts end, also
 * when they are cut short by pb_sandbox_callbacks_close (then ok = 0); then the callback's
 * copies are freed. Close returns at once whatever the receivers do: in-flight attempts are
 * cancelled, waits are stopped. curl_global_init must have been called.
 */
#ifndef PB_SANDBOX_SANDBOX_CALLBACK_H
#define PB_SANDBOX_SANDBOX_CALLBACK_H

#include <uv.h>

#define PB_SANDBOX_CB_MAX_HOST     8
#define PB_SANDBOX_CB_MAX_INFLIGHT 128

typedef struct pb_sandbox_callbacks pb_sandbox_callbacks;

typedef void (*pb_sandbox_cb_done)(void *arg, int ok, long last_status, const char *url);

/* *out is owned by the caller: close, then free (after the loop ran the close through). */
int pb_sandbox_callbacks_new(pb_sandbox_callbacks **out, uv_loop_t *loop);

/* url, body and then (may be NULL) are copied. ok in done: every body was acknowledged.
 * Returns PB_OK, PB_ENOMEM, PB_EINVAL (also once closing), PB_ERROR; done is called only
 * after PB_OK, never from inside this call. */
int pb_sandbox_callbacks_post(pb_sandbox_callbacks *cs, const char *url, const char *body,
                              const char *then, double scale, unsigned max_attempts,
                              pb_sandbox_cb_done done, void *arg);

/* Stop: every pending callback ends now (done with ok = 0); the handles close through the
 * loop. A second call is ignored. */
void pb_sandbox_callbacks_close(pb_sandbox_callbacks *cs);

/* Accepts NULL. After close and after the loop ran until it had nothing left (an open sender
 * is leaked rather than freed under the loop). */
void pb_sandbox_callbacks_free(pb_sandbox_callbacks *cs);

#endif
