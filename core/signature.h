/*
 * signature.h - ecommpay request/callback signatures (HMAC-SHA512 over the flattened body).
 *
 * Pure: no I/O. The string to sign is built by core/json_flat.h from the JSON *text* (numbers
 * keep their original token text, string escapes are decoded), see ecommpay-protocol.md
 * section 1.1. Memory is bounded: input over PB_SIG_MAX_JSON, nesting deeper than
 * PB_FLAT_MAX_DEPTH, more than PB_FLAT_MAX_ENTRIES leaves or a joined string over
 * PB_SIG_MAX_STRING give PB_ELIMIT.
 *
 * Ownership: every function only reads its inputs. Results go to caller-owned storage: a
 * caller-initialised pb_buf (appended to; on failure it is truncated back to its previous
 * length) or a caller-provided char[PB_SIG_LEN + 1]. Nothing is retained between calls.
 * Secrets are raw bytes (the project's secret key as UTF-8, not decoded).
 */
#ifndef PB_CORE_SIGNATURE_H
#define PB_CORE_SIGNATURE_H

#include <stddef.h>

#include "core/buf.h"

#define PB_SIG_LEN        88                   /* Base64 of HMAC-SHA512, with padding */
#define PB_SIG_MAX_JSON   (1024u * 1024u)      /* largest JSON text accepted, bytes */
#define PB_SIG_MAX_STRING (4u * 1024u * 1024u) /* largest string to sign, bytes */

/* The ecommpay string to sign of a JSON object given as text: strict JSON parse (RFC 8259;
 * reject trailing garbage, bad escapes, invalid UTF-8, lone surrogates, depth > 32, input over
 * PB_SIG_MAX_JSON), decode string escapes incl. \u surrogate pairs, drop every member named
 * exactly "signature" or "frame_mode" at any depth, flatten to PATH:VALUE with ':' path
 * separator and 0-based array indices, ':' in keys doubled, true/false -> 1/0, null -> empty
 * (entry kept), "" kept, empty {} / [] contribute nothing, numbers rendered from their
 * ORIGINAL token text, sort entries by PATH bytes (memcmp order), join with ';'. Appends to
 * out (a capped pb_buf). Top level must be an object. Two equal PATHs (duplicate member
 * names) are PB_EPARSE. Returns 0, PB_EPARSE, PB_ELIMIT, PB_ENOMEM (PB_EINVAL on NULL). */
int pb_sig_string_to_sign(const char *json, size_t len, pb_buf *out);

/* HMAC-SHA512 of msg with the raw secret bytes, Base64 (standard alphabet, padded) into out
 * (NUL-terminated). Returns 0, PB_EINVAL, PB_ECRYPTO. */
int pb_sig_hmac_b64(const char *secret, size_t secret_len, const char *msg, size_t msg_len,
                    char out[PB_SIG_LEN + 1]);

/* string_to_sign + hmac. Used to sign the request body we are about to send (without its
 * signature; a "signature" member present would be ignored anyway). */
int pb_sig_sign_json(const char *json, size_t len, const char *secret, size_t secret_len,
                     char out[PB_SIG_LEN + 1]);

/* Verify a received body: signature taken from top-level "signature" (a string), else
 * "general"."signature" (a string); none -> *ok = 0 and return 0. Not JSON (or not an object,
 * or two "signature" strings at the same lookup place) -> PB_EPARSE. Compared in constant
 * time, only if the lengths match. If the body contains arrays, the natural order (digit runs
 * in PATHs compared numerically, PHP SORT_NATURAL) and the byte order of whole "PATH:VALUE"
 * strings (Go/Java) are also tried (protocol section 1.3/1.3a); any match accepts.
 * *ok is 0 on every error. */
int pb_sig_verify_json(const char *json, size_t len, const char *secret, size_t secret_len,
                       int *ok);

#endif
