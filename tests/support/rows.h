/*
 * rows.h - a valid payout row for tests and benchmarks (header-only, static inline).
 *
 * pb_test_row() fills a mapped row whose column names are the canonical ones and whose cells
 * point at static strings: the GCash example of the protocol reference (amount 1500.00 PHP)
 * with the given payment id and account number. res, when not NULL, gets the parsed method,
 * currency and amount a validated row would carry. Tests overwrite single cells after it.
 */
#ifndef PB_TEST_ROWS_H
#define PB_TEST_ROWS_H

#include <string.h>

#include "core/validate.h"

static inline void pb_test_row(pb_row *row, pb_row_result *res, const char *method, const char *id,
                               const char *acct)
{
    int c;
    memset(row, 0, sizeof(*row));
    for (c = 0; c < PB_COL__COUNT; c++)
        row->name[c] = pb_col_canonical((pb_col)c);
    row->name[PB_COL_AMOUNT_MAJOR] = NULL;
    row->cell[PB_COL_METHOD] = pb_str_c(method);
    row->cell[PB_COL_PAYMENT_ID] = pb_str_c(id);
    row->cell[PB_COL_AMOUNT] = pb_str_c("150000");
    row->cell[PB_COL_CURRENCY] = pb_str_c("PHP");
    row->cell[PB_COL_CUSTOMER_ID] = pb_str_c("cust-9");
    row->cell[PB_COL_IP] = pb_str_c("198.51.100.7");
    row->cell[PB_COL_ACCOUNT] = pb_str_c(acct);
    row->cell[PB_COL_CUSTOMER_NAME] = pb_str_c("Juan Dela Cruz");
    row->cell[PB_COL_DESCRIPTION] = pb_str_c("payout");
    if (res) {
        memset(res, 0, sizeof(*res));
        res->method = pb_method_find(method, strlen(method));
        res->currency = pb_currency_find("PHP", 3);
        res->amount_minor = 150000;
        res->amount_ok = 1;
    }
}

#endif
