#include "core/approval.h"
#include "core/str.h"

#include "core/errors.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

static int pb__clean(const char *s)
{
    return s && !strchr(s, '\n') && !strchr(s, '\r');
}

int pb_approval_message(const char *digest, const char *name, const char *at, pb_buf *out)
{
    if (!pb__clean(digest) || !pb__clean(name) || !pb__clean(at) || !*digest || !*name ||
        strlen(name) > PB_APPROVAL_NAME || !*at) {
        pb_error_set("an approval's digest, name (1 to %d bytes) and time are one line each",
                     PB_APPROVAL_NAME);
        return PB_EINVAL;
    }
    return pb_buf_printf(out, "paybatch-approval-v1\ndigest=%s\nname=%s\nat=%s\n", digest, name,
                         at);
}

int pb_approval_public(const unsigned char priv[PB_ED25519_KEY], unsigned char pub[PB_ED25519_KEY])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, priv, PB_ED25519_KEY);
    size_t n = PB_ED25519_KEY;
    int ok = k && EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == PB_ED25519_KEY;
    EVP_PKEY_free(k);
    return ok ? 0 : (pb_error_set("Ed25519: cannot derive the public key"), PB_ECRYPTO);
}

int pb_approval_sign(const unsigned char priv[PB_ED25519_KEY], const char *msg, size_t len,
                     unsigned char sig[PB_ED25519_SIG])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, priv, PB_ED25519_KEY);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t n = PB_ED25519_SIG;
    /* Ed25519 hashes the message itself: no digest (NULL md), one-shot EVP_DigestSign */
    int ok = k && md && EVP_DigestSignInit(md, NULL, NULL, NULL, k) == 1 &&
             EVP_DigestSign(md, sig, &n, (const unsigned char *)msg, len) == 1 &&
             n == PB_ED25519_SIG;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    return ok ? 0 : (pb_error_set("Ed25519: signing failed"), PB_ECRYPTO);
}

int pb_approval_verify(const unsigned char pub[PB_ED25519_KEY], const char *msg, size_t len,
                       const unsigned char sig[PB_ED25519_SIG], int *ok)
{
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, PB_ED25519_KEY);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = 0;
    *ok = 0;
    if (!k || !md || EVP_DigestVerifyInit(md, NULL, NULL, NULL, k) != 1) {
        pb_error_set("Ed25519: the public key is not usable");
        rc = PB_ECRYPTO;
    } else {
        /* 1 = valid; 0 or a negative value = not this key's signature of this message */
        *ok = EVP_DigestVerify(md, sig, PB_ED25519_SIG, (const unsigned char *)msg, len) == 1;
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    return rc;
}

static int pb__nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int pb_approval_unhex(const char *hex, size_t hexlen, unsigned char *bytes, size_t n)
{
    size_t i;
    if (hexlen != 2 * n)
        return PB_EINVAL;
    for (i = 0; i < n; i++) {
        int hi = pb__nibble(hex[2 * i]), lo = pb__nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return PB_EINVAL;
        bytes[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

void pb_approval_fingerprint(const unsigned char pub[PB_ED25519_KEY], char out[PB_APPROVAL_FP])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(pub, PB_ED25519_KEY, d, &n, EVP_sha256(), NULL) != 1 || n < 8) {
        snprintf(out, PB_APPROVAL_FP, "ed25519:?");
        return;
    }
    memcpy(out, "ed25519:", 8);
    pb_hex_lower(d, 8, out + 8);
}
