#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"
#include "formats/csv_reader.h"
#include "formats/csv_writer.h"

#define S(lit)                                                                                     \
    {                                                                                              \
        lit, sizeof(lit) - 1                                                                       \
    }

static void expect_record(const pb_str *f, size_t n, char delim, int neutralize, const char *expect)
{
    pb_buf b;
    pb_buf_init(&b, 4096);
    assert_int_equal(pb_csv_write_record(&b, f, n, delim, neutralize), PB_OK);
    assert_string_equal(pb_buf_cstr(&b), expect);
    pb_buf_free(&b);
}

static void test_plain_and_quoting(void **state)
{
    pb_str f[] = {S("a"), S(""), S("x,y"), S("say \"hi\""), S("l1\nl2"), S("cr\r"), S("a;b")};
    (void)state;
    expect_record(f, 7, ',', 0, "a,,\"x,y\",\"say \"\"hi\"\"\",\"l1\nl2\",\"cr\r\",a;b\r\n");
    expect_record(f, 7, ';', 0, "a;;x,y;\"say \"\"hi\"\"\";\"l1\nl2\";\"cr\r\";\"a;b\"\r\n");
    expect_record(f, 1, '\t', 0, "a\r\n");
    expect_record(f, 0, ',', 0, "\r\n");
    {
        pb_str t[] = {S("a\tb"), S("c")};
        expect_record(t, 2, '\t', 0, "\"a\tb\"\tc\r\n");
        expect_record(t, 2, ',', 0, "a\tb,c\r\n");
    }
    {
        pb_str q[] = {S("\""), S("\"\"")};
        expect_record(q, 2, ',', 0, "\"\"\"\",\"\"\"\"\"\"\r\n");
    }
}

static void test_formulas(void **state)
{
    pb_str f[] = {S("=1+2"), S("+1"), S("-5"), S("@SUM(A1)"), S("\tx"), S("\rx"), S("5-"), S("")};
    (void)state;
    expect_record(f, 8, ',', 1, "'=1+2,'+1,'-5,'@SUM(A1),'\tx,\"'\rx\",5-,\r\n");
    expect_record(f, 8, ',', 0, "=1+2,+1,-5,@SUM(A1),\tx,\"\rx\",5-,\r\n");
    {
        pb_str g[] = {S("=a,b")};
        expect_record(g, 1, ',', 1, "\"'=a,b\"\r\n");
    }
}

static void test_cap_leaves_buffer_intact(void **state)
{
    pb_buf b;
    pb_str f[] = {S("hello"), S("wor\"ld")};
    (void)state;
    pb_buf_init(&b, 12);
    assert_int_equal(pb_buf_puts(&b, "x\r\n"), PB_OK);
    assert_int_equal(pb_csv_write_record(&b, f, 2, ',', 0), PB_ELIMIT);
    assert_string_equal(pb_buf_cstr(&b), "x\r\n");
    assert_int_equal(pb_csv_write_record(&b, f, 1, ',', 0), PB_OK);
    assert_string_equal(pb_buf_cstr(&b), "x\r\nhello\r\n");
    pb_buf_free(&b);
}

static void test_bad_args(void **state)
{
    pb_buf b;
    pb_str f[] = {S("a")};
    (void)state;
    pb_buf_init(&b, 100);
    assert_int_equal(pb_csv_write_record(NULL, f, 1, ',', 0), PB_EINVAL);
    assert_int_equal(pb_csv_write_record(&b, NULL, 1, ',', 0), PB_EINVAL);
    assert_int_equal(pb_csv_write_record(&b, f, 1, '"', 0), PB_EINVAL);
    assert_int_equal(pb_csv_write_record(&b, f, 1, '\n', 0), PB_EINVAL);
    pb_buf_free(&b);
}

static void test_alloc_failure(void **state)
{
    pb_buf b;
    pb_str f[] = {S("a,b"), S("c")};
    (void)state;
    pb_buf_init(&b, 100);
    pb_alloc_fail_after(0);
    assert_int_equal(pb_csv_write_record(&b, f, 2, ',', 0), PB_ENOMEM);
    pb_alloc_fail_after(-1);
    assert_int_equal(b.len, 0);
    pb_buf_free(&b);
}

/* What the writer writes, the reader reads back unchanged (quoted cells keep spaces). */
typedef struct {
    const pb_str *want;
    size_t n;
    int seen;
} rt_ctx;

static int rt_cb(const pb_csv_record *rec, void *ctx)
{
    rt_ctx *c = ctx;
    size_t i;
    assert_int_equal(rec->nfields, c->n);
    for (i = 0; i < c->n; i++) {
        assert_int_equal(rec->fields[i].len, c->want[i].len);
        assert_memory_equal(rec->fields[i].ptr, c->want[i].ptr, c->want[i].len);
    }
    c->seen++;
    return 0;
}

static void test_round_trip(void **state)
{
    pb_str f[] = {S("id"), S("x;y"), S("q\"q"), S("multi\r\nline"), S("\xC3\xA9")};
    const char delims[] = {',', ';', '\t'};
    size_t d;
    (void)state;
    for (d = 0; d < 3; d++) {
        pb_buf b;
        pb_csv_reader *r = NULL;
        pb_csv_opts o = {0};
        rt_ctx c = {f, 5, 0};
        pb_buf_init(&b, 4096);
        assert_int_equal(pb_csv_write_record(&b, f, 5, delims[d], 0), PB_OK);
        assert_int_equal(pb_csv_write_record(&b, f, 5, delims[d], 0), PB_OK);
        o.delimiter = delims[d];
        assert_int_equal(pb_csv_reader_new(&r, &o, rt_cb, &c), PB_OK);
        assert_int_equal(pb_csv_reader_feed(r, b.ptr, b.len), PB_OK);
        assert_int_equal(pb_csv_reader_finish(r), PB_OK);
        assert_int_equal(c.seen, 2);
        assert_int_equal(pb_csv_reader_rows(r), 2);
        pb_csv_reader_free(r);
        pb_buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_quoting),
        cmocka_unit_test(test_formulas),
        cmocka_unit_test(test_cap_leaves_buffer_intact),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
