/*
 * validator_rows.c - the row pipeline: a batch of records in, per-row verdicts out, in order.
 *
 * Each row goes through two stages. The first maps its fields, runs the row rules and hashes
 * its payment id and payout key, asking for the index slots of both (a prefetch); its findings
 * are kept, not reported. The second, PB_VALIDATOR__AHEAD rows later, when those slots have had
 * time to arrive from memory, reports the kept findings, checks the duplicate sets, adds the
 * totals and hands the row to on_row. Findings and callbacks come in exactly the order of one
 * row at a time: every row's rule findings, then its duplicate findings, then its report.
 */
#include "formats/validator_int.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <stdarg.h>
#include <string.h>

/* A finding of the row being finished: counted, handed to on_finding, kept for its report. */
static void pb__emit(pb_validator *v, const pb_finding *f)
{
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

/* A duplicate finding of the row being finished. */
static void pb__row_finding(pb_validator *v, pb_finding_code code, uint64_t row, const char *column,
                            uint64_t other_row, const char *fmt, ...)
{
    pb_finding f;
    va_list ap;
    va_start(ap, fmt);
    pb_finding_vmake(&f, code, row, column, other_row, fmt, ap);
    va_end(ap);
    if (pb_finding_severity(f.code) == PB_SEV_ERROR)
        v->row_errors++;
    else
        v->row_warnings++;
    pb__emit(v, &f);
}

/* A finding of the rules (first stage): counted now, kept until the row is finished. */
static void pb__keep(const pb_finding *f, void *ctx)
{
    pb_validator__pend *p = ctx;
    if (pb_finding_severity(f->code) == PB_SEV_ERROR)
        p->errors++;
    else
        p->warnings++;
    if (!p->rc && pb_buf_put(&p->found, f, sizeof(*f)) < 0)
        p->rc = PB_ENOMEM;
}

static void pb__add_total(pb_currency_total *t, size_t *n, const char *code, int64_t amount)
{
    size_t i;
    for (i = 0; i < *n; i++) {
        if (memcmp(t[i].currency, code, 4) == 0) /* codes are 3 letters and a NUL */
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

size_t pb_validator__payout_key(const pb_row *row, const pb_row_result *res, char key[512])
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

/*
 * First stage: map, rules, hashes; the findings are kept in p. The record's pb_str are built in
 * p: the batch's memory is only read here (the reading thread writes it next, and lines this
 * thread wrote would have to travel back to it).
 */
static void pb__rules(pb_validator *v, pb_validator__pend *p, const pb_validator__batch *b,
                      const pb_validator__qrec *q)
{
    pb_csv_record *rec = &p->rec;
    pb_row *row = &p->row;
    const uint32_t *len = (const uint32_t *)(const void *)b->lens.ptr + q->first;
    const char *c = b->bytes.ptr + q->boff;
    pb_finding f;
    size_t j;

    p->skip = v->file_failed;
    p->mapped = 0;
    p->rc = 0;
    p->errors = p->warnings = 0;
    p->id_hash = p->payout_hash = 0;
    pb_buf_clear(&p->found);
    if (q->nfields > p->cells_cap) { /* at most the reader's max_fields */
        pb_str *cells = pb_realloc(p->cells, q->nfields * sizeof(*cells));
        if (!cells) {
            p->rc = PB_ENOMEM;
            return;
        }
        p->cells = cells;
        p->cells_cap = q->nfields;
    }
    for (j = 0; j < q->nfields; j++) { /* the cells lie back to back */
        p->cells[j].ptr = c;
        p->cells[j].len = len[j];
        c += len[j] + 1;
    }
    rec->row = q->row;
    rec->nfields = q->nfields;
    rec->fields = p->cells;
    rec->bad_utf8_field = q->bad_utf8_field;
    if (p->skip)
        return;
    memset(&p->res, 0, sizeof(p->res));
    if (rec->bad_utf8_field >= 0) {
        const char *col = pb_header_map_name(v->map, (size_t)rec->bad_utf8_field);
        pb_finding_make(&f, PB_F_ENCODING, rec->row, col, 0,
                        "column '%s' has bytes that are not UTF-8; save the file as UTF-8 (\"CSV "
                        "UTF-8\" in Excel) and check the cell",
                        col);
        pb__keep(&f, p);
    } else if (rec->nfields != pb_header_map_width(v->map)) {
        pb_finding_make(&f, PB_F_WRONG_FIELD_COUNT, rec->row, NULL, 0,
                        "row has %zu fields but the header has %zu; quote cells that contain the "
                        "delimiter, and check for missing or extra delimiters",
                        rec->nfields, pb_header_map_width(v->map));
        pb__keep(&f, p);
    } else {
        pb_header_map_row(v->map, rec->fields, rec->row, row);
        p->mapped = 1;
        if (row->npass) { /* the map's array holds the last row mapped: this one keeps its own */
            pb_buf_clear(&p->pass);
            if ((p->rc = pb_buf_put(&p->pass, row->pass, row->npass * sizeof(*row->pass))) < 0)
                return;
            row->pass = (const pb_passthrough *)(const void *)p->pass.ptr;
        }
        if (row->cell[PB_COL_PAYMENT_ID].len > 0) {
            p->id_hash = pb_dupset_key_hash(v->ids, row->cell[PB_COL_PAYMENT_ID].ptr,
                                            row->cell[PB_COL_PAYMENT_ID].len);
        }
        pb_validate_row(row, &v->o.rules, &p->res, pb__keep, p);
        if (p->errors == 0 && (p->key_len = pb_validator__payout_key(row, &p->res, p->key)) > 0) {
            p->payout_hash = pb_dupset_key_hash(v->payouts, p->key, p->key_len);
        }
    }
}

static int pb__cross_row(pb_validator *v, const pb_validator__pend *p)
{
    const pb_row *row = &p->row;
    pb_str id = row->cell[PB_COL_PAYMENT_ID];
    uint64_t first;
    int rc;

    if (id.len > 0) {
        v->cur_id = id;
        rc = pb_dupset_check(v->ids, p->id_hash, row->row, pb_validator__confirm_id, v, &first);
        if (rc < 0)
            return rc;
        if (first)
            pb__row_finding(v, PB_F_DUPLICATE_PAYMENT_ID, row->row, row->name[PB_COL_PAYMENT_ID],
                            pb__row32(first),
                            "payment id '%.*s' is already used in row %u; every payout needs its "
                            "own id (the first row stays valid)",
                            (int)(id.len > 64 ? 64 : id.len), id.ptr, pb__row32(first));
    }
    if (p->payout_hash && v->row_errors == 0) { /* not when the id check found an error */
        v->cur_key = p->key;
        v->cur_key_len = p->key_len;
        rc = pb_dupset_check(v->payouts, p->payout_hash, row->row, pb_validator__confirm_payout, v,
                             &first);
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

/* Second stage: the kept findings, duplicate checks, totals, counts, the report. */
static int pb__finish(pb_validator *v, const pb_validator__pend *p)
{
    const pb_finding *f = (const pb_finding *)(const void *)p->found.ptr;
    const pb_row_result *res = &p->res;
    size_t i, n = p->found.len / sizeof(*f);
    pb_row_report rep;
    int rc;

    v->st.rows++;
    if (p->skip && !p->rc) {
        v->st.invalid++;
        return 0;
    }
    if (p->rc)
        return v->fatal = p->rc;
    v->nf = 0;
    v->row_errors = p->errors;
    v->row_warnings = p->warnings;
    for (i = 0; i < n; i++)
        pb__emit(v, &f[i]);
    if (p->mapped) {
        if ((rc = pb__cross_row(v, p)) < 0)
            return v->fatal = rc;
        if (res->amount_ok && res->currency)
            pb__add_total(v->st.input_totals, &v->st.ninput_totals, res->currency->code,
                          res->amount_minor);
    }
    if (v->row_errors == 0) {
        v->st.valid++;
        if (p->mapped && res->amount_ok && res->currency)
            pb__add_total(v->st.valid_totals, &v->st.nvalid_totals, res->currency->code,
                          res->amount_minor);
    } else {
        v->st.invalid++;
    }
    if (v->row_warnings)
        v->st.with_warnings++;
    if (!v->o.on_row)
        return 0;
    rep.rec = &p->rec;
    rep.row = p->mapped ? &p->row : NULL;
    rep.res = p->mapped ? res : NULL;
    rep.findings = v->f;
    rep.nfindings = v->nf;
    rep.valid = v->row_errors == 0;
    rc = v->o.on_row(&rep, v->o.ctx);
    if (rc != 0)
        v->fatal = rc;
    return rc;
}

/* A reader error ends the file: report it once, as a file-level finding. */
static void pb__reader_error(pb_validator *v, int rc, uint64_t row, const char *msg)
{
    pb_finding f;
    pb_finding_make(&f, rc == PB_ELIMIT ? PB_F_TOO_LONG : PB_F_MALFORMED_CSV, row, NULL, 0, "%s",
                    msg);
    if (!v->file_failed || v->st.by_code[f.code] == 0)
        pb_validator__file_finding(v, &f);
}

void pb_validator__check_batch(pb_validator *v, pb_validator__batch *b)
{
    const pb_validator__qrec *q = (const pb_validator__qrec *)(const void *)b->recs.ptr;
    const size_t G = PB_VALIDATOR__AHEAD / 2;
    size_t g, i, n = b->recs.len / sizeof(*q);

    /*
     * In groups of G rows: the rules of a group, then the slots of all its keys asked for at
     * once (their page walks and loads overlap, where one at a time each stalled the core),
     * then the group before it finished.
     */
    for (g = 0; g < n + G && !v->fatal; g += G) {
        size_t end = g + G < n ? g + G : n;
        for (i = g; i < end; i++)
            pb__rules(v, &v->pend[i % PB_VALIDATOR__AHEAD], b, &q[i]);
        for (i = g; i < end; i++) {
            const pb_validator__pend *p = &v->pend[i % PB_VALIDATOR__AHEAD];
            if (p->id_hash)
                pb_dupset_prefetch(v->ids, p->id_hash);
            if (p->payout_hash)
                pb_dupset_prefetch(v->payouts, p->payout_hash);
        }
        for (i = g >= G ? g - G : n; i < g && i < n; i++) {
            if (pb__finish(v, &v->pend[i % PB_VALIDATOR__AHEAD]) != 0)
                break;
        }
    }
    if (!v->fatal && b->reader_rc)
        pb__reader_error(v, b->reader_rc, b->err_row, b->err);
    if (!v->fatal && !v->sized && v->o.size_hint && v->st.rows >= PB_VALIDATOR__SIZE_AFTER)
        pb_validator__size_sets(v, b->lines, b->fed);
}
