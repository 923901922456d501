/*
 * utf8.h - the one UTF-8 validator (RFC 3629): no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence, no stray continuation byte.
 *
 * Pure functions on borrowed bytes; nothing is allocated or owned.
 */
#ifndef PB_CORE_UTF8_H
#define PB_CORE_UTF8_H

#include <stddef.h>

/* Length (1-4) of the valid UTF-8 sequence that starts at p[0], or 0 when p[0..n) does not
 * start with one (also 0 for n == 0). */
size_t pb_utf8_seq_len(const unsigned char *p, size_t n);

/* 1 when s[0..n) is valid UTF-8 as a whole, else 0. ASCII runs are checked 8 bytes at a time. */
int pb_utf8_valid(const void *s, size_t n);

#endif
