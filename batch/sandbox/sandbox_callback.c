/*
 * sandbox_callback.c - POST a callback with libcurl on the libuv thread pool (see the header).
 */
#include "batch/sandbox/sandbox_callback.h"

#include <curl/curl.h>
#include <stdint.h>

#include "batch/sandbox/sandbox.h"
#include "core/alloc.h"
#include "core/errors.h"

typedef struct {
    uv_work_t w;
    uv_timer_t t;
    uv_loop_t *loop;
    char *url;
    char *body;
    char *then; /* NULL or a second body, sent after body */
    double scale;
    unsigned max_attempts;
    const atomic_int *stop;
    pb_sandbox_cb_done done;
    void *arg;
    int phase; /* 0: body, 1: then */
    unsigned attempt;
    uint64_t wait_left;
    int attempt_ok; /* written by the pool thread, read after the work completed */
    int ok;
    long last_status;
} pb__cb;

static size_t discard(char *ptr, size_t size, size_t n, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * n;
}

/* One POST, on a pool thread; 1 when answered 200. */
static int cb_post_once(pb__cb *c, const char *body)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hd = NULL;
    long st = 0;
    int ok = 0;
    if (h == NULL)
        return 0;
    hd = curl_slist_append(hd, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    if (curl_easy_perform(h) == CURLE_OK &&
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st) == CURLE_OK && st == 200)
        ok = 1;
    c->last_status = st;
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return ok;
}

static void cb_work(uv_work_t *w)
{
    pb__cb *c = (pb__cb *)w->data;
    c->attempt_ok = cb_post_once(c, c->phase == 0 ? c->body : c->then);
}

static void cb_free(pb__cb *c)
{
    pb_free(c->url);
    pb_free(c->body);
    pb_free(c->then);
    pb_free(c);
}

static void cb_closed(uv_handle_t *h)
{
    cb_free((pb__cb *)h->data);
}

static void cb_after(uv_work_t *w, int status);

static void cb_queue(pb__cb *c)
{
    if (uv_queue_work(c->loop, &c->w, cb_work, cb_after) != 0) {
        c->attempt_ok = 0;
        c->attempt = c->max_attempts; /* cannot run: end this body */
        cb_after(&c->w, UV_ECANCELED);
    }
}

static void cb_finish(pb__cb *c)
{
    c->done(c->arg, c->ok, c->last_status, c->url);
    uv_close((uv_handle_t *)&c->t, cb_closed);
}

/* One body is settled (acknowledged, out of attempts, or stopping). */
static void cb_phase_done(pb__cb *c, int ok)
{
    if (c->phase == 0) {
        c->ok = ok;
        if (c->then != NULL && !atomic_load(&*c->stop)) {
            c->phase = 1;
            c->attempt = 1;
            cb_queue(c);
            return;
        }
    } else if (!ok) {
        c->ok = 0;
    }
    cb_finish(c);
}

/*
 * The wait between attempts runs on the loop, not in a pool thread, so an unacknowledged
 * callback occupies no thread while it waits; it wakes at least every 200 ms to notice stop.
 */
static void cb_timer(uv_timer_t *t)
{
    pb__cb *c = (pb__cb *)t->data;
    uint64_t step = c->wait_left < 200 ? c->wait_left : 200;
    c->wait_left -= step;
    if (atomic_load(&*c->stop)) {
        cb_phase_done(c, 0);
        return;
    }
    if (c->wait_left == 0) {
        cb_queue(c);
        return;
    }
    uv_timer_start(&c->t, cb_timer, c->wait_left < 200 ? c->wait_left : 200, 0);
}

static void cb_after(uv_work_t *w, int status)
{
    pb__cb *c = (pb__cb *)w->data;
    (void)status;
    if (c->attempt_ok) {
        cb_phase_done(c, 1);
        return;
    }
    c->attempt++;
    if (c->attempt > c->max_attempts || atomic_load(&*c->stop)) {
        cb_phase_done(c, 0);
        return;
    }
    c->wait_left = pb_sandbox_cb_delay_ms(c->attempt, c->scale);
    /* the timer callback subtracts its step: arm it with the first step */
    uv_timer_start(&c->t, cb_timer, c->wait_left < 200 ? c->wait_left : 200, 0);
}

int pb_sandbox_callback_post(uv_loop_t *loop, const char *url, const char *body, const char *then,
                             double scale, unsigned max_attempts, const atomic_int *stop,
                             pb_sandbox_cb_done done, void *arg)
{
    pb__cb *c;
    if (loop == NULL || url == NULL || body == NULL || stop == NULL || done == NULL)
        return PB_EINVAL;
    c = pb_calloc(1, sizeof(*c));
    if (c == NULL)
        return PB_ENOMEM;
    c->loop = loop;
    c->url = pb_strdup(url);
    c->body = pb_strdup(body);
    c->then = then != NULL ? pb_strdup(then) : NULL;
    c->scale = scale;
    c->max_attempts = max_attempts > 0 ? max_attempts : 1;
    c->stop = stop;
    c->done = done;
    c->arg = arg;
    c->attempt = 1;
    c->w.data = c;
    c->t.data = c;
    if (c->url == NULL || c->body == NULL || (then != NULL && c->then == NULL)) {
        cb_free(c);
        return PB_ENOMEM;
    }
    if (uv_timer_init(loop, &c->t) != 0) {
        cb_free(c);
        return PB_ERROR;
    }
    if (uv_queue_work(loop, &c->w, cb_work, cb_after) != 0) {
        uv_close((uv_handle_t *)&c->t, cb_closed);
        return PB_ERROR;
    }
    return PB_OK;
}
