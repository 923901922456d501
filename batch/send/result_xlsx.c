/*
 * result_xlsx.c - the result workbook (see result_xlsx.h).
 */
#include "batch/send/result_xlsx.h"

#include "batch/send/result.h"
#include "batch/util/outfile.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/money.h"
#include "core/utf8.h"
#include "formats/result_csv.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unzip.h>
#include <xlsxwriter.h>

#define PB__MAX_CELLS  1024
#define PB__MAX_EXP    6 /* the largest currency exponent with a number format of its own */
#define PB__READ_CHUNK (64u * 1024u)

typedef struct {
    lxw_workbook *wb;
    lxw_worksheet *result, *totals, *findings;
    lxw_format *head, *text, *count, *when;
    lxw_format *money[PB__MAX_EXP + 1]; /* "#,##0", "#,##0.0", "#,##0.00", ... */
    const char *path;                   /* for messages */
    size_t ncols;                       /* the Result sheet's columns */
    lxw_row_t row, finding_row;         /* the next free rows */
    lxw_row_t totals_rows;              /* rows of the Totals sheet, header included */
    int rc;
} pb__xw;

static int pb__lxw(pb__xw *w, lxw_error e)
{
    if (e == LXW_NO_ERROR)
        return 0;
    if (e == LXW_ERROR_MAX_STRING_LENGTH_EXCEEDED)
        return pb_error_set("cannot write %s: a cell is longer than a spreadsheet cell holds "
                            "(32767 characters)",
                            w->path),
               PB_ELIMIT;
    if (e == LXW_ERROR_WORKSHEET_INDEX_OUT_OF_RANGE)
        return pb_error_set("cannot write %s: more rows than a worksheet holds (%d)", w->path,
                            LXW_ROW_MAX),
               PB_ELIMIT;
    if (e == LXW_ERROR_MEMORY_MALLOC_FAILED)
        return PB_ENOMEM;
    return pb_error_set("cannot write %s: %s", w->path, lxw_strerror(e)), PB_EIO;
}

/*
 * A text cell: ids, account numbers, codes. worksheet_write_string never makes a formula
 * (formulas only come from worksheet_write_formula), so "=SUM(A1)" stays the text it is; an
 * empty value leaves the cell empty. A workbook is XML, which must be UTF-8: a byte that is
 * not (an invalid row of a Latin-1 file keeps its bytes in the store) becomes U+FFFD here.
 */
static int pb__text(pb__xw *w, lxw_worksheet *ws, lxw_row_t r, lxw_col_t c, const char *s,
                    size_t len)
{
    char small[768], *buf = small;
    size_t i = 0, o = 0, k;
    int rc;
    if (len == 0)
        return 0;
    if (len > (sizeof(small) - 1) / 3 && !(buf = pb_malloc(len * 3 + 1)))
        return PB_ENOMEM;
    while (i < len) {
        k = pb_utf8_seq_len((const unsigned char *)s + i, len - i);
        if (k == 0 || (k == 1 && s[i] == '\0')) {
            memcpy(buf + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(buf + o, s + i, k);
            o += k;
            i += k;
        }
    }
    buf[o] = '\0';
    rc = pb__lxw(w, worksheet_write_string(ws, r, c, buf, w->text));
    if (buf != small)
        pb_free(buf);
    return rc;
}

/*
 * The ONE place an amount becomes a double: the cell value handed to libxlsxwriter, because a
 * spreadsheet stores every number as an IEEE double. Up to here the amount is int64 minor
 * units; the quotient is the double nearest the exact decimal, shown exactly by a number
 * format with the currency's decimals (exact for |minor| < 2^53, i.e. any real payout).
 */
static int pb__amount(pb__xw *w, lxw_worksheet *ws, lxw_row_t r, lxw_col_t c, int64_t minor,
                      const char *currency)
{
    const pb_currency *cur = pb_currency_find(currency, strlen(currency));
    double div = 1.0;
    int e;
    if (!cur || cur->exponent < 0 || cur->exponent > PB__MAX_EXP)
        return 0; /* no known decimals: the amount is left out rather than shown wrong */
    for (e = 0; e < cur->exponent; e++)
        div *= 10.0;
    return pb__lxw(w,
                   worksheet_write_number(ws, r, c, (double)minor / div, w->money[cur->exponent]));
}

static int pb__datetime(pb__xw *w, lxw_worksheet *ws, lxw_row_t r, lxw_col_t c, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    lxw_datetime dt;
    if (ms <= 0 || !gmtime_r(&t, &tm))
        return 0;
    dt.year = tm.tm_year + 1900;
    dt.month = tm.tm_mon + 1;
    dt.day = tm.tm_mday;
    dt.hour = tm.tm_hour;
    dt.min = tm.tm_min;
    dt.sec = tm.tm_sec + (double)(ms % 1000) / 1000.0; /* time of day, not money */
    return pb__lxw(w, worksheet_write_datetime(ws, r, c, &dt, w->when));
}

/* One line per finding code of an invalid row ("bad-amount,missing-value"). */
static int pb__findings_of(pb__xw *w, const pb_store_row *row)
{
    const char *p = row->findings;
    int rc = 0;
    while (rc == 0 && p && *p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len) {
            if (w->finding_row >= LXW_ROW_MAX - 1)
                return pb__lxw(w, LXW_ERROR_WORKSHEET_INDEX_OUT_OF_RANGE);
            rc = pb__lxw(w, worksheet_write_number(w->findings, w->finding_row, 0,
                                                   (double)row->row_no, w->count));
            if (rc == 0)
                rc = pb__text(w, w->findings, w->finding_row, 1, row->payment_id,
                              strlen(row->payment_id));
            if (rc == 0)
                rc = pb__text(w, w->findings, w->finding_row, 2, p, len);
            w->finding_row++;
        }
        p = end ? end + 1 : NULL;
    }
    return rc;
}

static int pb__row(const pb_store_row *row, void *payload)
{
    pb__xw *w = payload;
    pb_str cells[PB__MAX_CELLS];
    const char *res[PB_RESULT_CSV_COLS];
    lxw_worksheet *ws = w->result;
    lxw_row_t r = w->row;
    size_t n, i, base;
    int rc;

    if (r >= LXW_ROW_MAX) {
        rc = pb__lxw(w, LXW_ERROR_WORKSHEET_INDEX_OUT_OF_RANGE);
        goto fail;
    }
    if ((rc = pb_store_cells_unpack(row->cells, row->cells_len, cells, PB__MAX_CELLS, &n)) < 0)
        goto fail;
    if (n + 1 + PB_RESULT_CSV_COLS > w->ncols)
        n = w->ncols - 1 - PB_RESULT_CSV_COLS; /* a ragged row: the header sets the width */
    for (i = 0; i < n; i++)
        if ((rc = pb__text(w, ws, r, (lxw_col_t)i, cells[i].ptr, cells[i].len)) < 0)
            goto fail;
    base = w->ncols - 1 - PB_RESULT_CSV_COLS;
    if (row->state != PB_ROW_INVALID &&
        (rc = pb__amount(w, ws, r, (lxw_col_t)base, row->amount, row->currency)) < 0)
        goto fail;
    base++;
    /* the result CSV's columns (formats/result_csv.c), as typed cells */
    res[0] = pb_result_name(row->state, row->attempts);
    res[1] = row->gate_status;
    /* an invalid row's "code" is what made it invalid: its finding names */
    res[2] = row->state == PB_ROW_INVALID ? (row->findings ? row->findings : "") : row->code;
    res[3] = row->message;
    res[4] = row->request_id;
    res[5] = row->operation_id;
    res[6] = row->provider_payment_id;
    for (i = 0; i < 7; i++)
        if ((rc = pb__text(w, ws, r, (lxw_col_t)(base + i), res[i], strlen(res[i]))) < 0)
            goto fail;
    if ((rc = pb__lxw(w, worksheet_write_number(ws, r, (lxw_col_t)(base + 7), (double)row->attempts,
                                                w->count))) < 0)
        goto fail;
    if ((rc = pb__datetime(w, ws, r, (lxw_col_t)(base + 8), row->updated_at_ms)) < 0)
        goto fail;
    w->row++;
    if (row->state == PB_ROW_INVALID && (rc = pb__findings_of(w, row)) < 0)
        goto fail;
    return 0;
fail:
    w->rc = rc;
    return 1;
}

static int pb__header(pb__xw *w, lxw_worksheet *ws, const char *const *names, size_t n)
{
    size_t i;
    int rc = 0;
    for (i = 0; rc == 0 && i < n; i++)
        rc = pb__lxw(w, worksheet_write_string(ws, 0, (lxw_col_t)i, names[i], w->head));
    if (rc == 0)
        worksheet_freeze_panes(ws, 1, 0);
    return rc;
}

/* The right part of a Totals row: a currency's valid rows and their sum. */
static int pb__valid(pb__xw *w, lxw_worksheet *ws, lxw_row_t r, const pb_result_currency_totals *c)
{
    int rc = pb__text(w, ws, r, 5, c->currency, strlen(c->currency));
    if (rc == 0)
        rc = pb__lxw(w, worksheet_write_number(ws, r, 6, (double)c->valid_rows, w->count));
    if (rc == 0)
        rc = pb__amount(w, ws, r, 7, c->valid_amount, c->currency);
    return rc;
}

/* Totals: currency, result, rows, amount per currency per result (then the rows of every
 * currency, which also counts invalid rows whose currency could not be read); beside them the
 * valid rows per currency. */
static int pb__totals(pb__xw *w, pb_store *st, uint64_t batch)
{
    static const char *const names[] = {"currency", "result",   "rows",       "amount",
                                        "",         "currency", "valid_rows", "valid_amount"};
    pb_result_totals t;
    lxw_worksheet *ws = w->totals;
    lxw_row_t r = 1;
    size_t i, k;
    int rc;

    if ((rc = pb_result_totals_get(st, batch, &t)) < 0)
        return rc;
    if (rc == 0)
        rc = pb__lxw(w, worksheet_set_column(ws, 0, 7, 14, NULL));
    if (rc == 0)
        rc = pb__header(w, ws, names, sizeof(names) / sizeof(names[0]));
    /* constant-memory sheets are written row by row: each row's left part (a currency's
     * result) and right part (the i-th currency's valid rows) together; every currency has at
     * least one result row, so the left side is never the shorter */
    for (i = 0; rc == 0 && i < t.ncur; i++) {
        const pb_result_currency_totals *c = &t.cur[i];
        for (k = 0; rc == 0 && k < PB_RESULT_COUNT; k++) {
            const char *name = pb_result_totals_name(k);
            if (!c->rows[k])
                continue;
            rc = pb__text(w, ws, r, 0, c->currency, strlen(c->currency));
            if (rc == 0)
                rc = pb__text(w, ws, r, 1, name, strlen(name));
            if (rc == 0)
                rc = pb__lxw(w, worksheet_write_number(ws, r, 2, (double)c->rows[k], w->count));
            if (rc == 0)
                rc = pb__amount(w, ws, r, 3, c->amount[k], c->currency);
            if (rc == 0 && r - 1 < t.ncur)
                rc = pb__valid(w, ws, r, &t.cur[r - 1]);
            r++;
        }
    }
    for (k = 0; rc == 0 && k < PB_RESULT_COUNT; k++) {
        const char *name = pb_result_totals_name(k);
        if (!t.rows[k])
            continue;
        rc = pb__text(w, ws, r, 0, "(all)", 5);
        if (rc == 0)
            rc = pb__text(w, ws, r, 1, name, strlen(name));
        if (rc == 0)
            rc = pb__lxw(w, worksheet_write_number(ws, r, 2, (double)t.rows[k], w->count));
        r++;
    }
    w->totals_rows = r;
    pb_result_totals_clear(&t);
    return rc;
}

/* Counts "<row " in a stream of chunks; '<' appears only first, so one counter of matched
 * bytes is enough. */
static void pb__count_rows(const char *p, size_t n, int *state, uint64_t *rows)
{
    static const char pat[] = "<row ";
    size_t i;
    for (i = 0; i < n; i++) {
        if (p[i] == pat[*state]) {
            if (++*state == 5) {
                (*rows)++;
                *state = 0;
            }
        } else {
            *state = p[i] == '<';
        }
    }
}

/*
 * libxlsxwriter does not check the writes to its temporary files: a full /tmp (or a file size
 * limit) gives a truncated sheet inside a workbook it calls written. So the file is read back
 * before it is presented: every part inflates with a correct CRC, and each of the three sheets
 * ends with </worksheet> and holds exactly the rows that were written.
 */
static int pb__verify(const pb__xw *w, const char *file)
{
    const uint64_t want[3] = {w->row, w->totals_rows, w->finding_row};
    char name[256], tail[16], *buf = pb_malloc(PB__READ_CHUNK);
    unz_file_info64 fi;
    unzFile z = buf ? unzOpen64(file) : NULL;
    int rc, state, sheet, sheets = 0, bad = 0;
    size_t tl;
    uint64_t rows;

    if (!z) {
        pb_free(buf);
        if (!buf)
            return PB_ENOMEM;
        return pb_error_set("cannot write %s: the written workbook cannot be read back", w->path),
               PB_EIO;
    }
    for (rc = unzGoToFirstFile(z); rc == UNZ_OK && !bad; rc = unzGoToNextFile(z)) {
        int n;
        size_t nl;
        if (unzGetCurrentFileInfo64(z, &fi, name, sizeof(name), NULL, 0, NULL, 0) != UNZ_OK ||
            unzOpenCurrentFile(z) != UNZ_OK) {
            bad = 1;
            break;
        }
        nl = strlen(name);
        sheet = 0;
        if (nl == strlen("xl/worksheets/sheetN.xml") &&
            strncmp(name, "xl/worksheets/sheet", 19) == 0 && strcmp(name + 20, ".xml") == 0 &&
            name[19] >= '1' && name[19] <= '3')
            sheet = name[19] - '0';
        state = 0;
        rows = 0;
        tl = 0;
        while ((n = unzReadCurrentFile(z, buf, PB__READ_CHUNK)) > 0) {
            size_t k = (size_t)n;
            pb__count_rows(buf, k, &state, &rows);
            if (k >= sizeof(tail)) {
                memcpy(tail, buf + k - sizeof(tail), sizeof(tail));
                tl = sizeof(tail);
            } else {
                size_t keep = tl + k > sizeof(tail) ? sizeof(tail) - k : tl;
                memmove(tail, tail + tl - keep, keep);
                memcpy(tail + keep, buf, k);
                tl = keep + k;
            }
        }
        if (n < 0 || unzCloseCurrentFile(z) != UNZ_OK) /* a read error or a wrong CRC */
            bad = 1;
        if (sheet) {
            sheets++;
            if (rows != want[sheet - 1] || tl < 12 || memcmp(tail + tl - 12, "</worksheet>", 12))
                bad = 1;
        }
    }
    if (rc != UNZ_END_OF_LIST_OF_FILE && !bad)
        bad = 1;
    if (unzClose(z) != UNZ_OK)
        bad = 1;
    pb_free(buf);
    if (bad || sheets != 3)
        return pb_error_set("cannot write %s: the workbook came out incomplete (a temporary "
                            "file could not be written in full: is the disk or the temporary "
                            "directory full?)",
                            w->path),
               PB_EIO;
    return 0;
}

static int pb__formats(pb__xw *w)
{
    static const char *const money[PB__MAX_EXP + 1] = {
        "#,##0", "#,##0.0", "#,##0.00", "#,##0.000", "#,##0.0000", "#,##0.00000", "#,##0.000000"};
    size_t e;
    if (!(w->head = workbook_add_format(w->wb)) || !(w->text = workbook_add_format(w->wb)) ||
        !(w->count = workbook_add_format(w->wb)) || !(w->when = workbook_add_format(w->wb)))
        return PB_ENOMEM;
    format_set_bold(w->head);
    format_set_num_format(w->head, "@");
    format_set_num_format(w->text, "@"); /* typed into later, the cell stays text */
    format_set_num_format(w->count, "0");
    format_set_num_format(w->when, "yyyy-mm-dd hh:mm:ss.000");
    for (e = 0; e <= PB__MAX_EXP; e++) {
        if (!(w->money[e] = workbook_add_format(w->wb)))
            return PB_ENOMEM;
        format_set_num_format(w->money[e], money[e]);
    }
    return 0;
}

int pb_result_xlsx_write(pb_store *st, const char *batch_name, const char *path)
{
    static const char *const fnames[] = {"row", "payment_id", "finding"};
    lxw_workbook_options opt;
    pb_batch_info info;
    pb_outfile of;
    pb_str header[PB__MAX_CELLS];
    const char *names[PB__MAX_CELLS + 1 + PB_RESULT_CSV_COLS];
    char *hcopy[PB__MAX_CELLS];
    pb__xw w;
    size_t n = 0, i;
    int rc;

    memset(&info, 0, sizeof(info));
    memset(&of, 0, sizeof(of));
    memset(&w, 0, sizeof(w));
    memset(hcopy, 0, sizeof(hcopy));
    w.path = path;
    if ((rc = pb_store_batch_get(st, batch_name, &info)) < 0)
        goto out;
    if ((rc = pb_store_cells_unpack(info.header, info.header_len, header, PB__MAX_CELLS, &n)) < 0)
        goto out;
    for (i = 0; i < n; i++) {
        if (!(hcopy[i] = pb_strndup(header[i].ptr, header[i].len))) {
            rc = PB_ENOMEM;
            goto out;
        }
        names[i] = hcopy[i];
    }
    names[n] = "amount_major_units";
    for (i = 0; i < PB_RESULT_CSV_COLS; i++)
        names[n + 1 + i] = pb_result_csv_column(i);
    w.ncols = n + 1 + PB_RESULT_CSV_COLS;

    /* the checks and the temporary file of every output; libxlsxwriter writes the file by
     * name, so it writes the temporary file (or a device in place) that commit renames */
    if ((rc = pb_outfile_open(&of, path)) < 0)
        goto out;
    memset(&opt, 0, sizeof(opt));
    opt.constant_memory = LXW_TRUE; /* rows go to disk as they are written: any batch size */
    opt.use_zip64 = LXW_TRUE;
    w.wb = workbook_new_opt(of.tmp ? of.tmp : of.target, &opt);
    if (!w.wb) {
        pb_error_set("cannot write %s: the workbook cannot be created", path);
        rc = PB_EIO;
        goto out;
    }
    if (!(w.result = workbook_add_worksheet(w.wb, "Result")) ||
        !(w.totals = workbook_add_worksheet(w.wb, "Totals")) ||
        !(w.findings = workbook_add_worksheet(w.wb, "Findings"))) {
        rc = PB_ENOMEM;
        goto out;
    }
    if ((rc = pb__formats(&w)) < 0)
        goto out;
    /* constant memory: column widths before the rows */
    if ((rc = pb__lxw(&w, worksheet_set_column(w.result, 0, (lxw_col_t)(w.ncols - 1), 16, NULL))) <
            0 ||
        (rc = pb__lxw(&w, worksheet_set_column(w.findings, 0, 2, 16, NULL))) < 0 ||
        (rc = pb__header(&w, w.result, names, w.ncols)) < 0 ||
        (rc = pb__header(&w, w.findings, fnames, 3)) < 0)
        goto out;
    w.row = 1;
    w.finding_row = 1;
    rc = pb_store_rows_each(st, info.id, pb__row, &w);
    if (w.rc < 0)
        rc = w.rc;
    if (rc < 0)
        goto out;
    if ((rc = pb__lxw(
             &w, worksheet_autofilter(w.result, 0, 0, w.row - 1, (lxw_col_t)(w.ncols - 1)))) < 0 ||
        (rc = pb__lxw(&w, worksheet_autofilter(w.findings, 0, 0, w.finding_row - 1, 2))) < 0)
        goto out;
    if ((rc = pb__totals(&w, st, info.id)) < 0)
        goto out;
    rc = pb__lxw(&w, workbook_close(w.wb)); /* writes the file and frees the workbook */
    w.wb = NULL;
    if (rc < 0)
        goto out;
    if (!of.in_place && (rc = pb__verify(&w, of.tmp)) < 0)
        goto out;
    rc = pb_outfile_commit(&of);
out:
    if (w.wb)
        lxw_workbook_free(w.wb); /* nothing written: the temporary file is removed below */
    if (of.path)
        pb_outfile_abort(&of);
    for (i = 0; i < n; i++)
        pb_free(hcopy[i]);
    pb_batch_info_clear(&info);
    return rc;
}
