/*
 * approval.h - Ed25519 approvals of a plan digest (issue #14), on raw keys.
 *
 * An approver signs the approval message, which binds the plan digest to the approver's name
 * and the time of approval:
 *
 *   "paybatch-approval-v1\ndigest=<digest>\nname=<name>\nat=<at>\n"
 *
 * so neither the name nor the time can be changed without the signature failing. Keys and
 * signatures are raw bytes here (32-byte keys, 64-byte signatures, RFC 8032); PEM files are
 * read by formats/keyfile.h, hex by pb_hex_lower (core/str.h). Pure: OpenSSL's EVP primitives only.
 */
#ifndef PB_CORE_APPROVAL_H
#define PB_CORE_APPROVAL_H

#include "core/buf.h"

#include <stddef.h>

#define PB_ED25519_KEY   32
#define PB_ED25519_SIG   64
#define PB_APPROVAL_FP   32  /* "ed25519:" + 16 hex digits + NUL, rounded up */
#define PB_APPROVAL_NAME 128 /* bytes of an approver's name at most */

/* The message to sign into out (appended). PB_EINVAL when a part holds a newline or NUL, or
 * the name is empty or longer than PB_APPROVAL_NAME. */
int pb_approval_message(const char *digest, const char *name, const char *at, pb_buf *out);

/* The public key of a private key. 0 or PB_ECRYPTO. */
int pb_approval_public(const unsigned char priv[PB_ED25519_KEY], unsigned char pub[PB_ED25519_KEY]);

/* Sign msg. 0 or PB_ECRYPTO. */
int pb_approval_sign(const unsigned char priv[PB_ED25519_KEY], const char *msg, size_t len,
                     unsigned char sig[PB_ED25519_SIG]);

/* *ok = 1 when sig is pub's signature of msg, else 0. 0, or PB_ECRYPTO (a key OpenSSL
 * refuses). */
int pb_approval_verify(const unsigned char pub[PB_ED25519_KEY], const char *msg, size_t len,
                       const unsigned char sig[PB_ED25519_SIG], int *ok);

/* "ed25519:" and the first 16 hex digits of SHA-256 over the raw public key: a name for a key
 * that people can compare. */
void pb_approval_fingerprint(const unsigned char pub[PB_ED25519_KEY], char out[PB_APPROVAL_FP]);

/* Exactly 2n hex digits (either case) into n bytes; PB_EINVAL otherwise. */
int pb_approval_unhex(const char *hex, size_t hexlen, unsigned char *bytes, size_t n);

#endif
