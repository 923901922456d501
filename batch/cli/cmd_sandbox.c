/*
 * cmd_sandbox.c - `paybatch sandbox`: parse the options, run the local Gate (sandbox.h).
 */
#include "batch/cli/cli.h"
#include "batch/net/http_server.h"
#include "batch/cli/options.h"
#include "batch/sandbox/sandbox.h"
#include "batch/util/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors.h"
#include "core/methods.h"

enum { PB__NAMES_NEEDING_CUSTOMER_NAME, PB__CURRENCIES, PB__PREFIXES };

/* A list from the method table (core/methods.c), ", "-separated: "gcash", "MYR, PHP",
 * "gcash 09...". */
static void pb__sandbox_usage_list(FILE *out, int what)
{
    size_t i;
    int first = 1;

    for (i = 0; i < pb_method_count(); i++) {
        const pb_method *m = pb_method_at(i);
        if ((what == PB__NAMES_NEEDING_CUSTOMER_NAME && !m->customer_name_required) ||
            (what == PB__PREFIXES && !m->account_prefix))
            continue;
        fputs(first ? "" : ", ", out);
        first = 0;
        if (what == PB__CURRENCIES)
            fputs(m->currency, out);
        else if (what == PB__PREFIXES)
            fprintf(out, "%s %s...", m->name, m->account_prefix);
        else
            fputs(m->name, out);
    }
}

static void pb__sandbox_usage(FILE *out)
{
    size_t i, n = pb_method_count();

    fputs("Usage: paybatch sandbox --listen HOST:PORT --project-id N [options]\n"
          "\n"
          "A local Gate simulator: POST ",
          out);
    for (i = 0; i < n; i++)
        fprintf(out, "%s%s", pb_method_at(i)->endpoint, i + 1 < n ? ",\n" : " and ");
    fputs("/v2/payment/status; GET /healthz answers 200\n"
          "{\"status\":\"ok\"} (never faulted). PORT 0 picks a free port;\n"
          "the first line on stdout is \"listening on HOST:PORT\". SIGINT/SIGTERM stop it and\n"
          "print a summary on stderr (the log: --log-format json makes it JSON lines).\n"
          "\n"
          "Options (each also a config file key and an environment variable\n"
          "PAYBATCH_<OPTION>):\n",
          out);
    pb_settings_print_options(out, PB_CMD_SANDBOX);
    fputs("The ledger line: {payment_id,method,amount,currency,account,time,time_ms}. A payment "
          "kept\n"
          "in memory takes about 0.5 KiB (at most 1.3 KiB with 255-byte ids, accounts and\n"
          "URLs). --project-id is the only project accepted (others: 2442).\n"
          "Callbacks are POSTed (3 s timeout each) until HTTP 200 on Gate's schedule: 6\n"
          "attempts 10 s apart, then 70 + 10*1.12^(n-4) s before attempt n, capped at 4 h;\n"
          "at most 120 attempts (~10.3 days), all waits times --callback-retry-scale.\n"
          "\n"
          "Scripted outcomes by the last digits of account.number:\n"
          "  ...01  decline 20101 (Decline due to amount or frequency limit)\n"
          "  ...02  decline 20102 (Incorrect account data entered)\n"
          "  ...03  processing until the status was queried 3 times, then success\n"
          "  ...04  success, then after the delay again a reversal: payment status\n"
          "         \"reversed\", a second operation of type \"reversal\" (the literal type is\n"
          "         an assumption, ecommpay-protocol.md section 6 item 10); a callback each\n"
          "  other  success (code 0)\n"
          "\n"
          "Refusals (HTTP 400, {\"status\":\"error\",...,\"code\",\"message\"}), in check order:\n"
          "  2003 not JSON, or a field of the wrong JSON type (string vs number, non-integer)\n"
          "  3262 no signature   2004 no project_id   2442 other project_id\n"
          "  3261 signature mismatch\n"
          "  2004 required field missing or empty (general.payment_id, customer.id,\n"
          "       customer.ip_address (also: not an IP), account.number, payment.amount,\n"
          "       payment.currency; ",
          out);
    pb__sandbox_usage_list(out, PB__NAMES_NEEDING_CUSTOMER_NAME);
    fputs(": account.customer_name)\n"
          "  3121 currency not the method's (",
          out);
    pb__sandbox_usage_list(out, PB__CURRENCIES);
    fputs(")\n"
          "  3358 amount below the method's minimum, 2642 above its maximum\n"
          "  3242 account.number not valid for the method (digits, length, ",
          out);
    pb__sandbox_usage_list(out, PB__PREFIXES);
    fputs(")\n"
          "  3041 payment id already accepted\n"
          "Status query of an unknown payment id: HTTP 404, code 3061.\n",
          out);
}

/* The address goes to stdout as the first line: tests and `send --sandbox` read it. */
static void pb__on_listening(const char *host, int port, void *ctx)
{
    *(int *)ctx = 1; /* started: a summary is due at the end */
    printf("listening on %s:%d\n", host, port);
    (void)fflush(stdout); /* a reader that went away is not the server's failure */
}

/* The closing summary, through the log sink (stderr; JSON lines under --log-format json). */
static void pb__print_summary(const pb_sandbox_summary *sum)
{
    static const pb_log_ctx ctx = {"sandbox.summary", NULL, 0, NULL, NULL};
    size_t i;

    pb_log(PB_LOG_INFO, &ctx,
           "sandbox: stopped: %lu accepted, %lu refused, %lu faults injected, %lu status "
           "queries, %lu callbacks acknowledged, %lu not",
           sum->accepted, sum->refused, sum->faults, sum->polls, sum->cb_sent, sum->cb_failed);
    for (i = 0; i < sum->ncodes; i++) {
        char code[16];
        pb_log_ctx c = {"sandbox.refused", NULL, 0, NULL, code};
        (void)snprintf(code, sizeof(code), "%d", sum->by_code[i].code);
        pb_log(PB_LOG_INFO, &c, "sandbox:   refused %d (%s): %lu", sum->by_code[i].code,
               pb_sandbox_code_message(sum->by_code[i].code), sum->by_code[i].n);
    }
}

int pb_cmd_sandbox(int argc, char **argv)
{
    pb_settings set;
    pb_sandbox_opts o;
    pb_sandbox_summary sum;
    char host[64], *secret = NULL;
    size_t npos = 0, secret_len = 0;
    int rc, exit_code, started = 0;

    if ((rc = pb_settings_parse(&set, PB_CMD_SANDBOX, argc, argv, pb__sandbox_usage, NULL, 0,
                                &npos)) != 0) {
        pb_settings_free(&set);
        return pb_settings_exit(rc);
    }
    pb_cli_log_setup(&set);
    memset(&o, 0, sizeof(o));
    exit_code = PB_EXIT_USAGE;
    if (set.listen == NULL ||
        pb_http_hostport_parse(set.listen, host, sizeof(host), &o.port) != PB_OK) {
        pb_cli_error("--listen HOST:PORT is required (numeric host, port 0..65535)");
        goto out;
    }
    if (set.project_id == 0) {
        pb_cli_error("--project-id N is required");
        goto out;
    }
    if ((rc = pb_settings_secret(&set, &secret, &secret_len)) < 0) {
        pb_cli_error("%s", pb_error_last());
        exit_code = rc == PB_EIO      ? PB_EXIT_NOINPUT
                    : rc == PB_ENOMEM ? PB_EXIT_SOFTWARE
                                      : PB_EXIT_CONFIG;
        goto out;
    }
    o.host = host;
    o.project_id = set.project_id;
    o.secret = secret;
    o.secret_len = secret_len;
    o.ledger_path = set.ledger;
    o.callback_url = set.callback_url;
    o.callback_delay_ms = set.callback_delay_ms;
    o.seed = (unsigned long)set.seed;
    o.fail_429 = set.fail_429;
    o.fail_500 = set.fail_500;
    o.drop_after_record = set.drop_after_record;
    o.cb_drop = set.callback_drop;
    o.cb_dup = set.callback_dup;
    o.cb_wrong_key = set.callback_wrong_key;
    o.cb_reorder = set.callback_reorder;
    o.cb_retry_scale = set.callback_retry_scale;
    o.cb_max_attempts = set.callback_max_attempts;
    o.slow_ms = set.slow_ms;
    o.slow = set.slow;
    o.max_payments = set.max_payments;
    o.on_listening = pb__on_listening;
    o.ctx = &started;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        pb_cli_error("libcurl initialisation failed");
        exit_code = PB_EXIT_SOFTWARE;
        goto out;
    }
    rc = pb_sandbox_run(&o, &sum);
    curl_global_cleanup();
    if (started)
        pb__print_summary(&sum);
    exit_code = PB_EXIT_OK;
    if (rc != PB_OK) {
        pb_cli_error("sandbox: %s", pb_error_last()[0] ? pb_error_last() : pb_strerror(rc));
        exit_code = rc == PB_EIO || rc == PB_ERROR ? PB_EXIT_UNAVAILABLE : PB_EXIT_SOFTWARE;
    }
out:
    pb_settings_secret_free(secret, secret_len);
    pb_settings_free(&set);
    return exit_code;
}
