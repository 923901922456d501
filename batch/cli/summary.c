/*
 * summary.c - what send, reconcile and status tell about a batch: the closing summary for
 * people and the batch section of the JSON report.
 */
#include "batch/cli/cli.h"

#include "core/money.h"
#include "batch/cli/options.h"
#include "batch/util/log.h"
#include "formats/report.h"
#include "formats/json_write.h"
#include "formats/result_csv.h"
#include "core/alloc.h"
#include "core/errors.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

/* Counts and sums per currency per state: the closing summary of send, reconcile, status. */
void pb_cli_print_counts(FILE *out, const pb_batch_counts *c)
{
    size_t i, k;
    fprintf(out, "rows: %" PRIu64, c->total);
    for (k = 0; k < PB_ROW_STATE_COUNT; k++)
        if (c->rows[k])
            fprintf(out, ", %s %" PRIu64, pb_row_state_name((pb_row_state)k), c->rows[k]);
    fputc('\n', out);
    for (i = 0; i < c->ncur; i++) {
        const pb_batch_currency_counts *cc = &c->cur[i];
        const pb_currency *cur = pb_currency_find(cc->currency, strlen(cc->currency));
        if (!cc->currency[0])
            continue;
        fprintf(out, "  %s:", cc->currency);
        for (k = 0; k < PB_ROW_STATE_COUNT; k++) {
            char amt[48];
            if (!cc->rows[k])
                continue;
            if (pb_money_format(cc->amount[k], cur ? cur->exponent : 2, amt, sizeof(amt)) < 0)
                snprintf(amt, sizeof(amt), "%" PRId64 " (minor units)", cc->amount[k]);
            fprintf(out, " %s %" PRIu64 " (%s)", pb_row_state_name((pb_row_state)k), cc->rows[k],
                    amt);
        }
        fputc('\n', out);
    }
}

/* The results of the result CSV (formats/result_csv: pb_result_name), in report order. */
static const char *const pb__results[] = {"success", "decline", "rejected", "reversed",
                                          "pending", "invalid", "not_sent"};
#define PB__NRESULTS (sizeof(pb__results) / sizeof(pb__results[0]))

typedef struct {
    char currency[PB_STORE_CURRENCY_MAX + 1];
    uint64_t rows[PB__NRESULTS];
    int64_t amount[PB__NRESULTS];
} pb__rescur;

typedef struct {
    uint64_t rows[PB__NRESULTS];
    pb__rescur *cur;
    size_t ncur;
} pb__restotals;

static int pb__result_row(const pb_store_row *r, void *payload)
{
    pb__restotals *t = payload;
    const char *name = pb_result_name(r->state, r->attempts);
    size_t k, i;
    for (k = 0; k < PB__NRESULTS && strcmp(pb__results[k], name) != 0; k++)
        ;
    if (k == PB__NRESULTS)
        return pb_error_set("report: result %s has no column", name), PB_ERROR;
    t->rows[k]++;
    if (!r->currency[0])
        return 0; /* an invalid row without a readable currency: counted in results only */
    for (i = 0; i < t->ncur && strcmp(t->cur[i].currency, r->currency) != 0; i++)
        ;
    if (i == t->ncur) {
        pb__rescur *n = pb_realloc(t->cur, (t->ncur + 1) * sizeof(*n));
        if (!n)
            return PB_ENOMEM;
        t->cur = n;
        memset(&n[i], 0, sizeof(n[i]));
        snprintf(n[i].currency, sizeof(n[i].currency), "%s", r->currency);
        t->ncur++;
    }
    t->cur[i].rows[k]++;
    if (__builtin_add_overflow(t->cur[i].amount[k], r->amount, &t->cur[i].amount[k]))
        return pb_error_set("report: the %s sum of %s overflows", name, r->currency), PB_ERANGE;
    return 0;
}

/* ,"results":{...},"result_totals":{CUR:{result:{rows,amount_minor}}}: what finance reads in
 * the result CSV's `result` column, summed, so the report reconciles with that file. */
static int pb__result_members(pb_buf *b, pb_store *st, uint64_t batch)
{
    pb__restotals t;
    size_t i, k;
    int rc;
    memset(&t, 0, sizeof(t));
    rc = pb_store_rows_each(st, batch, pb__result_row, &t);
    if (rc == 0)
        rc = pb_buf_puts(b, ",\"results\":{");
    for (k = 0; rc == 0 && k < PB__NRESULTS; k++)
        rc = pb_buf_printf(b, "%s\"%s\":%" PRIu64, k ? "," : "", pb__results[k], t.rows[k]);
    if (rc == 0)
        rc = pb_buf_puts(b, "},\"result_totals\":{");
    for (i = 0; rc == 0 && i < t.ncur; i++) {
        int first = 1;
        rc = pb_buf_printf(b, "%s", i ? "," : "");
        if (rc == 0)
            rc = pb_json_put_str(b, t.cur[i].currency, strlen(t.cur[i].currency));
        if (rc == 0)
            rc = pb_buf_putc(b, ':');
        if (rc == 0)
            rc = pb_buf_putc(b, '{');
        for (k = 0; rc == 0 && k < PB__NRESULTS; k++) {
            if (!t.cur[i].rows[k])
                continue;
            rc = pb_buf_printf(b, "%s\"%s\":{\"rows\":%" PRIu64 ",\"amount_minor\":%" PRId64 "}",
                               first ? "" : ",", pb__results[k], t.cur[i].rows[k],
                               t.cur[i].amount[k]);
            first = 0;
        }
        if (rc == 0)
            rc = pb_buf_putc(b, '}');
    }
    if (rc == 0)
        rc = pb_buf_putc(b, '}');
    pb_free(t.cur);
    return rc;
}

/* The batch section of the --report document: rows and sums per state and per result per
 * currency. */
int pb_cli_batch_members(pb_buf *b, pb_store *st, uint64_t batch, const char *name,
                         const pb_batch_counts *c)
{
    size_t i, k;
    int rc, firstcur = 1;
    rc = pb_buf_puts(b, ",\"batch\":");
    if (rc == 0)
        rc = pb_json_put_str(b, name, strlen(name));
    if (rc == 0)
        rc = pb_buf_printf(b, ",\"batch_rows\":%" PRIu64 ",\"states\":{", c->total);
    for (k = 0; rc == 0 && k < PB_ROW_STATE_COUNT; k++)
        rc = pb_buf_printf(b, "%s\"%s\":%" PRIu64, k ? "," : "", pb_row_state_name((pb_row_state)k),
                           c->rows[k]);
    if (rc == 0)
        rc = pb_buf_puts(b, "},\"state_totals\":{");
    for (i = 0; rc == 0 && i < c->ncur; i++) {
        int first = 1;
        if (!c->cur[i].currency[0])
            continue; /* rows whose currency could not be read: counted in states */
        rc = pb_buf_printf(b, "%s\"%s\":{", firstcur ? "" : ",", c->cur[i].currency);
        firstcur = 0;
        for (k = 0; rc == 0 && k < PB_ROW_STATE_COUNT; k++) {
            if (!c->cur[i].rows[k])
                continue;
            rc = pb_buf_printf(b, "%s\"%s\":{\"rows\":%" PRIu64 ",\"amount_minor\":%" PRId64 "}",
                               first ? "" : ",", pb_row_state_name((pb_row_state)k),
                               c->cur[i].rows[k], c->cur[i].amount[k]);
            first = 0;
        }
        if (rc == 0)
            rc = pb_buf_putc(b, '}');
    }
    if (rc == 0)
        rc = pb_buf_putc(b, '}');
    if (rc == 0)
        rc = pb__result_members(b, st, batch);
    return rc;
}

/* "digest=...\napprovers=...\n" (pb_batch_info.plan): one value */
static void pb__plan_value(const char *plan, const char *key, const char **v, size_t *len)
{
    const char *p = plan;
    size_t kl = strlen(key);
    *v = "";
    *len = 0;
    while (p && *p) {
        size_t l = strcspn(p, "\n");
        if (l > kl && !strncmp(p, key, kl) && p[kl] == '=') {
            *v = p + kl + 1;
            *len = l - kl - 1;
            return;
        }
        p += l + (p[l] == '\n');
    }
}

int pb_cli_plan_members(pb_buf *b, const char *plan)
{
    const char *d, *a;
    size_t dl, al;
    int rc;
    if (!plan)
        return 0;
    pb__plan_value(plan, "digest", &d, &dl);
    pb__plan_value(plan, "approvers", &a, &al);
    rc = pb_buf_puts(b, ",\"plan\":{\"digest\":");
    if (rc == 0)
        rc = pb_json_put_str(b, d, dl);
    if (rc == 0)
        rc = pb_buf_puts(b, ",\"approvers\":");
    if (rc == 0)
        rc = pb_json_put_str(b, a, al);
    return rc ? rc : pb_buf_putc(b, '}');
}

void pb_cli_plan_line(FILE *out, const char *plan)
{
    const char *d, *a;
    size_t dl, al;
    if (!plan)
        return;
    pb__plan_value(plan, "digest", &d, &dl);
    pb__plan_value(plan, "approvers", &a, &al);
    fprintf(out, "plan: %.*s, approved by %.*s\n", (int)dl, d, (int)(al ? al : 6),
            al ? a : "nobody");
}

int pb_cli_report_batch(pb_json_report *json, pb_store *st, uint64_t batch, const char *name,
                        const pb_batch_counts *c, const char *plan)
{
    pb_buf b;
    int rc;
    pb_buf_init(&b, 1u << 20);
    rc = pb_cli_batch_members(&b, st, batch, name, c);
    if (rc == 0)
        rc = pb_cli_plan_members(&b, plan);
    if (rc == 0)
        rc = pb_json_report_set_extra(json, b.ptr, b.len);
    pb_buf_free(&b);
    return rc;
}

/* A progress line redrawn on a terminal, a log line every few seconds otherwise. */
void pb_cli_progress(const pb_send_progress *p, void *arg)
{
    const int *tty = arg;
    double rate =
        p->elapsed_ms > 0 ? (double)(p->sent + p->queries) * 1000.0 / (double)p->elapsed_ms : 0.0;
    if (*tty && pb_log_get_format() == PB_LOG_TEXT) {
        fprintf(stderr,
                "\r%" PRIu64 " sent, %" PRIu64 " accepted, %" PRIu64
                " status queries, %.1f req/s   %s",
                p->sent, p->accepted, p->queries, rate, p->final ? "\n" : "");
        (void)fflush(stderr);
    } else if (!p->final) {
        pb_log_ctx lc = {"send.progress", NULL, 0, NULL, NULL};
        pb_log(PB_LOG_INFO, &lc,
               "%" PRIu64 " sent, %" PRIu64 " accepted, %" PRIu64 " status queries, %.1f req/s",
               p->sent, p->accepted, p->queries, rate);
    }
}

/* The run settings send and reconcile share, and the progress display (tty: an int that lives
 * as long as the run, 1 when stderr is a terminal). */
void pb_cli_send_opts(pb_send_opts *so, const pb_settings *s, int *tty)
{
    so->engine.rate_milli = s->rate_milli;
    so->engine.concurrency = s->concurrency;
    so->timeout_ms = (long)s->timeout_s * 1000;
    so->store_uri = s->state;
    so->ca_file = s->ca_file;
    so->wait_ms = (int64_t)s->wait_s * 1000;
    so->quiet = s->quiet;
    *tty = isatty(2);
    if (!s->quiet) {
        so->on_progress = pb_cli_progress;
        so->progress_arg = tty;
        so->progress_every_ms = *tty ? 500 : 5000;
    }
}
