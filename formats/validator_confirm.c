/*
 * validator_confirm.c - is a fingerprint match the same key? Re-read the earlier row and see.
 *
 * The duplicate sets keep fingerprints and rows, not keys (dupcheck.h). A candidate row is
 * re-read from the input (opts.read_at, or the validator's copy of it) starting at the CSV
 * reader's mark before it, up to that row: ~4 KiB on average (marks are 8 KiB apart), decoded
 * into the payment ids of its rows (and the candidate's payout key) and kept, since duplicates
 * tend to sit near each other.
 */
#include "formats/validator_int.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <string.h>

#define PB__READ_SIZE (8 * 1024)
/* key_len of a row whose payout key was not computed (it takes the row rules) */
#define PB__KEY_UNKNOWN ((size_t)-1)

static int pb__read(pb_validator *v, uint64_t off, char *buf, size_t len, size_t *got)
{
    if (v->o.read_at)
        return v->o.read_at(off, buf, len, got, v->o.ctx);
    *got = off >= v->spool.len ? 0 : v->spool.len - (size_t)off;
    if (*got > len)
        *got = len;
    if (*got)
        memcpy(buf, v->spool.ptr + off, *got);
    return PB_OK;
}

static void pb__no_finding(const pb_finding *f, void *ctx)
{
    (void)f;
    (void)ctx;
}

/*
 * A record of the block being re-read: keep its payment id and, for the row wanted only (they
 * take the row rules), its payout key, as the rules saw them.
 */
static int pb__block_record(const pb_csv_record *rec, void *ctx)
{
    pb_validator *v = ctx;
    pb_validator__block *b = &v->blk;
    pb_validator__entry e;
    pb_row row;
    pb_row_result res;
    char key[512];
    int rc;

    if (rec->row <= v->header_row)
        return 0;
    if (rec->row > v->want)
        return 1; /* the block is complete: what lies past the row wanted is seldom wanted */
    memset(&e, 0, sizeof(e));
    e.row = rec->row;
    if (rec->bad_utf8_field < 0 && rec->nfields == pb_header_map_width(v->map)) {
        pb_header_map_row(v->map, rec->fields, rec->row, &row);
        e.id_off = b->text.len;
        e.id_len = row.cell[PB_COL_PAYMENT_ID].len;
        if ((rc = pb_buf_put(&b->text, row.cell[PB_COL_PAYMENT_ID].ptr, e.id_len)) < 0)
            return rc;
        e.key_len = PB__KEY_UNKNOWN;
        if (b->keys && rec->row == v->want) {
            memset(&res, 0, sizeof(res));
            pb_validate_row(&row, &v->o.rules, &res, pb__no_finding, NULL);
            e.key_off = b->text.len;
            e.key_len = pb_validator__payout_key(&row, &res, key);
            if ((rc = pb_buf_put(&b->text, key, e.key_len)) < 0)
                return rc;
        }
    }
    return pb_buf_put(&b->ents, &e, sizeof(e));
}

/* Re-read the rows from the mark before `row` up to it into v->blk. */
static int pb__block_load(pb_validator *v, uint64_t row, int keys)
{
    pb_validator__block *b = &v->blk;
    pb_csv_reader *rr = NULL;
    pb_csv_opts co;
    pb_csv_mark m;
    uint64_t off;
    size_t n;
    int rc, from_start;

    b->first = b->end = 0;
    b->keys = keys;
    pb_buf_clear(&b->text);
    pb_buf_clear(&b->ents);
    if (!v->rbuf && !(v->rbuf = pb_malloc(PB__READ_SIZE)))
        return PB_ENOMEM;
    from_start = pb_csv_reader_mark_before(v->csv, row, &m, &b->end) != 0;
    memset(&co, 0, sizeof(co));
    co.delimiter = pb_csv_reader_delimiter(v->csv);
    if ((rc = pb_csv_reader_new(&rr, &co, pb__block_record, v)) < 0)
        goto out;
    if (!from_start && (rc = pb_csv_reader_resume(rr, m.row)) < 0)
        goto out;
    b->first = from_start ? 1 : m.row;
    v->want = row;
    off = from_start ? 0 : m.off;
    for (;;) {
        size_t got;
        if ((rc = pb__read(v, off, v->rbuf, PB__READ_SIZE, &got)) < 0)
            goto out;
        if (got == 0)
            break; /* the rows up to `row` have all ended: no finish (it would flush a part) */
        off += got;
        if ((rc = pb_csv_reader_feed(rr, v->rbuf, got)) != 0)
            break;
    }
    if (rc == PB_ENOMEM)
        goto out;
    /* stopped past `row`, at the end of the input so far or at a reader error past `row` */
    rc = PB_OK;
    n = b->ents.len / sizeof(pb_validator__entry);
    b->end = n ? ((const pb_validator__entry *)(const void *)b->ents.ptr)[n - 1].row + 1 : 0;
out:
    if (rc < 0) {
        b->first = b->end = 0;
        pb_error_set("cannot re-read row %llu of the input to confirm a duplicate",
                     (unsigned long long)row);
    }
    pb_csv_reader_free(rr);
    return rc;
}

/* The entry of `row` in v->blk, or NULL. */
static const pb_validator__entry *pb__find(const pb_validator *v, uint64_t row)
{
    const pb_validator__entry *e = (const pb_validator__entry *)(const void *)v->blk.ents.ptr;
    size_t lo = 0, n = v->blk.ents.len / sizeof(*e), hi = n;

    if (!v->blk.end || row < v->blk.first || row >= v->blk.end)
        return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e[mid].row < row)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && e[lo].row == row ? &e[lo] : NULL;
}

/* The decoded entry of an earlier row, re-reading its block when it is not at hand. */
static int pb__entry_of(pb_validator *v, uint64_t row, int keys, const pb_validator__entry **out)
{
    const pb_validator__entry *e = pb__find(v, row);
    int rc;

    *out = NULL;
    if (!e || (keys && e->key_len == PB__KEY_UNKNOWN)) {
        if ((rc = pb__block_load(v, row, keys)) < 0)
            return rc;
        e = pb__find(v, row);
    }
    *out = e;
    return PB_OK;
}

int pb_validator__confirm_id(uint64_t row, int *same, void *ctx)
{
    pb_validator *v = ctx;
    const pb_validator__entry *e;
    int rc = pb__entry_of(v, row, 0, &e);
    *same = rc == 0 && e && e->id_len == v->cur_id.len &&
            memcmp(v->blk.text.ptr + e->id_off, v->cur_id.ptr, e->id_len) == 0;
    return rc;
}

int pb_validator__confirm_payout(uint64_t row, int *same, void *ctx)
{
    pb_validator *v = ctx;
    const pb_validator__entry *e;
    int rc = pb__entry_of(v, row, 1, &e);
    *same = rc == 0 && e && e->key_len && e->key_len == v->cur_key_len &&
            memcmp(v->blk.text.ptr + e->key_off, v->cur_key, e->key_len) == 0;
    return rc;
}
