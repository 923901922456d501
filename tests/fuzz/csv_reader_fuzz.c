/*
 * csv_reader_fuzz.c - libFuzzer target for the streaming CSV reader.
 *
 * Byte 0: bits 0-1 delimiter (0 detect, 1 ',', 2 ';', 3 TAB), bit 2 small caps
 * (max_field 16, max_fields 8), bit 3 stop from the callback at the 3rd record. Byte 1 and
 * byte 2 pick two split points. The rest is the CSV. The input is read once whole, once in
 * three chunks and once in three chunks in batch mode (records taken in every other callback
 * and after every feed); all must give the same records and result, and every take must hand
 * over exactly the cells of the records delivered since the last one. Invariants per record:
 * row numbers strictly increase, fields NUL-terminated, len <= max_field, nfields <= max_fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/errors.h"
#include "formats/csv_reader.h"
#include "formats/global.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    uint64_t hash;
    uint64_t last_row;
    size_t records;
    int stop;
    size_t max_field, max_fields;
    pb_csv_reader *r; /* batch mode: records taken into bytes/lens */
    pb_buf bytes, lens;
    size_t cells, cell_bytes; /* delivered since the last take */
} fz_state;

/* Batch mode: take what was delivered; it must be exactly those cells. */
static void fz_take(fz_state *st)
{
    if (pb_csv_reader_take(st->r, &st->bytes, &st->lens) != 0)
        abort();
    if (st->lens.len != st->cells * 4 || st->bytes.len != st->cell_bytes)
        abort();
    st->cells = st->cell_bytes = 0;
}

static uint64_t fz_mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i;
    for (i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

static int fz_cb(const pb_csv_record *rec, void *ctx)
{
    fz_state *st = ctx;
    size_t i;

    if (rec->row <= st->last_row || rec->nfields == 0 || rec->nfields > st->max_fields)
        abort();
    if (rec->bad_utf8_field < -1 || rec->bad_utf8_field >= (int)rec->nfields)
        abort();
    st->last_row = rec->row;
    st->hash = fz_mix(st->hash, &rec->row, sizeof(rec->row));
    st->hash = fz_mix(st->hash, &rec->bad_utf8_field, sizeof(rec->bad_utf8_field));
    for (i = 0; i < rec->nfields; i++) {
        const pb_str *f = &rec->fields[i];
        if (f->len > st->max_field || f->ptr[f->len] != '\0')
            abort();
        st->hash = fz_mix(st->hash, &f->len, sizeof(f->len));
        st->hash = fz_mix(st->hash, f->ptr, f->len);
        st->cell_bytes += f->len + 1;
    }
    st->cells += rec->nfields;
    st->records++;
    if (st->r && st->records % 2)
        fz_take(st);
    return st->stop && st->records == 3 ? 7 : 0;
}

static uint64_t fz_run(const pb_csv_opts *o, int stop, const char *s, size_t n, size_t a, size_t b)
{
    pb_csv_reader *r = NULL;
    fz_state st;
    size_t cuts[4] = {0, a, b, n}, k;
    int rc = 0;
    uint64_t rows, erow;

    memset(&st, 0, sizeof(st));
    st.hash = 14695981039346656037ULL;
    st.stop = stop;
    st.max_field = o->max_field ? o->max_field : 65536;
    st.max_fields = o->max_fields ? o->max_fields : 1024;
    pb_buf_init(&st.bytes, SIZE_MAX / 2);
    pb_buf_init(&st.lens, SIZE_MAX / 2);
    if (pb_csv_reader_new(&r, o, fz_cb, &st) != 0)
        abort();
    st.r = o->batch ? r : NULL;
    for (k = 0; k < 3 && rc == 0; k++) {
        rc = pb_csv_reader_feed(r, s + cuts[k], cuts[k + 1] - cuts[k]);
        if (rc == 0 && st.r)
            fz_take(&st); /* between feeds: a record may be half read */
    }
    if (rc == 0)
        rc = pb_csv_reader_finish(r);
    if (pb_csv_reader_finish(r) != rc) /* sticky */
        abort();
    rows = pb_csv_reader_rows(r);
    erow = pb_csv_reader_error_row(r);
    if (rc == PB_EPARSE || rc == PB_ELIMIT) {
        if (pb_csv_reader_error(r)[0] == '\0' || erow == 0 || erow > rows + 1)
            abort();
    } else if (rc != 0 && rc != 7) {
        abort();
    }
    if (rows < st.last_row)
        abort();
    st.hash = fz_mix(st.hash, &rc, sizeof(rc));
    st.hash = fz_mix(st.hash, &rows, sizeof(rows));
    st.hash = fz_mix(st.hash, &erow, sizeof(erow));
    k = (size_t)pb_csv_reader_delimiter(r) + 256 * (size_t)pb_csv_reader_had_bom(r);
    st.hash = fz_mix(st.hash, &k, sizeof(k));
    pb_csv_reader_free(r);
    pb_buf_free(&st.bytes);
    pb_buf_free(&st.lens);
    return st.hash;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char delims[4] = {0, ',', ';', '\t'};
    pb_csv_opts o;
    const char *s;
    size_t n, a, b;
    uint64_t h;
    int stop;

    pb_global_init(); /* idempotent: cJSON allocates through core/alloc.h */
    if (size < 3)
        return 0;
    memset(&o, 0, sizeof(o));
    o.delimiter = delims[data[0] & 3];
    if (data[0] & 4) {
        o.max_field = 16;
        o.max_fields = 8;
    }
    stop = (data[0] & 8) != 0;
    s = (const char *)data + 3;
    n = size - 3;
    a = n * data[1] / 255;
    b = n * data[2] / 255;
    if (a > b) {
        size_t t = a;
        a = b;
        b = t;
    }
    h = fz_run(&o, stop, s, n, n, n);
    if (h != fz_run(&o, stop, s, n, a, b))
        abort();
    o.batch = 1;
    if (h != fz_run(&o, stop, s, n, a, b))
        abort();
    return 0;
}
