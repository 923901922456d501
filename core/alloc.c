#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

static long pb__fail_after = -1;

static int pb__should_fail(void)
{
    if (pb__fail_after < 0)
        return 0;
    if (pb__fail_after == 0)
        return 1;
    pb__fail_after--;
    return 0;
}

void pb_alloc_fail_after(long n)
{
    pb__fail_after = n;
}

void *pb_malloc(size_t n)
{
    if (pb__should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *pb_calloc(size_t nmemb, size_t size)
{
    if (pb__should_fail())
        return NULL;
    return calloc(nmemb ? nmemb : 1, size ? size : 1);
}

void *pb_realloc(void *p, size_t n)
{
    if (pb__should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void pb_free(void *p)
{
    free(p);
}

char *pb_strndup(const char *s, size_t n)
{
    char *d = pb_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *pb_strdup(const char *s)
{
    return pb_strndup(s, strlen(s));
}
