/*
 * sandbox_callback.c - POST a callback with libcurl on the libuv thread pool (see the header).
 */
#include "batch/sandbox_callback.h"

#include <curl/curl.h>
#include <unistd.h>

#include "batch/sandbox.h"
#include "core/alloc.h"
#include "core/errors.h"

typedef struct {
    uv_work_t w;
    char *url;
    char *body;
    char *then; /* NULL or a second body, sent after body */
    double scale;
    unsigned max_attempts;
    const atomic_int *stop;
    pb_sandbox_cb_done done;
    void *arg;
    int ok;
    long last_status;
} pb__cb;

static size_t discard(char *ptr, size_t size, size_t n, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * n;
}

/* Sleep ms in slices; 0 when *stop was raised meanwhile. */
static int cb_wait(const pb__cb *c, uint64_t ms)
{
    while (ms > 0 && !atomic_load(&*c->stop)) {
        uint64_t step = ms < 50 ? ms : 50;
        usleep((useconds_t)(step * 1000u));
        ms -= step;
    }
    return !atomic_load(&*c->stop);
}

/* POST body until acknowledged or out of attempts; 1 when acknowledged. */
static int cb_send(pb__cb *c, const char *body)
{
    unsigned attempt;
    int ok = 0;
    for (attempt = 1; attempt <= c->max_attempts && !ok; attempt++) {
        if (attempt > 1 && !cb_wait(c, pb_sandbox_cb_delay_ms(attempt, c->scale)))
            break; /* shutting down: no more attempts */
        CURL *h = curl_easy_init();
        struct curl_slist *hd = NULL;
        long st = 0;
        if (h == NULL)
            break;
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
    }
    return ok;
}

static void cb_work(uv_work_t *w)
{
    pb__cb *c = (pb__cb *)w->data;
    c->ok = cb_send(c, c->body);
    if (c->then != NULL && !cb_send(c, c->then))
        c->ok = 0;
}

static void cb_free(pb__cb *c)
{
    pb_free(c->url);
    pb_free(c->body);
    pb_free(c->then);
    pb_free(c);
}

static void cb_after(uv_work_t *w, int status)
{
    pb__cb *c = (pb__cb *)w->data;
    (void)status;
    c->done(c->arg, c->ok, c->last_status, c->url);
    cb_free(c);
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
    c->url = pb_strdup(url);
    c->body = pb_strdup(body);
    c->then = then != NULL ? pb_strdup(then) : NULL;
    c->scale = scale;
    c->max_attempts = max_attempts > 0 ? max_attempts : 1;
    c->stop = stop;
    c->done = done;
    c->arg = arg;
    c->w.data = c;
    if (c->url == NULL || c->body == NULL || (then != NULL && c->then == NULL)) {
        cb_free(c);
        return PB_ENOMEM;
    }
    if (uv_queue_work(loop, &c->w, cb_work, cb_after) != 0) {
        cb_free(c);
        return PB_ERROR;
    }
    return PB_OK;
}
