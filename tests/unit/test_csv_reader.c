#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"
#include "formats/csv_reader.h"

/* Every input is read whole, byte by byte and in random chunks; the transcripts must match. */

typedef struct {
    pb_buf out;
    size_t records;
    size_t stop_after; /* return 42 from the callback at this record (0 = never) */
    uint64_t last_row;
} sink;

static int on_record(const pb_csv_record *rec, void *ctx)
{
    sink *s = ctx;
    size_t i, j;

    assert_true(rec->row > s->last_row);
    s->last_row = rec->row;
    s->records++;
    pb_buf_printf(&s->out, "%llu:", (unsigned long long)rec->row);
    for (i = 0; i < rec->nfields; i++) {
        const pb_str *f = &rec->fields[i];
        assert_int_equal(f->ptr[f->len], '\0');
        if (i)
            pb_buf_putc(&s->out, '|');
        for (j = 0; j < f->len; j++) {
            unsigned char c = (unsigned char)f->ptr[j];
            if (c == '\n')
                pb_buf_puts(&s->out, "\\n");
            else if (c == '\r')
                pb_buf_puts(&s->out, "\\r");
            else if (c == '\t')
                pb_buf_puts(&s->out, "\\t");
            else if (c < 0x20 || c >= 0x80)
                pb_buf_printf(&s->out, "\\x%02x", c);
            else
                pb_buf_putc(&s->out, (char)c);
        }
    }
    if (rec->bad_utf8_field >= 0)
        pb_buf_printf(&s->out, "!%d", rec->bad_utf8_field);
    pb_buf_putc(&s->out, '\n');
    if (s->stop_after && s->records == s->stop_after)
        return 42;
    return 0;
}

enum { WHOLE, BYTES, RANDOM };

static unsigned long rnd_state = 1;
static size_t rnd(size_t n)
{
    rnd_state = rnd_state * 6364136223846793005UL + 1442695040888963407UL;
    return (size_t)((rnd_state >> 33) % n);
}

/* Reads `in` with the chunking `mode`; returns the transcript (caller frees). */
static char *read_csv(const char *in, size_t len, const pb_csv_opts *opts, int mode,
                      size_t stop_after)
{
    pb_csv_reader *r = NULL;
    sink s;
    size_t pos = 0;
    int rc = 0;

    memset(&s, 0, sizeof(s));
    pb_buf_init(&s.out, 1 << 20);
    s.stop_after = stop_after;
    assert_int_equal(pb_csv_reader_new(&r, opts, on_record, &s), PB_OK);
    while (pos < len && rc == 0) {
        size_t n = mode == WHOLE ? len : mode == BYTES ? 1 : 1 + rnd(7);
        if (n > len - pos)
            n = len - pos;
        rc = pb_csv_reader_feed(r, in + pos, n);
        pos += n;
    }
    if (rc == 0)
        rc = pb_csv_reader_finish(r);
    else /* sticky */
        assert_int_equal(pb_csv_reader_finish(r), rc);
    pb_buf_printf(&s.out, "rc=%d rows=%llu delim=%d bom=%d", rc,
                  (unsigned long long)pb_csv_reader_rows(r), pb_csv_reader_delimiter(r),
                  pb_csv_reader_had_bom(r));
    if (rc == PB_EPARSE || rc == PB_ELIMIT) {
        assert_true(strlen(pb_csv_reader_error(r)) > 10);
        pb_buf_printf(&s.out, " erow=%llu", (unsigned long long)pb_csv_reader_error_row(r));
    }
    pb_csv_reader_free(r);
    return pb_buf_detach(&s.out, NULL);
}

static void check_opts(const char *in, size_t len, const pb_csv_opts *opts, const char *expect)
{
    char *t;
    int mode, i;

    for (mode = WHOLE; mode <= RANDOM; mode++) {
        for (i = 0; i < (mode == RANDOM ? 8 : 1); i++) {
            t = read_csv(in, len, opts, mode, 0);
            if (strcmp(t, expect) != 0)
                fail_msg("mode %d:\n--- got\n%s\n--- expected\n%s", mode, t, expect);
            pb_free(t);
        }
    }
}

static void check(const char *in, const char *expect)
{
    check_opts(in, strlen(in), NULL, expect);
}

static void test_basic(void **state)
{
    (void)state;
    check("a,b,c\n1,2,3\n", "1:a|b|c\n2:1|2|3\nrc=0 rows=2 delim=44 bom=0");
    check("a,b\n1,2", "1:a|b\n2:1|2\nrc=0 rows=2 delim=44 bom=0");
    check("a,b\n1,", "1:a|b\n2:1|\nrc=0 rows=2 delim=44 bom=0");
    check("a\n", "1:a\nrc=0 rows=1 delim=44 bom=0");
    check(" a , b \n", "1:a|b\nrc=0 rows=1 delim=44 bom=0");
    check("a,\" b \"\n", "1:a| b \nrc=0 rows=1 delim=44 bom=0");
}

static void test_line_ends(void **state)
{
    (void)state;
    check("a,b\r\n1,2\r\n3,4\r\n", "1:a|b\n2:1|2\n3:3|4\nrc=0 rows=3 delim=44 bom=0");
    check("a,b\r1,2\r3,4", "1:a|b\n2:1|2\n3:3|4\nrc=0 rows=3 delim=44 bom=0");
    check("a,b\r\n\r\n1,2\r\n", "1:a|b\n3:1|2\nrc=0 rows=3 delim=44 bom=0");
    check("a,b\n\r1,2\n", "1:a|b\n3:1|2\nrc=0 rows=3 delim=44 bom=0");
    check("a,b\r\r\n1,2", "1:a|b\n3:1|2\nrc=0 rows=3 delim=44 bom=0");
}

static void test_quoting(void **state)
{
    (void)state;
    check("h1,h2\n\"x,y\",\"say \"\"hi\"\"\"\n",
          "1:h1|h2\n2:x,y|say \"hi\"\nrc=0 rows=2 delim=44 bom=0");
    check("h\n\"\"\n", "1:h\n2:\nrc=0 rows=2 delim=44 bom=0");
    check("h\n\"a\"  ,b\n", "1:h\n2:a|b\nrc=0 rows=2 delim=44 bom=0");
}

static void test_blank_and_multiline_rows(void **state)
{
    (void)state;
    /* row 1 header, 2 blank, 3 spans three lines, 4 blank (spaces), 5 record */
    check("id,desc\n\n1,\"line one\nline two\r\nline three\"\n   \n2,x\n",
          "1:id|desc\n3:1|line one\\nline two\\r\\nline three\n5:2|x\nrc=0 rows=5 delim=44 "
          "bom=0");
    check("id,desc\r\n\r\n1,\"a\r\nb\"\r\n\t \r\n2,x\r\n\r\n",
          "1:id|desc\n3:1|a\\r\\nb\n5:2|x\nrc=0 rows=6 delim=44 bom=0");
    /* blank lines before the header also take rows */
    check("\n\na;b\n", "3:a|b\nrc=0 rows=3 delim=59 bom=0");
}

static void test_bom(void **state)
{
    (void)state;
    check("\xEF\xBB\xBFh1,h2\n1,2\n", "1:h1|h2\n2:1|2\nrc=0 rows=2 delim=44 bom=1");
    /* a broken BOM prefix is data, and invalid UTF-8 */
    check("\xEF\xBBh\n", "1:\\xef\\xbbh!0\nrc=0 rows=1 delim=44 bom=0");
    check("\xEF", "1:\\xef!0\nrc=0 rows=1 delim=44 bom=0");
    /* a BOM later in the file is just U+FEFF */
    check("h\n\xEF\xBB\xBF\n", "1:h\n2:\\xef\\xbb\\xbf\nrc=0 rows=2 delim=44 bom=0");
}

static void test_bom_split(void **state)
{
    const char *in = "\xEF\xBB\xBFid;x\n1;2\n";
    size_t len = strlen(in), cut1, cut2;
    (void)state;
    for (cut1 = 0; cut1 <= 4; cut1++) {
        for (cut2 = cut1; cut2 <= 5; cut2++) {
            pb_csv_reader *r = NULL;
            sink s;
            memset(&s, 0, sizeof(s));
            pb_buf_init(&s.out, 4096);
            assert_int_equal(pb_csv_reader_new(&r, NULL, on_record, &s), PB_OK);
            assert_int_equal(pb_csv_reader_feed(r, in, cut1), PB_OK);
            assert_int_equal(pb_csv_reader_feed(r, in + cut1, cut2 - cut1), PB_OK);
            assert_int_equal(pb_csv_reader_feed(r, in + cut2, len - cut2), PB_OK);
            assert_int_equal(pb_csv_reader_finish(r), PB_OK);
            assert_string_equal(pb_buf_cstr(&s.out), "1:id|x\n2:1|2\n");
            assert_int_equal(pb_csv_reader_had_bom(r), 1);
            assert_int_equal(pb_csv_reader_delimiter(r), ';');
            pb_csv_reader_free(r);
            pb_buf_free(&s.out);
        }
    }
}

static void test_delimiter_detection(void **state)
{
    pb_csv_opts o = {0};
    (void)state;
    check("a,b,c\n1,2,3\n", "1:a|b|c\n2:1|2|3\nrc=0 rows=2 delim=44 bom=0");
    check("a;b;c\n1;2,5;3\n", "1:a|b|c\n2:1|2,5|3\nrc=0 rows=2 delim=59 bom=0");
    check("a\tb\tc\n1\t2\t3\n", "1:a|b|c\n2:1|2|3\nrc=0 rows=2 delim=9 bom=0");
    /* quoted delimiters do not count */
    check("\"a,b,c\";d;e\n", "1:a,b,c|d|e\nrc=0 rows=1 delim=59 bom=0");
    check("\"x\ny,z,w\";d\n", "1:x\\ny,z,w|d\nrc=0 rows=1 delim=59 bom=0");
    /* none: comma */
    check("amount\n5\n", "1:amount\n2:5\nrc=0 rows=2 delim=44 bom=0");
    /* decided at end of input without a line end */
    check("a;b", "1:a|b\nrc=0 rows=1 delim=59 bom=0");
    /* forced */
    o.delimiter = ';';
    check_opts("a,b;c\n", 6, &o, "1:a,b|c\nrc=0 rows=1 delim=59 bom=0");
    o.delimiter = '\t';
    check_opts("a,b\tc\n", 6, &o, "1:a,b|c\nrc=0 rows=1 delim=9 bom=0");
    o.delimiter = '|';
    {
        pb_csv_reader *r = NULL;
        assert_int_equal(pb_csv_reader_new(&r, &o, on_record, NULL), PB_EINVAL);
        assert_null(r);
    }
}

static void test_delimiter_unknown_before_header(void **state)
{
    pb_csv_reader *r = NULL;
    sink s;
    (void)state;
    memset(&s, 0, sizeof(s));
    pb_buf_init(&s.out, 4096);
    assert_int_equal(pb_csv_reader_new(&r, NULL, on_record, &s), PB_OK);
    assert_int_equal(pb_csv_reader_feed(r, "a;b", 3), PB_OK);
    assert_int_equal(pb_csv_reader_delimiter(r), 0);
    assert_int_equal(s.records, 0);
    assert_int_equal(pb_csv_reader_feed(r, "\n", 1), PB_OK);
    assert_int_equal(pb_csv_reader_delimiter(r), ';');
    assert_int_equal(pb_csv_reader_finish(r), PB_OK);
    assert_int_equal(s.records, 1);
    pb_csv_reader_free(r);
    pb_buf_free(&s.out);
}

static void test_bad_quoting(void **state)
{
    (void)state;
    check("h,i\na,\"b\"c\n", "1:h|i\nrc=-6 rows=1 delim=44 bom=0 erow=2");
    check("h,i\na,b\"c\n", "1:h|i\nrc=-6 rows=1 delim=44 bom=0 erow=2");
    check("h,i\n\n\"a\nb\",\"unclosed\n", "1:h|i\nrc=-6 rows=2 delim=44 bom=0 erow=3");
    {
        const char *in = "h\na,\"b\"c\n";
        pb_csv_reader *r = NULL;
        sink s;
        memset(&s, 0, sizeof(s));
        pb_buf_init(&s.out, 4096);
        assert_int_equal(pb_csv_reader_new(&r, NULL, on_record, &s), PB_OK);
        assert_int_equal(pb_csv_reader_feed(r, in, strlen(in)), PB_EPARSE);
        assert_non_null(strstr(pb_csv_reader_error(r), "must be doubled"));
        assert_int_equal(pb_csv_reader_error_row(r), 2);
        pb_csv_reader_free(r);
        pb_buf_free(&s.out);
    }
}

static void test_utf8(void **state)
{
    (void)state;
    check("h\n\xC3\xA9t\xC3\xA9,\xE2\x82\xAC,\xF0\x9F\x98\x80\n",
          "1:h\n2:\\xc3\\xa9t\\xc3\\xa9|\\xe2\\x82\\xac|\\xf0\\x9f\\x98\\x80\nrc=0 rows=2 delim=44 "
          "bom=0");
    check("h\nok,\xC0\xAF\n", "1:h\n2:ok|\\xc0\\xaf!1\nrc=0 rows=2 delim=44 bom=0"); /* overlong */
    check("h\n\xE0\x80\xAF\n", "1:h\n2:\\xe0\\x80\\xaf!0\nrc=0 rows=2 delim=44 bom=0");
    check("h\n\xF0\x80\x80\xAF\n", "1:h\n2:\\xf0\\x80\\x80\\xaf!0\nrc=0 rows=2 delim=44 bom=0");
    check("h\na,\xED\xA0\x80\n", "1:h\n2:a|\\xed\\xa0\\x80!1\nrc=0 rows=2 delim=44 bom=0");
    check("h\n\xF4\x90\x80\x80\n", "1:h\n2:\\xf4\\x90\\x80\\x80!0\nrc=0 rows=2 delim=44 bom=0");
    check("h\n\xF5\x80\x80\x80\n", "1:h\n2:\\xf5\\x80\\x80\\x80!0\nrc=0 rows=2 delim=44 bom=0");
    check("h\n\x80,\xC3\n", "1:h\n2:\\x80|\\xc3!0\nrc=0 rows=2 delim=44 bom=0");
    check("h\nabcdefghijkl\xC3(\n", "1:h\n2:abcdefghijkl\\xc3(!0\nrc=0 rows=2 delim=44 bom=0");
    /* a sequence cut by a delimiter is invalid in both halves: the first is reported */
    check("h\na,\xE2\x82,\xAC\n", "1:h\n2:a|\\xe2\\x82|\\xac!1\nrc=0 rows=2 delim=44 bom=0");
    /* the flag does not leak into the next record */
    check("h\n\xFF\nok\n", "1:h\n2:\\xff!0\n3:ok\nrc=0 rows=3 delim=44 bom=0");
    /* edge code points */
    check("\xF4\x8F\xBF\xBF,\xEF\xBF\xBF,\xC2\x80\n",
          "1:\\xf4\\x8f\\xbf\\xbf|\\xef\\xbf\\xbf|\\xc2\\x80\nrc=0 rows=1 delim=44 bom=0");
}

static void test_empty_inputs(void **state)
{
    (void)state;
    check("", "rc=0 rows=0 delim=44 bom=0");
    check("\xEF\xBB\xBF", "rc=0 rows=0 delim=44 bom=1");
    check("\n\n\r\n  \n", "rc=0 rows=4 delim=44 bom=0");
    check("\xEF\xBB\xBF\r\n \t\r\n", "rc=0 rows=2 delim=44 bom=1");
    check("   ", "rc=0 rows=0 delim=44 bom=0");
}

static void test_field_cap(void **state)
{
    pb_csv_opts o = {0};
    (void)state;
    o.max_field = 4;
    check_opts("ab,abcd\n\"abcd\",\"ab\"\"c\"\n", 23, &o,
               "1:ab|abcd\n2:abcd|ab\"c\nrc=0 rows=2 delim=44 bom=0");
    check_opts("h\nabcde\n", 8, &o, "1:h\nrc=-5 rows=1 delim=44 bom=0 erow=2");
    check_opts("h\n\"abcde\"\n", 10, &o, "1:h\nrc=-5 rows=1 delim=44 bom=0 erow=2");
    check_opts("h\n\n\"ab\nc\nd\ne\n", 13, &o, "1:h\nrc=-5 rows=2 delim=44 bom=0 erow=3");
    check_opts("h\nabcdef", 8, &o, "1:h\nrc=-5 rows=1 delim=44 bom=0 erow=2");
    check_opts("h\nabcde", 7, &o, "1:h\nrc=-5 rows=1 delim=44 bom=0 erow=2");
}

static void test_fields_cap(void **state)
{
    pb_csv_opts o = {0};
    (void)state;
    o.max_fields = 3;
    check_opts("a,b,c\n1,2,3,4\n", 14, &o, "1:a|b|c\nrc=-5 rows=1 delim=44 bom=0 erow=2");
    check_opts("a,b,c\n1,2,\n", 11, &o, "1:a|b|c\n2:1|2|\nrc=0 rows=2 delim=44 bom=0");
}

/* Once warmed up, the reader does not allocate: not for more rows, not for a huge field. */
static void test_no_growth(void **state)
{
    pb_csv_reader *r = NULL;
    pb_csv_opts o = {0};
    sink s;
    char chunk[4096];
    size_t i;
    (void)state;
    memset(&s, 0, sizeof(s));
    pb_buf_init(&s.out, 1 << 16);
    o.max_field = 1000;
    assert_int_equal(pb_csv_reader_new(&r, &o, on_record, &s), PB_OK);
    assert_int_equal(pb_csv_reader_feed(r, "a,b,c\n1,2,3\n", 12), PB_OK);
    pb_buf_clear(&s.out);
    assert_int_equal(pb_buf_put(&s.out, "x", 1), PB_OK); /* keep its allocation */
    pb_alloc_fail_after(0);
    for (i = 0; i < 20000; i++) {
        pb_buf_clear(&s.out);
        assert_int_equal(pb_csv_reader_feed(r, "4,\"5\",6\r\n\r\n", 11), PB_OK);
    }
    assert_int_equal(pb_csv_reader_rows(r), 2 + 2 * 20000);
    memset(chunk, 'x', sizeof(chunk));
    assert_int_equal(pb_csv_reader_feed(r, "\"", 1), PB_OK);
    for (i = 0; i < 1000; i++) {
        int rc = pb_csv_reader_feed(r, chunk, sizeof(chunk));
        if (rc != PB_OK) {
            assert_int_equal(rc, PB_ELIMIT);
            break;
        }
    }
    assert_int_equal(i, 0);
    assert_int_equal(pb_csv_reader_error_row(r), 2 + 2 * 20000 + 1);
    pb_alloc_fail_after(-1);
    pb_csv_reader_free(r);
    pb_buf_free(&s.out);
}

static void test_header_cap(void **state)
{
    pb_csv_opts o = {0};
    char in[64];
    (void)state;
    o.max_field = 2;
    o.max_fields = 2;
    memset(in, 'a', sizeof(in));
    check_opts(in, sizeof(in), &o, "rc=-5 rows=0 delim=0 bom=0 erow=1");
    /* the same with the line end in the same chunk (fuzzer find): chunking must not matter */
    in[sizeof(in) - 1] = '\n';
    check_opts(in, sizeof(in), &o, "rc=-5 rows=0 delim=0 bom=0 erow=1");
    /* exactly at the cap is fine as far as detection goes (then the field cap applies) */
    check_opts("a,b\nc,d\n", 8, &o, "1:a|b\n2:c|d\nrc=0 rows=2 delim=44 bom=0");
}

static void test_callback_stop(void **state)
{
    const char *in = "a,b\n1,2\n\n3,4\n5,6\n";
    char *t;
    int mode;
    (void)state;
    for (mode = WHOLE; mode <= RANDOM; mode++) {
        t = read_csv(in, strlen(in), NULL, mode, 3);
        assert_string_equal(t, "1:a|b\n2:1|2\n4:3|4\nrc=42 rows=4 delim=44 bom=0");
        pb_free(t);
    }
}

static void test_alloc_failures(void **state)
{
    const char *in = "\xEF\xBB\xBFid;name\n1;\"x\ny\"\n\n2;z\n";
    long n;
    int mode;
    (void)state;
    for (mode = WHOLE; mode <= BYTES; mode++) {
        for (n = 0; n < 100; n++) {
            pb_csv_reader *r = NULL;
            sink s;
            size_t pos = 0, len = strlen(in);
            int rc;
            memset(&s, 0, sizeof(s));
            pb_buf_init(&s.out, 4096);
            pb_buf_put(&s.out, "x", 1);
            pb_buf_clear(&s.out);
            pb_alloc_fail_after(n);
            rc = pb_csv_reader_new(&r, NULL, on_record, &s);
            if (rc == PB_OK) {
                while (rc == PB_OK && pos < len) {
                    size_t k = mode == WHOLE ? len : 1;
                    rc = pb_csv_reader_feed(r, in + pos, k);
                    pos += k;
                }
                if (rc == PB_OK)
                    rc = pb_csv_reader_finish(r);
            } else {
                assert_null(r);
            }
            pb_alloc_fail_after(-1);
            pb_csv_reader_free(r);
            if (rc == PB_OK) {
                assert_string_equal(pb_buf_cstr(&s.out), "1:id|name\n2:1|x\\ny\n4:2|z\n");
                pb_buf_free(&s.out);
                break;
            }
            assert_int_equal(rc, PB_ENOMEM);
            pb_buf_free(&s.out);
        }
        assert_true(n > 0 && n < 100);
    }
}

static void test_free_null_and_args(void **state)
{
    pb_csv_reader *r = NULL;
    (void)state;
    pb_csv_reader_free(NULL);
    assert_int_equal(pb_csv_reader_new(NULL, NULL, on_record, NULL), PB_EINVAL);
    assert_int_equal(pb_csv_reader_new(&r, NULL, NULL, NULL), PB_EINVAL);
    assert_int_equal(pb_csv_reader_feed(NULL, "a", 1), PB_EINVAL);
    assert_int_equal(pb_csv_reader_finish(NULL), PB_EINVAL);
    assert_int_equal(pb_csv_reader_rows(NULL), 0);
}

/* 300 random records of 3 cells (quotes, line breaks in cells, bad UTF-8, blank lines) after
 * `header`. */
static void random_file(pb_buf *in, const char *header)
{
    static const char *cells[] = {
        "plain", "\"q,u\"\"o\"\"te\"", "\"multi\r\nline\"", "", "\xC3\xA9", "\xC3", " sp ", "\"\""};
    static const char *ends[] = {"\n", "\r\n", "\r", "\n\n", "\r\n \r\n"};
    int i, k;
    pb_buf_init(in, 1 << 20);
    pb_buf_puts(in, header);
    for (i = 0; i < 300; i++) {
        for (k = 0; k < 3; k++) {
            if (k)
                pb_buf_putc(in, ';');
            pb_buf_puts(in, cells[rnd(8)]);
        }
        pb_buf_puts(in, ends[rnd(5)]);
    }
}

/* A bigger file: many random chunkings agree with one-shot reading. */
static void test_random_file(void **state)
{
    pb_buf in;
    char *ref, *t;
    int i;
    (void)state;
    random_file(&in, "\xEF\xBB\xBFh1;h2;h3\r\n");
    ref = read_csv(in.ptr, in.len, NULL, WHOLE, 0);
    assert_non_null(strstr(ref, "rc=0 "));
    for (i = 0; i < 20; i++) {
        t = read_csv(in.ptr, in.len, NULL, i == 0 ? BYTES : RANDOM, 0);
        assert_string_equal(t, ref);
        pb_free(t);
    }
    pb_free(ref);
    pb_buf_free(&in);
}

/* Batch mode: records noted by the callback, their cells taken now and then. */
typedef struct {
    pb_csv_reader *r;
    pb_buf meta; /* per record: row, nfields, bad_utf8_field */
    pb_buf bytes, lens;
    size_t done; /* records already printed */
    sink out;
} batch_sink;

typedef struct {
    uint64_t row;
    size_t nfields;
    int bad;
} batch_meta;

/* Take what the reader piled up and print those records as on_record prints them. */
static void batch_take(batch_sink *b)
{
    const batch_meta *m = (const batch_meta *)(const void *)b->meta.ptr;
    size_t n = b->meta.len / sizeof(*m), i, j, k = 0, off = 0;
    const uint32_t *len;

    assert_int_equal(pb_csv_reader_take(b->r, &b->bytes, &b->lens), PB_OK);
    len = (const uint32_t *)(const void *)b->lens.ptr;
    for (i = b->done; i < n; i++) {
        pb_str f[8];
        pb_csv_record rec;
        assert_true(m[i].nfields <= 8);
        for (j = 0; j < m[i].nfields; j++, k++) {
            f[j].ptr = b->bytes.ptr + off;
            f[j].len = len[k];
            off += len[k] + 1;
        }
        rec.row = m[i].row;
        rec.nfields = m[i].nfields;
        rec.fields = f;
        rec.bad_utf8_field = m[i].bad;
        assert_int_equal(on_record(&rec, &b->out), 0);
    }
    assert_int_equal(off, b->bytes.len); /* every cell handed over, no more */
    assert_int_equal(k * sizeof(uint32_t), b->lens.len);
    b->done = n;
}

static int on_batch_record(const pb_csv_record *rec, void *ctx)
{
    batch_sink *b = ctx;
    batch_meta m;
    m.row = rec->row;
    m.nfields = rec->nfields;
    m.bad = rec->bad_utf8_field;
    assert_int_equal(pb_buf_put(&b->meta, &m, sizeof(m)), PB_OK);
    if (rnd(5) == 0)
        batch_take(b); /* during the callback: this record too */
    return 0;
}

/* Cells handed over in batches (taken in callbacks and between feeds, mid-record too) are the
 * records a reader without batches delivers. */
static void test_batch_take(void **state)
{
    pb_buf in;
    char *ref;
    int i;
    (void)state;
    random_file(&in, "h1;h2;h3\r\n");
    ref = read_csv(in.ptr, in.len, NULL, WHOLE, 0);
    for (i = 0; i < 10; i++) {
        batch_sink b;
        pb_csv_opts o;
        size_t pos = 0;
        memset(&b, 0, sizeof(b));
        memset(&o, 0, sizeof(o));
        o.batch = 1;
        pb_buf_init(&b.meta, SIZE_MAX / 2);
        pb_buf_init(&b.bytes, SIZE_MAX / 2);
        pb_buf_init(&b.lens, SIZE_MAX / 2);
        pb_buf_init(&b.out.out, 1 << 20);
        assert_int_equal(pb_csv_reader_new(&b.r, &o, on_batch_record, &b), PB_OK);
        while (pos < in.len) {
            size_t n = i == 0 ? in.len : 1 + rnd(40);
            if (n > in.len - pos)
                n = in.len - pos;
            assert_int_equal(pb_csv_reader_feed(b.r, in.ptr + pos, n), PB_OK);
            pos += n;
            if (rnd(3) == 0)
                batch_take(&b); /* between feeds: a record may be half read */
        }
        assert_int_equal(pb_csv_reader_finish(b.r), PB_OK);
        batch_take(&b);
        pb_buf_printf(&b.out.out, "rc=0 rows=%llu delim=%d bom=0",
                      (unsigned long long)pb_csv_reader_rows(b.r), pb_csv_reader_delimiter(b.r));
        assert_string_equal(b.out.out.ptr, ref);
        pb_csv_reader_free(b.r);
        pb_buf_free(&b.meta);
        pb_buf_free(&b.bytes);
        pb_buf_free(&b.lens);
        pb_buf_free(&b.out.out);
    }
    pb_free(ref);
    pb_buf_free(&in);
}

/* The records of a reader resumed at a mark, fed the input from the mark's offset on. */
static char *read_from_mark(const char *in, size_t len, const pb_csv_mark *m)
{
    pb_csv_reader *r = NULL;
    pb_csv_opts o;
    sink s;
    size_t pos = m->off;

    memset(&s, 0, sizeof(s));
    memset(&o, 0, sizeof(o));
    o.delimiter = ';';
    pb_buf_init(&s.out, 1 << 20);
    s.last_row = m->row - 1;
    assert_int_equal(pb_csv_reader_new(&r, &o, on_record, &s), PB_OK);
    assert_int_equal(pb_csv_reader_resume(r, m->row), PB_OK);
    while (pos < len) {
        size_t n = 1 + rnd(50);
        if (n > len - pos)
            n = len - pos;
        assert_int_equal(pb_csv_reader_feed(r, in + pos, n), PB_OK);
        pos += n;
    }
    assert_int_equal(pb_csv_reader_finish(r), PB_OK);
    pb_csv_reader_free(r);
    pb_buf_putc(&s.out, '\0');
    return pb_buf_detach(&s.out, NULL);
}

/* Re-reading from any mark gives the same records from its row on (LF, CRLF, CR, quotes). */
static void test_marks(void **state)
{
    static const char *cells[] = {
        "plain", "\"q;u\"\"o\"\"te\"", "\"multi\r\nline\"", "\"lf\nin\rit\"", "",
        " sp ",  "\xEF\xBB\xBF"};
    static const char *ends[] = {"\n", "\r\n", "\r", "\n\n", "\r\r\n"};
    static const size_t every[] = {1, 7, 64, 8192};
    pb_buf in;
    size_t e, k;
    int i, mode;
    (void)state;
    for (mode = 0; mode < 3; mode++) {
        pb_buf_init(&in, 1 << 20);
        pb_buf_puts(&in, mode == 1 ? "h1;h2;h3\r" : "\xEF\xBB\xBFh1;h2;h3\r\n");
        for (i = 0; i < 200; i++) {
            for (k = 0; k < 3; k++) {
                if (k)
                    pb_buf_putc(&in, ';');
                pb_buf_puts(&in, cells[rnd(7)]);
            }
            pb_buf_puts(&in, mode == 1 ? "\r" : mode == 2 ? "\n" : ends[rnd(5)]);
        }
        for (e = 0; e < sizeof(every) / sizeof(every[0]); e++) {
            pb_csv_reader *r = NULL;
            pb_csv_opts o;
            sink s;
            size_t pos = 0, nmarks = 0;
            uint64_t row, last = 0;

            memset(&s, 0, sizeof(s));
            memset(&o, 0, sizeof(o));
            o.mark_every = every[e];
            pb_buf_init(&s.out, 1 << 20);
            assert_int_equal(pb_csv_reader_new(&r, &o, on_record, &s), PB_OK);
            while (pos < in.len) {
                size_t n = 1 + rnd(300);
                if (n > in.len - pos)
                    n = in.len - pos;
                assert_int_equal(pb_csv_reader_feed(r, in.ptr + pos, n), PB_OK);
                pos += n;
            }
            assert_int_equal(pb_csv_reader_finish(r), PB_OK);
            pb_buf_putc(&s.out, '\0');
            for (row = 1; row <= pb_csv_reader_rows(r); row++) {
                pb_csv_mark m;
                uint64_t next;
                char *t;
                const char *from;
                if (pb_csv_reader_mark_before(r, row, &m, &next) != 0 || m.row == last)
                    continue;
                assert_true(m.row <= row && (next == 0 || next > row));
                last = m.row;
                nmarks++;
                t = read_from_mark(in.ptr, in.len, &m);
                /* the reference's records from the mark's row on */
                for (from = s.out.ptr; *from; from = strchr(from, '\n') + 1) {
                    if (strtoull(from, NULL, 10) >= m.row)
                        break;
                }
                assert_string_equal(t, from);
                pb_free(t);
            }
            /* every mark was tried, but maybe one after the last line end (no row follows) */
            assert_true(nmarks + 1 >= pb_csv_reader_marks(r) && nmarks <= pb_csv_reader_marks(r));
            /* small spacings mark most lines (not those inside quotes) */
            if (every[e] <= 7 && nmarks <= 100)
                fail_msg("mode %d every %zu: %zu marks", mode, every[e], nmarks);
            pb_csv_reader_free(r);
            pb_buf_free(&s.out);
        }
        pb_buf_free(&in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_marks),
        cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_blank_and_multiline_rows),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_bom_split),
        cmocka_unit_test(test_delimiter_detection),
        cmocka_unit_test(test_delimiter_unknown_before_header),
        cmocka_unit_test(test_bad_quoting),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_empty_inputs),
        cmocka_unit_test(test_field_cap),
        cmocka_unit_test(test_fields_cap),
        cmocka_unit_test(test_no_growth),
        cmocka_unit_test(test_header_cap),
        cmocka_unit_test(test_callback_stop),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_free_null_and_args),
        cmocka_unit_test(test_random_file),
        cmocka_unit_test(test_batch_take),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
