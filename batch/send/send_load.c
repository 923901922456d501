/*
 * send_load.c - the streaming load of `send` (pb_send_opts.loader): the file's rows go into
 * the batch chunk by chunk while the first ones are already being sent.
 *
 * The loop parses a chunk (pb_loader_next: a few milliseconds), the store's thread asks its
 * questions and inserts it in the same group as the engine's claims and commits, so the
 * insert costs no fsync of its own and a claim sees the rows as soon as they are committed.
 * At most two chunks are with the store's thread at a time: the file is read about as fast
 * as the rows are sent, and memory stays bounded whatever the file's size.
 */
#include "batch/send/send_int.h"

#include "batch/send/load.h"
#include "batch/util/log.h"
#include "core/errors.h"

#include <string.h>

#define PB__LOAD_OPS_MAX 2

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

void pb_send__load_more(pb__drv *d)
{
    while (d->o->loader && !d->load_eof && d->load_ops < PB__LOAD_OPS_MAX && !d->done &&
           !d->engine_done && d->rc == 0) {
        pb_load_chunk *c = NULL;
        int eof = 0, rc = pb_loader_next(d->o->loader, &c, &eof);
        pb__op *op;
        if (rc < 0) {
            d->res->file_failed = 1;
            pb_send__fail(d, rc, "loading the file");
            return;
        }
        d->load_eof = eof;
        if (!c)
            continue;
        if (!(op = pb_send__op_new(d, PB__OP_LOAD, 0))) {
            pb_load_chunk_free(c);
            return;
        }
        op->chunk = c;
        d->load_ops++;
        pb_send__op_submit(d, op);
    }
    if (d->o->loader && d->load_eof && !d->load_ops)
        pb__added(d, 1);
}

int pb_send__load_run(pb__op *op)
{
    return pb_loader_store(op->d->o->loader, op->chunk);
}

void pb_send__load_done(pb__drv *d, pb__op *op)
{
    d->load_ops--;
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
