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
#include "formats/dupcheck.h"

/* The keys by row, as the validator's re-read gives them: the confirm callback's truth. */
typedef struct {
    const char *current; /* the key being looked up */
    unsigned confirms;
} keys;

static void key_of(uint64_t row, char out[32])
{
    snprintf(out, 32, "p-%llu", (unsigned long long)(row / 3)); /* rows 3k..3k+2 share a key */
}

static int confirm(uint64_t row, int *same, void *ctx)
{
    keys *k = ctx;
    char want[32];
    key_of(row, want);
    k->confirms++;
    *same = strcmp(want, k->current) == 0;
    return 0;
}

static int check(pb_dupset *s, keys *k, uint64_t row, uint64_t *first)
{
    char key[32];
    key_of(row, key);
    k->current = key;
    return pb_dupset_check(s, pb_dupset_key_hash(s, key, strlen(key)), row, confirm, k, first);
}

/* Rows 3k, 3k+1, 3k+2 share a key: the first is new, the others name row 3k. */
static void run_rows(pb_dupset *s, keys *k, uint64_t from, uint64_t to)
{
    uint64_t row, first;
    for (row = from; row < to; row++) {
        assert_int_equal(check(s, k, row, &first), 0);
        if (row % 3 == 0 || row == from)
            assert_true(first == 0);
        else
            assert_true(first == row - row % 3);
    }
}

static void test_rows_and_growth(void **state)
{
    pb_dupset *s;
    keys *k = calloc(1, sizeof(*k));
    (void)state;
    assert_int_equal(pb_dupset_new(&s, NULL), 0);
    run_rows(s, k, 3, 600000);
    assert_int_equal(pb_dupset_count(s), 200000 - 1);
    /* 6-byte slots (a set that grows) at <= 0.9 load, tables holding 3x the keys at worst */
    assert_true(pb_dupset_bytes(s) < 200000 * 5 * 4);
    /* almost every confirm was a real duplicate */
    assert_true(k->confirms >= 400000 - 2);
    assert_true(pb_dupset_false_matches(s) < 1000);
    pb_dupset_free(s);
    pb_dupset_free(NULL);
    free(k);
}

/* a weakened hash: unrelated keys share homes and fingerprints; confirm keeps it exact */
static void test_collisions_stay_exact(void **state)
{
    pb_dupset *s;
    keys *k = calloc(1, sizeof(*k));
    (void)state;
    assert_int_equal(pb_dupset_new(&s, NULL), 0);
    pb_dupset_weaken(s, 0xF000000000000003ULL);
    run_rows(s, k, 3, 6000);
    assert_int_equal(pb_dupset_count(s), 2000 - 1);
    assert_true(pb_dupset_false_matches(s) > 1000);
    pb_dupset_free(s);
    assert_int_equal(pb_dupset_new(&s, NULL), 0);
    pb_dupset_weaken(s, 0); /* every key the same hash */
    run_rows(s, k, 3, 1500);
    assert_int_equal(pb_dupset_count(s), 500 - 1);
    pb_dupset_free(s);
    free(k);
}

/* rows past 2^24 go to 8-byte slots; the earlier keys keep theirs */
static void test_wide_rows(void **state)
{
    pb_dupset *s;
    keys *k = calloc(1, sizeof(*k));
    uint64_t first, big = ((uint64_t)1 << 24) - 30;
    (void)state;
    assert_int_equal(pb_dupset_new(&s, NULL), 0);
    run_rows(s, k, 3, 3000);
    run_rows(s, k, big - big % 3, big + 60);
    run_rows(s, k, ((uint64_t)1 << 33) * 3, ((uint64_t)1 << 33) * 3 + 30);
    assert_int_equal(check(s, k, 1000, &first), 0); /* 999's key, from the narrow table */
    assert_true(first == 999);
    assert_int_equal(check(s, k, big + 1 - big % 3, &first), 0);
    assert_true(first == big - big % 3);
    assert_int_equal(check(s, k, ((uint64_t)1 << 33) * 3 + 2, &first), 0);
    assert_true(first == ((uint64_t)1 << 33) * 3);
    pb_dupset_free(s);
    free(k);
}

/* reserve adds one table of the right size; keys before it are still found */
static void test_reserve(void **state)
{
    pb_dupset *s;
    keys *k = calloc(1, sizeof(*k));
    size_t bytes;
    (void)state;
    assert_int_equal(pb_dupset_new(&s, NULL), 0);
    run_rows(s, k, 3, 300);
    assert_int_equal(pb_dupset_reserve(s, 100000), 0);
    bytes = pb_dupset_bytes(s);
    assert_true(bytes >= 100000 * 5 / 9 * 10 - 100 * 5);
    assert_true(bytes < 100000 * 5 / 9 * 10 + 2000 * 5);
    run_rows(s, k, 300, 300000);
    assert_int_equal(pb_dupset_bytes(s), bytes);   /* no growth below the reserved count */
    assert_int_equal(pb_dupset_reserve(s, 10), 0); /* never shrinks */
    assert_int_equal(pb_dupset_bytes(s), bytes);
    pb_dupset_free(s);
    free(k);
}

static int confirm_fails(uint64_t row, int *same, void *ctx)
{
    (void)row;
    (void)ctx;
    *same = 0;
    return PB_EIO;
}

static void test_alloc_failure(void **state)
{
    pb_dupset *s;
    keys *k = calloc(1, sizeof(*k));
    uint64_t first, row;
    int rc = 0;
    (void)state;
    pb_alloc_fail_after(0);
    assert_int_equal(pb_dupset_new(&s, NULL), PB_ENOMEM);
    pb_alloc_fail_after(1); /* the first table */
    assert_int_equal(pb_dupset_new(&s, NULL), PB_ENOMEM);
    pb_alloc_fail_after(-1);
    assert_int_equal(pb_dupset_new(&s, NULL), 0);
    /* growth fails: the set keeps working with what it has */
    pb_alloc_fail_after(0);
    for (row = 3; row < 6000 && rc == 0; row += 3)
        rc = check(s, k, row, &first);
    pb_alloc_fail_after(-1);
    assert_int_equal(rc, PB_ENOMEM);
    assert_int_equal(check(s, k, 4, &first), 0);
    assert_true(first == 3);
    /* a confirm error ends the lookup with it */
    assert_int_equal(
        pb_dupset_check(s, pb_dupset_key_hash(s, "p-1", 3), 9, confirm_fails, k, &first), PB_EIO);
    pb_dupset_free(s);
    free(k);
}

/* Reference vector: SipHash-1-3 has none published in Debian; check key sensitivity instead. */
static void test_keyed(void **state)
{
    const uint64_t k1[2] = {1, 2}, k2[2] = {1, 3};
    (void)state;
    assert_true(pb_dupset_hash(k1, "payment-1", 9) == pb_dupset_hash(k1, "payment-1", 9));
    assert_true(pb_dupset_hash(k1, "payment-1", 9) != pb_dupset_hash(k2, "payment-1", 9));
    assert_true(pb_dupset_hash(k1, "payment-1", 9) != pb_dupset_hash(k1, "payment-2", 9));
    assert_true(pb_dupset_hash(k1, "", 0) != pb_dupset_hash(k1, "\0", 1));
    assert_true(pb_dupset_hash(k1, "12345678", 8) != pb_dupset_hash(k1, "123456789", 9));
}

/*
 * SipHash-1-3 against published reference vectors: the 64 of Rust's libcore
 * (library/coretests/tests/hash/sip.rs, test_siphash_1_3; SipHasher13). Key bytes 00..0f,
 * message n = bytes 00 01 ... n-1, output as 8 bytes little-endian. The SipHash reference
 * repository (veorq/SipHash vectors.h) publishes only SipHash-2-4 vectors.
 */
static const char *const pb_sip13_vectors[64] = {
    "dcc40f055801acab", "93ca577df39bf4c9", "4dd4c74d029bcb82", "fbf7dde7b80af88b",
    "2883d388605775cf", "673b53492fd5f9de", "a7229fc5502b0dc5", "4011b19b987d92d3",
    "8e9a298d11959036", "e43d066cb38ea425", "7f09ff92ee85de79", "52c34df9c118c170",
    "a2d9b457b184a378", "a7ff29120c766f30", "345df9c011a15a60", "5699512a6dd820d3",
    "668b907d1add4fcc", "0cd8db639068f29c", "3ee673b49c38fc8f", "1c7d298de59d1ff2",
    "40e0cca6462fdcc0", "44f8452bfeab92b9", "2e8720a39b7bfe7f", "23c1e6da7f0e5a52",
    "8c9c3467b2ae64f4", "79095b702859cd45", "a51399cae3353e3a", "353bde4a4ec71da9",
    "0dd06cef02ed0bfb", "f4e1b14ab43cd988", "63e6c543d6110f54", "bcd1218c1fdd7023",
    "0db6a7166c7b1581", "bff98f7ae5b9544d", "3e752a1f78129f75", "916b18bfbea3a1ce",
    "0662a2add308f52c", "5730c3a32d1c10b6", "a1363aae9674f4b3", "9283107b54576b62",
    "3115e4993236d2c1", "44d91a3f92c17c66", "258813c8fe4f7065", "a64989c2d180f224",
    "6b87f8faed1ccac2", "9621049ffc4b16c2", "23d6b168939c6ea1", "fd14518b9c16fb49",
    "464c07dff843319f", "b386cc1224affdc6", "8f09520ad149af7e", "9a2f299d5513f31c",
    "121ff4a2dd304ac4", "d01ea74389e9fa36", "e6bcf0734cb38f31", "80e9a77036bf7aa2",
    "756d3c24dbc0bcb4", "1315b7fd52d8f823", "088a7da64d5f038f", "48f1e8b7e5d09cd8",
    "ee44a6f7bce6f4f6", "f237180fd89ac5ae", "e094664b15f6b2c3", "a8b3bbb76290199d",
};

static void test_siphash13_vectors(void **state)
{
    uint64_t k[2] = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
    unsigned char msg[64];
    size_t n, i;
    (void)state;
    for (i = 0; i < sizeof(msg); i++)
        msg[i] = (unsigned char)i;
    for (n = 0; n < 64; n++) {
        uint64_t want = 0;
        for (i = 0; i < 8; i++) {
            unsigned byte;
            assert_int_equal(sscanf(pb_sip13_vectors[n] + 2 * i, "%2x", &byte), 1);
            want |= (uint64_t)byte << (8 * i);
        }
        print_message("length %zu\n", n);
        assert_true(pb_dupset_hash(k, msg, n) == want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_and_growth),   cmocka_unit_test(test_collisions_stay_exact),
        cmocka_unit_test(test_wide_rows),         cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_alloc_failure),     cmocka_unit_test(test_keyed),
        cmocka_unit_test(test_siphash13_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
