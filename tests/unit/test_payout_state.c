#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/errors.h"
#include "core/payout_state.h"

#define Q PB_ROW_QUEUED
#define S PB_ROW_SENDING
#define D PB_ROW_IN_DOUBT
#define A PB_ROW_ACCEPTED

static void test_names(void **state)
{
    (void)state;
    for (int i = 0; i < PB_ROW_STATE_COUNT; i++) {
        const char *n = pb_row_state_name((pb_row_state)i);
        pb_row_state back = PB_ROW_STATE_COUNT;
        assert_int_equal(pb_row_state_parse(n, strlen(n), &back), PB_OK);
        assert_int_equal(back, i);
    }
    assert_string_equal(pb_row_state_name(PB_ROW_IN_DOUBT), "in_doubt");
    assert_string_equal(pb_row_state_name(PB_ROW_STATE_COUNT), "?");
    assert_string_equal(pb_row_state_name((pb_row_state)-1), "?");
    pb_row_state out;
    assert_int_equal(pb_row_state_parse("queue", 5, &out), PB_ENOTFOUND);
    assert_int_equal(pb_row_state_parse("queuedx", 7, &out), PB_ENOTFOUND);
    assert_int_equal(pb_row_state_parse("QUEUED", 6, &out), PB_ENOTFOUND);
}

static void test_final(void **state)
{
    (void)state;
    static const int final[PB_ROW_STATE_COUNT] = {1, 0, 0, 0, 0, 1, 1, 1, 1, 1};
    for (int i = 0; i < PB_ROW_STATE_COUNT; i++)
        assert_int_equal(pb_row_state_is_final((pb_row_state)i), final[i]);
}

/* The whole transition table of SPEC 7, cell by cell. */
static void test_transitions(void **state)
{
    (void)state;
    static const char *const allowed[] = {
        "queued>sending",   "sending>accepted",  "sending>rejected",  "sending>in_doubt",
        "sending>queued",   "sending>success",   "sending>decline",   "sending>error",
        "in_doubt>queued",  "in_doubt>accepted", "in_doubt>rejected", "in_doubt>success",
        "in_doubt>decline", "in_doubt>error",    "accepted>success",  "accepted>decline",
        "accepted>error",   "success>reversed"};
    int count = 0;
    for (int f = 0; f < PB_ROW_STATE_COUNT; f++) {
        for (int t = 0; t < PB_ROW_STATE_COUNT; t++) {
            char want[40];
            snprintf(want, sizeof want, "%s>%s", pb_row_state_name((pb_row_state)f),
                     pb_row_state_name((pb_row_state)t));
            int listed = 0;
            for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
                listed |= strcmp(allowed[i], want) == 0;
            print_message("%s %d\n", want, listed);
            assert_int_equal(pb_row_state_allowed((pb_row_state)f, (pb_row_state)t), listed);
            count += listed;
        }
    }
    assert_int_equal(count, 18);
    /* a final state is never replaced (success -> reversed is the one exception) */
    for (int f = 0; f < PB_ROW_STATE_COUNT; f++)
        for (int t = 0; t < PB_ROW_STATE_COUNT; t++)
            if (pb_row_state_is_final((pb_row_state)f) &&
                pb_row_state_allowed((pb_row_state)f, (pb_row_state)t))
                assert_true(f == PB_ROW_SUCCESS && t == PB_ROW_REVERSED);
    assert_false(pb_row_state_allowed(Q, Q));
    assert_false(pb_row_state_allowed(D, D));
    assert_false(pb_row_state_allowed(A, Q));
    assert_false(pb_row_state_allowed(S, PB_ROW_STATE_COUNT));
    assert_false(pb_row_state_allowed((pb_row_state)-1, Q));
}

static void test_field_set(void **state)
{
    (void)state;
    char dst[8];
    pb_row_field_set(dst, 7, "abc", 3);
    assert_string_equal(dst, "abc");
    pb_row_field_set(dst, 7, "abcdefghij", 10);
    assert_string_equal(dst, "abcdefg");
    pb_row_field_set(dst, 7, "", 0);
    assert_string_equal(dst, "");
    /* "abcde" + U+00E9 (2 bytes) + "x": a cut at 7 would split nothing, at 6 it would */
    pb_row_field_set(dst, 6, "abcde\xc3\xa9x", 8);
    assert_string_equal(dst, "abcde");
    pb_row_field_set(dst, 7, "abcde\xc3\xa9x", 8);
    assert_string_equal(dst, "abcde\xc3\xa9");
    /* a 4-byte character straddling the cap goes whole */
    pb_row_field_set(dst, 5, "ab\xf0\x9f\x92\xb0z", 7);
    assert_string_equal(dst, "ab");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_final),
        cmocka_unit_test(test_transitions),
        cmocka_unit_test(test_field_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
