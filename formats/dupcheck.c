#include "formats/dupcheck.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

/*
 * Slots are packed: the 64-bit hash (0 = empty), then, in sets that keep rows, the 32-bit row
 * right after it, so a probe costs one cache miss, not one per array.
 */
struct pb_dupset {
    unsigned char *slot;
    size_t stride; /* 8, or 12 with rows */
    size_t cap;
    size_t n;
    size_t limit; /* grow past this many keys: 0.75 of cap, or what reserve asked for */
    int with_rows;
    uint64_t key[2];
};

#define PB__ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define PB__SIPROUND                                                                               \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = PB__ROTL(v1, 13);                                                                     \
        v1 ^= v0;                                                                                  \
        v0 = PB__ROTL(v0, 32);                                                                     \
        v2 += v3;                                                                                  \
        v3 = PB__ROTL(v3, 16);                                                                     \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = PB__ROTL(v3, 21);                                                                     \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = PB__ROTL(v1, 17);                                                                     \
        v1 ^= v2;                                                                                  \
        v2 = PB__ROTL(v2, 32);                                                                     \
    } while (0)

uint64_t pb_dupset_hash(const uint64_t k[2], const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t v0 = k[0] ^ 0x736f6d6570736575ULL, v1 = k[1] ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k[0] ^ 0x6c7967656e657261ULL, v3 = k[1] ^ 0x7465646279746573ULL;
    uint64_t m, b = (uint64_t)len << 56;
    size_t i, left = len & 7;

    for (i = 0; i + 8 <= len; i += 8) {
        memcpy(&m, p + i, 8); /* little-endian hosts only (x86-64, arm64), as everywhere here */
        v3 ^= m;
        PB__SIPROUND;
        v0 ^= m;
    }
    for (m = 0; left; left--)
        m |= (uint64_t)p[i + left - 1] << (8 * (left - 1));
    b |= m;
    v3 ^= b;
    PB__SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    PB__SIPROUND;
    PB__SIPROUND;
    PB__SIPROUND;
    m = v0 ^ v1 ^ v2 ^ v3;
    return m ? m : 1; /* 0 marks an empty slot */
}

static uint64_t pb__h(const pb_dupset *s, size_t pos)
{
    uint64_t h;
    memcpy(&h, s->slot + pos * s->stride, sizeof(h));
    return h;
}

static uint32_t pb__row(const pb_dupset *s, size_t pos)
{
    uint32_t r;
    memcpy(&r, s->slot + pos * s->stride + sizeof(uint64_t), sizeof(r));
    return r;
}

static void pb__set(pb_dupset *s, size_t pos, uint64_t h, uint32_t row)
{
    memcpy(s->slot + pos * s->stride, &h, sizeof(h));
    if (s->with_rows)
        memcpy(s->slot + pos * s->stride + sizeof(uint64_t), &row, sizeof(row));
}

static size_t pb__home(uint64_t h, size_t cap)
{
    return (size_t)(((unsigned __int128)h * cap) >> 64); /* range reduction without modulo */
}

static size_t pb__dist(uint64_t h, size_t pos, size_t cap)
{
    size_t home = pb__home(h, cap);
    return pos >= home ? pos - home : pos + cap - home;
}

/*
 * Every probe is a random access into megabytes: with 4 KiB pages each one is also a TLB miss
 * and, the first time, a page fault. Ask for transparent huge pages on the 2 MiB-aligned part
 * of a big table (advice only: nothing changes if the kernel says no).
 */
static void pb__huge_pages(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t start = ((uintptr_t)p + huge - 1) & ~(huge - 1),
              end = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (bytes >= 2 * huge && end > start)
        (void)madvise((void *)start, (size_t)(end - start), MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}

static int pb__alloc(pb_dupset *s, size_t cap)
{
    s->stride = s->with_rows ? sizeof(uint64_t) + sizeof(uint32_t) : sizeof(uint64_t);
    s->slot = pb_calloc(cap, s->stride);
    if (!s->slot)
        return PB_ENOMEM;
    pb__huge_pages(s->slot, cap * s->stride);
    s->cap = cap;
    s->limit = cap / 4 * 3;
    return PB_OK;
}

int pb_dupset_new(pb_dupset **out, int with_rows, const uint64_t key[2])
{
    pb_dupset *s = pb_calloc(1, sizeof(*s));
    *out = NULL;
    if (!s)
        return PB_ENOMEM;
    s->with_rows = with_rows;
    s->key[0] = key ? key[0] : 0;
    s->key[1] = key ? key[1] : 0;
    if (pb__alloc(s, 1024) < 0) {
        pb_free(s);
        return PB_ENOMEM;
    }
    *out = s;
    return PB_OK;
}

/* Robin Hood insert of a hash known to be absent. */
static void pb__place(pb_dupset *s, uint64_t h, uint32_t row)
{
    size_t pos = pb__home(h, s->cap), d = 0;
    for (;;) {
        size_t rd;
        uint64_t th = pb__h(s, pos);
        if (th == 0) {
            pb__set(s, pos, h, row);
            s->n++;
            return;
        }
        rd = pb__dist(th, pos, s->cap);
        if (rd < d) { /* the resident is richer: it moves on, we take its place */
            uint32_t tr = s->with_rows ? pb__row(s, pos) : 0;
            pb__set(s, pos, h, row);
            h = th;
            row = tr;
            d = rd;
        }
        pos = pos + 1 == s->cap ? 0 : pos + 1;
        d++;
    }
}

static int pb__rehash(pb_dupset *s, size_t cap)
{
    pb_dupset old = *s;
    size_t i;
    if (pb__alloc(s, cap) < 0) {
        *s = old;
        return PB_ENOMEM;
    }
    s->n = 0;
    for (i = 0; i < old.cap; i++) {
        uint64_t h = pb__h(&old, i);
        if (h)
            pb__place(s, h, old.with_rows ? pb__row(&old, i) : 0);
    }
    pb_free(old.slot);
    return PB_OK;
}

static int pb__grow(pb_dupset *s)
{
    return pb__rehash(s, s->cap + s->cap / 2);
}

int pb_dupset_reserve(pb_dupset *s, size_t n)
{
    size_t cap;
    int rc;
    if (n > SIZE_MAX / 8)
        return PB_ENOMEM;
    /* a known count can fill 0.9 of the slots: Robin Hood keeps the probe runs short there,
       and a 1M-row file needs 20% less memory than at the growth load of 0.75 */
    cap = n / 9 * 10 + 16;
    if (n <= s->limit)
        return PB_OK;
    if ((rc = pb__rehash(s, cap)) < 0)
        return rc;
    s->limit = n > s->limit ? n : s->limit;
    return PB_OK;
}

uint64_t pb_dupset_key_hash(const pb_dupset *s, const void *key, size_t len)
{
    return pb_dupset_hash(s->key, key, len);
}

int pb_dupset_check(pb_dupset *s, const void *key, size_t len, uint32_t row, uint32_t *first_row)
{
    return pb_dupset_check_hashed(s, pb_dupset_hash(s->key, key, len), row, first_row);
}

int pb_dupset_check_hashed(pb_dupset *s, uint64_t h, uint32_t row, uint32_t *first_row)
{
    size_t pos = pb__home(h, s->cap), d = 0;

    *first_row = 0;
    for (;;) {
        uint64_t th = pb__h(s, pos);
        if (th == 0 || pb__dist(th, pos, s->cap) < d)
            break; /* Robin Hood invariant: it would have been here by now */
        if (th == h) {
            *first_row = s->with_rows ? pb__row(s, pos) : 1;
            return PB_OK;
        }
        pos = pos + 1 == s->cap ? 0 : pos + 1;
        d++;
    }
    if (s->n + 1 > s->limit) { /* max load 0.75 (0.9 when reserved): short probe runs */
        int rc = pb__grow(s);
        if (rc < 0)
            return rc;
    }
    pb__place(s, h, row);
    return PB_OK;
}

size_t pb_dupset_count(const pb_dupset *s)
{
    return s->n;
}

size_t pb_dupset_bytes(const pb_dupset *s)
{
    return s->cap * (sizeof(uint64_t) + (s->with_rows ? sizeof(uint32_t) : 0));
}

void pb_dupset_free(pb_dupset *s)
{
    if (!s)
        return;
    pb_free(s->slot);
    pb_free(s);
}
