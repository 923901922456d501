#include "batch/send/result.h"

#include "batch/util/outfile.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "formats/result_csv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PB__MAX_CELLS 1024
#define PB__LINE_MAX  (4u * 1024u * 1024u)

typedef struct {
    pb_outfile *of;
    pb_buf line;
    char delimiter;
    int rc;
} pb__rw;

static int pb__row(const pb_store_row *row, void *payload)
{
    pb__rw *w = payload;
    pb_str cells[PB__MAX_CELLS];
    pb_result_row r;
    size_t n;
    int rc;

    if ((rc = pb_store_cells_unpack(row->cells, row->cells_len, cells, PB__MAX_CELLS, &n)) < 0)
        goto fail;
    memset(&r, 0, sizeof(r));
    r.state = row->state;
    r.attempts = row->attempts;
    r.gate_status = row->gate_status;
    r.code = row->code;
    r.message = row->message;
    r.request_id = row->request_id;
    r.operation_id = row->operation_id;
    r.provider_payment_id = row->provider_payment_id;
    r.findings = row->findings;
    r.updated_at_ms = row->updated_at_ms;
    pb_buf_clear(&w->line);
    if ((rc = pb_result_csv_row(&w->line, cells, n, &r, w->delimiter)) < 0)
        goto fail;
    if (fwrite(w->line.ptr, 1, w->line.len, w->of->f) != w->line.len) {
        rc = pb_error_set("cannot write %s: %s", w->of->path, strerror(errno));
        rc = PB_EIO;
        goto fail;
    }
    return 0;
fail:
    w->rc = rc;
    return 1;
}

int pb_result_write(pb_store *st, const char *batch_name, const char *path)
{
    pb_batch_info info;
    pb_outfile of;
    pb_str header[PB__MAX_CELLS];
    pb__rw w;
    size_t n;
    int rc;

    memset(&info, 0, sizeof(info));
    memset(&of, 0, sizeof(of));
    memset(&w, 0, sizeof(w));
    pb_buf_init(&w.line, PB__LINE_MAX);
    if ((rc = pb_store_batch_get(st, batch_name, &info)) < 0)
        goto out;
    if ((rc = pb_store_cells_unpack(info.header, info.header_len, header, PB__MAX_CELLS, &n)) < 0)
        goto out;
    if ((rc = pb_outfile_open(&of, path)) < 0)
        goto out;
    w.of = &of;
    w.delimiter = info.delimiter ? info.delimiter : ',';
    /* the input's BOM, so the file opens in the same spreadsheet the same way */
    if (info.had_bom && fwrite("\xEF\xBB\xBF", 1, 3, of.f) != 3) {
        rc = pb_error_set("cannot write %s: %s", path, strerror(errno));
        rc = PB_EIO;
        goto out;
    }
    if ((rc = pb_result_csv_header(&w.line, header, n, w.delimiter)) < 0)
        goto out;
    if (fwrite(w.line.ptr, 1, w.line.len, of.f) != w.line.len) {
        rc = pb_error_set("cannot write %s: %s", path, strerror(errno));
        rc = PB_EIO;
        goto out;
    }
    rc = pb_store_rows_each(st, info.id, pb__row, &w);
    if (w.rc < 0)
        rc = w.rc;
    if (rc < 0)
        goto out;
    rc = pb_outfile_commit(&of);
out:
    if (of.f)
        pb_outfile_abort(&of);
    pb_buf_free(&w.line);
    pb_batch_info_clear(&info);
    return rc;
}

/* The results of the result file (pb_result_name), in report order. */
static const char *const pb__results[PB_RESULT_COUNT] = {
    "success", "decline", "rejected", "reversed", "pending", "invalid", "not_sent"};

const char *pb_result_totals_name(size_t k)
{
    return k < PB_RESULT_COUNT ? pb__results[k] : "";
}

static int pb__totals_row(const pb_store_row *r, void *payload)
{
    pb_result_totals *t = payload;
    const char *name = pb_result_name(r->state, r->attempts);
    pb_result_currency_totals *c;
    size_t k, i;

    for (k = 0; k < PB_RESULT_COUNT && strcmp(pb__results[k], name) != 0; k++)
        ;
    if (k == PB_RESULT_COUNT)
        return pb_error_set("totals: result %s has no column", name), PB_ERROR;
    t->rows[k]++;
    if (!r->currency[0])
        return 0; /* an invalid row without a readable currency: counted in results only */
    for (i = 0; i < t->ncur && strcmp(t->cur[i].currency, r->currency) != 0; i++)
        ;
    if (i == t->ncur) {
        pb_result_currency_totals *n = pb_realloc(t->cur, (t->ncur + 1) * sizeof(*n));
        if (!n)
            return PB_ENOMEM;
        t->cur = n;
        memset(&n[i], 0, sizeof(n[i]));
        snprintf(n[i].currency, sizeof(n[i].currency), "%s", r->currency);
        t->ncur++;
    }
    c = &t->cur[i];
    c->rows[k]++;
    if (__builtin_add_overflow(c->amount[k], r->amount, &c->amount[k]))
        return pb_error_set("totals: the %s sum of %s overflows", name, r->currency), PB_ERANGE;
    if (r->state != PB_ROW_INVALID) {
        c->valid_rows++;
        if (__builtin_add_overflow(c->valid_amount, r->amount, &c->valid_amount))
            return pb_error_set("totals: the sum of valid %s rows overflows", r->currency),
                   PB_ERANGE;
    }
    return 0;
}

int pb_result_totals_get(pb_store *st, uint64_t batch, pb_result_totals *t)
{
    int rc;
    memset(t, 0, sizeof(*t));
    rc = pb_store_rows_each(st, batch, pb__totals_row, t);
    if (rc != 0) {
        pb_result_totals_clear(t);
        return rc < 0 ? rc : PB_ERROR;
    }
    return 0;
}

void pb_result_totals_clear(pb_result_totals *t)
{
    if (!t)
        return;
    pb_free(t->cur);
    memset(t, 0, sizeof(*t));
}
