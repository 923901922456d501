/* Ed25519 keys from PEM text: RFC 8410 section 10 examples; clear refusals for the rest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/errors.h"
#include "formats/keyfile.h"

static const char priv_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                               "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
                               "-----END PRIVATE KEY-----\n";
static const char pub_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                              "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
                              "-----END PUBLIC KEY-----\n";
/* an EC P-256 public key: a PEM key, not Ed25519 */
static const char ec_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                             "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEJvKdmZK4KE6tzpqQtYprelLfVzML\n"
                             "A0RvskE2FbuRmE6jqW743Fgzj2radwCvBilxmyaNikC8RkH7MMAANcHJ4Q==\n"
                             "-----END PUBLIC KEY-----\n";

static void test_rfc8410(void **state)
{
    unsigned char priv[32], pub[32], derived[32], want_priv[32], want_pub[32];
    (void)state;
    assert_int_equal(pb_approval_unhex("d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44"
                                       "755842",
                                       64, want_priv, 32),
                     0);
    assert_int_equal(pb_approval_unhex("19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad70"
                                       "3166e1",
                                       64, want_pub, 32),
                     0);
    assert_int_equal(pb_keyfile_parse(priv_pem, strlen(priv_pem), PB_KEY_PRIVATE, priv), 0);
    assert_memory_equal(priv, want_priv, 32);
    assert_int_equal(pb_keyfile_parse(pub_pem, strlen(pub_pem), PB_KEY_PUBLIC, pub), 0);
    assert_memory_equal(pub, want_pub, 32);
    assert_int_equal(pb_approval_public(priv, derived), 0);
    assert_memory_equal(derived, pub, 32);
}

static void test_refused(void **state)
{
    static const char enc[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
                              "-----END ENCRYPTED PRIVATE KEY-----\n";
    unsigned char k[32];
    (void)state;
    assert_int_equal(pb_keyfile_parse(pub_pem, strlen(pub_pem), PB_KEY_PRIVATE, k), PB_EPARSE);
    assert_non_null(strstr(pb_error_last(), "this is a public key"));
    assert_int_equal(pb_keyfile_parse(priv_pem, strlen(priv_pem), PB_KEY_PUBLIC, k), PB_EPARSE);
    assert_non_null(strstr(pb_error_last(), "this is a private key"));
    assert_int_equal(pb_keyfile_parse(ec_pem, strlen(ec_pem), PB_KEY_PUBLIC, k), PB_EPARSE);
    assert_non_null(strstr(pb_error_last(), "not an Ed25519 key"));
    assert_int_equal(pb_keyfile_parse("hello", 5, PB_KEY_PUBLIC, k), PB_EPARSE);
    assert_non_null(strstr(pb_error_last(), "BEGIN PUBLIC KEY"));
    assert_int_equal(pb_keyfile_parse("", 0, PB_KEY_PUBLIC, k), PB_EPARSE);
    assert_int_equal(pb_keyfile_parse("a\0b", 3, PB_KEY_PUBLIC, k), PB_EPARSE);
    assert_int_equal(pb_keyfile_parse(enc, strlen(enc), PB_KEY_PRIVATE, k), PB_EPARSE);
    assert_non_null(strstr(pb_error_last(), "encrypted"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc8410),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
