#include "formats/dupcheck.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

/*
 * A slot is one little-endian word of `stride` bytes: the row (0 = empty) in the low rbits,
 * then the distance from the home slot (dbits), then the fingerprint (fbits). Narrow slots
 * (5 bytes) hold rows below 2^24; a larger row closes the table and a wide one (8 bytes)
 * takes over. The home slot comes from the hash's high bits, the fingerprint from its low
 * bits, so the two are independent.
 */
typedef struct {
    size_t stride;
    unsigned rbits, dbits, fbits;
} pb__layout;

static const pb__layout pb__narrow = {5, 24, 6, 10};
static const pb__layout pb__medium = {6, 24, 6, 18};
static const pb__layout pb__wide = {8, 40, 8, 16};

/*
 * Which layout a new table gets: wide once rows pass 2^24; narrow for a table sized for the
 * whole input (pb_dupset_reserve), where one table is probed; medium for the chain of a set
 * that grows (a pipe), whose lookups probe several tables: 8 more fingerprint bits keep the
 * confirmations (each a re-read of earlier rows) as rare as with one table.
 */
enum { PB__NARROW, PB__MEDIUM, PB__WIDE };

/* Keys whose Robin Hood distance would pass the slot's maximum wait here (a table is closed
   to new keys before its stash is full, so there is always room for the one in hand). */
#define PB__STASH 8

typedef struct {
    uint64_t home, row;
    uint32_t fp;
} pb__stashed;

typedef struct {
    unsigned char *slot; /* cap * stride bytes + 8 of padding (whole-word reads) */
    pb__layout l;
    size_t cap;
    size_t n;
    size_t limit; /* closed past this many keys: 0.9 of cap */
    int closed;
    pb__stashed stash[PB__STASH];
    size_t nstash;
} pb__table;

struct pb_dupset {
    pb__table *t; /* t[nt - 1] takes new keys */
    size_t nt;
    size_t n;
    uint64_t key[2];
    uint64_t mask; /* ANDed with every hash: ~0 but in tests */
    uint64_t false_matches;
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

static uint64_t pb__word(const pb__table *t, size_t pos)
{
    uint64_t w;
    memcpy(&w, t->slot + pos * t->l.stride, sizeof(w)); /* the padding makes this safe */
    return t->l.stride == 8 ? w : w & (((uint64_t)1 << (8 * t->l.stride)) - 1);
}

static void pb__put(pb__table *t, size_t pos, uint64_t row, uint64_t dist, uint64_t fp)
{
    uint64_t w = row | dist << t->l.rbits | fp << (t->l.rbits + t->l.dbits);
    memcpy(t->slot + pos * t->l.stride, &w, t->l.stride);
}

static uint64_t pb__field(uint64_t w, unsigned shift, unsigned bits)
{
    return (w >> shift) & (((uint64_t)1 << bits) - 1);
}

static size_t pb__home(uint64_t h, size_t cap)
{
    return (size_t)(((unsigned __int128)h * cap) >> 64); /* range reduction without modulo */
}

static uint64_t pb__fp(const pb__table *t, uint64_t h)
{
    return h & (((uint64_t)1 << t->l.fbits) - 1);
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

/* Append a table for `keys` more keys (at 0.9 load), narrow or wide. */
static int pb__add_table(pb_dupset *s, size_t keys, int layout)
{
    pb__table *nt, t;
    size_t cap;

    if (keys > SIZE_MAX / 16)
        return PB_ENOMEM;
    cap = keys / 9 * 10 + 16;
    memset(&t, 0, sizeof(t));
    t.l = layout == PB__WIDE ? pb__wide : layout == PB__MEDIUM ? pb__medium : pb__narrow;
    t.slot = pb_calloc(cap * t.l.stride + 8, 1);
    if (!t.slot)
        return PB_ENOMEM;
    pb__huge_pages(t.slot, cap * t.l.stride);
    t.cap = cap;
    t.limit = cap / 10 * 9;
    nt = pb_realloc(s->t, (s->nt + 1) * sizeof(*s->t));
    if (!nt) {
        pb_free(t.slot);
        return PB_ENOMEM;
    }
    s->t = nt;
    s->t[s->nt++] = t;
    return PB_OK;
}

int pb_dupset_new(pb_dupset **out, const uint64_t key[2])
{
    pb_dupset *s = pb_calloc(1, sizeof(*s));
    *out = NULL;
    if (!s)
        return PB_ENOMEM;
    s->key[0] = key ? key[0] : 0;
    s->key[1] = key ? key[1] : 0;
    s->mask = ~(uint64_t)0;
    if (pb__add_table(s, 900, PB__MEDIUM) < 0) {
        pb_free(s);
        return PB_ENOMEM;
    }
    *out = s;
    return PB_OK;
}

void pb_dupset_weaken(pb_dupset *s, uint64_t mask)
{
    s->mask = mask;
}

/* Ask confirm about a candidate; 1 when it is the key, 0 when not, or an error. */
static int pb__confirm(pb_dupset *s, uint64_t row, pb_dupset_confirm_cb confirm, void *ctx)
{
    int same = 0, rc = confirm(row, &same, ctx);
    if (rc < 0)
        return rc;
    if (!same)
        s->false_matches++;
    return same != 0;
}

/* Where a walk for a key stopped: the slot and the distance from home there. */
typedef struct {
    size_t pos;
    uint64_t d;
} pb__stop;

/* Find h in one table: the row it came from, or 0; and where the walk stopped, which is where
   an insert of h would start (pb__place). */
static int pb__find(pb_dupset *s, const pb__table *t, uint64_t h, pb_dupset_confirm_cb confirm,
                    void *ctx, uint64_t *row, pb__stop *stop)
{
    const unsigned rb = t->l.rbits, db = t->l.dbits;
    const uint64_t dmax = ((uint64_t)1 << db) - 1, fp = pb__fp(t, h);
    size_t pos = pb__home(h, t->cap), i;
    uint64_t d;
    int rc;

    *row = 0;
    for (d = 0; d <= dmax; d++) {
        uint64_t w = pb__word(t, pos), r = pb__field(w, 0, rb), rd = pb__field(w, rb, db);
        if (r == 0 || rd < d)
            break; /* Robin Hood invariant: it would have been here by now */
        if (rd == d && pb__field(w, rb + db, t->l.fbits) == fp) {
            if ((rc = pb__confirm(s, r, confirm, ctx)) != 0) {
                *row = rc > 0 ? r : 0;
                return rc < 0 ? rc : PB_OK;
            }
        }
        pos = pos + 1 == t->cap ? 0 : pos + 1;
    }
    stop->pos = pos;
    stop->d = d;
    for (i = 0; i < t->nstash; i++) {
        if (t->stash[i].home != pb__home(h, t->cap) || t->stash[i].fp != fp)
            continue;
        if ((rc = pb__confirm(s, t->stash[i].row, confirm, ctx)) != 0) {
            *row = rc > 0 ? t->stash[i].row : 0;
            return rc < 0 ? rc : PB_OK;
        }
    }
    return PB_OK;
}

/*
 * Robin Hood insert into a table with room (not closed, below its limit), from where the walk
 * that did not find h stopped (the slots before it are h's richer or equal neighbours: an
 * insert from home would pass them by unchanged).
 */
static void pb__place(pb__table *t, uint64_t h, uint64_t row, const pb__stop *stop)
{
    const unsigned rb = t->l.rbits, db = t->l.dbits, fb = t->l.fbits;
    const uint64_t dmax = ((uint64_t)1 << db) - 1;
    size_t pos = stop->pos;
    uint64_t d = stop->d, fp = pb__fp(t, h);

    t->n++;
    for (;;) {
        uint64_t w, r, rd;
        if (d > dmax) { /* too far from home for the slot: the stash keeps it */
            pb__stashed *e = &t->stash[t->nstash++];
            e->home = (pos + t->cap - (size_t)(d % t->cap)) % t->cap;
            e->row = row;
            e->fp = (uint32_t)fp;
            break;
        }
        w = pb__word(t, pos);
        r = pb__field(w, 0, rb);
        rd = pb__field(w, rb, db);
        if (r == 0) {
            pb__put(t, pos, row, d, fp);
            break;
        }
        if (rd < d) { /* the resident is richer: it moves on, we take its place */
            pb__put(t, pos, row, d, fp);
            row = r;
            fp = pb__field(w, rb + db, fb);
            d = rd;
        }
        pos = pos + 1 == t->cap ? 0 : pos + 1;
        d++;
    }
    if (t->nstash == PB__STASH || t->n >= t->limit)
        t->closed = 1;
}

int pb_dupset_check(pb_dupset *s, uint64_t h, uint64_t row, pb_dupset_confirm_cb confirm, void *ctx,
                    uint64_t *first_row)
{
    pb__table *t;
    pb__stop stop = {0, 0}, other;
    size_t i;
    int rc, wide;

    *first_row = 0;
    h &= s->mask;
    for (i = s->nt; i-- > 0;) {
        if ((rc = pb__find(s, &s->t[i], h, confirm, ctx, first_row,
                           i == s->nt - 1 ? &stop : &other)) < 0 ||
            *first_row)
            return rc;
    }
    t = &s->t[s->nt - 1];
    wide = row >> pb__narrow.rbits != 0;
    if (t->closed || (wide && t->l.stride != pb__wide.stride)) {
        /* a full table stays; the next holds twice the keys so far (a table closed by its
           stash, which only a weakened hash fills, gets one of the same size) */
        size_t keys = t->n >= t->limit ? 2 * s->n : t->limit;
        if ((rc = pb__add_table(s, keys > 900 ? keys : 900,
                                wide || t->l.stride == 8 ? PB__WIDE : PB__MEDIUM)) < 0)
            return rc;
        t = &s->t[s->nt - 1];
        stop.pos = pb__home(h, t->cap); /* a new, empty table: from home */
        stop.d = 0;
    }
    pb__place(t, h, row, &stop);
    s->n++;
    return PB_OK;
}

void pb_dupset_prefetch(const pb_dupset *s, uint64_t h)
{
    size_t i;
    h &= s->mask;
    for (i = 0; i < s->nt; i++) {
        const pb__table *t = &s->t[i];
        /* and the line after it: a probe runs a few slots on, an insert often further */
        const unsigned char *at = t->slot + pb__home(h, t->cap) * t->l.stride;
        __builtin_prefetch(at);
        __builtin_prefetch(at + 64);
    }
}

int pb_dupset_reserve(pb_dupset *s, size_t n)
{
    const pb__table *t = &s->t[s->nt - 1];
    size_t room = t->closed ? 0 : t->limit - t->n;
    int rc;
    if (n <= s->n || n - s->n <= room)
        return PB_OK;
    if ((rc = pb__add_table(s, n - s->n, t->l.stride == 8 ? PB__WIDE : PB__NARROW)) < 0)
        return rc;
    if (s->t[s->nt - 2].n == 0) { /* an empty table in front of the new one: drop it */
        pb_free(s->t[s->nt - 2].slot);
        s->t[s->nt - 2] = s->t[s->nt - 1];
        s->nt--;
    }
    return PB_OK;
}

uint64_t pb_dupset_key_hash(const pb_dupset *s, const void *key, size_t len)
{
    return pb_dupset_hash(s->key, key, len);
}

size_t pb_dupset_count(const pb_dupset *s)
{
    return s->n;
}

size_t pb_dupset_bytes(const pb_dupset *s)
{
    size_t i, b = 0;
    for (i = 0; i < s->nt; i++)
        b += s->t[i].cap * s->t[i].l.stride;
    return b;
}

uint64_t pb_dupset_false_matches(const pb_dupset *s)
{
    return s->false_matches;
}

void pb_dupset_free(pb_dupset *s)
{
    size_t i;
    if (!s)
        return;
    for (i = 0; i < s->nt; i++)
        pb_free(s->t[i].slot);
    pb_free(s->t);
    pb_free(s);
}
