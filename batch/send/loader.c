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
#include <stddef.h>
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
    size_t chunk_rows; /* the size of the next chunk (pb_loader_next) */
    /* pb_loader_store's rows for the store, PB__SLICE at a time (used by one thread at a
     * time: the one that owns the store) */
    pb_store_row *slice;
};

/* Rows per pb_store_rows_add of a chunk (the send's store group holds the whole chunk; without
 * a group each slice is a transaction of its own: in order, so the stored rows stay a
 * prefix). */
#define PB__SLICE 128

void pb_loader_free(pb_loader *l)
{
    if (!l)
        return;
    pb_load__scan_free(&l->s);
    if (l->s.fd >= 0)
        close(l->s.fd);
    pb_free(l->piece);
    pb_free(l->pieces);
    pb_free(l->slice);
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
    l->chunk_rows = PB_LOAD_CHUNK / 2;
    l->piece = pb_malloc(PB_LOAD_PIECE);
    l->slice = pb_calloc(PB__SLICE, sizeof(*l->slice));
    if (!l->piece || !l->slice) {
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

/* The text fields of a pb_load_row, in the order of its text: the one list pb__text packs and
 * pb__wide unpacks. */
enum { PB__T_PAYMENT_ID, PB__T_METHOD, PB__T_CURRENCY, PB__T_ACCOUNT, PB__T_PAYEE, PB__T_COUNT };
static const struct {
    size_t off, cap;
} pb__texts[PB__T_COUNT] = {
    [PB__T_PAYMENT_ID] = {offsetof(pb_store_row, payment_id), PB_STORE_PAYMENT_ID_MAX},
    [PB__T_METHOD] = {offsetof(pb_store_row, method), PB_STORE_METHOD_MAX},
    [PB__T_CURRENCY] = {offsetof(pb_store_row, currency), PB_STORE_CURRENCY_MAX},
    [PB__T_ACCOUNT] = {offsetof(pb_store_row, account_masked), PB_STORE_ACCOUNT_MAX},
    [PB__T_PAYEE] = {offsetof(pb_store_row, payee_key), PB_STORE_SHA256_HEX},
};

/* The text fields of sr one after another, each ended by its NUL (pb_load_row.text). */
static char *pb__text(const pb_store_row *sr)
{
    size_t len[PB__T_COUNT], n = 0, i;
    char *t, *p;
    for (i = 0; i < PB__T_COUNT; i++)
        n += (len[i] = strlen((const char *)sr + pb__texts[i].off)) + 1;
    if (!(t = pb_malloc(n)))
        return NULL;
    for (p = t, i = 0; i < PB__T_COUNT; i++) {
        memcpy(p, (const char *)sr + pb__texts[i].off, len[i] + 1);
        p += len[i] + 1;
    }
    return t;
}

/* Text field k of a pb_load_row.text. */
static const char *pb__text_at(const char *text, int k)
{
    while (k-- > 0)
        text += strlen(text) + 1;
    return text;
}

/* The parsed rows (the scan's) move to the end of c, small: their cells and findings change
 * hands, the rest is copied into text. */
static int pb__take_rows(pb_loader *l, pb_load_chunk *c)
{
    size_t i;
    if (c->n + l->s.nrows > c->cap) {
        size_t cap = c->cap ? c->cap : l->chunk_rows;
        pb_load_row *more;
        while (cap < c->n + l->s.nrows)
            cap *= 2;
        if (!(more = pb_realloc(c->rows, cap * sizeof(*more))))
            return pb_error_set("%s: out of memory for a chunk of rows", l->o.path), PB_ENOMEM;
        c->rows = more;
        c->cap = cap;
    }
    for (i = 0; i < l->s.nrows; i++) {
        pb_store_row *sr = &l->s.rows[i];
        pb_load_row *lr = &c->rows[c->n];
        if (!(lr->text = pb__text(sr)))
            return pb_error_set("%s: out of memory for a chunk of rows", l->o.path), PB_ENOMEM;
        lr->row_no = sr->row_no;
        lr->state = sr->state;
        lr->amount = sr->amount;
        lr->cells = sr->cells;
        lr->cells_len = sr->cells_len;
        lr->findings = sr->findings;
        sr->cells = sr->findings = NULL;
        c->n++;
    }
    pb_store_rows_clear(l->s.rows, l->s.nrows);
    l->s.nrows = 0;
    return 0;
}

int pb_loader_next(pb_loader *l, pb_load_chunk **out, int *eof)
{
    pb_load_chunk *c = NULL;
    int rc = 0;

    *out = NULL;
    *eof = l->eof;
    if (!(c = pb_calloc(1, sizeof(*c))))
        return pb_error_set("%s: out of memory for a chunk of rows", l->o.path), PB_ENOMEM;
    while (!l->eof && c->n < l->chunk_rows) {
        size_t n;
        unsigned char d[PB_LOAD_DIGEST];
        if ((rc = pb_load__read_piece(l->s.fd, l->o.path, l->piece, &n)) < 0)
            goto out;
        if (n == 0) {
            if ((rc = pb__loader_end(l)) != 0)
                goto out;
        } else {
            /* not one byte of a piece that differs from the one checked reaches a row */
            pb_load__piece_digest(l->piece, n, d);
            if (l->next_piece >= l->npieces ||
                memcmp(d, l->pieces[l->next_piece], sizeof(d)) != 0) {
                rc = pb_error_set("%s changed while it was being sent (at byte %llu it differs "
                                  "from the file that was checked); sending stopped: put the "
                                  "checked file back and run the same command again",
                                  l->o.path, (unsigned long long)l->next_piece * PB_LOAD_PIECE);
                rc = PB_EPARSE;
                goto out;
            }
            l->next_piece++;
            rc = pb_validator_feed(l->s.v, l->piece, n);
            if (l->s.err) {
                rc = l->s.err;
                goto out;
            }
            if (rc != 0) {
                rc = rc < 0 ? rc : PB_ERROR;
                goto out;
            }
            if (pb_validator_file_failed(l->s.v) && (rc = pb__loader_end(l)) != 0)
                goto out;
        }
        /* after each piece: the scan's array stays the size of a piece's rows */
        if ((rc = pb__take_rows(l, c)) < 0)
            goto out;
    }
    *eof = l->eof;
    if (c->n) {
        *out = c;
        c = NULL;
        if (l->chunk_rows < PB_LOAD_CHUNK_MAX)
            l->chunk_rows *= 2;
    }
out:
    pb_load_chunk_free(c);
    return rc;
}

void pb_load_chunk_free(pb_load_chunk *c)
{
    size_t i;
    if (!c)
        return;
    for (i = 0; i < c->n; i++) {
        pb_free(c->rows[i].text);
        pb_free(c->rows[i].cells);
        pb_free(c->rows[i].findings);
    }
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
static int pb__refuse(pb_load_row *r, pb_finding_code why)
{
    r->state = PB_ROW_INVALID;
    pb_free(r->findings);
    r->findings = pb_strdup(pb_finding_name(why));
    return r->findings ? 0 : PB_ENOMEM;
}

/* lr as the store's row (text fields copied; cells and findings borrowed from lr). The fields
 * of an answer stay as calloc left them: a new row has none. */
static void pb__wide(const pb_load_row *lr, pb_store_row *sr)
{
    const char *p = lr->text;
    size_t k, len;
    sr->row_no = lr->row_no;
    sr->state = lr->state;
    sr->amount = lr->amount;
    sr->cells = lr->cells;
    sr->cells_len = lr->cells_len;
    sr->findings = lr->findings;
    /* each came from the field of the same size (pb__text): nothing is cut */
    for (k = 0; k < PB__T_COUNT; k++, p += len + 1) {
        len = strlen(p);
        pb_row_field_set((char *)sr + pb__texts[k].off, pb__texts[k].cap, p, len);
    }
}

int pb_loader_store(const pb_loader *l, pb_load_chunk *c)
{
    const pb_load_opts *o = &l->o;
    size_t i, k;
    int rc;

    for (i = 0; i < c->n; i++) {
        pb_load_row *r = &c->rows[i];
        const char *id, *payee;
        char *owner = NULL;
        unsigned hits = 0;
        if (r->state != PB_ROW_QUEUED)
            continue;
        /* the questions pb_load_store asks row by row, for the rows not stored yet */
        id = pb__text_at(r->text, PB__T_PAYMENT_ID);
        rc = pb_store_payment_id_owner(o->store, id, strlen(id), o->this_batch, &owner);
        pb_free(owner);
        if (rc == 0) {
            c->id_used++;
            if ((rc = pb__refuse(r, PB_F_PAYMENT_ID_USED)) < 0)
                return rc;
            continue;
        }
        if (rc != PB_ENOTFOUND)
            return rc;
        payee = pb__text_at(r->text, PB__T_PAYEE);
        if (!o->recent_on || !payee[0])
            continue;
        rc = pb_store_paid_recently(o->store, payee, o->this_batch, o->recent_since_ms,
                                    pb__count_hit, &hits);
        if (rc < 0)
            return rc;
        if (hits && o->strict_recent) {
            c->recent_refused++;
            if ((rc = pb__refuse(r, PB_F_PAID_RECENTLY)) < 0)
                return rc;
        }
    }
    /* in slices, inside the caller's transaction: in order, so the stored rows stay a prefix */
    for (i = 0; i < c->n; i += k) {
        k = c->n - i < PB__SLICE ? c->n - i : PB__SLICE;
        for (size_t j = 0; j < k; j++)
            pb__wide(&c->rows[i + j], &l->slice[j]);
        if ((rc = pb_store_rows_add(o->store, o->this_batch, l->slice, k)) < 0)
            return rc;
    }
    return 0;
}
