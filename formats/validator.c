/*
 * validator.c - the validator's API and its reading side (see validator_int.h for the files).
 *
 * The CSV reader runs in batch mode: records pile up in its buffers and every
 * PB_VALIDATOR__BATCH_ROWS records (and at the end of every feed) the validator takes them as
 * one batch, without copying, and has it checked: here, or on the checking thread.
 */
#include "formats/validator_int.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <stdio.h>
#include <string.h>

/* Re-read marks: one per 8 KiB of input, so a confirmation parses ~80 rows at most. */
#define PB__MARK_EVERY (8 * 1024)

void pb_validator__file_finding(pb_validator *v, const pb_finding *f)
{
    v->st.file_errors++;
    v->st.by_code[f->code]++;
    v->file_failed = 1;
    if (v->o.on_file_finding)
        v->o.on_file_finding(f, v->o.ctx);
}

static void pb__file_finding_cb(const pb_finding *f, void *ctx)
{
    pb_validator__file_finding(ctx, f);
}

void pb_validator__batch_clear(pb_validator__batch *b)
{
    pb_buf_clear(&b->bytes);
    pb_buf_clear(&b->lens);
    pb_buf_clear(&b->recs);
    b->reader_rc = 0;
    b->end = 0;
}

/*
 * Size both sets for the whole file: rows estimated from its size and the line ends of the first
 * chunk (or the rows read so far), +10%. One table each instead of a chain of growing ones
 * that every lookup probes. A low estimate only means more tables are added; a failed
 * allocation leaves the sets as they are.
 */
void pb_validator__size_sets(pb_validator *v, uint64_t lines, uint64_t bytes)
{
    uint64_t est;

    v->sized = 1;
    est = (uint64_t)((unsigned __int128)lines * v->o.size_hint / bytes);
    est += est / 10;
    if (est > UINT32_MAX)
        est = UINT32_MAX;
    (void)pb_dupset_reserve(v->ids, (size_t)est);
    (void)pb_dupset_reserve(v->payouts, (size_t)est);
}

/* The header record, on the reading side before any batch is checked. */
static int pb__header(pb_validator *v, const pb_csv_record *rec)
{
    unsigned errors = 0;

    v->st.header_seen = 1;
    v->header_row = rec->row;
    if (rec->bad_utf8_field >= 0) {
        pb_finding f;
        pb_finding_make(
            &f, PB_F_ENCODING, rec->row, NULL, 0,
            "the header row has bytes that are not UTF-8; save the file as UTF-8 (\"CSV "
            "UTF-8\" in Excel)");
        pb_validator__file_finding(v, &f);
        return PB_OK;
    }
    return pb_header_map_new(&v->map, rec->fields, rec->nfields, rec->row,
                             v->o.rules.default_method != NULL, pb__file_finding_cb, v, &errors);
}

/* Take the records the reader piled up into v->cur and have it checked when it holds any. */
static int pb__flush(pb_validator *v)
{
    pb_validator__batch *b = v->cur;
    int rc;

    if ((rc = pb_csv_reader_take(v->csv, &b->bytes, &b->lens)) < 0)
        return rc;
    v->next_first = v->next_boff = 0;
    if (b->recs.len == 0 && !b->reader_rc)
        return 0;
    b->lines = pb_csv_reader_rows(v->csv);
    b->fed = v->fed;
    if (v->threaded)
        return pb_validator__submit(v, 0);
    pb_validator__check_batch(v, b);
    pb_validator__batch_clear(b);
    return v->fatal;
}

/* The reader's callback: the header is read here, every other record joins the batch. */
static int pb__record(const pb_csv_record *rec, void *ctx)
{
    pb_validator *v = ctx;
    const pb_str *last = &rec->fields[rec->nfields - 1];
    pb_validator__qrec *q;
    int rc;

    if (!v->head_done) {
        v->head_done = 1;
        if ((rc = pb__header(v, rec)) < 0)
            return v->a_stop = rc;
        v->a_file_failed = v->file_failed;
        /* its cells are not a row: drop them */
        if ((rc = pb_csv_reader_take(v->csv, &v->cur->bytes, &v->cur->lens)) < 0)
            return v->a_stop = rc;
        pb_validator__batch_clear(v->cur);
        v->next_first = v->next_boff = 0;
        return 0;
    }
    /* filled in place: a struct built on the stack and copied stalled on store forwarding */
    if ((rc = pb_buf_reserve(&v->cur->recs, sizeof(*q))) < 0)
        return v->a_stop = rc;
    q = (pb_validator__qrec *)(void *)(v->cur->recs.ptr + v->cur->recs.len);
    q->row = rec->row;
    q->nfields = rec->nfields;
    q->first = v->next_first;
    q->boff = v->next_boff;
    q->bad_utf8_field = rec->bad_utf8_field;
    v->cur->recs.len += sizeof(*q);
    v->next_first += rec->nfields;
    v->next_boff += (size_t)(last->ptr + last->len + 1 - rec->fields[0].ptr);
    if (v->cur->recs.len == PB_VALIDATOR__BATCH_ROWS * sizeof(*q) && (rc = pb__flush(v)) != 0)
        return v->a_stop = rc;
    return 0;
}

int pb_validator_new(pb_validator **out, const pb_validator_opts *opts)
{
    pb_validator *v;
    pb_csv_opts co;
    size_t i;
    int rc;

    *out = NULL;
    v = pb_calloc(1, sizeof(*v));
    if (!v)
        return PB_ENOMEM;
    v->o = *opts;
    pb_buf_init(&v->spool, SIZE_MAX / 2);
    pb_buf_init(&v->blk.text, SIZE_MAX / 2);
    pb_buf_init(&v->blk.ents, SIZE_MAX / 2);
    for (i = 0; i < PB_VALIDATOR__QUEUE; i++) {
        pb_buf_init(&v->q[i].bytes, SIZE_MAX / 2);
        pb_buf_init(&v->q[i].lens, SIZE_MAX / 2);
        pb_buf_init(&v->q[i].recs, SIZE_MAX / 2);
    }
    for (i = 0; i < PB_VALIDATOR__AHEAD; i++) {
        pb_buf_init(&v->pend[i].found, SIZE_MAX / 2);
        pb_buf_init(&v->pend[i].pass, SIZE_MAX / 2);
    }
    v->cur = &v->q[0];
    memset(&co, 0, sizeof(co));
    co.delimiter = opts->delimiter;
    co.mark_every = opts->test_mark_every ? opts->test_mark_every : PB__MARK_EVERY;
    co.batch = 1;
    if ((rc = pb_csv_reader_new(&v->csv, &co, pb__record, v)) < 0 ||
        (rc = pb_dupset_new(&v->ids, opts->hash_key)) < 0 ||
        (rc = pb_dupset_new(&v->payouts, opts->hash_key)) < 0 ||
        (opts->threads && opts->read_at && (rc = pb_validator__thread_start(v)) < 0)) {
        pb_validator_free(v);
        return rc;
    }
    if (opts->test_hash_mask) {
        pb_dupset_weaken(v->ids, opts->test_hash_mask);
        pb_dupset_weaken(v->payouts, opts->test_hash_mask);
    }
    *out = v;
    return PB_OK;
}

/*
 * Returns rc. When the checking thread stopped, its message becomes this thread's (messages
 * are per thread; b_err is written before b_fatal).
 */
static int pb__checker_error(pb_validator *v, int rc)
{
    if (v->threaded && atomic_load(&v->b_fatal) != 0)
        pb_error_set("%s", v->b_err);
    return rc;
}

/* After the reader returned rc: hand over what it read; what feed/finish return. */
static int pb__after_read(pb_validator *v, int rc)
{
    if (v->a_stop) /* a callback (the header's, a batch's) or an allocation stopped it */
        return pb__checker_error(v, v->a_fatal = v->a_stop);
    if (rc == PB_ENOMEM)
        return v->a_fatal = rc;
    if (rc < 0) { /* a reader error: reported after the rows before it */
        v->cur->reader_rc = rc;
        v->cur->err_row = pb_csv_reader_error_row(v->csv);
        snprintf(v->cur->err, sizeof(v->cur->err), "%s", pb_csv_reader_error(v->csv));
        v->reader_stopped = 1;
        v->a_file_failed = 1;
    }
    if ((rc = pb__flush(v)) != 0)
        v->a_fatal = rc;
    if (v->threaded && !v->a_fatal)
        v->a_fatal = atomic_load(&v->b_fatal);
    return pb__checker_error(v, v->a_fatal);
}

int pb_validator_feed(pb_validator *v, const char *data, size_t len)
{
    int rc;

    if (v->a_fatal)
        return v->a_fatal;
    if (v->reader_stopped)
        return PB_OK; /* the reader stopped; nothing more can be read */
    if (v->fed == 0 && !v->sized && v->o.size_hint && len > 0) {
        /* the line ends of the first chunk size the sets before any key is in them: one
           table each, no small ones in front of it that every lookup would probe too */
        const char *p = data, *end = data + len;
        uint64_t lf = 0;
        while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
            lf++;
            p++;
        }
        if (lf >= PB_VALIDATOR__SIZE_AFTER || len >= v->o.size_hint)
            pb_validator__size_sets(v, lf + 1, len);
    }
    v->fed += len;
    if (!v->o.read_at && (rc = pb_buf_put(&v->spool, data, len)) < 0)
        return v->a_fatal = rc;
    return pb__after_read(v, pb_csv_reader_feed(v->csv, data, len));
}

int pb_validator_finish(pb_validator *v)
{
    if (!v->a_fatal && !v->reader_stopped)
        (void)pb__after_read(v, pb_csv_reader_finish(v->csv));
    if (v->threaded && !v->joined) {
        pb_validator__join(v);
        if (v->b_err[0])
            pb_error_set("%s", v->b_err);
    }
    if (v->a_fatal && !v->fatal)
        v->fatal = v->a_fatal;
    if (v->fatal)
        return v->fatal;
    v->st.delimiter = pb_csv_reader_delimiter(v->csv);
    v->st.had_bom = pb_csv_reader_had_bom(v->csv);
    v->st.blank = pb_csv_reader_rows(v->csv) - v->st.rows - (v->st.header_seen ? 1 : 0);
    if (!v->st.header_seen && !v->file_failed) {
        pb_finding f;
        pb_finding_make(&f, PB_F_NO_HEADER, 1, NULL, 0,
                        "the file is empty (no header row, only blank lines or a BOM); export the "
                        "sheet again with its header row");
        pb_validator__file_finding(v, &f);
    }
    return v->fatal;
}

const pb_validator_stats *pb_validator_get_stats(const pb_validator *v)
{
    return &v->st;
}

const pb_header_map *pb_validator_header(const pb_validator *v)
{
    return v->map;
}

char pb_validator_delimiter(const pb_validator *v)
{
    return pb_csv_reader_delimiter(v->csv);
}

int pb_validator_had_bom(const pb_validator *v)
{
    return pb_csv_reader_had_bom(v->csv);
}

int pb_validator_file_failed(const pb_validator *v)
{
    if (v->threaded && !v->joined)
        return v->a_file_failed; /* the checker's copy may be changing */
    return v->file_failed;
}

void pb_validator_free(pb_validator *v)
{
    size_t i;
    if (!v)
        return;
    pb_validator__thread_free(v);
    for (i = 0; i < PB_VALIDATOR__QUEUE; i++) {
        pb_buf_free(&v->q[i].bytes);
        pb_buf_free(&v->q[i].lens);
        pb_buf_free(&v->q[i].recs);
    }
    for (i = 0; i < PB_VALIDATOR__AHEAD; i++) {
        pb_buf_free(&v->pend[i].found);
        pb_free(v->pend[i].cells);
        pb_buf_free(&v->pend[i].pass);
    }
    pb_csv_reader_free(v->csv);
    pb_header_map_free(v->map);
    pb_dupset_free(v->ids);
    pb_dupset_free(v->payouts);
    pb_buf_free(&v->spool);
    pb_buf_free(&v->blk.text);
    pb_buf_free(&v->blk.ents);
    pb_free(v->rbuf);
    pb_free(v);
}
