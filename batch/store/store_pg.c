/*
 * store_pg.c - the PostgreSQL store backend ("postgresql://..." / "postgres://..."): the
 * connection, errors, the schema and its version, reading rows. The ops are in store_pg_ops.c.
 *
 * One connection per store handle, autocommit except inside the explicit transactions of the
 * write ops (READ COMMITTED: every write is a compare-and-set on the row's state or takes its
 * rows with FOR UPDATE SKIP LOCKED, so no op depends on a snapshot being repeatable).
 * Results are read in binary (integers big-endian, text and bytea as raw bytes), parameters
 * go as text for integers and binary for strings and blobs.
 *
 * Errors: a URI libpq cannot parse, wrong credentials, a missing database or another schema
 * version are PB_EINVAL (configuration); a server that cannot be reached or went away is
 * PB_EAGAIN (unavailable: nothing was decided on our side; a write whose COMMIT got no answer
 * may or may not have happened, and every write is safe to find either way: rows left
 * `sending` are resolved by status queries, never sent again blindly). Messages name the
 * store by its URI without the password.
 */
#include "batch/store/store_pg_int.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tables are prefixed (pb_) so that a paybatch store can share a database or a schema with
 * other applications; they live in the first schema of the connection's search_path. */
static const char pb__schema[] =
    "CREATE TABLE pb_meta (key text PRIMARY KEY, value bigint NOT NULL);"
    "CREATE TABLE pb_batches ("
    " id bigserial PRIMARY KEY,"
    " name text NOT NULL UNIQUE,"
    " file_name text NOT NULL,"
    " file_sha256 text NOT NULL,"
    " settings text NOT NULL,"
    " header bytea NOT NULL,"
    " delimiter bigint NOT NULL,"
    " had_bom bigint NOT NULL,"
    " created_at_ms bigint NOT NULL,"
    " finished_at_ms bigint NOT NULL DEFAULT 0,"
    " plan text);"
    "CREATE TABLE pb_rows ("
    " batch bigint NOT NULL REFERENCES pb_batches (id),"
    " row_no bigint NOT NULL,"
    " state text NOT NULL CHECK (state IN ('invalid', 'queued', 'sending', 'in_doubt',"
    "  'accepted', 'rejected', 'success', 'decline', 'error', 'reversed')),"
    " payment_id text NOT NULL,"
    " method text NOT NULL,"
    " amount bigint NOT NULL,"
    " currency text NOT NULL,"
    " account_masked text NOT NULL,"
    " cells bytea NOT NULL,"
    " findings text,"
    " attempts bigint NOT NULL,"
    " next_at_ms bigint NOT NULL,"
    " code text NOT NULL,"
    " message text NOT NULL,"
    " gate_status text NOT NULL,"
    " request_id text NOT NULL,"
    " operation_id text NOT NULL,"
    " provider_payment_id text NOT NULL,"
    " updated_at_ms bigint NOT NULL,"
    " reversed bigint NOT NULL DEFAULT 0,"
    " payee_key text,"
    " PRIMARY KEY (batch, row_no));"
    "CREATE INDEX pb_rows_pick ON pb_rows (batch, state, row_no);"
    "CREATE INDEX pb_rows_payee ON pb_rows (payee_key) WHERE payee_key IS NOT NULL;"
    "CREATE UNIQUE INDEX pb_rows_payment_id ON pb_rows (payment_id)"
    " WHERE state <> 'invalid' AND payment_id <> '';"
    /* one record per distinct body: a callback delivered to two receivers is kept once */
    "CREATE TABLE pb_inbox ("
    " id bigserial PRIMARY KEY,"
    " received_at_ms bigint NOT NULL,"
    " body bytea NOT NULL,"
    " body_sha256 bytea GENERATED ALWAYS AS (sha256(body)) STORED UNIQUE,"
    " payment_id text,"
    " matched bigint NOT NULL,"
    " batch bigint,"
    " row_no bigint);"
    "CREATE INDEX pb_inbox_payment_id ON pb_inbox (payment_id);";

/* Schema 2 (several workers on one batch): a row's lease (who works it, until when on the
 * database's clock) and the shared rate's GCRA rows. A new store gets schema 1 and this. */
static const char pb__schema_2[] =
    "ALTER TABLE pb_rows ADD COLUMN lease_owner text, ADD COLUMN lease_until timestamptz;"
    "CREATE TABLE pb_rate ("
    " key text PRIMARY KEY,"
    " tat timestamptz NOT NULL,"
    " paused_until timestamptz NOT NULL DEFAULT '-infinity');";

/* pg_advisory_xact_lock key of schema creation: "PBST" */
#define PB__PG_SCHEMA_LOCK "1346523988"

void pb__pg_int(pb__pgp *p, int64_t v)
{
    snprintf(p->num[p->n], sizeof(p->num[0]), "%lld", (long long)v);
    p->val[p->n] = p->num[p->n];
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->n++;
}

void pb__pg_str(pb__pgp *p, const char *s, size_t len)
{
    p->val[p->n] = s ? s : "";
    p->len[p->n] = s ? (int)len : 0;
    p->fmt[p->n] = 1;
    p->n++;
}

void pb__pg_cstr(pb__pgp *p, const char *s)
{
    pb__pg_str(p, s, s ? strlen(s) : 0);
}

void pb__pg_null(pb__pgp *p)
{
    p->val[p->n] = NULL;
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->n++;
}

/* The first line of a libpq message (they end in a newline). */
static void pb__first_line(const char *msg, char *out, size_t cap)
{
    size_t n = strcspn(msg ? msg : "", "\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, msg ? msg : "", n);
    out[n] = '\0';
}

static int pb__gone(pb__pgstore *ps, const char *what)
{
    char line[256];
    pb__first_line(PQerrorMessage(ps->conn), line, sizeof(line));
    pb_error_set("store %s: %s: the database is unavailable: %s", ps->label, what,
                 line[0] ? line : "connection lost");
    return PB_EAGAIN;
}

/* A connection found broken by an earlier call gets one reconnect before the next one; the
 * batch lock it held went with the old session and is taken again first: a handle that
 * cannot get it back (another process took the batch meanwhile) fails from then on. */
static int pb__ready(pb__pgstore *ps, const char *what)
{
    int got = 0;
    if (ps->lock_lost) {
        pb_error_set("store %s: %s: the connection was lost and another process took batch %s "
                     "meanwhile",
                     ps->label, what, ps->locked);
        return PB_EAGAIN;
    }
    if (PQstatus(ps->conn) == CONNECTION_OK && !ps->reset)
        return PB_OK;
    ps->reset = 0;
    PQreset(ps->conn);
    if (PQstatus(ps->conn) != CONNECTION_OK)
        return pb__gone(ps, what);
    if (ps->locked && (pb__pg_try_lock(ps, ps->locked, &got) < 0 || !got)) {
        ps->lock_lost = 1;
        pb_error_set("store %s: %s: the connection was lost and another process took batch %s "
                     "meanwhile",
                     ps->label, what, ps->locked);
        return PB_EAGAIN;
    }
    return PB_OK;
}

/* The error of a failed result r (released here), or of the connection when r is NULL. */
static int pb__fail(pb__pgstore *ps, PGresult *r, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char line[256];
    int rc;
    if (!r || PQstatus(ps->conn) != CONNECTION_OK || (state && strncmp(state, "08", 2) == 0) ||
        (state && strncmp(state, "57P", 3) == 0)) {
        PQclear(r);
        return pb__gone(ps, what);
    }
    pb__first_line(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY), line, sizeof(line));
    pb_error_set("store %s: %s: %s", ps->label, what, line);
    rc = state && strcmp(state, "23505") == 0   ? PB_EEXISTS
         : state && strcmp(state, "53200") == 0 ? PB_ENOMEM
                                                : PB_EIO;
    PQclear(r);
    return rc;
}

int pb__pg_exec(pb__pgstore *ps, const char *sql, const pb__pgp *p, const char *what,
                PGresult **res)
{
    PGresult *r;
    ExecStatusType st;
    int rc;
    *res = NULL;
    if ((rc = pb__ready(ps, what)) < 0)
        return rc;
    r = PQexecParams(ps->conn, sql, p ? p->n : 0, NULL, p ? p->val : NULL, p ? p->len : NULL,
                     p ? p->fmt : NULL, 1);
    st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        *res = r;
        return PB_OK;
    }
    return pb__fail(ps, r, what);
}

/* Statements queued in one pipeline segment before its results are read: their answers
 * (~40 bytes each) stay far below a socket buffer, so a blocking send never waits for a
 * reader that is not reading. */
#define PB__PIPE_SEG 256

static int pb__send(pb__pgstore *ps, const char *sql, const pb__pgp *p)
{
    return PQsendQueryParams(ps->conn, sql, p ? p->n : 0, NULL, p ? p->val : NULL,
                             p ? p->len : NULL, p ? p->fmt : NULL, 1)
               ? PB_OK
               : PB_EAGAIN;
}

/* Read the results of `queued` statements and the sync point. The first statement of the
 * whole transaction (is_first) is the batch check: no row is PB_ENOTFOUND. Rows changed are
 * added to *affected. The first failure is kept in rc (later ones are its consequences). */
static int pb__drain(pb__pgstore *ps, size_t queued, int check_first, uint64_t batch,
                     size_t *affected, const char *what)
{
    int rc = PB_OK;
    size_t i;
    PGresult *r;
    for (i = 0; i < queued; i++) {
        ExecStatusType st;
        r = PQgetResult(ps->conn);
        if (!r)
            return rc < 0 ? rc : pb__gone(ps, what);
        st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            if (i == 0 && check_first && PQntuples(r) == 0 && rc == 0) {
                pb_error_set("store %s: no batch %llu", ps->label, (unsigned long long)batch);
                rc = PB_ENOTFOUND;
            } else if (st == PGRES_COMMAND_OK && affected) {
                *affected += (size_t)strtoul(PQcmdTuples(r), NULL, 10);
            }
            PQclear(r);
        } else if (st == PGRES_PIPELINE_ABORTED) {
            PQclear(r);
        } else if (rc == 0) {
            rc = pb__fail(ps, r, what);
        } else {
            PQclear(r);
        }
        /* the end of this statement's results */
        while ((r = PQgetResult(ps->conn)) != NULL)
            PQclear(r);
    }
    r = PQgetResult(ps->conn);
    if (!r || PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
        PQclear(r);
        return rc < 0 ? rc : pb__gone(ps, what);
    }
    PQclear(r);
    return rc;
}

int pb__pg_pipeline_txn(pb__pgstore *ps, uint64_t batch, const char *sql, size_t n,
                        pb__pg_fill fill, const void *arg, const char *what, size_t *affected)
{
    pb__pgp p;
    size_t i = 0, queued = 0;
    int rc, first = 1;
    if (affected)
        *affected = 0;
    if ((rc = pb__ready(ps, what)) < 0)
        return rc;
    if (!PQenterPipelineMode(ps->conn))
        return pb__gone(ps, what);
    p.n = 0;
    pb__pg_int(&p, (int64_t)batch);
    if ((rc = pb__send(ps, "BEGIN", NULL)) < 0 ||
        (rc = pb__send(ps, "SELECT 1 FROM pb_batches WHERE id = $1", &p)) < 0)
        goto out;
    queued = 2;
    while (rc == 0) {
        if (i < n) {
            p.n = 0;
            fill(i, &p, arg);
            if ((rc = pb__send(ps, sql, &p)) < 0)
                break;
            i++;
            queued++;
        }
        if (i == n && (rc = pb__send(ps, "COMMIT", NULL)) < 0)
            break;
        if (i == n)
            queued++;
        if (i == n || queued >= PB__PIPE_SEG) {
            if (!PQpipelineSync(ps->conn)) {
                rc = PB_EAGAIN;
                break;
            }
            /* BEGIN's result comes first: the check is the second of the first segment */
            if (first) {
                PGresult *b = PQgetResult(ps->conn);
                ExecStatusType st = b ? PQresultStatus(b) : PGRES_FATAL_ERROR;
                if (st != PGRES_COMMAND_OK) {
                    rc = pb__fail(ps, b, what);
                    b = NULL;
                }
                PQclear(b);
                while ((b = PQgetResult(ps->conn)) != NULL)
                    PQclear(b);
                queued--;
            }
            if (rc == 0)
                rc = pb__drain(ps, queued, first, batch, affected, what);
            else
                (void)pb__drain(ps, queued, 0, batch, NULL, what); /* empty the pipeline */
            first = 0;
            queued = 0;
            if (i == n)
                break;
        }
    }
out:
    if (rc == PB_EAGAIN && PQstatus(ps->conn) == CONNECTION_OK)
        rc = pb__gone(ps, what); /* a send that failed: the message of the connection */
    if (PQpipelineStatus(ps->conn) != PQ_PIPELINE_OFF && !PQexitPipelineMode(ps->conn))
        ps->reset = 1; /* results left unread (the connection failed mid-way): reconnect */
    if (rc == 0)
        return PB_OK; /* COMMIT was the last statement of the pipeline */
    if (affected)
        *affected = 0;
    return ps->reset ? rc : pb__pg_end(ps, rc); /* a failed transaction is rolled back */
}

/* Several statements without parameters (the schema): the simple query protocol. */
static int pb__script(pb__pgstore *ps, const char *sql, const char *what)
{
    PGresult *r = PQexec(ps->conn, sql);
    char line[256];
    int rc = PB_OK;
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        pb__first_line(r ? PQresultErrorMessage(r) : PQerrorMessage(ps->conn), line, sizeof(line));
        pb_error_set("store %s: %s: %s", ps->label, what, line);
        rc = PQstatus(ps->conn) == CONNECTION_OK ? PB_EIO : PB_EAGAIN;
    }
    PQclear(r);
    return rc;
}

int pb__pg_run(pb__pgstore *ps, const char *sql, const pb__pgp *p, const char *what)
{
    PGresult *r = NULL;
    int rc = pb__pg_exec(ps, sql, p, what, &r);
    PQclear(r);
    return rc;
}

int pb__pg_begin(pb__pgstore *ps)
{
    return pb__pg_run(ps, "BEGIN", NULL, "starting a transaction");
}

int pb__pg_end(pb__pgstore *ps, int rc)
{
    if (rc == 0)
        return pb__pg_run(ps, "COMMIT", NULL, "committing");
    if (PQstatus(ps->conn) == CONNECTION_OK && PQtransactionStatus(ps->conn) != PQTRANS_IDLE) {
        /* keep the first error's message: the rollback's own errors change nothing */
        PGresult *r = PQexec(ps->conn, "ROLLBACK");
        PQclear(r);
    }
    return rc;
}

int64_t pb__pg_i64(const PGresult *r, int row, int col)
{
    const unsigned char *v = (const unsigned char *)PQgetvalue(r, row, col);
    int len = PQgetlength(r, row, col), i;
    uint64_t u = 0;
    if (PQgetisnull(r, row, col) || len <= 0 || len > 8)
        return 0;
    for (i = 0; i < len; i++)
        u = (u << 8) | v[i];
    if (len < 8 && (v[0] & 0x80)) /* sign-extend int2 / int4 */
        u |= ~(uint64_t)0 << (len * 8);
    return (int64_t)u;
}

static void pb__set(char *dst, size_t cap, const PGresult *r, int i, int col)
{
    pb_row_field_set(dst, cap, PQgetvalue(r, i, col), (size_t)PQgetlength(r, i, col));
}

int pb__pg_read_row(pb__pgstore *ps, const PGresult *r, int i, pb_store_row *row, int own)
{
    const char *state = PQgetvalue(r, i, 2);
    const char *findings = PQgetisnull(r, i, 9) ? NULL : PQgetvalue(r, i, 9);
    memset(row, 0, sizeof(*row));
    row->batch = (uint64_t)pb__pg_i64(r, i, 0);
    row->row_no = (uint32_t)pb__pg_i64(r, i, 1);
    if (pb_row_state_parse(state, (size_t)PQgetlength(r, i, 2), &row->state) < 0) {
        pb_error_set("store %s: row %u has an unknown state '%s'", ps->label, row->row_no, state);
        return PB_EPARSE;
    }
    pb__set(row->payment_id, PB_STORE_PAYMENT_ID_MAX, r, i, 3);
    pb__set(row->method, PB_STORE_METHOD_MAX, r, i, 4);
    row->amount = pb__pg_i64(r, i, 5);
    pb__set(row->currency, PB_STORE_CURRENCY_MAX, r, i, 6);
    pb__set(row->account_masked, PB_STORE_ACCOUNT_MAX, r, i, 7);
    row->attempts = (uint32_t)pb__pg_i64(r, i, 10);
    row->next_at_ms = pb__pg_i64(r, i, 11);
    pb__set(row->code, PB_ROW_CODE_MAX, r, i, 12);
    pb__set(row->message, PB_ROW_MESSAGE_MAX, r, i, 13);
    pb__set(row->gate_status, PB_ROW_STATUS_MAX, r, i, 14);
    pb__set(row->request_id, PB_ROW_ID_MAX, r, i, 15);
    pb__set(row->operation_id, PB_ROW_ID_MAX, r, i, 16);
    pb__set(row->provider_payment_id, PB_ROW_ID_MAX, r, i, 17);
    row->updated_at_ms = pb__pg_i64(r, i, 18);
    row->reversed = (int)pb__pg_i64(r, i, 19);
    pb__set(row->payee_key, PB_STORE_SHA256_HEX, r, i, 20);
    if (own) {
        int rc =
            pb_store_row_dup_heap(row, PQgetvalue(r, i, 8), (size_t)PQgetlength(r, i, 8), findings);
        if (rc < 0)
            memset(row, 0, sizeof(*row));
        return rc;
    }
    row->cells = PQgetvalue(r, i, 8);
    row->cells_len = (size_t)PQgetlength(r, i, 8);
    row->findings = (char *)findings;
    return PB_OK;
}

int pb__pg_batch_check(pb__pgstore *ps, uint64_t batch)
{
    PGresult *r = NULL;
    pb__pgp p;
    int rc;
    p.n = 0;
    pb__pg_int(&p, (int64_t)batch);
    if ((rc = pb__pg_exec(ps, "SELECT 1 FROM pb_batches WHERE id = $1", &p, "finding a batch",
                          &r)) < 0)
        return rc;
    if (PQntuples(r) == 0) {
        pb_error_set("store %s: no batch %llu", ps->label, (unsigned long long)batch);
        rc = PB_ENOTFOUND;
    }
    PQclear(r);
    return rc;
}

/* One integer (or NULL as -1) from a query without parameters. */
static int pb__one_int(pb__pgstore *ps, const char *sql, int64_t *out)
{
    PGresult *r = NULL;
    int rc = pb__pg_exec(ps, sql, NULL, "reading the schema", &r);
    if (rc < 0)
        return rc;
    *out = PQntuples(r) == 0 || PQgetisnull(r, 0, 0) ? -1 : pb__pg_i64(r, 0, 0);
    PQclear(r);
    return PB_OK;
}

/* Create the schema in an empty database, or check the version of an existing one (and
 * upgrade it when migrate says so); one transaction under an advisory lock, so that processes
 * starting at once create it once. *from: the version found, 0 when it was created. */
static int pb__schema_check(pb__pgstore *ps, int migrate, int *from)
{
    int64_t meta = 0, batches = 0, version = 0;
    int rc;
    if ((rc = pb__pg_begin(ps)) < 0)
        return rc;
    if ((rc = pb__pg_run(ps, "SELECT pg_advisory_xact_lock(" PB__PG_SCHEMA_LOCK ")", NULL,
                         "locking the schema")) < 0 ||
        (rc = pb__one_int(ps,
                          "SELECT CASE WHEN to_regclass('pb_meta') IS NULL THEN 0 ELSE 1 END::int8",
                          &meta)) < 0 ||
        (rc = pb__one_int(
             ps, "SELECT CASE WHEN to_regclass('pb_batches') IS NULL THEN 0 ELSE 1 END::int8",
             &batches)) < 0)
        goto out;
    if (meta == 1) {
        if ((rc = pb__one_int(ps, "SELECT value FROM pb_meta WHERE key = 'schema_version'",
                              &version)) < 0)
            goto out;
        *from = (int)version;
        if (version == 1 && migrate) {
            if ((rc = pb__script(ps, pb__schema_2, "upgrading the schema from version 1 to 2")) <
                    0 ||
                (rc = pb__pg_run(ps,
                                 "UPDATE pb_meta SET value = " PB__STR(
                                     PB__PG_SCHEMA_VERSION) " WHERE key = 'schema_version'",
                                 NULL, "setting the schema version")) < 0)
                goto out;
        } else if (version == 1) {
            pb_error_set("store %s: the database holds paybatch schema version 1; this paybatch "
                         "needs version %d: stop every paybatch process that uses it, then run "
                         "`paybatch status --migrate --state URI` once",
                         ps->label, PB__PG_SCHEMA_VERSION);
            rc = PB_EINVAL;
        } else if (version != PB__PG_SCHEMA_VERSION) {
            pb_error_set("store %s: the database holds paybatch schema version %lld; this "
                         "paybatch reads version %d only (%s)",
                         ps->label, (long long)version, PB__PG_SCHEMA_VERSION,
                         version > PB__PG_SCHEMA_VERSION ? "upgrade paybatch"
                                                         : "no migration exists from it");
            rc = PB_EINVAL;
        }
        goto out;
    }
    if (batches == 1) {
        pb_error_set("store %s: the database has a pb_batches table but no paybatch schema "
                     "version: not a paybatch store",
                     ps->label);
        rc = PB_EINVAL;
        goto out;
    }
    *from = 0;
    if ((rc = pb__script(ps, pb__schema, "creating the schema")) < 0 ||
        (rc = pb__script(ps, pb__schema_2, "creating the schema")) < 0 ||
        (rc = pb__pg_run(ps,
                         "INSERT INTO pb_meta (key, value) VALUES ('schema_version', " PB__STR(
                             PB__PG_SCHEMA_VERSION) ")",
                         NULL, "setting the schema version")) < 0)
        goto out;
out:
    return pb__pg_end(ps, rc);
}

/* "postgresql://user@host:port/db" from the parsed URI (no password). */
static int pb__label(pb__pgstore *ps, const char *uri)
{
    char *err = NULL;
    const char *user = "", *host = "", *port = "", *db = "";
    PQconninfoOption *o = PQconninfoParse(uri, &err), *i;
    if (!o) {
        char line[200];
        pb__first_line(err ? err : "out of memory", line, sizeof(line));
        PQfreemem(err);
        pb_error_set("store: not a valid PostgreSQL URI: %s", line);
        return PB_EINVAL;
    }
    for (i = o; i->keyword; i++) {
        if (!i->val)
            continue;
        if (strcmp(i->keyword, "user") == 0)
            user = i->val;
        else if (strcmp(i->keyword, "host") == 0 || (strcmp(i->keyword, "hostaddr") == 0 && !*host))
            host = i->val;
        else if (strcmp(i->keyword, "port") == 0)
            port = i->val;
        else if (strcmp(i->keyword, "dbname") == 0)
            db = i->val;
    }
    snprintf(ps->label, sizeof(ps->label), "postgresql://%s%s%s%s%s/%s", user, *user ? "@" : "",
             host, *port ? ":" : "", port, db);
    PQconninfoFree(o);
    return PB_OK;
}

static void pb__quiet(void *arg, const char *message)
{
    (void)arg;     /* notices (an index created, a skipped lock) are not errors */
    (void)message; /* and the CLI writes its own log */
}

/* Wrong credentials or names are the caller's configuration; anything else is the server
 * or the network, which may come back. */
static int pb__connect_error(const char *msg)
{
    static const char *const config[] = {"password authentication failed",
                                         "no password supplied",
                                         "does not exist",
                                         "no pg_hba.conf entry",
                                         "invalid",
                                         "authentication"};
    size_t i;
    for (i = 0; i < sizeof(config) / sizeof(config[0]); i++)
        if (strstr(msg, config[i]))
            return PB_EINVAL;
    return PB_EAGAIN;
}

int pb_store_pg_schema_version(void)
{
    return PB__PG_SCHEMA_VERSION;
}

static int pb__open(pb_store **out, const char *uri, int migrate, int *from);

int pb_store_pg_open(pb_store **out, const char *uri)
{
    int from = 0;
    return pb__open(out, uri, 0, &from);
}

int pb_store_pg_open_migrate(pb_store **out, const char *uri, int *from)
{
    return pb__open(out, uri, 1, from);
}

static int pb__open(pb_store **out, const char *uri, int migrate, int *from)
{
    /* ours first: the URI's own settings override them */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"10", "paybatch", uri, NULL};
    pb__pgstore *ps;
    int rc;
    *out = NULL;
    ps = pb_calloc(1, sizeof(*ps));
    if (!ps)
        return pb_error_set("store: out of memory"), PB_ENOMEM;
    ps->base.ops = &pb__pg_ops;
    if ((rc = pb__label(ps, uri)) < 0)
        goto out;
    ps->conn = PQconnectdbParams(keys, vals, 1);
    if (!ps->conn) {
        pb_error_set("store %s: out of memory", ps->label);
        rc = PB_ENOMEM;
        goto out;
    }
    if (PQstatus(ps->conn) != CONNECTION_OK) {
        char line[256];
        pb__first_line(PQerrorMessage(ps->conn), line, sizeof(line));
        rc = pb__connect_error(line);
        pb_error_set("store %s: %s: %s", ps->label,
                     rc == PB_EINVAL ? "the database refused the connection"
                                     : "cannot reach the database",
                     line);
        goto out;
    }
    PQsetNoticeProcessor(ps->conn, pb__quiet, NULL);
    if ((rc = pb__pg_run(ps, "SET client_min_messages = warning", NULL, "opening")) < 0 ||
        (rc = pb__schema_check(ps, migrate, from)) < 0)
        goto out;
    *out = &ps->base;
out:
    if (rc < 0)
        pb__pg_free(&ps->base);
    return rc;
}

void pb__pg_free(pb_store *st)
{
    pb__pgstore *ps = (pb__pgstore *)st;
    if (!ps)
        return;
    pb_free(ps->locked);
    pb_free(ps->worker);
    PQfinish(ps->conn);
    pb_free(ps);
}
