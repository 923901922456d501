/*
 * keyfile_fuzz.c - pb_keyfile_parse on arbitrary bytes, as a private and as a public key.
 * Checks: no crash, only PB_OK or PB_EPARSE, a message on failure, and a private key that
 * parses gives a public key that signs and verifies.
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/approval.h"
#include "core/errors.h"
#include "formats/keyfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char k[PB_ED25519_KEY], pub[PB_ED25519_KEY], sig[PB_ED25519_SIG];
    int rc, ok = 0;

    rc = pb_keyfile_parse((const char *)data, size, PB_KEY_PUBLIC, k);
    if ((rc != PB_OK && rc != PB_EPARSE) || (rc && !pb_error_last()[0]))
        abort();
    rc = pb_keyfile_parse((const char *)data, size, PB_KEY_PRIVATE, k);
    if ((rc != PB_OK && rc != PB_EPARSE) || (rc && !pb_error_last()[0]))
        abort();
    if (rc == PB_OK) {
        if (pb_approval_public(k, pub) != 0 || pb_approval_sign(k, "m", 1, sig) != 0 ||
            pb_approval_verify(pub, "m", 1, sig, &ok) != 0 || !ok)
            abort();
    }
    return 0;
}
