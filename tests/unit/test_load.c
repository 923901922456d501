#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch/send/load.h"
#include "batch/store/store.h"
#include "core/alloc.h"
#include "core/errors.h"

/*
 * The streaming loader (pb_loader_*, used by send) against the store pass it replaced
 * (pb_load_store): the same file must leave the same rows in the batch, row for row, with
 * skips, invalid rows, a payment id another batch holds and a file changed since its check.
 */

#define ROWS 12000 /* chunks of 256, 512, ... reach PB_LOAD_CHUNK_MAX, also after a skip */

static char g_dir[64];

static void write_file(const char *path, int rows, int variant)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("method,payment_id,amount,currency,customer_id,ip_address,account_number,"
          "customer_name,description\n",
          f);
    for (int i = 0; i < rows; i++) {
        if (i % 97 == 5) /* invalid: an amount that is not a number */
            fprintf(f, "gcash,p-%06d,1x0,PHP,c-%d,198.51.100.7,0917%07d,,bad\n", i, i, i);
        else if (i % 2)
            fprintf(f, "gcash,p-%06d,%d,PHP,c-%d,198.51.100.7,0917%07d,Juan,payout\n", i,
                    1000 + i + variant, i, i);
        else
            fprintf(f, "touchngo,p-%06d,%d,MYR,c-%d,203.0.113.9,6012%07d,,cashback\n", i, 500 + i,
                    i, i);
    }
    assert_int_equal(fclose(f), 0);
}

static uint64_t new_batch(pb_store *st, const char *name, const char *sha)
{
    pb_batch_key key;
    pb_batch_info info;
    int created = 0;
    uint64_t id;
    memset(&key, 0, sizeof(key));
    key.name = name;
    key.file_name = "f.csv";
    key.file_sha256 = sha;
    key.delimiter = ',';
    key.created_at_ms = 1;
    assert_int_equal(pb_store_batch_begin(st, &key, &info, &created), 0);
    id = info.id;
    pb_batch_info_clear(&info);
    return id;
}

static void opts(pb_load_opts *o, const char *path, pb_store *st, uint64_t batch)
{
    memset(o, 0, sizeof(*o));
    o->path = path;
    o->store = st;
    o->this_batch = batch;
    o->recent_on = 1;
    o->recent_since_ms = 0;
}

static int reached_max; /* stream saw a chunk of PB_LOAD_CHUNK_MAX rows or more */

/* Every chunk stored in order, as the send driver does; the loader's final rc. */
static int stream(pb_loader *l, size_t *chunks)
{
    int eof = 0, rc = 0;
    *chunks = 0;
    reached_max = 0;
    while (!eof) {
        pb_load_chunk *c = NULL;
        if ((rc = pb_loader_next(l, &c, &eof)) < 0)
            return rc;
        if (c) {
            /* the first chunk small (the first rows go out soon), the others growing to
             * about PB_LOAD_CHUNK_MAX: over by a piece's rows at most (this file's rows are
             * longer than 64 bytes) */
            assert_true(c->n > 0);
            assert_true(c->n <=
                        (*chunks ? PB_LOAD_CHUNK_MAX : PB_LOAD_CHUNK / 2) + PB_LOAD_PIECE / 64);
            if (c->n >= PB_LOAD_CHUNK_MAX)
                reached_max = 1;
            rc = pb_loader_store(l, c);
            pb_load_chunk_free(c);
            if (rc < 0)
                return rc;
            ++*chunks;
        }
    }
    return 0;
}

static void same_rows(pb_store *a, uint64_t ba, pb_store *b, uint64_t bb, int rows)
{
    for (uint32_t no = 2; no < (uint32_t)rows + 2; no++) {
        pb_store_row x, y;
        assert_int_equal(pb_store_row_get(a, ba, no, &x), 0);
        assert_int_equal(pb_store_row_get(b, bb, no, &y), 0);
        assert_int_equal(x.state, y.state);
        assert_string_equal(x.payment_id, y.payment_id);
        assert_string_equal(x.method, y.method);
        assert_string_equal(x.currency, y.currency);
        assert_string_equal(x.payee_key, y.payee_key);
        assert_string_equal(x.account_masked, y.account_masked);
        assert_int_equal(x.amount, y.amount);
        assert_string_equal(x.findings ? x.findings : "", y.findings ? y.findings : "");
        assert_int_equal(x.cells_len, y.cells_len);
        assert_memory_equal(x.cells, y.cells, x.cells_len);
        pb_store_row_clear(&x);
        pb_store_row_clear(&y);
    }
}

/* pb_load_check's result for path (the SHA-256 and the piece digests the loader wants) */
static void check(const char *path, pb_load_result *res)
{
    pb_load_opts o;
    pb_store *st;
    assert_int_equal(pb_store_open(&st, "mem:"), 0);
    opts(&o, path, st, 0);
    assert_int_equal(pb_load_check(&o, res), 0);
    assert_true(res->npieces >= 2);
    pb_store_free(st);
}

static uint64_t stored(pb_store *st, uint64_t b)
{
    pb_batch_counts counts;
    uint64_t n;
    assert_int_equal(pb_store_counts(st, b, &counts), 0);
    n = counts.total;
    pb_batch_counts_clear(&counts);
    return n;
}

static void test_same_as_store_pass(void **state)
{
    char path[96];
    pb_store *a, *b;
    pb_load_opts o;
    pb_load_result res;
    pb_loader *l;
    size_t chunks;
    uint64_t ba, bb, other;
    (void)state;
    snprintf(path, sizeof(path), "%s/in.csv", g_dir);
    write_file(path, ROWS, 0);
    check(path, &res);

    for (int skip = 0; skip <= 700; skip += 700) {
        assert_int_equal(pb_store_open(&a, "mem:"), 0);
        assert_int_equal(pb_store_open(&b, "mem:"), 0);
        /* another batch holds p-000010 in both stores: that row becomes payment-id-used */
        {
            pb_store_row r;
            memset(&r, 0, sizeof(r));
            r.row_no = 2;
            r.state = PB_ROW_QUEUED;
            snprintf(r.payment_id, sizeof(r.payment_id), "p-000010");
            other = new_batch(a, "other",
                              "0000000000000000000000000000000000000000000000000000000000000000");
            assert_int_equal(pb_store_rows_add(a, other, &r, 1), 0);
            other = new_batch(b, "other",
                              "0000000000000000000000000000000000000000000000000000000000000000");
            assert_int_equal(pb_store_rows_add(b, other, &r, 1), 0);
        }
        ba = new_batch(a, "x", res.sha256);
        bb = new_batch(b, "x", res.sha256);
        /* a: the old store pass, the whole file at once */
        opts(&o, path, a, ba);
        {
            pb_load_result r1;
            assert_int_equal(pb_load_store(&o, 0, &r1), 0);
            pb_load_result_clear(&r1);
        }
        /* b: streamed; with skip, a first run stores some chunks and stops (a crash), and
         * the next run's loader continues after the rows stored (a prefix of the file) */
        opts(&o, path, b, bb);
        assert_int_equal(pb_loader_new(&l, &o, 0, &res), 0);
        if (skip) {
            int eof = 0;
            size_t got = 0;
            pb_batch_counts counts;
            while (got < (size_t)skip) {
                pb_load_chunk *c = NULL;
                assert_int_equal(pb_loader_next(l, &c, &eof), 0);
                assert_non_null(c);
                got += c->n;
                assert_int_equal(pb_loader_store(l, c), 0);
                pb_load_chunk_free(c);
            }
            pb_loader_free(l);
            assert_int_equal(pb_store_counts(b, bb, &counts), 0);
            assert_int_equal(counts.total, got);
            assert_int_equal(pb_loader_new(&l, &o, counts.total, &res), 0);
            pb_batch_counts_clear(&counts);
        }
        assert_int_equal(stream(l, &chunks), 0);
        assert_true(chunks >= 2);
        assert_true(reached_max);
        pb_loader_free(l);
        same_rows(a, ba, b, bb, ROWS);
        {
            pb_store_row r;
            assert_int_equal(pb_store_row_get(b, bb, 12, &r), 0); /* p-000010 */
            assert_int_equal(r.state, PB_ROW_INVALID);
            assert_string_equal(r.findings, "payment-id-used");
            pb_store_row_clear(&r);
            assert_int_equal(pb_store_row_get(b, bb, 7, &r), 0); /* i = 5: bad amount */
            assert_int_equal(r.state, PB_ROW_INVALID);
            pb_store_row_clear(&r);
        }
        pb_store_free(a);
        pb_store_free(b);
    }
    pb_load_result_clear(&res);
    unlink(path);
}

/* A file changed after its check: the loader stops with PB_EPARSE at the first piece that
 * differs, before any row of it is handed out; rows of the pieces before it (equal to the
 * checked ones) may be stored. */
static void test_changed_file(void **state)
{
    char path[96];
    pb_load_result chk;
    pb_store *st;
    pb_load_opts o;
    pb_loader *l;
    size_t chunks;
    uint64_t b;
    FILE *f;
    (void)state;
    snprintf(path, sizeof(path), "%s/changed.csv", g_dir);
    write_file(path, ROWS, 0);
    check(path, &chk);
    assert_int_equal(pb_store_open(&st, "mem:"), 0);

    /* changed at its start: nothing is stored */
    write_file(path, ROWS, 1); /* other amounts, same size and shape */
    b = new_batch(st, "x", chk.sha256);
    opts(&o, path, st, b);
    assert_int_equal(pb_loader_new(&l, &o, 0, &chk), 0);
    assert_int_equal(stream(l, &chunks), PB_EPARSE);
    assert_non_null(strstr(pb_error_last(), "changed while it was being sent"));
    assert_int_equal(chunks, 0);
    assert_int_equal(stored(st, b), 0);
    pb_loader_free(l);

    /* changed in its last bytes, in place: the rows before are stored, none after */
    write_file(path, ROWS, 0);
    assert_non_null(f = fopen(path, "r+"));
    assert_int_equal(fseek(f, -4, SEEK_END), 0);
    fputs("XYZ\n", f);
    assert_int_equal(fclose(f), 0);
    b = new_batch(st, "y", chk.sha256);
    opts(&o, path, st, b);
    assert_int_equal(pb_loader_new(&l, &o, 0, &chk), 0);
    assert_int_equal(stream(l, &chunks), PB_EPARSE);
    assert_true(chunks > 0);
    assert_true(stored(st, b) > 0 && stored(st, b) < ROWS);
    pb_loader_free(l);

    /* cut short at a piece boundary, in the middle of a row: that row never goes out, and
     * nothing after the last whole piece is stored */
    write_file(path, ROWS, 0);
    assert_int_equal(truncate(path, PB_LOAD_PIECE), 0);
    b = new_batch(st, "t", chk.sha256);
    opts(&o, path, st, b);
    assert_int_equal(pb_loader_new(&l, &o, 0, &chk), 0);
    assert_int_equal(stream(l, &chunks), PB_EPARSE);
    assert_non_null(strstr(pb_error_last(), "was longer"));
    {
        uint64_t n = stored(st, b);
        pb_store_row r;
        assert_true(n > 0 && n < ROWS);
        /* the rows stored end with the last whole piece; none after */
        assert_int_equal(pb_store_row_get(st, b, (uint32_t)n + 1, &r), 0);
        assert_true(r.state == PB_ROW_QUEUED || r.state == PB_ROW_INVALID);
        pb_store_row_clear(&r);
        assert_int_equal(pb_store_row_get(st, b, (uint32_t)n + 2, &r), PB_ENOTFOUND);
    }
    pb_loader_free(l);

    /* the file as checked: no complaint */
    write_file(path, ROWS, 0);
    b = new_batch(st, "z", chk.sha256);
    opts(&o, path, st, b);
    o.recent_on = 0;
    assert_int_equal(pb_loader_new(&l, &o, 0, &chk), 0);
    assert_int_equal(stream(l, &chunks), 0);
    assert_int_equal(stored(st, b), ROWS);
    pb_loader_free(l);

    /* a file that is gone: the loader cannot start */
    unlink(path);
    assert_int_equal(pb_loader_new(&l, &o, 0, &chk), PB_EIO);
    assert_null(l);
    pb_load_result_clear(&chk);
    pb_store_free(st);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/pb-test-load-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(g_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_store_pass),
        cmocka_unit_test(test_changed_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
