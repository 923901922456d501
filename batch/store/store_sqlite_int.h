/*
 * store_sqlite_int.h - shared between store_sqlite.c (the ops) and store_sqlite_open.c
 * (opening, pragmas, schema). Not for callers.
 */
#ifndef PB_STORE_STORE_SQLITE_INT_H
#define PB_STORE_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "batch/store/store_backend.h"

/* The schema this code writes and reads (PRAGMA user_version). */
#define PB__SQ_SCHEMA_VERSION 5
/* PRAGMA application_id of a paybatch store: "PBST". */
#define PB__SQ_APPLICATION_ID 0x50425354
#define PB__SQ_BUSY_MS        5000

enum {
    PB__Q_BEGIN,
    PB__Q_COMMIT,
    PB__Q_ROLLBACK,
    PB__Q_SAVEPOINT,
    PB__Q_RELEASE,
    PB__Q_ROLLBACK_TO,
    PB__Q_BATCH_BY_NAME,
    PB__Q_BATCH_INSERT,
    PB__Q_BATCH_EXISTS,
    PB__Q_BATCH_FINISH,
    PB__Q_BATCH_ALL,
    PB__Q_ROW_INSERT,
    PB__Q_DATA_INSERT,
    PB__Q_ID_OWNER,
    PB__Q_CLAIM_SELECT,
    PB__Q_CLAIM_UPDATE,
    PB__Q_DUE,
    PB__Q_MARK,
    PB__Q_ROW_GET,
    PB__Q_ROW_BY_ID,
    PB__Q_ROWS_EACH,
    PB__Q_COUNTS,
    PB__Q_INBOX_PUT,
    PB__Q_INBOX_ALL,
    PB__Q_NEXT_QUEUED,
    PB__Q_NEXT_PENDING,
    PB__Q_LIST,
    PB__Q_PAID_RECENTLY,
    PB__Q_COUNT
};

typedef struct {
    pb_store base;
    sqlite3 *db;
    char *path;
    sqlite3_stmt *stmt[PB__Q_COUNT]; /* prepared on first use, kept until free */
    int group;                       /* inside pb_store_group_begin .. end */
} pb__sstore;

extern const pb_store_ops pb__sqlite_ops;

/* row_data_payee's key (its index and the paid-recently query name the same expression, or the
 * index is not used): 16 hex digits, 64 bits, of the payee key, not all 64. The index then
 * takes about a fifth of the room, and a load writes a fifth of the pages: payee keys are
 * random, so every chunk stored touches pages all over it (bench: 100,000-row send, store's
 * work 8.2 s -> 6.2 s). The query compares the whole key after it as `+d.payee_key = ?1`:
 * without the `+` SQLite 3.40 scanned all of the index instead of searching it. */
#define PB__SQ_PAYEE_KEY "substr(payee_key, 1, 16)"

/* The SQL of statement q (tests check the query plans of the store's own statements). */
const char *pb__sq_sql(int q);

/* Set a message naming the file, `what` and SQLite's message; map rc to a PB_E code. */
int pb__sq_err(pb__sstore *ss, int rc, const char *what);
/* The cached statement q, prepared on first use. */
int pb__sq_stmt(pb__sstore *ss, int q, sqlite3_stmt **out);
/* BEGIN IMMEDIATE; and the end of a transaction: commit when rc == 0, else roll back. Inside
 * a group they are a savepoint: released when rc == 0, else rolled back to. */
int pb__sq_begin(pb__sstore *ss);
int pb__sq_end(pb__sstore *ss, int rc);
void pb__sq_free(pb_store *st);
/* Reset a cached statement and clear its bindings. */
void pb__sq_done(sqlite3_stmt *s);
/* A text column, "" for NULL. */
const char *pb__sq_text(sqlite3_stmt *s, int col);
/* The current result row of a row query. own: cells and findings copied to the heap (the
 * row must be cleared), else borrowed from the statement until it steps again. */
int pb__sq_read_row(pb__sstore *ss, sqlite3_stmt *s, pb_store_row *r, int own);
/* A batch row (batches columns); own as for rows. */
int pb__sq_read_batch(sqlite3_stmt *s, pb_batch_info *bi, int own);
/* PB_ENOTFOUND with a message when the batch does not exist. */
int pb__sq_batch_check(pb__sstore *ss, uint64_t batch);
/* A fresh (uncached) statement q for a walk, so that its callback may use the store. */
int pb__sq_walk_stmt(pb__sstore *ss, int q, sqlite3_stmt **out);
/* The read ops. */
int pb__sq_row_get(pb_store *st, uint64_t batch, uint32_t row_no, pb_store_row *row);
int pb__sq_row_by_payment_id(pb_store *st, const char *id, size_t len, pb_store_row *row);
int pb__sq_rows_each(pb_store *st, uint64_t batch, pb_store_row_cb cb, void *payload);
int pb__sq_counts(pb_store *st, uint64_t batch, pb_batch_counts *counts);
int pb__sq_batches_each(pb_store *st, pb_store_batch_cb cb, void *payload);
int pb__sq_inbox_put(pb_store *st, const pb_store_inbox_rec *rec);
int pb__sq_inbox_each(pb_store *st, pb_store_inbox_cb cb, void *payload);
int pb__sq_paid_recently(pb_store *st, const char *payee_key, uint64_t this_batch, int64_t since_ms,
                         pb_store_paid_cb cb, void *payload);

#endif
