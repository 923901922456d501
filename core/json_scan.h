/*
 * json_scan.h - the strict JSON scanner (RFC 8259): whitespace, strings (escapes decoded,
 * UTF-8 checked, lone surrogates refused), number tokens kept as their text, literals, and a
 * member lookup that hands back a value's raw token.
 *
 * Why number tokens stay text: cJSON and most parsers turn a number into a double, which
 * rounds integers past 2^53. Amounts and project ids are read from their token with
 * pb_json_int64() instead, so no money goes through floating point.
 *
 * Pure, no I/O. A pb_json_scan is a cursor over borrowed text (the caller owns the bytes and
 * keeps them alive). Tokens (pb_str) point into that text. The only allocation is the caller's
 * pb_buf for decoded strings and, in pb_json_get, a scratch buffer for escaped member names.
 */
#ifndef PB_CORE_JSON_SCAN_H
#define PB_CORE_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"

#define PB_JSON_MAX_DEPTH 32 /* nested objects/arrays in pb_json_get, top value = 1 */

typedef struct {
    const unsigned char *p;   /* next byte */
    const unsigned char *end; /* one past the last byte */
} pb_json_scan;

typedef enum {
    PB_JSON_STRING, /* text: the string with its quotes, still escaped */
    PB_JSON_NUMBER, /* text: the number token as written, e.g. -12.5e3 */
    PB_JSON_TRUE,
    PB_JSON_FALSE,
    PB_JSON_NULL,
    PB_JSON_OBJECT, /* text: from '{' through '}' */
    PB_JSON_ARRAY   /* text: from '[' through ']' */
} pb_json_type;

typedef struct {
    pb_json_type type;
    pb_str text; /* the raw value inside the scanned text */
} pb_json_token;

void pb_json_scan_init(pb_json_scan *s, const char *json, size_t len);
/* Skip JSON whitespace (space, TAB, LF, CR). */
void pb_json_scan_ws(pb_json_scan *s);
/*
 * The string at s->p (which is on its opening quote), decoded into dst; dst NULL only
 * checks it. With a non-NULL over, running into dst's cap sets *over and drops the rest
 * instead of failing. Returns 0, PB_EPARSE, PB_ELIMIT, PB_ENOMEM.
 */
int pb_json_scan_string(pb_json_scan *s, pb_buf *dst, int *over);
/* The number token at s->p; *len gets its length. 0 or PB_EPARSE. */
int pb_json_scan_number(pb_json_scan *s, size_t *len);
/* The literal word ("true", "false", "null") at s->p. 0 or PB_EPARSE. */
int pb_json_scan_literal(pb_json_scan *s, const char *word);

/*
 * Find the value at a member path (path[0] in the top object, path[1] in that, ...) in the
 * JSON text json[0..len), which must be one strict JSON value as a whole (checked), at most
 * PB_JSON_MAX_DEPTH deep. *out gets the value's type and raw text.
 * Returns 0; PB_ENOTFOUND when a member is missing or an intermediate value is not an object;
 * PB_EPARSE for text that is not strict JSON, or when the path is there twice (duplicate
 * member names: which one counts would be up to the reader); PB_ELIMIT (depth); PB_ENOMEM.
 */
int pb_json_get(const char *json, size_t len, const char *const *path, size_t depth,
                pb_json_token *out);

/*
 * A number token that is a JSON integer (no fraction, no exponent: "-12", not "12.0" or
 * "1e3") within int64_t, as an int64_t. 0, PB_EINVAL (not an integer token), PB_ERANGE.
 */
int pb_json_int64(pb_str token, int64_t *v);

#endif
