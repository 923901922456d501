#include "batch/cli/options.h"

#include "batch/cli/cli.h"
#include "batch/sandbox/sandbox.h"
#include "core/alloc.h"
#include "core/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ini.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PB__ALL  0xffu
#define PB__CONN (PB_CMD_SEND | PB_CMD_LISTEN | PB_CMD_RECONCILE)

typedef enum {
    PB__K_STR,    /* owned string at off */
    PB__K_FLAG,   /* int at off; a config value true/false/yes/no/1/0 */
    PB__K_UINT,   /* unsigned at off, 0..max */
    PB__K_UINT1,  /* unsigned at off, 1..max */
    PB__K_U64,    /* uint64_t at off */
    PB__K_COUNT,  /* int64_t at off, 0..INT64_MAX (-1 = not set) */
    PB__K_MONEY,  /* CUR:AMOUNT list; max is the slot: 0 max_total, 1 max_amount, 2 expect */
    PB__K_PROB,   /* double at off, a probability 0..1 */
    PB__K_FACTOR, /* double at off, 0..max */
    PB__K_RATE,   /* rate_milli */
    PB__K_PROJECT,
    PB__K_LOGFMT,
    PB__K_QUIET,
    PB__K_VERBOSE,
    PB__K_CONFIG,
    PB__K_HELP
} pb__kind;

typedef struct {
    const char *name;
    unsigned cmds;
    pb__kind kind;
    size_t off;
    unsigned max; /* PB__K_UINT, PB__K_UINT1, PB__K_FACTOR: largest value */
    const char *arg;
    const char *help;
} pb__opt;

#define PB__F(f) offsetof(pb_settings, f)

static const pb__opt pb__opts[] = {
    {"state", PB__CONN | PB_CMD_STATUS | PB_CMD_PLAN, PB__K_STR, PB__F(state), 0, "PATH",
     "state store: a SQLite file or a postgresql:// URI, default ./paybatch.db"},
    {"gate-url", PB__CONN | PB_CMD_PLAN, PB__K_STR, PB__F(gate_url), 0, "URL",
     "Gate base URL, default " PB_DEFAULT_GATE_URL},
    {"project-id", PB__CONN | PB_CMD_SANDBOX | PB_CMD_PLAN, PB__K_PROJECT, 0, 0, "N",
     "ecommpay project id (env PAYBATCH_PROJECT_ID)"},
    {"secret-file", PB__CONN | PB_CMD_SANDBOX, PB__K_STR, PB__F(secret_file), 0, "PATH",
     "file holding the secret key (else env PAYBATCH_SECRET_KEY)"},
    {"ca-file", PB__CONN, PB__K_STR, PB__F(ca_file), 0, "PATH",
     "CA certificates for https (default: the system's)"},
    {"method", PB_CMD_VALIDATE | PB_CMD_SEND | PB_CMD_PLAN, PB__K_STR, PB__F(method), 0, "NAME",
     "method for files without a method column"},
    {"delimiter", PB_CMD_VALIDATE | PB_CMD_SEND | PB_CMD_PLAN, PB__K_STR, PB__F(delimiter), 0, "C",
     "',' ';' or 'tab' (default: detected from the header line)"},
    {"allow-conversion", PB_CMD_VALIDATE | PB_CMD_SEND | PB_CMD_PLAN, PB__K_FLAG,
     PB__F(allow_conversion), 0, NULL, "let Touch'n Go rows carry another currency"},
    {"batch-id", PB_CMD_SEND | PB_CMD_RECONCILE | PB_CMD_STATUS | PB_CMD_PLAN, PB__K_STR,
     PB__F(batch_id), 0, "ID", "name of the batch (default: the file's SHA-256)"},
    {"skip-invalid", PB_CMD_SEND | PB_CMD_PLAN, PB__K_FLAG, PB__F(skip_invalid), 0, NULL,
     "send the valid rows even if some rows are invalid"},
    {"dry-run", PB_CMD_SEND, PB__K_FLAG, PB__F(dry_run), 0, NULL,
     "validate, build and sign every request, send nothing"},
    {"sandbox", PB_CMD_SEND, PB__K_FLAG, PB__F(sandbox), 0, NULL,
     "start the embedded sandbox gateway on a free loopback port and use it"},
    {"yes", PB_CMD_SEND, PB__K_FLAG, PB__F(yes), 0, NULL, "ask no confirmation"},
    {"migrate", PB_CMD_STATUS, PB__K_FLAG, PB__F(migrate), 0, NULL,
     "create the store's schema, or upgrade it to this paybatch's version, and say which"},
    {"rate", PB_CMD_SEND | PB_CMD_RECONCILE | PB_CMD_PLAN, PB__K_RATE, 0, 0, "N",
     "requests per second ceiling (default 10, fractional allowed)"},
    {"concurrency", PB_CMD_SEND | PB_CMD_RECONCILE, PB__K_UINT1, PB__F(concurrency), 1024, "N",
     "requests in flight at most (default 8)"},
    {"timeout", PB_CMD_SEND | PB_CMD_RECONCILE, PB__K_UINT, PB__F(timeout_s), 3600, "SECONDS",
     "total time of one request (default 30)"},
    {"wait", PB_CMD_SEND | PB_CMD_RECONCILE, PB__K_UINT, PB__F(wait_s), 7 * 86400, "SECONDS",
     "after dispatch, wait this long for final statuses (default 0)"},
    {"callback-listen", PB_CMD_SEND | PB_CMD_LISTEN, PB__K_STR, PB__F(callback_listen), 0,
     "HOST:PORT", "serve result callbacks here while running"},
    {"callback-url", PB_CMD_SEND | PB_CMD_SANDBOX | PB_CMD_PLAN, PB__K_STR, PB__F(callback_url), 0,
     "URL",
     "send: sent as general.merchant_callback_url; sandbox: the callback target of "
     "requests without one"},
    {"out", PB_CMD_SEND | PB_CMD_RECONCILE | PB_CMD_PLAN, PB__K_STR, PB__F(out), 0, "PATH",
     "write the result CSV here"},
    {"out-xlsx", PB_CMD_SEND | PB_CMD_RECONCILE, PB__K_STR, PB__F(out_xlsx), 0, "PATH",
     "write the result workbook (.xlsx: Result, Totals, Findings) here"},
    {"report", PB_CMD_VALIDATE | PB_CMD_SEND | PB_CMD_RECONCILE, PB__K_STR, PB__F(report), 0,
     "PATH", "write the JSON report here"},
    {"invalid-out", PB_CMD_VALIDATE | PB_CMD_SEND, PB__K_STR, PB__F(invalid_out), 0, "PATH",
     "write the invalid rows, with their findings, as CSV"},
    {"max-findings", PB_CMD_VALIDATE | PB_CMD_SEND, PB__K_U64, PB__F(max_findings), 0, "N",
     "findings written to each report (default 1000); the rest counted"},
    {"threads", PB_CMD_VALIDATE, PB__K_UINT1, PB__F(threads), 2, "N",
     "2 (default): rows checked on a second core while the file is read; 1: one thread"},
    {"listen", PB_CMD_SANDBOX, PB__K_STR, PB__F(listen), 0, "HOST:PORT",
     "numeric address to listen on (e.g. 127.0.0.1:0; port 0 picks a free one)"},
    {"ledger", PB_CMD_SANDBOX, PB__K_STR, PB__F(ledger), 0, "FILE",
     "append one JSON line per accepted payout"},
    {"max-payments", PB_CMD_SANDBOX, PB__K_UINT1, PB__F(max_payments), 100000000, "N",
     "payments kept in memory (default 1000000, ~0.5 KiB each); over it 503"},
    {"seed", PB_CMD_SANDBOX, PB__K_U64, PB__F(seed), 0, "N", "seed of the fault dice"},
    {"callback-delay-ms", PB_CMD_SANDBOX, PB__K_UINT, PB__F(callback_delay_ms), 600000, "N",
     "outcome (and callback) after N ms (default 200)"},
    {"fail-429", PB_CMD_SANDBOX, PB__K_PROB, PB__F(fail_429), 0, "P",
     "answer 429 (Retry-After: 1) with probability P (0..1)"},
    {"fail-500", PB_CMD_SANDBOX, PB__K_PROB, PB__F(fail_500), 0, "P",
     "answer 500 with probability P"},
    {"drop-after-record", PB_CMD_SANDBOX, PB__K_PROB, PB__F(drop_after_record), 0, "P",
     "record the payout, then drop the connection unanswered"},
    {"slow-ms", PB_CMD_SANDBOX, PB__K_UINT, PB__F(slow_ms), 600000, "N",
     "with --slow P: record at once, answer after N ms"},
    {"slow", PB_CMD_SANDBOX, PB__K_PROB, PB__F(slow), 0, "P",
     "probability of a slow answer (see --slow-ms)"},
    {"callback-drop", PB_CMD_SANDBOX, PB__K_PROB, PB__F(callback_drop), 0, "P",
     "do not send a final callback at all"},
    {"callback-dup", PB_CMD_SANDBOX, PB__K_PROB, PB__F(callback_dup), 0, "P",
     "send a final callback twice"},
    {"callback-wrong-key", PB_CMD_SANDBOX, PB__K_PROB, PB__F(callback_wrong_key), 0, "P",
     "sign a callback with a key other than the project's"},
    {"callback-reorder", PB_CMD_SANDBOX, PB__K_PROB, PB__F(callback_reorder), 0, "P",
     "after the final callback, also send a \"processing\" one"},
    {"callback-retry-scale", PB_CMD_SANDBOX, PB__K_FACTOR, PB__F(callback_retry_scale), 1000, "F",
     "multiply the callback retry waits by F (default 1)"},
    {"callback-max-attempts", PB_CMD_SANDBOX, PB__K_UINT1, PB__F(callback_max_attempts),
     PB_SANDBOX_CB_MAX_ATTEMPTS, "N", "at most N attempts per callback (1..120, default 120)"},
    {"max-total", PB_CMD_SEND | PB_CMD_PLAN, PB__K_MONEY, 0, 0, "CUR:AMOUNT",
     "refuse the batch when a currency's rows total more (repeatable)"},
    {"max-rows", PB_CMD_SEND | PB_CMD_PLAN, PB__K_COUNT, PB__F(limits.max_rows), 0, "N",
     "refuse the batch when it has more rows to send"},
    {"max-amount", PB_CMD_SEND | PB_CMD_PLAN, PB__K_MONEY, 0, 1, "CUR:AMOUNT",
     "refuse the batch when a single row is larger (repeatable)"},
    {"expect-rows", PB_CMD_SEND | PB_CMD_PLAN, PB__K_COUNT, PB__F(limits.expect_rows), 0, "N",
     "control total: the rows to send must be exactly N"},
    {"expect-total", PB_CMD_SEND | PB_CMD_PLAN, PB__K_MONEY, 0, 2, "CUR:AMOUNT",
     "control total: a currency's rows must total exactly this (repeatable)"},
    {"control", PB_CMD_SEND | PB_CMD_PLAN, PB__K_STR, PB__F(control), 0, "FILE",
     "control totals from a sidecar file (rows = N, total = CUR:AMOUNT lines)"},
    {"recent-days", PB_CMD_SEND | PB_CMD_PLAN, PB__K_UINT, PB__F(recent_days), 3650, "N",
     "paid-recently: look this many days back in other batches (default 7, 0 = off)"},
    {"strict-recent", PB_CMD_SEND | PB_CMD_PLAN, PB__K_FLAG, PB__F(strict_recent), 0, NULL,
     "paid-recently hits are errors (their rows are not sent)"},
    {"plan", PB_CMD_SEND, PB__K_STR, PB__F(plan), 0, "PLAN.json",
     "send only if the file and settings reproduce this (approved) plan"},
    {"key", PB_CMD_APPROVE, PB__K_STR, PB__F(key), 0, "KEY.pem",
     "the approver's Ed25519 private key (PEM)"},
    {"name", PB_CMD_APPROVE, PB__K_STR, PB__F(name), 0, "NAME",
     "who approves (default: the key's fingerprint)"},
    {"require-plan", PB_CMD_SEND, PB__K_FLAG, PB__F(require_plan), 0, "BOOL",
     "refuse to send without an approved plan (--plan)"},
    {"approval-keys", PB_CMD_SEND, PB__K_STR, PB__F(approval_keys), 0, "FILES",
     "approvers' Ed25519 public keys (PEM files, comma separated)"},
    {"approvals-required", PB_CMD_SEND | PB_CMD_APPROVE, PB__K_UINT1, PB__F(approvals_required), 64,
     "N", "distinct valid approvals a plan needs (default 1)"},
    {"approval-max-age", PB_CMD_SEND, PB__K_UINT, PB__F(approval_max_age_s), 31622400, "SECONDS",
     "an approval older than this is not counted (default 0: approvals do not expire)"},
    {"config", PB__ALL, PB__K_CONFIG, 0, 0, "PATH", "config file (default ./paybatch.conf)"},
    {"quiet", PB__ALL, PB__K_QUIET, 0, 0, NULL, "quieter (-q)"},
    {"verbose", PB__ALL, PB__K_VERBOSE, 0, 0, NULL, "louder (-v)"},
    {"log-format", PB__ALL, PB__K_LOGFMT, 0, 0, "FMT", "text or json (logs on stderr)"},
    {"help", PB__ALL, PB__K_HELP, 0, 0, NULL, "this text (-h)"},
};
#define PB__NOPTS (sizeof(pb__opts) / sizeof(pb__opts[0]))

/* The commands for which o is a config file key only, neither on the command line nor from
 * the environment: the approval settings of a host that sends only approved plans (issue
 * #14), which whoever runs the command must not lift. */
static unsigned pb__cfg_only(const pb__opt *o)
{
    if (!strcmp(o->name, "require-plan") || !strcmp(o->name, "approval-keys") ||
        !strcmp(o->name, "approvals-required") || !strcmp(o->name, "approval-max-age"))
        return PB_CMD_SEND;
    return 0;
}

static const pb__opt *pb__find(const char *name)
{
    size_t i;
    for (i = 0; i < PB__NOPTS; i++) {
        const char *a = pb__opts[i].name, *b = name;
        /* config keys may spell '-' as '_' */
        while (*a && (*a == *b || (*a == '-' && *b == '_')))
            a++, b++;
        if (!*a && !*b)
            return &pb__opts[i];
    }
    return NULL;
}

static int pb__parse_u64(const char *v, uint64_t max, uint64_t *out)
{
    uint64_t n = 0;
    if (!*v)
        return -1;
    for (; *v; v++) {
        if (*v < '0' || *v > '9')
            return -1;
        if ((uint64_t)(*v - '0') > max || n > (max - (uint64_t)(*v - '0')) / 10)
            return -1;
        n = n * 10 + (uint64_t)(*v - '0');
    }
    *out = n;
    return 0;
}

/* "10", "0.5", "2.25": requests per second, kept as thousandths (no floating point). */
static int pb__parse_rate(const char *v, uint32_t *out)
{
    uint64_t whole = 0, frac = 0;
    unsigned fd = 0;
    const char *dot = strchr(v, '.');
    char ip[16];
    size_t il = dot ? (size_t)(dot - v) : strlen(v);

    if (il == 0 || il >= sizeof(ip))
        return -1;
    memcpy(ip, v, il);
    ip[il] = '\0';
    if (pb__parse_u64(ip, 1000000, &whole) < 0)
        return -1;
    if (dot) {
        const char *p = dot + 1;
        if (!*p)
            return -1;
        for (; *p; p++, fd++) {
            if (*p < '0' || *p > '9' || fd >= 3)
                return -1;
            frac = frac * 10 + (uint64_t)(*p - '0');
        }
        while (fd++ < 3)
            frac *= 10;
    }
    if (whole * 1000 + frac == 0)
        return -1;
    *out = (uint32_t)(whole * 1000 + frac);
    return 0;
}

/* A probability or a time factor (never money): a plain decimal number from 0 to max. */
static int pb__parse_factor(const char *v, unsigned max, double *out)
{
    char *end;
    double d;

    if (!*v || *v == '-' || *v == '+' || *v == ' ')
        return -1;
    errno = 0;
    d = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !(d >= 0.0 && d <= (double)max))
        return -1;
    *out = d;
    return 0;
}

static int pb__parse_bool(const char *v, int *out)
{
    if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
        *out = 1;
    else if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
             !strcasecmp(v, "off"))
        *out = 0;
    else
        return -1;
    return 0;
}

/* A CUR:AMOUNT list option: values are added to the list, comma or space separated; the
 * first value from a higher source (command line > environment > config file) replaces what
 * a lower one gave. */
static int pb__apply_money(pb_settings *s, const pb__opt *o, const char *v, const char *from)
{
    pb_guard_money *list[3] = {s->limits.max_total, s->limits.max_amount, s->limits.expect_total};
    size_t *n[3] = {&s->limits.n_max_total, &s->limits.n_max_amount, &s->limits.n_expect_total};
    unsigned char level = from[0] == '-' ? 3 : strncmp(from, "PAYBATCH_", 9) == 0 ? 2 : 1;
    unsigned slot = o->max;
    const char *p = v ? v : "";

    if (s->limits_from[slot] < level) {
        *n[slot] = 0;
        s->limits_from[slot] = level;
    }
    for (;;) {
        pb_guard_money m;
        size_t len;
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        len = strcspn(p, ", \t");
        if (pb_guard_money_parse(p, len, &m) < 0 ||
            pb_guard_money_add(list[slot], n[slot], &m, o->name) < 0) {
            pb_cli_error("%s: %s", from, pb_error_last());
            return from[0] == '-' ? PB_EXIT_USAGE : PB_EXIT_CONFIG;
        }
        p += len;
    }
    if (*n[slot] == 0) {
        pb_cli_error("%s: give CUR:AMOUNT, e.g. PHP:250000.00", from);
        return from[0] == '-' ? PB_EXIT_USAGE : PB_EXIT_CONFIG;
    }
    return 0;
}

/* Apply one value; `from` names where it came from for the message. Returns 0 or an exit code. */
static int pb__apply(pb_settings *s, const pb__opt *o, const char *v, const char *from)
{
    char *p = (char *)s + o->off;
    uint64_t n;

    switch (o->kind) {
    case PB__K_STR: {
        char **dst = (char **)(void *)p;
        char *copy = pb_strdup(v ? v : "");
        if (!copy) {
            pb_cli_error("out of memory");
            return PB_EXIT_SOFTWARE;
        }
        pb_free(*dst);
        *dst = copy;
        return 0;
    }
    case PB__K_FLAG:
        if (!v) {
            *(int *)(void *)p = 1;
            return 0;
        }
        if (pb__parse_bool(v, (int *)(void *)p) < 0)
            goto bad;
        return 0;
    case PB__K_UINT:
    case PB__K_UINT1:
        if (pb__parse_u64(v, o->max, &n) < 0 || (n == 0 && o->kind == PB__K_UINT1))
            goto bad;
        *(unsigned *)(void *)p = (unsigned)n;
        return 0;
    case PB__K_PROB:
    case PB__K_FACTOR:
        if (pb__parse_factor(v, o->kind == PB__K_PROB ? 1 : o->max, (double *)(void *)p) < 0)
            goto bad;
        return 0;
    case PB__K_U64:
        if (pb__parse_u64(v, UINT64_MAX, &n) < 0)
            goto bad;
        *(uint64_t *)(void *)p = n;
        return 0;
    case PB__K_COUNT:
        if (pb__parse_u64(v, INT64_MAX, &n) < 0)
            goto bad;
        *(int64_t *)(void *)p = (int64_t)n;
        return 0;
    case PB__K_MONEY:
        return pb__apply_money(s, o, v, from);
    case PB__K_RATE:
        if (pb__parse_rate(v, &s->rate_milli) < 0)
            goto bad;
        return 0;
    case PB__K_PROJECT:
        if (pb__parse_u64(v, INT64_MAX, &n) < 0 || n == 0)
            goto bad;
        s->project_id = (int64_t)n;
        return 0;
    case PB__K_LOGFMT:
        if (strcmp(v, "text") && strcmp(v, "json"))
            goto bad;
        s->log_json = strcmp(v, "json") == 0;
        return 0;
    case PB__K_QUIET:
        s->quiet = 1, s->verbose = 0;
        return 0;
    case PB__K_VERBOSE:
        s->verbose = 1, s->quiet = 0;
        return 0;
    default:
        return 0;
    }
bad:
    if (o->kind == PB__K_UINT1) {
        pb_cli_error("%s: %s = '%s' is not valid: use a whole number from 1 to %u", from, o->name,
                     v ? v : "", o->max);
        return from[0] == '-' ? PB_EXIT_USAGE : PB_EXIT_CONFIG;
    }
    pb_cli_error("%s: %s = '%s' is not valid%s", from, o->name, v ? v : "",
                 o->kind == PB__K_RATE      ? ": use a positive number like 10 or 0.5"
                 : o->kind == PB__K_PROJECT ? ": use the project's number"
                 : o->kind == PB__K_FLAG    ? ": use true or false"
                 : o->kind == PB__K_LOGFMT  ? ": use text or json"
                 : o->kind == PB__K_PROB    ? ": use a probability from 0 to 1"
                 : o->kind == PB__K_FACTOR  ? ": use a number from 0 to 1000"
                                            : ": use a whole number");
    return from[0] == '-' ? PB_EXIT_USAGE : PB_EXIT_CONFIG;
}

typedef struct {
    pb_settings *s;
    const char *file;
    int rc;
} pb__ini_ctx;

/* Debian's inih passes no line number: a handler that fails returns 0, ini_parse() then
 * returns the line, and the caller adds it to the message. */
static int pb__ini_handler(void *user, const char *section, const char *name, const char *value)
{
    pb__ini_ctx *c = user;
    const pb__opt *o = pb__find(name);
    char from[PATH_MAX + 32];

    (void)section; /* sections only group keys for people */
    if (c->rc)
        return 0;
    snprintf(from, sizeof(from), "%s", c->file);
    if (!strcmp(name, "secret") || !strcmp(name, "secret-key") || !strcmp(name, "secret_key")) {
        pb_cli_error("%s: the secret is never read from the config file; put it in a file of "
                     "its own (secret-file = PATH, mode 0600) or PAYBATCH_SECRET_KEY",
                     from);
        c->rc = PB_EXIT_CONFIG;
        return 0;
    }
    if (!o || o->kind == PB__K_CONFIG || o->kind == PB__K_HELP) {
        pb_cli_error("%s: unknown key '%s'; keys are the long option names (paybatch COMMAND "
                     "--help)",
                     from, name);
        c->rc = PB_EXIT_CONFIG;
        return 0;
    }
    if (o->cmds && !(o->cmds & c->s->cmd))
        return 1; /* another command's key: the file is shared */
    if (o->kind == PB__K_QUIET || o->kind == PB__K_VERBOSE) {
        int on;
        if (pb__parse_bool(value, &on) < 0) {
            pb_cli_error("%s: %s = '%s': use true or false", from, name, value);
            c->rc = PB_EXIT_CONFIG;
        } else if (on) {
            c->rc = pb__apply(c->s, o, NULL, from);
        }
        return c->rc ? 0 : 1;
    }
    c->rc = pb__apply(c->s, o, value, from);
    return c->rc ? 0 : 1;
}

static void pb__defaults(pb_settings *s)
{
    s->rate_milli = 10000;
    s->concurrency = 8;
    s->timeout_s = 30;
    s->max_findings = 1000;
    s->threads = 2;
    s->callback_delay_ms = 200;
    s->callback_retry_scale = 1.0;
    s->callback_max_attempts = PB_SANDBOX_CB_MAX_ATTEMPTS;
    pb_guard_limits_init(&s->limits);
    s->recent_days = 7;
    s->approvals_required = 1;
}

static int pb__fill_defaults_str(pb_settings *s)
{
    if (!s->state && !(s->state = pb_strdup(PB_DEFAULT_STATE)))
        return -1;
    if (!s->gate_url && !(s->gate_url = pb_strdup(PB_DEFAULT_GATE_URL)))
        return -1;
    return 0;
}

int pb_settings_parse(pb_settings *s, unsigned cmd, int argc, char **argv, void (*usage)(FILE *out),
                      char **pos, size_t maxpos, size_t *npos)
{
    struct option longopts[PB__NOPTS + 1];
    const char *argv_val[PB__NOPTS];
    unsigned char argv_set[PB__NOPTS];
    /* repeatable options (CUR:AMOUNT lists) keep every value */
    const char *argv_multi[PB__NOPTS][PB_GUARD_MAX_CUR + 1];
    unsigned char argv_nmulti[PB__NOPTS];
    const char *config = NULL;
    size_t i, n = 0;
    int opt, idx, rc;

    memset(s, 0, sizeof(*s));
    memset(argv_set, 0, sizeof(argv_set));
    memset(argv_nmulti, 0, sizeof(argv_nmulti));
    s->cmd = cmd;
    pb__defaults(s);
    *npos = 0;

    for (i = 0; i < PB__NOPTS; i++) {
        if (!(pb__opts[i].cmds & cmd) || (pb__cfg_only(&pb__opts[i]) & cmd))
            continue;
        longopts[n].name = pb__opts[i].name;
        longopts[n].has_arg = (pb__opts[i].kind == PB__K_FLAG || pb__opts[i].kind == PB__K_QUIET ||
                               pb__opts[i].kind == PB__K_VERBOSE || pb__opts[i].kind == PB__K_HELP)
                                  ? no_argument
                                  : required_argument;
        longopts[n].flag = NULL;
        longopts[n].val = 1000 + (int)i;
        n++;
    }
    memset(&longopts[n], 0, sizeof(longopts[n]));

    /* a secret never goes on the command line, where `ps` and shell history show it */
    for (idx = 1; idx < argc; idx++) {
        if (!strncmp(argv[idx], "--secret-key", 12) || !strcmp(argv[idx], "--secret") ||
            !strncmp(argv[idx], "--secret=", 9)) {
            pb_cli_error("the secret key is never accepted on the command line; use "
                         "--secret-file PATH or the environment variable PAYBATCH_SECRET_KEY");
            return PB_EXIT_USAGE;
        }
        if (!strcmp(argv[idx], "--"))
            break;
    }

    /* GNU order: options and operands may be mixed; "--" ends the options */
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "qvh", longopts, &idx)) != -1) {
        const pb__opt *o;
        if (opt == 'q')
            opt = 1000 + (int)(pb__find("quiet") - pb__opts);
        else if (opt == 'v')
            opt = 1000 + (int)(pb__find("verbose") - pb__opts);
        else if (opt == 'h')
            opt = 1000 + (int)(pb__find("help") - pb__opts);
        if (opt < 1000) {
            if (optopt >= 1000)
                pb_cli_error("option --%s needs a value", pb__opts[optopt - 1000].name);
            else if (optopt)
                pb_cli_error("unknown option -%c", optopt);
            else
                pb_cli_error("unknown option %s", argv[optind - 1]);
            pb_cli_error("see paybatch %s --help", argv[0]);
            return PB_EXIT_USAGE;
        }
        o = &pb__opts[opt - 1000];
        if (o->kind == PB__K_HELP) {
            /* PB_EXIT_OK is 0, "go on" to a caller: --help ends the process here instead (nothing
             * is allocated yet), else `send --help` went on to "needs exactly one FILE.csv" */
            usage(stdout);
            /* help printed: the caller leaves with 0 (74 if stdout cannot be written) */
            return fflush(stdout) == 0 && !ferror(stdout) ? PB_SETTINGS_DONE : PB_EXIT_IOERR;
        }
        if (o->kind == PB__K_CONFIG) {
            config = optarg;
            continue;
        }
        argv_set[opt - 1000] = 1;
        argv_val[opt - 1000] = optarg;
        if (o->kind == PB__K_MONEY) {
            if (argv_nmulti[opt - 1000] > PB_GUARD_MAX_CUR) {
                pb_cli_error("--%s: at most %d currencies", o->name, PB_GUARD_MAX_CUR);
                return PB_EXIT_USAGE;
            }
            argv_multi[opt - 1000][argv_nmulti[opt - 1000]++] = optarg;
        }
    }
    for (idx = optind; idx < argc; idx++) {
        if (*npos >= maxpos) {
            pb_cli_error("unexpected argument '%s'; see paybatch %s --help", argv[idx], argv[0]);
            return PB_EXIT_USAGE;
        }
        pos[(*npos)++] = argv[idx];
    }

    /* config file < environment < command line */
    if (!config)
        config = getenv("PAYBATCH_CONFIG");
    if (!config && access("paybatch.conf", F_OK) == 0)
        config = "paybatch.conf";
    if (config) {
        pb__ini_ctx c = {s, config, 0};
        int line = ini_parse(config, pb__ini_handler, &c);
        if (c.rc) {
            pb_cli_error("(in %s, line %d)", config, line);
            return c.rc;
        }
        if (line == -1) {
            pb_cli_error("cannot read the config file %s: %s", config, strerror(errno));
            return PB_EXIT_CONFIG;
        }
        if (line != 0) {
            pb_cli_error("%s:%d: not a `key = value` line", config, line);
            return PB_EXIT_CONFIG;
        }
        if (!(s->config_path = pb_strdup(config)))
            goto oom;
    }
    for (i = 0; i < PB__NOPTS; i++) {
        char env[64], *e, *v;
        const char *nm = pb__opts[i].name;
        size_t k = 0;
        /* a flag reads true/false/yes/no/1/0 from its variable, like from the config file */
        if (!(pb__opts[i].cmds & cmd) || (pb__cfg_only(&pb__opts[i]) & cmd) ||
            pb__opts[i].kind >= PB__K_QUIET || (!pb__opts[i].arg && pb__opts[i].kind != PB__K_FLAG))
            continue;
        k = (size_t)snprintf(env, sizeof(env), "PAYBATCH_");
        for (; *nm && k + 1 < sizeof(env); nm++)
            env[k++] = *nm == '-' ? '_' : (char)(*nm >= 'a' && *nm <= 'z' ? *nm - 32 : *nm);
        env[k] = '\0';
        if ((v = getenv(env)) != NULL && *v) {
            e = env;
            if ((rc = pb__apply(s, &pb__opts[i], v, e)) != 0)
                return rc == PB_EXIT_USAGE ? PB_EXIT_CONFIG : rc;
        }
    }
    for (i = 0; i < PB__NOPTS; i++) {
        char from[80];
        if (!argv_set[i])
            continue;
        snprintf(from, sizeof(from), "--%s", pb__opts[i].name);
        if (pb__opts[i].kind == PB__K_MONEY) {
            size_t k;
            for (k = 0; k < argv_nmulti[i]; k++)
                if ((rc = pb__apply(s, &pb__opts[i], argv_multi[i][k], from)) != 0)
                    return rc;
            continue;
        }
        if ((rc = pb__apply(s, &pb__opts[i], argv_val[i], from)) != 0)
            return rc;
    }
    if (pb__fill_defaults_str(s) < 0)
        goto oom;
    return 0;
oom:
    pb_cli_error("out of memory");
    return PB_EXIT_SOFTWARE;
}

int pb_settings_secret(const pb_settings *s, char **secret, size_t *len)
{
    const char *env;
    char *buf = NULL;
    size_t n = 0;

    *secret = NULL;
    *len = 0;
    if (s->secret_file) {
        struct stat st;
        ssize_t r;
        int fd = open(s->secret_file, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) != 0) {
            pb_error_set("cannot read the secret file %s: %s", s->secret_file, strerror(errno));
            if (fd >= 0)
                close(fd);
            return PB_EIO;
        }
        if (st.st_mode & (S_IRWXG | S_IRWXO))
            pb_cli_error("warning: the secret file %s can be read by others (mode %03o); "
                         "chmod 600 it",
                         s->secret_file, (unsigned)(st.st_mode & 0777));
        if (!S_ISREG(st.st_mode) || st.st_size > 4096) {
            close(fd);
            pb_error_set("the secret file %s is not a small regular file", s->secret_file);
            return PB_EINVAL;
        }
        buf = pb_malloc(4097);
        if (!buf) {
            close(fd);
            return PB_ENOMEM;
        }
        while ((r = read(fd, buf + n, 4096 - n)) > 0)
            n += (size_t)r;
        close(fd);
        if (r < 0) {
            pb_error_set("cannot read the secret file %s: %s", s->secret_file, strerror(errno));
            pb_settings_secret_free(buf, 4097);
            return PB_EIO;
        }
    } else if ((env = getenv("PAYBATCH_SECRET_KEY")) != NULL && *env) {
        n = strlen(env);
        if (!(buf = pb_malloc(n + 1)))
            return PB_ENOMEM;
        memcpy(buf, env, n);
    } else {
        pb_error_set("no secret key: put it in a file (mode 0600) named by --secret-file, or in "
                     "the environment variable PAYBATCH_SECRET_KEY");
        return PB_ENOTFOUND;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    if (n == 0) {
        pb_settings_secret_free(buf, 1);
        pb_error_set("the secret key is empty");
        return PB_EINVAL;
    }
    *secret = buf;
    *len = n;
    return 0;
}

void pb_settings_secret_free(char *secret, size_t len)
{
    if (!secret)
        return;
    /* volatile stores are not optimised away: the secret does not outlive its use */
    for (volatile char *p = secret; len > 0; len--)
        *p++ = 0;
    pb_free(secret);
}

/* text from column `indent` on, broken at spaces before column `width` */
static void pb__print_wrapped(FILE *out, const char *text, int indent, int width)
{
    const char *p = text;
    int col = indent;

    while (*p) {
        size_t w = strcspn(p, " ");
        if (col > indent && col + 1 + (int)w > width) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', out);
            col++;
        }
        fprintf(out, "%.*s", (int)w, p);
        col += (int)w;
        p += w;
        while (*p == ' ')
            p++;
    }
    fputc('\n', out);
}

void pb_settings_print_options(FILE *out, unsigned cmd)
{
    size_t i;
    for (i = 0; i < PB__NOPTS; i++) {
        char left[64];
        const pb__opt *o = &pb__opts[i];
        if (!(o->cmds & cmd) || !o->help)
            continue;
        if (pb__cfg_only(o) & cmd) {
            char key[40];
            size_t k;
            snprintf(key, sizeof(key), "%s", o->name);
            for (k = 0; key[k]; k++)
                key[k] = key[k] == '-' ? '_' : key[k];
            snprintf(left, sizeof(left), "%s = %s", key, o->arg ? o->arg : "VALUE");
            fprintf(out, "  %-28s ", left);
            pb__print_wrapped(out, o->help, 31, 80);
            fprintf(out, "%31s(config file only)\n", "");
            continue;
        }
        snprintf(left, sizeof(left), "%s%s--%s%s%s",
                 o->kind == PB__K_QUIET     ? "-q, "
                 : o->kind == PB__K_VERBOSE ? "-v, "
                 : o->kind == PB__K_HELP    ? "-h, "
                                            : "",
                 "", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(out, "  %-28s ", left);
        pb__print_wrapped(out, o->help, 31, 80);
    }
}

void pb_settings_free(pb_settings *s)
{
    size_t i;
    if (!s)
        return;
    for (i = 0; i < PB__NOPTS; i++) {
        if (pb__opts[i].kind == PB__K_STR) {
            char **p = (char **)(void *)((char *)s + pb__opts[i].off);
            pb_free(*p);
            *p = NULL;
        }
    }
    pb_free(s->config_path);
    s->config_path = NULL;
}
