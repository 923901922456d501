/*
 * store_mem_read.c - the mem backend's payment id index, its reads and its inbox.
 */
#include "batch/store/store_mem_int.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <stdlib.h>
#include <string.h>

static uint64_t pb__mem_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    size_t i;
    for (i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int pb__mem_id_eq(const pb__mrow *m, const char *id, size_t len)
{
    const char *p = pb__mem_str(m->s[PB__S_PAYMENT_ID]);
    return strlen(p) == len && memcmp(p, id, len) == 0;
}

pb__mrow *pb__mem_id_find(pb__mstore *ms, const char *id, size_t len)
{
    size_t mask = ms->nslots - 1, i;
    if (!ms->nslots)
        return NULL;
    for (i = pb__mem_hash(id, len) & mask; ms->slots[i]; i = (i + 1) & mask) {
        if (pb__mem_id_eq(ms->slots[i], id, len))
            return ms->slots[i];
    }
    return NULL;
}

void pb__mem_id_put(pb__mstore *ms, pb__mrow *m)
{
    const char *id = m->s[PB__S_PAYMENT_ID];
    size_t mask = ms->nslots - 1, i;
    for (i = pb__mem_hash(id, strlen(id)) & mask; ms->slots[i]; i = (i + 1) & mask)
        ;
    ms->slots[i] = m;
    ms->nused++;
}

/* Remove by backward-shift deletion, so lookups need no tombstones. */
void pb__mem_id_del(pb__mstore *ms, pb__mrow *m)
{
    const char *id = m->s[PB__S_PAYMENT_ID];
    size_t mask = ms->nslots - 1, i, j;
    for (i = pb__mem_hash(id, strlen(id)) & mask; ms->slots[i] != m; i = (i + 1) & mask)
        ;
    ms->slots[i] = NULL;
    ms->nused--;
    for (j = (i + 1) & mask; ms->slots[j]; j = (j + 1) & mask) {
        const char *oid = ms->slots[j]->s[PB__S_PAYMENT_ID];
        size_t home = pb__mem_hash(oid, strlen(oid)) & mask;
        /* move slot j into the hole i when its home is not cyclically in (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            ms->slots[i] = ms->slots[j];
            ms->slots[j] = NULL;
            i = j;
        }
    }
}

/* Room for `more` ids at <= 50% load; the only allocation of an insert. */
int pb__mem_id_reserve(pb__mstore *ms, size_t more)
{
    size_t want = ms->nslots ? ms->nslots : 64, i;
    pb__mrow **old = ms->slots, **slots;
    size_t oldn = ms->nslots;
    while ((ms->nused + more) * 2 > want)
        want *= 2;
    if (want == ms->nslots)
        return PB_OK;
    slots = pb_calloc(want, sizeof(*slots));
    if (!slots)
        return pb__mem_nomem();
    ms->slots = slots;
    ms->nslots = want;
    ms->nused = 0;
    for (i = 0; i < oldn; i++) {
        if (old[i])
            pb__mem_id_put(ms, old[i]);
    }
    pb_free(old);
    return PB_OK;
}

/* The row as callers see it; cells and findings borrowed from m. */
void pb__mem_view(const pb__mrow *m, pb_store_row *out)
{
    memset(out, 0, sizeof(*out));
    out->batch = m->batch;
    out->row_no = m->row_no;
    out->state = m->state;
    out->amount = m->amount;
    out->attempts = m->attempts;
    out->next_at_ms = m->next_at_ms;
    out->updated_at_ms = m->updated_at_ms;
    out->reversed = m->reversed;
#define PB__COPY(field, idx)                                                                       \
    pb_row_field_set(out->field, sizeof(out->field) - 1, pb__mem_str(m->s[idx]),                   \
                     strlen(pb__mem_str(m->s[idx])))
    PB__COPY(payment_id, PB__S_PAYMENT_ID);
    PB__COPY(method, PB__S_METHOD);
    PB__COPY(currency, PB__S_CURRENCY);
    PB__COPY(account_masked, PB__S_ACCOUNT);
    PB__COPY(payee_key, PB__S_PAYEE);
    PB__COPY(code, PB__S_CODE);
    PB__COPY(message, PB__S_MESSAGE);
    PB__COPY(gate_status, PB__S_GATE_STATUS);
    PB__COPY(request_id, PB__S_REQUEST_ID);
    PB__COPY(operation_id, PB__S_OPERATION_ID);
    PB__COPY(provider_payment_id, PB__S_PROVIDER_ID);
#undef PB__COPY
    out->cells = m->cells;
    out->cells_len = m->cells_len;
    out->findings = m->s[PB__S_FINDINGS];
}

/* An owned copy for the caller. */
int pb__mem_out(const pb__mrow *m, pb_store_row *out)
{
    int rc;
    pb__mem_view(m, out);
    rc = pb_store_row_dup_heap(out, m->cells, m->cells_len, m->s[PB__S_FINDINGS]);
    if (rc < 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

int pb__mem_row_get(pb_store *st, uint64_t batch, uint32_t row_no, pb_store_row *row)
{
    pb__mbatch *b;
    long at;
    int rc = pb__mem_batch_get((pb__mstore *)st, batch, &b);
    if (rc < 0)
        return rc;
    at = pb__mem_find(b, row_no);
    if (at < 0) {
        pb_error_set("store: batch %llu has no row %u", (unsigned long long)batch, row_no);
        return PB_ENOTFOUND;
    }
    return pb__mem_out(b->rows[at], row);
}

int pb__mem_row_by_payment_id(pb_store *st, const char *id, size_t len, pb_store_row *row)
{
    pb__mrow *m = pb__mem_id_find((pb__mstore *)st, id, len);
    if (!m) {
        pb_error_set("store: no row has payment id %.*s", (int)len, id);
        return PB_ENOTFOUND;
    }
    return pb__mem_out(m, row);
}

int pb__mem_rows_each(pb_store *st, uint64_t batch, pb_store_row_cb cb, void *payload)
{
    pb__mbatch *b;
    pb_store_row row;
    size_t i;
    int rc = pb__mem_batch_get((pb__mstore *)st, batch, &b);
    for (i = 0; rc == 0 && i < b->n; i++) {
        pb__mem_view(b->rows[i], &row);
        rc = cb(&row, payload);
    }
    return rc;
}

int pb__mem_counts(pb_store *st, uint64_t batch, pb_batch_counts *counts)
{
    pb__mbatch *b;
    size_t i;
    int rc = pb__mem_batch_get((pb__mstore *)st, batch, &b);
    for (i = 0; rc == 0 && i < b->n; i++) {
        const pb__mrow *m = b->rows[i];
        rc = pb_batch_counts_add(counts, m->state, pb__mem_str(m->s[PB__S_CURRENCY]), 1, m->amount);
    }
    return rc;
}

int pb__mem_batches_each(pb_store *st, pb_store_batch_cb cb, void *payload)
{
    pb__mstore *ms = (pb__mstore *)st;
    size_t i;
    int rc = 0;
    for (i = 0; rc == 0 && i < ms->nbatches; i++)
        rc = cb(&ms->batches[i]->info, payload);
    return rc;
}

int pb__mem_inbox_put(pb_store *st, const pb_store_inbox_rec *rec)
{
    pb__mstore *ms = (pb__mstore *)st;
    pb__minbox e, *grown;
    int ok = 1;
    memset(&e, 0, sizeof(e));
    e.received_at_ms = rec->received_at_ms;
    e.matched = rec->matched;
    e.batch = rec->batch;
    e.row_no = rec->row_no;
    e.body_len = rec->body_len;
    e.body = pb_malloc(rec->body_len ? rec->body_len : 1);
    if (e.body && rec->body_len)
        memcpy(e.body, rec->body, rec->body_len);
    if (rec->payment_id)
        e.payment_id = pb__mem_dup(rec->payment_id, strlen(rec->payment_id), &ok);
    grown = ok && e.body ? pb_realloc(ms->inbox, (ms->ninbox + 1) * sizeof(*grown)) : NULL;
    if (!grown) {
        pb_free(e.body);
        pb_free(e.payment_id);
        return pb__mem_nomem();
    }
    ms->inbox = grown;
    ms->inbox[ms->ninbox++] = e;
    return PB_OK;
}

int pb__mem_inbox_each(pb_store *st, pb_store_inbox_cb cb, void *payload)
{
    pb__mstore *ms = (pb__mstore *)st;
    pb_store_inbox_rec r;
    size_t i;
    int rc = 0;
    for (i = 0; rc == 0 && i < ms->ninbox; i++) {
        const pb__minbox *e = &ms->inbox[i];
        r.received_at_ms = e->received_at_ms;
        r.body = e->body;
        r.body_len = e->body_len;
        r.payment_id = e->payment_id;
        r.matched = e->matched;
        r.batch = e->batch;
        r.row_no = e->row_no;
        rc = cb(&r, payload);
    }
    return rc;
}

/* A walk over every row of every other batch: the mem store serves tests and the simulator,
 * where stores are small. Hits are gathered first, then sorted newest first. */
typedef struct {
    const pb__mrow *m;
    const char *name;
} pb__mhit;

static int pb__cmp_hit(const void *a, const void *b)
{
    const pb__mhit *x = a, *y = b;
    if (x->m->updated_at_ms != y->m->updated_at_ms)
        return x->m->updated_at_ms > y->m->updated_at_ms ? -1 : 1;
    if (x->m->batch != y->m->batch)
        return x->m->batch < y->m->batch ? -1 : 1;
    return x->m->row_no < y->m->row_no ? -1 : x->m->row_no > y->m->row_no;
}

int pb__mem_paid_recently(pb_store *st, const char *payee_key, uint64_t this_batch,
                          int64_t since_ms, pb_store_paid_cb cb, void *payload)
{
    pb__mstore *ms = (pb__mstore *)st;
    pb__mhit *hits = NULL, *grown;
    size_t i, j, n = 0, cap = 0;
    int rc = PB_OK;

    for (i = 0; i < ms->nbatches; i++) {
        const pb__mbatch *b = ms->batches[i];
        if (b->info.id == this_batch)
            continue;
        for (j = 0; j < b->n; j++) {
            const pb__mrow *m = b->rows[j];
            if ((m->state != PB_ROW_ACCEPTED && m->state != PB_ROW_SUCCESS) ||
                m->updated_at_ms < since_ms || !m->s[PB__S_PAYEE] ||
                strcmp(m->s[PB__S_PAYEE], payee_key) != 0)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 4;
                if (!(grown = pb_realloc(hits, cap * sizeof(*hits)))) {
                    rc = pb__mem_nomem();
                    goto out;
                }
                hits = grown;
            }
            hits[n].m = m;
            hits[n].name = b->info.name;
            n++;
        }
    }
    if (n > 1)
        qsort(hits, n, sizeof(*hits), pb__cmp_hit);
    for (i = 0; i < n; i++) {
        pb_store_paid_hit h;
        h.batch_name = hits[i].name;
        h.batch = hits[i].m->batch;
        h.row_no = hits[i].m->row_no;
        h.state = hits[i].m->state;
        h.payment_id = pb__mem_str(hits[i].m->s[PB__S_PAYMENT_ID]);
        h.at_ms = hits[i].m->updated_at_ms;
        if ((rc = cb(&h, payload)) != 0)
            goto out;
    }
out:
    pb_free(hits);
    return rc;
}
