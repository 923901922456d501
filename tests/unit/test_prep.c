/*
 * The send driver's table of prepared bodies (batch/send/prep.h) against a reference array:
 * random puts, finds and drops, rows that share a home slot, a full table, buffers that are
 * swapped, never copied or lost.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "batch/send/prep.h"
#include "core/errors.h"

#include <stdio.h>
#include <string.h>

#define MAXROWS 48

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void body_of(uint32_t row, pb_buf *b)
{
    char s[32];
    int n = snprintf(s, sizeof(s), "{\"row\":%u}", row);
    pb_buf_clear(b);
    assert_int_equal(pb_buf_put(b, s, (size_t)n), 0);
}

static void check_body(const pb__prep *p, uint32_t row)
{
    char s[32];
    int n = snprintf(s, sizeof(s), "{\"row\":%u}", row);
    assert_int_equal(p->body.len, (size_t)n);
    assert_memory_equal(p->body.ptr, s, (size_t)n);
}

/* Rows drawn from a small range (many share a home slot), checked after every step. */
static void test_random(void **state)
{
    static const char *const ep[2] = {"/v2/payment/wallet/touchngo/payout", "/v2/gcash"};
    pb__preps t;
    uint8_t held[400] = {0};
    size_t n = 0;
    pb_buf b;
    (void)state;
    assert_int_equal(pb_send__preps_init(&t, MAXROWS, 4096), 0);
    pb_buf_init(&b, 4096);
    for (int step = 0; step < 200000; step++) {
        uint32_t row = 1 + rnd(399);
        pb__prep *p = pb_send__preps_find(&t, row);
        assert_int_equal(p != NULL, held[row]);
        if (p) {
            check_body(p, row);
            assert_ptr_equal(p->endpoint, ep[row % 2]);
            if (rnd(3)) {
                pb_send__preps_drop(&t, p);
                held[row] = 0;
                n--;
            }
        } else {
            body_of(row, &b);
            int rc = pb_send__preps_put(&t, row, ep[row % 2], &b);
            if (n == MAXROWS) {
                assert_int_equal(rc, PB_EAGAIN); /* full: nothing changed */
                assert_non_null(b.ptr);
            } else {
                assert_int_equal(rc, 0);
                assert_int_equal(b.len, 0); /* swapped for an empty buffer */
                held[row] = 1;
                n++;
            }
        }
        assert_int_equal(t.n, n);
    }
    /* a row held is not taken twice */
    for (uint32_t row = 1; row < 400; row++) {
        if (held[row]) {
            body_of(row, &b);
            assert_int_equal(pb_send__preps_put(&t, row, ep[0], &b), PB_EAGAIN);
            break;
        }
    }
    /* every row still held reads back, then the table empties */
    for (uint32_t row = 1; row < 400; row++) {
        pb__prep *p = pb_send__preps_find(&t, row);
        assert_int_equal(p != NULL, held[row]);
        if (p) {
            check_body(p, row);
            pb_send__preps_drop(&t, p);
        }
    }
    assert_int_equal(t.n, 0);
    assert_null(pb_send__preps_find(&t, 0)); /* 0 is never a row */
    pb_buf_free(&b);
    pb_send__preps_free(&t);
}

/* Rows that all hash to one slot, dropped from the middle of their run: the rest stay found
 * (a deletion that left a hole would lose the rows after it). */
static void test_one_home(void **state)
{
    pb__preps t;
    uint32_t rows[12];
    size_t k = 0;
    pb_buf b;
    (void)state;
    assert_int_equal(pb_send__preps_init(&t, 16, 4096), 0);
    pb_buf_init(&b, 4096);
    for (uint32_t r = 1; k < 12; r++)
        if (((size_t)(r * 2654435761u) & t.mask) == ((size_t)(1u * 2654435761u) & t.mask))
            rows[k++] = r;
    for (k = 0; k < 12; k++) {
        body_of(rows[k], &b);
        assert_int_equal(pb_send__preps_put(&t, rows[k], "/x", &b), 0);
    }
    for (size_t drop = 0; drop < 12; drop += 3) {
        pb_send__preps_drop(&t, pb_send__preps_find(&t, rows[drop]));
        for (k = 0; k < 12; k++) {
            pb__prep *p = pb_send__preps_find(&t, rows[k]);
            if (k <= drop && k % 3 == 0) {
                assert_null(p);
            } else {
                assert_non_null(p);
                check_body(p, rows[k]);
            }
        }
    }
    pb_buf_free(&b);
    pb_send__preps_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_one_home),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
