#include "core/buf.h"

#include "core/alloc.h"
#include "core/assert.h"
#include "core/errors.h"

#include <stdio.h>
#include <string.h>

void pb_buf_init(pb_buf *b, size_t max)
{
    b->ptr = NULL;
    b->len = 0;
    b->alloc = 0;
    b->max = max;
}

static int pb__buf_reserve(pb_buf *b, size_t extra)
{
    size_t need, n;
    char *p;

    if (extra > b->max - b->len)
        return PB_ELIMIT;
    need = b->len + extra + 1;
    if (need <= b->alloc)
        return PB_OK;
    n = b->alloc ? b->alloc : 64;
    while (n < need)
        n = n > (size_t)-1 / 2 ? need : n * 2;
    if (n > b->max + 1)
        n = b->max + 1;
    p = pb_realloc(b->ptr, n);
    if (!p)
        return PB_ENOMEM;
    b->ptr = p;
    b->alloc = n;
    return PB_OK;
}

int pb_buf_reserve(pb_buf *b, size_t extra)
{
    return pb__buf_reserve(b, extra);
}

int pb_buf_put(pb_buf *b, const void *data, size_t n)
{
    int rc;
    PB_ASSERT(b && (data || n == 0));
    rc = pb__buf_reserve(b, n);
    if (rc < 0)
        return rc;
    if (n)
        memcpy(b->ptr + b->len, data, n);
    b->len += n;
    b->ptr[b->len] = '\0';
    return PB_OK;
}

int pb_buf_putz(pb_buf *b, const void *data, size_t n)
{
    int rc;
    PB_ASSERT(b && (data || n == 0));
    if (n == (size_t)-1)
        return PB_ELIMIT;
    if ((rc = pb__buf_reserve(b, n + 1)) < 0)
        return rc;
    if (n)
        memcpy(b->ptr + b->len, data, n);
    b->len += n;
    b->ptr[b->len++] = '\0';
    b->ptr[b->len] = '\0';
    return PB_OK;
}

int pb_buf_puts(pb_buf *b, const char *s)
{
    return pb_buf_put(b, s, strlen(s));
}

int pb_buf_putc(pb_buf *b, char c)
{
    return pb_buf_put(b, &c, 1);
}

int pb_buf_vprintf(pb_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n, rc;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return PB_EINVAL;
    rc = pb__buf_reserve(b, (size_t)n);
    if (rc < 0)
        return rc;
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return PB_OK;
}

int pb_buf_printf(pb_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = pb_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void pb_buf_clear(pb_buf *b)
{
    b->len = 0;
    if (b->ptr)
        b->ptr[0] = '\0';
}

void pb_buf_truncate(pb_buf *b, size_t n)
{
    PB_ASSERT(n <= b->len); /* a length past the contents is a caller's bug */
    if (n < b->len) {
        b->len = n;
        b->ptr[n] = '\0';
    }
}

const char *pb_buf_cstr(const pb_buf *b)
{
    return b->ptr ? b->ptr : "";
}

char *pb_buf_detach(pb_buf *b, size_t *len)
{
    char *p = b->ptr;
    if (len)
        *len = b->len;
    b->ptr = NULL;
    b->len = 0;
    b->alloc = 0;
    return p;
}

void pb_buf_free(pb_buf *b)
{
    pb_free(b->ptr);
    b->ptr = NULL;
    b->len = 0;
    b->alloc = 0;
}
