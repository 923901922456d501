/*
 * bench/store - the store's hot path: rows_add, claim 64 at a time, mark each claim's rows
 * accepted in one group; the SQLite backend beside the mem backend in the same run.
 *
 * Usage: bench_store [ROWS] [DIR]   (default 100,000 rows, files in /tmp)
 * Prints rows/s per phase and backend; the mem figures are the in-run baseline (the cost of
 * the interface itself), so the ratio stays meaningful on a noisy shared machine.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "batch/store/store.h"
#include "core/alloc.h"
#include "core/errors.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int run(const char *label, const char *uri, uint32_t nrows)
{
    static const char sha[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    pb_store *st = NULL;
    pb_batch_key key;
    pb_batch_info bi;
    pb_store_row *rows = NULL, out[64];
    pb_row_update upd[64];
    pb_str cells[8];
    char *blob = NULL;
    size_t blob_len, n, applied, total = 0, i;
    double t0, t_add, t_claim, t_mark = 0, t, c0;
    size_t commits = 0;
    int created, rc;
    memset(&bi, 0, sizeof(bi));
    cells[0] = pb_str_c("card");
    cells[1] = pb_str_c("p-000000");
    cells[2] = pb_str_c("150000");
    cells[3] = pb_str_c("PHP");
    cells[4] = pb_str_c("cust-9");
    cells[5] = pb_str_c("198.51.100.7");
    cells[6] = pb_str_c("4111111111111111");
    cells[7] = pb_str_c("Juan dela Cruz");
    if ((rc = pb_store_open(&st, uri)) < 0 ||
        (rc = pb_store_cells_pack(cells, 8, &blob, &blob_len)) < 0)
        goto out;
    memset(&key, 0, sizeof(key));
    key.name = "bench";
    key.file_sha256 = sha;
    if ((rc = pb_store_batch_begin(st, &key, &bi, &created)) < 0)
        goto out;
    rows = calloc(nrows, sizeof(*rows));
    if (!rows) {
        rc = PB_ENOMEM;
        goto out;
    }
    for (i = 0; i < nrows; i++) {
        pb_store_row *r = &rows[i];
        r->row_no = (uint32_t)i + 2;
        r->state = PB_ROW_QUEUED;
        snprintf(r->payment_id, sizeof(r->payment_id), "bench-%zu", i);
        snprintf(r->method, sizeof(r->method), "card");
        snprintf(r->currency, sizeof(r->currency), "PHP");
        snprintf(r->account_masked, sizeof(r->account_masked), "4111****1111");
        r->amount = 150000;
        r->cells = blob;
        r->cells_len = blob_len;
    }
    t0 = now_s();
    if ((rc = pb_store_rows_add(st, bi.id, rows, nrows)) < 0)
        goto out;
    t_add = now_s() - t0;
    t0 = now_s();
    c0 = cpu_s();
    for (;;) {
        if ((rc = pb_store_claim(st, bi.id, 0, 64, out, &n)) < 0)
            goto out;
        commits++;
        if (n == 0)
            break;
        for (i = 0; i < n; i++) {
            memset(&upd[i], 0, sizeof(upd[i]));
            upd[i].row_no = out[i].row_no;
            upd[i].from = PB_ROW_SENDING;
            upd[i].to = PB_ROW_ACCEPTED;
            upd[i].at_ms = 1;
            snprintf(upd[i].request_id, sizeof(upd[i].request_id), "req-%u", out[i].row_no);
        }
        pb_store_rows_clear(out, n);
        t = now_s();
        if ((rc = pb_store_mark(st, bi.id, upd, n, &applied)) < 0)
            goto out;
        t_mark += now_s() - t;
        commits++;
        total += applied;
    }
    t_claim = now_s() - t0 - t_mark;
    if (total != nrows) {
        fprintf(stderr, "%s: %zu rows accepted of %u\n", label, total, nrows);
        rc = PB_ERROR;
        goto out;
    }
    c0 = cpu_s() - c0;
    printf("%-7s rows_add %8.0f rows/s | claim(64) %8.0f rows/s | mark(64) %8.0f rows/s | "
           "claim+mark %5.2f s wall, %5.2f s cpu, %zu commits (%.2f ms wall each)\n",
           label, nrows / t_add, nrows / t_claim, nrows / t_mark, t_claim + t_mark, c0, commits,
           (t_claim + t_mark) * 1e3 / (double)commits);
out:
    if (rc < 0)
        fprintf(stderr, "%s: %s (%s)\n", label, pb_strerror(rc), pb_error_last());
    free(rows);
    pb_free(blob);
    pb_batch_info_clear(&bi);
    pb_store_free(st);
    return rc;
}

int main(int argc, char **argv)
{
    long nrows = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    char path[512], side[600];
    int rc;
    if (nrows <= 0 || nrows > 100000000) {
        fprintf(stderr, "usage: bench_store [ROWS] [DIR]\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/pb-bench-store-%ld.db", dir, (long)getpid());
    printf("store benchmark: %ld rows (rows_add in one call, claim 64, mark 64 per group)\n",
           nrows);
    rc = run("mem", "mem:", (uint32_t)nrows);
    if (rc == 0)
        rc = run("sqlite", path, (uint32_t)nrows);
    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
    return rc == 0 ? 0 : 1;
}
