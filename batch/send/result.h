/*
 * result.h - the result CSV of a batch, written from the state store alone (the input file is
 * not needed): one row per input row in input order (SPEC §8). Written to a temporary file
 * beside the path and renamed (batch/util/outfile), so a partial file is never presented.
 */
#ifndef PB_SEND_RESULT_H
#define PB_SEND_RESULT_H

#include "batch/store/store.h"

/* 0, or PB_EIO (the file: message names it and the cause), PB_ENOMEM, a store error. */
int pb_result_write(pb_store *st, const char *batch_name, const char *path);

/*
 * Rows and sums per result (the result file's `result` column, pb_result_name) per currency:
 * the one computation behind the JSON report's `results`/`result_totals` and the workbook's
 * Totals sheet, so both reconcile with the result file. Beside them the batch's valid rows
 * (every row that is not invalid): the input's control totals as the store keeps them.
 */
#define PB_RESULT_COUNT 7
/* The results in report order ("success", ..., "not_sent"); k < PB_RESULT_COUNT. Static. */
const char *pb_result_totals_name(size_t k);

typedef struct {
    char currency[PB_STORE_CURRENCY_MAX + 1];
    uint64_t rows[PB_RESULT_COUNT];
    int64_t amount[PB_RESULT_COUNT]; /* minor units */
    uint64_t valid_rows;
    int64_t valid_amount; /* minor units */
} pb_result_currency_totals;

/* Filled by pb_result_totals_get; owns cur: pb_result_totals_clear. Currencies in order of first
 * appearance; rows without a readable currency are counted in rows[] only. */
typedef struct {
    uint64_t rows[PB_RESULT_COUNT]; /* all currencies */
    pb_result_currency_totals *cur;
    size_t ncur;
} pb_result_totals;

/* 0, PB_ENOMEM, PB_ERANGE (a sum overflows int64), a store error. */
int pb_result_totals_get(pb_store *st, uint64_t batch, pb_result_totals *t);
void pb_result_totals_clear(pb_result_totals *t);

#endif
