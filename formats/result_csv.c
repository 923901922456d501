#include "formats/result_csv.h"

#include "core/alloc.h"
#include "core/errors.h"
#include "formats/csv_writer.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define PB__RESULT_COLS PB_RESULT_CSV_COLS
#define PB__MAX_CELLS   1024

static const char *const pb__cols[PB__RESULT_COLS] = {
    "result",       "gate_status",         "code",     "message",   "request_id",
    "operation_id", "provider_payment_id", "attempts", "updated_at"};

const char *pb_result_csv_column(size_t i)
{
    return i < PB__RESULT_COLS ? pb__cols[i] : "";
}

const char *pb_result_name(pb_row_state state, uint32_t attempts)
{
    switch (state) {
    case PB_ROW_SUCCESS:
        return "success";
    case PB_ROW_DECLINE:
        return "decline";
    case PB_ROW_REJECTED:
    case PB_ROW_ERROR:
        return "rejected";
    case PB_ROW_REVERSED:
        return "reversed";
    case PB_ROW_INVALID:
        return "invalid";
    case PB_ROW_QUEUED:
        return attempts ? "pending" : "not_sent";
    default:
        return "pending";
    }
}

int pb_result_csv_header(pb_buf *out, const pb_str *header, size_t n, char delimiter)
{
    pb_str f[PB__MAX_CELLS + PB__RESULT_COLS];
    size_t i;
    if (n > PB__MAX_CELLS)
        return pb_error_set("result file: %zu columns, at most %d", n, PB__MAX_CELLS), PB_ELIMIT;
    for (i = 0; i < n; i++)
        f[i] = header[i];
    for (i = 0; i < PB__RESULT_COLS; i++)
        f[n + i] = pb_str_c(pb__cols[i]);
    return pb_csv_write_record(out, f, n + PB__RESULT_COLS, delimiter, 1);
}

static pb_str pb__s(const char *s)
{
    return pb_str_c(s ? s : "");
}

int pb_result_csv_row(pb_buf *out, const pb_str *cells, size_t n, const pb_result_row *r,
                      char delimiter)
{
    pb_str f[PB__MAX_CELLS + PB__RESULT_COLS];
    char attempts[16], when[96] = "";
    size_t i;

    if (n > PB__MAX_CELLS)
        return pb_error_set("result file: %zu cells, at most %d", n, PB__MAX_CELLS), PB_ELIMIT;
    for (i = 0; i < n; i++)
        f[i] = cells[i];
    snprintf(attempts, sizeof(attempts), "%" PRIu32, r->attempts);
    if (r->updated_at_ms > 0) {
        time_t t = (time_t)(r->updated_at_ms / 1000);
        struct tm tm;
        if (gmtime_r(&t, &tm))
            snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(r->updated_at_ms % 1000));
    }
    f[n + 0] = pb_str_c(pb_result_name(r->state, r->attempts));
    f[n + 1] = pb__s(r->gate_status);
    /* an invalid row's "code" is what made it invalid: its finding names */
    f[n + 2] = r->state == PB_ROW_INVALID ? pb__s(r->findings) : pb__s(r->code);
    f[n + 3] = pb__s(r->message);
    f[n + 4] = pb__s(r->request_id);
    f[n + 5] = pb__s(r->operation_id);
    f[n + 6] = pb__s(r->provider_payment_id);
    f[n + 7] = pb_str_c(attempts);
    f[n + 8] = pb_str_c(when);
    return pb_csv_write_record(out, f, n + PB__RESULT_COLS, delimiter, 1);
}
