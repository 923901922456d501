/*
 * csv_writer.h - write CSV records (RFC 4180 quoting) into a capped pb_buf.
 *
 * The caller owns the buffer; records are appended. A field is quoted when it holds the
 * delimiter, a quote, CR or LF (quotes doubled); every record ends with "\r\n". With
 * neutralize_formulas, a cell that a spreadsheet would run as a formula (first byte '=',
 * '+', '-', '@', TAB or CR: pb_formula_like() in core/validate.h) gets a "'" prefix (SPEC 8).
 */
#ifndef PB_FORMATS_CSV_WRITER_H
#define PB_FORMATS_CSV_WRITER_H

#include <stddef.h>

#include "core/buf.h"
#include "formats/csv_reader.h"

/* PB_ELIMIT when the record does not fit under the buffer's cap: the buffer is then left as
 * it was before the call (no partial record). */
int pb_csv_write_record(pb_buf *out, const pb_str *fields, size_t n, char delimiter,
                        int neutralize_formulas);

#endif
