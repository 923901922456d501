/*
 * send_support.h - what cmd_send.c (send, plan) uses beside the run itself; see
 * send_support.c. Not for other commands (pb_cli_lock_batch, shared, is in cli.h).
 */
#ifndef PB_CLI_SEND_SUPPORT_H
#define PB_CLI_SEND_SUPPORT_H

#include "batch/cli/options.h"
#include "batch/cli/plan_cli.h"
#include "batch/util/outfile.h"
#include "core/guard.h"
#include "formats/gate_request.h"
#include "formats/report.h"

#include <stdio.h>
#include <sys/types.h>

typedef struct {
    pb_summary *summary;
    int verbose;
    pb_json_report *json;  /* --report, or NULL */
    uint64_t max_findings; /* written to the outputs before they are only counted */
    uint64_t written;
    pb_outfile *invalid; /* --invalid-out, or NULL */
    int invalid_header_done;
    int io_failed;
    const pb_gate_cfg *sign; /* --dry-run: build and sign every valid row's request */
    pb_buf body;
    uint64_t signed_rows, sign_failed;
    uint64_t body_bytes;
    pb_guard *guard; /* every row to send is counted against the limits */
    int guard_rc;
    pb_cli_plan *plan; /* plan, send --plan: the plan of this run */
} pb_cli_send_fs;

/* The embedded sandbox: this program, run as `paybatch sandbox` on a free loopback port. */
typedef struct {
    pid_t pid;
    FILE *out; /* its stdout, kept open so its closing summary does not hit a closed pipe */
    char url[160];
} pb_cli_sbx;

void pb_cli_send_usage(FILE *out);
void pb_cli_plan_usage(FILE *out);
/* The validation's callbacks (payload: a pb_cli_send_fs). */
void pb_cli_send_on_finding(const pb_finding *f, void *payload);
int pb_cli_send_on_row(const pb_row_report *r, int valid, const pb_validator *v, void *payload);
/* `send --sandbox`: this program as `paybatch sandbox` on a free loopback port; s->url is its
 * base URL. stop accepts a sandbox that never started (pid -1). */
int pb_cli_sandbox_start(pb_cli_sbx *s, int64_t project_id, const char *secret);
void pb_cli_sandbox_stop(pb_cli_sbx *s);
/* 1 for an http(s) URL that libcurl can parse. */
int pb_cli_url_ok(const char *u);
/* On a terminal: the summary of what is about to be sent, and the number of rows typed back.
 * 1 to go on, 0 not. */
int pb_cli_confirm(const pb_settings *s, const char *name, const char *file, const pb_guard *g,
                   uint64_t rows);

#endif
