#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"

static void test_append_and_cap(void **state)
{
    pb_buf b;
    (void)state;
    pb_buf_init(&b, 8);
    assert_string_equal(pb_buf_cstr(&b), "");
    assert_int_equal(pb_buf_puts(&b, "abcd"), PB_OK);
    assert_int_equal(pb_buf_printf(&b, "%d", 123), PB_OK);
    assert_string_equal(pb_buf_cstr(&b), "abcd123");
    assert_int_equal(pb_buf_putc(&b, 'x'), PB_OK);
    /* at the cap: one more byte is refused and the contents stay intact */
    assert_int_equal(pb_buf_putc(&b, 'y'), PB_ELIMIT);
    assert_int_equal(pb_buf_printf(&b, "%s", "zz"), PB_ELIMIT);
    assert_string_equal(pb_buf_cstr(&b), "abcd123x");
    pb_buf_truncate(&b, 2);
    assert_string_equal(pb_buf_cstr(&b), "ab");
    pb_buf_clear(&b);
    assert_int_equal(b.len, 0);
    pb_buf_free(&b);
}

static void test_putz(void **state)
{
    pb_buf b;
    (void)state;
    pb_buf_init(&b, 7);
    assert_int_equal(pb_buf_putz(&b, "ab", 2), PB_OK);
    assert_int_equal(pb_buf_putz(&b, "", 0), PB_OK);
    assert_int_equal(pb_buf_putz(&b, "cd", 2), PB_OK);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.ptr, "ab\0\0cd\0", 8);
    /* the NUL counts against the cap: refused whole, contents intact */
    assert_int_equal(pb_buf_putz(&b, "", 0), PB_ELIMIT);
    assert_int_equal(b.len, 7);
    pb_buf_free(&b);
}

static void test_detach(void **state)
{
    pb_buf b;
    size_t len;
    char *p;
    (void)state;
    pb_buf_init(&b, 100);
    assert_int_equal(pb_buf_put(&b, "hello", 5), PB_OK);
    p = pb_buf_detach(&b, &len);
    assert_int_equal(len, 5);
    assert_string_equal(p, "hello");
    assert_null(b.ptr);
    pb_free(p);
    pb_buf_free(&b);
}

static void test_alloc_failure(void **state)
{
    pb_buf b;
    (void)state;
    pb_buf_init(&b, 1000);
    pb_alloc_fail_after(0);
    assert_int_equal(pb_buf_puts(&b, "x"), PB_ENOMEM);
    pb_alloc_fail_after(-1);
    assert_int_equal(b.len, 0);
    assert_int_equal(pb_buf_puts(&b, "x"), PB_OK);
    pb_buf_free(&b);
}

static void test_errors(void **state)
{
    (void)state;
    assert_string_equal(pb_strerror(PB_ENOMEM), "out of memory");
    assert_string_equal(pb_strerror(12345), "unknown error");
    assert_int_equal(pb_error_set("row %d", 7), PB_ERROR);
    assert_string_equal(pb_error_last(), "row 7");
    pb_error_clear();
    assert_string_equal(pb_error_last(), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_cap), cmocka_unit_test(test_putz),
        cmocka_unit_test(test_detach),         cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
