/*
 * store_sqlite_open.c - opening a SQLite store: pragmas (WAL, synchronous=FULL, busy
 * timeout, foreign keys), the schema and its version, and closing.
 */
#include "batch/store/store_sqlite_int.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The paid-recently index (store_sqlite_int.h PB__SQ_PAYEE_KEY). */
#define PB__PAYEE_INDEX                                                                            \
    "CREATE INDEX row_data_payee ON row_data (" PB__SQ_PAYEE_KEY ") WHERE payee_key IS NOT NULL"
/* What a row never changes after its insert (schema 5), apart from its state (store_sqlite.c
 * PB__ROWCOLS): without the cells (115 bytes on average in bench_send) and the 64-digit
 * paid-recently key, a `rows` record is a third the size, and a claim or a commit of a hundred
 * rows rewrites a third of the pages (100,000-row send: 29,000 WAL frames for claims and
 * commits before, 21,000 with the cells alone moved out). */
#define PB__ROW_DATA                                                                               \
    "CREATE TABLE row_data ("                                                                      \
    " batch INTEGER NOT NULL,"                                                                     \
    " row_no INTEGER NOT NULL,"                                                                    \
    " cells BLOB NOT NULL,"                                                                        \
    " payee_key TEXT,"                                                                             \
    " PRIMARY KEY (batch, row_no)) STRICT, WITHOUT ROWID"

/* Invalid rows may repeat or lack a payment id (they are never sent), so uniqueness holds
 * for the rows that can be paid: those without findings (store_sqlite.c PB__PAYABLE), a
 * condition no update changes. The pick index serves claim and due in row order and stops
 * at LIMIT; next_at_ms rides along so that the filter needs no table lookup. Every index
 * with the state in it is written again at each state change, twice per row sent: there is
 * no other (schema 3 dropped rows_next, an index of next_at). */
static const char pb__schema[] =
    "CREATE TABLE batches ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " file_name TEXT NOT NULL,"
    " file_sha256 TEXT NOT NULL,"
    " settings TEXT NOT NULL,"
    " header BLOB NOT NULL,"
    " delimiter INTEGER NOT NULL,"
    " had_bom INTEGER NOT NULL,"
    " created_at_ms INTEGER NOT NULL,"
    " finished_at_ms INTEGER NOT NULL DEFAULT 0,"
    " plan TEXT) STRICT;"
    "CREATE TABLE rows ("
    " batch INTEGER NOT NULL REFERENCES batches (id),"
    " row_no INTEGER NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('invalid', 'queued', 'sending', 'in_doubt',"
    "  'accepted', 'rejected', 'success', 'decline', 'error', 'reversed')),"
    " payment_id TEXT NOT NULL,"
    " method TEXT NOT NULL,"
    " amount INTEGER NOT NULL,"
    " currency TEXT NOT NULL,"
    " account_masked TEXT NOT NULL,"
    " findings TEXT,"
    " attempts INTEGER NOT NULL,"
    " next_at_ms INTEGER NOT NULL,"
    " code TEXT NOT NULL,"
    " message TEXT NOT NULL,"
    " gate_status TEXT NOT NULL,"
    " request_id TEXT NOT NULL,"
    " operation_id TEXT NOT NULL,"
    " provider_payment_id TEXT NOT NULL,"
    " updated_at_ms INTEGER NOT NULL,"
    " reversed INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (batch, row_no)) STRICT;" PB__ROW_DATA ";"
    "CREATE INDEX rows_pick ON rows (batch, state, row_no, next_at_ms);"
    "CREATE UNIQUE INDEX rows_payment_id ON rows (payment_id)"
    " WHERE findings IS NULL AND payment_id <> '';"
    "CREATE TABLE inbox ("
    " id INTEGER PRIMARY KEY,"
    " received_at_ms INTEGER NOT NULL,"
    " body BLOB NOT NULL,"
    " payment_id TEXT,"
    " matched INTEGER NOT NULL,"
    " batch INTEGER,"
    " row_no INTEGER) STRICT;"
    "CREATE INDEX inbox_payment_id ON inbox (payment_id);" PB__PAYEE_INDEX ";";

/* Schema 1 -> 2 (issue #14): the paid-recently key of each row (NULL for the rows stored
 * before: they are not found by the check) and the plan a batch was sent under. */
static const char pb__migrate_1_2[] =
    "ALTER TABLE rows ADD COLUMN payee_key TEXT;"
    "ALTER TABLE batches ADD COLUMN plan TEXT;"
    "CREATE INDEX rows_payee ON rows (payee_key) WHERE payee_key IS NOT NULL;"
    "PRAGMA user_version = 2;";

/* Schema 2 -> 3: payable rows are told by their findings, not their state, and the index of
 * next_at goes (bench_store, 100,000 rows: claim + mark 2.0 s of CPU before, 1.5 s after).
 * Every paybatch wrote findings for invalid rows only; an invalid row without any gets ''. */
static const char pb__migrate_2_3[] =
    "UPDATE rows SET findings = '' WHERE state = 'invalid' AND findings IS NULL;"
    "UPDATE rows SET findings = NULL WHERE state <> 'invalid' AND findings IS NOT NULL;"
    "DROP INDEX IF EXISTS rows_next;"
    "DROP INDEX rows_payment_id;"
    "CREATE UNIQUE INDEX rows_payment_id ON rows (payment_id)"
    " WHERE findings IS NULL AND payment_id <> '';"
    "PRAGMA user_version = 3;";

/* Schema 3 -> 4: the paid-recently index keys 16 hex digits of the payee key instead of 64
 * (a fifth of the pages; the query compares the whole key after it). */
static const char pb__migrate_3_4[] =
    "DROP INDEX rows_payee;"
    "CREATE INDEX rows_payee ON rows (" PB__SQ_PAYEE_KEY ") WHERE payee_key IS NOT NULL;"
    "PRAGMA user_version = 4;";

/* Schema 4 -> 5: the cells and the paid-recently key move to row_data (PB__ROW_DATA); the
 * columns are dropped from rows (SQLite rewrites the table), the index goes with its key. */
static const char pb__migrate_4_5[] = PB__ROW_DATA
    ";"
    "INSERT INTO row_data (batch, row_no, cells, payee_key) SELECT batch, row_no, cells, "
    "payee_key FROM rows;"
    "DROP INDEX rows_payee;"
    "ALTER TABLE rows DROP COLUMN cells;"
    "ALTER TABLE rows DROP COLUMN payee_key;" PB__PAYEE_INDEX ";"
    "PRAGMA user_version = 5;";

static int pb__exec(pb__sstore *ss, const char *sql, const char *what)
{
    int rc = sqlite3_exec(ss->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? PB_OK : pb__sq_err(ss, rc, what);
}

/* One integer from a pragma or query. */
static int pb__int(pb__sstore *ss, const char *sql, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(ss->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(s, 0);
            rc = SQLITE_OK;
        }
    }
    if (rc != SQLITE_OK)
        rc = pb__sq_err(ss, rc, sql);
    sqlite3_finalize(s);
    return rc;
}

static int pb__journal_wal(pb__sstore *ss)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(ss->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        rc = pb__sq_err(ss, rc, "opening");
    } else if (strcmp((const char *)sqlite3_column_text(s, 0), "wal") != 0) {
        pb_error_set("store %s: cannot use write-ahead logging (journal mode stays %s)", ss->path,
                     (const char *)sqlite3_column_text(s, 0));
        rc = PB_EIO;
    } else {
        rc = PB_OK;
    }
    sqlite3_finalize(s);
    return rc;
}

/* Create the schema of a new file, or check the version of an existing one. */
static int pb__schema_check(pb__sstore *ss)
{
    int64_t version = 0, app = 0, objects = 0;
    char sql[64];
    int rc;
    if ((rc = pb__sq_begin(ss)) < 0)
        return rc;
    if ((rc = pb__int(ss, "PRAGMA user_version", &version)) < 0 ||
        (rc = pb__int(ss, "PRAGMA application_id", &app)) < 0 ||
        (rc = pb__int(ss, "SELECT count(*) FROM sqlite_schema", &objects)) < 0)
        goto out;
    if ((objects > 0 || version != 0) && app != PB__SQ_APPLICATION_ID) {
        pb_error_set("store %s: this SQLite database is not a paybatch store", ss->path);
        rc = PB_EINVAL;
        goto out;
    }
    if (version > PB__SQ_SCHEMA_VERSION) {
        pb_error_set("store %s: written by a newer paybatch (schema version %lld; this one "
                     "knows up to %d): upgrade paybatch",
                     ss->path, (long long)version, PB__SQ_SCHEMA_VERSION);
        rc = PB_EINVAL;
        goto out;
    }
    if (version == PB__SQ_SCHEMA_VERSION)
        goto out;
    if (version >= 1 && version <= 4) {
        /* in the transaction begun above: an upgrade is whole or not at all */
        if (version == 1)
            rc = pb__exec(ss, pb__migrate_1_2, "upgrading the schema from version 1 to 2");
        if (rc == 0 && version <= 2)
            rc = pb__exec(ss, pb__migrate_2_3, "upgrading the schema from version 2 to 3");
        if (rc == 0 && version <= 3)
            rc = pb__exec(ss, pb__migrate_3_4, "upgrading the schema from version 3 to 4");
        if (rc == 0)
            rc = pb__exec(ss, pb__migrate_4_5, "upgrading the schema from version 4 to 5");
        goto out;
    }
    /* a new file (a second process may have won the race: we re-read inside the lock) */
    snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d",
             PB__SQ_APPLICATION_ID, PB__SQ_SCHEMA_VERSION);
    if ((rc = pb__exec(ss, pb__schema, "creating the schema")) < 0 ||
        (rc = pb__exec(ss, sql, "setting the schema version")) < 0)
        goto out;
out:
    return pb__sq_end(ss, rc);
}

static pthread_once_t pb__sq_once = PTHREAD_ONCE_INIT;

/* Statement journals (the pages a savepoint may have to put back: every op of a send group is
 * one) stay in memory up to this size, not SQLite's 64 KiB: past it each went to a temp file
 * of its own, opened, written page by page and deleted (bench_send, 20,000 rows: 27,000 of
 * the run's 44,000 pwrite calls). An op's savepoint holds a few hundred KiB at most (a slice
 * of a chunk, a claim, a commit); a larger one, such as a schema upgrade of a big store,
 * still spills, so memory stays bounded. */
#define PB__SQ_STMTJRNL_SPILL (4 * 1024 * 1024)

/* Before SQLite's first use in the process: no memory statistics (they take a global mutex on
 * every allocation of every connection; nothing here reads them). Too late (SQLite already
 * initialised by someone else) is harmless: the default stays. */
static void pb__sq_config(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, PB__SQ_STMTJRNL_SPILL);
}

int pb_store_sqlite_open(pb_store **out, const char *path)
{
    pb__sstore *ss;
    int rc;
    *out = NULL;
    ss = pb_calloc(1, sizeof(*ss));
    if (!ss)
        return pb_error_set("store %s: out of memory", path), PB_ENOMEM;
    ss->base.ops = &pb__sqlite_ops;
    ss->path = pb_strdup(path);
    if (!ss->path) {
        pb_free(ss);
        return pb_error_set("store %s: out of memory", path), PB_ENOMEM;
    }
    pthread_once(&pb__sq_once, pb__sq_config);
    /* NOMUTEX: a handle is only ever used by one thread at a time (store.h), so SQLite's
     * per-call connection mutex is pure cost */
    rc = sqlite3_open_v2(path, &ss->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = pb__sq_err(ss, rc, "opening");
        goto out;
    }
    sqlite3_extended_result_codes(ss->db, 1);
    sqlite3_busy_timeout(ss->db, PB__SQ_BUSY_MS);
    /* WAL first: it is the first statement that reads the file, so a file that is not a
     * database is reported here */
    if ((rc = pb__journal_wal(ss)) < 0 ||
        (rc = pb__exec(ss, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", "opening")) < 0)
        goto out;
    if (sqlite3_db_readonly(ss->db, "main") == 1) {
        pb_error_set("store %s: the file is not writable", path);
        rc = PB_EIO;
        goto out;
    }
    if ((rc = pb__schema_check(ss)) < 0)
        goto out;
    *out = &ss->base;
out:
    if (rc < 0)
        pb__sq_free(&ss->base);
    return rc;
}

void pb__sq_free(pb_store *st)
{
    pb__sstore *ss = (pb__sstore *)st;
    int i;
    if (!ss)
        return;
    for (i = 0; i < PB__Q_COUNT; i++)
        sqlite3_finalize(ss->stmt[i]);
    /* close_v2: a walk left unfinished by a crashing caller must not make this fail */
    sqlite3_close_v2(ss->db);
    pb_free(ss->path);
    pb_free(ss);
}
