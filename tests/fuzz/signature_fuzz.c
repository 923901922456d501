/*
 * signature_fuzz.c - pb_sig_string_to_sign / pb_sig_verify_json on arbitrary bytes.
 * Checks: no crash, only documented return codes, output within its cap, out untouched
 * on failure, *ok == 0 on error, signing is deterministic.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/errors.h"
#include "core/signature.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rc(int rc)
{
    if (rc != PB_OK && rc != PB_EPARSE && rc != PB_ELIMIT && rc != PB_ENOMEM)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *json = (const char *)data;
    char a[PB_SIG_LEN + 1], b[PB_SIG_LEN + 1];
    pb_buf out;
    int rc, rc2, ok = -1;

    pb_buf_init(&out, PB_SIG_MAX_STRING);
    rc = pb_sig_string_to_sign(json, size, &out);
    check_rc(rc);
    if (rc == PB_OK && out.len > PB_SIG_MAX_STRING)
        abort();
    if (rc != PB_OK && out.len != 0)
        abort();
    pb_buf_free(&out);

    rc = pb_sig_verify_json(json, size, "secret", 6, &ok);
    check_rc(rc);
    if (ok != 0 && ok != 1)
        abort();
    if (rc != PB_OK && ok != 0)
        abort();

    rc = pb_sig_sign_json(json, size, "secret", 6, a);
    rc2 = pb_sig_sign_json(json, size, "secret", 6, b);
    check_rc(rc);
    if (rc != rc2 || (rc == PB_OK && (strlen(a) != PB_SIG_LEN || strcmp(a, b) != 0)))
        abort();
    return 0;
}
