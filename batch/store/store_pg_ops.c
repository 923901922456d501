/*
 * store_pg_ops.c - the PostgreSQL backend's ops (see store_pg.c for the connection and the
 * schema).
 *
 * Claims take their rows with FOR UPDATE SKIP LOCKED and move them to sending in the same
 * statement, so two processes claiming at once never get the same row; marks are
 * compare-and-set on the row's state (UPDATE ... WHERE state = from), so a row that someone
 * else moved first is skipped, never overwritten.
 */
#include "batch/store/store_pg_int.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PB__BATCHCOLS                                                                              \
    "SELECT id, name, file_name, file_sha256, settings, header, delimiter, had_bom, "              \
    "created_at_ms, finished_at_ms, plan FROM pb_batches "
#define PB__SELROWS "SELECT " PB__PG_ROWCOLS " FROM pb_rows "

static int pb__dup(const PGresult *r, int i, int col, char **out)
{
    size_t n = (size_t)PQgetlength(r, i, col);
    *out = pb_malloc(n + 1);
    if (!*out)
        return pb_error_set("store: out of memory"), PB_ENOMEM;
    memcpy(*out, PQgetvalue(r, i, col), n);
    (*out)[n] = '\0';
    return PB_OK;
}

static int pb__read_batch(const PGresult *r, int i, pb_batch_info *bi, int own)
{
    int rc;
    memset(bi, 0, sizeof(*bi));
    bi->id = (uint64_t)pb__pg_i64(r, i, 0);
    pb_row_field_set(bi->file_sha256, PB_STORE_SHA256_HEX, PQgetvalue(r, i, 3),
                     (size_t)PQgetlength(r, i, 3));
    bi->header_len = (size_t)PQgetlength(r, i, 5);
    bi->delimiter = (char)pb__pg_i64(r, i, 6);
    bi->had_bom = (int)pb__pg_i64(r, i, 7);
    bi->created_at_ms = pb__pg_i64(r, i, 8);
    bi->finished_at_ms = pb__pg_i64(r, i, 9);
    if (!own) {
        bi->plan = PQgetisnull(r, i, 10) ? NULL : PQgetvalue(r, i, 10);
        bi->name = PQgetvalue(r, i, 1);
        bi->file_name = PQgetvalue(r, i, 2);
        bi->settings = PQgetvalue(r, i, 4);
        bi->header = PQgetvalue(r, i, 5);
        return PB_OK;
    }
    if ((rc = pb__dup(r, i, 1, &bi->name)) < 0 || (rc = pb__dup(r, i, 2, &bi->file_name)) < 0 ||
        (rc = pb__dup(r, i, 4, &bi->settings)) < 0 || (rc = pb__dup(r, i, 5, &bi->header)) < 0 ||
        (!PQgetisnull(r, i, 10) && (rc = pb__dup(r, i, 10, &bi->plan)) < 0))
        pb_batch_info_clear(bi);
    return rc;
}

static int pb__batch_begin(pb_store *st, const pb_batch_key *key, pb_batch_info *info, int *created)
{
    pb__pgstore *ps = (pb__pgstore *)st;
    PGresult *r = NULL;
    pb__pgp p;
    int rc;
    p.n = 0;
    pb__pg_cstr(&p, key->name);
    pb__pg_cstr(&p, key->file_name);
    pb__pg_cstr(&p, key->file_sha256);
    pb__pg_cstr(&p, key->settings);
    pb__pg_str(&p, key->header, key->header_len);
    pb__pg_int(&p, (unsigned char)key->delimiter);
    pb__pg_int(&p, key->had_bom ? 1 : 0);
    pb__pg_int(&p, key->created_at_ms);
    if (key->plan)
        pb__pg_cstr(&p, key->plan);
    else
        pb__pg_null(&p);
    /* one statement: a batch started by two hosts at once is created once */
    rc = pb__pg_exec(ps,
                     "INSERT INTO pb_batches (name, file_name, file_sha256, settings, header, "
                     "delimiter, had_bom, created_at_ms, plan) VALUES ($1::text, $2::text, "
                     "$3::text, $4::text, $5::bytea, $6, $7, $8, $9::text) ON CONFLICT (name) DO "
                     "NOTHING RETURNING id",
                     &p, "creating a batch", &r);
    if (rc < 0)
        goto out;
    *created = PQntuples(r) == 1;
    PQclear(r);
    r = NULL;
    p.n = 0;
    pb__pg_cstr(&p, key->name);
    if ((rc = pb__pg_exec(ps, PB__BATCHCOLS "WHERE name = $1::text", &p, "finding a batch", &r)) <
        0)
        goto out;
    if (PQntuples(r) != 1) {
        pb_error_set("store %s: batch '%s' vanished while it was started", ps->label, key->name);
        rc = PB_EIO;
        goto out;
    }
    if (strcmp(PQgetvalue(r, 0, 3), key->file_sha256) != 0) {
        pb_error_set("store: batch '%s' was started from a different file (SHA-256 %s, this "
                     "file %s)",
                     key->name, PQgetvalue(r, 0, 3), key->file_sha256);
        rc = PB_EEXISTS;
        goto out;
    }
    rc = pb__read_batch(r, 0, info, 1);
out:
    PQclear(r);
    if (rc < 0)
        *created = 0;
    return rc;
}

static int pb__batch_finish(pb_store *st, uint64_t batch, int64_t at_ms)
{
    pb__pgstore *ps = (pb__pgstore *)st;
    PGresult *r = NULL;
    pb__pgp p;
    int rc;
    p.n = 0;
    pb__pg_int(&p, (int64_t)batch);
    pb__pg_int(&p, at_ms);
    if ((rc = pb__pg_exec(ps, "UPDATE pb_batches SET finished_at_ms = $2 WHERE id = $1", &p,
                          "finishing a batch", &r)) < 0)
        return rc;
    if (strcmp(PQcmdTuples(r), "0") == 0) {
        pb_error_set("store %s: no batch %llu", ps->label, (unsigned long long)batch);
        rc = PB_ENOTFOUND;
    }
    PQclear(r);
    return rc;
}

static void pb__row_params(size_t i, pb__pgp *p, const void *arg)
{
    const pb_store_row *r = &((const pb_store_row *)arg)[i];
    pb__pg_int(p, (int64_t)r->batch);
    pb__pg_int(p, r->row_no);
    pb__pg_cstr(p, pb_row_state_name(r->state));
    pb__pg_cstr(p, r->payment_id);
    pb__pg_cstr(p, r->method);
    pb__pg_int(p, r->amount);
    pb__pg_cstr(p, r->currency);
    pb__pg_cstr(p, r->account_masked);
    pb__pg_str(p, r->cells, r->cells_len);
    if (r->findings && *r->findings)
        pb__pg_cstr(p, r->findings);
    else
        pb__pg_null(p);
    pb__pg_int(p, r->attempts);
    pb__pg_int(p, r->next_at_ms);
    pb__pg_cstr(p, r->code);
    pb__pg_cstr(p, r->message);
    pb__pg_cstr(p, r->gate_status);
    pb__pg_cstr(p, r->request_id);
    pb__pg_cstr(p, r->operation_id);
    pb__pg_cstr(p, r->provider_payment_id);
    pb__pg_int(p, r->updated_at_ms);
    pb__pg_int(p, r->reversed ? 1 : 0);
    if (r->payee_key[0])
        pb__pg_cstr(p, r->payee_key);
    else
        pb__pg_null(p);
}

typedef struct {
    uint64_t batch;
    const pb_store_row *rows;
} pb__add;

static void pb__add_params(size_t i, pb__pgp *p, const void *arg)
{
    const pb__add *a = arg;
    pb__row_params(i, p, a->rows);
    /* the row's batch is the call's (rows_add ignores pb_store_row.batch) */
    snprintf(p->num[0], sizeof(p->num[0]), "%llu", (unsigned long long)a->batch);
}

static int pb__rows_add(pb_store *st, uint64_t batch, const pb_store_row *rows, size_t n)
{
    pb__add a;
    a.batch = batch;
    a.rows = rows;
    /* one transaction, pipelined: a duplicate refuses every row of the call */
    return pb__pg_pipeline_txn(
        (pb__pgstore *)st, batch,
        "INSERT INTO pb_rows (batch, row_no, state, payment_id, method, amount, currency, "
        "account_masked, cells, findings, attempts, next_at_ms, code, message, gate_status, "
        "request_id, operation_id, provider_payment_id, updated_at_ms, reversed, payee_key) VALUES "
        "($1, $2, "
        "$3::text, $4::text, $5::text, $6, $7::text, $8::text, $9::bytea, $10::text, $11, $12, "
        "$13::text, $14::text, $15::text, $16::text, $17::text, $18::text, $19, $20, $21::text)",
        n, pb__add_params, &a, "adding rows", NULL);
}

static int pb__payment_id_owner(pb_store *st, const char *id, size_t len, uint64_t this_batch,
                                char **owner)
{
    pb__pgstore *ps = (pb__pgstore *)st;
    PGresult *r = NULL;
    pb__pgp p;
    int rc;
    p.n = 0;
    pb__pg_str(&p, id, len);
    pb__pg_int(&p, (int64_t)this_batch);
    if ((rc = pb__pg_exec(ps,
                          "SELECT b.name FROM pb_rows r JOIN pb_batches b ON b.id = r.batch "
                          "WHERE r.payment_id = $1::text AND r.state <> 'invalid' AND "
                          "r.payment_id <> '' AND r.batch <> $2 LIMIT 1",
                          &p, "looking up a payment id", &r)) < 0)
        return rc;
    rc = PQntuples(r) == 0 ? PB_ENOTFOUND : pb__dup(r, 0, 0, owner);
    PQclear(r);
    return rc;
}

/* Read every row of a row query into rows (owned, at most max). On failure nothing is left
 * to release. */
static int pb__read_rows(pb__pgstore *ps, const PGresult *r, size_t max, pb_store_row *rows,
                         size_t *n)
{
    size_t got = 0, have = (size_t)PQntuples(r);
    int rc = PB_OK;
    while (got < max && got < have) {
        if ((rc = pb__pg_read_row(ps, r, (int)got, &rows[got], 1)) < 0)
            break;
        got++;
    }
    if (rc < 0) {
        pb_store_rows_clear(rows, got);
        got = 0;
    }
    *n = got;
    return rc;
}

/* A query selecting rows (bound by p), read into rows. */
int pb__pg_rows_query(pb__pgstore *ps, const char *sql, const pb__pgp *p, const char *what,
                      size_t max, pb_store_row *rows, size_t *n)
{
    PGresult *r = NULL;
    int rc;
    *n = 0;
    if ((rc = pb__pg_exec(ps, sql, p, what, &r)) < 0)
        return rc;
    rc = pb__read_rows(ps, r, max, rows, n);
    PQclear(r);
    return rc;
}

static int64_t pb__limit(size_t max)
{
    return (int64_t)(max > INT32_MAX ? INT32_MAX : max);
}

static int pb__claim(pb_store *st, uint64_t batch, int64_t now_ms, size_t max, pb_store_row *rows,
                     size_t *n)
{
    pb__pgstore *ps = (pb__pgstore *)st;
    pb__pgp p;
    int rc;
    p.n = 0;
    pb__pg_int(&p, (int64_t)batch);
    pb__pg_int(&p, now_ms);
    pb__pg_int(&p, pb__limit(max));
    if (ps->worker)
        return pb__pg_lease_claim(ps, batch, now_ms, pb__limit(max), max, rows, n);
    /* one statement, its own transaction: the rows are locked as they are picked (a row that
     * another claim holds is skipped, not waited for) and moved before the commit */
    rc = pb__pg_rows_query(ps,
                           "WITH c AS (SELECT batch, row_no FROM pb_rows WHERE batch = $1 AND "
                           "state = 'queued' AND next_at_ms <= $2 ORDER BY row_no LIMIT $3 FOR "
                           "UPDATE SKIP LOCKED), u AS (UPDATE pb_rows r SET state = 'sending', "
                           "attempts = r.attempts + 1 FROM c WHERE r.batch = c.batch AND r.row_no "
                           "= c.row_no RETURNING r.*) SELECT " PB__PG_ROWCOLS
                           " FROM u ORDER BY row_no",
                           &p, "claiming rows", max, rows, n);
    if (rc == 0 && *n == 0)
        rc = pb__pg_batch_check(ps, batch);
    return rc;
}

static int pb__due(pb_store *st, uint64_t batch, int64_t now_ms, size_t max, pb_store_row *rows,
                   size_t *n)
{
    pb__pgstore *ps = (pb__pgstore *)st;
    pb__pgp p;
    int rc;
    p.n = 0;
    pb__pg_int(&p, (int64_t)batch);
    pb__pg_int(&p, now_ms);
    pb__pg_int(&p, pb__limit(max));
    if (ps->worker)
        return pb__pg_lease_due(ps, batch, now_ms, pb__limit(max), max, rows, n);
    rc = pb__pg_rows_query(ps,
                           PB__SELROWS "WHERE batch = $1 AND state IN ('sending', 'in_doubt') AND "
                                       "next_at_ms <= $2 ORDER BY row_no LIMIT $3",
                           &p, "reading due rows", max, rows, n);
    if (rc == 0 && *n == 0)
        rc = pb__pg_batch_check(ps, batch);
    return rc;
}

typedef struct {
    uint64_t batch;
    const pb_row_update *u;
    const char *worker; /* lease mode: fence sending / in_doubt rows by their lease */
} pb__marks;

#define PB__MARK_SQL                                                                               \
    "UPDATE pb_rows SET state = $4::text, updated_at_ms = $5, next_at_ms = $6, attempts = "        \
    "attempts + $7, code = CASE WHEN $8::text = '' THEN code ELSE $8::text END, message = "        \
    "CASE WHEN $9::text = '' THEN message ELSE $9::text END, gate_status = CASE WHEN "             \
    "$10::text = '' THEN gate_status ELSE $10::text END, request_id = CASE WHEN $11::text = "      \
    "'' THEN request_id ELSE $11::text END, operation_id = CASE WHEN $12::text = '' THEN "         \
    "operation_id ELSE $12::text END, provider_payment_id = CASE WHEN $13::text = '' THEN "        \
    "provider_payment_id ELSE $13::text END, reversed = CASE WHEN $4::text = 'reversed' THEN "     \
    "1 ELSE reversed END WHERE batch = $1 AND row_no = $2 AND state = $3::text"

static const char pb__mark_sql[] = PB__MARK_SQL;
/* a row another worker leased since (it took over a lapsed lease) is that worker's now: what
 * this one learnt is found again by the new owner's status query */
static const char pb__lease_mark_sql[] =
    PB__MARK_SQL " AND (state NOT IN ('sending', 'in_doubt') OR lease_owner IS NULL OR "
                 "lease_owner = $14::text)";

static void pb__mark_params(size_t i, pb__pgp *p, const void *arg)
{
    const pb__marks *m = arg;
    const pb_row_update *u = &m->u[i];
    pb__pg_int(p, (int64_t)m->batch);
    pb__pg_int(p, u->row_no);
    pb__pg_cstr(p, pb_row_state_name(u->from));
    pb__pg_cstr(p, pb_row_state_name(u->to));
    pb__pg_int(p, u->at_ms);
    pb__pg_int(p, u->next_at_ms);
    pb__pg_int(p, u->add_attempt ? 1 : 0);
    pb__pg_cstr(p, u->code);
    pb__pg_cstr(p, u->message);
    pb__pg_cstr(p, u->gate_status);
    pb__pg_cstr(p, u->request_id);
    pb__pg_cstr(p, u->operation_id);
    pb__pg_cstr(p, u->provider_payment_id);
    if (m->worker)
        pb__pg_cstr(p, m->worker);
}

static int pb__mark(pb_store *st, uint64_t batch, const pb_row_update *updates, size_t n,
                    size_t *applied)
{
    pb__pgstore *ps = (pb__pgstore *)st;
    pb__marks m;
    m.batch = batch;
    m.u = updates;
    m.worker = ps->worker;
    /* in order, one transaction, pipelined: each UPDATE sees the ones before it */
    return pb__pg_pipeline_txn(ps, batch, ps->worker ? pb__lease_mark_sql : pb__mark_sql, n,
                               pb__mark_params, &m, "updating rows", applied);
}

static int pb__one_row(pb__pgstore *ps, const char *sql, const pb__pgp *p, pb_store_row *row,
                       const char *what)
{
    PGresult *r = NULL;
    int rc = pb__pg_exec(ps, sql, p, what, &r);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0) {
        pb_error_set("store %s: %s: no such row", ps->label, what);
        rc = PB_ENOTFOUND;
    } else {
        rc = pb__pg_read_row(ps, r, 0, row, 1);
    }
    PQclear(r);
    return rc;
}

static int pb__row_get(pb_store *st, uint64_t batch, uint32_t row_no, pb_store_row *row)
{
    pb__pgp p;
    p.n = 0;
    pb__pg_int(&p, (int64_t)batch);
    pb__pg_int(&p, row_no);
    return pb__one_row((pb__pgstore *)st, PB__SELROWS "WHERE batch = $1 AND row_no = $2", &p, row,
                       "reading a row");
}

static int pb__row_by_payment_id(pb_store *st, const char *id, size_t len, pb_store_row *row)
{
    pb__pgp p;
    p.n = 0;
    pb__pg_str(&p, id, len);
    return pb__one_row((pb__pgstore *)st,
                       PB__SELROWS "WHERE payment_id = $1::text AND state <> 'invalid' AND "
                                   "payment_id <> ''",
                       &p, row, "finding a payment id");
}

/* Walks read their whole result first (one snapshot), so a callback may use the store. */
static int pb__rows_each(pb_store *st, uint64_t batch, pb_store_row_cb cb, void *payload)
{
    pb__pgstore *ps = (pb__pgstore *)st;
    PGresult *r = NULL;
    pb_store_row row;
    pb__pgp p;
    int rc, i;
    if ((rc = pb__pg_batch_check(ps, batch)) < 0)
        return rc;
    p.n = 0;
    pb__pg_int(&p, (int64_t)batch);
    if ((rc = pb__pg_exec(ps, PB__SELROWS "WHERE batch = $1 ORDER BY row_no", &p, "reading rows",
                          &r)) < 0)
        return rc;
    for (i = 0; i < PQntuples(r); i++) {
        if ((rc = pb__pg_read_row(ps, r, i, &row, 0)) < 0 || (rc = cb(&row, payload)) != 0)
            break;
    }
    PQclear(r);
    return rc;
}

static int pb__counts(pb_store *st, uint64_t batch, pb_batch_counts *counts)
{
    pb__pgstore *ps = (pb__pgstore *)st;
    PGresult *r = NULL;
    pb__pgp p;
    int rc, i;
    if ((rc = pb__pg_batch_check(ps, batch)) < 0)
        return rc;
    p.n = 0;
    pb__pg_int(&p, (int64_t)batch);
    /* the sum as text: numeric has no int64 limit, the overflow is found when it is read */
    if ((rc = pb__pg_exec(ps,
                          "SELECT state, currency, count(*), sum(amount)::text FROM pb_rows "
                          "WHERE batch = $1 GROUP BY state, currency",
                          &p, "counting rows", &r)) < 0)
        return rc;
    for (i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0), *sum = PQgetvalue(r, i, 3);
        pb_row_state state;
        long long v;
        char *end;
        if (pb_row_state_parse(name, strlen(name), &state) < 0) {
            pb_error_set("store %s: unknown state '%s'", ps->label, name);
            rc = PB_EPARSE;
            break;
        }
        errno = 0;
        v = strtoll(sum, &end, 10);
        if (errno == ERANGE || *end) {
            pb_error_set("store %s: an amount sum overflows 64 bits", ps->label);
            rc = PB_ERANGE;
            break;
        }
        if ((rc = pb_batch_counts_add(counts, state, PQgetvalue(r, i, 1),
                                      (uint64_t)pb__pg_i64(r, i, 2), (int64_t)v)) < 0)
            break;
    }
    PQclear(r);
    return rc;
}

static int pb__batches_each(pb_store *st, pb_store_batch_cb cb, void *payload)
{
    pb__pgstore *ps = (pb__pgstore *)st;
    PGresult *r = NULL;
    pb_batch_info bi;
    int rc, i;
    if ((rc = pb__pg_exec(ps, PB__BATCHCOLS "ORDER BY id", NULL, "reading batches", &r)) < 0)
        return rc;
    for (i = 0; i < PQntuples(r); i++) {
        pb__read_batch(r, i, &bi, 0);
        if ((rc = cb(&bi, payload)) != 0)
            break;
    }
    PQclear(r);
    return rc;
}

static int pb__inbox_put(pb_store *st, const pb_store_inbox_rec *rec)
{
    pb__pgp p;
    p.n = 0;
    pb__pg_int(&p, rec->received_at_ms);
    pb__pg_str(&p, rec->body, rec->body_len);
    if (rec->payment_id && *rec->payment_id)
        pb__pg_cstr(&p, rec->payment_id);
    else
        pb__pg_null(&p);
    pb__pg_int(&p, rec->matched ? 1 : 0);
    if (rec->matched) {
        pb__pg_int(&p, (int64_t)rec->batch);
        pb__pg_int(&p, rec->row_no);
    } else {
        pb__pg_null(&p);
        pb__pg_null(&p);
    }
    /* the same body from a second receiver (or a redelivery) is already kept */
    return pb__pg_run((pb__pgstore *)st,
                      "INSERT INTO pb_inbox (received_at_ms, body, payment_id, matched, batch, "
                      "row_no) VALUES ($1, $2::bytea, $3::text, $4, $5::int8, $6::int8) ON "
                      "CONFLICT (body_sha256) DO NOTHING",
                      &p, "keeping a callback");
}

static int pb__inbox_each(pb_store *st, pb_store_inbox_cb cb, void *payload)
{
    pb__pgstore *ps = (pb__pgstore *)st;
    PGresult *r = NULL;
    pb_store_inbox_rec rec;
    int rc, i;
    if ((rc = pb__pg_exec(ps,
                          "SELECT received_at_ms, body, payment_id, matched, batch, row_no FROM "
                          "pb_inbox ORDER BY id",
                          NULL, "reading the inbox", &r)) < 0)
        return rc;
    for (i = 0; i < PQntuples(r); i++) {
        rec.received_at_ms = pb__pg_i64(r, i, 0);
        rec.body = PQgetvalue(r, i, 1);
        rec.body_len = (size_t)PQgetlength(r, i, 1);
        rec.payment_id = PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2);
        rec.matched = (int)pb__pg_i64(r, i, 3);
        rec.batch = (uint64_t)pb__pg_i64(r, i, 4);
        rec.row_no = (uint32_t)pb__pg_i64(r, i, 5);
        if ((rc = cb(&rec, payload)) != 0)
            break;
    }
    PQclear(r);
    return rc;
}

static int pb__next_at(pb_store *st, uint64_t batch, pb_store_next_kind kind, int64_t after_ms,
                       int64_t *out)
{
    static const char *const sql[] = {
        "SELECT MIN(next_at_ms) FROM pb_rows WHERE batch = $1 AND state = 'queued' AND "
        "next_at_ms > $2",
        "SELECT MIN(next_at_ms) FROM pb_rows WHERE batch = $1 AND state IN ('sending', "
        "'in_doubt') AND next_at_ms > $2"};
    pb__pgstore *ps = (pb__pgstore *)st;
    PGresult *r = NULL;
    pb__pgp p;
    int rc;
    p.n = 0;
    pb__pg_int(&p, (int64_t)batch);
    pb__pg_int(&p, after_ms);
    if (ps->worker && kind == PB_STORE_NEXT_PENDING)
        return pb__pg_lease_next_at(ps, batch, after_ms, out);
    if ((rc = pb__pg_exec(ps, sql[kind == PB_STORE_NEXT_PENDING], &p,
                          "reading when rows are next due", &r)) < 0)
        return rc;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        *out = pb__pg_i64(r, 0, 0);
    PQclear(r);
    return PB_OK;
}

static int pb__list(pb_store *st, uint64_t batch, pb_row_state state, uint32_t after_row,
                    size_t max, pb_store_row *rows, size_t *n)
{
    pb__pgp p;
    p.n = 0;
    pb__pg_int(&p, (int64_t)batch);
    pb__pg_cstr(&p, pb_row_state_name(state));
    pb__pg_int(&p, after_row);
    pb__pg_int(&p, pb__limit(max));
    return pb__pg_rows_query((pb__pgstore *)st,
                             PB__SELROWS "WHERE batch = $1 AND state = $2::text AND row_no > $3 "
                                         "ORDER BY row_no LIMIT $4",
                             &p, "listing rows", max, rows, n);
}

int pb__pg_paid_recently(pb_store *st, const char *payee_key, uint64_t this_batch, int64_t since_ms,
                         pb_store_paid_cb cb, void *payload)
{
    pb__pgstore *ps = (pb__pgstore *)st;
    PGresult *r = NULL;
    pb_store_paid_hit h;
    pb__pgp p;
    int rc, i;
    p.n = 0;
    pb__pg_cstr(&p, payee_key);
    pb__pg_int(&p, (int64_t)this_batch);
    pb__pg_int(&p, since_ms);
    /* accepted and success rows only: money that left or will */
    if ((rc = pb__pg_exec(ps,
                          "SELECT b.name, r.batch, r.row_no, r.state, r.payment_id, "
                          "r.updated_at_ms FROM pb_rows r JOIN pb_batches b ON b.id = r.batch "
                          "WHERE r.payee_key = $1::text AND r.batch <> $2 AND r.state IN "
                          "('accepted', 'success') AND r.updated_at_ms >= $3 ORDER BY "
                          "r.updated_at_ms DESC, r.batch, r.row_no",
                          &p, "looking up recent payouts", &r)) < 0)
        return rc;
    for (i = 0; i < PQntuples(r); i++) {
        const char *state = PQgetvalue(r, i, 3);
        memset(&h, 0, sizeof(h));
        h.batch_name = PQgetvalue(r, i, 0);
        h.batch = (uint64_t)pb__pg_i64(r, i, 1);
        h.row_no = (uint32_t)pb__pg_i64(r, i, 2);
        if (pb_row_state_parse(state, strlen(state), &h.state) < 0) {
            pb_error_set("store %s: unknown state '%s'", ps->label, state);
            rc = PB_EPARSE;
            break;
        }
        h.payment_id = PQgetvalue(r, i, 4);
        h.at_ms = pb__pg_i64(r, i, 5);
        if ((rc = cb(&h, payload)) != 0)
            break;
    }
    PQclear(r);
    return rc;
}

/* designated: the optional ops a backend leaves out are NULL */
const pb_store_ops pb__pg_ops = {
    .name = "pg",
    .batch_begin = pb__batch_begin,
    .batch_finish = pb__batch_finish,
    .rows_add = pb__rows_add,
    .payment_id_owner = pb__payment_id_owner,
    .claim = pb__claim,
    .due = pb__due,
    .mark = pb__mark,
    .row_get = pb__row_get,
    .row_by_payment_id = pb__row_by_payment_id,
    .rows_each = pb__rows_each,
    .counts = pb__counts,
    .batches_each = pb__batches_each,
    .inbox_put = pb__inbox_put,
    .inbox_each = pb__inbox_each,
    .free = pb__pg_free,
    .next_at = pb__next_at,
    .list = pb__list,
    .batch_lock = pb__pg_batch_lock,
    .batch_unlock = pb__pg_batch_unlock,
    .lease_begin = pb__pg_lease_begin,
    .lease_renew = pb__pg_lease_renew,
    .rate_take = pb__pg_rate_take,
    .rate_pause = pb__pg_rate_pause,
    .paid_recently = pb__pg_paid_recently,
};
