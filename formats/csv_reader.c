/*
 * csv_reader.c - streaming CSV reader on libcsv 3.0.3.
 *
 * libcsv does the quoting state machine; this layer adds the BOM, delimiter detection, row
 * numbering (CSV_REPALL_NL reports line ends outside records, which counts blank lines; the
 * LF of a CRLF is recognised and not counted twice), the caps and the UTF-8 check.
 *
 * Memory: libcsv's field buffer is max_field + 2 bytes and its realloc hook refuses to grow it,
 * so a longer field stops libcsv (CSV_ENOMEM, mapped to PB_ELIMIT). Each record's fields are
 * copied into a reused pb_buf arena (capped at max_fields * (max_field + 1)); two arenas take
 * turns, so a record's fields outlive its callback until the next one returns.
 * In batch mode one arena keeps growing until pb_csv_reader_take swaps it for the caller's, and
 * libcsv's field buffer is the arena's free end (pb__point): each cell is written once, in
 * place, instead of into libcsv's buffer and then copied (with a checking thread the copy missed
 * the cache on every line, which the other core had just read).
 * The marks for re-reading are in csv_reader_marks.c.
 * libcsv's callbacks cannot abort a csv_parse() call, so the first error or stop is kept in
 * r->rc, later callbacks do nothing, and feed() returns r->rc after csv_parse().
 */
#include "formats/csv_reader_int.h"

#include "core/alloc.h"
#include "core/assert.h"
#include "core/buf.h"
#include "core/errors.h"
#include "core/utf8.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PB_CSV_DEFAULT_MAX_FIELD  65536
#define PB_CSV_DEFAULT_MAX_FIELDS 1024

static const unsigned char pb__bom[3] = {0xEF, 0xBB, 0xBF};

static void pb__fail(pb_csv_reader *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void pb__fail(pb_csv_reader *r, int rc, const char *fmt, ...)
{
    va_list ap;

    if (r->rc)
        return;
    r->rc = rc;
    r->err_row = r->next_row;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof(r->err), fmt, ap);
    va_end(ap);
    pb_error_set("row %llu: %s", (unsigned long long)r->err_row, r->err);
}

void pb_csv_reader__oom(pb_csv_reader *r)
{
    if (r->rc)
        return;
    r->rc = PB_ENOMEM;
    snprintf(r->err, sizeof(r->err), "out of memory");
}

/* libcsv's field buffer never grows: a longer field makes csv_parse() stop (CSV_ENOMEM). */
static void *pb__csv_no_grow(void *p, size_t n)
{
    (void)p;
    (void)n;
    return NULL;
}

/*
 * opts.batch: libcsv's field buffer (max_field + 2 bytes, as otherwise) is the arena's free end,
 * so the next cell is built where it stays. Called whenever no cell is half built: at the start,
 * after each cell and in pb_csv_reader_take. The arena's own NUL after len is libcsv's to
 * overwrite; pb__on_field puts it back.
 */
static int pb__point(pb_csv_reader *r)
{
    int rc;
    if (r->arena.alloc - r->arena.len <= r->max_field + 3 &&
        (rc = pb_buf_reserve(&r->arena, r->max_field + 3)) < 0)
        return rc;
    r->p.entry_buf = (unsigned char *)r->arena.ptr + r->arena.len;
    r->p.entry_size = r->max_field + 2;
    return PB_OK;
}

/* pb_buf_put (z 0) or pb_buf_putz (z 1), without the call when the bytes fit: every cell */
static inline __attribute__((always_inline)) int pb__put(pb_buf *b, const void *p, size_t n, int z)
{
    size_t extra = n + (size_t)z;
    if (b->ptr && extra < b->alloc - b->len && extra <= b->max - b->len) {
        memcpy(b->ptr + b->len, p, n);
        b->len += n;
        if (z)
            b->ptr[b->len++] = '\0';
        b->ptr[b->len] = '\0';
        return PB_OK;
    }
    return z ? pb_buf_putz(b, p, n) : pb_buf_put(b, p, n);
}

static void pb__on_field(void *s, size_t len, void *data)
{
    pb_csv_reader *r = data;
    pb_str cell;
    int rc;

    if (r->rc)
        return;
    if (len > r->max_field) {
        pb__fail(r, PB_ELIMIT,
                 "a cell is longer than %zu bytes; check for a quote that is never closed, "
                 "or shorten the cell",
                 r->max_field);
        return;
    }
    if (r->nfields == r->max_fields) {
        pb__fail(r, PB_ELIMIT,
                 "the row has more than %zu cells; check the delimiter and the quoting",
                 r->max_fields);
        return;
    }
    if (r->fields.ptr && sizeof(cell) < r->fields.alloc - r->fields.len) {
        /* stored member by member: a 16-byte copy of a struct just written to the stack
           stalled on store forwarding, on every cell */
        pb_str *f = (pb_str *)(void *)(r->fields.ptr + r->fields.len);
        f->ptr = NULL; /* set when the record is delivered: the arena may still move */
        f->len = len;
        r->fields.len += sizeof(*f);
        rc = PB_OK;
    } else {
        cell.ptr = NULL;
        cell.len = len;
        rc = pb_buf_put(&r->fields, &cell, sizeof(cell));
    }
    if (rc == PB_OK && r->batch && len + 1 > r->arena_max - (r->arena.len - r->rec_start))
        rc = PB_ELIMIT; /* the same cap on one record as in an arena of its own */
    if (rc == PB_OK && r->batch && (unsigned char *)s == r->p.entry_buf) {
        /* built in place (pb__point): end it, and build the next one after it */
        r->arena.ptr[r->arena.len + len] = '\0';
        r->arena.len += len + 1;
        r->arena.ptr[r->arena.len] = '\0';
        rc = pb__point(r);
    } else if (rc == PB_OK && len <= 16 && (unsigned char *)s == r->p.entry_buf &&
               r->p.entry_size >= 16 && r->arena.ptr && len + 17 < r->arena.alloc - r->arena.len &&
               len + 1 <= r->arena.max - r->arena.len) {
        /* most cells are short: 16 bytes at once, no call (libcsv hands over its field buffer,
           entry_size bytes; the bytes copied past the cell are overwritten next) */
        char *d = r->arena.ptr + r->arena.len;
        memcpy(d, s, 16);
        d[len] = '\0';
        r->arena.len += len + 1;
        r->arena.ptr[r->arena.len] = '\0';
    } else if (rc == PB_OK) {
        rc = pb__put(&r->arena, s, len, 1);
        if (rc == PB_OK && r->batch)
            rc = pb__point(r); /* libcsv always hands its buffer over; were it not, stay after */
    }
    if (rc == PB_ELIMIT) {
        pb__fail(r, PB_ELIMIT, "the row is longer than %zu bytes", r->arena_max);
        return;
    }
    if (rc < 0) {
        pb_csv_reader__oom(r);
        return;
    }
    r->nfields++;
}

/*
 * The first field of the record with bytes that are not UTF-8, or -1. One pass over the
 * record's cells (they lie back to back): only a record with a byte >= 0x80 is checked cell by
 * cell.
 */
static int pb__bad_utf8(const pb_str *f, size_t n, const char *from, const char *end)
{
    const unsigned char *p = (const unsigned char *)from, *e = (const unsigned char *)end;
    uint64_t w, hi = 0;
    size_t i;

    for (; p + 8 <= e && !hi; p += 8) {
        memcpy(&w, p, 8);
        hi = w & 0x8080808080808080ULL;
    }
    for (; p < e && !hi; p++)
        hi = *p & 0x80;
    if (!hi)
        return -1;
    for (i = 0; i < n; i++) {
        if (!pb_utf8_valid(f[i].ptr, f[i].len))
            return (int)i;
    }
    return -1;
}

static void pb__on_row(int c, void *data)
{
    pb_csv_reader *r = data;
    pb_csv_record rec;
    pb_str *fields;
    size_t i, off;
    int rc;

    if (r->rc)
        return;
    if (c == '\n' && r->last_term == '\r' && r->nfields == 0) {
        r->last_term = '\n'; /* the LF of a CRLF: same line end */
        return;
    }
    r->last_term = c;
    rec.row = r->next_row++;
    if (r->nfields == 0)
        return; /* blank line: takes its row number, not delivered */
    fields = (pb_str *)(void *)r->fields.ptr;
    for (i = 0, off = r->rec_start; i < r->nfields; i++) {
        fields[i].ptr = r->arena.ptr + off;
        off += fields[i].len + 1;
    }
    rec.nfields = r->nfields;
    rec.fields = fields;
    rec.bad_utf8_field =
        pb__bad_utf8(fields, r->nfields, r->arena.ptr + r->rec_start, r->arena.ptr + off);
    r->nfields = 0;
    if (r->batch) {
        /* the record is complete: the callback may take it, with the ones before it */
        if (r->lens.ptr && rec.nfields * 4 < r->lens.alloc - r->lens.len) {
            for (i = 0; i < rec.nfields; i++) {
                uint32_t l = (uint32_t)fields[i].len; /* <= max_field <= UINT32_MAX */
                memcpy(r->lens.ptr + r->lens.len + 4 * i, &l, 4);
            }
            r->lens.len += rec.nfields * 4;
            r->lens.ptr[r->lens.len] = '\0';
        } else {
            for (i = 0; i < rec.nfields; i++) {
                uint32_t l = (uint32_t)fields[i].len;
                if (pb__put(&r->lens, &l, sizeof(l), 0) < 0) {
                    pb_csv_reader__oom(r);
                    return;
                }
            }
        }
        r->rec_start = r->arena.len;
        r->in_row = 1; /* no cell is half built (libcsv's entry_pos is stale) */
        rc = r->cb(&rec, r->ctx);
        r->in_row = 0;
        pb_buf_clear(&r->fields);
        if (rc) {
            r->rc = rc;
            r->err_row = rec.row;
        }
        return;
    }
    rc = r->cb(&rec, r->ctx);
    {
        /* the record stays where it is while the next one is built in the other buffers */
        pb_buf t = r->prev_arena;
        r->prev_arena = r->arena;
        r->arena = t;
        t = r->prev_fields;
        r->prev_fields = r->fields;
        r->fields = t;
    }
    pb_buf_clear(&r->arena);
    pb_buf_clear(&r->fields);
    if (rc) {
        r->rc = rc;
        r->err_row = rec.row;
    }
}

static int pb__parse_piece(pb_csv_reader *r, const char *data, size_t len)
{
    size_t n;

    if (r->rc || len == 0)
        return r->rc;
    n = csv_parse(&r->p, data, len, pb__on_field, pb__on_row, r);
    r->off += n;
    if (r->rc || n == len)
        return r->rc;
    switch (csv_error(&r->p)) {
    case CSV_EPARSE:
        if (r->p.quoted)
            pb__fail(r, PB_EPARSE,
                     "text after the closing quote of a cell: a quote inside a quoted cell "
                     "must be doubled (\"\")");
        else
            pb__fail(r, PB_EPARSE,
                     "a quote in the middle of an unquoted cell: put the whole cell in quotes "
                     "and double the quote inside it (\"\")");
        break;
    case CSV_ENOMEM:
    case CSV_ETOOBIG:
        pb__fail(r, PB_ELIMIT,
                 "a cell is longer than %zu bytes; check for a quote that is never closed, "
                 "or shorten the cell",
                 r->max_field);
        break;
    default:
        pb__fail(r, PB_ERROR, "CSV parser failed: %s", csv_strerror(csv_error(&r->p)));
        break;
    }
    return r->rc;
}

/*
 * libcsv in pieces that end at the first line end after each mark_every bytes: after a piece
 * whose line end ended a record (libcsv's state is "row not begun", 0), the next byte starts a
 * record.
 */
static int pb__parse(pb_csv_reader *r, const char *data, size_t len)
{
    while (!r->rc && len > 0) {
        size_t take = len, from;
        const char *lf = NULL;
        int rc;
        if (r->mark_every) {
            from = r->mark_at > r->off ? (size_t)(r->mark_at - r->off) : 0;
            if (from < len)
                lf = pb_csv_reader__line_end(data, from, len);
            if (lf)
                take = (size_t)(lf - data) + 1;
        }
        if ((rc = pb__parse_piece(r, data, take)) != 0)
            return rc;
        data += take;
        len -= take;
        if (lf && r->p.pstate == 0 && r->nfields == 0) {
            pb_csv_mark m;
            m.off = r->off + (r->had_bom ? sizeof(pb__bom) : 0);
            m.row = r->next_row;
            pb_csv_reader__add_mark(r, &m);
            r->mark_at = r->off + r->mark_every;
        }
    }
    return r->rc;
}

static void pb__decide(pb_csv_reader *r)
{
    char d = ',';
    size_t best = r->counts[0];

    if (r->counts[1] > best) {
        d = ';';
        best = r->counts[1];
    }
    if (r->counts[2] > best)
        d = '\t';
    r->delim = d;
    csv_set_delim(&r->p, (unsigned char)d);
    r->detecting = 0;
}

/* Flush the held-back bytes, then `data`, to libcsv once the delimiter is known. */
static int pb__replay(pb_csv_reader *r, const char *data, size_t len)
{
    int rc = pb__parse(r, r->head.ptr, r->head.len);
    pb_buf_free(&r->head);
    if (rc)
        return rc;
    return pb__parse(r, data, len);
}

static int pb__detect(pb_csv_reader *r, const char *data, size_t len)
{
    size_t i;
    int rc;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        if (r->head_inq) {
            if (c == '"')
                r->head_inq = 0;
            continue;
        }
        switch (c) {
        case '"':
            r->head_inq = 1;
            r->head_content = 1;
            break;
        case ',':
            r->counts[0]++;
            r->head_content = 1;
            break;
        case ';':
            r->counts[1]++;
            r->head_content = 1;
            break;
        case '\t':
            r->counts[2]++;
            break;
        case ' ':
            break;
        case '\r':
        case '\n':
            if (r->head_content) {
                /* same cap whatever the chunking: bytes before the header's line end */
                if (i > r->head.max - r->head.len)
                    goto too_long;
                pb__decide(r);
                return pb__replay(r, data, len);
            }
            r->counts[0] = r->counts[1] = r->counts[2] = 0;
            break;
        default:
            r->head_content = 1;
            break;
        }
    }
    rc = pb_buf_put(&r->head, data, len);
    if (rc == PB_ELIMIT)
        goto too_long;
    if (rc < 0)
        pb_csv_reader__oom(r);
    return r->rc;
too_long:
    pb__fail(r, PB_ELIMIT,
             "the header line is longer than %zu bytes; check for a quote that is never closed",
             r->head.max);
    return r->rc;
}

static int pb__input(pb_csv_reader *r, const char *data, size_t len)
{
    if (r->detecting)
        return pb__detect(r, data, len);
    return pb__parse(r, data, len);
}

int pb_csv_reader_new(pb_csv_reader **out, const pb_csv_opts *opts, pb_csv_record_cb cb, void *ctx)
{
    pb_csv_reader *r = NULL;
    char delim = opts ? opts->delimiter : 0;
    int rc = PB_OK;

    if (!out || !cb)
        return PB_EINVAL;
    *out = NULL;
    if (delim != 0 && delim != ',' && delim != ';' && delim != '\t')
        return PB_EINVAL;
    r = pb_calloc(1, sizeof(*r));
    if (!r) {
        rc = PB_ENOMEM;
        goto out;
    }
    r->cb = cb;
    r->ctx = ctx;
    r->max_field = opts && opts->max_field ? opts->max_field : PB_CSV_DEFAULT_MAX_FIELD;
    r->max_fields = opts && opts->max_fields ? opts->max_fields : PB_CSV_DEFAULT_MAX_FIELDS;
    r->mark_every = opts ? opts->mark_every : 0;
    r->batch = opts ? opts->batch : 0;
    if (r->max_field > SIZE_MAX / 4 || r->max_field > UINT32_MAX ||
        r->max_fields > SIZE_MAX / sizeof(pb_str)) {
        rc = PB_EINVAL;
        goto out;
    }
    /* a pb_buf's cap must leave room for its NUL: SIZE_MAX / 2 is "no cap" */
    if (r->max_field + 1 > SIZE_MAX / 2 / r->max_fields)
        r->arena_max = SIZE_MAX / 2;
    else
        r->arena_max = r->max_fields * (r->max_field + 1);
    r->next_row = 1;
    pb_buf_init(&r->head, r->arena_max);
    /* batch: many records, each capped by hand at arena_max and max_fields */
    pb_buf_init(&r->arena, r->batch ? SIZE_MAX / 2 : r->arena_max);
    pb_buf_init(&r->fields, r->max_fields * sizeof(pb_str));
    pb_buf_init(&r->lens, SIZE_MAX / 2);
    pb_buf_init(&r->prev_arena, r->arena_max);
    pb_buf_init(&r->prev_fields, r->max_fields * sizeof(pb_str));
    if (csv_init(&r->p, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) != 0) {
        rc = PB_ENOMEM;
        goto out;
    }
    r->p_inited = 1;
    csv_set_realloc_func(&r->p, pb__csv_no_grow);
    csv_set_free_func(&r->p, pb_free);
    csv_set_blk_size(&r->p, 1);
    if (r->batch) {
        if ((rc = pb__point(r)) < 0)
            goto out;
    } else {
        /* field + closing quote (libcsv buffers it until it knows the field ended) */
        r->p.entry_buf = pb_malloc(r->max_field + 2);
        if (!r->p.entry_buf) {
            rc = PB_ENOMEM;
            goto out;
        }
        r->p.entry_size = r->max_field + 2;
    }
    if (delim) {
        r->delim = delim;
        csv_set_delim(&r->p, (unsigned char)delim);
    } else {
        r->detecting = 1;
    }
    *out = r;
    r = NULL;
out:
    pb_csv_reader_free(r);
    return rc;
}

int pb_csv_reader_feed(pb_csv_reader *r, const char *data, size_t len)
{
    if (!r || (!data && len))
        return PB_EINVAL;
    if (r->rc)
        return r->rc;
    if (r->finished)
        return PB_EINVAL;
    while (r->bom_state < PB_CSV_BOM_DONE && len) {
        if ((unsigned char)*data == pb__bom[r->bom_state]) {
            data++;
            len--;
            if (++r->bom_state == PB_CSV_BOM_DONE)
                r->had_bom = 1;
        } else {
            int k = r->bom_state;
            r->bom_state = PB_CSV_BOM_DONE;
            if (k && pb__input(r, (const char *)pb__bom, (size_t)k) != 0)
                return r->rc;
        }
    }
    if (len == 0)
        return r->rc;
    return pb__input(r, data, len);
}

int pb_csv_reader_finish(pb_csv_reader *r)
{
    if (!r)
        return PB_EINVAL;
    if (r->rc || r->finished)
        return r->rc;
    r->finished = 1;
    if (r->bom_state < PB_CSV_BOM_DONE) {
        int k = r->bom_state;
        r->bom_state = PB_CSV_BOM_DONE;
        if (k && pb__input(r, (const char *)pb__bom, (size_t)k) != 0)
            return r->rc;
    }
    if (r->detecting) {
        pb__decide(r);
        if (pb__replay(r, NULL, 0) != 0)
            return r->rc;
    }
    if (csv_fini(&r->p, pb__on_field, pb__on_row, r) != 0)
        pb__fail(r, PB_EPARSE,
                 "a quoted cell that starts in this row is never closed: add the closing "
                 "quote (\")");
    return r->rc;
}

char pb_csv_reader_delimiter(const pb_csv_reader *r)
{
    return r ? r->delim : 0;
}

int pb_csv_reader_had_bom(const pb_csv_reader *r)
{
    return r ? r->had_bom : 0;
}

uint64_t pb_csv_reader_rows(const pb_csv_reader *r)
{
    return r ? r->next_row - 1 : 0;
}

uint64_t pb_csv_reader_error_row(const pb_csv_reader *r)
{
    return r ? r->err_row : 0;
}

const char *pb_csv_reader_error(const pb_csv_reader *r)
{
    return r ? r->err : "";
}

void pb_csv_reader_free(pb_csv_reader *r)
{
    if (!r)
        return;
    if (r->batch)
        r->p.entry_buf = NULL; /* the arena's, not libcsv's (pb__point) */
    if (r->p_inited)
        csv_free(&r->p);
    else
        pb_free(r->p.entry_buf);
    pb_buf_free(&r->head);
    pb_buf_free(&r->arena);
    pb_buf_free(&r->fields);
    pb_buf_free(&r->prev_arena);
    pb_buf_free(&r->prev_fields);
    pb_buf_free(&r->lens);
    if (r->mblock) {
        size_t i;
        for (i = 0; i < PB__MARK_BLOCKS; i++)
            pb_free(r->mblock[i]);
        pb_free(r->mblock);
    }
    pb_free(r);
}

int pb_csv_reader_take(pb_csv_reader *r, pb_buf *bytes, pb_buf *lens)
{
    size_t tail = r->arena.len - r->rec_start;
    size_t part = r->in_row ? 0 : r->p.entry_pos; /* bytes of a cell half built (pb__point) */
    pb_buf t;
    int rc;

    PB_ASSERT(r->batch);
    pb_buf_clear(bytes);
    pb_buf_clear(lens);
    bytes->max = lens->max = SIZE_MAX / 2;
    /* a record half read stays with the reader, at the start of its new buffer, and so does
       the cell libcsv is building after it */
    if ((rc = pb_buf_reserve(bytes, tail + r->max_field + 3)) < 0)
        return rc;
    if (tail)
        memcpy(bytes->ptr, r->arena.ptr + r->rec_start, tail);
    bytes->len = tail;
    bytes->ptr[tail] = '\0';
    if (part)
        memcpy(bytes->ptr + tail, r->arena.ptr + r->arena.len, part);
    t = r->arena;
    r->arena = *bytes;
    *bytes = t;
    t = r->lens;
    r->lens = *lens;
    *lens = t;
    pb_buf_truncate(bytes, r->rec_start);
    r->rec_start = 0;
    r->p.entry_buf = (unsigned char *)r->arena.ptr + r->arena.len;
    return PB_OK;
}
