#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/utf8.h"

#define SEQ(s) ((const unsigned char *)(s)), (sizeof(s) - 1)

static void test_sequence_lengths(void **state)
{
    (void)state;
    assert_int_equal(pb_utf8_seq_len(SEQ("a")), 1);
    assert_int_equal(pb_utf8_seq_len(SEQ("\xC3\xA9")), 2);         /* U+00E9 */
    assert_int_equal(pb_utf8_seq_len(SEQ("\xE2\x82\xAC")), 3);     /* U+20AC */
    assert_int_equal(pb_utf8_seq_len(SEQ("\xF0\x9F\x92\xB8")), 4); /* U+1F4B8 */
    assert_int_equal(pb_utf8_seq_len(SEQ("\xF4\x8F\xBF\xBF")), 4); /* U+10FFFF */
    assert_int_equal(pb_utf8_seq_len(SEQ("\xEF\xBF\xBD")), 3);     /* U+FFFD */
    assert_int_equal(pb_utf8_seq_len((const unsigned char *)"", 0), 0);
}

static void test_rejects(void **state)
{
    (void)state;
    assert_int_equal(pb_utf8_seq_len(SEQ("\x80")), 0);             /* stray continuation */
    assert_int_equal(pb_utf8_seq_len(SEQ("\xC0\xAF")), 0);         /* overlong '/' */
    assert_int_equal(pb_utf8_seq_len(SEQ("\xC1\xBF")), 0);         /* overlong */
    assert_int_equal(pb_utf8_seq_len(SEQ("\xE0\x9F\xBF")), 0);     /* overlong 3-byte */
    assert_int_equal(pb_utf8_seq_len(SEQ("\xF0\x8F\xBF\xBF")), 0); /* overlong 4-byte */
    assert_int_equal(pb_utf8_seq_len(SEQ("\xED\xA0\x80")), 0);     /* U+D800 surrogate */
    assert_int_equal(pb_utf8_seq_len(SEQ("\xED\xBF\xBF")), 0);     /* U+DFFF surrogate */
    assert_int_equal(pb_utf8_seq_len(SEQ("\xF4\x90\x80\x80")), 0); /* U+110000 */
    assert_int_equal(pb_utf8_seq_len(SEQ("\xF5\x80\x80\x80")), 0);
    assert_int_equal(pb_utf8_seq_len(SEQ("\xFF")), 0);
    assert_int_equal(pb_utf8_seq_len(SEQ("\xE2\x82")), 0);     /* truncated */
    assert_int_equal(pb_utf8_seq_len(SEQ("\xE2\x28\xA1")), 0); /* bad continuation */
}

static void test_whole_strings(void **state)
{
    (void)state;
    assert_true(pb_utf8_valid("", 0));
    assert_true(pb_utf8_valid(SEQ("plain ASCII that is longer than eight bytes")));
    assert_true(pb_utf8_valid(SEQ("Jos\xC3\xA9 Garc\xC3\xAD"
                                  "a pays \xE2\x82\xAC 5")));
    /* an invalid byte after a long ASCII run (the 8-byte fast path) and at the very end */
    assert_false(pb_utf8_valid(SEQ("0123456789abcdef\xFF")));
    assert_false(pb_utf8_valid(SEQ("0123456789abcdef\xC3")));
    assert_false(pb_utf8_valid(SEQ("\xED\xA0\x80 surrogate")));
    /* a NUL byte is valid UTF-8 (other rules reject control characters) */
    assert_true(pb_utf8_valid("a\0b", 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequence_lengths),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_whole_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
