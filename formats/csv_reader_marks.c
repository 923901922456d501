/*
 * csv_reader_marks.c - marks: where records start, every mark_every bytes of input.
 *
 * A reader made with the same delimiter, resumed at a mark's row and fed the input from its
 * offset on delivers the same records as the reader that made it (pb_csv_reader_mark_before,
 * pb_csv_reader_resume): the validator re-reads earlier rows that way. The marks live in
 * blocks that never move, so another thread may look them up while the reader adds more.
 */
#include "formats/csv_reader_int.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <string.h>

void pb_csv_reader__add_mark(pb_csv_reader *r, const pb_csv_mark *m)
{
    size_t n = atomic_load_explicit(&r->nmarks, memory_order_relaxed), b = n / PB__MARK_BLOCK;
    if (b == PB__MARK_BLOCKS)
        return; /* no more marks: later rows are re-read from the last one (slower, exact) */
    if (!r->mblock && !(r->mblock = pb_calloc(PB__MARK_BLOCKS, sizeof(*r->mblock)))) {
        pb_csv_reader__oom(r);
        return;
    }
    if (!r->mblock[b] && !(r->mblock[b] = pb_malloc(PB__MARK_BLOCK * sizeof(pb_csv_mark)))) {
        pb_csv_reader__oom(r);
        return;
    }
    r->mblock[b][n % PB__MARK_BLOCK] = *m;
    atomic_store_explicit(&r->nmarks, n + 1, memory_order_release);
}

const char *pb_csv_reader__line_end(const char *data, size_t from, size_t len)
{
    const char *lf = memchr(data + from, '\n', len - from), *p;
    const char *end = lf ? lf : data + len;
    for (p = data + from; (p = memchr(p, '\r', (size_t)(end - p))) != NULL; p++) {
        if (p + 1 < data + len && p[1] != '\n')
            return p;
    }
    return lf;
}

#define PB__MARK(r, i) ((r)->mblock[(i) / PB__MARK_BLOCK][(i) % PB__MARK_BLOCK])

int pb_csv_reader_mark_before(const pb_csv_reader *r, uint64_t row, pb_csv_mark *out,
                              uint64_t *next_row)
{
    size_t n = atomic_load_explicit(&r->nmarks, memory_order_acquire), lo = 0, hi = n;
    while (lo < hi) { /* the first mark past row */
        size_t mid = lo + (hi - lo) / 2;
        if (PB__MARK(r, mid).row <= row)
            lo = mid + 1;
        else
            hi = mid;
    }
    *next_row = lo < n ? PB__MARK(r, lo).row : 0;
    if (lo == 0)
        return 1;
    *out = PB__MARK(r, lo - 1);
    return PB_OK;
}

size_t pb_csv_reader_marks(const pb_csv_reader *r)
{
    return atomic_load_explicit(&r->nmarks, memory_order_acquire);
}

int pb_csv_reader_resume(pb_csv_reader *r, uint64_t row)
{
    if (!r->delim || r->off || r->bom_state || row == 0)
        return PB_EINVAL;
    r->bom_state = PB_CSV_BOM_DONE;
    r->next_row = row;
    return PB_OK;
}
