/*
 * store_sqlite_read.c - the SQLite backend's reads (one row, walks, counts) and its inbox.
 */
#include "batch/store/store_sqlite_int.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <string.h>

static int pb__one_row(pb__sstore *ss, sqlite3_stmt *s, pb_store_row *row, const char *what)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        rc = pb__sq_read_row(ss, s, row, 1);
    else if (rc == SQLITE_DONE)
        rc = (pb_error_set("store %s: %s: no such row", ss->path, what), PB_ENOTFOUND);
    else
        rc = pb__sq_err(ss, rc, what);
    pb__sq_done(s);
    return rc;
}

int pb__sq_row_get(pb_store *st, uint64_t batch, uint32_t row_no, pb_store_row *row)
{
    pb__sstore *ss = (pb__sstore *)st;
    sqlite3_stmt *s = NULL;
    int rc = pb__sq_stmt(ss, PB__Q_ROW_GET, &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)batch);
    sqlite3_bind_int64(s, 2, row_no);
    return pb__one_row(ss, s, row, "reading a row");
}

int pb__sq_row_by_payment_id(pb_store *st, const char *id, size_t len, pb_store_row *row)
{
    pb__sstore *ss = (pb__sstore *)st;
    sqlite3_stmt *s = NULL;
    int rc = pb__sq_stmt(ss, PB__Q_ROW_BY_ID, &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, id, (int)len, SQLITE_STATIC);
    return pb__one_row(ss, s, row, "finding a payment id");
}

int pb__sq_rows_each(pb_store *st, uint64_t batch, pb_store_row_cb cb, void *payload)
{
    pb__sstore *ss = (pb__sstore *)st;
    sqlite3_stmt *s = NULL;
    pb_store_row row;
    int rc, step;
    if ((rc = pb__sq_batch_check(ss, batch)) < 0 ||
        (rc = pb__sq_walk_stmt(ss, PB__Q_ROWS_EACH, &s)) < 0)
        goto out;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)batch);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if ((rc = pb__sq_read_row(ss, s, &row, 0)) < 0 || (rc = cb(&row, payload)) != 0)
            goto out;
    }
    if (step != SQLITE_DONE)
        rc = pb__sq_err(ss, step, "reading rows");
out:
    sqlite3_finalize(s);
    return rc;
}

int pb__sq_counts(pb_store *st, uint64_t batch, pb_batch_counts *counts)
{
    pb__sstore *ss = (pb__sstore *)st;
    sqlite3_stmt *s = NULL;
    int rc, step;
    if ((rc = pb__sq_batch_check(ss, batch)) < 0 || (rc = pb__sq_stmt(ss, PB__Q_COUNTS, &s)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)batch);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *name = pb__sq_text(s, 0);
        pb_row_state state;
        if (pb_row_state_parse(name, strlen(name), &state) < 0) {
            pb_error_set("store %s: unknown state '%s'", ss->path, name);
            rc = PB_EPARSE;
            goto out;
        }
        rc = pb_batch_counts_add(counts, state, pb__sq_text(s, 1),
                                 (uint64_t)sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3));
        if (rc < 0)
            goto out;
    }
    if (step != SQLITE_DONE) {
        /* SQLite's sum() refuses to overflow 64 bits: report it as the range error it is */
        if (strstr(sqlite3_errmsg(ss->db), "integer overflow")) {
            pb_error_set("store %s: an amount sum overflows 64 bits", ss->path);
            rc = PB_ERANGE;
        } else {
            rc = pb__sq_err(ss, step, "counting rows");
        }
    }
out:
    pb__sq_done(s);
    return rc;
}

int pb__sq_batches_each(pb_store *st, pb_store_batch_cb cb, void *payload)
{
    pb__sstore *ss = (pb__sstore *)st;
    sqlite3_stmt *s = NULL;
    pb_batch_info bi;
    int rc, step;
    if ((rc = pb__sq_walk_stmt(ss, PB__Q_BATCH_ALL, &s)) < 0)
        goto out;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        pb__sq_read_batch(s, &bi, 0);
        if ((rc = cb(&bi, payload)) != 0)
            goto out;
    }
    if (step != SQLITE_DONE)
        rc = pb__sq_err(ss, step, "reading batches");
out:
    sqlite3_finalize(s);
    return rc;
}

int pb__sq_inbox_put(pb_store *st, const pb_store_inbox_rec *rec)
{
    pb__sstore *ss = (pb__sstore *)st;
    sqlite3_stmt *s = NULL;
    int rc = pb__sq_stmt(ss, PB__Q_INBOX_PUT, &s);
    if (rc < 0)
        return rc;
    /* one statement outside a transaction is its own committed transaction */
    sqlite3_bind_int64(s, 1, rec->received_at_ms);
    sqlite3_bind_blob(s, 2, rec->body ? rec->body : "", (int)rec->body_len, SQLITE_STATIC);
    if (rec->payment_id && *rec->payment_id)
        sqlite3_bind_text(s, 3, rec->payment_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, rec->matched ? 1 : 0);
    if (rec->matched) {
        sqlite3_bind_int64(s, 5, (sqlite3_int64)rec->batch);
        sqlite3_bind_int64(s, 6, rec->row_no);
    }
    rc = sqlite3_step(s);
    pb__sq_done(s);
    return rc == SQLITE_DONE ? PB_OK : pb__sq_err(ss, rc, "keeping a callback");
}

int pb__sq_inbox_each(pb_store *st, pb_store_inbox_cb cb, void *payload)
{
    pb__sstore *ss = (pb__sstore *)st;
    sqlite3_stmt *s = NULL;
    pb_store_inbox_rec r;
    int rc, step;
    if ((rc = pb__sq_walk_stmt(ss, PB__Q_INBOX_ALL, &s)) < 0)
        goto out;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        r.received_at_ms = sqlite3_column_int64(s, 0);
        r.body = sqlite3_column_blob(s, 1);
        r.body_len = (size_t)sqlite3_column_bytes(s, 1);
        r.payment_id = sqlite3_column_type(s, 2) == SQLITE_NULL ? NULL : pb__sq_text(s, 2);
        r.matched = sqlite3_column_int(s, 3);
        r.batch = (uint64_t)sqlite3_column_int64(s, 4);
        r.row_no = (uint32_t)sqlite3_column_int64(s, 5);
        if (!r.body)
            r.body = "";
        if ((rc = cb(&r, payload)) != 0)
            goto out;
    }
    if (step != SQLITE_DONE)
        rc = pb__sq_err(ss, step, "reading the inbox");
out:
    sqlite3_finalize(s);
    return rc;
}

int pb__sq_paid_recently(pb_store *st, const char *payee_key, uint64_t this_batch, int64_t since_ms,
                         pb_store_paid_cb cb, void *payload)
{
    pb__sstore *ss = (pb__sstore *)st;
    sqlite3_stmt *s = NULL;
    pb_store_paid_hit h;
    int rc, step, own = 0;
    /* asked once per row a load inserts: the cached statement (parsing it each time was a
     * fifth of a send's CPU), unless a callback is asking again from inside this walk */
    if ((rc = pb__sq_stmt(ss, PB__Q_PAID_RECENTLY, &s)) < 0)
        goto out;
    if (sqlite3_stmt_busy(s)) {
        s = NULL;
        own = 1;
        if ((rc = pb__sq_walk_stmt(ss, PB__Q_PAID_RECENTLY, &s)) < 0)
            goto out;
    }
    sqlite3_bind_text(s, 1, payee_key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)this_batch);
    sqlite3_bind_int64(s, 3, since_ms);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *state = pb__sq_text(s, 3);
        h.batch_name = pb__sq_text(s, 0);
        h.batch = (uint64_t)sqlite3_column_int64(s, 1);
        h.row_no = (uint32_t)sqlite3_column_int64(s, 2);
        if (pb_row_state_parse(state, strlen(state), &h.state) < 0) {
            pb_error_set("store %s: unknown state '%s'", ss->path, state);
            rc = PB_EPARSE;
            goto out;
        }
        h.payment_id = pb__sq_text(s, 4);
        h.at_ms = sqlite3_column_int64(s, 5);
        if ((rc = cb(&h, payload)) != 0)
            goto out;
    }
    if (step != SQLITE_DONE)
        rc = pb__sq_err(ss, step, "finding rows paid recently");
out:
    if (own)
        sqlite3_finalize(s);
    else if (s)
        pb__sq_done(s);
    return rc;
}
