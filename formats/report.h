/*
 * report.h - what `validate` (and later `send`) tells people and machines.
 *
 *  - pb_summary: the human summary. Findings grouped by code, the first N examples of each
 *    kept (bounded memory: N x codes), totals per currency.
 *  - pb_json_report: the --report document, streamed: findings are written as they are found,
 *    the counts and totals when the file is done. The caller writes it to a temporary file
 *    and renames it, so a partial report is never presented as complete.
 *  - the --invalid-out CSV: each invalid row's original fields, its row number and findings.
 *
 * Account numbers are masked in all three (SPEC §4). Every writer takes a FILE * owned by the
 * caller; write errors are reported as PB_EIO.
 */
#ifndef PB_FORMATS_REPORT_H
#define PB_FORMATS_REPORT_H

#include "formats/validator.h"

#include <stdio.h>

typedef struct pb_summary pb_summary;

int pb_summary_new(pb_summary **out, size_t examples_per_code);
/* Count the finding and keep a copy while its code has fewer than N examples. */
int pb_summary_add(pb_summary *s, const pb_finding *f);
/* verbose: print every kept example (N is then the caller's choice, e.g. SIZE_MAX-like). */
int pb_summary_print(const pb_summary *s, FILE *out, const char *file_name,
                     const pb_validator_stats *st);
void pb_summary_free(pb_summary *s);

typedef struct pb_json_report pb_json_report;

/* Writes the opening of the document: {"command":…,"file":…,"findings":[ */
int pb_json_report_open(pb_json_report **out, FILE *f, const char *command, const char *file_name);
int pb_json_report_finding(pb_json_report *r, const pb_finding *f);
/*
 * What part of the input the report covers: the bytes read (and hashed), whether that was the
 * whole file, and the row at which reading stopped (0: none). Call before close; by default
 * the report says the whole file was read.
 */
void pb_json_report_set_input(pb_json_report *r, uint64_t bytes_read, int complete,
                              uint64_t stopped_at_row);
/*
 * --max-findings: f was counted but not written (the budget is spent). The report ends with
 * the number left out per code; findings_by_code stays exact.
 */
void pb_json_report_omit(pb_json_report *r, const pb_finding *f);
/* --invalid-out rows (and their findings) left out of that file for the same reason. */
void pb_json_report_set_invalid_omitted(pb_json_report *r, uint64_t rows, uint64_t findings);
/* Closes the findings array and writes counts, totals, sha256 and the exit code; frees r. */
/* Members written just before "findings_total" at close (raw JSON text starting with ',',
 * e.g. the batch section of `send`); copied. 0 or PB_ENOMEM/PB_ELIMIT. */
int pb_json_report_set_extra(pb_json_report *r, const char *members, size_t len);
int pb_json_report_close(pb_json_report *r, const pb_validator_stats *st, const char *sha256_hex,
                         int exit_code);
/* Free without finishing (error paths). */
void pb_json_report_free(pb_json_report *r);

/* --invalid-out: header "row", the original columns, "findings". */
int pb_invalid_csv_header(FILE *f, const pb_header_map *map, char delimiter, int bom);
int pb_invalid_csv_row(FILE *f, const pb_header_map *map, const pb_row_report *r, char delimiter);

#endif
