#include "core/json_flat.h"

#include "core/alloc.h"
#include "core/errors.h"
#include "core/json_scan.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where an object sits, for signature capture. */
enum { PB__AT_TOP, PB__AT_GENERAL, PB__AT_OTHER };

typedef struct {
    pb_json_scan sc; /* the cursor: tokens come from core/json_scan */
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
    int rc = pb_json_scan_literal(&jp->sc, word);
    if (rc < 0)
        return rc;
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

/* Capture the "signature" string at jp->sc.p for an object at `at`. */
static int pb__capture(pb__jp *jp, int at)
{
    pb_flat *f = jp->f;
    int *have = at == PB__AT_TOP ? &f->sig_top : &f->sig_gen;
    int *over = at == PB__AT_TOP ? &f->sig_top_long : &f->sig_gen_long;
    pb_buf *dst = at == PB__AT_TOP ? &f->sig_top_s : &f->sig_gen_s;

    if (*have)
        return PB_EPARSE; /* two signatures: ambiguous */
    *have = 1;
    return pb_json_scan_string(&jp->sc, dst, over);
}

static int pb__object(pb__jp *jp, int emit, int at)
{
    int rc;

    jp->sc.p++;
    pb_json_scan_ws(&jp->sc);
    if (jp->sc.p < jp->sc.end && *jp->sc.p == '}') {
        jp->sc.p++;
        return PB_OK;
    }
    for (;;) {
        size_t saved = jp->path.len;
        int child_at = PB__AT_OTHER;

        pb_json_scan_ws(&jp->sc);
        if (jp->sc.p >= jp->sc.end || *jp->sc.p != '"')
            return PB_EPARSE;
        pb_buf_clear(&jp->key);
        if ((rc = pb_json_scan_string(&jp->sc, &jp->key, NULL)) < 0)
            return rc;
        pb_json_scan_ws(&jp->sc);
        if (jp->sc.p >= jp->sc.end || *jp->sc.p != ':')
            return PB_EPARSE;
        jp->sc.p++;
        pb_json_scan_ws(&jp->sc);
        if (pb__is(&jp->key, "signature") || pb__is(&jp->key, "frame_mode")) {
            if (jp->capture && at != PB__AT_OTHER && jp->key.len == 9 && jp->sc.p < jp->sc.end &&
                *jp->sc.p == '"')
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
        pb_json_scan_ws(&jp->sc);
        if (jp->sc.p < jp->sc.end && *jp->sc.p == ',') {
            jp->sc.p++;
            continue;
        }
        if (jp->sc.p < jp->sc.end && *jp->sc.p == '}') {
            jp->sc.p++;
            return PB_OK;
        }
        return PB_EPARSE;
    }
}

static int pb__array(pb__jp *jp, int emit)
{
    size_t idx = 0;
    int rc;

    jp->sc.p++;
    pb_json_scan_ws(&jp->sc);
    if (jp->sc.p < jp->sc.end && *jp->sc.p == ']') {
        jp->sc.p++;
        return PB_OK;
    }
    if (emit)
        jp->f->has_array = 1;
    for (;;) {
        size_t saved = jp->path.len;

        pb_json_scan_ws(&jp->sc);
        if (emit && (rc = pb_buf_printf(&jp->path, ":%zu", idx)) < 0)
            return rc;
        rc = pb__value(jp, emit, PB__AT_OTHER);
        pb_buf_truncate(&jp->path, saved);
        if (rc < 0)
            return rc;
        idx++;
        pb_json_scan_ws(&jp->sc);
        if (jp->sc.p < jp->sc.end && *jp->sc.p == ',') {
            jp->sc.p++;
            continue;
        }
        if (jp->sc.p < jp->sc.end && *jp->sc.p == ']') {
            jp->sc.p++;
            return PB_OK;
        }
        return PB_EPARSE;
    }
}

/* A value at jp->sc.p (whitespace already skipped). Recursion depth <= PB_FLAT_MAX_DEPTH. */
static int pb__value(pb__jp *jp, int emit, int at)
{
    size_t off, n;
    const unsigned char *s;
    int rc;

    if (jp->sc.p >= jp->sc.end)
        return PB_EPARSE;
    switch (*jp->sc.p) {
    case '{':
    case '[':
        if (jp->depth >= PB_FLAT_MAX_DEPTH)
            return PB_ELIMIT;
        jp->depth++;
        rc = *jp->sc.p == '{' ? pb__object(jp, emit, at == PB__AT_GENERAL ? at : PB__AT_OTHER)
                              : pb__array(jp, emit);
        jp->depth--;
        return rc;
    case '"':
        if (!emit)
            return pb_json_scan_string(&jp->sc, NULL, NULL);
        if ((rc = pb__begin(jp, &off)) < 0 ||
            (rc = pb_json_scan_string(&jp->sc, &jp->f->arena, NULL)) < 0)
            return rc;
        return pb__end(jp, off);
    case 't':
        return pb__lit(jp, "true", emit, "1");
    case 'f':
        return pb__lit(jp, "false", emit, "0");
    case 'n':
        return pb__lit(jp, "null", emit, "");
    default:
        s = jp->sc.p;
        if ((rc = pb_json_scan_number(&jp->sc, &n)) < 0)
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
    jp.sc.p = (const unsigned char *)json;
    jp.sc.end = jp.sc.p + len;
    jp.f = f;
    jp.capture = capture_sig;
    pb_buf_init(&jp.path, PB_FLAT_MAX_PATH);
    pb_buf_init(&jp.key, PB_FLAT_MAX_PATH);

    pb_json_scan_ws(&jp.sc);
    if (jp.sc.p >= jp.sc.end || *jp.sc.p != '{') {
        rc = PB_EPARSE;
        goto out;
    }
    jp.depth = 1;
    if ((rc = pb__object(&jp, 1, PB__AT_TOP)) < 0)
        goto out;
    pb_json_scan_ws(&jp.sc);
    if (jp.sc.p != jp.sc.end) {
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
