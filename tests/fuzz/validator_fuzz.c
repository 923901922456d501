/*
 * validator_fuzz.c - CSV reading + header mapping + row validation + cross-row checks.
 *
 * The first byte picks the delimiter (detect or forced), --method and --allow-conversion and
 * a split point, so state carried across chunks is exercised. Invariants: every data row is
 * valid or invalid, never both or neither; a valid row has a parsed amount, method and
 * currency; each row reported once, in increasing row order.
 */
#include "core/alloc.h"
#include "formats/validator.h"
#include "formats/global.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t rows, valid, last_row;
} pb__fz;

static int pb__on_row(const pb_row_report *r, void *ctx)
{
    pb__fz *z = ctx;
    size_t i;
    if (r->rec->row <= z->last_row)
        abort();
    z->last_row = r->rec->row;
    z->rows++;
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char delims[4] = {0, ',', ';', '\t'};
    pb_validator_opts o;
    pb_validator *v;
    pb__fz z;
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
    o.on_row = pb__on_row;
    o.ctx = &z;
    data++, size--;
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
    return 0;
}
