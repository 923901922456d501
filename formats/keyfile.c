#include "formats/keyfile.h"

#include "core/errors.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <string.h>

/* never prompt: an encrypted key fails instead */
static int pb__no_pass(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

/* needle in the first len bytes of hay (which need not end in a NUL) */
static int pb__contains(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle), i;
    for (i = 0; i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return 1;
    return 0;
}

static EVP_PKEY *pb__read(const char *pem, size_t len, int priv)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *k = NULL;
    if (!bio)
        return NULL;
    k = priv ? PEM_read_bio_PrivateKey(bio, NULL, pb__no_pass, NULL)
             : PEM_read_bio_PUBKEY(bio, NULL, pb__no_pass, NULL);
    BIO_free(bio);
    return k;
}

int pb_keyfile_parse(const char *pem, size_t len, pb_key_kind want,
                     unsigned char key[PB_ED25519_KEY])
{
    EVP_PKEY *k = NULL;
    size_t n = PB_ED25519_KEY;
    int rc = PB_EPARSE, ok;

    if (len == 0 || len > PB_KEYFILE_MAX || memchr(pem, '\0', len)) {
        pb_error_set("not a PEM key file (empty, binary, or over %d bytes)", PB_KEYFILE_MAX);
        return PB_EPARSE;
    }
    k = pb__read(pem, len, want == PB_KEY_PRIVATE);
    if (!k) {
        EVP_PKEY *other = pb__read(pem, len, want != PB_KEY_PRIVATE);
        if (other)
            pb_error_set(want == PB_KEY_PRIVATE
                             ? "this is a public key; approving needs the approver's private key"
                             : "this is a private key; give the public key only (openssl pkey "
                               "-in KEY.pem -pubout), the private key stays with its approver");
        else if (pb__contains(pem, len, "ENCRYPTED"))
            pb_error_set("an encrypted private key; give it unencrypted (openssl pkey -in KEY.pem "
                         "-out PLAIN.pem), kept readable by its owner only");
        else
            pb_error_set("not a PEM %s key (expected '-----BEGIN %s KEY-----')",
                         want == PB_KEY_PRIVATE ? "private" : "public",
                         want == PB_KEY_PRIVATE ? "PRIVATE" : "PUBLIC");
        EVP_PKEY_free(other);
        goto out;
    }
    if (EVP_PKEY_id(k) != EVP_PKEY_ED25519) {
        pb_error_set("not an Ed25519 key (make one with openssl genpkey -algorithm ed25519)");
        goto out;
    }
    ok = want == PB_KEY_PRIVATE ? EVP_PKEY_get_raw_private_key(k, key, &n)
                                : EVP_PKEY_get_raw_public_key(k, key, &n);
    if (ok != 1 || n != PB_ED25519_KEY) {
        pb_error_set("the Ed25519 key cannot be read");
        goto out;
    }
    rc = 0;
out:
    EVP_PKEY_free(k);
    ERR_clear_error(); /* failures are reported through the message above */
    return rc;
}
