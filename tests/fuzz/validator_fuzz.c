/*
 * validator_fuzz.c - CSV reading + header mapping + row validation + cross-row checks.
 *
 * The first byte picks the delimiter (detect or forced), --method and --allow-conversion and
 * a split point, so state carried across chunks is exercised. Invariants: every data row is
 * valid or invalid, never both or neither; a valid row has a parsed amount, method and
 * currency; each row reported once, in increasing row order.
 *
 * Duplicates: the validator's fingerprint index is checked against a straightforward exact
 * reference (every payment id and payout key kept as text, searched linearly): a row has a
 * duplicate-payment-id finding naming row R exactly when its id first appeared in row R, and a
 * possible-duplicate-payout finding exactly when it is valid and its payout key (method,
 * account, currency, amount) was seen in an earlier valid row. Any difference aborts.
 * Bit 4 of the first byte weakens the index's hash to a few bits (unrelated keys share slots
 * and fingerprints, so every lookup goes through the confirm path); bit 5 makes the validator
 * re-read earlier rows through read_at (from the input) instead of its own copy; bit 6 puts
 * its re-read marks every few bytes instead of every 8 KiB (many small blocks); bit 7 (with bit
 * 5) checks rows on a second thread (the same findings, in the same order, are expected).
 */
#include "core/alloc.h"
#include "formats/validator.h"
#include "formats/validator_int.h"
#include "formats/global.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *key;
    size_t len;
    uint64_t row;
} pb__ref_key;

typedef struct {
    const uint8_t *data; /* the input, for read_at */
    size_t size;
    uint64_t rows, valid, last_row;
    /* the exact reference sets */
    pb__ref_key ids[4096], payouts[4096];
    size_t nids, npayouts;
    int ref_full;
    /* this row's duplicate findings, from on_finding (the row report keeps only 32) */
    uint64_t dup_id_row, dup_id_other;
    uint64_t dup_payout_row;
} pb__fz;

/* The first row of key in set, or 0; adds it (with row) when absent. */
static uint64_t pb__ref_check(pb__ref_key *set, size_t *n, const void *key, size_t len,
                              uint64_t row)
{
    size_t i;
    for (i = 0; i < *n; i++) {
        if (set[i].len == len && memcmp(set[i].key, key, len) == 0)
            return set[i].row;
    }
    if (*n == 4096)
        return UINT64_MAX; /* a longer input than the reference holds: not compared */
    set[*n].key = pb_malloc(len ? len : 1);
    if (!set[*n].key)
        abort();
    memcpy(set[*n].key, key, len);
    set[*n].len = len;
    set[*n].row = row;
    (*n)++;
    return 0;
}

static void pb__ref_free(pb__ref_key *set, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        pb_free(set[i].key);
}

static void pb__on_finding(const pb_finding *f, void *ctx)
{
    pb__fz *z = ctx;
    if (f->code == PB_F_DUPLICATE_PAYMENT_ID) {
        z->dup_id_row = f->row;
        z->dup_id_other = f->other_row;
    } else if (f->code == PB_F_POSSIBLE_DUPLICATE_PAYOUT) {
        z->dup_payout_row = f->row;
    }
}

/* What the exact reference says about this row's duplicates; abort on any difference. */
static void pb__ref_row(pb__fz *z, const pb_row_report *r)
{
    uint64_t want_id = 0, want_payout = 0, got_id, got_payout;
    if (r->row) {
        pb_str id = r->row->cell[PB_COL_PAYMENT_ID];
        const pb_row_result *res = r->res;
        if (id.len > 0)
            want_id = pb__ref_check(z->ids, &z->nids, id.ptr, id.len, r->rec->row);
        /* the validator's payout key (its one definition), for rows valid at that point */
        char key[512];
        size_t n = r->valid ? pb_validator__payout_key(r->row, res, key) : 0;
        if (n > 0) {
            want_payout = pb__ref_check(z->payouts, &z->npayouts, key, n, r->rec->row);
            if (want_payout != UINT64_MAX)
                want_payout = want_payout != 0;
        }
    }
    got_id = z->dup_id_row == r->rec->row ? z->dup_id_other : 0;
    got_payout = z->dup_payout_row == r->rec->row;
    if (want_id == UINT64_MAX || want_payout == UINT64_MAX || z->ref_full) {
        z->ref_full = 1;
        return;
    }
    if (want_id > UINT32_MAX)
        want_id = UINT32_MAX;
    if (got_id != want_id || got_payout != want_payout)
        abort();
}

static int pb__on_row(const pb_row_report *r, void *ctx)
{
    pb__fz *z = ctx;
    size_t i;
    if (r->rec->row <= z->last_row)
        abort();
    z->last_row = r->rec->row;
    z->rows++;
    pb__ref_row(z, r);
    if (r->valid) {
        z->valid++;
        if (!r->res || !r->res->method || !r->res->currency || !r->res->amount_ok)
            abort();
    }
    for (i = 0; i < r->nfindings; i++) {
        if (r->findings[i].row != r->rec->row || !memchr(r->findings[i].message, 0, 400))
            abort();
        if (r->valid && pb_finding_severity(r->findings[i].code) == PB_SEV_ERROR)
            abort();
    }
    return 0;
}

static int pb__read_at(uint64_t off, char *buf, size_t len, size_t *got, void *ctx)
{
    pb__fz *z = ctx;
    *got = off >= z->size ? 0 : z->size - (size_t)off;
    if (*got > len)
        *got = len;
    if (*got)
        memcpy(buf, z->data + off, *got);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char delims[4] = {0, ',', ';', '\t'};
    pb_validator_opts o;
    pb_validator *v;
    static pb__fz z;
    size_t split;
    const pb_validator_stats *st;

    pb_global_init(); /* idempotent: cJSON allocates through core/alloc.h */
    if (size < 1)
        return 0;
    memset(&o, 0, sizeof(o));
    memset(&z, 0, sizeof(z));
    o.delimiter = delims[data[0] & 3];
    o.rules.default_method = (data[0] & 4) ? pb_method_find("gcash", 5) : NULL;
    o.rules.allow_conversion = (data[0] & 8) != 0;
    o.test_hash_mask = (data[0] & 16) ? 0xF000000000000003ULL : 0;
    o.read_at = (data[0] & 32) ? pb__read_at : NULL;
    o.test_mark_every = (data[0] & 64) ? 24 : 0;
    o.threads = (data[0] & 128) != 0;
    o.on_row = pb__on_row;
    o.on_finding = pb__on_finding;
    o.ctx = &z;
    data++, size--;
    z.data = data;
    z.size = size;
    split = size ? (size_t)(data[0] * 7) % size : 0;
    if (pb_validator_new(&v, &o) < 0)
        return 0;
    if (pb_validator_feed(v, (const char *)data, split) == 0 &&
        pb_validator_feed(v, (const char *)data + split, size - split) == 0 &&
        pb_validator_finish(v) == 0) {
        st = pb_validator_get_stats(v);
        if (st->valid + st->invalid != st->rows)
            abort();
        if (!pb_validator_file_failed(v) && (z.rows != st->rows || z.valid != st->valid))
            abort();
    }
    pb_validator_free(v);
    pb__ref_free(z.ids, z.nids);
    pb__ref_free(z.payouts, z.npayouts);
    return 0;
}
