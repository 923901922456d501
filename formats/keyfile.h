/*
 * keyfile.h - Ed25519 keys from PEM text (issue #14): an approver's private key
 * (`approve --key`, PKCS#8 "PRIVATE KEY", as `openssl genpkey -algorithm ed25519` writes it)
 * or an approver's public key (`approval_keys`, SubjectPublicKeyInfo "PUBLIC KEY", as
 * `openssl pkey -pubout` writes it), as raw 32-byte keys for core/approval.h.
 *
 * Bytes in, bytes out: the caller reads the file. Encrypted private keys are refused (nothing
 * prompts for a passphrase). Every failure is PB_EPARSE with a message saying what the text is
 * and what was expected.
 */
#ifndef PB_FORMATS_KEYFILE_H
#define PB_FORMATS_KEYFILE_H

#include "core/approval.h"

#include <stddef.h>

#define PB_KEYFILE_MAX 16384 /* a PEM key is a few hundred bytes */

typedef enum { PB_KEY_PRIVATE = 1, PB_KEY_PUBLIC = 2 } pb_key_kind;

int pb_keyfile_parse(const char *pem, size_t len, pb_key_kind want,
                     unsigned char key[PB_ED25519_KEY]);

#endif
