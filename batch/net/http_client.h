/*
 * http_client.h - HTTP POSTs with libcurl's multi interface, driven by the caller's libuv loop.
 *
 * One long-lived curl multi handle per client (its connection pool, DNS and TLS session
 * caches are shared by every request), sockets watched with uv_poll, curl's timer with one
 * uv_timer (engineering notes §1). Keep-alive reuse, HTTP/2 over TLS where the server offers
 * it, TLS verification always on, http/https only, no redirects, bounded timeouts.
 *
 * Every request ends in exactly one callback with exactly one of three outcomes:
 *   PB_HTTP_NOT_SENT   no byte of the request left this process: safe to send again.
 *   PB_HTTP_NO_ANSWER  the request (or part of it) may have reached the server, but no complete
 *                      answer came back (timeout, reset, closed, body over the cap): in doubt.
 *   PB_HTTP_ANSWERED   a complete answer: status, Retry-After, body.
 * The mapping from curl result codes to these outcomes lives only in http_client.c (table at
 * the top of that file). When in doubt the client says NO_ANSWER, never NOT_SENT.
 *
 * Resends: curl 7.88 silently re-sends a request when a *reused* keep-alive connection dies
 * before the first byte of the answer ("Connection died, retrying a fresh connect"), so one
 * post may reach the server twice. The client cannot prevent it; only the payment id (the same
 * id in both copies), Gate's 3041 "duplicate" answer and a status query keep that from paying
 * twice. Never treat 3041 as a failure.
 *
 * Threads: everything runs on the loop's thread. curl_global_init() must have been called
 * (once, by the program) before pb_http_client_new(); curl keeps its own allocator (we do not
 * call curl_global_init_mem: it is process-wide and would tie curl to our test hooks). The
 * client's own allocations go through core/alloc.h.
 *
 * Lifecycle (libuv style): pb_http_client_new() -> posts ... -> pb_http_client_close(cb):
 * requests still in flight are cancelled, each completes (callback called once, from inside
 * close, outcome NOT_SENT or NO_ANSWER as truthfully as can be known); then every handle is
 * closed and cb runs from the loop. Call pb_http_client_free() from cb or after it. Freeing an
 * open client is a bug (it is leaked rather than corrupting the loop).
 */
#ifndef PB_NET_HTTP_CLIENT_H
#define PB_NET_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct pb_http_client pb_http_client;

typedef enum {
    PB_HTTP_NOT_SENT = 1, /* failed before any byte of the request left: safe to retry */
    PB_HTTP_NO_ANSWER,    /* sent (maybe partly), no complete answer: in doubt */
    PB_HTTP_ANSWERED      /* complete answer */
} pb_http_outcome;

/* What a request came to. Only valid during the callback (copy what you keep). */
typedef struct {
    pb_http_outcome outcome;
    long status;            /* HTTP status of the answer (also set for NO_ANSWER when a status
                               line was seen before the failure, else 0) */
    int64_t retry_after_ms; /* Retry-After of an answer in ms (>= 0), or -1 when absent/bad */
    const char *body;       /* ANSWERED: the body, NUL-terminated, never NULL ("" when empty) */
    size_t body_len;        /* NO_ANSWER/NOT_SENT: body is "" and body_len 0 */
    int curl_code;          /* the CURLcode (0 = CURLE_OK); -1 cancelled by pb_http_client_close */
    const char *error;      /* "" or "<curl's text> (POST <url without query>)" */
    int reused;             /* 1: the request went over a reused connection */
    int fatal; /* NOT_SENT that no retry can fix: the server's certificate was refused (unknown
                  CA, another host name, expired...) or our CA file cannot be used */
} pb_http_result;

/* Called exactly once per successful pb_http_client_post. May call pb_http_client_post and
 * pb_http_client_close. Payload last. */
typedef void (*pb_http_client_cb)(const pb_http_result *res, void *payload);

typedef struct {
    unsigned max_host_connections; /* 0 -> 8: open connections per host:port (further requests
                                      wait inside curl; that wait counts against timeout_ms) */
    unsigned max_connects;         /* 0 -> 4 * max_host_connections: idle pool size */
    long connect_timeout_ms;       /* 0 -> 5000: TCP + TLS handshake */
    long timeout_ms;               /* 0 -> 30000: whole request, when post passes 0 */
    size_t max_body_bytes;         /* 0 -> 1 MiB: a longer answer body is NO_ANSWER */
    const char *ca_file;           /* NULL: the system's CA store; else a PEM bundle (copied) */
    const char *user_agent;        /* NULL -> "paybatch"; copied */
    /* The wall clock for Retry-After given as an HTTP-date: ms since the Unix epoch. NULL ->
     * CLOCK_REALTIME. Tests pin it. */
    int64_t (*now_unix_ms)(void *clock_arg);
    void *clock_arg;
} pb_http_client_opts;

typedef struct {
    uint64_t requests;        /* posts accepted */
    uint64_t completed;       /* callbacks made */
    uint64_t new_connections; /* connections curl had to open (CURLINFO_NUM_CONNECTS) */
    uint64_t reused;          /* requests that went over an already open connection */
    uint64_t not_sent, no_answer, answered;
    unsigned in_flight; /* posted, callback not yet made */
} pb_http_client_counters;

/* opts may be NULL (defaults). *out is owned by the caller: close, then free. */
int pb_http_client_new(pb_http_client **out, uv_loop_t *loop, const pb_http_client_opts *opts);

/*
 * POST body (len bytes, copied) to url (http:// or https://). headers: NULL or a NULL-terminated
 * array of complete header lines without CRLF ("Content-Type: application/json"), copied.
 * timeout_ms: the whole request including the time queued behind max_host_connections;
 * 0 -> opts.timeout_ms. On PB_OK cb is called exactly once, never from inside this call.
 * Returns PB_EINVAL (bad arguments, or the client is closing), PB_ENOMEM, PB_ERROR (curl
 * refused the request); then cb is never called.
 */
int pb_http_client_post(pb_http_client *c, const char *url, const char *const *headers,
                        const char *body, size_t len, long timeout_ms, pb_http_client_cb cb,
                        void *payload);

/* Cancel what is in flight (each callback runs before this returns, unless close is called
 * from inside a request callback: then right after that callback returns), close every
 * handle; cb(c, arg) runs from the loop when all are closed. cb may be NULL. A second close
 * is ignored. */
void pb_http_client_close(pb_http_client *c, void (*cb)(pb_http_client *, void *), void *arg);

/* Accepts NULL. Only after the close callback ran (an open client is leaked, not freed). */
void pb_http_client_free(pb_http_client *c);

void pb_http_client_counters_get(const pb_http_client *c, pb_http_client_counters *out);

/*
 * Parse a Retry-After value (RFC 9110 §10.2.3): delta-seconds ("120") or an HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT"; the obsolete RFC 850 and asctime forms too), relative to
 * now_unix_ms. A date in the past gives 0. Saturates at one day (an overflow guard; callers
 * apply their own cap). Surrounding blanks are ignored. PB_EPARSE when it is neither.
 */
int pb_http_retry_after_parse(const char *value, int64_t now_unix_ms, int64_t *out_ms);

#endif
