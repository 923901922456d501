#include "core/json_flat.h"

#include "core/alloc.h"
#include "core/errors.h"
#include "core/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where an object sits, for signature capture. */
enum { PB__AT_TOP, PB__AT_GENERAL, PB__AT_OTHER };

typedef struct {
    const unsigned char *p, *end;
    int depth;
    int capture;
    pb_flat *f;
    pb_buf path; /* PATH of the value being parsed */
    pb_buf key;  /* scratch: decoded member name */
} pb__jp;

static int pb__value(pb__jp *jp, int emit, int at);

void pb_flat_init(pb_flat *f)
{
    memset(f, 0, sizeof(*f));
    pb_buf_init(&f->arena, PB_FLAT_MAX_TOTAL);
    pb_buf_init(&f->ents, (size_t)PB_FLAT_MAX_ENTRIES * sizeof(pb_flat_entry));
    pb_buf_init(&f->sig_top_s, PB_FLAT_MAX_SIG);
    pb_buf_init(&f->sig_gen_s, PB_FLAT_MAX_SIG);
}

void pb_flat_free(pb_flat *f)
{
    if (!f)
        return;
    pb_buf_free(&f->arena);
    pb_buf_free(&f->ents);
    pb_buf_free(&f->sig_top_s);
    pb_buf_free(&f->sig_gen_s);
    f->count = 0;
}

static void pb__ws(pb__jp *jp)
{
    while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
        jp->p++;
}

/* Append to dst unless dst is NULL (validate only). With a non-NULL *over, running into the
 * cap sets *over and drops the rest instead of failing. */
static int pb__out(pb_buf *dst, int *over, const void *s, size_t n)
{
    int rc;
    if (!dst || (over && *over))
        return PB_OK;
    rc = pb_buf_put(dst, s, n);
    if (rc == PB_ELIMIT && over) {
        *over = 1;
        return PB_OK;
    }
    return rc;
}

static int pb__hex4(const unsigned char *p, const unsigned char *end, unsigned *cp)
{
    unsigned v = 0;
    int i;
    if (end - p < 4)
        return PB_EPARSE;
    for (i = 0; i < 4; i++) {
        unsigned c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return PB_EPARSE;
    }
    *cp = v;
    return PB_OK;
}

/* One escape sequence after the backslash at jp->p; appends the decoded bytes. */
static int pb__escape(pb__jp *jp, pb_buf *dst, int *over)
{
    const unsigned char *p = jp->p + 1;
    unsigned char u[4];
    unsigned cp, lo;
    size_t n;
    int rc;

    if (p >= jp->end)
        return PB_EPARSE;
    if (*p != 'u') {
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *hit = *p ? strchr(from, *p) : NULL;
        if (!hit)
            return PB_EPARSE;
        jp->p = p + 1;
        return pb__out(dst, over, &to[hit - from], 1);
    }
    if ((rc = pb__hex4(p + 1, jp->end, &cp)) < 0)
        return rc;
    p += 5;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return PB_EPARSE; /* lone low surrogate */
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (jp->end - p < 6 || p[0] != '\\' || p[1] != 'u')
            return PB_EPARSE;
        if ((rc = pb__hex4(p + 2, jp->end, &lo)) < 0)
            return rc;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return PB_EPARSE;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
    }
    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | (cp >> 18));
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    jp->p = p;
    return pb__out(dst, over, u, n);
}

/* The string at jp->p (on its opening quote), decoded into dst (NULL: validate only). */
static int pb__string(pb__jp *jp, pb_buf *dst, int *over)
{
    int rc;

    jp->p++;
    for (;;) {
        const unsigned char *run = jp->p;
        unsigned char c;

        while (jp->p < jp->end && *jp->p >= 0x20 && *jp->p < 0x80 && *jp->p != '"' &&
               *jp->p != '\\')
            jp->p++;
        if ((rc = pb__out(dst, over, run, (size_t)(jp->p - run))) < 0)
            return rc;
        if (jp->p >= jp->end)
            return PB_EPARSE;
        c = *jp->p;
        if (c == '"') {
            jp->p++;
            return PB_OK;
        }
        if (c < 0x20)
            return PB_EPARSE;
        if (c == '\\') {
            rc = pb__escape(jp, dst, over);
        } else {
            size_t n = pb_utf8_seq_len(jp->p, (size_t)(jp->end - jp->p));
            if (!n)
                return PB_EPARSE;
            rc = pb__out(dst, over, jp->p, n);
            jp->p += n;
        }
        if (rc < 0)
            return rc;
    }
}

/* Scan a number token; *len gets its length. */
static int pb__number(pb__jp *jp, size_t *len)
{
    const unsigned char *s = jp->p, *p = jp->p, *e = jp->end;

#define PB__DIGIT(q) ((q) < e && *(q) >= '0' && *(q) <= '9')
    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0')
        p++;
    else if (PB__DIGIT(p))
        while (PB__DIGIT(p))
            p++;
    else
        return PB_EPARSE;
    if (p < e && *p == '.') {
        p++;
        if (!PB__DIGIT(p))
            return PB_EPARSE;
        while (PB__DIGIT(p))
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (!PB__DIGIT(p))
            return PB_EPARSE;
        while (PB__DIGIT(p))
            p++;
    }
#undef PB__DIGIT
    *len = (size_t)(p - s);
    jp->p = p;
    return PB_OK;
}

/* Start an entry: "PATH:" into the arena. */
static int pb__begin(pb__jp *jp, size_t *off)
{
    int rc;
    if (jp->f->count >= PB_FLAT_MAX_ENTRIES)
        return PB_ELIMIT;
    *off = jp->f->arena.len;
    if ((rc = pb_buf_put(&jp->f->arena, jp->path.ptr, jp->path.len)) < 0)
        return rc;
    return pb_buf_putc(&jp->f->arena, ':');
}

/* Finish the entry whose value was appended after pb__begin(). */
static int pb__end(pb__jp *jp, size_t off)
{
    pb_flat *f = jp->f;
    pb_flat_entry e;

    /* joined length = arena + one ';' between entries */
    if (f->arena.len + f->count > PB_FLAT_MAX_TOTAL)
        return PB_ELIMIT;
    e.s = NULL;
    e.off = off;
    e.plen = jp->path.len;
    e.vlen = f->arena.len - off - e.plen - 1;
    f->count++;
    return pb_buf_put(&f->ents, &e, sizeof(e));
}

static int pb__leaf(pb__jp *jp, const void *v, size_t n)
{
    size_t off;
    int rc;
    if ((rc = pb__begin(jp, &off)) < 0 || (rc = pb_buf_put(&jp->f->arena, v, n)) < 0)
        return rc;
    return pb__end(jp, off);
}

static int pb__lit(pb__jp *jp, const char *word, int emit, const char *val)
{
    size_t n = strlen(word);
    if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, word, n) != 0)
        return PB_EPARSE;
    jp->p += n;
    return emit ? pb__leaf(jp, val, strlen(val)) : PB_OK;
}

static int pb__is(const pb_buf *b, const char *s)
{
    size_t n = strlen(s);
    return b->len == n && memcmp(b->ptr, s, n) == 0;
}

/* Append ':' (unless at the top) and a member name with every ':' doubled. */
static int pb__push_key(pb__jp *jp, int top)
{
    const char *k = pb_buf_cstr(&jp->key), *end = k + jp->key.len, *c;
    int rc;

    if (!top && (rc = pb_buf_putc(&jp->path, ':')) < 0)
        return rc;
    while ((c = memchr(k, ':', (size_t)(end - k))) != NULL) {
        if ((rc = pb_buf_put(&jp->path, k, (size_t)(c - k + 1))) < 0 ||
            (rc = pb_buf_putc(&jp->path, ':')) < 0)
            return rc;
        k = c + 1;
    }
    return pb_buf_put(&jp->path, k, (size_t)(end - k));
}

/* Capture the "signature" string at jp->p for an object at `at`. */
static int pb__capture(pb__jp *jp, int at)
{
    pb_flat *f = jp->f;
    int *have = at == PB__AT_TOP ? &f->sig_top : &f->sig_gen;
    int *over = at == PB__AT_TOP ? &f->sig_top_long : &f->sig_gen_long;
    pb_buf *dst = at == PB__AT_TOP ? &f->sig_top_s : &f->sig_gen_s;

    if (*have)
        return PB_EPARSE; /* two signatures: ambiguous */
    *have = 1;
    return pb__string(jp, dst, over);
}

static int pb__object(pb__jp *jp, int emit, int at)
{
    int rc;

    jp->p++;
    pb__ws(jp);
    if (jp->p < jp->end && *jp->p == '}') {
        jp->p++;
        return PB_OK;
    }
    for (;;) {
        size_t saved = jp->path.len;
        int child_at = PB__AT_OTHER;

        pb__ws(jp);
        if (jp->p >= jp->end || *jp->p != '"')
            return PB_EPARSE;
        pb_buf_clear(&jp->key);
        if ((rc = pb__string(jp, &jp->key, NULL)) < 0)
            return rc;
        pb__ws(jp);
        if (jp->p >= jp->end || *jp->p != ':')
            return PB_EPARSE;
        jp->p++;
        pb__ws(jp);
        if (pb__is(&jp->key, "signature") || pb__is(&jp->key, "frame_mode")) {
            if (jp->capture && at != PB__AT_OTHER && jp->key.len == 9 && jp->p < jp->end &&
                *jp->p == '"')
                rc = pb__capture(jp, at);
            else
                rc = pb__value(jp, 0, PB__AT_OTHER);
        } else {
            if (at == PB__AT_TOP && pb__is(&jp->key, "general"))
                child_at = PB__AT_GENERAL;
            if (emit && (rc = pb__push_key(jp, at == PB__AT_TOP)) < 0)
                return rc;
            rc = pb__value(jp, emit, child_at);
            pb_buf_truncate(&jp->path, saved);
        }
        if (rc < 0)
            return rc;
        pb__ws(jp);
        if (jp->p < jp->end && *jp->p == ',') {
            jp->p++;
            continue;
        }
        if (jp->p < jp->end && *jp->p == '}') {
            jp->p++;
            return PB_OK;
        }
        return PB_EPARSE;
    }
}

static int pb__array(pb__jp *jp, int emit)
{
    size_t idx = 0;
    int rc;

    jp->p++;
    pb__ws(jp);
    if (jp->p < jp->end && *jp->p == ']') {
        jp->p++;
        return PB_OK;
    }
    if (emit)
        jp->f->has_array = 1;
    for (;;) {
        size_t saved = jp->path.len;

        pb__ws(jp);
        if (emit && (rc = pb_buf_printf(&jp->path, ":%zu", idx)) < 0)
            return rc;
        rc = pb__value(jp, emit, PB__AT_OTHER);
        pb_buf_truncate(&jp->path, saved);
        if (rc < 0)
            return rc;
        idx++;
        pb__ws(jp);
        if (jp->p < jp->end && *jp->p == ',') {
            jp->p++;
            continue;
        }
        if (jp->p < jp->end && *jp->p == ']') {
            jp->p++;
            return PB_OK;
        }
        return PB_EPARSE;
    }
}

/* A value at jp->p (whitespace already skipped). Recursion depth <= PB_FLAT_MAX_DEPTH. */
static int pb__value(pb__jp *jp, int emit, int at)
{
    size_t off, n;
    const unsigned char *s;
    int rc;

    if (jp->p >= jp->end)
        return PB_EPARSE;
    switch (*jp->p) {
    case '{':
    case '[':
        if (jp->depth >= PB_FLAT_MAX_DEPTH)
            return PB_ELIMIT;
        jp->depth++;
        rc = *jp->p == '{' ? pb__object(jp, emit, at == PB__AT_GENERAL ? at : PB__AT_OTHER)
                           : pb__array(jp, emit);
        jp->depth--;
        return rc;
    case '"':
        if (!emit)
            return pb__string(jp, NULL, NULL);
        if ((rc = pb__begin(jp, &off)) < 0 || (rc = pb__string(jp, &jp->f->arena, NULL)) < 0)
            return rc;
        return pb__end(jp, off);
    case 't':
        return pb__lit(jp, "true", emit, "1");
    case 'f':
        return pb__lit(jp, "false", emit, "0");
    case 'n':
        return pb__lit(jp, "null", emit, "");
    default:
        s = jp->p;
        if ((rc = pb__number(jp, &n)) < 0)
            return rc;
        return emit ? pb__leaf(jp, s, n) : PB_OK;
    }
}

int pb_flat_parse(pb_flat *f, const char *json, size_t len, int capture_sig)
{
    pb__jp jp;
    size_t i;
    int rc;

    if (!f || (!json && len))
        return PB_EINVAL;
    if (len > PB_FLAT_MAX_JSON)
        return PB_ELIMIT;
    memset(&jp, 0, sizeof(jp));
    jp.p = (const unsigned char *)json;
    jp.end = jp.p + len;
    jp.f = f;
    jp.capture = capture_sig;
    pb_buf_init(&jp.path, PB_FLAT_MAX_PATH);
    pb_buf_init(&jp.key, PB_FLAT_MAX_PATH);

    pb__ws(&jp);
    if (jp.p >= jp.end || *jp.p != '{') {
        rc = PB_EPARSE;
        goto out;
    }
    jp.depth = 1;
    if ((rc = pb__object(&jp, 1, PB__AT_TOP)) < 0)
        goto out;
    pb__ws(&jp);
    if (jp.p != jp.end) {
        rc = PB_EPARSE;
        goto out;
    }
    for (i = 0; i < f->count; i++) {
        pb_flat_entry *e = (pb_flat_entry *)(void *)f->ents.ptr + i;
        e->s = f->arena.ptr + e->off;
    }
    rc = PB_OK;
out:
    pb_buf_free(&jp.path);
    pb_buf_free(&jp.key);
    return rc;
}

static int pb__bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int r = memcmp(a, b, alen < blen ? alen : blen);
    if (r)
        return r;
    return alen < blen ? -1 : alen > blen;
}

/* Digit runs compare by value (then by length, so "01" != "1"), other bytes as unsigned. */
static int pb__nat_cmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    size_t i = 0, j = 0;

#define PB__ISD(c) ((c) >= '0' && (c) <= '9')
    while (i < alen && j < blen) {
        if (PB__ISD(a[i]) && PB__ISD(b[j])) {
            size_t si = i, sj = j, zi, zj, na, nb;
            int r;
            while (i < alen && PB__ISD(a[i]))
                i++;
            while (j < blen && PB__ISD(b[j]))
                j++;
            for (zi = si; zi + 1 < i && a[zi] == '0'; zi++)
                ;
            for (zj = sj; zj + 1 < j && b[zj] == '0'; zj++)
                ;
            na = i - zi;
            nb = j - zj;
            if (na != nb)
                return na < nb ? -1 : 1;
            if ((r = memcmp(a + zi, b + zj, na)) != 0)
                return r;
            if (i - si != j - sj)
                return i - si < j - sj ? -1 : 1;
            continue;
        }
        if (a[i] != b[j])
            return a[i] < b[j] ? -1 : 1;
        i++;
        j++;
    }
#undef PB__ISD
    return (alen - i) < (blen - j) ? -1 : (alen - i) > (blen - j);
}

static int pb__cmp_path(const void *x, const void *y)
{
    const pb_flat_entry *a = x, *b = y;
    return pb__bytes_cmp(a->s, a->plen, b->s, b->plen);
}

static int pb__cmp_whole(const void *x, const void *y)
{
    const pb_flat_entry *a = x, *b = y;
    return pb__bytes_cmp(a->s, a->plen + 1 + a->vlen, b->s, b->plen + 1 + b->vlen);
}

static int pb__cmp_nat(const void *x, const void *y)
{
    const pb_flat_entry *a = x, *b = y;
    return pb__nat_cmp((const unsigned char *)a->s, a->plen, (const unsigned char *)b->s, b->plen);
}

int pb_flat_sort(pb_flat *f, pb_flat_order order)
{
    pb_flat_entry *e = (pb_flat_entry *)(void *)f->ents.ptr;
    size_t i;

    if (f->count < 2)
        return PB_OK;
    switch (order) {
    case PB_FLAT_ORDER_PATH:
        qsort(e, f->count, sizeof(*e), pb__cmp_path);
        for (i = 1; i < f->count; i++)
            if (pb__cmp_path(&e[i - 1], &e[i]) == 0)
                return PB_EPARSE; /* duplicate member name */
        return PB_OK;
    case PB_FLAT_ORDER_NATURAL:
        qsort(e, f->count, sizeof(*e), pb__cmp_nat);
        return PB_OK;
    case PB_FLAT_ORDER_WHOLE:
        qsort(e, f->count, sizeof(*e), pb__cmp_whole);
        return PB_OK;
    }
    return PB_EINVAL;
}

int pb_flat_join(const pb_flat *f, pb_buf *out)
{
    const pb_flat_entry *e = (const pb_flat_entry *)(const void *)f->ents.ptr;
    size_t i;
    int rc;

    for (i = 0; i < f->count; i++) {
        if (i && (rc = pb_buf_putc(out, ';')) < 0)
            return rc;
        if ((rc = pb_buf_put(out, e[i].s, e[i].plen + 1 + e[i].vlen)) < 0)
            return rc;
    }
    return PB_OK;
}
