/*
 * str.h - a borrowed byte string (pointer + length). Never owns its bytes.
 */
#ifndef PB_CORE_STR_H
#define PB_CORE_STR_H

#include <stddef.h>
#include <string.h>

typedef struct {
    const char *ptr;
    size_t len;
} pb_str;

static inline pb_str pb_str_make(const char *p, size_t n)
{
    pb_str s;
    s.ptr = p;
    s.len = n;
    return s;
}

static inline pb_str pb_str_c(const char *p)
{
    return pb_str_make(p, strlen(p));
}

/* ASCII case-insensitive equality with a C string. */
int pb_str_ieq(pb_str s, const char *c);
/* The same string without leading and trailing spaces and tabs. */
pb_str pb_str_trim(pb_str s);
/* n bytes as 2n lowercase hex digits and a NUL into out (2n + 1 bytes). */
void pb_hex_lower(const unsigned char *bytes, size_t n, char *out);

#endif
