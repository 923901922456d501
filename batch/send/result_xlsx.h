/*
 * result_xlsx.h - the result workbook for finance (--out-xlsx), written from the state store
 * alone like the result CSV (batch/send/result.h), with libxlsxwriter:
 *
 *  - sheet "Result": one row per input row in input order. The input's cells are text cells
 *    (account numbers and ids keep their leading zeros and never become 9.17E+09; a cell that
 *    looks like a formula stays text: text cells are never evaluated), then
 *    `amount_major_units` (the row's amount as a number in major units, formatted with the
 *    currency's decimals; empty for invalid rows), then the result CSV's nine columns
 *    (formats/result_csv: attempts a number, updated_at a UTC date-time cell). Frozen header
 *    row, an autofilter over the whole table.
 *  - sheet "Totals": rows and sums per currency per result (pb_result_totals_get, the numbers of
 *    the JSON report), and beside them the valid rows' totals per currency (the input's
 *    control totals as the store keeps them).
 *  - sheet "Findings": one line per finding of every invalid row: row number, payment id,
 *    finding code.
 *
 * Written to a temporary file beside the path and renamed (batch/util/outfile), so a partial
 * workbook is never presented; on any failure the path is left as it was.
 */
#ifndef PB_SEND_RESULT_XLSX_H
#define PB_SEND_RESULT_XLSX_H

#include "batch/store/store.h"

/*
 * 0, or PB_EIO (the file: message names it and the cause), PB_ELIMIT (more rows than a
 * worksheet holds, a cell longer than a spreadsheet cell), PB_ENOMEM, a store error.
 */
int pb_result_xlsx_write(pb_store *st, const char *batch_name, const char *path);

#endif
