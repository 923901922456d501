/*
 * sandbox_callback.c - the sandbox's callbacks over batch/net/http_client on the loop (see the
 * header). Each callback is a job: an attempt in flight, queued for a slot, or waiting on its
 * timer for the next attempt. Everything runs on the loop thread.
 */
#include "batch/sandbox/sandbox_callback.h"

#include <stdint.h>
#include <string.h>

#include "batch/net/http_client.h"
#include "batch/sandbox/sandbox.h"
#include "core/alloc.h"
#include "core/errors.h"

typedef struct pb__cbjob pb__cbjob;

struct pb_sandbox_callbacks {
    uv_loop_t *loop;
    pb_http_client *http;
    pb__cbjob *jobs;          /* every job whose timer is not yet closed */
    pb__cbjob *qhead, *qtail; /* waiting for an in-flight slot */
    unsigned inflight;
    int closing;
    int http_closed;
};

struct pb__cbjob {
    pb_sandbox_callbacks *cs;
    pb__cbjob *prev, *next; /* cs->jobs */
    pb__cbjob *qnext;       /* cs->qhead queue */
    uv_timer_t t;
    char *url;
    char *body;
    char *then; /* NULL or a second body, sent after body */
    double scale;
    unsigned max_attempts;
    pb_sandbox_cb_done done;
    void *arg;
    int phase; /* 0: body, 1: then */
    unsigned attempt;
    int queued;
    int in_flight;
    int ended; /* done was called */
    int ok;
    long last_status;
};

static void pb__job_attempt(pb__cbjob *j);

static void pb__job_free(pb__cbjob *j)
{
    pb_free(j->url);
    pb_free(j->body);
    pb_free(j->then);
    pb_free(j);
}

static void pb__job_closed(uv_handle_t *h)
{
    pb__cbjob *j = h->data;
    pb_sandbox_callbacks *cs = j->cs;

    if (j->prev)
        j->prev->next = j->next;
    else
        cs->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    pb__job_free(j);
}

/* The job's attempts are over: report, then close its timer (which frees it). */
static void pb__job_end(pb__cbjob *j)
{
    if (j->ended)
        return;
    j->ended = 1;
    j->done(j->arg, j->ok, j->last_status, j->url);
    uv_close((uv_handle_t *)&j->t, pb__job_closed);
}

/* One body is settled (acknowledged, out of attempts, or stopping). */
static void pb__job_phase_done(pb__cbjob *j, int ok)
{
    if (j->phase == 0) {
        j->ok = ok;
        if (j->then != NULL && !j->cs->closing) {
            j->phase = 1;
            j->attempt = 1;
            pb__job_attempt(j);
            return;
        }
    } else if (!ok) {
        j->ok = 0;
    }
    pb__job_end(j);
}

static void pb__job_timer(uv_timer_t *t)
{
    pb__job_attempt(t->data);
}

/* An attempt failed: wait for the next one, or give up. */
static void pb__job_failed(pb__cbjob *j)
{
    uint64_t wait;

    j->attempt++;
    if (j->attempt > j->max_attempts || j->cs->closing) {
        pb__job_phase_done(j, 0);
        return;
    }
    wait = pb_sandbox_cb_delay_ms(j->attempt, j->scale);
    /* a 0 ms wait runs on the next loop iteration: no recursion through a failing post */
    (void)uv_timer_start(&j->t, pb__job_timer, wait, 0); /* fails only on a closing handle */
}

/* Start queued jobs while slots are free. */
static void pb__pump(pb_sandbox_callbacks *cs)
{
    while (!cs->closing && cs->qhead && cs->inflight < PB_SANDBOX_CB_MAX_INFLIGHT) {
        pb__cbjob *j = cs->qhead;
        cs->qhead = j->qnext;
        if (!cs->qhead)
            cs->qtail = NULL;
        j->qnext = NULL;
        j->queued = 0;
        pb__job_attempt(j);
    }
}

static void pb__on_answer(const pb_http_result *res, void *payload)
{
    pb__cbjob *j = payload;
    pb_sandbox_callbacks *cs = j->cs;

    j->in_flight = 0;
    cs->inflight--;
    j->last_status = res->status;
    if (res->outcome == PB_HTTP_ANSWERED && res->status == 200)
        pb__job_phase_done(j, 1);
    else
        pb__job_failed(j);
    pb__pump(cs);
}

static void pb__job_attempt(pb__cbjob *j)
{
    static const char *const hdrs[] = {"Content-Type: application/json", NULL};
    pb_sandbox_callbacks *cs = j->cs;
    const char *b = j->phase == 0 ? j->body : j->then;

    if (cs->closing) {
        pb__job_phase_done(j, 0);
        return;
    }
    if (cs->inflight >= PB_SANDBOX_CB_MAX_INFLIGHT) {
        j->queued = 1;
        if (cs->qtail)
            cs->qtail->qnext = j;
        else
            cs->qhead = j;
        cs->qtail = j;
        return;
    }
    if (pb_http_client_post(cs->http, j->url, hdrs, b, strlen(b), 3000, pb__on_answer, j) !=
        PB_OK) {
        j->last_status = 0;
        pb__job_failed(j); /* counts as an attempt: out of memory is not retried at once */
        return;
    }
    j->in_flight = 1;
    cs->inflight++;
}

int pb_sandbox_callbacks_new(pb_sandbox_callbacks **out, uv_loop_t *loop)
{
    pb_sandbox_callbacks *cs;
    pb_http_client_opts o = {0};
    int rc;

    if (out == NULL || loop == NULL)
        return PB_EINVAL;
    *out = NULL;
    cs = pb_calloc(1, sizeof(*cs));
    if (cs == NULL)
        return PB_ENOMEM;
    o.max_host_connections = PB_SANDBOX_CB_MAX_HOST;
    o.max_connects = PB_SANDBOX_CB_MAX_INFLIGHT;
    o.connect_timeout_ms = 1000;
    o.timeout_ms = 3000;
    o.user_agent = "paybatch-sandbox";
    rc = pb_http_client_new(&cs->http, loop, &o);
    if (rc != PB_OK) {
        pb_free(cs);
        return rc;
    }
    cs->loop = loop;
    *out = cs;
    return PB_OK;
}

int pb_sandbox_callbacks_post(pb_sandbox_callbacks *cs, const char *url, const char *body,
                              const char *then, double scale, unsigned max_attempts,
                              pb_sandbox_cb_done done, void *arg)
{
    pb__cbjob *j;

    if (cs == NULL || url == NULL || body == NULL || done == NULL || cs->closing)
        return PB_EINVAL;
    j = pb_calloc(1, sizeof(*j));
    if (j == NULL)
        return PB_ENOMEM;
    j->cs = cs;
    j->url = pb_strdup(url);
    j->body = pb_strdup(body);
    j->then = then != NULL ? pb_strdup(then) : NULL;
    j->scale = scale;
    j->max_attempts = max_attempts > 0 ? max_attempts : 1;
    j->done = done;
    j->arg = arg;
    j->attempt = 1;
    j->t.data = j;
    if (j->url == NULL || j->body == NULL || (then != NULL && j->then == NULL)) {
        pb__job_free(j);
        return PB_ENOMEM;
    }
    if (uv_timer_init(cs->loop, &j->t) != 0) {
        pb__job_free(j);
        return PB_ERROR;
    }
    j->next = cs->jobs;
    if (cs->jobs)
        cs->jobs->prev = j;
    cs->jobs = j;
    /* the first attempt starts from the loop (0 ms), so done never runs inside this call */
    (void)uv_timer_start(&j->t, pb__job_timer, 0, 0); /* fails only on a closing handle */
    return PB_OK;
}

static void pb__http_closed(pb_http_client *c, void *arg)
{
    pb_sandbox_callbacks *cs = arg;
    (void)c;
    cs->http_closed = 1;
}

void pb_sandbox_callbacks_close(pb_sandbox_callbacks *cs)
{
    pb__cbjob *j, *next;

    if (cs == NULL || cs->closing)
        return;
    cs->closing = 1;
    cs->qhead = cs->qtail = NULL; /* queued jobs end below like waiting ones */
    /* attempts in flight end through pb__on_answer (cancelled), which sees closing */
    pb_http_client_close(cs->http, pb__http_closed, cs);
    for (j = cs->jobs; j != NULL; j = next) {
        next = j->next; /* pb__job_end only closes; the unlink happens in the close callback */
        if (!j->ended && !j->in_flight) {
            (void)uv_timer_stop(&j->t); /* returns 0 always */
            pb__job_phase_done(j, 0);
        }
    }
}

void pb_sandbox_callbacks_free(pb_sandbox_callbacks *cs)
{
    if (cs == NULL)
        return;
    if (!cs->http_closed || cs->jobs != NULL)
        return; /* still open in the loop: leaking beats freeing under it */
    pb_http_client_free(cs->http);
    pb_free(cs);
}
