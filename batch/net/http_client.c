/*
 * http_client.c - libcurl multi on the caller's libuv loop (see http_client.h).
 *
 * Shape of curl's docs/examples/multi-uv.c, with the fixes of engineering notes §1.2:
 *  - curl's timer callback only arms or stops one uv_timer; -1 stops it, 0 arms a 0 ms timer
 *    (fires on the next loop iteration): curl is never called from inside a curl callback;
 *  - a uv_poll status < 0 is passed to curl as CURL_CSELECT_ERR;
 *  - curl_multi_info_read is drained after every curl_multi_socket_action, unconditionally;
 *  - handles are added and removed only from libuv callbacks, post and close, never from a
 *    curl callback; one uv_poll per socket, found through curl_multi_assign; a REMOVE for a
 *    socket we never watched is ignored; poll handles are freed in their close callback;
 *  - close: completed transfers first, then cancel the rest, curl_multi_cleanup (which may
 *    still call the socket callback) while the socket contexts are alive, then close them.
 *
 * Outcome table (the only place curl codes become outcomes). "Bytes left" = curl reported
 * request bytes written to the connection (CURLINFO_HEADER_OUT/DATA_OUT through the debug
 * callback, which curl calls right after a successful send) or CURLINFO_REQUEST_SIZE > 0.
 *
 *   CURLE_OK                                            -> ANSWERED
 *   CURLE_WRITE_ERROR because the body passed the cap   -> NO_ANSWER (the answer we would act on
 *                                                          is incomplete; the request did go)
 *   no bytes left, and a code that only happens before -> NOT_SENT
 *     the request is written: COULDNT_RESOLVE_HOST/PROXY, COULDNT_CONNECT, SSL_CONNECT_ERROR,
 *     PEER_FAILED_VERIFICATION, SSL_CERTPROBLEM, SSL_CIPHER, SSL_CACERT_BADFILE, SSL_CRL_BADFILE,
 *     SSL_ISSUER_ERROR, SSL_PINNEDPUBKEYNOTMATCH, SSL_INVALIDCERTSTATUS, SSL_CLIENTCERT,
 *     SSL_ENGINE_*, UNSUPPORTED_PROTOCOL, URL_MALFORMAT, FAILED_INIT, NOT_BUILT_IN,
 *     INTERFACE_FAILED, BAD_FUNCTION_ARGUMENT
 *   no bytes left, and the transfer never reached the   -> NOT_SENT
 *     request stage (CURLINFO_PRETRANSFER_TIME_T == 0): e.g. OPERATION_TIMEDOUT while queued,
 *     resolving, connecting or in the TLS handshake; cancelled by close at that point
 *   everything else: OPERATION_TIMEDOUT after connect,  -> NO_ANSWER
 *     SEND_ERROR, RECV_ERROR, GOT_NOTHING, PARTIAL_FILE, HTTP2(_STREAM), out of memory while
 *     receiving, cancelled by close after the request stage, and any pre-send code once bytes
 *     had left (a reused connection died after the request went, curl's fresh reconnect then
 *     failed: the first copy may have arrived)
 */
#include "batch/net/http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"

#define PB__DEF_MAX_HOST      8u
#define PB__DEF_CONNECT_MS    5000L
#define PB__DEF_TIMEOUT_MS    30000L
#define PB__DEF_MAX_BODY      (1024u * 1024u)
#define PB__RETRY_AFTER_MAX_S 86400 /* one day: overflow guard, callers cap further */
#define PB__CANCELLED         (-1)

typedef struct pb__sock pb__sock;
typedef struct pb__req pb__req;

struct pb_http_client {
    uv_loop_t *loop;
    CURLM *multi; /* NULL once cleaned up */
    uv_timer_t timer;
    pb_http_client_opts o;
    char *ca_file;
    char *user_agent;
    pb__req *reqs;   /* in flight */
    pb__sock *socks; /* socket contexts not yet freed */
    pb_http_client_counters n;
    int dispatching;      /* inside a request callback */
    int closing;          /* close was called: no new requests, no more curl actions */
    int shutdown_pending; /* close was called from a request callback */
    int timer_closed;
    int finished;
    void (*close_cb)(pb_http_client *, void *);
    void *close_arg;
};

struct pb__sock {
    uv_poll_t poll;
    curl_socket_t fd;
    pb_http_client *c;
    pb__sock *prev, *next;
    int closing;
};

struct pb__req {
    pb_http_client *c;
    pb__req *prev, *next;
    CURL *easy;
    struct curl_slist *hdrs;
    char *where; /* "POST <url without userinfo, query, fragment>" */
    pb_buf body;
    int over_cap;
    curl_off_t bytes_out; /* request bytes curl reported written */
    pb_http_client_cb cb;
    void *payload;
    char errbuf[CURL_ERROR_SIZE];
    char msg[CURL_ERROR_SIZE + 512];
};

/* ---- helpers ------------------------------------------------------------------------- */

static int64_t pb__realtime_ms(void *arg)
{
    struct timespec ts;
    (void)arg;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0; /* cannot fail for CLOCK_REALTIME; 0 only makes dates look far away */
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "POST " + url without userinfo, query and fragment: safe to log (pb_malloc'd). */
static char *pb__where(const char *url)
{
    pb_buf b;
    const char *auth = strstr(url, "://");
    const char *end = url + strcspn(url, "?#");
    const char *host = url;
    char *out = NULL;

    if (auth && auth < end) {
        const char *at, *slash;
        auth += 3;
        slash = auth + strcspn(auth, "/?#");
        at = memchr(auth, '@', (size_t)(slash - auth));
        host = at ? at + 1 : auth;
    }
    pb_buf_init(&b, 16 + (size_t)(end - url));
    if (pb_buf_puts(&b, "POST ") == PB_OK &&
        (host == url || pb_buf_put(&b, url, (size_t)(auth - url)) == PB_OK) &&
        pb_buf_put(&b, host, (size_t)(end - host)) == PB_OK)
        out = pb_buf_detach(&b, NULL);
    pb_buf_free(&b);
    return out;
}

int pb_http_retry_after_parse(const char *value, int64_t now_unix_ms, int64_t *out_ms)
{
    const char *s, *e;
    char tmp[64];
    int64_t sec = 0;
    size_t n, i;
    int alpha = 0;
    time_t t;

    if (!value || !out_ms)
        return PB_EINVAL;
    s = value;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    n = (size_t)(e - s);
    if (n == 0)
        return PB_EPARSE;
    if (strspn(s, "0123456789") >= n) { /* delta-seconds */
        for (i = 0; i < n; i++) {
            sec = sec * 10 + (s[i] - '0');
            if (sec > PB__RETRY_AFTER_MAX_S)
                sec = PB__RETRY_AFTER_MAX_S; /* saturate: no overflow on long digit runs */
        }
        *out_ms = sec * 1000;
        return PB_OK;
    }
    /* HTTP-date: every form names the month; curl_getdate alone accepts bare numbers too */
    for (i = 0; i < n; i++)
        if ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z'))
            alpha = 1;
    if (!alpha || n >= sizeof(tmp))
        return PB_EPARSE;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    t = curl_getdate(tmp, NULL);
    if (t == (time_t)-1)
        return PB_EPARSE;
    if ((int64_t)t * 1000 <= now_unix_ms) {
        *out_ms = 0; /* a past date: curl 7.88's own CURLINFO_RETRY_AFTER went negative here */
        return PB_OK;
    }
    *out_ms = (int64_t)t * 1000 - now_unix_ms;
    if (*out_ms > (int64_t)PB__RETRY_AFTER_MAX_S * 1000)
        *out_ms = (int64_t)PB__RETRY_AFTER_MAX_S * 1000;
    return PB_OK;
}

/* ---- requests ------------------------------------------------------------------------ */

static void pb__req_free(pb__req *r)
{
    if (!r)
        return;
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->hdrs);
    pb_buf_free(&r->body);
    pb_free(r->where);
    pb_free(r);
}

static size_t pb__on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    pb__req *r = ud;
    size_t len = size * nmemb;
    int rc = pb_buf_put(&r->body, p, len);

    if (rc == PB_OK)
        return len;
    if (rc == PB_ELIMIT)
        r->over_cap = 1;
    return 0; /* not len: curl stops with CURLE_WRITE_ERROR */
}

/* curl calls this right after request bytes were written (VERBOSE on, no stderr output). */
static int pb__on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
    pb__req *r = ud;
    (void)h;
    (void)data;
    if (type == CURLINFO_HEADER_OUT || type == CURLINFO_DATA_OUT)
        r->bytes_out += (curl_off_t)size;
    return 0;
}

/* Codes curl only returns before it writes the request (see the table at the top). */
/* Verification failures: the same server gives the same certificate on every retry. */
static int pb__code_tls_refused(int code)
{
    switch (code) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return 1;
    default:
        return 0;
    }
}

static int pb__code_before_send(int code)
{
    switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_FAILED_INIT:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_INTERFACE_FAILED:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
        return 1;
    default:
        return 0;
    }
}

/* Fill res from the finished (or cancelled: code PB__CANCELLED) transfer. */
static void pb__classify(pb__req *r, int code, pb_http_result *res, long *new_conns)
{
    pb_http_client *c = r->c;
    long status = 0, reqsize = 0, nconn = 0;
    curl_off_t pretransfer = 0;
    struct curl_header *h = NULL;
    int sent;

    /* getinfo on a handle that has been added cannot fail for these; zeros stay if it does */
    (void)curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    (void)curl_easy_getinfo(r->easy, CURLINFO_REQUEST_SIZE, &reqsize);
    (void)curl_easy_getinfo(r->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
    (void)curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &nconn);
    sent = r->bytes_out > 0 || reqsize > 0;

    memset(res, 0, sizeof(*res));
    res->status = status;
    res->retry_after_ms = -1;
    res->body = "";
    res->curl_code = code;
    res->error = "";
    res->reused = pretransfer > 0 && nconn == 0;
    *new_conns = nconn;
    if (status > 0 &&
        curl_easy_header(r->easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK) {
        int64_t ms;
        int64_t now = c->o.now_unix_ms ? c->o.now_unix_ms(c->o.clock_arg) : pb__realtime_ms(NULL);
        if (pb_http_retry_after_parse(h->value, now, &ms) == PB_OK)
            res->retry_after_ms = ms;
    }

    if (code == CURLE_OK) {
        res->outcome = PB_HTTP_ANSWERED;
        res->body = pb_buf_cstr(&r->body);
        res->body_len = r->body.len;
        return;
    }
    if (code == CURLE_WRITE_ERROR && r->over_cap) {
        res->outcome = PB_HTTP_NO_ANSWER;
        snprintf(r->msg, sizeof(r->msg), "answer body over %zu bytes (%s)", r->body.max, r->where);
        res->error = r->msg;
        return;
    }
    if (!sent && (pretransfer == 0 || (code != PB__CANCELLED && pb__code_before_send(code))))
        res->outcome = PB_HTTP_NOT_SENT;
    else
        res->outcome = PB_HTTP_NO_ANSWER;
    res->fatal = res->outcome == PB_HTTP_NOT_SENT && pb__code_tls_refused(code);
    if (code == PB__CANCELLED)
        snprintf(r->msg, sizeof(r->msg), "cancelled: the client was closed (%s)", r->where);
    else
        snprintf(r->msg, sizeof(r->msg), "%s (%s)",
                 r->errbuf[0] ? r->errbuf : curl_easy_strerror((CURLcode)code), r->where);
    res->error = r->msg;
}

/* Remove r from curl and the list, make its one callback, free it. */
static void pb__finish(pb_http_client *c, pb__req *r, int code)
{
    pb_http_result res;
    long nconn = 0;

    pb__classify(r, code, &res, &nconn);
    /* Only fails for a handle that is not in the multi or from inside a curl callback; neither
     * can be the case here, and the easy handle is cleaned up either way. */
    (void)curl_multi_remove_handle(c->multi, r->easy);
    if (r->prev)
        r->prev->next = r->next;
    else
        c->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    c->n.completed++;
    c->n.in_flight--;
    c->n.new_connections += (uint64_t)(nconn > 0 ? nconn : 0);
    c->n.reused += (uint64_t)res.reused;
    if (res.outcome == PB_HTTP_ANSWERED)
        c->n.answered++;
    else if (res.outcome == PB_HTTP_NO_ANSWER)
        c->n.no_answer++;
    else
        c->n.not_sent++;
    c->dispatching++;
    r->cb(&res, r->payload);
    c->dispatching--;
    pb__req_free(r); /* after the callback: res.body points into r */
}

static void pb__shutdown(pb_http_client *c);

/* Deliver every finished transfer. Runs after every curl_multi_socket_action. */
static void pb__drain(pb_http_client *c)
{
    CURLMsg *m;
    int left;

    while (!c->closing && (m = curl_multi_info_read(c->multi, &left)) != NULL) {
        pb__req *r = NULL;
        CURL *easy = m->easy_handle;
        int code = (int)m->data.result;
        if (m->msg != CURLMSG_DONE)
            continue;
        /* m is not touched after this: remove_handle invalidates it */
        if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r) != CURLE_OK || !r)
            continue;
        pb__finish(c, r, code);
    }
    if (c->shutdown_pending && !c->dispatching) {
        c->shutdown_pending = 0;
        pb__shutdown(c);
    }
}

/* ---- sockets and the timer ----------------------------------------------------------- */

static void pb__maybe_finished(pb_http_client *c)
{
    if (c->closing && !c->multi && c->timer_closed && !c->socks && !c->finished) {
        c->finished = 1;
        if (c->close_cb)
            c->close_cb(c, c->close_arg);
    }
}

static void pb__sock_closed(uv_handle_t *h)
{
    pb__sock *k = h->data;
    pb_http_client *c = k->c;

    if (k->prev)
        k->prev->next = k->next;
    else
        c->socks = k->next;
    if (k->next)
        k->next->prev = k->prev;
    pb_free(k);
    pb__maybe_finished(c);
}

static void pb__sock_close(pb__sock *k)
{
    if (k->closing)
        return;
    k->closing = 1;
    /* uv_close stops the poll first; curl may close the fd right after we return */
    uv_close((uv_handle_t *)&k->poll, pb__sock_closed);
}

static void pb__on_poll(uv_poll_t *p, int status, int events)
{
    pb__sock *k = p->data;
    pb_http_client *c = k->c;
    int flags = 0, running = 0;

    if (c->closing || k->closing)
        return;
    if (status < 0) {
        flags = CURL_CSELECT_ERR; /* let curl find the error and REMOVE the socket */
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    /* A multi-level error (out of memory) leaves each transfer to its own timeout, which
     * then completes through the drain; transfer errors come through the drain too. */
    (void)curl_multi_socket_action(c->multi, k->fd, flags, &running);
    pb__drain(c); /* k may be closing now: not touched again */
}

static int pb__on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    pb_http_client *c = userp;
    pb__sock *k = socketp;
    int events = 0;
    (void)easy;

    if (what == CURL_POLL_REMOVE) {
        if (k) { /* else a socket we never watched (curl >= 8.13 admin handle): ignore */
            pb__sock_close(k);
            (void)curl_multi_assign(c->multi, s, NULL); /* curl drops the entry anyway */
        }
        return 0;
    }
    if (c->closing)
        return 0; /* curl_multi_cleanup announcing a connection it is about to close */
    if (!k) {
        k = pb_calloc(1, sizeof(*k));
        if (!k)
            return 0; /* unwatched socket: its transfer ends at its timeout (bounded) */
        if (uv_poll_init_socket(c->loop, &k->poll, s) != 0) {
            pb_free(k);
            return 0; /* same: ends at its timeout */
        }
        k->poll.data = k;
        k->fd = s;
        k->c = c;
        k->next = c->socks;
        if (c->socks)
            c->socks->prev = k;
        c->socks = k;
        if (curl_multi_assign(c->multi, s, k) != CURLM_OK) {
            pb__sock_close(k);
            return 0;
        }
    }
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    /* fails only for a closing handle, which k is not; the timeout still bounds the transfer */
    (void)uv_poll_start(&k->poll, events, pb__on_poll);
    return 0;
}

static void pb__on_timeout(uv_timer_t *t)
{
    pb_http_client *c = t->data;
    int running = 0;

    if (c->closing)
        return;
    (void)curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running); /* as above */
    pb__drain(c); /* always, also when running == 0: the last transfer may just have ended */
}

static int pb__on_timer_set(CURLM *m, long timeout_ms, void *userp)
{
    pb_http_client *c = userp;
    (void)m;

    if (c->closing) {
        if (!uv_is_closing((uv_handle_t *)&c->timer))
            (void)uv_timer_stop(&c->timer); /* returns 0 always */
        return 0;
    }
    if (timeout_ms < 0) {
        (void)uv_timer_stop(&c->timer);
        return 0;
    }
    /* 0 included: a 0 ms uv timer runs on the next loop iteration, never inside curl. Start
     * fails only on a closing handle, excluded above. */
    (void)uv_timer_start(&c->timer, pb__on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

static void pb__on_timer_closed(uv_handle_t *h)
{
    pb_http_client *c = h->data;
    c->timer_closed = 1;
    pb__maybe_finished(c);
}

/* ---- client -------------------------------------------------------------------------- */

int pb_http_client_new(pb_http_client **out, uv_loop_t *loop, const pb_http_client_opts *opts)
{
    pb_http_client *c = NULL;
    CURLMcode mc = CURLM_OK;
    int rc = PB_OK;

    if (!out || !loop)
        return PB_EINVAL;
    *out = NULL;
    c = pb_calloc(1, sizeof(*c));
    if (!c) {
        rc = PB_ENOMEM;
        goto out;
    }
    if (opts)
        c->o = *opts;
    if (!c->o.max_host_connections)
        c->o.max_host_connections = PB__DEF_MAX_HOST;
    if (!c->o.max_connects)
        c->o.max_connects = 4 * c->o.max_host_connections;
    if (c->o.connect_timeout_ms <= 0)
        c->o.connect_timeout_ms = PB__DEF_CONNECT_MS;
    if (c->o.timeout_ms <= 0)
        c->o.timeout_ms = PB__DEF_TIMEOUT_MS;
    if (!c->o.max_body_bytes)
        c->o.max_body_bytes = PB__DEF_MAX_BODY;
    c->ca_file = c->o.ca_file ? pb_strdup(c->o.ca_file) : NULL;
    c->user_agent = pb_strdup(c->o.user_agent ? c->o.user_agent : "paybatch");
    if ((c->o.ca_file && !c->ca_file) || !c->user_agent) {
        rc = PB_ENOMEM;
        goto out;
    }
    c->o.ca_file = c->ca_file;
    c->o.user_agent = c->user_agent;
    c->loop = loop;
    c->multi = curl_multi_init();
    if (!c->multi) {
        rc = pb_error_set("curl_multi_init failed");
        goto out;
    }
    mc = curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, pb__on_socket);
    if (mc == CURLM_OK)
        mc = curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    if (mc == CURLM_OK)
        mc = curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, pb__on_timer_set);
    if (mc == CURLM_OK)
        mc = curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    if (mc == CURLM_OK)
        mc = curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                               (long)c->o.max_host_connections);
    if (mc == CURLM_OK)
        mc = curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->o.max_connects);
    if (mc != CURLM_OK) {
        rc = pb_error_set("curl_multi_setopt: %s", curl_multi_strerror(mc));
        goto out;
    }
    /* last: once the timer is initialised the client can only go through close */
    if (uv_timer_init(loop, &c->timer) != 0) {
        rc = pb_error_set("uv_timer_init failed");
        goto out;
    }
    c->timer.data = c;
    *out = c;
    c = NULL;
out:
    if (c) {
        if (c->multi)
            (void)curl_multi_cleanup(c->multi); /* nothing added: cannot fail meaningfully */
        pb_free(c->ca_file);
        pb_free(c->user_agent);
        pb_free(c);
    }
    return rc;
}

#define PB__SET(opt, val)                                                                          \
    do {                                                                                           \
        if (e == CURLE_OK)                                                                         \
            e = curl_easy_setopt(r->easy, opt, val);                                               \
    } while (0)

int pb_http_client_post(pb_http_client *c, const char *url, const char *const *headers,
                        const char *body, size_t len, long timeout_ms, pb_http_client_cb cb,
                        void *payload)
{
    pb__req *r = NULL;
    CURLcode e = CURLE_OK;
    CURLMcode mc;
    size_t i;
    int rc = PB_OK;

    if (!c || !url || !cb || (!body && len) || timeout_ms < 0)
        return PB_EINVAL;
    if (c->closing) {
        pb_error_set("http client is closing");
        return PB_EINVAL;
    }
    r = pb_calloc(1, sizeof(*r));
    if (!r) {
        rc = PB_ENOMEM;
        goto out;
    }
    r->c = c;
    r->cb = cb;
    r->payload = payload;
    pb_buf_init(&r->body, c->o.max_body_bytes);
    r->where = pb__where(url);
    r->easy = curl_easy_init();
    if (!r->where || !r->easy) {
        rc = PB_ENOMEM;
        goto out;
    }
    for (i = 0; headers && headers[i]; i++) {
        struct curl_slist *n = curl_slist_append(r->hdrs, headers[i]);
        if (!n) {
            rc = PB_ENOMEM;
            goto out;
        }
        r->hdrs = n;
    }
    { /* no "Expect: 100-continue" (curl adds it for bodies over 1 MiB): it only adds delay */
        struct curl_slist *n = curl_slist_append(r->hdrs, "Expect:");
        if (!n) {
            rc = PB_ENOMEM;
            goto out;
        }
        r->hdrs = n;
    }
    PB__SET(CURLOPT_URL, url);
    PB__SET(CURLOPT_PRIVATE, (void *)r);
    PB__SET(CURLOPT_ERRORBUFFER, r->errbuf);
    PB__SET(CURLOPT_NOSIGNAL, 1L);
    PB__SET(CURLOPT_PROTOCOLS_STR, "http,https");
    PB__SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    PB__SET(CURLOPT_FOLLOWLOCATION, 0L); /* a POST is never replayed elsewhere */
    PB__SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* https may multiplex over HTTP/2: wait for that rather than open another connection */
    if (strncmp(url, "https://", 8) == 0)
        PB__SET(CURLOPT_PIPEWAIT, 1L);
    PB__SET(CURLOPT_SSL_VERIFYPEER, 1L); /* the defaults, stated: never turned off */
    PB__SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_file)
        PB__SET(CURLOPT_CAINFO, c->ca_file);
    PB__SET(CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_timeout_ms);
    PB__SET(CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : c->o.timeout_ms);
    PB__SET(CURLOPT_USERAGENT, c->user_agent);
    PB__SET(CURLOPT_HTTPHEADER, r->hdrs);
    PB__SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    PB__SET(CURLOPT_COPYPOSTFIELDS, body ? body : "");
    PB__SET(CURLOPT_WRITEFUNCTION, pb__on_write);
    PB__SET(CURLOPT_WRITEDATA, (void *)r);
    /* VERBOSE only feeds the debug callback (nothing is printed): it says when request bytes
     * were written, which decides NOT_SENT vs NO_ANSWER */
    PB__SET(CURLOPT_DEBUGFUNCTION, pb__on_debug);
    PB__SET(CURLOPT_DEBUGDATA, (void *)r);
    PB__SET(CURLOPT_VERBOSE, 1L);
    if (e != CURLE_OK) {
        rc = e == CURLE_OUT_OF_MEMORY ? PB_ENOMEM : PB_EINVAL;
        pb_error_set("curl_easy_setopt: %s (%s)", curl_easy_strerror(e), r->where);
        goto out;
    }
    mc = curl_multi_add_handle(c->multi, r->easy);
    if (mc != CURLM_OK) {
        rc = mc == CURLM_OUT_OF_MEMORY ? PB_ENOMEM : PB_ERROR;
        pb_error_set("curl_multi_add_handle: %s (%s)", curl_multi_strerror(mc), r->where);
        goto out;
    }
    r->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = r;
    c->reqs = r;
    c->n.requests++;
    c->n.in_flight++;
    r = NULL;
out:
    if (rc == PB_ENOMEM && r && r->where)
        pb_error_set("out of memory (%s)", r->where);
    pb__req_free(r);
    return rc;
}

static void pb__shutdown(pb_http_client *c)
{
    CURLMsg *m;
    int left;

    /* transfers that did complete are reported as they are, not as cancelled */
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        pb__req *r = NULL;
        CURL *easy = m->easy_handle;
        int code = (int)m->data.result;
        if (m->msg != CURLMSG_DONE)
            continue;
        if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r) == CURLE_OK && r)
            pb__finish(c, r, code);
    }
    while (c->reqs)
        pb__finish(c, c->reqs, PB__CANCELLED);
    /* may call the socket callback (REMOVE of pooled connections): contexts are still alive.
     * Its result is ignored: every easy handle is gone, there is nothing else to undo. */
    (void)curl_multi_cleanup(c->multi);
    c->multi = NULL;
    for (pb__sock *k = c->socks; k; k = k->next)
        pb__sock_close(k); /* sockets curl did not REMOVE */
    uv_close((uv_handle_t *)&c->timer, pb__on_timer_closed);
}

void pb_http_client_close(pb_http_client *c, void (*cb)(pb_http_client *, void *), void *arg)
{
    if (!c || c->closing)
        return;
    c->closing = 1;
    c->close_cb = cb;
    c->close_arg = arg;
    if (c->dispatching) { /* inside a request callback: pb__drain finishes the job */
        c->shutdown_pending = 1;
        return;
    }
    pb__shutdown(c);
}

void pb_http_client_free(pb_http_client *c)
{
    if (!c || !c->finished)
        return; /* an open client's handles are in the loop: leaking beats corrupting it */
    pb_free(c->ca_file);
    pb_free(c->user_agent);
    pb_free(c);
}

void pb_http_client_counters_get(const pb_http_client *c, pb_http_client_counters *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (c)
        *out = c->n;
}
