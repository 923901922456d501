/*
 * store_pg_int.h - shared between store_pg.c (connection, errors, schema, row reading) and
 * store_pg_ops.c (the ops). Not for callers.
 */
#ifndef PB_STORE_STORE_PG_INT_H
#define PB_STORE_STORE_PG_INT_H

#include <libpq-fe.h>

#include "batch/store/store_backend.h"

/* The schema this code writes and reads (pb_meta.schema_version). */
#define PB__PG_SCHEMA_VERSION 2
#define PB__XSTR(x)           #x
#define PB__STR(x)            PB__XSTR(x)
/* Parameters of one statement. */
#define PB__PG_MAXP 24

typedef struct {
    pb_store base;
    PGconn *conn;
    char label[160]; /* the URI without its password, for messages */
    char *locked;    /* the batch this handle holds (pb_store_batch_lock), or NULL */
    int lock_lost;   /* 1: a reconnect could not take the batch back: every op fails */
    int reset;       /* 1: the session is unusable (a pipeline left unread): reconnect */
    char *worker;    /* pb_store_lease_begin: this handle's worker id, or NULL (no leases) */
    int64_t lease_ms;
} pb__pgstore;

/* The parameters of one statement: integers as text, strings and blobs as binary (they may
 * hold any byte and need no NUL). Borrowed pointers; ints are kept in num. */
typedef struct {
    int n;
    const char *val[PB__PG_MAXP];
    int len[PB__PG_MAXP];
    int fmt[PB__PG_MAXP];
    char num[PB__PG_MAXP][24];
} pb__pgp;

extern const pb_store_ops pb__pg_ops;

void pb__pg_int(pb__pgp *p, int64_t v);
void pb__pg_str(pb__pgp *p, const char *s, size_t len);
void pb__pg_cstr(pb__pgp *p, const char *s);
void pb__pg_null(pb__pgp *p);
/* Run sql with p (may be NULL); binary results. *res is the result when the command
 * succeeded (PQclear it), else NULL with a message and a PB_E code: PB_EEXISTS for a
 * unique violation, PB_EAGAIN when the server is gone, PB_EIO otherwise. */
int pb__pg_exec(pb__pgstore *ps, const char *sql, const pb__pgp *p, const char *what,
                PGresult **res);
/* Sets the parameters of statement i of a pipelined transaction. */
typedef void (*pb__pg_fill)(size_t i, pb__pgp *p, const void *arg);
/* One transaction in libpq pipeline mode (one round trip per 256 statements instead of one
 * per statement): BEGIN; the batch check (PB_ENOTFOUND); sql with the parameters fill(i)
 * sets, for i < n; COMMIT. *affected (may be NULL): the rows the statements changed. On
 * failure nothing of it is committed. */
int pb__pg_pipeline_txn(pb__pgstore *ps, uint64_t batch, const char *sql, size_t n,
                        pb__pg_fill fill, const void *arg, const char *what, size_t *affected);
/* As pb__pg_exec for a statement whose result is not needed. */
int pb__pg_run(pb__pgstore *ps, const char *sql, const pb__pgp *p, const char *what);
/* BEGIN; and the end of a transaction: COMMIT when rc == 0, else ROLLBACK; the outcome. */
int pb__pg_begin(pb__pgstore *ps);
int pb__pg_end(pb__pgstore *ps, int rc);
/* Integer column of a binary result (int2/int4/int8). */
int64_t pb__pg_i64(const PGresult *r, int row, int col);
/* A row of PB__PG_ROWCOLS; own: cells and findings copied to the heap (clear the row),
 * else borrowed from the result. */
int pb__pg_read_row(pb__pgstore *ps, const PGresult *r, int i, pb_store_row *row, int own);
/* PB_ENOTFOUND with a message when the batch does not exist. */
int pb__pg_batch_check(pb__pgstore *ps, uint64_t batch);
void pb__pg_free(pb_store *st);
int pb__pg_batch_lock(pb_store *st, const char *name);
/* pg_try_advisory_lock on the batch's name; *got: 1 when taken. */
int pb__pg_try_lock(pb__pgstore *ps, const char *name, int *got);
void pb__pg_batch_unlock(pb_store *st);
/* store_pg_lease.c: the ops of a handle in lease mode (ps->worker set), and the rate. */
int pb__pg_rows_query(pb__pgstore *ps, const char *sql, const pb__pgp *p, const char *what,
                      size_t max, pb_store_row *rows, size_t *n);
int pb__pg_lease_claim(pb__pgstore *ps, uint64_t batch, int64_t now_ms, int64_t limit, size_t max,
                       pb_store_row *rows, size_t *n);
int pb__pg_lease_due(pb__pgstore *ps, uint64_t batch, int64_t now_ms, int64_t limit, size_t max,
                     pb_store_row *rows, size_t *n);
int pb__pg_lease_next_at(pb__pgstore *ps, uint64_t batch, int64_t after_ms, int64_t *out);
int pb__pg_lease_begin(pb_store *st, const char *worker, int64_t lease_ms);
int pb__pg_lease_renew(pb_store *st, uint64_t batch, uint64_t *renewed);
int pb__pg_rate_take(pb_store *st, const char *key, int64_t interval_us, uint32_t n,
                     int64_t *start_in_us);
int pb__pg_rate_pause(pb_store *st, const char *key, int64_t ms);
int pb__pg_paid_recently(pb_store *st, const char *payee_key, uint64_t this_batch, int64_t since_ms,
                         pb_store_paid_cb cb, void *payload);

#define PB__PG_ROWCOLS                                                                             \
    "batch, row_no, state, payment_id, method, amount, currency, account_masked, cells, "          \
    "findings, attempts, next_at_ms, code, message, gate_status, request_id, operation_id, "       \
    "provider_payment_id, updated_at_ms, reversed, payee_key"

#endif
