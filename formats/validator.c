#include "formats/validator.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"
#include "formats/dupcheck.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* Re-read marks: one per 8 KiB of input, so a confirmation parses ~80 rows at most. */
#define PB__MARK_EVERY (8 * 1024)
#define PB__READ_SIZE  (16 * 1024)

/* One row of a re-read block: where its payment id and payout key are in the block's text. */
typedef struct {
    uint64_t row;
    size_t id_off, id_len;
    size_t key_off, key_len; /* key_len 0: the row has no payout key */
} pb__entry;

/* The rows between two marks, re-read and decoded: [first, end) (end 0: nothing yet). */
typedef struct {
    uint64_t first, end;
    int keys; /* payout keys were computed (they need the row rules: only when asked for) */
    pb_buf text;
    pb_buf ents; /* pb__entry[] in row order */
} pb__block;

/* Records on their way from the reading thread to the checking thread. */
#define PB__QUEUE      4   /* batches */
#define PB__BATCH_ROWS 512 /* records a batch */

typedef struct {
    uint64_t row;
    size_t nfields, first; /* fields[first .. first + nfields) of the batch */
    int bad_utf8_field;
} pb__qrec;

typedef struct {
    pb_buf bytes;  /* the cells, each followed by a NUL */
    pb_buf fields; /* pb_str[]: ptr holds an offset into bytes until the batch is checked */
    pb_buf recs;   /* pb__qrec[] */
    int reader_rc; /* the reader's error after these records (0: none) */
    uint64_t err_row;
    char err[256];
    uint64_t lines, fed; /* the reader's rows and the bytes fed when it was sent */
    int end;             /* the last batch */
} pb__batch;

struct pb_validator {
    pb_validator_opts o;
    pb_csv_reader *csv;
    pb_header_map *map;
    pb_dupset *ids;
    pb_dupset *payouts;
    pb_validator_stats st;
    pb_finding f[PB_ROW_MAX_FINDINGS];
    size_t nf;
    unsigned row_errors;
    unsigned row_warnings;
    int file_failed;
    int fatal;        /* PB_ENOMEM or a callback's stop value */
    uint64_t fed;     /* bytes fed so far */
    int sized;        /* the duplicate sets were sized from size_hint */
    uint64_t id_hash; /* hash of this row's payment id */
    /* confirming fingerprint matches against the earlier row's text */
    pb_buf spool;        /* a copy of all input, when there is no read_at */
    uint64_t header_row; /* row of the header record */
    pb_str cur_id;       /* the payment id being looked up */
    const char *cur_key; /* the payout key being looked up */
    size_t cur_key_len;
    char *rbuf; /* PB__READ_SIZE bytes, allocated on the first re-read */
    pb__block blk;
    pb__block *fill; /* the block being decoded */
    uint64_t want;   /* decode up to this row at least */
    /*
     * A row's duplicate checks and report wait until the next record arrives (or the feed
     * ends), so the memory of its two slots, prefetched when its keys were hashed, is loaded
     * while the next row is parsed. Its fields stay valid that long (csv_reader.h).
     */
    int has_pend;
    pb_csv_record pend_rec;
    pb_row pend_row;
    pb_row_result pend_res;
    int pend_mapped;
    uint64_t payout_hash; /* 0: the row has no payout key to check */
    char key[512];        /* its payout key */
    size_t key_len;
    /* opts.threads: the reading thread (feed, finish) hands batches to the checking one */
    int threaded;
    int joined; /* the checking thread has ended */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv_items, cv_space;
    pb__batch q[PB__QUEUE];
    size_t q_tail, q_count; /* under mu */
    pb__batch *cur;         /* the batch the reading thread fills (not counted yet) */
    _Atomic int b_fatal;    /* the checking thread's fatal code */
    _Atomic int quit;       /* the checking thread skips what is left (pb_validator_free) */
    char b_err[512];        /* its pb_error_last() when it stopped or ended (messages are per
                               thread: the reading thread takes it over) */
    int a_fatal;            /* the reading thread's: its own or b_fatal once seen */
    int a_stop;             /* the record callback stopped the reader with this */
    int a_file_failed;      /* the file failed, as the reading thread knows it */
    int reader_stopped;
};

/* Rows read before the sets are sized from the file's size: enough for a stable average. */
#define PB__SIZE_AFTER_ROWS 64

static void pb__file_finding(pb_validator *v, const pb_finding *f)
{
    v->st.file_errors++;
    v->st.by_code[f->code]++;
    v->file_failed = 1;
    if (v->o.on_file_finding)
        v->o.on_file_finding(f, v->o.ctx);
}

static void pb__file_finding_cb(const pb_finding *f, void *ctx)
{
    pb__file_finding(ctx, f);
}

static void pb__collect(const pb_finding *f, void *ctx)
{
    pb_validator *v = ctx;
    if (pb_finding_severity(f->code) == PB_SEV_ERROR)
        v->row_errors++;
    else
        v->row_warnings++;
    v->st.by_code[f->code]++;
    if (v->o.on_finding)
        v->o.on_finding(f, v->o.ctx);
    /* past the cap the row report is already well explained; on_finding got them all */
    if (v->nf < PB_ROW_MAX_FINDINGS)
        v->f[v->nf++] = *f;
}

static void pb__row_finding(pb_validator *v, pb_finding_code code, uint64_t row, const char *column,
                            uint64_t other_row, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void pb__row_finding(pb_validator *v, pb_finding_code code, uint64_t row, const char *column,
                            uint64_t other_row, const char *fmt, ...)
{
    pb_finding f;
    va_list ap;
    va_start(ap, fmt);
    pb_finding_vmake(&f, code, row, column, other_row, fmt, ap);
    va_end(ap);
    pb__collect(&f, v);
}

static void pb__add_total(pb_currency_total *t, size_t *n, const char *code, int64_t amount)
{
    size_t i;
    for (i = 0; i < *n; i++) {
        if (strcmp(t[i].currency, code) == 0)
            break;
    }
    if (i == *n) {
        if (*n == PB_MAX_CURRENCIES)
            return; /* more currencies than a payout file plausibly has; totals stay partial */
        memcpy(t[i].currency, code, 4);
        (*n)++;
    }
    t[i].rows++;
    if (!t[i].overflow && pb_money_add(t[i].amount_minor, amount, &t[i].amount_minor) < 0)
        t[i].overflow = 1;
}

static uint32_t pb__row32(uint64_t row)
{
    return row > UINT32_MAX ? UINT32_MAX : (uint32_t)row;
}

/* The payout key of a row (method, account, currency, amount): its length, 0 when it has none. */
static size_t pb__payout_key(const pb_row *row, const pb_row_result *res, char key[512])
{
    pb_str acct = row->cell[PB_COL_ACCOUNT];
    size_t n = 0, ml;

    if (!res->method || !res->currency || !res->amount_ok || !acct.len || acct.len >= 256)
        return 0;
    ml = strlen(res->method->name);
    memcpy(key + n, res->method->name, ml + 1);
    n += ml + 1;
    memcpy(key + n, acct.ptr, acct.len);
    n += acct.len;
    key[n++] = '\0';
    memcpy(key + n, res->currency->code, 4);
    n += 4;
    memcpy(key + n, &res->amount_minor, sizeof(res->amount_minor));
    n += sizeof(res->amount_minor);
    return n;
}

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

/* A record of the block being re-read: keep its payment id and payout key, as pb__record saw. */
static int pb__block_record(const pb_csv_record *rec, void *ctx)
{
    pb_validator *v = ctx;
    pb__block *b = v->fill;
    pb__entry e;
    pb_row row;
    pb_row_result res;
    char key[512];
    int rc;

    if (rec->row <= v->header_row)
        return 0;
    if (rec->row > v->want && (b->end == 0 || rec->row >= b->end))
        return 1; /* the block is complete (past the last mark: only rows fed in full) */
    memset(&e, 0, sizeof(e));
    e.row = rec->row;
    if (rec->bad_utf8_field < 0 && rec->nfields == pb_header_map_width(v->map)) {
        pb_header_map_row(v->map, rec->fields, rec->row, &row);
        e.id_off = b->text.len;
        e.id_len = row.cell[PB_COL_PAYMENT_ID].len;
        if ((rc = pb_buf_put(&b->text, row.cell[PB_COL_PAYMENT_ID].ptr, e.id_len)) < 0)
            return rc;
        if (b->keys) {
            memset(&res, 0, sizeof(res));
            pb_validate_row(&row, &v->o.rules, &res, pb__no_finding, NULL);
            e.key_off = b->text.len;
            e.key_len = pb__payout_key(&row, &res, key);
            if ((rc = pb_buf_put(&b->text, key, e.key_len)) < 0)
                return rc;
        }
    }
    return pb_buf_put(&b->ents, &e, sizeof(e));
}

/* Re-read the rows around `row` (from the mark before it to the next mark) into v->blk. */
static int pb__block_load(pb_validator *v, uint64_t row, int keys)
{
    pb__block *b = &v->blk;
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
    v->fill = b;
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
    /* stopped at the next mark, the end of the input so far or a reader error past `row` */
    rc = PB_OK;
    n = b->ents.len / sizeof(pb__entry);
    b->end = n ? ((const pb__entry *)(const void *)b->ents.ptr)[n - 1].row + 1 : 0;
out:
    if (rc < 0) {
        b->first = b->end = 0;
        pb_error_set("cannot re-read row %llu of the input to confirm a duplicate",
                     (unsigned long long)row);
    }
    pb_csv_reader_free(rr);
    return rc;
}

/* The decoded entry of an earlier row, re-reading its block when it is not at hand. */
static int pb__entry_of(pb_validator *v, uint64_t row, int keys, const pb__entry **out)
{
    const pb__entry *e;
    size_t lo, hi;
    int rc;

    *out = NULL;
    if (!(v->blk.end && row >= v->blk.first && row < v->blk.end && (v->blk.keys || !keys)) &&
        (rc = pb__block_load(v, row, keys)) < 0)
        return rc;
    e = (const pb__entry *)(const void *)v->blk.ents.ptr;
    lo = 0;
    hi = v->blk.ents.len / sizeof(*e);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e[mid].row < row)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < v->blk.ents.len / sizeof(*e) && e[lo].row == row)
        *out = &e[lo];
    return PB_OK;
}

static int pb__confirm_id(uint64_t row, int *same, void *ctx)
{
    pb_validator *v = ctx;
    const pb__entry *e;
    int rc = pb__entry_of(v, row, 0, &e);
    *same = rc == 0 && e && e->id_len == v->cur_id.len &&
            memcmp(v->blk.text.ptr + e->id_off, v->cur_id.ptr, e->id_len) == 0;
    return rc;
}

static int pb__confirm_payout(uint64_t row, int *same, void *ctx)
{
    pb_validator *v = ctx;
    const pb__entry *e;
    int rc = pb__entry_of(v, row, 1, &e);
    *same = rc == 0 && e && e->key_len && e->key_len == v->cur_key_len &&
            memcmp(v->blk.text.ptr + e->key_off, v->cur_key, e->key_len) == 0;
    return rc;
}

static int pb__cross_row(pb_validator *v, const pb_row *row)
{
    pb_str id = row->cell[PB_COL_PAYMENT_ID];
    uint64_t first;
    int rc;

    if (id.len > 0) {
        v->cur_id = id;
        rc = pb_dupset_check(v->ids, v->id_hash, row->row, pb__confirm_id, v, &first);
        if (rc < 0)
            return rc;
        if (first)
            pb__row_finding(v, PB_F_DUPLICATE_PAYMENT_ID, row->row, row->name[PB_COL_PAYMENT_ID],
                            pb__row32(first),
                            "payment id '%.*s' is already used in row %u; every payout needs its "
                            "own id (the first row stays valid)",
                            (int)(id.len > 64 ? 64 : id.len), id.ptr, pb__row32(first));
    }
    if (v->payout_hash && v->row_errors == 0) { /* not when the id check found an error */
        v->cur_key = v->key;
        v->cur_key_len = v->key_len;
        rc = pb_dupset_check(v->payouts, v->payout_hash, row->row, pb__confirm_payout, v, &first);
        if (rc < 0)
            return rc;
        if (first)
            pb__row_finding(v, PB_F_POSSIBLE_DUPLICATE_PAYOUT, row->row, row->name[PB_COL_ACCOUNT],
                            0,
                            "same method, account and amount as an earlier row; check that this "
                            "person is meant to be paid twice");
    }
    return PB_OK;
}

/* The second half of a row: duplicate checks, totals, counts, the report. */
static int pb__finish_row(pb_validator *v)
{
    pb_row_report rep;
    const pb_row *row = &v->pend_row;
    const pb_row_result *res = &v->pend_res;
    int rc;

    if (!v->has_pend)
        return 0;
    v->has_pend = 0;
    if (v->pend_mapped) {
        if ((rc = pb__cross_row(v, row)) < 0)
            return v->fatal = rc;
        if (res->amount_ok && res->currency)
            pb__add_total(v->st.input_totals, &v->st.ninput_totals, res->currency->code,
                          res->amount_minor);
    }
    if (v->row_errors == 0) {
        v->st.valid++;
        if (v->pend_mapped && res->amount_ok && res->currency)
            pb__add_total(v->st.valid_totals, &v->st.nvalid_totals, res->currency->code,
                          res->amount_minor);
    } else {
        v->st.invalid++;
    }
    if (v->row_warnings)
        v->st.with_warnings++;
    if (!v->o.on_row)
        return 0;
    rep.rec = &v->pend_rec;
    rep.row = v->pend_mapped ? row : NULL;
    rep.res = v->pend_mapped ? res : NULL;
    rep.findings = v->f;
    rep.nfindings = v->nf;
    rep.valid = v->row_errors == 0;
    rc = v->o.on_row(&rep, v->o.ctx);
    if (rc != 0)
        v->fatal = rc;
    return rc;
}

static int pb__header(pb_validator *v, const pb_csv_record *rec)
{
    unsigned errors = 0;
    int rc;

    v->st.header_seen = 1;
    v->header_row = rec->row;
    if (rec->bad_utf8_field >= 0) {
        pb_finding f;
        pb_finding_make(
            &f, PB_F_ENCODING, rec->row, NULL, 0,
            "the header row has bytes that are not UTF-8; save the file as UTF-8 (\"CSV "
            "UTF-8\" in Excel)");
        pb__file_finding(v, &f);
        return PB_OK;
    }
    rc = pb_header_map_new(&v->map, rec->fields, rec->nfields, rec->row,
                           v->o.rules.default_method != NULL, pb__file_finding_cb, v, &errors);
    return rc;
}

/* A record: the previous row is finished, this one's rules run and its checks wait. */
static int pb__record(const pb_csv_record *rec, void *ctx)
{
    pb_validator *v = ctx;
    pb_row *row = &v->pend_row;
    pb_row_result *res = &v->pend_res;
    int rc;

    if (!v->st.header_seen) {
        rc = pb__header(v, rec);
        if (rc < 0)
            v->fatal = rc;
        return rc < 0 ? 1 : 0;
    }
    if ((rc = pb__finish_row(v)) != 0)
        return rc;
    v->st.rows++;
    if (v->file_failed) {
        v->st.invalid++;
        return 0;
    }
    v->nf = 0;
    v->row_errors = v->row_warnings = 0;
    v->payout_hash = 0;
    v->pend_mapped = 0;
    v->pend_rec = *rec;
    memset(res, 0, sizeof(*res));
    if (rec->bad_utf8_field >= 0) {
        const char *col = pb_header_map_name(v->map, (size_t)rec->bad_utf8_field);
        pb__row_finding(v, PB_F_ENCODING, rec->row, col, 0,
                        "column '%s' has bytes that are not UTF-8; save the file as UTF-8 (\"CSV "
                        "UTF-8\" in Excel) and check the cell",
                        col);
    } else if (rec->nfields != pb_header_map_width(v->map)) {
        pb__row_finding(v, PB_F_WRONG_FIELD_COUNT, rec->row, NULL, 0,
                        "row has %zu fields but the header has %zu; quote cells that contain the "
                        "delimiter, and check for missing or extra delimiters",
                        rec->nfields, pb_header_map_width(v->map));
    } else {
        pb_header_map_row(v->map, rec->fields, rec->row, row);
        v->pend_mapped = 1;
        if (row->cell[PB_COL_PAYMENT_ID].len > 0) {
            v->id_hash = pb_dupset_key_hash(v->ids, row->cell[PB_COL_PAYMENT_ID].ptr,
                                            row->cell[PB_COL_PAYMENT_ID].len);
            pb_dupset_prefetch(v->ids, v->id_hash);
        }
        pb_validate_row(row, &v->o.rules, res, pb__collect, v);
        if (v->row_errors == 0 && (v->key_len = pb__payout_key(row, res, v->key)) > 0) {
            v->payout_hash = pb_dupset_key_hash(v->payouts, v->key, v->key_len);
            pb_dupset_prefetch(v->payouts, v->payout_hash);
        }
    }
    v->has_pend = 1;
    return 0;
}

static int pb__enqueue(const pb_csv_record *rec, void *ctx);
static void *pb__checker(void *arg);

int pb_validator_new(pb_validator **out, const pb_validator_opts *opts)
{
    pb_validator *v;
    pb_csv_opts co;
    size_t i;
    int rc;

    *out = NULL;
    v = pb_calloc(1, sizeof(*v));
    if (!v)
        return PB_ENOMEM;
    v->o = *opts;
    pb_buf_init(&v->spool, SIZE_MAX / 2);
    pb_buf_init(&v->blk.text, SIZE_MAX / 2);
    pb_buf_init(&v->blk.ents, SIZE_MAX / 2);
    memset(&co, 0, sizeof(co));
    co.delimiter = opts->delimiter;
    co.mark_every = opts->test_mark_every ? opts->test_mark_every : PB__MARK_EVERY;
    for (i = 0; i < PB__QUEUE; i++) {
        pb_buf_init(&v->q[i].bytes, SIZE_MAX / 2);
        pb_buf_init(&v->q[i].fields, SIZE_MAX / 2);
        pb_buf_init(&v->q[i].recs, SIZE_MAX / 2);
    }
    if ((rc = pb_csv_reader_new(
             &v->csv, &co, opts->threads && opts->read_at ? pb__enqueue : pb__record, v)) < 0 ||
        (rc = pb_dupset_new(&v->ids, opts->hash_key)) < 0 ||
        (rc = pb_dupset_new(&v->payouts, opts->hash_key)) < 0) {
        pb_validator_free(v);
        return rc;
    }
    if (opts->test_hash_mask) {
        pb_dupset_weaken(v->ids, opts->test_hash_mask);
        pb_dupset_weaken(v->payouts, opts->test_hash_mask);
    }
    if (opts->threads && opts->read_at) {
        v->cur = &v->q[0];
        if (pthread_mutex_init(&v->mu, NULL) != 0) {
            pb_validator_free(v);
            return PB_ENOMEM;
        }
        if (pthread_cond_init(&v->cv_items, NULL) != 0 ||
            pthread_cond_init(&v->cv_space, NULL) != 0 ||
            pthread_create(&v->th, NULL, pb__checker, v) != 0) {
            /* a condition variable left initialised holds no resource on glibc */
            pthread_mutex_destroy(&v->mu);
            pb_validator_free(v);
            return PB_ENOMEM;
        }
        v->threaded = 1;
    }
    *out = v;
    return PB_OK;
}

/* A reader error ends the file: report it once, as a file-level finding. */
static void pb__reader_error(pb_validator *v, int rc, uint64_t row, const char *msg)
{
    pb_finding f;
    pb_finding_make(&f, rc == PB_ELIMIT ? PB_F_TOO_LONG : PB_F_MALFORMED_CSV, row, NULL, 0, "%s",
                    msg);
    if (!v->file_failed || v->st.by_code[f.code] == 0)
        pb__file_finding(v, &f);
}

static int pb__reader_result(pb_validator *v, int rc)
{
    if (v->fatal)
        return v->fatal;
    if (rc == 0)
        return PB_OK;
    if (rc == PB_ENOMEM)
        return rc;
    pb__reader_error(v, rc, pb_csv_reader_error_row(v->csv), pb_csv_reader_error(v->csv));
    v->fatal = 0;
    return PB_OK;
}

/*
 * Size both sets for the whole file: rows estimated from its size and the line ends of the first
 * chunk (or the rows read so far), +10%. One table each instead of a chain of growing ones
 * that every lookup probes. A low estimate only means more tables are added; a failed
 * allocation leaves the sets as they are.
 */
static void pb__size_sets(pb_validator *v, uint64_t lines, uint64_t bytes)
{
    uint64_t est;

    v->sized = 1;
    est = (uint64_t)((unsigned __int128)lines * v->o.size_hint / bytes);
    est += est / 10;
    if (est > UINT32_MAX)
        est = UINT32_MAX;
    (void)pb_dupset_reserve(v->ids, (size_t)est);
    (void)pb_dupset_reserve(v->payouts, (size_t)est);
}

/* --- the checking thread (opts.threads) ------------------------------------------------ */

/* Check one batch's records, in order, exactly as pb__record would have as they were read. */
static void pb__check_batch(pb_validator *v, pb__batch *b)
{
    pb_str *f = (pb_str *)(void *)b->fields.ptr;
    const pb__qrec *q = (const pb__qrec *)(const void *)b->recs.ptr;
    size_t i, nrec = b->recs.len / sizeof(*q), nf = b->fields.len / sizeof(*f);

    for (i = 0; i < nf; i++)
        f[i].ptr = b->bytes.ptr + (uintptr_t)f[i].ptr;
    for (i = 0; i < nrec && !v->fatal; i++) {
        pb_csv_record rec;
        rec.row = q[i].row;
        rec.nfields = q[i].nfields;
        rec.fields = f + q[i].first;
        rec.bad_utf8_field = q[i].bad_utf8_field;
        (void)pb__record(&rec, v); /* an error is in v->fatal */
    }
    if (!v->fatal)
        (void)pb__finish_row(v); /* the batch's memory is about to be reused */
    if (!v->fatal && b->reader_rc)
        pb__reader_error(v, b->reader_rc, b->err_row, b->err);
    if (!v->fatal && !v->sized && v->o.size_hint && v->st.rows >= PB__SIZE_AFTER_ROWS)
        pb__size_sets(v, b->lines, b->fed);
}

static void *pb__checker(void *arg)
{
    pb_validator *v = arg;
    for (;;) {
        pb__batch *b;
        int end;
        pthread_mutex_lock(&v->mu);
        while (v->q_count == 0)
            pthread_cond_wait(&v->cv_items, &v->mu);
        b = &v->q[v->q_tail];
        pthread_mutex_unlock(&v->mu);
        end = b->end;
        if (!v->fatal && !atomic_load(&v->quit))
            pb__check_batch(v, b);
        pb_buf_clear(&b->bytes);
        pb_buf_clear(&b->fields);
        pb_buf_clear(&b->recs);
        b->reader_rc = 0;
        b->end = 0;
        if ((v->fatal && !atomic_load(&v->b_fatal)) || end) {
            snprintf(v->b_err, sizeof(v->b_err), "%s", pb_error_last());
            atomic_store(&v->b_fatal, v->fatal); /* after b_err: the reader sees both */
        }
        pthread_mutex_lock(&v->mu);
        v->q_tail = (v->q_tail + 1) % PB__QUEUE;
        v->q_count--;
        pthread_cond_signal(&v->cv_space);
        pthread_mutex_unlock(&v->mu);
        if (end)
            return NULL;
    }
}

/* Hand the filled batch over and take the next free one. Returns the checker's fatal code. */
static int pb__submit(pb_validator *v, int end)
{
    v->cur->lines = pb_csv_reader_rows(v->csv);
    v->cur->fed = v->fed;
    v->cur->end = end;
    pthread_mutex_lock(&v->mu);
    v->q_count++;
    pthread_cond_signal(&v->cv_items);
    if (!end) {
        while (v->q_count == PB__QUEUE)
            pthread_cond_wait(&v->cv_space, &v->mu);
        v->cur = &v->q[(v->q_tail + v->q_count) % PB__QUEUE];
    } else {
        v->cur = NULL;
    }
    pthread_mutex_unlock(&v->mu);
    return atomic_load(&v->b_fatal);
}

/* The reader's callback with a checking thread: the header here, every other record queued. */
static int pb__enqueue(const pb_csv_record *rec, void *ctx)
{
    pb_validator *v = ctx;
    pb__qrec q;
    size_t i, first = v->cur->fields.len / sizeof(pb_str);
    int rc;

    if (!v->st.header_seen) { /* before any batch: the checker is idle */
        rc = pb__record(rec, v);
        v->a_file_failed = v->file_failed;
        if (rc)
            v->a_stop = v->fatal ? v->fatal : rc;
        return rc;
    }
    if (rec->nfields) { /* the cells lie one after another (csv_reader.h): one copy */
        const char *from = rec->fields[0].ptr;
        const pb_str *last = &rec->fields[rec->nfields - 1];
        size_t base = v->cur->bytes.len, span = (size_t)(last->ptr + last->len + 1 - from);
        pb_str *f;
        if ((rc = pb_buf_put(&v->cur->bytes, from, span)) < 0 ||
            (rc = pb_buf_put(&v->cur->fields, rec->fields, rec->nfields * sizeof(pb_str))) < 0)
            return v->a_stop = rc;
        f = (pb_str *)(void *)v->cur->fields.ptr + first;
        for (i = 0; i < rec->nfields; i++)
            f[i].ptr = (const char *)(uintptr_t)(base + (size_t)(f[i].ptr - from));
    }
    q.row = rec->row;
    q.nfields = rec->nfields;
    q.first = first;
    q.bad_utf8_field = rec->bad_utf8_field;
    if ((rc = pb_buf_put(&v->cur->recs, &q, sizeof(q))) < 0)
        return v->a_stop = rc;
    if (v->cur->recs.len / sizeof(q) == PB__BATCH_ROWS && (rc = pb__submit(v, 0)) != 0)
        return v->a_stop = rc;
    return 0;
}

/* After the reader returned rc on the reading thread: what feed/finish return. */
static int pb__after_read(pb_validator *v, int rc)
{
    if (v->a_stop) /* a callback (the header's, the checker's) or an allocation stopped it */
        return v->a_fatal = v->a_stop;
    if (rc == PB_ENOMEM)
        return v->a_fatal = rc;
    if (rc < 0) { /* a reader error: reported after the rows before it, by the checker */
        v->cur->reader_rc = rc;
        v->cur->err_row = pb_csv_reader_error_row(v->csv);
        snprintf(v->cur->err, sizeof(v->cur->err), "%s", pb_csv_reader_error(v->csv));
        v->reader_stopped = 1;
        v->a_file_failed = 1;
    }
    if ((v->a_fatal = atomic_load(&v->b_fatal)) != 0)
        pb_error_set("%s", v->b_err);
    return v->a_fatal;
}

/* End the checking thread (after the queued batches) and wait for it. */
static void pb__join(pb_validator *v)
{
    if (!v->threaded || v->joined)
        return;
    (void)pb__submit(v, 1);
    pthread_join(v->th, NULL);
    v->joined = 1;
}

static int pb__feed_threaded(pb_validator *v, const char *data, size_t len)
{
    if (v->a_fatal)
        return v->a_fatal;
    if (v->reader_stopped)
        return PB_OK; /* the reader stopped; nothing more can be read */
    v->fed += len;
    return pb__after_read(v, pb_csv_reader_feed(v->csv, data, len));
}

int pb_validator_feed(pb_validator *v, const char *data, size_t len)
{
    int rc;
    if (v->threaded && !v->fed && !v->a_fatal && !v->reader_stopped)
        goto size; /* the first chunk: sized before the checker sees a key */
    if (v->threaded)
        return pb__feed_threaded(v, data, len);
    if (v->fatal)
        return v->fatal;
    if (v->file_failed && (v->st.by_code[PB_F_MALFORMED_CSV] || v->st.by_code[PB_F_TOO_LONG]))
        return PB_OK; /* the reader stopped; nothing more can be read */
size:
    if (v->fed == 0 && !v->sized && v->o.size_hint && len > 0) {
        /* the line ends of the first chunk size the sets before any key is in them: one
           table each, no small ones in front of it that every lookup would probe too */
        const char *p = data, *end = data + len;
        uint64_t lf = 0;
        while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
            lf++;
            p++;
        }
        if (lf >= PB__SIZE_AFTER_ROWS || len >= v->o.size_hint)
            pb__size_sets(v, lf + 1, len);
    }
    if (v->threaded)
        return pb__feed_threaded(v, data, len);
    v->fed += len;
    if (!v->o.read_at && (rc = pb_buf_put(&v->spool, data, len)) < 0)
        return v->fatal = rc;
    rc = pb_csv_reader_feed(v->csv, data, len);
    (void)pb__finish_row(v); /* the last row of the chunk: an error is in v->fatal */
    rc = pb__reader_result(v, rc);
    if (!v->sized && v->o.size_hint && v->st.rows >= PB__SIZE_AFTER_ROWS)
        pb__size_sets(v, pb_csv_reader_rows(v->csv), v->fed);
    return rc;
}

int pb_validator_finish(pb_validator *v)
{
    int rc = PB_OK;
    if (v->threaded && !v->joined) {
        if (!v->a_fatal && !v->reader_stopped)
            (void)pb__after_read(v, pb_csv_reader_finish(v->csv));
        pb__join(v);
        if (v->b_err[0])
            pb_error_set("%s", v->b_err);
        if (v->a_fatal && !v->fatal)
            v->fatal = v->a_fatal;
        if (v->fatal)
            return v->fatal;
        goto done;
    }
    if (v->fatal)
        return v->fatal;
    if (!(v->file_failed && (v->st.by_code[PB_F_MALFORMED_CSV] || v->st.by_code[PB_F_TOO_LONG]))) {
        rc = pb_csv_reader_finish(v->csv);
        (void)pb__finish_row(v); /* the last row: an error is in v->fatal */
        rc = pb__reader_result(v, rc);
    }
    if (rc < 0)
        return rc;
done:
    v->st.delimiter = pb_csv_reader_delimiter(v->csv);
    v->st.had_bom = pb_csv_reader_had_bom(v->csv);
    v->st.blank = pb_csv_reader_rows(v->csv) - v->st.rows - (v->st.header_seen ? 1 : 0);
    if (!v->st.header_seen && !v->file_failed) {
        pb_finding f;
        pb_finding_make(&f, PB_F_NO_HEADER, 1, NULL, 0,
                        "the file is empty (no header row, only blank lines or a BOM); export the "
                        "sheet again with its header row");
        pb__file_finding(v, &f);
    }
    return v->fatal;
}

const pb_validator_stats *pb_validator_get_stats(const pb_validator *v)
{
    return &v->st;
}

const pb_header_map *pb_validator_header(const pb_validator *v)
{
    return v->map;
}

char pb_validator_delimiter(const pb_validator *v)
{
    return pb_csv_reader_delimiter(v->csv);
}

int pb_validator_had_bom(const pb_validator *v)
{
    return pb_csv_reader_had_bom(v->csv);
}

int pb_validator_file_failed(const pb_validator *v)
{
    if (v->threaded && !v->joined)
        return v->a_file_failed; /* the checker's copy may be changing */
    return v->file_failed;
}

void pb_validator_free(pb_validator *v)
{
    size_t i;
    if (!v)
        return;
    if (v->threaded) {
        if (!v->joined) {
            atomic_store(&v->quit, 1);
            pb__join(v); /* the checker skips what is left */
        }
        pthread_mutex_destroy(&v->mu);
        pthread_cond_destroy(&v->cv_items);
        pthread_cond_destroy(&v->cv_space);
    }
    for (i = 0; i < PB__QUEUE; i++) {
        pb_buf_free(&v->q[i].bytes);
        pb_buf_free(&v->q[i].fields);
        pb_buf_free(&v->q[i].recs);
    }
    pb_csv_reader_free(v->csv);
    pb_header_map_free(v->map);
    pb_dupset_free(v->ids);
    pb_dupset_free(v->payouts);
    pb_buf_free(&v->spool);
    pb_buf_free(&v->blk.text);
    pb_buf_free(&v->blk.ents);
    pb_free(v->rbuf);
    pb_free(v);
}
