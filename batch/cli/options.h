/*
 * options.h - one option parser for every command: argv, environment, config file, defaults.
 *
 * Precedence (SPEC §6): command line > environment (PAYBATCH_<OPTION>, e.g. PAYBATCH_RATE,
 * PAYBATCH_PROJECT_ID) > config file (--config PATH, else PAYBATCH_CONFIG, else ./paybatch.conf
 * when present; INI `key = value` with the long option names, read by inih) > defaults.
 * A config file is shared by every command: a key that another command uses is ignored, an
 * unknown key is a configuration error naming the file and line. The secret is never an
 * option value: it comes from --secret-file or PAYBATCH_SECRET_KEY (pb_settings_secret()).
 *
 * Ownership: pb_settings owns every string in it; pb_settings_free() releases them.
 */
#ifndef PB_CLI_OPTIONS_H
#define PB_CLI_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/guard.h"

enum {
    PB_CMD_VALIDATE = 1u << 0,
    PB_CMD_SEND = 1u << 1,
    PB_CMD_LISTEN = 1u << 2,
    PB_CMD_RECONCILE = 1u << 3,
    PB_CMD_STATUS = 1u << 4,
    PB_CMD_SANDBOX = 1u << 5,
    PB_CMD_PLAN = 1u << 6,
    PB_CMD_APPROVE = 1u << 7
};

#define PB_DEFAULT_GATE_URL "https://api.ecommpay.com"
#define PB_DEFAULT_STATE    "./paybatch.db"

typedef struct {
    unsigned cmd; /* the PB_CMD_ bit being run */
    /* where */
    char *state;
    char *gate_url;
    int64_t project_id; /* 0 = not set */
    char *secret_file;
    char *config_path; /* the config file actually read, or NULL */
    char *ca_file;
    /* what */
    char *method;
    char *delimiter;
    char *batch_id;
    int allow_conversion;
    int skip_invalid;
    int dry_run;
    int sandbox;
    int yes;
    int migrate; /* status --migrate */
    /* how fast */
    uint32_t rate_milli; /* requests per second x 1000 (fractional rates allowed) */
    unsigned concurrency;
    unsigned timeout_s; /* total time of one request */
    unsigned wait_s;    /* after dispatch, wait this long for final statuses */
    /* callbacks */
    char *callback_listen;
    char *callback_url;
    /* outputs */
    char *out;
    char *out_xlsx; /* the result workbook */
    char *report;
    char *invalid_out;
    uint64_t max_findings;
    unsigned threads; /* validate: 2 checks the rows on a second thread, 1 not (same results) */
    /* logs */
    int quiet;
    int verbose;
    int log_json;
    /* guard-rails (issue #14): --max-total, --max-amount, --expect-total (repeatable, or
     * comma separated), --max-rows, --expect-rows (-1 = not set) */
    pb_guard_limits limits;
    unsigned char limits_from[3]; /* where each money list came from: 0 none, 1 config file,
                                     2 environment, 3 command line (a higher one replaces) */
    char *control;                /* --control FILE */
    unsigned recent_days;         /* paid-recently window, 0 = off (default 7) */
    int strict_recent;
    /* plans and approvals */
    char *plan; /* send --plan PLAN.json */
    char *key;  /* approve --key APPROVER.pem */
    char *name; /* approve --name: who approves (default: the key's fingerprint) */
    int require_plan;
    char *approval_keys; /* config: approvers' public key files (PEM), comma separated */
    unsigned approvals_required;
    unsigned approval_max_age_s; /* 0: approvals do not expire */
    /* sandbox (SPEC §9) */
    char *listen; /* HOST:PORT */
    char *ledger;
    unsigned max_payments; /* 0 = the sandbox's default */
    uint64_t seed;
    unsigned callback_delay_ms;
    unsigned callback_max_attempts;
    unsigned slow_ms;
    double callback_retry_scale;                        /* 0..1000, a factor of time, never money */
    double fail_429, fail_500, drop_after_record, slow; /* probabilities 0..1 */
    double callback_drop, callback_dup, callback_wrong_key, callback_reorder;
} pb_settings;

/*
 * Parse argv (argv[0] is the command name) for the command `cmd` into s (zeroed here), and
 * the positional arguments into pos (pointers into argv, at most maxpos; *npos their count).
 * usage prints the command's help. Returns 0 to go on, PB_SETTINGS_DONE after --help (leave
 * with exit status 0), or the exit code to leave with (PB_EXIT_USAGE, PB_EXIT_CONFIG, ...),
 * after printing why. pb_settings_exit() turns a nonzero return into the exit status.
 */
#define PB_SETTINGS_DONE 0x100 /* not an exit status: none is above 255 */
static inline int pb_settings_exit(int rc)
{
    return rc == PB_SETTINGS_DONE ? 0 : rc;
}
int pb_settings_parse(pb_settings *s, unsigned cmd, int argc, char **argv, void (*usage)(FILE *out),
                      char **pos, size_t maxpos, size_t *npos);

/*
 * The project's secret: the contents of --secret-file (one trailing newline dropped; a file
 * readable by group or others gets a warning) or PAYBATCH_SECRET_KEY. *secret is pb_malloc'd
 * (the caller wipes and frees it with pb_settings_secret_free). Returns 0, or PB_ENOTFOUND
 * (neither given), PB_EIO (unreadable file), PB_EINVAL (empty), with a message.
 */
int pb_settings_secret(const pb_settings *s, char **secret, size_t *len);
void pb_settings_secret_free(char *secret, size_t len);

/* The option lines of `cmd` for its --help text. */
void pb_settings_print_options(FILE *out, unsigned cmd);

void pb_settings_free(pb_settings *s);

#endif
