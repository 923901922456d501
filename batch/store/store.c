/*
 * store.c - the store front end: picks the backend by URI, checks arguments and every
 * transition (pb_row_state_allowed) before a backend sees it, and the helpers all backends
 * share (cells packing, counts, clearing rows).
 */
#include "batch/store/store.h"

#include "batch/store/store_backend.h"
#include "core/alloc.h"
#include "core/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static int pb__inval(const char *what);

int pb_store_open(pb_store **out, const char *uri)
{
    if (!out || !uri || !*uri) {
        if (out)
            *out = NULL;
        return pb_error_set("store: no store location given"), PB_EINVAL;
    }
    *out = NULL;
    if (strncmp(uri, "mem:", 4) == 0)
        return pb_store_mem_open(out, uri);
    if (pb_store_uri_is_pg(uri))
        return pb_store_pg_open(out, uri);
    return pb_store_sqlite_open(out, uri);
}

int pb_store_uri_is_pg(const char *uri)
{
    return uri && (strncmp(uri, "postgresql://", 13) == 0 || strncmp(uri, "postgres://", 11) == 0);
}

void pb_store_uri_redact(const char *uri, char *out, size_t cap)
{
    const char *p, *end, *at, *colon;
    size_t k = 0;
    if (!cap)
        return;
    out[0] = '\0';
    if (!uri)
        return;
    if (!pb_store_uri_is_pg(uri)) {
        snprintf(out, cap, "%s", uri);
        return;
    }
    /* scheme://user:password@host...: the password becomes *** */
    p = strstr(uri, "://") + 3;
    end = p + strcspn(p, "/?");
    at = memchr(p, '@', (size_t)(end - p));
    colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
    for (; *uri && k + 1 < cap; uri++) {
        if (colon && uri == colon + 1) {
            snprintf(out + k, cap - k, "***");
            k += strlen(out + k);
            uri = at - 1;
            continue;
        }
        /* ...?password=...&: the value too */
        if (strncmp(uri, "password=", 9) == 0 && (uri[-1] == '?' || uri[-1] == '&')) {
            snprintf(out + k, cap - k, "password=***");
            k += strlen(out + k);
            uri += 9 + strcspn(uri + 9, "&") - 1;
            continue;
        }
        out[k++] = *uri;
    }
    out[k < cap ? k : cap - 1] = '\0';
}

int pb_store_batch_lock(pb_store *st, const char *name)
{
    if (!st || !name || !*name)
        return pb__inval("batch_lock: missing argument");
    return st->ops->batch_lock ? st->ops->batch_lock(st, name) : PB_OK;
}

void pb_store_batch_unlock(pb_store *st)
{
    if (st && st->ops->batch_unlock)
        st->ops->batch_unlock(st);
}

static int pb__no_leases(const pb_store *st)
{
    pb_error_set("the %s store keeps one process per batch: several workers on one batch need "
                 "PostgreSQL",
                 st->ops->name);
    return PB_ENOTSUP;
}

int pb_store_lease_begin(pb_store *st, const char *worker, int64_t lease_ms)
{
    if (!st || !worker || !*worker || lease_ms <= 0)
        return pb__inval("lease_begin: missing argument");
    return st->ops->lease_begin ? st->ops->lease_begin(st, worker, lease_ms) : pb__no_leases(st);
}

int pb_store_lease_renew(pb_store *st, uint64_t batch, uint64_t *renewed)
{
    uint64_t n = 0;
    int rc;
    if (!st)
        return pb__inval("lease_renew: missing argument");
    rc = st->ops->lease_renew ? st->ops->lease_renew(st, batch, &n) : pb__no_leases(st);
    if (renewed)
        *renewed = n;
    return rc;
}

int pb_store_rate_take(pb_store *st, const char *key, int64_t interval_us, uint32_t n,
                       int64_t *start_in_us)
{
    if (!st || !key || !*key || interval_us <= 0 || n == 0 || !start_in_us)
        return pb__inval("rate_take: missing argument");
    return st->ops->rate_take ? st->ops->rate_take(st, key, interval_us, n, start_in_us)
                              : pb__no_leases(st);
}

int pb_store_rate_pause(pb_store *st, const char *key, int64_t ms)
{
    if (!st || !key || !*key || ms < 0)
        return pb__inval("rate_pause: missing argument");
    return st->ops->rate_pause ? st->ops->rate_pause(st, key, ms) : pb__no_leases(st);
}

void pb_store_worker_id(char *out, size_t cap)
{
    char host[64];
    uint64_t r = 0;
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "host");
    host[sizeof(host) - 1] = '\0';
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        /* uniqueness only (two workers of one host and pid cannot exist at once) */
        struct timespec ts;
        (void)clock_gettime(CLOCK_REALTIME, &ts);
        r = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) * 0x9E3779B97F4A7C15ull;
    }
    snprintf(out, cap, "%s:%ld:%016llx", host, (long)getpid(), (unsigned long long)r);
}

int pb_store_migrate(const char *uri, int *from, int *to)
{
    pb_store *st = NULL;
    int rc;
    *from = *to = 0;
    if (pb_store_uri_is_pg(uri)) {
        rc = pb_store_pg_open_migrate(&st, uri, from);
        *to = rc == 0 ? pb_store_pg_schema_version() : 0;
    } else {
        /* SQLite creates and upgrades its schema on open; mem: has none to keep */
        rc = pb_store_open(&st, uri);
        *from = *to = rc == 0 && strncmp(uri, "mem:", 4) != 0 ? -1 : 0;
    }
    pb_store_free(st);
    return rc;
}

void pb_store_free(pb_store *st)
{
    if (st)
        st->ops->free(st);
}

const char *pb_store_backend(const pb_store *st)
{
    return st ? st->ops->name : "";
}

static int pb__inval(const char *what)
{
    pb_error_set("store: %s", what);
    return PB_EINVAL;
}

static int pb__is_hex64(const char *s)
{
    size_t i;
    for (i = 0; i < PB_STORE_SHA256_HEX; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return s[i] == '\0';
}

int pb_store_batch_begin(pb_store *st, const pb_batch_key *key, pb_batch_info *info, int *created)
{
    if (info)
        memset(info, 0, sizeof(*info));
    if (created)
        *created = 0;
    if (!st || !key || !info || !created)
        return pb__inval("batch_begin: missing argument");
    if (!key->name || !*key->name)
        return pb__inval("batch_begin: the batch has no name");
    if (!key->file_sha256 || !pb__is_hex64(key->file_sha256))
        return pb__inval("batch_begin: the file SHA-256 is not 64 lowercase hex digits");
    if (!key->header && key->header_len)
        return pb__inval("batch_begin: header length without header");
    return st->ops->batch_begin(st, key, info, created);
}

int pb_store_batch_finish(pb_store *st, uint64_t batch, int64_t at_ms)
{
    if (!st || !batch)
        return pb__inval("batch_finish: missing argument");
    return st->ops->batch_finish(st, batch, at_ms);
}

int pb_store_rows_add(pb_store *st, uint64_t batch, const pb_store_row *rows, size_t n)
{
    size_t i;
    if (!st || !batch || (!rows && n))
        return pb__inval("rows_add: missing argument");
    for (i = 0; i < n; i++) {
        const pb_store_row *r = &rows[i];
        if (r->state != PB_ROW_QUEUED && r->state != PB_ROW_INVALID) {
            pb_error_set("store: rows_add: row %u is %s; new rows are queued or invalid", r->row_no,
                         pb_row_state_name(r->state));
            return PB_EINVAL;
        }
        if (r->state == PB_ROW_QUEUED && !r->payment_id[0]) {
            pb_error_set("store: rows_add: queued row %u has no payment id", r->row_no);
            return PB_EINVAL;
        }
        /* findings say why a row is invalid; the SQLite backend tells payable rows by them */
        if (r->state == PB_ROW_QUEUED && r->findings && r->findings[0]) {
            pb_error_set("store: rows_add: queued row %u has findings; a row with findings is "
                         "invalid",
                         r->row_no);
            return PB_EINVAL;
        }
        if (!r->cells && r->cells_len) {
            pb_error_set("store: rows_add: row %u has a cells length without cells", r->row_no);
            return PB_EINVAL;
        }
    }
    if (n == 0)
        return PB_OK;
    return st->ops->rows_add(st, batch, rows, n);
}

int pb_store_payment_id_owner(pb_store *st, const char *payment_id, size_t len, uint64_t this_batch,
                              char **owner)
{
    if (owner)
        *owner = NULL;
    if (!st || !payment_id || !owner || len == 0 || len > PB_STORE_PAYMENT_ID_MAX)
        return pb__inval("payment_id_owner: missing argument or bad length");
    return st->ops->payment_id_owner(st, payment_id, len, this_batch, owner);
}

int pb_store_claim(pb_store *st, uint64_t batch, int64_t now_ms, size_t max, pb_store_row *rows,
                   size_t *n)
{
    if (n)
        *n = 0;
    if (!st || !batch || !n || (!rows && max))
        return pb__inval("claim: missing argument");
    if (max == 0)
        return PB_OK;
    return st->ops->claim(st, batch, now_ms, max, rows, n);
}

int pb_store_due(pb_store *st, uint64_t batch, int64_t now_ms, size_t max, pb_store_row *rows,
                 size_t *n)
{
    if (n)
        *n = 0;
    if (!st || !batch || !n || (!rows && max))
        return pb__inval("due: missing argument");
    if (max == 0)
        return PB_OK;
    return st->ops->due(st, batch, now_ms, max, rows, n);
}

int pb_store_mark(pb_store *st, uint64_t batch, const pb_row_update *updates, size_t n,
                  size_t *applied)
{
    size_t i, dummy;
    if (!applied)
        applied = &dummy;
    *applied = 0;
    if (!st || !batch || (!updates && n))
        return pb__inval("mark: missing argument");
    /* the whole group is refused before anything is applied: a bad transition is a bug */
    for (i = 0; i < n; i++) {
        if (!pb_row_state_allowed(updates[i].from, updates[i].to)) {
            pb_error_set("store: mark: row %u: %s -> %s is not a transition of the row state "
                         "machine",
                         updates[i].row_no, pb_row_state_name(updates[i].from),
                         pb_row_state_name(updates[i].to));
            return PB_EINVAL;
        }
    }
    if (n == 0)
        return PB_OK;
    return st->ops->mark(st, batch, updates, n, applied);
}

int pb_store_group_begin(pb_store *st)
{
    int rc;
    if (!st)
        return pb__inval("group_begin: missing argument");
    if (st->in_group)
        return pb__inval("group_begin: a group is already open (groups do not nest)");
    if (st->ops->group_begin && (rc = st->ops->group_begin(st)) < 0)
        return rc;
    st->in_group = 1;
    return PB_OK;
}

int pb_store_group_end(pb_store *st)
{
    if (!st)
        return pb__inval("group_end: missing argument");
    if (!st->in_group)
        return pb__inval("group_end: no group is open");
    st->in_group = 0; /* ended either way: a failed commit rolled the group back */
    return st->ops->group_end ? st->ops->group_end(st) : PB_OK;
}

int pb_store_row_get(pb_store *st, uint64_t batch, uint32_t row_no, pb_store_row *row)
{
    if (row)
        memset(row, 0, sizeof(*row));
    if (!st || !batch || !row)
        return pb__inval("row_get: missing argument");
    return st->ops->row_get(st, batch, row_no, row);
}

int pb_store_row_by_payment_id(pb_store *st, const char *payment_id, size_t len, pb_store_row *row)
{
    if (row)
        memset(row, 0, sizeof(*row));
    if (!st || !payment_id || !row || len == 0 || len > PB_STORE_PAYMENT_ID_MAX)
        return pb__inval("row_by_payment_id: missing argument or bad length");
    return st->ops->row_by_payment_id(st, payment_id, len, row);
}

int pb_store_rows_each(pb_store *st, uint64_t batch, pb_store_row_cb cb, void *payload)
{
    if (!st || !batch || !cb)
        return pb__inval("rows_each: missing argument");
    return st->ops->rows_each(st, batch, cb, payload);
}

int pb_store_counts(pb_store *st, uint64_t batch, pb_batch_counts *counts)
{
    int rc;
    if (counts)
        memset(counts, 0, sizeof(*counts));
    if (!st || !batch || !counts)
        return pb__inval("counts: missing argument");
    rc = st->ops->counts(st, batch, counts);
    if (rc < 0)
        pb_batch_counts_clear(counts);
    return rc;
}

int pb_store_batches_each(pb_store *st, pb_store_batch_cb cb, void *payload)
{
    if (!st || !cb)
        return pb__inval("batches_each: missing argument");
    return st->ops->batches_each(st, cb, payload);
}

int pb_store_inbox_put(pb_store *st, const pb_store_inbox_rec *rec)
{
    if (!st || !rec || (!rec->body && rec->body_len))
        return pb__inval("inbox_put: missing argument");
    return st->ops->inbox_put(st, rec);
}

int pb_store_inbox_each(pb_store *st, pb_store_inbox_cb cb, void *payload)
{
    if (!st || !cb)
        return pb__inval("inbox_each: missing argument");
    return st->ops->inbox_each(st, cb, payload);
}

void pb_store_row_clear(pb_store_row *row)
{
    if (!row)
        return;
    pb_free(row->cells);
    pb_free(row->findings);
    memset(row, 0, sizeof(*row));
}

void pb_store_rows_clear(pb_store_row *rows, size_t n)
{
    size_t i;
    for (i = 0; rows && i < n; i++)
        pb_store_row_clear(&rows[i]);
}

void pb_batch_info_clear(pb_batch_info *info)
{
    if (!info)
        return;
    pb_free(info->name);
    pb_free(info->file_name);
    pb_free(info->settings);
    pb_free(info->header);
    pb_free(info->plan);
    memset(info, 0, sizeof(*info));
}

void pb_batch_counts_clear(pb_batch_counts *counts)
{
    if (!counts)
        return;
    pb_free(counts->cur);
    memset(counts, 0, sizeof(*counts));
}

int pb_batch_counts_add(pb_batch_counts *c, pb_row_state state, const char *currency, uint64_t rows,
                        int64_t amount)
{
    size_t lo = 0, hi = c->ncur;
    int64_t sum;
    pb_batch_currency_counts *cc;
    if ((unsigned)state >= PB_ROW_STATE_COUNT)
        return pb_error_set("store: counts: bad state %d", (int)state), PB_EINVAL;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(c->cur[mid].currency, currency);
        if (cmp == 0) {
            lo = mid;
            hi = mid + 1;
            break;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == c->ncur || strcmp(c->cur[lo].currency, currency) != 0) {
        pb_batch_currency_counts *grown = pb_realloc(c->cur, (c->ncur + 1) * sizeof(*grown));
        if (!grown)
            return pb_error_set("store: counts: out of memory"), PB_ENOMEM;
        c->cur = grown;
        memmove(&c->cur[lo + 1], &c->cur[lo], (c->ncur - lo) * sizeof(*grown));
        memset(&c->cur[lo], 0, sizeof(*grown));
        pb_row_field_set(c->cur[lo].currency, PB_STORE_CURRENCY_MAX, currency, strlen(currency));
        c->ncur++;
    }
    cc = &c->cur[lo];
    if (__builtin_add_overflow(cc->amount[state], amount, &sum)) {
        pb_error_set("store: counts: the %s amount of %s rows overflows 64 bits", currency,
                     pb_row_state_name(state));
        return PB_ERANGE;
    }
    cc->amount[state] = sum;
    cc->rows[state] += rows;
    c->rows[state] += rows;
    c->total += rows;
    return PB_OK;
}

int pb_store_row_dup_heap(pb_store_row *dst, const char *cells, size_t cells_len,
                          const char *findings)
{
    dst->cells = NULL;
    dst->cells_len = 0;
    dst->findings = NULL;
    /* always allocate cells (even when empty) so an owned row's cells are never NULL */
    dst->cells = pb_malloc(cells_len ? cells_len : 1);
    if (!dst->cells)
        goto nomem;
    if (cells_len)
        memcpy(dst->cells, cells, cells_len);
    dst->cells_len = cells_len;
    if (findings && *findings) {
        dst->findings = pb_strdup(findings);
        if (!dst->findings)
            goto nomem;
    }
    return PB_OK;
nomem:
    pb_free(dst->cells);
    dst->cells = NULL;
    dst->cells_len = 0;
    return pb_error_set("store: out of memory copying a row"), PB_ENOMEM;
}

int pb_store_cells_pack(const pb_str *cells, size_t n, char **blob, size_t *len)
{
    size_t i, total = 0, pos = 0;
    char *b;
    if (!blob || !len || (!cells && n))
        return pb__inval("cells_pack: missing argument");
    *blob = NULL;
    *len = 0;
    for (i = 0; i < n; i++) {
        if (cells[i].len > 0xFFFFFFFFu || total > SIZE_MAX - 4 - cells[i].len)
            return pb_error_set("store: a CSV cell is too large"), PB_ELIMIT;
        total += 4 + cells[i].len;
    }
    b = pb_malloc(total ? total : 1);
    if (!b)
        return pb_error_set("store: out of memory packing cells"), PB_ENOMEM;
    for (i = 0; i < n; i++) {
        uint32_t l = (uint32_t)cells[i].len;
        b[pos++] = (char)(l >> 24);
        b[pos++] = (char)(l >> 16);
        b[pos++] = (char)(l >> 8);
        b[pos++] = (char)l;
        if (l)
            memcpy(b + pos, cells[i].ptr, l);
        pos += l;
    }
    *blob = b;
    *len = total;
    return PB_OK;
}

int pb_store_cells_unpack(const char *blob, size_t len, pb_str *cells, size_t max, size_t *n)
{
    size_t pos = 0, k = 0;
    if (!n || (!blob && len) || (!cells && max))
        return pb__inval("cells_unpack: missing argument");
    *n = 0;
    while (pos < len) {
        const unsigned char *p = (const unsigned char *)blob + pos;
        uint32_t l;
        if (len - pos < 4)
            return pb_error_set("store: stored cells are malformed"), PB_EPARSE;
        l = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
        pos += 4;
        if (len - pos < l)
            return pb_error_set("store: stored cells are malformed"), PB_EPARSE;
        if (k == max)
            return pb_error_set("store: more than %zu stored cells", max), PB_ELIMIT;
        cells[k].ptr = blob + pos;
        cells[k].len = l;
        k++;
        pos += l;
    }
    *n = k;
    return PB_OK;
}

typedef struct {
    const char *name;
    pb_batch_info *info;
    int rc;
} pb__find_batch;

static int pb__find_batch_cb(const pb_batch_info *in, void *payload)
{
    pb__find_batch *f = payload;
    pb_batch_info *o = f->info;
    if (strcmp(in->name, f->name) != 0)
        return 0;
    *o = *in;
    o->name = pb_strdup(in->name);
    o->file_name = pb_strdup(in->file_name);
    o->settings = pb_strdup(in->settings ? in->settings : "");
    o->header = pb_malloc(in->header_len + 1);
    if (o->header && in->header_len)
        memcpy(o->header, in->header, in->header_len);
    o->plan = in->plan ? pb_strdup(in->plan) : NULL;
    if (!o->name || !o->file_name || !o->settings || !o->header || (in->plan && !o->plan)) {
        pb_batch_info_clear(o);
        f->rc = PB_ENOMEM;
    } else {
        f->rc = PB_OK;
    }
    return 1;
}

int pb_store_batch_get(pb_store *st, const char *name, pb_batch_info *info)
{
    pb__find_batch f = {name, info, PB_ENOTFOUND};
    int rc;
    if (!st || !name || !info)
        return pb__inval("batch_get: missing argument");
    memset(info, 0, sizeof(*info));
    /* a store holds few batches: a walk is cheap and needs nothing new from the backends */
    rc = st->ops->batches_each(st, pb__find_batch_cb, &f);
    if (rc < 0)
        return rc;
    return f.rc;
}

int pb_store_next_at(pb_store *st, uint64_t batch, pb_store_next_kind kind, int64_t after_ms,
                     int64_t *out)
{
    if (out)
        *out = INT64_MAX;
    if (!st || !batch || !out || (kind != PB_STORE_NEXT_QUEUED && kind != PB_STORE_NEXT_PENDING))
        return pb__inval("next_at: missing argument");
    return st->ops->next_at(st, batch, kind, after_ms, out);
}

int pb_store_list(pb_store *st, uint64_t batch, pb_row_state state, uint32_t after_row, size_t max,
                  pb_store_row *rows, size_t *n)
{
    if (n)
        *n = 0;
    if (!st || !batch || !n || (!rows && max) || (unsigned)state >= PB_ROW_STATE_COUNT)
        return pb__inval("list: missing argument");
    if (max == 0)
        return PB_OK;
    return st->ops->list(st, batch, state, after_row, max, rows, n);
}

static int pb__is_hex64_or_fail(const char *key)
{
    return key && pb__is_hex64(key);
}

int pb_store_paid_recently(pb_store *st, const char *payee_key, uint64_t this_batch,
                           int64_t since_ms, pb_store_paid_cb cb, void *payload)
{
    if (!st || !cb || !pb__is_hex64_or_fail(payee_key))
        return pb__inval("paid_recently: missing argument or a key that is not 64 hex digits");
    if (!st->ops->paid_recently) {
        pb_error_set("the %s store cannot tell which rows were paid recently; give "
                     "--recent-days 0 to send without that check",
                     st->ops->name);
        return PB_ENOTSUP;
    }
    return st->ops->paid_recently(st, payee_key, this_batch, since_ms, cb, payload);
}
