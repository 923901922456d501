#include "core/signature.h"

#include "core/errors.h"
#include "core/json_flat.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

_Static_assert(PB_SIG_MAX_JSON == PB_FLAT_MAX_JSON, "input caps differ");
_Static_assert(PB_SIG_MAX_STRING == PB_FLAT_MAX_TOTAL, "string caps differ");

int pb_sig_hmac_b64(const char *secret, size_t secret_len, const char *msg, size_t msg_len,
                    char out[PB_SIG_LEN + 1])
{
    static const unsigned char empty[1] = {0};
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    int rc = PB_ECRYPTO;

    if (!out || (!secret && secret_len) || (!msg && msg_len) || secret_len > INT_MAX)
        return PB_EINVAL;
    out[0] = '\0';
    if (!HMAC(EVP_sha512(), secret_len ? (const void *)secret : empty, (int)secret_len,
              msg_len ? (const unsigned char *)msg : empty, msg_len, mac, &mac_len) ||
        mac_len != 64)
        goto out;
    if (EVP_EncodeBlock((unsigned char *)out, mac, 64) != PB_SIG_LEN)
        goto out;
    rc = PB_OK;
out:
    OPENSSL_cleanse(mac, sizeof(mac));
    return rc;
}

int pb_sig_string_to_sign(const char *json, size_t len, pb_buf *out)
{
    pb_flat f;
    size_t start;
    int rc;

    if (!out || (!json && len))
        return PB_EINVAL;
    start = out->len;
    pb_flat_init(&f);
    if ((rc = pb_flat_parse(&f, json, len, 0)) < 0)
        goto out;
    if ((rc = pb_flat_sort(&f, PB_FLAT_ORDER_PATH)) < 0)
        goto out;
    rc = pb_flat_join(&f, out);
out:
    if (rc < 0)
        pb_buf_truncate(out, start);
    pb_flat_free(&f);
    return rc;
}

int pb_sig_sign_json(const char *json, size_t len, const char *secret, size_t secret_len,
                     char out[PB_SIG_LEN + 1])
{
    pb_buf sts;
    int rc;

    if (!out)
        return PB_EINVAL;
    out[0] = '\0';
    pb_buf_init(&sts, PB_SIG_MAX_STRING);
    if ((rc = pb_sig_string_to_sign(json, len, &sts)) < 0)
        goto out;
    rc = pb_sig_hmac_b64(secret, secret_len, pb_buf_cstr(&sts), sts.len, out);
out:
    pb_buf_free(&sts);
    return rc;
}

/* Join f in its current order, sign and compare with want (PB_SIG_LEN bytes). */
static int pb__try(const pb_flat *f, pb_buf *sts, const char *secret, size_t secret_len,
                   const char *want, int *ok)
{
    char mac[PB_SIG_LEN + 1];
    int rc;

    pb_buf_clear(sts);
    if ((rc = pb_flat_join(f, sts)) < 0)
        return rc;
    if ((rc = pb_sig_hmac_b64(secret, secret_len, pb_buf_cstr(sts), sts->len, mac)) < 0)
        return rc;
    *ok = CRYPTO_memcmp(mac, want, PB_SIG_LEN) == 0;
    return PB_OK;
}

int pb_sig_verify_json(const char *json, size_t len, const char *secret, size_t secret_len, int *ok)
{
    static const pb_flat_order orders[] = {PB_FLAT_ORDER_PATH, PB_FLAT_ORDER_NATURAL,
                                           PB_FLAT_ORDER_WHOLE};
    const pb_buf *sig;
    pb_flat f;
    pb_buf sts;
    size_t i, n;
    int rc, match = 0;

    if (!ok)
        return PB_EINVAL;
    *ok = 0;
    if ((!json && len) || (!secret && secret_len))
        return PB_EINVAL;
    pb_flat_init(&f);
    pb_buf_init(&sts, PB_SIG_MAX_STRING);
    if ((rc = pb_flat_parse(&f, json, len, 1)) < 0)
        goto out;
    if (f.sig_top)
        sig = f.sig_top_long ? NULL : &f.sig_top_s;
    else if (f.sig_gen)
        sig = f.sig_gen_long ? NULL : &f.sig_gen_s;
    else
        goto out; /* no signature: not accepted */
    if (!sig || sig->len != PB_SIG_LEN)
        goto out;
    n = f.has_array ? sizeof(orders) / sizeof(orders[0]) : 1;
    for (i = 0; i < n && !match; i++) {
        if ((rc = pb_flat_sort(&f, orders[i])) < 0)
            goto out;
        if ((rc = pb__try(&f, &sts, secret, secret_len, sig->ptr, &match)) < 0)
            goto out;
    }
    *ok = match;
out:
    pb_buf_free(&sts);
    pb_flat_free(&f);
    return rc;
}
