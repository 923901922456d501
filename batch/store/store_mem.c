/*
 * store_mem.c - the in-memory store backend ("mem:"): tests, the simulator, fuzzers.
 *
 * Each open is a fresh, private store; nothing survives pb_store_free. Every call is atomic
 * all the same: memory is allocated before anything changes, so an allocation failure
 * leaves the store as it was (the alloc-failure tests rely on this). Rows are kept compact
 * (heap strings, NULL for "") in a per-batch array sorted by row number; a hash table maps
 * the payment ids of non-invalid rows to their rows across batches (store_mem_read.c).
 */
#include "batch/store/store_mem_int.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <stdlib.h>
#include <string.h>

const char *pb__mem_str(const char *s)
{
    return s ? s : "";
}

static void pb__mrow_free(pb__mrow *m)
{
    int i;
    if (!m)
        return;
    for (i = 0; i < PB__S_COUNT; i++)
        pb_free(m->s[i]);
    pb_free(m->cells);
    pb_free(m);
}

int pb__mem_nomem(void)
{
    pb_error_set("store mem: out of memory");
    return PB_ENOMEM;
}

/* NULL for "" (nothing to allocate); *ok = 0 on allocation failure */
char *pb__mem_dup(const char *s, size_t len, int *ok)
{
    char *d;
    if (len == 0)
        return NULL;
    d = pb_strndup(s, len);
    if (!d)
        *ok = 0;
    return d;
}

int pb__mem_batch_get(pb__mstore *ms, uint64_t id, pb__mbatch **out)
{
    if (id == 0 || id > ms->nbatches) {
        pb_error_set("store mem: no batch %llu", (unsigned long long)id);
        return PB_ENOTFOUND;
    }
    *out = ms->batches[id - 1];
    return PB_OK;
}

/* index of row_no, or -(insertion point) - 1 */
long pb__mem_find(const pb__mbatch *b, uint32_t row_no)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (b->rows[mid]->row_no == row_no)
            return (long)mid;
        if (b->rows[mid]->row_no < row_no)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

static int pb__copy_str(char **dst, const char *src)
{
    size_t n = strlen(src);
    *dst = pb_strndup(src, n);
    return *dst ? PB_OK : pb__mem_nomem();
}

static int pb__batch_begin(pb_store *st, const pb_batch_key *key, pb_batch_info *info, int *created)
{
    pb__mstore *ms = (pb__mstore *)st;
    pb__mbatch *b = NULL, **grown;
    size_t i;
    int rc;
    for (i = 0; i < ms->nbatches; i++) {
        pb_batch_info *bi = &ms->batches[i]->info;
        if (strcmp(bi->name, key->name) != 0)
            continue;
        if (strcmp(bi->file_sha256, key->file_sha256) != 0) {
            pb_error_set("store: batch '%s' was started from a different file (SHA-256 %s, "
                         "this file %s)",
                         key->name, bi->file_sha256, key->file_sha256);
            return PB_EEXISTS;
        }
        b = ms->batches[i];
        goto copy;
    }
    grown = pb_realloc(ms->batches, (ms->nbatches + 1) * sizeof(*grown));
    if (!grown)
        return pb__mem_nomem();
    ms->batches = grown;
    b = pb_calloc(1, sizeof(*b));
    if (!b)
        return pb__mem_nomem();
    b->info.id = ms->nbatches + 1;
    memcpy(b->info.file_sha256, key->file_sha256, PB_STORE_SHA256_HEX + 1);
    b->info.delimiter = key->delimiter;
    b->info.had_bom = key->had_bom;
    b->info.created_at_ms = key->created_at_ms;
    b->info.header_len = key->header_len;
    if ((rc = pb__copy_str(&b->info.name, key->name)) < 0 ||
        (rc = pb__copy_str(&b->info.file_name, pb__mem_str(key->file_name))) < 0 ||
        (rc = pb__copy_str(&b->info.settings, pb__mem_str(key->settings))) < 0 ||
        (key->plan && (rc = pb__copy_str(&b->info.plan, key->plan)) < 0))
        goto fail;
    b->info.header = pb_malloc(key->header_len ? key->header_len : 1);
    if (!b->info.header) {
        rc = pb__mem_nomem();
        goto fail;
    }
    if (key->header_len)
        memcpy(b->info.header, key->header, key->header_len);
    *created = 1;
copy:
    /* the caller's copy is made before a new batch is kept: on failure there is no batch
     * that a retry would take for one being resumed */
    *info = b->info;
    info->name = info->file_name = info->settings = info->header = info->plan = NULL;
    if ((rc = pb__copy_str(&info->name, b->info.name)) < 0 ||
        (rc = pb__copy_str(&info->file_name, b->info.file_name)) < 0 ||
        (rc = pb__copy_str(&info->settings, b->info.settings)) < 0 ||
        (b->info.plan && (rc = pb__copy_str(&info->plan, b->info.plan)) < 0))
        goto out_info;
    info->header = pb_malloc(b->info.header_len ? b->info.header_len : 1);
    if (!info->header) {
        rc = pb__mem_nomem();
        goto out_info;
    }
    if (b->info.header_len)
        memcpy(info->header, b->info.header, b->info.header_len);
    if (*created)
        ms->batches[ms->nbatches++] = b;
    return PB_OK;
out_info:
    pb_batch_info_clear(info);
    if (!*created)
        return rc;
    *created = 0;
fail:
    pb_batch_info_clear(&b->info);
    pb_free(b);
    return rc;
}

static int pb__batch_finish(pb_store *st, uint64_t batch, int64_t at_ms)
{
    pb__mbatch *b;
    int rc = pb__mem_batch_get((pb__mstore *)st, batch, &b);
    if (rc == 0)
        b->info.finished_at_ms = at_ms;
    return rc;
}

static int pb__cmp_row(const void *a, const void *b)
{
    const pb__mrow *x = *(pb__mrow *const *)a, *y = *(pb__mrow *const *)b;
    return x->row_no < y->row_no ? -1 : x->row_no > y->row_no;
}

static pb__mrow *pb__mrow_new(uint64_t batch, const pb_store_row *r)
{
    pb__mrow *m = pb_calloc(1, sizeof(*m));
    int ok = 1;
    if (!m)
        return NULL;
    m->batch = batch;
    m->row_no = r->row_no;
    m->state = r->state;
    m->attempts = r->attempts;
    m->amount = r->amount;
    m->next_at_ms = r->next_at_ms;
    m->updated_at_ms = r->updated_at_ms;
#define PB__DUP(idx, field) m->s[idx] = pb__mem_dup(r->field, strlen(r->field), &ok)
    PB__DUP(PB__S_PAYMENT_ID, payment_id);
    PB__DUP(PB__S_METHOD, method);
    PB__DUP(PB__S_CURRENCY, currency);
    PB__DUP(PB__S_ACCOUNT, account_masked);
    PB__DUP(PB__S_PAYEE, payee_key);
    PB__DUP(PB__S_CODE, code);
    PB__DUP(PB__S_MESSAGE, message);
    PB__DUP(PB__S_GATE_STATUS, gate_status);
    PB__DUP(PB__S_REQUEST_ID, request_id);
    PB__DUP(PB__S_OPERATION_ID, operation_id);
    PB__DUP(PB__S_PROVIDER_ID, provider_payment_id);
#undef PB__DUP
    if (r->findings)
        m->s[PB__S_FINDINGS] = pb__mem_dup(r->findings, strlen(r->findings), &ok);
    m->cells = pb_malloc(r->cells_len ? r->cells_len : 1);
    if (!m->cells || !ok) {
        pb__mrow_free(m);
        return NULL;
    }
    if (r->cells_len)
        memcpy(m->cells, r->cells, r->cells_len);
    m->cells_len = r->cells_len;
    return m;
}

static int pb__rows_add(pb_store *st, uint64_t batch, const pb_store_row *rows, size_t n)
{
    pb__mstore *ms = (pb__mstore *)st;
    pb__mbatch *b;
    pb__mrow **nr = NULL;
    size_t i, k, ids = 0;
    int rc;
    if ((rc = pb__mem_batch_get(ms, batch, &b)) < 0)
        return rc;
    nr = pb_calloc(n, sizeof(*nr));
    if (!nr)
        return pb__mem_nomem();
    for (i = 0; i < n; i++) {
        if (!(nr[i] = pb__mrow_new(batch, &rows[i]))) {
            rc = pb__mem_nomem();
            goto out;
        }
        ids += nr[i]->state != PB_ROW_INVALID && nr[i]->s[PB__S_PAYMENT_ID];
    }
    qsort(nr, n, sizeof(*nr), pb__cmp_row);
    for (i = 0; i < n; i++) {
        if ((i > 0 && nr[i - 1]->row_no == nr[i]->row_no) || pb__mem_find(b, nr[i]->row_no) >= 0) {
            pb_error_set("store: batch %llu already has a row %u", (unsigned long long)batch,
                         nr[i]->row_no);
            rc = PB_EEXISTS;
            goto out;
        }
    }
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        pb__mrow **grown;
        while (cap < b->n + n)
            cap *= 2;
        grown = pb_realloc(b->rows, cap * sizeof(*grown));
        if (!grown) {
            rc = pb__mem_nomem();
            goto out;
        }
        b->rows = grown;
        b->cap = cap;
    }
    if ((rc = pb__mem_id_reserve(ms, ids)) < 0)
        goto out;
    /* payment ids: insert one by one, undo on a clash (within the input or with any batch) */
    for (i = 0; i < n; i++) {
        pb__mrow *m = nr[i], *other;
        const char *id = m->s[PB__S_PAYMENT_ID];
        if (m->state == PB_ROW_INVALID || !id)
            continue;
        other = pb__mem_id_find(ms, id, strlen(id));
        if (other) {
            pb_error_set("store: payment id %s is already used by row %u of batch %s", id,
                         other->row_no, ms->batches[other->batch - 1]->info.name);
            for (k = 0; k < i; k++) {
                if (nr[k]->state != PB_ROW_INVALID && nr[k]->s[PB__S_PAYMENT_ID])
                    pb__mem_id_del(ms, nr[k]);
            }
            rc = PB_EEXISTS;
            goto out;
        }
        pb__mem_id_put(ms, m);
    }
    /* commit: nothing below can fail */
    if (b->n == 0 || b->rows[b->n - 1]->row_no < nr[0]->row_no) {
        memcpy(b->rows + b->n, nr, n * sizeof(*nr));
        b->n += n;
    } else {
        memcpy(b->rows + b->n, nr, n * sizeof(*nr));
        b->n += n;
        qsort(b->rows, b->n, sizeof(*b->rows), pb__cmp_row);
        b->queued_hint = 0;
    }
    for (i = 0; i < n; i++)
        nr[i] = NULL;
    rc = PB_OK;
out:
    if (nr) {
        for (i = 0; i < n; i++)
            pb__mrow_free(nr[i]);
        pb_free(nr);
    }
    return rc;
}

static int pb__payment_id_owner(pb_store *st, const char *id, size_t len, uint64_t this_batch,
                                char **owner)
{
    pb__mstore *ms = (pb__mstore *)st;
    pb__mrow *m = pb__mem_id_find(ms, id, len);
    if (!m || m->batch == this_batch)
        return PB_ENOTFOUND;
    *owner = pb_strdup(ms->batches[m->batch - 1]->info.name);
    return *owner ? PB_OK : pb__mem_nomem();
}

/* claim (queued -> sending) and due (read only) share the walk */
static int pb__pick(pb_store *st, uint64_t batch, int64_t now_ms, size_t max, pb_store_row *rows,
                    size_t *n, int claim)
{
    pb__mstore *ms = (pb__mstore *)st;
    pb__mbatch *b;
    size_t i, got = 0, first_left = SIZE_MAX;
    int rc;
    if ((rc = pb__mem_batch_get(ms, batch, &b)) < 0)
        return rc;
    for (i = claim ? b->queued_hint : 0; i < b->n && got < max; i++) {
        pb__mrow *m = b->rows[i];
        int want = claim ? m->state == PB_ROW_QUEUED
                         : (m->state == PB_ROW_SENDING || m->state == PB_ROW_IN_DOUBT);
        if (!want)
            continue;
        if (m->next_at_ms > now_ms) {
            if (first_left == SIZE_MAX)
                first_left = i;
            continue;
        }
        /* copy out first (counting what the claim will change): nothing changes on failure */
        if ((rc = pb__mem_out(m, &rows[got])) < 0) {
            pb_store_rows_clear(rows, got);
            return rc;
        }
        if (claim) {
            rows[got].state = PB_ROW_SENDING;
            rows[got].attempts++;
        }
        got++;
    }
    if (claim) {
        size_t k;
        for (k = 0; k < got; k++) {
            pb__mrow *m = b->rows[pb__mem_find(b, rows[k].row_no)];
            m->state = PB_ROW_SENDING;
            m->attempts++;
        }
        b->queued_hint = first_left != SIZE_MAX ? first_left : i;
    }
    *n = got;
    return PB_OK;
}

static int pb__claim(pb_store *st, uint64_t batch, int64_t now_ms, size_t max, pb_store_row *rows,
                     size_t *n)
{
    return pb__pick(st, batch, now_ms, max, rows, n, 1);
}

static int pb__due(pb_store *st, uint64_t batch, int64_t now_ms, size_t max, pb_store_row *rows,
                   size_t *n)
{
    return pb__pick(st, batch, now_ms, max, rows, n, 0);
}

static const char *pb__upd_field(const pb_row_update *u, int k)
{
    switch (k) {
    case 0:
        return u->code;
    case 1:
        return u->message;
    case 2:
        return u->gate_status;
    case 3:
        return u->request_id;
    case 4:
        return u->operation_id;
    default:
        return u->provider_payment_id;
    }
}

static int pb__mark(pb_store *st, uint64_t batch, const pb_row_update *updates, size_t n,
                    size_t *applied)
{
    pb__mstore *ms = (pb__mstore *)st;
    pb__mbatch *b;
    char **prep = NULL;
    size_t i, count = 0;
    int k, ok = 1, rc;
    if ((rc = pb__mem_batch_get(ms, batch, &b)) < 0)
        return rc;
    /* allocate every new text first, so the group applies entirely or not at all */
    prep = pb_calloc(n * PB__S_UPD_COUNT, sizeof(*prep));
    if (!prep)
        return pb__mem_nomem();
    for (i = 0; i < n && ok; i++) {
        for (k = 0; k < PB__S_UPD_COUNT; k++) {
            const char *v = pb__upd_field(&updates[i], k);
            prep[i * PB__S_UPD_COUNT + k] = pb__mem_dup(v, strlen(v), &ok);
        }
    }
    if (!ok) {
        rc = pb__mem_nomem();
        goto out;
    }
    for (i = 0; i < n; i++) {
        const pb_row_update *u = &updates[i];
        long at = pb__mem_find(b, u->row_no);
        pb__mrow *m;
        if (at < 0 || (m = b->rows[at])->state != u->from)
            continue; /* compare-and-set: the row moved on (or never was) */
        m->state = u->to;
        m->updated_at_ms = u->at_ms;
        m->next_at_ms = u->next_at_ms;
        m->attempts += u->add_attempt ? 1 : 0;
        if (u->to == PB_ROW_REVERSED)
            m->reversed = 1;
        for (k = 0; k < PB__S_UPD_COUNT; k++) {
            char **slot = &prep[i * PB__S_UPD_COUNT + k];
            if (!*slot)
                continue; /* "" leaves the field as it is */
            pb_free(m->s[PB__S_UPD_FIRST + k]);
            m->s[PB__S_UPD_FIRST + k] = *slot;
            *slot = NULL;
        }
        if (u->to == PB_ROW_QUEUED && (size_t)at < b->queued_hint)
            b->queued_hint = (size_t)at;
        count++;
    }
    *applied = count;
    rc = PB_OK;
out:
    for (i = 0; i < n * PB__S_UPD_COUNT; i++)
        pb_free(prep[i]);
    pb_free(prep);
    return rc;
}

static void pb__free(pb_store *st)
{
    pb__mstore *ms = (pb__mstore *)st;
    size_t i, j;
    for (i = 0; i < ms->nbatches; i++) {
        pb__mbatch *b = ms->batches[i];
        for (j = 0; j < b->n; j++)
            pb__mrow_free(b->rows[j]);
        pb_free(b->rows);
        pb_batch_info_clear(&b->info);
        pb_free(b);
    }
    for (i = 0; i < ms->ninbox; i++) {
        pb_free(ms->inbox[i].body);
        pb_free(ms->inbox[i].payment_id);
    }
    pb_free(ms->inbox);
    pb_free(ms->batches);
    pb_free(ms->slots);
    pb_free(ms);
}

static int pb__next_at(pb_store *st, uint64_t batch, pb_store_next_kind kind, int64_t after_ms,
                       int64_t *out)
{
    pb__mstore *ms = (pb__mstore *)st;
    pb__mbatch *b;
    size_t i;
    int rc;
    if ((rc = pb__mem_batch_get(ms, batch, &b)) < 0)
        return rc;
    for (i = 0; i < b->n; i++) {
        const pb__mrow *m = b->rows[i];
        int want = kind == PB_STORE_NEXT_QUEUED
                       ? m->state == PB_ROW_QUEUED
                       : (m->state == PB_ROW_SENDING || m->state == PB_ROW_IN_DOUBT);
        if (want && m->next_at_ms > after_ms && m->next_at_ms < *out)
            *out = m->next_at_ms;
    }
    return PB_OK;
}

static int pb__list(pb_store *st, uint64_t batch, pb_row_state state, uint32_t after_row,
                    size_t max, pb_store_row *rows, size_t *n)
{
    pb__mstore *ms = (pb__mstore *)st;
    pb__mbatch *b;
    size_t i, got = 0;
    int rc;
    if ((rc = pb__mem_batch_get(ms, batch, &b)) < 0)
        return rc;
    for (i = 0; i < b->n && got < max; i++) {
        const pb__mrow *m = b->rows[i];
        if (m->row_no <= after_row || m->state != state)
            continue;
        if ((rc = pb__mem_out(m, &rows[got])) < 0) {
            pb_store_rows_clear(rows, got);
            return rc;
        }
        got++;
    }
    *n = got;
    return PB_OK;
}

static const pb_store_ops pb__mem_ops = {
    "mem",
    pb__batch_begin,
    pb__batch_finish,
    pb__rows_add,
    pb__payment_id_owner,
    pb__claim,
    pb__due,
    pb__mark,
    pb__mem_row_get,
    pb__mem_row_by_payment_id,
    pb__mem_rows_each,
    pb__mem_counts,
    pb__mem_batches_each,
    pb__mem_inbox_put,
    pb__mem_inbox_each,
    pb__free,
    pb__next_at,
    pb__list,
    NULL, /* group_begin: every op is applied at once, and nothing here is durable anyway */
    NULL, /* group_end */
    pb__mem_paid_recently,
    NULL, /* batch_lock: one process per batch on one host (the CLI's file lock) */
    NULL, /* batch_unlock */
    NULL, /* lease_begin .. rate_pause: one worker per batch, leases need PostgreSQL */
    NULL,
    NULL,
    NULL,
};

int pb_store_mem_open(pb_store **out, const char *uri)
{
    pb__mstore *ms;
    (void)uri;
    ms = pb_calloc(1, sizeof(*ms));
    if (!ms)
        return pb__mem_nomem();
    ms->base.ops = &pb__mem_ops;
    *out = &ms->base;
    return PB_OK;
}
