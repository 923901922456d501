/*
 * alloc.h - the allocator every module uses.
 *
 * All heap allocation in paybatch goes through these wrappers so that tests can make the
 * Nth allocation fail (curl's "torture" idea) and prove every failure path cleans up.
 */
#ifndef PB_CORE_ALLOC_H
#define PB_CORE_ALLOC_H

#include <stddef.h>

void *pb_malloc(size_t n);
void *pb_calloc(size_t nmemb, size_t size);
void *pb_realloc(void *p, size_t n);
void pb_free(void *p);
/* Copy of s (NUL-terminated) / of n bytes plus a NUL. NULL on allocation failure. */
char *pb_strdup(const char *s);
char *pb_strndup(const char *s, size_t n);

/*
 * Test hook: after `n` more successful allocations, every further one fails (returns NULL).
 * n < 0 disables failure injection (the default). Not thread-safe; for tests only.
 */
void pb_alloc_fail_after(long n);

#endif
