#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "formats/validator.h"

/* A transcript of everything the validator reported, to compare runs. */
typedef struct {
    char text[64 * 1024];
    size_t len;
} transcript;

static void put(transcript *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (t->len < sizeof(t->text))
        t->len += (size_t)vsnprintf(t->text + t->len, sizeof(t->text) - t->len, fmt, ap);
    va_end(ap);
    if (t->len > sizeof(t->text))
        t->len = sizeof(t->text);
}

static int on_row(const pb_row_report *r, void *ctx)
{
    size_t i;
    if (r->row && r->row->npass == 1) {
        /* dup_csv's last column: the row reported holds its own value, whatever rows were
           mapped since (rules run ahead, confirmations re-read earlier rows) */
        const pb_str *last = &r->rec->fields[r->rec->nfields - 1];
        assert_int_equal(r->row->pass[0].value.len, last->len);
        assert_memory_equal(r->row->pass[0].value.ptr, last->ptr, last->len);
        put(ctx, "pass %.*s\n", (int)last->len, last->ptr);
    }
    put(ctx, "row %llu %s\n", (unsigned long long)r->rec->row, r->valid ? "valid" : "invalid");
    for (i = 0; i < r->nfindings; i++)
        put(ctx, "  %s %s\n", pb_finding_name(r->findings[i].code), r->findings[i].message);
    return 0;
}

static void on_file(const pb_finding *f, void *ctx)
{
    put(ctx, "file %llu %s %s\n", (unsigned long long)f->row, pb_finding_name(f->code), f->message);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p;
    long n;
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = malloc((size_t)n + 1);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* Test hooks of the duplicate index for run(): weakened hash, mark spacing, re-read source. */
static uint64_t g_mask;
static size_t g_mark_every;
static const char *g_data; /* read_at reads this when set */
static int g_threads;
static size_t g_len;

static int read_at(uint64_t off, char *buf, size_t len, size_t *got, void *ctx)
{
    (void)ctx;
    *got = off >= g_len ? 0 : g_len - (size_t)off;
    if (*got > len)
        *got = len;
    memcpy(buf, g_data + off, *got);
    return 0;
}

/* Validate data fed in chunks of `chunk` bytes (0 = whole); returns the rc of the run. */
static int run(const char *data, size_t len, size_t chunk, transcript *t, pb_validator_stats *st)
{
    pb_validator_opts o;
    pb_validator *v;
    size_t off = 0;
    int rc = 0;
    memset(&o, 0, sizeof(o));
    memset(t, 0, sizeof(*t));
    o.on_row = on_row;
    o.on_file_finding = on_file;
    o.test_hash_mask = g_mask;
    o.test_mark_every = g_mark_every;
    o.read_at = g_data ? read_at : NULL;
    o.threads = g_threads;
    o.ctx = t;
    rc = pb_validator_new(&v, &o);
    if (rc < 0)
        return rc;
    while (rc == 0 && off < len) {
        size_t n = chunk && len - off > chunk ? chunk : len - off;
        rc = pb_validator_feed(v, data + off, n);
        off += n;
    }
    if (rc == 0)
        rc = pb_validator_finish(v);
    if (rc == 0 && st)
        *st = *pb_validator_get_stats(v);
    pb_validator_free(v);
    return rc;
}

static void test_chunking_gives_identical_results(void **state)
{
    static const char *files[] = {"payouts-invalid.csv", "payouts-valid.csv",
                                  "payouts-invalid-major.csv", "payouts-bad-header.csv"};
    static const size_t chunks[] = {1, 2, 3, 7, 64, 4096};
    size_t i, j, len;
    (void)state;
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[1024];
        char *data;
        transcript *whole = calloc(1, sizeof(transcript)), *part = calloc(1, sizeof(transcript));
        pb_validator_stats a, b;
        snprintf(path, sizeof(path), "%s/samples/%s", PB_SOURCE_DIR, files[i]);
        data = slurp(path, &len);
        assert_int_equal(run(data, len, 0, whole, &a), 0);
        assert_true(whole->len > 0);
        for (j = 0; j < sizeof(chunks) / sizeof(chunks[0]); j++) {
            assert_int_equal(run(data, len, chunks[j], part, &b), 0);
            assert_int_equal(part->len, whole->len);
            assert_memory_equal(part->text, whole->text, whole->len);
            assert_int_equal(a.rows, b.rows);
            assert_int_equal(a.valid, b.valid);
        }
        free(data);
        free(whole);
        free(part);
    }
}

static void test_counts(void **state)
{
    transcript *t = calloc(1, sizeof(transcript));
    pb_validator_stats st;
    const char *csv = "method,payment_id,amount,currency,customer_id,ip_address,account_number,"
                      "customer_name\r\n"
                      "\r\n"
                      "gcash,a,1000,PHP,c,1.2.3.4,09171234567,Ana\r\n"
                      "gcash,a,1000,PHP,c,1.2.3.4,09171234568,Ana\r\n"
                      "touchngo,b,500,MYR,c,1.2.3.4,123456,\r\n";
    (void)state;
    assert_int_equal(run(csv, strlen(csv), 0, t, &st), 0);
    assert_int_equal(st.rows, 3);
    assert_int_equal(st.valid, 2);
    assert_int_equal(st.invalid, 1);
    assert_int_equal(st.blank, 1);
    assert_int_equal(st.by_code[PB_F_DUPLICATE_PAYMENT_ID], 1);
    /* the blank line keeps its number: the duplicate is row 4, naming row 3 */
    assert_non_null(strstr(t->text, "row 4 invalid\n  duplicate-payment-id payment id 'a' is "
                                    "already used in row 3"));
    assert_int_equal(st.nvalid_totals, 2);
    free(t);
}

static void test_alloc_failures(void **state)
{
    transcript *t = calloc(1, sizeof(transcript));
    char path[1024];
    char *data;
    size_t len;
    long n;
    int rc = PB_ENOMEM;
    (void)state;
    snprintf(path, sizeof(path), "%s/samples/payouts-invalid.csv", PB_SOURCE_DIR);
    data = slurp(path, &len);
    for (n = 0; n < 2000 && rc != 0; n++) {
        pb_alloc_fail_after(n);
        rc = run(data, len, 13, t, NULL);
        pb_alloc_fail_after(-1);
        assert_true(rc == 0 || rc == PB_ENOMEM);
    }
    assert_int_equal(rc, 0);
    free(data);
    free(t);
}

/* ids and payouts repeated, one byte apart, in quoted multi-line rows, with CRLF and CR */
static char *dup_csv(size_t *len)
{
    char *p = malloc(64 * 1024);
    size_t n = 0;
    int i;
    n += (size_t)snprintf(p, 200,
                          "method,payment_id,amount,currency,customer_id,ip_address,"
                          "account_number,customer_name,description,customer.email\r\n");
    for (i = 0; i < 150; i++) {
        int j = (i * 37) % 40;
        n += (size_t)snprintf(p + n, 400,
                              "gcash,%s%d%s,%d,PHP,c,1.2.3.4,0917%07d,Ana,%s,u%d@example.com%s",
                              i % 3 ? "id-" : "ID-", j, i % 5 ? "" : "x", 1000 + j % 3, j % 7,
                              i % 4 ? "payout" : "\"two\r\nlines\"", i, i % 9 ? "\r\n" : "\r");
    }
    *len = n;
    return p;
}

/* The weakened hash (every lookup confirms against re-read rows) changes nothing reported. */
static void test_collisions_change_nothing(void **state)
{
    transcript *ref = calloc(1, sizeof(transcript)), *t = calloc(1, sizeof(transcript));
    pb_validator_stats a, b;
    static const size_t chunks[] = {0, 1, 7, 300};
    size_t len, i, m;
    char *data = dup_csv(&len);
    (void)state;
    assert_int_equal(run(data, len, 0, ref, &a), 0);
    assert_true(a.by_code[PB_F_DUPLICATE_PAYMENT_ID] > 50);
    assert_true(a.by_code[PB_F_POSSIBLE_DUPLICATE_PAYOUT] > 10);
    for (m = 0; m < 8; m++) {
        g_mask = m & 1 ? 0xF000000000000003ULL : m == 2 ? 0 : ~(uint64_t)0;
        g_mark_every = m & 2 ? 16 : 0;
        g_data = m & 5 ? data : NULL;
        g_threads = (m & 4) != 0; /* rules on a second thread: the same transcript */
        g_len = len;
        for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
            assert_int_equal(run(data, len, chunks[i], t, &b), 0);
            assert_int_equal(t->len, ref->len);
            assert_memory_equal(t->text, ref->text, ref->len);
            assert_memory_equal(b.by_code, a.by_code, sizeof(a.by_code));
        }
    }
    g_mask = 0;
    g_mark_every = 0;
    g_data = NULL;
    g_threads = 0;
    free(data);
    free(ref);
    free(t);
}

/* With a checking thread every sample gives the transcript it gives without one. */
static void test_threads_change_nothing(void **state)
{
    static const char *files[] = {"payouts-invalid.csv", "payouts-valid.csv",
                                  "payouts-invalid-major.csv", "payouts-bad-header.csv",
                                  "payouts-empty.csv"};
    static const size_t chunks[] = {0, 1, 7, 4096};
    size_t i, j, len;
    (void)state;
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[1024];
        char *data;
        transcript *ref = calloc(1, sizeof(transcript)), *t = calloc(1, sizeof(transcript));
        pb_validator_stats a, b;
        int rc;
        snprintf(path, sizeof(path), "%s/samples/%s", PB_SOURCE_DIR, files[i]);
        data = slurp(path, &len);
        rc = run(data, len, 0, ref, &a);
        g_data = data;
        g_len = len;
        g_threads = 1;
        for (j = 0; j < sizeof(chunks) / sizeof(chunks[0]); j++) {
            assert_int_equal(run(data, len, chunks[j], t, &b), rc);
            assert_int_equal(t->len, ref->len);
            assert_memory_equal(t->text, ref->text, ref->len);
            if (rc == 0)
                assert_memory_equal(&a, &b, sizeof(a));
        }
        g_threads = 0;
        g_data = NULL;
        free(data);
        free(ref);
        free(t);
    }
}

/* Allocation failures on the confirm path end the run with PB_ENOMEM, never a wrong result. */
static void test_alloc_failures_confirming(void **state)
{
    transcript *ref = calloc(1, sizeof(transcript)), *t = calloc(1, sizeof(transcript));
    size_t len;
    char *data = dup_csv(&len);
    long n;
    int rc = PB_ENOMEM;
    (void)state;
    assert_int_equal(run(data, len, 0, ref, NULL), 0);
    g_mask = 0xF000000000000003ULL;
    g_mark_every = 16;
    for (n = 0; n < 5000 && rc != 0; n += 1 + n / 50) {
        pb_alloc_fail_after(n);
        rc = run(data, len, 0, t, NULL);
        pb_alloc_fail_after(-1);
        assert_true(rc == 0 || rc == PB_ENOMEM);
    }
    assert_int_equal(rc, 0);
    assert_memory_equal(t->text, ref->text, ref->len);
    g_mask = 0;
    g_mark_every = 0;
    free(data);
    free(ref);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunking_gives_identical_results),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_collisions_change_nothing),
        cmocka_unit_test(test_threads_change_nothing),
        cmocka_unit_test(test_alloc_failures_confirming),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
