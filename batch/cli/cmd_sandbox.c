/*
 * cmd_sandbox.c - `paybatch sandbox`: parse the options, run the local Gate (sandbox.h).
 */
#include "batch/cli/cli.h"
#include "batch/sandbox/sandbox.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
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
          "print a summary on stderr.\n"
          "\n"
          "Options:\n"
          "  --listen HOST:PORT       numeric address to listen on (e.g. 127.0.0.1:0)\n"
          "  --project-id N           the only project id accepted (others: 2442)\n"
          "  --secret-file PATH       secret key (trailing newline dropped); else the\n"
          "                           environment variable PAYBATCH_SECRET_KEY\n"
          "  --ledger FILE            append one JSON line per accepted payout\n"
          "  --max-payments N         payments kept in memory (default 1000000); over it\n"
          "                           503 with Retry-After. Each takes about 0.5 KiB (at most\n"
          "                           1.3 KiB with 255-byte ids, accounts and URLs): the\n"
          "                           default needs about 0.5 GiB, at most 1.3 GiB\n"
          "                           {payment_id,method,amount,currency,account,time,time_ms}\n"
          "  --seed N                 seed of the fault dice (default fixed)\n"
          "  --callback-url URL       callback target when the request has no\n"
          "                           general.merchant_callback_url\n"
          "  --callback-delay-ms N    outcome (and callback) after N ms (default 200)\n"
          "  --fail-429 P             answer 429 (Retry-After: 1) with probability P (0..1)\n"
          "  --fail-500 P             answer 500 with probability P\n"
          "  --drop-after-record P    record the payout, then drop the connection unanswered\n"
          "  --slow-ms N --slow P     record the payout at once but answer it only after N ms,\n"
          "                           with probability P (a client with a shorter timeout\n"
          "                           sees a timeout for a recorded payout)\n"
          "  --callback-drop P        do not send a final callback at all\n"
          "  --callback-dup P         send a final callback twice\n"
          "  --callback-wrong-key P   sign a callback with a key other than the project's\n"
          "  --callback-reorder P     after the final callback, also send an intermediate\n"
          "                           \"processing\" one (out of order)\n"
          "  --callback-retry-scale F multiply the callback retry waits by F (default 1;\n"
          "                           tests use e.g. 0.001)\n"
          "  --callback-max-attempts N  at most N attempts per callback (1..120, default 120)\n"
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

static int parse_prob(const char *s, double *out)
{
    char *end;
    double d;
    errno = 0;
    d = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(d >= 0.0 && d <= 1.0))
        return PB_EINVAL;
    *out = d;
    return PB_OK;
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;
    if (s[0] < '0' || s[0] > '9')
        return PB_EINVAL;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return PB_EINVAL;
    *out = v;
    return PB_OK;
}

/* "127.0.0.1:8080", "[::1]:8080" -> host (in buf) and port */
static int parse_listen(const char *s, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(s, ':');
    size_t hl;
    unsigned long p;
    if (colon == NULL || parse_ulong(colon + 1, 65535, &p) != PB_OK)
        return PB_EINVAL;
    hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl == 0 || hl >= cap)
        return PB_EINVAL;
    memcpy(host, s, hl);
    host[hl] = '\0';
    *port = (int)p;
    return PB_OK;
}

static int read_secret(const char *path, char *buf, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "rb");
    size_t n;
    if (f == NULL)
        return PB_EIO;
    n = fread(buf, 1, cap - 1, f);
    fclose(f);
    if (n == cap - 1)
        return PB_ELIMIT;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    *len = n;
    return PB_OK;
}

int pb_cmd_sandbox(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'L'},
        {"project-id", required_argument, NULL, 'P'},
        {"secret-file", required_argument, NULL, 'S'},
        {"ledger", required_argument, NULL, 'l'},
        {"max-payments", required_argument, NULL, 'N'},
        {"seed", required_argument, NULL, 's'},
        {"callback-url", required_argument, NULL, 'u'},
        {"callback-delay-ms", required_argument, NULL, 'd'},
        {"fail-429", required_argument, NULL, '4'},
        {"fail-500", required_argument, NULL, '5'},
        {"drop-after-record", required_argument, NULL, 'D'},
        {"callback-drop", required_argument, NULL, 'x'},
        {"callback-dup", required_argument, NULL, 'y'},
        {"callback-wrong-key", required_argument, NULL, 'k'},
        {"callback-reorder", required_argument, NULL, 'r'},
        {"callback-retry-scale", required_argument, NULL, 'F'},
        {"callback-max-attempts", required_argument, NULL, 'M'},
        {"slow-ms", required_argument, NULL, 'w'},
        {"slow", required_argument, NULL, 'W'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static char secret[4096];
    char host[64];
    pb_sandbox_opts o;
    const char *secret_file = NULL, *listen = NULL, *env;
    unsigned long v;
    int opt, rc, have_project = 0;

    memset(&o, 0, sizeof(o));
    o.callback_delay_ms = 200;
    o.cb_retry_scale = 1.0;
    o.cb_max_attempts = PB_SANDBOX_CB_MAX_ATTEMPTS;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'L':
            listen = optarg;
            break;
        case 'P':
            if (parse_ulong(optarg, 9007199254740991ul, &v) != PB_OK || v == 0) {
                pb_cli_error("--project-id %s: a positive integer", optarg);
                return PB_EXIT_USAGE;
            }
            o.project_id = (int64_t)v;
            have_project = 1;
            break;
        case 'S':
            secret_file = optarg;
            break;
        case 'l':
            o.ledger_path = optarg;
            break;
        case 's':
            if (parse_ulong(optarg, ~0ul, &v) != PB_OK) {
                pb_cli_error("--seed %s: a non-negative integer", optarg);
                return PB_EXIT_USAGE;
            }
            o.seed = v;
            break;
        case 'u':
            o.callback_url = optarg;
            break;
        case 'd':
            if (parse_ulong(optarg, 600000, &v) != PB_OK) {
                pb_cli_error("--callback-delay-ms %s: 0..600000", optarg);
                return PB_EXIT_USAGE;
            }
            o.callback_delay_ms = (unsigned)v;
            break;
        case 'F': {
            char *end;
            errno = 0;
            o.cb_retry_scale = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' ||
                !(o.cb_retry_scale >= 0.0 && o.cb_retry_scale <= 1000.0)) {
                pb_cli_error("--callback-retry-scale %s: a number 0..1000", optarg);
                return PB_EXIT_USAGE;
            }
            break;
        }
        case 'N':
            if (parse_ulong(optarg, 100000000, &v) != PB_OK || v == 0) {
                pb_cli_error("--max-payments %s: 1..100000000", optarg);
                return PB_EXIT_USAGE;
            }
            o.max_payments = (size_t)v;
            break;
        case 'M':
            if (parse_ulong(optarg, PB_SANDBOX_CB_MAX_ATTEMPTS, &v) != PB_OK || v == 0) {
                pb_cli_error("--callback-max-attempts %s: 1..%d", optarg,
                             PB_SANDBOX_CB_MAX_ATTEMPTS);
                return PB_EXIT_USAGE;
            }
            o.cb_max_attempts = (unsigned)v;
            break;
        case 'w':
            if (parse_ulong(optarg, 600000, &v) != PB_OK) {
                pb_cli_error("--slow-ms %s: 0..600000", optarg);
                return PB_EXIT_USAGE;
            }
            o.slow_ms = (unsigned)v;
            break;
        case 'W':
            if (parse_prob(optarg, &o.slow) != PB_OK) {
                pb_cli_error("--slow %s: a probability 0..1", optarg);
                return PB_EXIT_USAGE;
            }
            break;
        case '4':
        case '5':
        case 'D':
        case 'x':
        case 'y':
        case 'k':
        case 'r':
            if (parse_prob(optarg, opt == '4'   ? &o.fail_429
                                   : opt == '5' ? &o.fail_500
                                   : opt == 'D' ? &o.drop_after_record
                                   : opt == 'x' ? &o.cb_drop
                                   : opt == 'k' ? &o.cb_wrong_key
                                   : opt == 'r' ? &o.cb_reorder
                                                : &o.cb_dup) != PB_OK) {
                pb_cli_error("%s: a probability 0..1", optarg);
                return PB_EXIT_USAGE;
            }
            break;
        case 'h':
            pb__sandbox_usage(stdout);
            return PB_EXIT_OK;
        default:
            pb__sandbox_usage(stderr);
            return PB_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        pb_cli_error("sandbox takes no operands; see paybatch sandbox --help");
        return PB_EXIT_USAGE;
    }
    if (listen == NULL || parse_listen(listen, host, sizeof(host), &o.port) != PB_OK) {
        pb_cli_error("--listen HOST:PORT is required (numeric host, port 0..65535)");
        return PB_EXIT_USAGE;
    }
    if (!have_project) {
        pb_cli_error("--project-id N is required");
        return PB_EXIT_USAGE;
    }
    o.host = host;
    if (secret_file != NULL) {
        if (read_secret(secret_file, secret, sizeof(secret), &o.secret_len) != PB_OK) {
            pb_cli_error("--secret-file %s: cannot read it (or over 4 KiB)", secret_file);
            return PB_EXIT_NOINPUT;
        }
        o.secret = secret;
    } else if ((env = getenv("PAYBATCH_SECRET_KEY")) != NULL && env[0] != '\0') {
        o.secret = env;
        o.secret_len = strlen(env);
    } else {
        pb_cli_error("no secret: use --secret-file PATH or set PAYBATCH_SECRET_KEY");
        return PB_EXIT_CONFIG;
    }
    if (o.secret_len == 0) {
        pb_cli_error("the secret key is empty");
        return PB_EXIT_CONFIG;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        pb_cli_error("libcurl initialisation failed");
        return PB_EXIT_SOFTWARE;
    }
    rc = pb_sandbox_run(&o);
    curl_global_cleanup();
    if (rc != PB_OK) {
        pb_cli_error("sandbox: %s", pb_error_last()[0] ? pb_error_last() : pb_strerror(rc));
        return rc == PB_EIO || rc == PB_ERROR ? PB_EXIT_UNAVAILABLE : PB_EXIT_SOFTWARE;
    }
    return PB_EXIT_OK;
}
