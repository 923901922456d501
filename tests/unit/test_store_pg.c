/*
 * The store conformance suite against the PostgreSQL backend (a throw-away cluster started by
 * scripts/pg-test-cluster.sh through the ctest fixture `pg`; its URI in the file named by
 * PB_PG_URI_FILE), plus what only a shared server shows: processes claiming at once get
 * disjoint rows, compare-and-set marks from two handles, a callback kept once, the schema
 * version, and connection errors (configuration or unavailable, no password in messages).
 * Without a server this test fails: it is never skipped.
 */
#include "store/conformance.c"

#include <libpq-fe.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char pb_pg_base[512];
static char pb_conf_path[700];
static unsigned pb_conf_seq;

/* Run one statement on the base database; fails the test when it fails. */
static void pg_sql(const char *uri, const char *sql)
{
    PGconn *c = PQconnectdb(uri);
    PGresult *r;
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "%s: %s\n", sql, PQerrorMessage(c));
    assert_true(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
    PQclear(r);
    PQfinish(c);
}

/* A fresh empty schema per call, named first in the connection's search_path. */
static const char *pb_conf_uri(void)
{
    char sql[128], schema[64];
    snprintf(schema, sizeof(schema), "conf_%ld_%u", (long)getpid(), ++pb_conf_seq);
    snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", schema);
    pg_sql(pb_pg_base, sql);
    snprintf(pb_conf_path, sizeof(pb_conf_path), "%s?options=-csearch_path%%3D%s", pb_pg_base,
             schema);
    return pb_conf_path;
}

static int setup(void **state)
{
    const char *file = getenv("PB_PG_URI_FILE");
    FILE *f;
    (void)state;
    if (!file) {
        fprintf(stderr, "PB_PG_URI_FILE is not set: run through ctest (fixture pg)\n");
        return -1;
    }
    f = fopen(file, "r");
    if (!f || !fgets(pb_pg_base, sizeof(pb_pg_base), f)) {
        fprintf(stderr, "no PostgreSQL URI in %s: the test cluster did not start\n", file);
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    pb_pg_base[strcspn(pb_pg_base, "\n")] = '\0';
    return 0;
}

static void test_backend_name(void **state)
{
    pb_store *st = conf_open();
    (void)state;
    assert_string_equal(pb_store_backend(st), "pg");
    pb_store_free(st);
}

static void test_processes_claim_disjoint(void **state)
{
    enum { N = 1200, P = 4 };
    pb_store *st = conf_open();
    char uri[700];
    uint64_t b = conf_filled(st, "proc", pb_conf_sha_a, N);
    unsigned char seen[N + 2];
    int fds[P][2], p, status;
    pid_t pid[P];
    size_t total = 0;
    (void)state;
    snprintf(uri, sizeof(uri), "%s", pb_conf_path);
    pb_store_free(st);
    for (p = 0; p < P; p++) {
        assert_int_equal(pipe(fds[p]), 0);
        pid[p] = fork();
        assert_true(pid[p] >= 0);
        if (pid[p] == 0) {
            pb_store *cs = NULL;
            pb_store_row out[7];
            size_t n, i;
            close(fds[p][0]);
            if (pb_store_open(&cs, uri) != 0)
                _exit(3);
            do {
                if (pb_store_claim(cs, b, 0, 7, out, &n) != 0)
                    _exit(4);
                for (i = 0; i < n; i++) {
                    uint32_t r = out[i].row_no;
                    if (out[i].state != PB_ROW_SENDING || out[i].attempts != 1 ||
                        write(fds[p][1], &r, sizeof(r)) != sizeof(r))
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
    for (p = 0; p < P; p++) {
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

static void test_two_handles_mark_once(void **state)
{
    pb_store *a = conf_open(), *b2 = NULL;
    uint64_t b = conf_filled(a, "cas", pb_conf_sha_a, 3);
    pb_store_row out[3];
    pb_row_update u;
    size_t n, applied = 9;
    (void)state;
    assert_int_equal(pb_store_open(&b2, pb_conf_path), 0);
    assert_int_equal(pb_store_claim(a, b, 0, 1, out, &n), 0);
    assert_int_equal(n, 1);
    pb_store_rows_clear(out, n);
    /* the other handle sees the claim at once and cannot claim the row again */
    assert_int_equal(pb_store_claim(b2, b, 0, 1, out, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].row_no, 3);
    pb_store_rows_clear(out, n);
    memset(&u, 0, sizeof(u));
    u.row_no = 2;
    u.from = PB_ROW_SENDING;
    u.to = PB_ROW_ACCEPTED;
    u.at_ms = 5;
    assert_int_equal(pb_store_mark(a, b, &u, 1, &applied), 0);
    assert_int_equal(applied, 1);
    assert_int_equal(pb_store_mark(b2, b, &u, 1, &applied), 0);
    assert_int_equal(applied, 0);
    pb_store_free(b2);
    pb_store_free(a);
}

static void test_inbox_kept_once(void **state)
{
    pb_store *a = conf_open(), *b2 = NULL;
    pb_store_inbox_rec r;
    conf_inbox in;
    (void)state;
    assert_int_equal(pb_store_open(&b2, pb_conf_path), 0);
    memset(&r, 0, sizeof(r));
    r.received_at_ms = 1;
    r.body = "{\"payment\":{\"id\":\"x\"}}";
    r.body_len = strlen(r.body);
    assert_int_equal(pb_store_inbox_put(a, &r), 0);
    r.received_at_ms = 2;
    assert_int_equal(pb_store_inbox_put(b2, &r), 0);
    memset(&in, 0, sizeof(in));
    assert_int_equal(pb_store_inbox_each(a, conf_inbox_cb, &in), 0);
    assert_int_equal(in.n, 1);
    assert_int_equal(in.rec[0].received_at_ms, 1);
    pb_store_free(b2);
    pb_store_free(a);
}

/* Calls longer than one pipeline segment (256 statements): all or nothing, in order. */
static void test_long_calls(void **state)
{
    enum { N = 700 };
    pb_store *st = conf_open();
    uint64_t b = conf_batch(st, "long", pb_conf_sha_a);
    static pb_store_row rows[N];
    static pb_row_update u[N];
    pb_batch_counts c;
    size_t i, applied = 0;
    char id[32];
    (void)state;
    for (i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "long-%zu", i);
        conf_row(&rows[i], (uint32_t)(i + 2), id, 10, "EUR");
    }
    /* a duplicate payment id in the third segment: nothing of the call stays */
    snprintf(rows[600].payment_id, sizeof(rows[600].payment_id), "long-3");
    assert_int_equal(pb_store_rows_add(st, b, rows, N), PB_EEXISTS);
    assert_int_equal(pb_store_counts(st, b, &c), 0);
    assert_int_equal(c.total, 0);
    pb_batch_counts_clear(&c);
    snprintf(rows[600].payment_id, sizeof(rows[600].payment_id), "long-600");
    assert_int_equal(pb_store_rows_add(st, b, rows, N), 0);
    /* queued -> sending -> accepted for every row, in one call; one row no longer queued */
    memset(u, 0, sizeof(u));
    for (i = 0; i < N; i++) {
        u[i].row_no = (uint32_t)(i / 2 + 2);
        u[i].from = i % 2 ? PB_ROW_SENDING : PB_ROW_QUEUED;
        u[i].to = i % 2 ? PB_ROW_ACCEPTED : PB_ROW_SENDING;
        u[i].at_ms = 7;
    }
    assert_int_equal(pb_store_mark(st, b, u, N, &applied), 0);
    assert_int_equal(applied, N);
    assert_int_equal(pb_store_counts(st, b, &c), 0);
    assert_int_equal(c.rows[PB_ROW_ACCEPTED], N / 2);
    assert_int_equal(c.rows[PB_ROW_QUEUED], N - N / 2);
    pb_batch_counts_clear(&c);
    /* the same again: every update skipped (compare-and-set), nothing counted */
    assert_int_equal(pb_store_mark(st, b, u, N, &applied), 0);
    assert_int_equal(applied, 0);
    /* an unknown batch: PB_ENOTFOUND, before and after a pipeline */
    assert_int_equal(pb_store_mark(st, b + 1000, u, N, &applied), PB_ENOTFOUND);
    assert_int_equal(pb_store_rows_add(st, b + 1000, rows, N), PB_ENOTFOUND);
    assert_int_equal(conf_state(st, b, 2), PB_ROW_ACCEPTED);
    pb_store_free(st);
}

static void test_schema_version(void **state)
{
    pb_store *st = conf_open();
    char uri[700], schema[64], sql[200];
    (void)state;
    pb_store_free(st);
    snprintf(uri, sizeof(uri), "%s", pb_conf_path);
    snprintf(schema, sizeof(schema), "conf_%ld_%u", (long)getpid(), pb_conf_seq);
    snprintf(sql, sizeof(sql), "UPDATE %s.pb_meta SET value = 7 WHERE key = 'schema_version'",
             schema);
    pg_sql(pb_pg_base, sql);
    st = (pb_store *)1;
    assert_int_equal(pb_store_open(&st, uri), PB_EINVAL);
    assert_null(st);
    assert_non_null(strstr(pb_error_last(), "schema version 7"));
    assert_non_null(strstr(pb_error_last(), "upgrade paybatch"));
    /* tables of the same names without a version: not ours */
    snprintf(sql, sizeof(sql), "DROP TABLE %s.pb_meta", schema);
    pg_sql(pb_pg_base, sql);
    assert_int_equal(pb_store_open(&st, uri), PB_EINVAL);
    assert_non_null(strstr(pb_error_last(), "not a paybatch store"));
}

static void test_connection_errors(void **state)
{
    pb_store *st = NULL;
    char uri[700], red[700];
    const char *at = strchr(pb_pg_base + 13, '@'), *colon = strchr(pb_pg_base + 13, ':');
    (void)state;
    assert_non_null(at);
    assert_non_null(colon);
    /* wrong password: configuration, and the password never appears */
    snprintf(uri, sizeof(uri), "%.*s:SeCrEtWrOnG%s", (int)(colon - pb_pg_base), pb_pg_base, at);
    assert_int_equal(pb_store_open(&st, uri), PB_EINVAL);
    assert_null(st);
    assert_null(strstr(pb_error_last(), "SeCrEtWrOnG"));
    assert_non_null(strstr(pb_error_last(), "refused"));
    pb_store_uri_redact(uri, red, sizeof(red));
    assert_null(strstr(red, "SeCrEtWrOnG"));
    assert_non_null(strstr(red, ":***@127.0.0.1"));
    pb_store_uri_redact("postgres://h/db?user=u&password=pw1&sslmode=off", red, sizeof(red));
    assert_string_equal(red, "postgres://h/db?user=u&password=***&sslmode=off");
    /* a database that does not exist: configuration */
    snprintf(uri, sizeof(uri), "%s_nope", pb_pg_base);
    assert_int_equal(pb_store_open(&st, uri), PB_EINVAL);
    /* nothing listening (port 1 on loopback): unavailable */
    assert_int_equal(pb_store_open(&st, "postgresql://u:pw2@127.0.0.1:1/db?connect_timeout=3"),
                     PB_EAGAIN);
    assert_null(strstr(pb_error_last(), "pw2"));
    assert_non_null(strstr(pb_error_last(), "cannot reach"));
    /* not a URI libpq can read */
    assert_int_equal(pb_store_open(&st, "postgresql://[::1/db"), PB_EINVAL);
    assert_non_null(strstr(pb_error_last(), "not a valid PostgreSQL URI"));
}

static int64_t lease_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Several workers on one batch: a live worker's rows are never handed to another (due, mark),
 * they come back within a second through next_at, and a handle that is no worker (listen)
 * still applies its compare-and-set. */
static void test_lease_fence(void **state)
{
    pb_store *a = conf_open(), *b2 = NULL, *c = NULL;
    uint64_t b = conf_filled(a, "lease", pb_conf_sha_a, 3);
    pb_store_row out[4];
    pb_row_update u;
    size_t n, applied = 9;
    int64_t now = lease_now_ms(), next = 0;
    (void)state;
    assert_int_equal(pb_store_open(&b2, pb_conf_path), 0);
    assert_int_equal(pb_store_open(&c, pb_conf_path), 0);
    assert_int_equal(pb_store_lease_begin(a, "A", 60000), 0);
    assert_int_equal(pb_store_lease_begin(b2, "B", 60000), 0);
    assert_int_equal(pb_store_claim(a, b, now, 1, out, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].row_no, 2);
    pb_store_rows_clear(out, n);
    /* B sees no due row; A sees its own */
    assert_int_equal(pb_store_due(b2, b, now, 4, out, &n), 0);
    assert_int_equal(n, 0);
    next = INT64_MAX;
    assert_int_equal(pb_store_next_at(b2, b, PB_STORE_NEXT_PENDING, now, &next), 0);
    assert_true(next > now && next <= now + 1000);
    assert_int_equal(pb_store_due(a, b, now, 4, out, &n), 0);
    assert_int_equal(n, 1);
    pb_store_rows_clear(out, n);
    /* B's update of A's row is fenced; A's goes through */
    memset(&u, 0, sizeof(u));
    u.row_no = 2;
    u.from = PB_ROW_SENDING;
    u.to = PB_ROW_QUEUED;
    assert_int_equal(pb_store_mark(b2, b, &u, 1, &applied), 0);
    assert_int_equal(applied, 0);
    u.to = PB_ROW_IN_DOUBT;
    assert_int_equal(pb_store_mark(a, b, &u, 1, &applied), 0);
    assert_int_equal(applied, 1);
    /* a handle that is no worker (a callback receiver) applies its compare-and-set */
    u.from = PB_ROW_IN_DOUBT;
    u.to = PB_ROW_SUCCESS;
    assert_int_equal(pb_store_mark(c, b, &u, 1, &applied), 0);
    assert_int_equal(applied, 1);
    assert_int_equal(conf_state(a, b, 2), PB_ROW_SUCCESS);
    /* a claim by B skips nothing of A's: rows 3 and 4 are free */
    assert_int_equal(pb_store_claim(b2, b, now, 4, out, &n), 0);
    assert_int_equal(n, 2);
    pb_store_rows_clear(out, n);
    pb_store_free(c);
    pb_store_free(b2);
    pb_store_free(a);
}

/* A lease that lapses (its worker died) is taken over by due, and the old owner's late
 * update and renewal no longer touch the row; a renewed lease does not lapse. */
static void test_lease_lapse(void **state)
{
    pb_store *a = conf_open(), *b2 = NULL;
    uint64_t b = conf_filled(a, "lapse", pb_conf_sha_a, 2);
    pb_store_row out[4];
    pb_row_update u;
    size_t n, applied = 9;
    uint64_t renewed = 9;
    int64_t now = lease_now_ms();
    int i;
    (void)state;
    assert_int_equal(pb_store_open(&b2, pb_conf_path), 0);
    assert_int_equal(pb_store_lease_begin(a, "A", 400), 0);
    assert_int_equal(pb_store_lease_begin(b2, "B", 60000), 0);
    assert_int_equal(pb_store_claim(a, b, now, 2, out, &n), 0);
    assert_int_equal(n, 2);
    pb_store_rows_clear(out, n);
    /* row 3 is moved on (in doubt), and both stay A's while A renews */
    memset(&u, 0, sizeof(u));
    u.row_no = 3;
    u.from = PB_ROW_SENDING;
    u.to = PB_ROW_IN_DOUBT;
    assert_int_equal(pb_store_mark(a, b, &u, 1, &applied), 0);
    for (i = 0; i < 4; i++) {
        usleep(150 * 1000);
        assert_int_equal(pb_store_lease_renew(a, b, &renewed), 0);
        assert_int_equal(renewed, 2);
        assert_int_equal(pb_store_due(b2, b, lease_now_ms(), 4, out, &n), 0);
        assert_int_equal(n, 0);
    }
    /* A stops renewing: its leases lapse and B takes both rows over */
    usleep(600 * 1000);
    assert_int_equal(pb_store_due(b2, b, lease_now_ms(), 4, out, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].row_no, 2);
    assert_int_equal(out[1].state, PB_ROW_IN_DOUBT);
    pb_store_rows_clear(out, n);
    assert_int_equal(pb_store_lease_renew(a, b, &renewed), 0);
    assert_int_equal(renewed, 0);
    u.row_no = 2;
    u.to = PB_ROW_ACCEPTED;
    assert_int_equal(pb_store_mark(a, b, &u, 1, &applied), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(conf_state(a, b, 2), PB_ROW_SENDING);
    assert_int_equal(pb_store_lease_renew(b2, b, &renewed), 0);
    assert_int_equal(renewed, 2);
    pb_store_free(b2);
    pb_store_free(a);
}

/* The shared rate: blocks from one row follow each other; a pause moves the next block. */
static void test_rate_blocks(void **state)
{
    pb_store *a = conf_open(), *b2 = NULL;
    int64_t s1 = -1, s2 = -1, s3 = -1;
    (void)state;
    assert_int_equal(pb_store_open(&b2, pb_conf_path), 0);
    /* 5 slots of 100 ms: 500 ms each */
    assert_int_equal(pb_store_rate_take(a, "k", 100000, 5, &s1), 0);
    assert_int_equal(pb_store_rate_take(b2, "k", 100000, 5, &s2), 0);
    assert_true(s1 >= 0 && s1 < 50000);
    assert_true(s2 > 400000 && s2 <= 500000);
    /* another key is another budget */
    assert_int_equal(pb_store_rate_take(b2, "other", 100000, 5, &s3), 0);
    assert_true(s3 < 50000);
    /* a throttle seen by a: the next block of anyone starts after the pause */
    assert_int_equal(pb_store_rate_pause(a, "k", 3000), 0);
    assert_int_equal(pb_store_rate_take(b2, "k", 100000, 5, &s3), 0);
    assert_true(s3 > 2900000 && s3 <= 3000000);
    pb_store_free(b2);
    pb_store_free(a);
    /* the backends one process works alone have none of it */
    assert_int_equal(pb_store_open(&a, "mem:"), 0);
    assert_int_equal(pb_store_lease_begin(a, "A", 1000), PB_ENOTSUP);
    assert_int_equal(pb_store_rate_take(a, "k", 1000, 1, &s1), PB_ENOTSUP);
    pb_store_free(a);
}

/* A store of schema 1 is refused with the way out, and pb_store_migrate upgrades it. */
static void test_migrate(void **state)
{
    pb_store *st = conf_open();
    char uri[700], schema[64], sql[400];
    pb_store_row out[2];
    size_t n;
    int from = -1, to = -1;
    uint64_t b = conf_filled(st, "mig", pb_conf_sha_a, 2);
    (void)state;
    pb_store_free(st);
    snprintf(uri, sizeof(uri), "%s", pb_conf_path);
    snprintf(schema, sizeof(schema), "conf_%ld_%u", (long)getpid(), pb_conf_seq);
    snprintf(sql, sizeof(sql),
             "ALTER TABLE %s.pb_rows DROP COLUMN lease_owner, DROP COLUMN lease_until; DROP "
             "TABLE %s.pb_rate; UPDATE %s.pb_meta SET value = 1 WHERE key = 'schema_version'",
             schema, schema, schema);
    pg_sql(pb_pg_base, sql);
    assert_int_equal(pb_store_open(&st, uri), PB_EINVAL);
    assert_non_null(strstr(pb_error_last(), "status --migrate"));
    assert_int_equal(pb_store_migrate(uri, &from, &to), 0);
    assert_int_equal(from, 1);
    assert_int_equal(to, 2);
    assert_int_equal(pb_store_migrate(uri, &from, &to), 0);
    assert_int_equal(from, 2);
    assert_int_equal(pb_store_open(&st, uri), 0);
    assert_int_equal(pb_store_lease_begin(st, "A", 1000), 0);
    assert_int_equal(pb_store_claim(st, b, lease_now_ms(), 2, out, &n), 0);
    assert_int_equal(n, 2);
    pb_store_rows_clear(out, n);
    pb_store_free(st);
    /* an empty database is created at its newest */
    assert_int_equal(pb_store_migrate(pb_conf_uri(), &from, &to), 0);
    assert_int_equal(from, 0);
    assert_int_equal(to, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PB_CONFORMANCE_TESTS,
        cmocka_unit_test(test_backend_name),
        cmocka_unit_test(test_processes_claim_disjoint),
        cmocka_unit_test(test_two_handles_mark_once),
        cmocka_unit_test(test_inbox_kept_once),
        cmocka_unit_test(test_long_calls),
        cmocka_unit_test(test_schema_version),
        cmocka_unit_test(test_connection_errors),
        cmocka_unit_test(test_lease_fence),
        cmocka_unit_test(test_lease_lapse),
        cmocka_unit_test(test_rate_blocks),
        cmocka_unit_test(test_migrate),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
