/*
 * validator_thread.c - opts.threads: the rows are checked on a second thread.
 *
 * The reading thread (feed, finish) reads and parses; each batch of records it fills is put
 * on a queue of PB_VALIDATOR__QUEUE batches, and the checking thread checks them in that order
 * with the code the single-threaded validator runs (validator_rows.c). The header and the
 * file's size hint are dealt with on the reading thread before the first batch is queued.
 * The checking thread, faster than the reader, would sleep after every batch and cost the
 * reader a wake-up each time (tens of microseconds on a virtual machine); it is woken only
 * once PB_VALIDATOR__WAKE_AT batches wait, or the last one, and then takes them all. Input that
 * trickles in (a pipe) leaves fewer batches waiting: the checker also looks every
 * PB__IDLE_MS, so their findings come out that late at most.
 */
#include "formats/validator_int.h"

#include "core/errors.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#define PB__IDLE_MS 20

static void *pb__checker(void *arg)
{
    pb_validator *v = arg;
    int draining = 0; /* woken: take every batch there is before sleeping again */
    for (;;) {
        pb_validator__batch *b;
        int end;
        pthread_mutex_lock(&v->mu);
        while (v->q_count == 0 || (!draining && v->q_count < PB_VALIDATOR__WAKE_AT && !v->q_last)) {
            struct timespec ts;
            (void)clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += PB__IDLE_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            if (pthread_cond_timedwait(&v->cv_items, &v->mu, &ts) == ETIMEDOUT && v->q_count > 0)
                draining = 1; /* the input is slow: check what there is */
        }
        draining = 1;
        b = &v->q[v->q_tail];
        pthread_mutex_unlock(&v->mu);
        end = b->end;
        if (!v->fatal && !atomic_load(&v->quit))
            pb_validator__check_batch(v, b);
        pb_validator__batch_clear(b);
        if ((v->fatal && !atomic_load(&v->b_fatal)) || end) {
            snprintf(v->b_err, sizeof(v->b_err), "%s", pb_error_last());
            atomic_store(&v->b_fatal, v->fatal); /* after b_err: the reader sees both */
        }
        pthread_mutex_lock(&v->mu);
        v->q_tail = (v->q_tail + 1) % PB_VALIDATOR__QUEUE;
        v->q_count--;
        draining = v->q_count > 0;
        pthread_cond_signal(&v->cv_space);
        pthread_mutex_unlock(&v->mu);
        if (end)
            return NULL;
    }
}

int pb_validator__thread_start(pb_validator *v)
{
    if (pthread_mutex_init(&v->mu, NULL) != 0)
        return PB_ENOMEM;
    pthread_condattr_t ca;
    int bad;
    if (pthread_condattr_init(&ca) != 0) {
        pthread_mutex_destroy(&v->mu);
        return PB_ENOMEM;
    }
    /* the checker's timed wait counts on the monotonic clock (a clock step cannot stall it) */
    bad = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
          pthread_cond_init(&v->cv_items, &ca) != 0;
    pthread_condattr_destroy(&ca);
    if (bad || pthread_cond_init(&v->cv_space, NULL) != 0 ||
        pthread_create(&v->th, NULL, pb__checker, v) != 0) {
        /* a condition variable left initialised holds no resource on glibc */
        pthread_mutex_destroy(&v->mu);
        return PB_ENOMEM;
    }
    v->threaded = 1;
    return PB_OK;
}

int pb_validator__submit(pb_validator *v, int end)
{
    v->cur->end = end;
    pthread_mutex_lock(&v->mu);
    v->q_count++;
    v->q_last = end;
    if (end || v->q_count == PB_VALIDATOR__WAKE_AT)
        pthread_cond_signal(&v->cv_items);
    if (!end) {
        while (v->q_count == PB_VALIDATOR__QUEUE)
            pthread_cond_wait(&v->cv_space, &v->mu);
        v->cur = &v->q[(v->q_tail + v->q_count) % PB_VALIDATOR__QUEUE];
    } else {
        v->cur = NULL;
    }
    pthread_mutex_unlock(&v->mu);
    return atomic_load(&v->b_fatal);
}

void pb_validator__join(pb_validator *v)
{
    if (!v->threaded || v->joined)
        return;
    pb_validator__batch_clear(v->cur); /* records not handed over (a stop): never checked */
    (void)pb_validator__submit(v, 1);
    pthread_join(v->th, NULL);
    v->joined = 1;
}

void pb_validator__thread_free(pb_validator *v)
{
    if (!v->threaded)
        return;
    if (!v->joined) {
        atomic_store(&v->quit, 1);
        pb_validator__join(v); /* the checker skips what is left */
    }
    pthread_mutex_destroy(&v->mu);
    pthread_cond_destroy(&v->cv_items);
    pthread_cond_destroy(&v->cv_space);
}
