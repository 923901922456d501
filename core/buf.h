/*
 * buf.h - growable byte buffer with a mandatory size cap (curl's dynbuf idea).
 *
 * Every buffer is created with the largest size it may ever reach; an append past it fails
 * with PB_ELIMIT instead of allocating, so hostile input can never grow memory without bound.
 * When ptr is non-NULL it is always NUL-terminated (the NUL is not counted in len and does
 * not count against max). The buffer owns ptr; pb_buf_free releases it.
 */
#ifndef PB_CORE_BUF_H
#define PB_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *ptr;    /* NULL until the first append */
    size_t len;   /* bytes used */
    size_t alloc; /* bytes allocated */
    size_t max;   /* cap on len */
} pb_buf;

void pb_buf_init(pb_buf *b, size_t max);
int pb_buf_put(pb_buf *b, const void *data, size_t n);
int pb_buf_puts(pb_buf *b, const char *s);
int pb_buf_putc(pb_buf *b, char c);
/* Append n bytes and a NUL that counts as content (len grows by n + 1): packs C strings back
 * to back, as the CSV reader's record arena does. One capacity check for both. */
int pb_buf_putz(pb_buf *b, const void *data, size_t n);
int pb_buf_printf(pb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pb_buf_vprintf(pb_buf *b, const char *fmt, va_list ap);
/* Make room for `extra` more bytes (and the NUL after them) without changing the contents. */
int pb_buf_reserve(pb_buf *b, size_t extra);
/* Forget the contents, keep the allocation. */
void pb_buf_clear(pb_buf *b);
/* Shorten to n bytes (n <= len). */
void pb_buf_truncate(pb_buf *b, size_t n);
/* The contents as a C string: "" for an empty buffer. */
const char *pb_buf_cstr(const pb_buf *b);
/* Hand the allocation to the caller (who pb_free()s it) and reset the buffer. */
char *pb_buf_detach(pb_buf *b, size_t *len);
void pb_buf_free(pb_buf *b);

#endif
