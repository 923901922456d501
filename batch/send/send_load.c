/*
 * send_load.c - the streaming load of `send` (pb_send_opts.loader): the file's rows go into
 * the batch chunk by chunk while the first ones are already being sent.
 *
 * A thread of libuv's pool parses a chunk (pb_loader_next, up to PB_LOAD_CHUNK_MAX rows:
 * some 10 ms the loop does not wait for; one parse at a time), the store's thread asks its
 * questions and inserts it in the same group as the engine's claims and commits, so the
 * insert costs no fsync of its own and a claim sees the rows as soon as they are committed.
 * At most two chunks are with the store's thread at a time, and a chunk goes only while
 * fewer than PB__LOAD_AHEAD stored rows wait to be claimed: the file is read about as fast as
 * the rows are sent, and memory stays bounded whatever the file's size. Without that bound
 * the load ran as fast as the store took it, a chunk in every group, and the claims waited
 * behind it: bench_send, 100,000 rows, the first 3.5 s of the dispatch went at 4,000 to
 * 8,000 rows/s with the store's thread 90% busy, the rest at 14,000.
 */
#include "batch/send/send_int.h"

#include "batch/send/load.h"
#include "batch/util/log.h"
#include "core/errors.h"

#include <stdio.h>
#include <string.h>

#define PB__LOAD_OPS_MAX 2
/* a chunk at most (PB_LOAD_CHUNK_MAX): about a third of a second of sending at 12,000 rows/s */
#define PB__LOAD_AHEAD PB_LOAD_CHUNK_MAX

static void pb__added(pb__drv *d, int last)
{
    pb_engine_event ev;
    int rc;
    if (d->done || d->engine_done || d->load_last_fed)
        return;
    memset(&ev, 0, sizeof(ev));
    ev.type = PB_ENGINE_ROWS_ADDED;
    ev.now_ms = pb_send__now_ms();
    ev.u.added.last = last;
    if (last)
        d->load_last_fed = 1;
    if ((rc = pb_engine_feed(d->engine, &ev)) < 0)
        pb_send__fail(d, rc, "send engine");
}

static void pb__parse_work(uv_work_t *w)
{
    pb__drv *d = w->data;
    pb_error_clear();
    d->load_parse_rc = pb_loader_next(d->o->loader, &d->load_parsed, &d->load_parse_eof);
    if (d->load_parse_rc < 0)
        snprintf(d->load_err, sizeof(d->load_err), "%s", pb_error_last());
}

static void pb__parse_after(uv_work_t *w, int status)
{
    pb__drv *d = w->data;
    pb_load_chunk *c = d->load_parsed;
    pb__op *op;

    d->load_parsing = 0;
    d->load_parsed = NULL;
    if (d->done || d->engine_done || d->rc != 0) {
        pb_load_chunk_free(c); /* the run is over: the next one loads these rows */
        return;
    }
    if (status != 0 || d->load_parse_rc < 0) {
        pb_load_chunk_free(c);
        if (status != 0)
            pb_error_set("the file's rows were not read: %s", uv_strerror(status));
        else
            pb_error_set("%s", d->load_err);
        d->res->file_failed = 1;
        pb_send__fail(d, status != 0 ? PB_ERROR : d->load_parse_rc, "loading the file");
        pb_send__pump(d);
        return;
    }
    d->load_eof = d->load_parse_eof;
    if (c) {
        if (!(op = pb_send__op_new(d, PB__OP_LOAD, 0))) { /* it failed the run */
            pb_load_chunk_free(c);
            pb_send__pump(d);
            return;
        }
        op->chunk = c;
        d->load_ops++;
        d->load_ahead += (int64_t)c->n; /* the invalid ones come off in pb_send__load_done */
        d->pumping++;
        pb_send__op_submit(d, op);
        d->pumping--;
    }
    pb_send__pump(d); /* the next chunk, the end of the load, what the engine asks */
}

void pb_send__load_more(pb__drv *d)
{
    int rc;
    if (d->o->loader && !d->load_eof && !d->load_parsing && d->load_ops < PB__LOAD_OPS_MAX &&
        d->load_ahead < PB__LOAD_AHEAD && !d->done && !d->engine_done && d->rc == 0) {
        d->load_work.data = d;
        if ((rc = uv_queue_work(&d->loop, &d->load_work, pb__parse_work, pb__parse_after)) != 0) {
            pb_error_set("cannot queue the load of the file: %s", uv_strerror(rc));
            pb_send__fail(d, PB_ERROR, "loading the file");
            return;
        }
        d->load_parsing = 1;
    }
    if (d->o->loader && d->load_eof && !d->load_ops && !d->load_parsing)
        pb__added(d, 1);
}

int pb_send__load_run(pb__op *op)
{
    return pb_loader_store(op->d->o->loader, op->chunk);
}

void pb_send__load_claimed(pb__drv *d, size_t n, size_t max)
{
    /* short: no queued row is left in sight (others may have claimed ours: several workers,
     * or rows stored by an earlier run), so the count starts again and the load goes on */
    if (n < max)
        d->load_ahead = 0;
    else
        d->load_ahead -= (int64_t)n;
    /* a claim also takes rows this run did not load (an earlier run's, rows queued again):
     * never below 0, or the load would run unpaced until the next short claim */
    if (d->load_ahead < 0)
        d->load_ahead = 0;
}

void pb_send__load_done(pb__drv *d, pb__op *op)
{
    size_t i;
    d->load_ops--;
    for (i = 0; i < op->chunk->n; i++)
        d->load_ahead -= op->chunk->rows[i].state != PB_ROW_QUEUED;
    if (d->load_ahead < 0)
        d->load_ahead = 0;
    if (op->chunk->id_used || op->chunk->recent_refused)
        pb_log(PB_LOG_WARN, NULL,
               "%llu row(s) became invalid while the file was stored (payment id of another "
               "batch, or paid recently with --strict-recent)",
               (unsigned long long)(op->chunk->id_used + op->chunk->recent_refused));
    pb__added(d, d->load_eof && !d->load_ops);
}

void pb_send__load_free(pb__op *op)
{
    pb_load_chunk_free(op->chunk);
    op->chunk = NULL;
}
