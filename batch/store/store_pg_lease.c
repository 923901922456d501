/*
 * store_pg_lease.c - several `send` workers on one batch (PostgreSQL; docs/SEND_DESIGN.md):
 * the ops of a handle in lease mode, the heartbeat, and the shared rate's GCRA rows.
 *
 * A row's lease is (lease_owner, lease_until) with lease_until on the database's clock
 * (clock_timestamp()), so the hosts' clocks may disagree. A claim leases the rows it takes; a
 * due takes only rows whose lease lapsed or that the worker already holds, and leases them in
 * the same statement (FOR UPDATE SKIP LOCKED: two workers never take the same row), so a live
 * worker's `sending` row is never status-queried, let alone re-queued, by another.
 *
 * And the batch's lock (pb_store_batch_lock): a session advisory lock, held by a worker while
 * it loads the batch.
 */
#include "batch/store/store_pg_int.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <stdlib.h>
#include <string.h>

/* lease_until of a row leased now: $5 is the lease in milliseconds */
#define PB__LEASE_UNTIL "clock_timestamp() + $5::int8 * interval '1 millisecond'"

int pb__pg_lease_claim(pb__pgstore *ps, uint64_t batch, int64_t now_ms, int64_t limit, size_t max,
                       pb_store_row *rows, size_t *n)
{
    pb__pgp p;
    int rc;
    p.n = 0;
    pb__pg_int(&p, (int64_t)batch);
    pb__pg_int(&p, now_ms);
    pb__pg_int(&p, limit);
    pb__pg_cstr(&p, ps->worker);
    pb__pg_int(&p, ps->lease_ms);
    rc = pb__pg_rows_query(
        ps,
        "WITH c AS (SELECT batch, row_no FROM pb_rows WHERE batch = $1 AND state = 'queued' AND "
        "next_at_ms <= $2 ORDER BY row_no LIMIT $3 FOR UPDATE SKIP LOCKED), u AS (UPDATE pb_rows "
        "r SET state = 'sending', attempts = r.attempts + 1, lease_owner = $4::text, lease_until "
        "= " PB__LEASE_UNTIL " FROM c WHERE r.batch = c.batch AND r.row_no = c.row_no RETURNING "
        "r.*) SELECT " PB__PG_ROWCOLS " FROM u ORDER BY row_no",
        &p, "claiming rows", max, rows, n);
    if (rc == 0 && *n == 0)
        rc = pb__pg_batch_check(ps, batch);
    return rc;
}

int pb__pg_lease_due(pb__pgstore *ps, uint64_t batch, int64_t now_ms, int64_t limit, size_t max,
                     pb_store_row *rows, size_t *n)
{
    pb__pgp p;
    int rc;
    p.n = 0;
    pb__pg_int(&p, (int64_t)batch);
    pb__pg_int(&p, now_ms);
    pb__pg_int(&p, limit);
    pb__pg_cstr(&p, ps->worker);
    pb__pg_int(&p, ps->lease_ms);
    /* a lapsed lease is taken over here: the dead (or cut off) worker's rows are resolved by
     * this worker's status queries, never sent again blindly */
    rc = pb__pg_rows_query(
        ps,
        "WITH c AS (SELECT batch, row_no FROM pb_rows WHERE batch = $1 AND state IN ('sending', "
        "'in_doubt') AND next_at_ms <= $2 AND (lease_owner IS NULL OR lease_owner = $4::text OR "
        "lease_until <= clock_timestamp()) ORDER BY row_no LIMIT $3 FOR UPDATE SKIP LOCKED), u "
        "AS (UPDATE pb_rows r SET lease_owner = $4::text, lease_until = " PB__LEASE_UNTIL
        " FROM c WHERE r.batch = c.batch AND r.row_no = c.row_no RETURNING r.*) "
        "SELECT " PB__PG_ROWCOLS " FROM u ORDER BY row_no",
        &p, "reading due rows", max, rows, n);
    if (rc == 0 && *n == 0)
        rc = pb__pg_batch_check(ps, batch);
    return rc;
}

int pb__pg_lease_next_at(pb__pgstore *ps, uint64_t batch, int64_t after_ms, int64_t *out)
{
    PGresult *r = NULL;
    pb__pgp p;
    int rc;
    p.n = 0;
    pb__pg_int(&p, (int64_t)batch);
    pb__pg_int(&p, after_ms);
    pb__pg_cstr(&p, ps->worker);
    /* a row another worker holds is due again within a second (its lease's end, at most 1 s
     * on): by then its owner settled it, or its lease lapsed and it is ours to resolve */
    if ((rc = pb__pg_exec(
             ps,
             "SELECT MIN(e) FROM (SELECT CASE WHEN lease_owner IS NOT NULL AND lease_owner <> "
             "$3::text AND lease_until > clock_timestamp() THEN greatest(next_at_ms, $2::int8 + "
             "greatest(1, least(1000, ceil(extract(epoch FROM lease_until - clock_timestamp()) "
             "* 1000)))::int8) ELSE next_at_ms END AS e FROM pb_rows WHERE batch = $1 AND state "
             "IN ('sending', 'in_doubt')) s WHERE e > $2::int8",
             &p, "reading when rows are next due", &r)) < 0)
        return rc;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        *out = pb__pg_i64(r, 0, 0);
    PQclear(r);
    return PB_OK;
}

int pb__pg_lease_begin(pb_store *st, const char *worker, int64_t lease_ms)
{
    pb__pgstore *ps = (pb__pgstore *)st;
    char *w = pb_strdup(worker);
    if (!w)
        return pb_error_set("store: out of memory"), PB_ENOMEM;
    pb_free(ps->worker);
    ps->worker = w;
    ps->lease_ms = lease_ms;
    return PB_OK;
}

int pb__pg_lease_renew(pb_store *st, uint64_t batch, uint64_t *renewed)
{
    pb__pgstore *ps = (pb__pgstore *)st;
    PGresult *r = NULL;
    pb__pgp p;
    int rc;
    if (!ps->worker)
        return pb_error_set("store %s: lease_renew before lease_begin", ps->label), PB_EINVAL;
    p.n = 0;
    pb__pg_int(&p, (int64_t)batch);
    pb__pg_cstr(&p, ps->worker);
    pb__pg_int(&p, ps->lease_ms);
    if ((rc = pb__pg_exec(
             ps,
             "UPDATE pb_rows SET lease_until = clock_timestamp() + $3::int8 * interval '1 "
             "millisecond' WHERE batch = $1 AND lease_owner = $2::text AND state IN "
             "('sending', 'in_doubt')",
             &p, "renewing leases", &r)) < 0)
        return rc;
    *renewed = (uint64_t)strtoull(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return PB_OK;
}

int pb__pg_rate_take(pb_store *st, const char *key, int64_t interval_us, uint32_t n,
                     int64_t *start_in_us)
{
    pb__pgstore *ps = (pb__pgstore *)st;
    PGresult *r = NULL;
    pb__pgp p;
    int rc;
    p.n = 0;
    pb__pg_cstr(&p, key);
    pb__pg_int(&p, interval_us * (int64_t)n);
    /* GCRA over blocks: the block starts at the row's theoretical arrival time, or now, or the
     * end of a pause, whichever is last, and moves it on by the block's length (one round
     * trip per block; the row's lock serialises workers for that one statement only). now()
     * is this statement's time (autocommit: its own transaction). */
    if ((rc = pb__pg_exec(
             ps,
             "INSERT INTO pb_rate AS t (key, tat) VALUES ($1::text, now() + $2::int8 * interval '1 "
             "microsecond') ON CONFLICT (key) DO UPDATE SET tat = greatest(t.tat, now(), "
             "t.paused_until) + $2::int8 * interval '1 microsecond' RETURNING (floor(extract(epoch "
             "FROM t.tat - now()) * 1000000))::int8 - $2::int8",
             &p, "taking rate slots", &r)) < 0)
        return rc;
    *start_in_us = PQntuples(r) == 1 ? pb__pg_i64(r, 0, 0) : 0;
    if (*start_in_us < 0)
        *start_in_us = 0;
    PQclear(r);
    return PB_OK;
}

int pb__pg_rate_pause(pb_store *st, const char *key, int64_t ms)
{
    pb__pgp p;
    p.n = 0;
    pb__pg_cstr(&p, key);
    pb__pg_int(&p, ms);
    return pb__pg_run((pb__pgstore *)st,
                      "INSERT INTO pb_rate AS t (key, tat, paused_until) VALUES ($1::text, now(), "
                      "now() + $2::int8 * interval '1 millisecond') ON CONFLICT (key) DO UPDATE "
                      "SET paused_until = greatest(t.paused_until, now() + $2::int8 * interval '1 "
                      "millisecond')",
                      &p, "pausing the rate");
}

/* A session-level advisory lock keyed by the batch name: the server drops it when the
 * session ends, so a process killed with -9 leaves no stale lock behind. */
int pb__pg_try_lock(pb__pgstore *ps, const char *name, int *got)
{
    PGresult *r = NULL;
    pb__pgp p;
    int rc;
    p.n = 0;
    pb__pg_cstr(&p, name);
    *got = 0;
    rc = pb__pg_exec(ps,
                     "SELECT CASE WHEN pg_try_advisory_lock(hashtextextended('paybatch batch ' "
                     "|| $1::text, 0)) THEN 1 ELSE 0 END::int8",
                     &p, "locking the batch", &r);
    if (rc < 0)
        return rc;
    *got = PQntuples(r) == 1 && pb__pg_i64(r, 0, 0) == 1;
    PQclear(r);
    return PB_OK;
}

/* The lock is held while a batch is loaded (several workers starting at once load it once);
 * a worker waits for another's load up to PB__PG_LOAD_WAIT, then gives up (PB_EAGAIN). */
#define PB__PG_LOAD_WAIT "600s"

int pb__pg_batch_lock(pb_store *st, const char *name)
{
    pb__pgstore *ps = (pb__pgstore *)st;
    PGresult *r = NULL;
    pb__pgp p;
    int rc, got = 0;
    if (ps->locked) {
        if (strcmp(ps->locked, name) == 0)
            return PB_OK;
        pb_error_set("store %s: this handle already holds batch %s", ps->label, ps->locked);
        return PB_EINVAL;
    }
    if ((rc = pb__pg_try_lock(ps, name, &got)) < 0)
        return rc;
    if (!got && ps->worker) {
        /* a session lock taken inside a transaction outlives it; lock_timeout bounds the wait */
        p.n = 0;
        pb__pg_cstr(&p, name);
        if ((rc = pb__pg_begin(ps)) < 0)
            return rc;
        rc = pb__pg_run(ps, "SET LOCAL lock_timeout = '" PB__PG_LOAD_WAIT "'", NULL,
                        "waiting for the batch");
        if (rc == 0)
            rc = pb__pg_exec(ps,
                             "SELECT pg_advisory_lock(hashtextextended('paybatch batch ' || "
                             "$1::text, 0))",
                             &p, "waiting for the batch", &r);
        PQclear(r);
        rc = pb__pg_end(ps, rc);
        got = rc == 0;
        if (rc < 0 && rc != PB_EIO)
            return rc;
    }
    if (!got) {
        pb_error_set("batch %s is being worked on by another paybatch process (a lock in %s); "
                     "run this again when it has finished",
                     name, ps->label);
        return PB_EAGAIN;
    }
    ps->locked = pb_strdup(name);
    if (!ps->locked) {
        PQclear(PQexec(ps->conn, "SELECT pg_advisory_unlock_all()"));
        return pb_error_set("store: out of memory"), PB_ENOMEM;
    }
    return PB_OK;
}

void pb__pg_batch_unlock(pb_store *st)
{
    pb__pgstore *ps = (pb__pgstore *)st;
    pb__pgp p;
    if (!ps->locked)
        return;
    p.n = 0;
    pb__pg_cstr(&p, ps->locked);
    /* a failure leaves the lock to the session's end (a reconnect does not take it again) */
    (void)pb__pg_run(
        ps, "SELECT pg_advisory_unlock(hashtextextended('paybatch batch ' || $1::text, 0))", &p,
        "releasing the batch");
    pb_free(ps->locked);
    ps->locked = NULL;
}
