/*
 * bench_csv_reader - rows/s of the streaming CSV reader.
 *
 * Generates 1,000,000 rows of 10 fields (~120 bytes, a few quoted) in memory, feeds them in
 * 64 KiB chunks with a callback that touches every field, and prints rows/s. The in-run
 * baseline is a plain memchr line count over the same bytes (the cost of just looking).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"
#include "formats/csv_reader.h"

#define ROWS  1000000
#define CHUNK 65536

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    uint64_t records;
    uint64_t bytes;
} tally;

static int on_record(const pb_csv_record *rec, void *ctx)
{
    tally *t = ctx;
    size_t i;
    t->records++;
    for (i = 0; i < rec->nfields; i++)
        t->bytes += rec->fields[i].len;
    return rec->bad_utf8_field >= 0;
}

int main(void)
{
    pb_buf in;
    pb_csv_reader *r = NULL;
    tally t = {0, 0};
    size_t pos, lines = 0;
    double t0, t1, t2;
    int rc, i;

    pb_buf_init(&in, (size_t)ROWS * 200);
    rc = pb_buf_puts(&in, "method,payment_id,amount,currency,customer_id,ip_address,"
                          "account_number,customer_name,description,extra\r\n");
    for (i = 0; rc == 0 && i < ROWS; i++)
        rc = pb_buf_printf(&in,
                           "touchngo,PAY-%08d,%d,MYR,cust-%06d,192.168.%d.%d,%010d,"
                           "\"Lee, Ah Kow\",monthly payout %d %s batch 2024-06,x\r\n",
                           i, 500 + i % 100000, i % 997, i % 256, (i * 7) % 256, i, i % 12,
                           (i % 5) ? "ok" : "caf\xC3\xA9");
    if (rc != 0) {
        fprintf(stderr, "generate: %s\n", pb_strerror(rc));
        return 1;
    }

    t0 = now();
    for (pos = 0; pos < in.len; pos++) {
        const char *p = memchr(in.ptr + pos, '\n', in.len - pos);
        if (!p)
            break;
        lines++;
        pos = (size_t)(p - in.ptr);
    }
    t1 = now();

    rc = pb_csv_reader_new(&r, NULL, on_record, &t);
    for (pos = 0; rc == 0 && pos < in.len; pos += CHUNK)
        rc = pb_csv_reader_feed(r, in.ptr + pos, in.len - pos < CHUNK ? in.len - pos : CHUNK);
    if (rc == 0)
        rc = pb_csv_reader_finish(r);
    t2 = now();
    if (rc != 0 || t.records != ROWS + 1) {
        fprintf(stderr, "read failed: %s (%s), %llu records\n", pb_strerror(rc),
                pb_csv_reader_error(r), (unsigned long long)t.records);
        pb_csv_reader_free(r);
        pb_buf_free(&in);
        return 1;
    }
    printf("csv_reader: %llu rows, %.1f MB, %.3f s: %.0f rows/s, %.0f MB/s\n",
           (unsigned long long)t.records, (double)in.len / 1e6, t2 - t1,
           (double)t.records / (t2 - t1), (double)in.len / 1e6 / (t2 - t1));
    printf("baseline memchr line count: %zu lines, %.3f s: %.0f MB/s\n", lines, t1 - t0,
           (double)in.len / 1e6 / (t1 - t0));
    pb_csv_reader_free(r);
    pb_buf_free(&in);
    return 0;
}
