/*
 * The store conformance suite against the SQLite backend, plus what only a file can show:
 * claims committed across reopen and crash, two handles on one file, files that are not
 * stores.
 */
#define _GNU_SOURCE /* nftw */
#include "store/conformance.c"

#include "batch/store/store_sqlite_int.h"

#include <ftw.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char pb_conf_dir[64];
static char pb_conf_path[128];
static unsigned pb_conf_seq;

static const char *pb_conf_uri(void)
{
    snprintf(pb_conf_path, sizeof(pb_conf_path), "%s/s%u.db", pb_conf_dir, ++pb_conf_seq);
    return pb_conf_path;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    (void)state;
    snprintf(pb_conf_dir, sizeof(pb_conf_dir), "/tmp/pb-store-XXXXXX");
    return mkdtemp(pb_conf_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(pb_conf_dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_claim_committed_across_reopen(void **state)
{
    pb_store *st = conf_open();
    char path[128];
    uint64_t b = conf_filled(st, "r", pb_conf_sha_a, 5);
    pb_store_row out[4];
    size_t n;
    (void)state;
    snprintf(path, sizeof(path), "%s", pb_conf_path);
    assert_string_equal(pb_store_backend(st), "sqlite");
    assert_int_equal(pb_store_claim(st, b, 0, 2, out, &n), 0);
    pb_store_rows_clear(out, n);
    pb_store_free(st);
    assert_int_equal(pb_store_open(&st, path), 0);
    assert_int_equal(conf_state(st, b, 2), PB_ROW_SENDING);
    assert_int_equal(conf_state(st, b, 3), PB_ROW_SENDING);
    assert_int_equal(conf_state(st, b, 4), PB_ROW_QUEUED);
    /* after a restart every sending row is due for a status query */
    assert_int_equal(pb_store_due(st, b, 0, 4, out, &n), 0);
    assert_int_equal(n, 2);
    pb_store_rows_clear(out, n);
    pb_store_free(st);
}

/* A group is one transaction: another handle sees nothing before group_end, and a store
 * freed inside a group (a crash) keeps none of it. */
static void test_group_is_one_transaction(void **state)
{
    pb_store *st = conf_open(), *other = NULL;
    char path[128];
    uint64_t b = conf_filled(st, "gt", pb_conf_sha_a, 4);
    pb_store_row out[4];
    pb_row_update u = conf_upd(2, PB_ROW_SENDING, PB_ROW_ACCEPTED);
    size_t n;
    (void)state;
    snprintf(path, sizeof(path), "%s", pb_conf_path);
    assert_int_equal(pb_store_open(&other, path), 0);
    assert_int_equal(pb_store_group_begin(st), 0);
    assert_int_equal(pb_store_claim(st, b, 0, 2, out, &n), 0);
    pb_store_rows_clear(out, n);
    assert_int_equal(pb_store_mark(st, b, &u, 1, NULL), 0);
    assert_int_equal(conf_state(other, b, 2), PB_ROW_QUEUED);
    assert_int_equal(pb_store_group_end(st), 0);
    assert_int_equal(conf_state(other, b, 2), PB_ROW_ACCEPTED);
    assert_int_equal(conf_state(other, b, 3), PB_ROW_SENDING);
    /* freed inside a group: rolled back */
    assert_int_equal(pb_store_group_begin(st), 0);
    assert_int_equal(pb_store_claim(st, b, 0, 2, out, &n), 0);
    assert_int_equal(n, 2);
    pb_store_rows_clear(out, n);
    pb_store_free(st);
    assert_int_equal(conf_state(other, b, 4), PB_ROW_QUEUED);
    assert_int_equal(conf_state(other, b, 5), PB_ROW_QUEUED);
    pb_store_free(other);
}

static void test_crash_after_claim(void **state)
{
    pb_store *st = conf_open();
    char path[128];
    uint64_t b = conf_filled(st, "k", pb_conf_sha_a, 10);
    pb_store_row out[4];
    pb_batch_counts c;
    size_t n;
    int status;
    pid_t pid;
    (void)state;
    snprintf(path, sizeof(path), "%s", pb_conf_path);
    pb_store_free(st);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        pb_store *cs = NULL;
        if (pb_store_open(&cs, path) != 0 || pb_store_claim(cs, b, 0, 4, out, &n) != 0 || n != 4)
            _exit(3);
        _exit(0); /* no close, no checkpoint: as if killed right after the claim */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(pb_store_open(&st, path), 0);
    assert_int_equal(pb_store_counts(st, b, &c), 0);
    assert_int_equal(c.rows[PB_ROW_SENDING], 4);
    assert_int_equal(c.rows[PB_ROW_QUEUED], 6);
    pb_batch_counts_clear(&c);
    assert_int_equal(pb_store_row_get(st, b, 5, &out[0]), 0);
    assert_int_equal(out[0].state, PB_ROW_SENDING);
    assert_int_equal(out[0].attempts, 1);
    pb_store_row_clear(&out[0]);
    pb_store_free(st);
}

/* Two handles (as a `send` and a `listen` would have) interleave claims: no row twice. */
static void test_two_handles_interleave(void **state)
{
    enum { N = 500 };
    pb_store *a = conf_open(), *b2 = NULL;
    uint64_t b = conf_filled(a, "two", pb_conf_sha_a, N);
    unsigned char seen[N + 2];
    pb_store_row out[7];
    size_t n, i, total = 0;
    int turn = 0, empty = 0;
    (void)state;
    assert_int_equal(pb_store_open(&b2, pb_conf_path), 0);
    memset(seen, 0, sizeof(seen));
    while (empty < 2) {
        pb_store *h = (turn++ & 1) ? b2 : a;
        assert_int_equal(pb_store_claim(h, b, 0, 7, out, &n), 0);
        empty = n == 0 ? empty + 1 : 0;
        for (i = 0; i < n; i++) {
            assert_int_equal(seen[out[i].row_no], 0);
            seen[out[i].row_no] = 1;
        }
        total += n;
        pb_store_rows_clear(out, n);
    }
    assert_int_equal(total, N);
    pb_store_free(b2);
    pb_store_free(a);
}

/* Two processes claim at once on one file: every row exactly once. */
static void test_two_processes_claim(void **state)
{
    enum { N = 2000 };
    pb_store *st = conf_open();
    char path[128];
    uint64_t b = conf_filled(st, "proc", pb_conf_sha_a, N);
    unsigned char seen[N + 2];
    int fds[2][2], p, status;
    pid_t pid[2];
    size_t total = 0;
    (void)state;
    snprintf(path, sizeof(path), "%s", pb_conf_path);
    pb_store_free(st);
    for (p = 0; p < 2; p++) {
        assert_int_equal(pipe(fds[p]), 0);
        pid[p] = fork();
        assert_true(pid[p] >= 0);
        if (pid[p] == 0) {
            pb_store *cs = NULL;
            pb_store_row out[16];
            size_t n, i;
            close(fds[p][0]);
            if (pb_store_open(&cs, path) != 0)
                _exit(3);
            do {
                if (pb_store_claim(cs, b, 0, 16, out, &n) != 0)
                    _exit(4);
                for (i = 0; i < n; i++) {
                    uint32_t r = out[i].row_no;
                    if (write(fds[p][1], &r, sizeof(r)) != sizeof(r))
                        _exit(5);
                }
                pb_store_rows_clear(out, n);
            } while (n > 0);
            pb_store_free(cs);
            _exit(0);
        }
        close(fds[p][1]);
    }
    memset(seen, 0, sizeof(seen));
    for (p = 0; p < 2; p++) {
        uint32_t r;
        while (read(fds[p][0], &r, sizeof(r)) == sizeof(r)) {
            assert_true(r >= 2 && r < N + 2);
            assert_int_equal(seen[r], 0);
            seen[r] = 1;
            total++;
        }
        close(fds[p][0]);
        assert_int_equal(waitpid(pid[p], &status, 0), pid[p]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(total, N);
}

static void write_file(const char *path, const char *text, size_t times)
{
    FILE *f = fopen(path, "w");
    size_t i;
    assert_non_null(f);
    for (i = 0; i < times; i++)
        fputs(text, f);
    fclose(f);
}

static void test_not_a_database(void **state)
{
    pb_store *st = (pb_store *)1;
    const char *path = pb_conf_uri();
    (void)state;
    write_file(path, "row_no;payment_id;amount\n2;p-1;100\n", 200);
    assert_int_equal(pb_store_open(&st, path), PB_EIO);
    assert_null(st);
    assert_non_null(strstr(pb_error_last(), path));
    assert_non_null(strstr(pb_error_last(), "not a database"));
}

static void test_unwritable(void **state)
{
    pb_store *st = NULL;
    char path[160];
    (void)state;
    snprintf(path, sizeof(path), "%s/no/such/dir/x.db", pb_conf_dir);
    assert_int_equal(pb_store_open(&st, path), PB_EIO);
    assert_null(st);
    assert_non_null(strstr(pb_error_last(), path));
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void test_schema_too_new(void **state)
{
    pb_store *st = conf_open();
    char path[128];
    (void)state;
    snprintf(path, sizeof(path), "%s", pb_conf_path);
    pb_store_free(st);
    raw_exec(path, "PRAGMA user_version = 99");
    st = (pb_store *)1;
    assert_int_equal(pb_store_open(&st, path), PB_EINVAL);
    assert_null(st);
    assert_non_null(strstr(pb_error_last(), "newer"));
    assert_non_null(strstr(pb_error_last(), "99"));
    assert_non_null(strstr(pb_error_last(), path));
}

/* One integer from a query on the file itself. */
static long long raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    long long v = -1;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* The schema of version 1, as paybatch before issue #14 wrote it. */
static const char pb_schema_v1[] =
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
    " finished_at_ms INTEGER NOT NULL DEFAULT 0) STRICT;"
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
    " cells BLOB NOT NULL,"
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
    " PRIMARY KEY (batch, row_no)) STRICT;"
    "CREATE INDEX rows_pick ON rows (batch, state, row_no, next_at_ms);"
    "CREATE UNIQUE INDEX rows_payment_id ON rows (payment_id)"
    " WHERE state <> 'invalid' AND payment_id <> '';"
    "CREATE TABLE inbox ("
    " id INTEGER PRIMARY KEY,"
    " received_at_ms INTEGER NOT NULL,"
    " body BLOB NOT NULL,"
    " payment_id TEXT,"
    " matched INTEGER NOT NULL,"
    " batch INTEGER,"
    " row_no INTEGER) STRICT;"
    "CREATE INDEX inbox_payment_id ON inbox (payment_id);";

/* A version 1 store is upgraded in place: its rows keep everything, have no paid-recently key
 * (not found by the check), and new rows get one. */
static void test_upgrade_from_1(void **state)
{
    static const char key[] = "3333333333333333333333333333333333333333333333333333333333333333";
    const char *path = pb_conf_uri();
    pb_store *st = NULL;
    pb_store_row r, got;
    pb_batch_info bi;
    conf_hits c;
    int created;
    (void)state;
    raw_exec(path, pb_schema_v1);
    raw_exec(path,
             "PRAGMA application_id = 1346523988; PRAGMA user_version = 1;"
             "INSERT INTO batches (name, file_name, file_sha256, settings, header, delimiter, "
             "had_bom, created_at_ms) VALUES ('old', 'f.csv', 'aa', '', x'', 44, 0, 1);"
             "INSERT INTO rows VALUES (1, 2, 'success', 'old-2', 'gcash', 100, 'PHP', "
             "'*1', x'', NULL, 1, 0, '', '', '', '', '', '', 9000, 0);");
    assert_int_equal(pb_store_open(&st, path), 0);
    assert_int_equal(pb_store_row_get(st, 1, 2, &got), 0);
    assert_string_equal(got.payment_id, "old-2");
    assert_int_equal(got.state, PB_ROW_SUCCESS);
    assert_string_equal(got.payee_key, "");
    pb_store_row_clear(&got);
    assert_int_equal(pb_store_batch_get(st, "old", &bi), 0);
    assert_null(bi.plan);
    pb_batch_info_clear(&bi);
    pb_batch_key k = conf_key("new", pb_conf_sha_b);
    k.plan = "digest=x\n";
    assert_int_equal(pb_store_batch_begin(st, &k, &bi, &created), 0);
    conf_row(&r, 2, "new-2", 100, "PHP");
    memcpy(r.payee_key, key, sizeof(key));
    assert_int_equal(pb_store_rows_add(st, bi.id, &r, 1), 0);
    assert_int_equal(pb_store_row_get(st, bi.id, 2, &got), 0);
    assert_string_equal(got.payee_key, key);
    pb_store_row_clear(&got);
    memset(&c, 0, sizeof(c));
    assert_int_equal(pb_store_paid_recently(st, key, 0, 0, conf_hit_cb, &c), 0);
    assert_int_equal(c.n, 0); /* queued: not paid */
    pb_batch_info_clear(&bi);
    pb_store_free(st);
    /* opened again: the current version stays */
    assert_int_equal(pb_store_open(&st, path), 0);
    pb_store_free(st);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), PB__SQ_SCHEMA_VERSION);
}

/* Schema 2, as paybatch before schema 3 left it: version 1's, its upgrade, and rows_next. */
static const char pb_schema_2_extra[] =
    "ALTER TABLE rows ADD COLUMN payee_key TEXT;"
    "ALTER TABLE batches ADD COLUMN plan TEXT;"
    "CREATE INDEX rows_payee ON rows (payee_key) WHERE payee_key IS NOT NULL;"
    "CREATE INDEX rows_next ON rows (batch, state, next_at_ms);"
    "PRAGMA application_id = 1346523988; PRAGMA user_version = 2;";

/* A version 2 store is upgraded in place to 3: payable rows are told by their findings (an
 * invalid row that had none gets ''), the index of next_at is gone, and the payment-id rule
 * holds as before: invalid rows may repeat an id, payable ones never. */
static void test_upgrade_from_2(void **state)
{
    const char *path = pb_conf_uri();
    pb_store *st = NULL;
    pb_store_row r, got;
    pb_batch_info bi;
    int created;
    char *owner = NULL;
    (void)state;
    raw_exec(path, pb_schema_v1);
    raw_exec(path, pb_schema_2_extra);
    raw_exec(path,
             "INSERT INTO batches (name, file_name, file_sha256, settings, header, delimiter, "
             "had_bom, created_at_ms) VALUES ('old', 'f.csv', 'aa', '', x'', 44, 0, 1);"
             "INSERT INTO rows VALUES (1, 2, 'accepted', 'dup', 'gcash', 100, 'PHP', "
             "'*1', x'', NULL, 1, 0, '', '', '', '', '', '', 9000, 0, NULL);"
             "INSERT INTO rows VALUES (1, 3, 'invalid', 'dup', 'gcash', 100, 'PHP', "
             "'*1', x'', NULL, 0, 0, '', '', '', '', '', '', 9000, 0, NULL);"
             "INSERT INTO rows VALUES (1, 4, 'invalid', 'other', 'gcash', 100, 'PHP', "
             "'*1', x'', 'bad-amount', 0, 0, '', '', '', '', '', '', 9000, 0, NULL);");
    assert_int_equal(pb_store_open(&st, path), 0);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), PB__SQ_SCHEMA_VERSION);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'rows_next'"),
                     0);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM rows WHERE findings IS NULL"), 1);
    /* the rows read as they were */
    assert_int_equal(pb_store_row_get(st, 1, 3, &got), 0);
    assert_int_equal(got.state, PB_ROW_INVALID);
    assert_null(got.findings);
    pb_store_row_clear(&got);
    assert_int_equal(pb_store_row_get(st, 1, 4, &got), 0);
    assert_string_equal(got.findings, "bad-amount");
    pb_store_row_clear(&got);
    assert_int_equal(pb_store_row_by_payment_id(st, "dup", 3, &got), 0);
    assert_int_equal(got.row_no, 2); /* the payable one, not the invalid row */
    pb_store_row_clear(&got);
    /* another batch: "dup" is taken by the payable row, "other" (invalid only) is free */
    assert_int_equal(pb_store_payment_id_owner(st, "dup", 3, 99, &owner), 0);
    assert_non_null(owner);
    assert_string_equal(owner, "old");
    pb_free(owner);
    owner = NULL;
    assert_int_equal(pb_store_payment_id_owner(st, "other", 5, 99, &owner), PB_ENOTFOUND);
    assert_null(owner);
    pb_batch_key k = conf_key("new", pb_conf_sha_b);
    assert_int_equal(pb_store_batch_begin(st, &k, &bi, &created), 0);
    conf_row(&r, 2, "dup", 100, "PHP");
    assert_int_equal(pb_store_rows_add(st, bi.id, &r, 1), PB_EEXISTS);
    conf_row(&r, 2, "other", 100, "PHP");
    assert_int_equal(pb_store_rows_add(st, bi.id, &r, 1), 0);
    pb_batch_info_clear(&bi);
    pb_store_free(st);
}

/* Schema 3 from schema 2 (the upgrade's SQL, as paybatch 3 left a store), and schema 4 from 3. */
static const char pb_schema_3_extra[] =
    "DROP INDEX rows_next;"
    "DROP INDEX rows_payment_id;"
    "CREATE UNIQUE INDEX rows_payment_id ON rows (payment_id) WHERE findings IS NULL AND "
    "payment_id <> '';"
    "PRAGMA user_version = 3;";
static const char pb_schema_4_extra[] =
    "DROP INDEX rows_payee;"
    "CREATE INDEX rows_payee ON rows (substr(payee_key, 1, 16)) WHERE payee_key IS NOT NULL;"
    "PRAGMA user_version = 4;";

/* A version 3 store (its paid-recently index keyed the whole payee key) and a version 4 store
 * (16 hex digits of it; cells and key still in `rows`) are upgraded to 5: the cells and the
 * key move to row_data. Every row reads as it was, cells byte for byte; paid rows are still
 * found, and only by their whole key, not by a key that shares those 16 digits; a claim still
 * hands out its rows' cells; `rows` keeps neither column. */
static void upgrade_from(int version)
{
    static const char k1[] = "0123456789abcdef1111111111111111111111111111111111111111111111aa";
    static const char k3[] = "0123456789abcdef3333333333333333333333333333333333333333333333cc";
    const char *path = pb_conf_uri();
    pb_store *st = NULL;
    pb_store_row got, out[2];
    conf_hits c;
    size_t n;
    raw_exec(path, pb_schema_v1);
    raw_exec(path, pb_schema_2_extra);
    raw_exec(path, pb_schema_3_extra);
    if (version == 4)
        raw_exec(path, pb_schema_4_extra);
    raw_exec(path,
             "INSERT INTO batches (name, file_name, file_sha256, settings, header, delimiter, "
             "had_bom, created_at_ms) VALUES ('old', 'f.csv', 'aa', '', x'', 44, 0, 1);"
             "INSERT INTO rows VALUES (1, 2, 'accepted', 'p3-2', 'gcash', 100, 'PHP', '*1', "
             "x'610062', NULL, 1, 0, '', '', '', '', '', '', 9000, 0, "
             "'0123456789abcdef1111111111111111111111111111111111111111111111aa');"
             "INSERT INTO rows VALUES (1, 3, 'queued', 'p3-3', 'gcash', 100, 'PHP', '*1', "
             "x'63', NULL, 0, 0, '', '', '', '', '', '', 9000, 0, "
             "'0123456789abcdef2222222222222222222222222222222222222222222222bb');"
             "INSERT INTO rows VALUES (1, 4, 'invalid', 'p3-4', 'gcash', 100, 'PHP', '*1', "
             "x'', 'bad-amount', 0, 0, '', '', '', '', '', '', 9000, 0, NULL);");
    assert_int_equal(pb_store_open(&st, path), 0);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), PB__SQ_SCHEMA_VERSION);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_schema WHERE name = "
                                   "'row_data_payee' AND sql LIKE '%substr(payee_key, 1, 16)%'"),
                     1);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'rows_payee'"),
                     0);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM pragma_table_info('rows') WHERE name IN "
                                   "('cells', 'payee_key')"),
                     0);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM row_data"), 3);
    assert_int_equal(pb_store_row_get(st, 1, 2, &got), 0);
    assert_int_equal(got.state, PB_ROW_ACCEPTED);
    assert_int_equal(got.cells_len, 3);
    assert_memory_equal(got.cells, "a\0b", 3);
    assert_string_equal(got.payee_key, k1);
    pb_store_row_clear(&got);
    assert_int_equal(pb_store_row_get(st, 1, 4, &got), 0);
    assert_int_equal(got.state, PB_ROW_INVALID);
    assert_string_equal(got.findings, "bad-amount");
    assert_string_equal(got.payee_key, "");
    pb_store_row_clear(&got);
    memset(&c, 0, sizeof(c));
    assert_int_equal(pb_store_paid_recently(st, k1, 999, 0, conf_hit_cb, &c), 0);
    assert_int_equal(c.n, 1);
    assert_non_null(strstr(c.seen[0], "old/2/accepted/p3-2"));
    memset(&c, 0, sizeof(c));
    assert_int_equal(pb_store_paid_recently(st, k3, 999, 0, conf_hit_cb, &c), 0);
    assert_int_equal(c.n, 0); /* the same 16 digits, another payee */
    assert_int_equal(pb_store_claim(st, 1, 1000, 2, out, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].row_no, 3);
    assert_int_equal(out[0].cells_len, 1);
    assert_memory_equal(out[0].cells, "c", 1);
    pb_store_rows_clear(out, n);
    pb_store_free(st);
}

static void test_upgrade_from_3(void **state)
{
    (void)state;
    upgrade_from(3);
}

static void test_upgrade_from_4(void **state)
{
    (void)state;
    upgrade_from(4);
}

static void test_foreign_database(void **state)
{
    pb_store *st = NULL;
    const char *path = pb_conf_uri();
    (void)state;
    raw_exec(path, "CREATE TABLE notes (t TEXT)");
    assert_int_equal(pb_store_open(&st, path), PB_EINVAL);
    assert_null(st);
    assert_non_null(strstr(pb_error_last(), "not a paybatch store"));
}

static void test_pragmas(void **state)
{
    pb_store *st = conf_open();
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    (void)state;
    assert_int_equal(sqlite3_open(pb_conf_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    /* the claim walks the pick index in row order, no sort, no table scan (the store names
     * the index: the planner preferred an index of next_at and sorted every queued row); the
     * earliest next_at reads the state's entries of the pick index, no table */
    {
        static const char *const q[][2] = {
            {"SELECT * FROM rows INDEXED BY rows_pick WHERE batch = 1 AND state = 'queued' AND "
             "next_at_ms <= 5 ORDER BY row_no LIMIT 64",
             "rows_pick"},
            {"SELECT MIN(next_at_ms) FROM rows WHERE batch = 1 AND state = 'queued' AND "
             "next_at_ms > 5",
             "COVERING INDEX rows_pick"},
        };
        char sql[512];
        for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
            snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", q[i][0]);
            assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
            while (sqlite3_step(s) == SQLITE_ROW) {
                const char *d = (const char *)sqlite3_column_text(s, 3);
                assert_null(strstr(d, "TEMP B-TREE"));
                assert_non_null(strstr(d, q[i][1]));
            }
            sqlite3_finalize(s);
        }
    }
    /* the store's own paid-recently statement searches the index on 16 digits of the payee
     * key (it names the same expression; without its `+` SQLite scanned the whole index) */
    {
        char plan[1024];
        int used = 0;
        snprintf(plan, sizeof(plan), "EXPLAIN QUERY PLAN %s", pb__sq_sql(PB__Q_PAID_RECENTLY));
        assert_int_equal(sqlite3_prepare_v2(db, plan, -1, &s, NULL), SQLITE_OK);
        while (sqlite3_step(s) == SQLITE_ROW)
            used |= strstr((const char *)sqlite3_column_text(s, 3),
                           "SEARCH d USING INDEX row_data_payee (<expr>=?)") != NULL;
        sqlite3_finalize(s);
        assert_true(used);
    }
    /* the store's own claim, with its row_data join: the pick index in row order, each row's
     * data by its key, no sort */
    {
        char plan[1024];
        int pick = 0, data = 0;
        snprintf(plan, sizeof(plan), "EXPLAIN QUERY PLAN %s", pb__sq_sql(PB__Q_CLAIM_SELECT));
        assert_int_equal(sqlite3_prepare_v2(db, plan, -1, &s, NULL), SQLITE_OK);
        while (sqlite3_step(s) == SQLITE_ROW) {
            const char *d = (const char *)sqlite3_column_text(s, 3);
            assert_null(strstr(d, "TEMP B-TREE"));
            pick |= strstr(d, "SEARCH r USING INDEX rows_pick") != NULL;
            data |= strstr(d, "SEARCH d USING PRIMARY KEY") != NULL;
        }
        sqlite3_finalize(s);
        assert_true(pick);
        assert_true(data);
    }
    sqlite3_close(db);
    pb_store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PB_CONFORMANCE_TESTS,
        cmocka_unit_test(test_claim_committed_across_reopen),
        cmocka_unit_test(test_group_is_one_transaction),
        cmocka_unit_test(test_crash_after_claim),
        cmocka_unit_test(test_two_handles_interleave),
        cmocka_unit_test(test_two_processes_claim),
        cmocka_unit_test(test_not_a_database),
        cmocka_unit_test(test_unwritable),
        cmocka_unit_test(test_schema_too_new),
        cmocka_unit_test(test_upgrade_from_1),
        cmocka_unit_test(test_upgrade_from_2),
        cmocka_unit_test(test_upgrade_from_3),
        cmocka_unit_test(test_upgrade_from_4),
        cmocka_unit_test(test_foreign_database),
        cmocka_unit_test(test_pragmas),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
