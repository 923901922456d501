/*
 * cli.h - what every paybatch command shares: exit codes, logging.
 */
#ifndef PB_CLI_CLI_H
#define PB_CLI_CLI_H

#include "batch/cli/options.h"
#include "batch/send/send.h"
#include "batch/store/store.h"
#include "core/buf.h"

#include <stdio.h>

#include "batch/util/outfile.h"

/* sysexits(3), SPEC §3 */
enum {
    PB_EXIT_OK = 0,
    PB_EXIT_USAGE = 64,
    PB_EXIT_DATAERR = 65,
    PB_EXIT_NOINPUT = 66,
    PB_EXIT_UNAVAILABLE = 69,
    PB_EXIT_SOFTWARE = 70,
    PB_EXIT_IOERR = 74,
    PB_EXIT_TEMPFAIL = 75,
    PB_EXIT_CONFIG = 78
};

typedef enum { PB_LOG_QUIET = 0, PB_LOG_NORMAL = 1, PB_LOG_VERBOSE = 2 } pb_log_level;

extern pb_log_level pb_cli_log_level;

/* "paybatch: " + message + newline on stderr (always shown: errors). Under --log-format json
 * the same message is one JSON line of the log sink instead (event "cli.error"). */
void pb_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* -q, -v and --log-format of the parsed settings: pb_cli_log_level and the log sink
 * (batch/util/log.h, on stderr). */
void pb_cli_log_setup(const pb_settings *s);

/* Output files (atomic, never clobbering special files): batch/util/outfile.h. */

int pb_cmd_validate(int argc, char **argv);
int pb_cmd_sandbox(int argc, char **argv);
int pb_cmd_send(int argc, char **argv);
int pb_cmd_plan(int argc, char **argv);
int pb_cmd_approve(int argc, char **argv);
int pb_cmd_status(int argc, char **argv);
int pb_cmd_listen(int argc, char **argv);

/* Counts and sums per currency per state: the closing summary of send, reconcile, status. */
void pb_cli_print_counts(FILE *out, const pb_batch_counts *c);
/* The batch section of a --report document: rows and sums per state per currency (from c), and
 * per result per currency, as the result CSV names them (a walk over the batch's rows). */
struct pb_json_report;
int pb_cli_report_batch(struct pb_json_report *json, pb_store *st, uint64_t batch, const char *name,
                        const pb_batch_counts *c, const char *plan);
/* The plan a batch was sent under (pb_batch_info.plan, may be NULL): report members
 * (",\"plan\":{\"digest\":...,\"approvers\":...}") and one line for people. */
int pb_cli_plan_members(pb_buf *b, const char *plan);
void pb_cli_plan_line(FILE *out, const char *plan);
/* The same members (",\"batch\":...,\"states\":{...},\"state_totals\":{...},
 * \"results\":{...},\"result_totals\":{...}") into b. */
int pb_cli_batch_members(pb_buf *b, pb_store *st, uint64_t batch, const char *name,
                         const pb_batch_counts *c);
int pb_cmd_reconcile(int argc, char **argv);
/* on_progress of send and reconcile: arg points to an int, 1 when stderr is a terminal. */
void pb_cli_progress(const pb_send_progress *p, void *arg);
/* Fill the run settings send and reconcile share (rate, concurrency, timeout, wait, store,
 * progress); tty must outlive the run. */
#include "batch/cli/options.h"
void pb_cli_send_opts(pb_send_opts *so, const pb_settings *s, int *tty);
/* Take the batch's lock (an advisory lock file beside the store); PB_EAGAIN with a message
 * when another process holds it. *fd_out: close it to release (-1 for stores with no file). */
int pb_cli_lock_batch(const char *state, const char *batch, int *fd_out);
/* Several workers on one batch (PostgreSQL): make st's handle a worker (pb_store_lease_begin)
 * with a fresh id in worker (cap >= 96) and leases of 3 x the request timeout (so a request
 * always ends well inside its row's lease), *lease_ms. 1: it is one, 0: the store keeps one
 * process per batch (SQLite, mem:), negative: an error with a message. */
int pb_cli_lease_begin(pb_store *st, long timeout_s, char *worker, size_t cap, int64_t *lease_ms);
/* The store URI as messages show it: a PostgreSQL password replaced by "***". Points to a
 * static buffer (valid until the next call; the CLI prints from one thread). */
const char *pb_cli_shown(const char *uri);
/* The exit code of a store failure rc: while opening (opening = 1) a configuration error
 * (bad URI, credentials, schema version) is 78 and a database that cannot be reached 69;
 * during a run a database that went away is 75 (incomplete: run again); ENOMEM 70, else 74. */
int pb_cli_store_exit(int rc, int opening);

#endif
