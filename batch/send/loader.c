/*
 * loader.c - the store pass of load.c streamed for send (load.h: pb_loader_*): the loop parses
 * a chunk of rows at a time, the store's thread asks their questions and inserts them.
 */
#include "batch/send/load.h"
#include "batch/send/load_int.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The streaming loader (load.h): the store pass of pb_load_store, cut into chunks that the
 * send driver stores on the store's thread while earlier rows are already being sent. */
struct pb_loader {
    pb_load_opts o;
    pb_load__scan s;
    pb_load_result res;
    char *piece;
    unsigned char (*pieces)[PB_LOAD_DIGEST]; /* the check's, copied */
    size_t npieces, next_piece;
    int eof;
};

void pb_loader_free(pb_loader *l)
{
    if (!l)
        return;
    pb_load__scan_free(&l->s);
    if (l->s.fd >= 0)
        close(l->s.fd);
    pb_free(l->piece);
    pb_free(l->pieces);
    pb_load_result_clear(&l->res);
    pb_free(l);
}

int pb_loader_new(pb_loader **out, const pb_load_opts *o, uint64_t skip,
                  const pb_load_result *checked)
{
    pb_loader *l = pb_calloc(1, sizeof(*l));
    int rc;

    *out = NULL;
    if (!l)
        return PB_ENOMEM;
    l->o = *o;
    l->s.fd = -1;
    if (checked->npieces) {
        if (!(l->pieces = pb_malloc(checked->npieces * PB_LOAD_DIGEST))) {
            rc = PB_ENOMEM;
            goto out;
        }
        memcpy(l->pieces, checked->pieces, checked->npieces * PB_LOAD_DIGEST);
        l->npieces = checked->npieces;
    }
    if ((rc = pb_load__scan_init(&l->s, &l->o, 1, skip, &l->res)) < 0)
        goto out;
    l->s.deferred = 1;
    l->piece = pb_malloc(PB_LOAD_PIECE);
    if (!l->piece) {
        rc = PB_ENOMEM;
        goto out;
    }
    l->s.fd = open(o->path, O_RDONLY | O_CLOEXEC);
    if (l->s.fd < 0) {
        rc = pb_error_set("cannot read %s: %s", o->path, strerror(errno));
        rc = PB_EIO;
        goto out;
    }
    *out = l;
    l = NULL;
out:
    pb_loader_free(l);
    return rc;
}

/* The end of the file: it must come where the checked file's did (each piece before it was
 * compared already), before the validator's last row is let out; then that row. */
static int pb__loader_end(pb_loader *l)
{
    int rc;
    l->eof = 1;
    /* one piece fewer: cut short, perhaps in the middle of a row that must not go out */
    if (l->next_piece != l->npieces)
        return pb_error_set("%s changed while it was being sent (it ends at byte %llu, the file "
                            "that was checked was longer); sending stopped: put the checked "
                            "file back and run the same command again",
                            l->o.path, (unsigned long long)l->next_piece * PB_LOAD_PIECE),
               PB_EPARSE;
    if (pb_validator_file_failed(l->s.v))
        return pb_error_set("%s changed while it was being sent: it no longer reads as the file "
                            "that was checked; sending stopped",
                            l->o.path),
               PB_EPARSE;
    if ((rc = pb_validator_finish(l->s.v)) != 0 || (rc = l->s.err) != 0)
        return rc < 0 ? rc : PB_ERROR;
    return 0;
}

int pb_loader_next(pb_loader *l, pb_load_chunk **out, int *eof)
{
    pb_load_chunk *c = NULL;
    int rc = 0;

    *out = NULL;
    *eof = l->eof;
    while (!l->eof && l->s.nrows < PB_LOAD_CHUNK / 2) {
        size_t n;
        unsigned char d[PB_LOAD_DIGEST];
        if ((rc = pb_load__read_piece(l->s.fd, l->o.path, l->piece, &n)) < 0)
            return rc;
        if (n == 0) {
            if ((rc = pb__loader_end(l)) != 0)
                return rc;
            break;
        }
        /* not one byte of a piece that differs from the one checked reaches a row */
        pb_load__piece_digest(l->piece, n, d);
        if (l->next_piece >= l->npieces || memcmp(d, l->pieces[l->next_piece], sizeof(d)) != 0)
            return pb_error_set("%s changed while it was being sent (at byte %llu it differs "
                                "from the file that was checked); sending stopped: put the "
                                "checked file back and run the same command again",
                                l->o.path, (unsigned long long)l->next_piece * PB_LOAD_PIECE),
                   PB_EPARSE;
        l->next_piece++;
        rc = pb_validator_feed(l->s.v, l->piece, n);
        if (l->s.err)
            return l->s.err;
        if (rc != 0)
            return rc < 0 ? rc : PB_ERROR;
        if (pb_validator_file_failed(l->s.v))
            return pb__loader_end(l);
    }
    *eof = l->eof;
    if (!l->s.nrows)
        return 0;
    if (!(c = pb_calloc(1, sizeof(*c))))
        return PB_ENOMEM;
    /* the rows move to the chunk; the scan starts a fresh array */
    c->rows = l->s.rows;
    c->n = l->s.nrows;
    l->s.nrows = 0;
    l->s.rows_cap = PB_LOAD_CHUNK;
    if (!(l->s.rows = pb_calloc(PB_LOAD_CHUNK, sizeof(*l->s.rows)))) {
        l->s.rows_cap = 0;
        pb_load_chunk_free(c);
        return PB_ENOMEM;
    }
    *out = c;
    return 0;
}

void pb_load_chunk_free(pb_load_chunk *c)
{
    if (!c)
        return;
    pb_store_rows_clear(c->rows, c->n);
    pb_free(c->rows);
    pb_free(c);
}

static int pb__count_hit(const pb_store_paid_hit *h, void *payload)
{
    (void)h;
    ++*(unsigned *)payload;
    return 0;
}

/* A valid row that must not be sent after all: invalid, with the finding's name. */
static int pb__refuse(pb_store_row *r, pb_finding_code why)
{
    r->state = PB_ROW_INVALID;
    pb_free(r->findings);
    r->findings = pb_strdup(pb_finding_name(why));
    return r->findings ? 0 : PB_ENOMEM;
}

int pb_loader_store(const pb_loader *l, pb_load_chunk *c)
{
    const pb_load_opts *o = &l->o;
    size_t i;
    int rc;

    for (i = 0; i < c->n; i++) {
        pb_store_row *r = &c->rows[i];
        char *owner = NULL;
        unsigned hits = 0;
        if (r->state != PB_ROW_QUEUED)
            continue;
        /* the questions pb_load_store asks row by row, for the rows not stored yet */
        rc = pb_store_payment_id_owner(o->store, r->payment_id, strlen(r->payment_id),
                                       o->this_batch, &owner);
        pb_free(owner);
        if (rc == 0) {
            c->id_used++;
            if ((rc = pb__refuse(r, PB_F_PAYMENT_ID_USED)) < 0)
                return rc;
            continue;
        }
        if (rc != PB_ENOTFOUND)
            return rc;
        if (!o->recent_on || !r->payee_key[0])
            continue;
        rc = pb_store_paid_recently(o->store, r->payee_key, o->this_batch, o->recent_since_ms,
                                    pb__count_hit, &hits);
        if (rc < 0)
            return rc;
        if (hits && o->strict_recent) {
            c->recent_refused++;
            if ((rc = pb__refuse(r, PB_F_PAID_RECENTLY)) < 0)
                return rc;
        }
    }
    return pb_store_rows_add(o->store, o->this_batch, c->rows, c->n);
}
