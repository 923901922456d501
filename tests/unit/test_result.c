/*
 * test_result.c - the per-result totals (pb_result_totals_get: the report's and the workbook's
 * one computation) and the workbook writer's file handling, on the mem store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch/send/result.h"
#include "batch/send/result_xlsx.h"
#include "core/alloc.h"
#include "core/errors.h"

static void row(pb_store_row *r, uint32_t row_no, const char *id, int64_t amount, const char *cur,
                pb_row_state state, const char *const *cells, size_t ncells)
{
    pb_str c[8];
    size_t i;
    memset(r, 0, sizeof(*r));
    r->row_no = row_no;
    r->state = state;
    snprintf(r->payment_id, sizeof(r->payment_id), "%s", id);
    snprintf(r->method, sizeof(r->method), "gcash");
    r->amount = amount;
    snprintf(r->currency, sizeof(r->currency), "%s", cur);
    r->updated_at_ms = 1764400000123;
    if (state == PB_ROW_INVALID)
        r->findings = "amount-too-small,missing-value";
    for (i = 0; i < ncells; i++)
        c[i] = pb_str_c(cells[i]);
    assert_int_equal(pb_store_cells_pack(c, ncells, &r->cells, &r->cells_len), 0);
}

/* rows 2, 3 PHP queued; 4 MYR queued; 5 PHP invalid; 6 invalid without a currency; row 2 is
 * then claimed (sending, one attempt: "pending") */
static uint64_t fill(pb_store *st)
{
    static const char *const header[] = {"payment_id", "account_number", "description"};
    static const char *const cells[] = {"p", "09171234567", "=SUM(A1)"};
    pb_batch_key k;
    pb_batch_info bi;
    pb_store_row rows[5], claimed;
    pb_str h[3];
    char *hb = NULL;
    size_t hl = 0, n = 0, i;
    int created = 0;
    uint64_t b;

    for (i = 0; i < 3; i++)
        h[i] = pb_str_c(header[i]);
    assert_int_equal(pb_store_cells_pack(h, 3, &hb, &hl), 0);
    memset(&k, 0, sizeof(k));
    k.name = "b";
    k.file_name = "in.csv";
    k.file_sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    k.header = hb;
    k.header_len = hl;
    k.delimiter = ',';
    assert_int_equal(pb_store_batch_begin(st, &k, &bi, &created), 0);
    b = bi.id;
    pb_batch_info_clear(&bi);
    pb_free(hb);
    row(&rows[0], 2, "p2", 1000, "PHP", PB_ROW_QUEUED, cells, 3);
    row(&rows[1], 3, "p3", 2000, "PHP", PB_ROW_QUEUED, cells, 3);
    row(&rows[2], 4, "p4", 700, "MYR", PB_ROW_QUEUED, cells, 3);
    row(&rows[3], 5, "p5", 500, "PHP", PB_ROW_INVALID, cells, 3);
    row(&rows[4], 6, "p6", 0, "", PB_ROW_INVALID, cells, 2);
    assert_int_equal(pb_store_rows_add(st, b, rows, 5), 0);
    for (i = 0; i < 5; i++)
        pb_free(rows[i].cells);
    assert_int_equal(pb_store_claim(st, b, 0, 1, &claimed, &n), 0);
    assert_int_equal(n, 1);
    pb_store_row_clear(&claimed);
    return b;
}

static size_t result_index(const char *name)
{
    size_t k;
    for (k = 0; k < PB_RESULT_COUNT; k++)
        if (strcmp(pb_result_totals_name(k), name) == 0)
            return k;
    fail_msg("no result %s", name);
    return 0;
}

static void test_totals(void **state)
{
    pb_store *st = NULL;
    pb_result_totals t;
    uint64_t b;
    (void)state;

    assert_int_equal(pb_store_open(&st, "mem:"), 0);
    b = fill(st);
    assert_int_equal(pb_result_totals_get(st, b, &t), 0);
    assert_int_equal(t.rows[result_index("pending")], 1);
    assert_int_equal(t.rows[result_index("not_sent")], 2);
    assert_int_equal(t.rows[result_index("invalid")], 2); /* also the one without a currency */
    assert_int_equal(t.rows[result_index("success")], 0);
    assert_int_equal(t.ncur, 2);
    assert_string_equal(t.cur[0].currency, "PHP"); /* order of first appearance */
    assert_string_equal(t.cur[1].currency, "MYR");
    assert_int_equal(t.cur[0].rows[result_index("pending")], 1);
    assert_int_equal(t.cur[0].amount[result_index("pending")], 1000);
    assert_int_equal(t.cur[0].amount[result_index("not_sent")], 2000);
    assert_int_equal(t.cur[0].amount[result_index("invalid")], 500);
    assert_int_equal(t.cur[0].valid_rows, 2); /* invalid rows are no part of the control totals */
    assert_int_equal(t.cur[0].valid_amount, 3000);
    assert_int_equal(t.cur[1].valid_rows, 1);
    assert_int_equal(t.cur[1].valid_amount, 700);
    pb_result_totals_clear(&t);
    assert_null(t.cur);
    pb_result_totals_clear(NULL);
    pb_store_free(st);
}

static void test_totals_overflow(void **state)
{
    static const char *const cells[] = {"x"};
    pb_store *st = NULL;
    pb_result_totals t;
    pb_store_row rows[2];
    uint64_t b;
    (void)state;

    assert_int_equal(pb_store_open(&st, "mem:"), 0);
    b = fill(st);
    row(&rows[0], 10, "big1", INT64_MAX / 2 + 1, "PHP", PB_ROW_QUEUED, cells, 1);
    row(&rows[1], 11, "big2", INT64_MAX / 2 + 1, "PHP", PB_ROW_QUEUED, cells, 1);
    assert_int_equal(pb_store_rows_add(st, b, rows, 2), 0);
    pb_free(rows[0].cells);
    pb_free(rows[1].cells);
    assert_int_equal(pb_result_totals_get(st, b, &t), PB_ERANGE);
    assert_null(t.cur); /* nothing left to release */
    pb_store_free(st);
}

static int leftovers(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    assert_non_null(d);
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp."))
            n++;
    closedir(d);
    return n;
}

static void test_xlsx_files(void **state)
{
    char dir[] = "/tmp/pb-test-result-XXXXXX", path[256], bad[300];
    pb_store *st = NULL;
    struct stat sb;
    FILE *f;
    (void)state;

    assert_non_null(mkdtemp(dir));
    assert_int_equal(pb_store_open(&st, "mem:"), 0);
    (void)fill(st);
    snprintf(path, sizeof(path), "%s/r.xlsx", dir);
    assert_int_equal(pb_result_xlsx_write(st, "b", path), 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size > 1000);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fgetc(f), 'P'); /* a zip */
    assert_int_equal(fgetc(f), 'K');
    fclose(f);
    /* written again over the old one */
    assert_int_equal(pb_result_xlsx_write(st, "b", path), 0);
    assert_int_equal(leftovers(dir), 0);
    /* a folder that is not there: an error naming the file, nothing made */
    snprintf(bad, sizeof(bad), "%s/missing/r.xlsx", dir);
    assert_int_equal(pb_result_xlsx_write(st, "b", bad), PB_EIO);
    assert_non_null(strstr(pb_error_last(), "r.xlsx"));
    /* a directory in the way */
    snprintf(bad, sizeof(bad), "%s/d.xlsx", dir);
    assert_int_equal(mkdir(bad, 0700), 0);
    assert_int_equal(pb_result_xlsx_write(st, "b", bad), PB_EIO);
    assert_int_equal(leftovers(dir), 0);
    /* an unknown batch */
    assert_int_equal(pb_result_xlsx_write(st, "nope", path), PB_ENOTFOUND);
    assert_int_equal(rmdir(bad), 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    pb_store_free(st);
}

/* 1 when the file ends with a zip's end-of-central-directory record (no comment) */
static int complete_zip(const char *path)
{
    unsigned char end[22];
    FILE *f = fopen(path, "rb");
    int ok;
    assert_non_null(f);
    ok = fseek(f, -22, SEEK_END) == 0 && fread(end, 1, 22, f) == 22 &&
         memcmp(end, "PK\x05\x06", 4) == 0;
    fclose(f);
    return ok;
}

/* every allocation failure is an error (never a crash, a leak or a half-written file), and
 * with enough allocations the run succeeds */
static void test_alloc_failures(void **state)
{
    char dir[] = "/tmp/pb-test-result-XXXXXX", path[256];
    pb_store *st = NULL;
    pb_result_totals t;
    uint64_t b;
    long n;
    int rc = -1, rc2 = -1;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/r.xlsx", dir);
    assert_int_equal(pb_store_open(&st, "mem:"), 0);
    b = fill(st);
    for (n = 0; n < 10000 && (rc != 0 || rc2 != 0); n++) {
        pb_alloc_fail_after(n);
        rc = pb_result_totals_get(st, b, &t);
        pb_alloc_fail_after(-1);
        if (rc == 0)
            pb_result_totals_clear(&t);
        else
            assert_int_equal(rc, PB_ENOMEM);
        pb_alloc_fail_after(n);
        rc2 = pb_result_xlsx_write(st, "b", path);
        pb_alloc_fail_after(-1);
        if (rc2 != 0) {
            assert_int_equal(rc2, PB_ENOMEM);
            /* nothing presented, or (a failure after the rename: syncing the folder) the
             * complete workbook */
            if (access(path, F_OK) == 0) {
                assert_true(complete_zip(path));
                assert_int_equal(unlink(path), 0);
            }
        } else if (rc != 0) {
            assert_int_equal(unlink(path), 0); /* the loop goes on: start without it */
        }
        assert_int_equal(leftovers(dir), 0);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(rc2, 0);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    pb_store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_totals),
        cmocka_unit_test(test_totals_overflow),
        cmocka_unit_test(test_xlsx_files),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
