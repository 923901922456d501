/*
 * store_sqlite.c - the SQLite store backend (a file path).
 *
 * WAL with synchronous=FULL, so a commit survives a power loss, not only a crash; every write
 * is one BEGIN IMMEDIATE transaction, so a `send` and a `listen` can share the file (the
 * second writer waits up to the busy timeout). Statements are prepared once and cached.
 * Opening and the schema are in store_sqlite_open.c.
 */
#include "batch/store/store_sqlite_int.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <stdio.h>
#include <string.h>

/* A row is two records (schema 5): its state and answers in `rows`, rewritten at every
 * change, and what never changes after the insert (the CSV cells, the paid-recently key) in
 * `row_data`. LEFT JOIN: a row without its data (never written so) still shows, with no
 * cells, and cannot be sent. Queries on these name r.batch and r.row_no (both tables have
 * them). */
#define PB__ROWCOLS_FROM(idx)                                                                      \
    "SELECT r.batch, r.row_no, r.state, r.payment_id, r.method, r.amount, r.currency, "            \
    "r.account_masked, d.cells, r.findings, r.attempts, r.next_at_ms, r.code, r.message, "         \
    "r.gate_status, r.request_id, r.operation_id, r.provider_payment_id, r.updated_at_ms, "        \
    "r.reversed, d.payee_key FROM rows r " idx "LEFT JOIN row_data d ON d.batch = r.batch AND "    \
    "d.row_no = r.row_no "
#define PB__ROWCOLS PB__ROWCOLS_FROM("")
#define PB__BATCHCOLS                                                                              \
    "SELECT id, name, file_name, file_sha256, settings, header, delimiter, had_bom, "              \
    "created_at_ms, finished_at_ms, plan FROM batches "
/* Picks in row order name their index: with an index of next_at beside it (schema 2) SQLite's
 * planner took that one and sorted every queued row for each claim, O(rows) per pick. */
#define PB__PICK PB__ROWCOLS_FROM("INDEXED BY rows_pick ")
/* The partial unique index on payment ids is used only when a query repeats its condition.
 * A row can be paid exactly when it has no findings (rows_add stores findings, '' at least,
 * for an invalid row and none for any other): unlike `state <> 'invalid'`, that condition
 * never changes, so a row's state changes leave this index alone (bench_store: 13% less CPU
 * for claim + mark). */
#define PB__PAYABLE    "findings IS NULL AND payment_id <> ''"
#define PB__ID_INDEXED "payment_id = ?1 AND " PB__PAYABLE

static const char *const pb__sql[PB__Q_COUNT] = {
    [PB__Q_BEGIN] = "BEGIN IMMEDIATE",
    [PB__Q_COMMIT] = "COMMIT",
    [PB__Q_ROLLBACK] = "ROLLBACK",
    [PB__Q_SAVEPOINT] = "SAVEPOINT pb_op",
    [PB__Q_RELEASE] = "RELEASE pb_op",
    [PB__Q_ROLLBACK_TO] = "ROLLBACK TO pb_op",
    [PB__Q_BATCH_BY_NAME] = PB__BATCHCOLS "WHERE name = ?1",
    [PB__Q_BATCH_INSERT] = "INSERT INTO batches (name, file_name, file_sha256, settings, header, "
                           "delimiter, had_bom, created_at_ms, plan) VALUES (?1, ?2, ?3, ?4, ?5, "
                           "?6, ?7, ?8, ?9)",
    [PB__Q_BATCH_EXISTS] = "SELECT 1 FROM batches WHERE id = ?1",
    [PB__Q_BATCH_FINISH] = "UPDATE batches SET finished_at_ms = ?2 WHERE id = ?1",
    [PB__Q_BATCH_ALL] = PB__BATCHCOLS "ORDER BY id",
    [PB__Q_ROW_INSERT] =
        "INSERT INTO rows (batch, row_no, state, payment_id, method, amount, currency, "
        "account_masked, findings, attempts, next_at_ms, code, message, gate_status, "
        "request_id, operation_id, provider_payment_id, updated_at_ms, reversed) VALUES (?1, ?2, "
        "?3, ?4, ?5, ?6, ?7, ?8, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
    [PB__Q_DATA_INSERT] = "INSERT INTO row_data (batch, row_no, cells, payee_key) VALUES (?1, ?2, "
                          "?3, ?4)",
    [PB__Q_ID_OWNER] = "SELECT b.name FROM rows r JOIN batches b ON b.id = r.batch WHERE "
                       "r.payment_id = ?1 AND r.findings IS NULL AND r.payment_id <> '' AND "
                       "r.batch <> ?2 LIMIT 1",
    [PB__Q_CLAIM_SELECT] = PB__PICK "WHERE r.batch = ?1 AND state = 'queued' AND next_at_ms <= "
                                    "?2 ORDER BY r.row_no LIMIT ?3",
    /* the selected rows are the first qualifying ones in row order, so the qualifying rows
     * between the first and the last selected are exactly those: one statement moves them */
    [PB__Q_CLAIM_UPDATE] =
        "UPDATE rows INDEXED BY rows_pick SET state = 'sending', attempts = attempts + 1 WHERE "
        "batch = ?1 AND state = 'queued' AND next_at_ms <= ?2 AND row_no "
        "BETWEEN ?3 AND ?4",
    [PB__Q_DUE] = PB__PICK "WHERE r.batch = ?1 AND state IN ('sending', 'in_doubt') AND "
                           "next_at_ms <= ?2 ORDER BY r.row_no LIMIT ?3",
    [PB__Q_MARK] = "UPDATE rows SET state = ?4, updated_at_ms = ?5, next_at_ms = ?6, attempts = "
                   "attempts + ?7, code = iif(?8 = '', code, ?8), message = iif(?9 = '', "
                   "message, ?9), gate_status = iif(?10 = '', gate_status, ?10), request_id = "
                   "iif(?11 = '', request_id, ?11), operation_id = iif(?12 = '', operation_id, "
                   "?12), provider_payment_id = iif(?13 = '', provider_payment_id, ?13), "
                   "reversed = iif(?4 = 'reversed', 1, reversed) WHERE batch = ?1 AND row_no = "
                   "?2 AND state = ?3",
    [PB__Q_ROW_GET] = PB__ROWCOLS "WHERE r.batch = ?1 AND r.row_no = ?2",
    [PB__Q_ROW_BY_ID] = PB__ROWCOLS "WHERE " PB__ID_INDEXED,
    [PB__Q_ROWS_EACH] = PB__ROWCOLS "WHERE r.batch = ?1 ORDER BY r.row_no",
    [PB__Q_COUNTS] = "SELECT state, currency, count(*), sum(amount) FROM rows WHERE batch = ?1 "
                     "GROUP BY state, currency",
    [PB__Q_INBOX_PUT] = "INSERT INTO inbox (received_at_ms, body, payment_id, matched, batch, "
                        "row_no) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    /* row_data_payee serves it (its key is PB__SQ_PAYEE_KEY, then the whole key is compared,
     * written `+d.payee_key` so that the planner searches the index: see the header);
     * accepted and success rows only: money that left or will */
    [PB__Q_PAID_RECENTLY] =
        "SELECT b.name, r.batch, r.row_no, r.state, r.payment_id, r.updated_at_ms FROM row_data "
        "d JOIN rows r ON r.batch = d.batch AND r.row_no = d.row_no JOIN batches b ON b.id = "
        "r.batch WHERE " PB__SQ_PAYEE_KEY " = substr(?1, 1, 16) AND +d.payee_key = ?1 AND "
        "r.batch <> ?2 AND r.state IN ('accepted', 'success') AND r.updated_at_ms >= ?3 ORDER BY "
        "r.updated_at_ms DESC, r.batch, r.row_no",
    [PB__Q_INBOX_ALL] = "SELECT received_at_ms, body, payment_id, matched, batch, row_no FROM "
                        "inbox ORDER BY id",
    /* cached, not prepared (parsed) again each time. next_at reads rows_pick's entries of the
     * state (covering): send asks only when a claim or DUE came back short, when every row of
     * the state that was due is in hand, so it reads the few that wait (schema 2 kept an
     * index of next_at for this, which every state change had to update) */
    [PB__Q_NEXT_QUEUED] = "SELECT MIN(next_at_ms) FROM rows WHERE batch = ?1 AND state = "
                          "'queued' AND next_at_ms > ?2",
    [PB__Q_NEXT_PENDING] = "SELECT MIN(next_at_ms) FROM rows WHERE batch = ?1 AND state IN "
                           "('sending', 'in_doubt') AND next_at_ms > ?2",
    [PB__Q_LIST] = PB__PICK "WHERE r.batch = ?1 AND state = ?2 AND r.row_no > ?3 ORDER BY "
                            "r.row_no LIMIT ?4",
};

const char *pb__sq_sql(int q)
{
    return q >= 0 && q < PB__Q_COUNT ? pb__sql[q] : NULL;
}

int pb__sq_err(pb__sstore *ss, int rc, const char *what)
{
    const char *msg = ss->db ? sqlite3_errmsg(ss->db) : sqlite3_errstr(rc);
    pb_error_set("store %s: %s: %s", ss->path, what, msg);
    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        return PB_ENOMEM;
    case SQLITE_CONSTRAINT:
        return PB_EEXISTS;
    default:
        return PB_EIO;
    }
}

int pb__sq_stmt(pb__sstore *ss, int q, sqlite3_stmt **out)
{
    int rc;
    if (!ss->stmt[q]) {
        rc = sqlite3_prepare_v3(ss->db, pb__sql[q], -1, SQLITE_PREPARE_PERSISTENT, &ss->stmt[q],
                                NULL);
        if (rc != SQLITE_OK)
            return pb__sq_err(ss, rc, "preparing a statement");
    }
    *out = ss->stmt[q];
    return PB_OK;
}

void pb__sq_done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* Run a statement that returns no row. */
static int pb__exec(pb__sstore *ss, int q, const char *what)
{
    sqlite3_stmt *s = NULL;
    int rc = pb__sq_stmt(ss, q, &s);
    if (rc < 0)
        return rc;
    rc = sqlite3_step(s);
    pb__sq_done(s);
    return rc == SQLITE_DONE ? PB_OK : pb__sq_err(ss, rc, what);
}

int pb__sq_begin(pb__sstore *ss)
{
    return pb__exec(ss, ss->group ? PB__Q_SAVEPOINT : PB__Q_BEGIN, "starting a transaction");
}

/* Ends the transaction: commits when rc == 0, else rolls back; returns the outcome. */
int pb__sq_end(pb__sstore *ss, int rc)
{
    if (ss->group) {
        /* one step of a group: the group's COMMIT makes it durable */
        if (rc == 0)
            return pb__exec(ss, PB__Q_RELEASE, "ending a step");
        sqlite3_stmt *s = NULL;
        /* keep the first error's message; ROLLBACK TO leaves the savepoint open: release it */
        if (pb__sq_stmt(ss, PB__Q_ROLLBACK_TO, &s) == 0) {
            sqlite3_step(s);
            pb__sq_done(s);
        }
        if (pb__sq_stmt(ss, PB__Q_RELEASE, &s) == 0) {
            sqlite3_step(s);
            pb__sq_done(s);
        }
        return rc;
    }
    if (rc == 0)
        rc = pb__exec(ss, PB__Q_COMMIT, "committing");
    if (rc < 0 && !sqlite3_get_autocommit(ss->db)) {
        sqlite3_stmt *s = NULL;
        /* keep the first error's message: the rollback's own errors change nothing */
        if (pb__sq_stmt(ss, PB__Q_ROLLBACK, &s) == 0) {
            sqlite3_step(s);
            pb__sq_done(s);
        }
    }
    return rc;
}

const char *pb__sq_text(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return t ? (const char *)t : "";
}

static void pb__set(char *dst, size_t cap, sqlite3_stmt *s, int col)
{
    const char *t = pb__sq_text(s, col);
    pb_row_field_set(dst, cap, t, (size_t)sqlite3_column_bytes(s, col));
}

/* Read the current result row (PB__ROWCOLS). own: copy cells and findings to the heap, else
 * borrow them from the statement (valid until it steps again). */
int pb__sq_read_row(pb__sstore *ss, sqlite3_stmt *s, pb_store_row *r, int own)
{
    const char *state = pb__sq_text(s, 2);
    const char *cells, *f;
    size_t cells_len;
    memset(r, 0, sizeof(*r));
    r->batch = (uint64_t)sqlite3_column_int64(s, 0);
    r->row_no = (uint32_t)sqlite3_column_int64(s, 1);
    if (pb_row_state_parse(state, strlen(state), &r->state) < 0) {
        pb_error_set("store %s: row %u has an unknown state '%s'", ss->path, r->row_no, state);
        return PB_EPARSE;
    }
    pb__set(r->payment_id, PB_STORE_PAYMENT_ID_MAX, s, 3);
    pb__set(r->method, PB_STORE_METHOD_MAX, s, 4);
    r->amount = sqlite3_column_int64(s, 5);
    pb__set(r->currency, PB_STORE_CURRENCY_MAX, s, 6);
    pb__set(r->account_masked, PB_STORE_ACCOUNT_MAX, s, 7);
    cells = sqlite3_column_blob(s, 8);
    cells_len = (size_t)sqlite3_column_bytes(s, 8);
    r->attempts = (uint32_t)sqlite3_column_int64(s, 10);
    r->next_at_ms = sqlite3_column_int64(s, 11);
    pb__set(r->code, PB_ROW_CODE_MAX, s, 12);
    pb__set(r->message, PB_ROW_MESSAGE_MAX, s, 13);
    pb__set(r->gate_status, PB_ROW_STATUS_MAX, s, 14);
    pb__set(r->request_id, PB_ROW_ID_MAX, s, 15);
    pb__set(r->operation_id, PB_ROW_ID_MAX, s, 16);
    pb__set(r->provider_payment_id, PB_ROW_ID_MAX, s, 17);
    r->updated_at_ms = sqlite3_column_int64(s, 18);
    r->reversed = sqlite3_column_int(s, 19);
    pb__set(r->payee_key, PB_STORE_SHA256_HEX, s, 20);
    /* '' is an invalid row's "no findings" (PB__PAYABLE): none, as it was given */
    f = sqlite3_column_bytes(s, 9) > 0 ? pb__sq_text(s, 9) : NULL;
    if (own) {
        int rc = pb_store_row_dup_heap(r, cells, cells_len, f);
        if (rc < 0)
            memset(r, 0, sizeof(*r));
        return rc;
    }
    r->cells = (char *)(cells ? cells : "");
    r->cells_len = cells_len;
    r->findings = (char *)f;
    return PB_OK;
}

int pb__sq_batch_check(pb__sstore *ss, uint64_t batch)
{
    sqlite3_stmt *s = NULL;
    int rc = pb__sq_stmt(ss, PB__Q_BATCH_EXISTS, &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)batch);
    rc = sqlite3_step(s);
    pb__sq_done(s);
    if (rc == SQLITE_ROW)
        return PB_OK;
    if (rc != SQLITE_DONE)
        return pb__sq_err(ss, rc, "finding a batch");
    pb_error_set("store %s: no batch %llu", ss->path, (unsigned long long)batch);
    return PB_ENOTFOUND;
}

static int pb__dup_col(sqlite3_stmt *s, int col, char **out)
{
    size_t n = (size_t)sqlite3_column_bytes(s, col);
    const void *p = sqlite3_column_blob(s, col);
    *out = pb_malloc(n + 1);
    if (!*out)
        return pb_error_set("store: out of memory"), PB_ENOMEM;
    if (n)
        memcpy(*out, p, n);
    (*out)[n] = '\0';
    return PB_OK;
}

int pb__sq_read_batch(sqlite3_stmt *s, pb_batch_info *bi, int own)
{
    int rc;
    memset(bi, 0, sizeof(*bi));
    bi->id = (uint64_t)sqlite3_column_int64(s, 0);
    pb_row_field_set(bi->file_sha256, PB_STORE_SHA256_HEX, pb__sq_text(s, 3),
                     (size_t)sqlite3_column_bytes(s, 3));
    bi->header_len = (size_t)sqlite3_column_bytes(s, 5);
    bi->delimiter = (char)sqlite3_column_int(s, 6);
    bi->had_bom = sqlite3_column_int(s, 7);
    bi->created_at_ms = sqlite3_column_int64(s, 8);
    bi->finished_at_ms = sqlite3_column_int64(s, 9);
    if (!own) {
        bi->name = (char *)pb__sq_text(s, 1);
        bi->file_name = (char *)pb__sq_text(s, 2);
        bi->settings = (char *)pb__sq_text(s, 4);
        bi->header = (char *)sqlite3_column_blob(s, 5);
        bi->plan = sqlite3_column_type(s, 10) == SQLITE_NULL ? NULL : (char *)pb__sq_text(s, 10);
        return PB_OK;
    }
    if ((rc = pb__dup_col(s, 1, &bi->name)) < 0 || (rc = pb__dup_col(s, 2, &bi->file_name)) < 0 ||
        (rc = pb__dup_col(s, 4, &bi->settings)) < 0 || (rc = pb__dup_col(s, 5, &bi->header)) < 0 ||
        (sqlite3_column_type(s, 10) != SQLITE_NULL && (rc = pb__dup_col(s, 10, &bi->plan)) < 0))
        pb_batch_info_clear(bi);
    return rc;
}

static int pb__batch_begin(pb_store *st, const pb_batch_key *key, pb_batch_info *info, int *created)
{
    pb__sstore *ss = (pb__sstore *)st;
    sqlite3_stmt *s = NULL;
    int rc, step;
    if ((rc = pb__sq_begin(ss)) < 0)
        return rc;
    if ((rc = pb__sq_stmt(ss, PB__Q_BATCH_BY_NAME, &s)) < 0)
        goto out;
    sqlite3_bind_text(s, 1, key->name, -1, SQLITE_STATIC);
    step = sqlite3_step(s);
    if (step == SQLITE_DONE) {
        sqlite3_stmt *ins = NULL;
        pb__sq_done(s);
        if ((rc = pb__sq_stmt(ss, PB__Q_BATCH_INSERT, &ins)) < 0)
            goto out;
        sqlite3_bind_text(ins, 1, key->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, key->file_name ? key->file_name : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, key->file_sha256, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, key->settings ? key->settings : "", -1, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 5, key->header ? key->header : "", (int)key->header_len,
                          SQLITE_STATIC);
        sqlite3_bind_int(ins, 6, (unsigned char)key->delimiter);
        sqlite3_bind_int(ins, 7, key->had_bom ? 1 : 0);
        sqlite3_bind_int64(ins, 8, key->created_at_ms);
        if (key->plan)
            sqlite3_bind_text(ins, 9, key->plan, -1, SQLITE_STATIC);
        step = sqlite3_step(ins);
        pb__sq_done(ins);
        if (step != SQLITE_DONE) {
            rc = pb__sq_err(ss, step, "creating a batch");
            goto out;
        }
        *created = 1;
        sqlite3_bind_text(s, 1, key->name, -1, SQLITE_STATIC);
        step = sqlite3_step(s);
    }
    if (step != SQLITE_ROW) {
        rc = pb__sq_err(ss, step, "finding a batch");
        goto out;
    }
    if (strcmp(pb__sq_text(s, 3), key->file_sha256) != 0) {
        pb_error_set("store: batch '%s' was started from a different file (SHA-256 %s, this "
                     "file %s)",
                     key->name, pb__sq_text(s, 3), key->file_sha256);
        rc = PB_EEXISTS;
        goto out;
    }
    rc = pb__sq_read_batch(s, info, 1);
out:
    if (s)
        pb__sq_done(s);
    rc = pb__sq_end(ss, rc);
    if (rc < 0) {
        pb_batch_info_clear(info);
        *created = 0;
    }
    return rc;
}

static int pb__batch_finish(pb_store *st, uint64_t batch, int64_t at_ms)
{
    pb__sstore *ss = (pb__sstore *)st;
    sqlite3_stmt *s = NULL;
    int rc;
    if ((rc = pb__sq_begin(ss)) < 0)
        return rc;
    if ((rc = pb__sq_batch_check(ss, batch)) < 0 ||
        (rc = pb__sq_stmt(ss, PB__Q_BATCH_FINISH, &s)) < 0)
        goto out;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)batch);
    sqlite3_bind_int64(s, 2, at_ms);
    rc = sqlite3_step(s);
    pb__sq_done(s);
    rc = rc == SQLITE_DONE ? PB_OK : pb__sq_err(ss, rc, "finishing a batch");
out:
    return pb__sq_end(ss, rc);
}

static int pb__rows_add(pb_store *st, uint64_t batch, const pb_store_row *rows, size_t n)
{
    pb__sstore *ss = (pb__sstore *)st;
    sqlite3_stmt *s = NULL, *d = NULL;
    size_t i;
    int rc;
    if ((rc = pb__sq_begin(ss)) < 0)
        return rc;
    if ((rc = pb__sq_batch_check(ss, batch)) < 0 ||
        (rc = pb__sq_stmt(ss, PB__Q_ROW_INSERT, &s)) < 0 ||
        (rc = pb__sq_stmt(ss, PB__Q_DATA_INSERT, &d)) < 0)
        goto out;
    for (i = 0; i < n; i++) {
        const pb_store_row *r = &rows[i];
        int step;
        sqlite3_bind_int64(s, 1, (sqlite3_int64)batch);
        sqlite3_bind_int64(s, 2, r->row_no);
        sqlite3_bind_text(s, 3, pb_row_state_name(r->state), -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, r->payment_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, r->method, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 6, r->amount);
        sqlite3_bind_text(s, 7, r->currency, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 8, r->account_masked, -1, SQLITE_STATIC);
        /* PB__PAYABLE: an invalid row always has findings, a payable row never (the front
         * end refuses a queued row with findings) */
        if (r->state == PB_ROW_INVALID)
            sqlite3_bind_text(s, 10, r->findings ? r->findings : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 11, r->attempts);
        sqlite3_bind_int64(s, 12, r->next_at_ms);
        sqlite3_bind_text(s, 13, r->code, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 14, r->message, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 15, r->gate_status, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 16, r->request_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 17, r->operation_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 18, r->provider_payment_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 19, r->updated_at_ms);
        sqlite3_bind_int(s, 20, r->reversed ? 1 : 0);
        step = sqlite3_step(s);
        pb__sq_done(s);
        if (step == SQLITE_DONE) {
            sqlite3_bind_int64(d, 1, (sqlite3_int64)batch);
            sqlite3_bind_int64(d, 2, r->row_no);
            sqlite3_bind_blob(d, 3, r->cells ? r->cells : "", (int)r->cells_len, SQLITE_STATIC);
            if (r->payee_key[0])
                sqlite3_bind_text(d, 4, r->payee_key, -1, SQLITE_STATIC);
            step = sqlite3_step(d);
            pb__sq_done(d);
        }
        if (step != SQLITE_DONE) {
            char what[64];
            snprintf(what, sizeof(what), "adding row %u", r->row_no);
            rc = pb__sq_err(ss, step, what);
            goto out;
        }
    }
out:
    return pb__sq_end(ss, rc);
}

static int pb__payment_id_owner(pb_store *st, const char *id, size_t len, uint64_t this_batch,
                                char **owner)
{
    pb__sstore *ss = (pb__sstore *)st;
    sqlite3_stmt *s = NULL;
    int rc = pb__sq_stmt(ss, PB__Q_ID_OWNER, &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, id, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)this_batch);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        rc = pb__dup_col(s, 0, owner);
    else if (rc == SQLITE_DONE)
        rc = PB_ENOTFOUND;
    else
        rc = pb__sq_err(ss, rc, "looking up a payment id");
    pb__sq_done(s);
    return rc;
}

/* Step a bound statement, reading up to max rows into rows (owned). On failure nothing is
 * left to release. The caller resets or finalizes the statement. */
static int pb__read_rows(pb__sstore *ss, sqlite3_stmt *s, size_t max, pb_store_row *rows, size_t *n)
{
    size_t got = 0;
    int rc = PB_OK, step = SQLITE_DONE;
    while (got < max && (step = sqlite3_step(s)) == SQLITE_ROW) {
        if ((rc = pb__sq_read_row(ss, s, &rows[got], 1)) < 0)
            break;
        got++;
    }
    if (rc == PB_OK && got < max && step != SQLITE_DONE)
        rc = pb__sq_err(ss, step, "reading rows");
    if (rc < 0) {
        pb_store_rows_clear(rows, got);
        got = 0;
    }
    *n = got;
    return rc;
}

/* Read up to max rows of a picking query (batch, now, limit) into rows (owned). */
static int pb__pick(pb__sstore *ss, int q, uint64_t batch, int64_t now_ms, size_t max,
                    pb_store_row *rows, size_t *n)
{
    sqlite3_stmt *s = NULL;
    int rc;
    *n = 0;
    if ((rc = pb__sq_stmt(ss, q, &s)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)batch);
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)(max > INT32_MAX ? INT32_MAX : max));
    rc = pb__read_rows(ss, s, max, rows, n);
    pb__sq_done(s);
    return rc;
}

static int pb__claim(pb_store *st, uint64_t batch, int64_t now_ms, size_t max, pb_store_row *rows,
                     size_t *n)
{
    pb__sstore *ss = (pb__sstore *)st;
    sqlite3_stmt *u = NULL;
    size_t i, got = 0;
    int rc, step;
    if ((rc = pb__sq_begin(ss)) < 0)
        return rc;
    if ((rc = pb__sq_batch_check(ss, batch)) < 0 ||
        (rc = pb__pick(ss, PB__Q_CLAIM_SELECT, batch, now_ms, max, rows, &got)) < 0 ||
        (rc = pb__sq_stmt(ss, PB__Q_CLAIM_UPDATE, &u)) < 0)
        goto out;
    if (got == 0)
        goto out;
    sqlite3_bind_int64(u, 1, (sqlite3_int64)batch);
    sqlite3_bind_int64(u, 2, now_ms);
    sqlite3_bind_int64(u, 3, rows[0].row_no);
    sqlite3_bind_int64(u, 4, rows[got - 1].row_no);
    step = sqlite3_step(u);
    pb__sq_done(u);
    if (step != SQLITE_DONE) {
        rc = pb__sq_err(ss, step, "claiming rows");
        goto out;
    }
    if ((size_t)sqlite3_changes(ss->db) != got) {
        pb_error_set("store %s: claim moved %d rows instead of %zu", ss->path,
                     sqlite3_changes(ss->db), got);
        rc = PB_EIO;
        goto out;
    }
    for (i = 0; i < got; i++) {
        rows[i].state = PB_ROW_SENDING;
        rows[i].attempts++;
    }
out:
    rc = pb__sq_end(ss, rc);
    if (rc < 0) {
        pb_store_rows_clear(rows, got);
        got = 0;
    }
    *n = got;
    return rc;
}

static int pb__due(pb_store *st, uint64_t batch, int64_t now_ms, size_t max, pb_store_row *rows,
                   size_t *n)
{
    pb__sstore *ss = (pb__sstore *)st;
    int rc = pb__sq_batch_check(ss, batch);
    if (rc < 0)
        return rc;
    return pb__pick(ss, PB__Q_DUE, batch, now_ms, max, rows, n);
}

static int pb__mark(pb_store *st, uint64_t batch, const pb_row_update *updates, size_t n,
                    size_t *applied)
{
    pb__sstore *ss = (pb__sstore *)st;
    sqlite3_stmt *s = NULL;
    size_t i, count = 0;
    int rc;
    if ((rc = pb__sq_begin(ss)) < 0)
        return rc;
    if ((rc = pb__sq_batch_check(ss, batch)) < 0 || (rc = pb__sq_stmt(ss, PB__Q_MARK, &s)) < 0)
        goto out;
    for (i = 0; i < n; i++) {
        const pb_row_update *u = &updates[i];
        int step;
        sqlite3_bind_int64(s, 1, (sqlite3_int64)batch);
        sqlite3_bind_int64(s, 2, u->row_no);
        sqlite3_bind_text(s, 3, pb_row_state_name(u->from), -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, pb_row_state_name(u->to), -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, u->at_ms);
        sqlite3_bind_int64(s, 6, u->next_at_ms);
        sqlite3_bind_int(s, 7, u->add_attempt ? 1 : 0);
        sqlite3_bind_text(s, 8, u->code, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 9, u->message, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 10, u->gate_status, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 11, u->request_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 12, u->operation_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 13, u->provider_payment_id, -1, SQLITE_STATIC);
        step = sqlite3_step(s);
        pb__sq_done(s);
        if (step != SQLITE_DONE) {
            rc = pb__sq_err(ss, step, "updating a row");
            goto out;
        }
        count += (size_t)sqlite3_changes(ss->db);
    }
out:
    rc = pb__sq_end(ss, rc);
    *applied = rc < 0 ? 0 : count;
    return rc;
}

/* Walks run in their own statement (not a cached one) so that a callback may call the store
 * again; one statement reads one snapshot. */
int pb__sq_walk_stmt(pb__sstore *ss, int q, sqlite3_stmt **out)
{
    int rc = sqlite3_prepare_v2(ss->db, pb__sql[q], -1, out, NULL);
    return rc == SQLITE_OK ? PB_OK : pb__sq_err(ss, rc, "preparing a statement");
}

static int pb__next_at(pb_store *st, uint64_t batch, pb_store_next_kind kind, int64_t after_ms,
                       int64_t *out)
{
    pb__sstore *ss = (pb__sstore *)st;
    sqlite3_stmt *s = NULL;
    int step, rc = pb__sq_stmt(
                  ss, kind == PB_STORE_NEXT_PENDING ? PB__Q_NEXT_PENDING : PB__Q_NEXT_QUEUED, &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)batch);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)after_ms);
    step = sqlite3_step(s);
    if (step == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        *out = (int64_t)sqlite3_column_int64(s, 0);
    rc = step == SQLITE_ROW || step == SQLITE_DONE ? PB_OK
                                                   : pb__sq_err(ss, step, "reading next due");
    pb__sq_done(s);
    return rc;
}

static int pb__list(pb_store *st, uint64_t batch, pb_row_state state, uint32_t after_row,
                    size_t max, pb_store_row *rows, size_t *n)
{
    pb__sstore *ss = (pb__sstore *)st;
    sqlite3_stmt *s = NULL;
    int rc;
    *n = 0;
    if ((rc = pb__sq_stmt(ss, PB__Q_LIST, &s)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)batch);
    sqlite3_bind_text(s, 2, pb_row_state_name(state), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)after_row);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)(max > INT32_MAX ? INT32_MAX : max));
    rc = pb__read_rows(ss, s, max, rows, n);
    pb__sq_done(s);
    return rc;
}

static int pb__group_begin(pb_store *st)
{
    pb__sstore *ss = (pb__sstore *)st;
    int rc = pb__sq_begin(ss);
    if (rc == 0)
        ss->group = 1;
    return rc;
}

static int pb__group_end(pb_store *st)
{
    pb__sstore *ss = (pb__sstore *)st;
    ss->group = 0;
    return pb__sq_end(ss, 0);
}

const pb_store_ops pb__sqlite_ops = {
    "sqlite",
    pb__batch_begin,
    pb__batch_finish,
    pb__rows_add,
    pb__payment_id_owner,
    pb__claim,
    pb__due,
    pb__mark,
    pb__sq_row_get,
    pb__sq_row_by_payment_id,
    pb__sq_rows_each,
    pb__sq_counts,
    pb__sq_batches_each,
    pb__sq_inbox_put,
    pb__sq_inbox_each,
    pb__sq_free,
    pb__next_at,
    pb__list,
    pb__group_begin,
    pb__group_end,
    pb__sq_paid_recently,
    NULL, /* batch_lock: one process per batch on one host (the CLI's file lock) */
    NULL, /* batch_unlock */
    NULL, /* lease_begin .. rate_pause: one worker per batch, leases need PostgreSQL */
    NULL,
    NULL,
    NULL,
};
