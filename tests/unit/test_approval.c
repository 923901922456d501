/* Ed25519 approvals: RFC 8032 reference vectors, the approval message, hex. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/approval.h"
#include "core/str.h"
#include "core/errors.h"

static void unhex(const char *h, unsigned char *out, size_t n)
{
    assert_int_equal(pb_approval_unhex(h, strlen(h), out, n), 0);
}

/* RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte 0x72) */
static void test_rfc8032(void **state)
{
    static const struct {
        const char *priv, *pub, *msg, *sig;
    } v[] = {
        {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3"
         "9701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
        {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "r",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3"
         "613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    };
    size_t i;
    (void)state;
    for (i = 0; i < 2; i++) {
        unsigned char priv[32], pub[32], want_pub[32], sig[64], want_sig[64];
        int ok = -1;
        unhex(v[i].priv, priv, 32);
        unhex(v[i].pub, want_pub, 32);
        unhex(v[i].sig, want_sig, 64);
        assert_int_equal(pb_approval_public(priv, pub), 0);
        assert_memory_equal(pub, want_pub, 32);
        assert_int_equal(pb_approval_sign(priv, v[i].msg, strlen(v[i].msg), sig), 0);
        assert_memory_equal(sig, want_sig, 64);
        assert_int_equal(pb_approval_verify(pub, v[i].msg, strlen(v[i].msg), sig, &ok), 0);
        assert_int_equal(ok, 1);
        /* one bit of the message, of the signature, another key: refused */
        assert_int_equal(pb_approval_verify(pub, "s", 1, sig, &ok), 0);
        assert_int_equal(ok, 0);
        sig[5] ^= 1;
        assert_int_equal(pb_approval_verify(pub, v[i].msg, strlen(v[i].msg), sig, &ok), 0);
        assert_int_equal(ok, 0);
        sig[5] ^= 1;
        pub[0] ^= 0x40;
        ok = -1;
        (void)pb_approval_verify(pub, v[i].msg, strlen(v[i].msg), sig, &ok);
        assert_int_equal(ok, 0);
    }
}

static void test_message(void **state)
{
    pb_buf b;
    char longname[PB_APPROVAL_NAME + 2];
    (void)state;
    pb_buf_init(&b, 4096);
    assert_int_equal(pb_approval_message("sha256:ab", "alice", "2026-11-29T17:00:00Z", &b), 0);
    assert_int_equal(b.len, strlen("paybatch-approval-v1\ndigest=sha256:ab\nname=alice\nat="
                                   "2026-11-29T17:00:00Z\n"));
    assert_memory_equal(b.ptr, "paybatch-approval-v1\ndigest=sha256:ab\nname=alice\n", 48);
    pb_buf_clear(&b);
    assert_int_equal(pb_approval_message("sha256:ab", "eve\nname=alice", "t", &b), PB_EINVAL);
    assert_int_equal(pb_approval_message("sha256:ab", "", "t", &b), PB_EINVAL);
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(pb_approval_message("sha256:ab", longname, "t", &b), PB_EINVAL);
    pb_buf_free(&b);
}

static void test_hex_fingerprint(void **state)
{
    unsigned char k[32], back[32];
    char hex[65], fp[PB_APPROVAL_FP];
    size_t i;
    (void)state;
    for (i = 0; i < 32; i++)
        k[i] = (unsigned char)(i * 7);
    pb_hex_lower(k, 32, hex);
    assert_int_equal(strlen(hex), 64);
    assert_int_equal(pb_approval_unhex(hex, 64, back, 32), 0);
    assert_memory_equal(k, back, 32);
    assert_int_equal(pb_approval_unhex(hex, 63, back, 32), PB_EINVAL);
    hex[3] = 'g';
    assert_int_equal(pb_approval_unhex(hex, 64, back, 32), PB_EINVAL);
    pb_approval_fingerprint(k, fp);
    assert_int_equal(strlen(fp), 24);
    assert_memory_equal(fp, "ed25519:", 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc8032),
        cmocka_unit_test(test_message),
        cmocka_unit_test(test_hex_fingerprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
