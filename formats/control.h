/*
 * control.h - the control sidecar file (`--control FILE`): the row count and per-currency
 * totals that the exporting system says it wrote, as a bank file's control record.
 *
 *   # written by the exporter; '#' starts a comment, blank lines are ignored
 *   rows = 120
 *   total = PHP:250000.00
 *   total = MYR:1000.00
 *
 * `rows` at most once, `total` once per currency (major units, parsed by core/money through
 * pb_guard_money_parse); at least one of them. Keys are case-insensitive, spaces around
 * `=` and at the ends of a line are ignored, CRLF is fine. Anything else is an error whose
 * message names the line.
 */
#ifndef PB_FORMATS_CONTROL_H
#define PB_FORMATS_CONTROL_H

#include "core/guard.h"

#include <stddef.h>

#define PB_CONTROL_MAX_BYTES 65536

/*
 * Parse the bytes of a control file into l->expect_rows and l->expect_total (other fields of
 * l untouched; l->expect_* must be unset on entry). Returns 0, or PB_EPARSE / PB_ELIMIT with a
 * message (pb_error_last) that starts with "line N:" when a line is at fault.
 */
int pb_control_parse(const char *data, size_t len, pb_guard_limits *l);

#endif
