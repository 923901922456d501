/*
 * send_support.c - the parts of `send` and `plan` (cmd_send.c) that are not the run itself:
 * their help texts, the finding and row callbacks of the validation, the embedded sandbox,
 * the URL check, the batch lock and the confirmation asked on a terminal.
 */
#include "batch/cli/send_support.h"

#include "batch/cli/cli.h"
#include "batch/util/log.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/money.h"
#include "formats/gate_request.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

void pb_cli_send_usage(FILE *out)
{
    fputs("Usage: paybatch send [options] FILE.csv\n"
          "\n"
          "Validate a payout file, record it in the state store, and send one signed payout\n"
          "request per valid row to Gate, rate-limited, exactly once. Running the same command\n"
          "again resumes the batch: final rows are left alone, rows in doubt are asked about\n"
          "first, the rest are sent.\n"
          "\n"
          "Options:\n",
          out);
    pb_settings_print_options(out, PB_CMD_SEND);
    fputs("\n"
          "Exit status: 0 every row is final; 65 invalid rows (nothing sent without\n"
          "--skip-invalid), a limit or control total not met; 66 the file cannot be read; 69 the "
          "gateway refused or never\n"
          "answered any request; 74 the state store or an output cannot be written; 75 some\n"
          "rows are still pending or in doubt (run the same command, or reconcile, later);\n"
          "78 configuration (no project id, no secret, bad URL); 64 usage.\n",
          out);
}

void pb_cli_plan_usage(FILE *out)
{
    fputs("Usage: paybatch plan [options] FILE.csv --out PLAN.json\n"
          "\n"
          "Validate a payout file exactly as send would, against the state store and the\n"
          "limits in force, and write the plan of the send to PLAN.json: the settings, one line\n"
          "per row to send, totals, findings and a digest over all of it. Nothing is sent.\n"
          "Approve it with paybatch approve --key KEY.pem PLAN.json; run it with\n"
          "paybatch send FILE.csv --plan PLAN.json and the same options.\n"
          "\n"
          "Options (--out is the plan file):\n",
          out);
    pb_settings_print_options(out, PB_CMD_PLAN);
    fputs(
        "\n"
        "Exit status: 0 plan written; 65 invalid rows, a limit or control total not met;\n"
        "66 the file cannot be read; 74 the plan cannot be written; 78 configuration; 64 usage.\n",
        out);
}

void pb_cli_send_on_finding(const pb_finding *f, void *payload)
{
    pb_cli_send_fs *fs = payload;
    (void)pb_summary_add(fs->summary, f); /* examples only; counts are the validator's */
    if (fs->plan)
        pb_cli_plan_finding(fs->plan, f);
    if (fs->verbose) {
        /* through the log sink, so --log-format json keeps one object per line */
        pb_log_ctx lc = {"row.finding", NULL, f->row, NULL, pb_finding_name(f->code)};
        pb_log(PB_LOG_DEBUG, &lc, "%s: %s", pb_finding_name(f->code), f->message);
    }
    if (!fs->json)
        return;
    if (fs->written >= fs->max_findings) {
        pb_json_report_omit(fs->json, f);
        return;
    }
    fs->written++;
    if (pb_json_report_finding(fs->json, f) < 0)
        fs->io_failed = 1;
}

int pb_cli_send_on_row(const pb_row_report *r, int valid, const pb_validator *v, void *payload)
{
    pb_cli_send_fs *fs = payload;
    const pb_header_map *map = pb_validator_header(v);
    if (valid && fs->plan && r->row && r->res && r->res->method && r->res->currency)
        pb_cli_plan_row(fs->plan, (uint32_t)r->rec->row, r->row->cell[PB_COL_PAYMENT_ID],
                        r->res->method->name, r->res->amount_minor, r->res->currency->code,
                        r->row->cell[PB_COL_ACCOUNT]);
    if (valid && fs->guard && r->res && r->res->currency && r->res->amount_ok && !fs->guard_rc)
        fs->guard_rc = pb_guard_add(fs->guard, (uint32_t)r->rec->row, r->res->currency->code,
                                    r->res->amount_minor);
    if (valid && fs->sign && r->row && r->res) {
        pb_buf_clear(&fs->body);
        if (pb_gate_payout_body(r->row, r->res, fs->sign, &fs->body) == 0) {
            fs->signed_rows++;
            fs->body_bytes += fs->body.len;
        } else {
            fs->sign_failed++;
            pb_cli_error("row %" PRIu64 ": the request cannot be built: %s", r->rec->row,
                         pb_error_last());
        }
    }
    if (valid || !fs->invalid || !map)
        return fs->io_failed ? PB_EIO : 0;
    if (!fs->invalid_header_done) {
        if (pb_invalid_csv_header(fs->invalid->f, map, pb_validator_delimiter(v),
                                  pb_validator_had_bom(v)) < 0)
            return PB_EIO;
        fs->invalid_header_done = 1;
    }
    return pb_invalid_csv_row(fs->invalid->f, map, r, pb_validator_delimiter(v)) < 0 ? PB_EIO : 0;
}

int pb_cli_sandbox_start(pb_cli_sbx *s, int64_t project_id, const char *secret)
{
    int fds[2];
    char line[128], proj[32];
    FILE *f;

    s->pid = -1;
    if (pipe(fds) != 0)
        return pb_error_set("cannot start the sandbox: %s", strerror(errno));
    snprintf(proj, sizeof(proj), "%" PRId64, project_id);
    s->pid = fork();
    if (s->pid < 0) {
        close(fds[0]), close(fds[1]);
        return pb_error_set("cannot start the sandbox: %s", strerror(errno));
    }
    if (s->pid == 0) {
        char *argv[] = {"paybatch",     "sandbox", "--listen", "127.0.0.1:0",
                        "--project-id", proj,      NULL};
        dup2(fds[1], 1);
        close(fds[0]), close(fds[1]);
        setenv("PAYBATCH_SECRET_KEY", secret, 1);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    if (!f || !fgets(line, sizeof(line), f) || strncmp(line, "listening on ", 13) != 0) {
        if (f)
            fclose(f);
        else
            close(fds[0]);
        return pb_error_set("the embedded sandbox did not start");
    }
    line[strcspn(line, "\r\n")] = '\0';
    snprintf(s->url, sizeof(s->url), "http://%s", line + 13);
    s->out = f;
    return 0;
}

void pb_cli_sandbox_stop(pb_cli_sbx *s)
{
    int st;
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    (void)waitpid(s->pid, &st, 0);
    s->pid = -1;
    if (s->out)
        fclose(s->out);
    s->out = NULL;
}

/* An http(s) URL that libcurl can parse: a bad one is a configuration error now, not a
 * minute of "not sent" retries later. */
int pb_cli_url_ok(const char *u)
{
    CURLU *h;
    int ok;
    if (!((!strncmp(u, "https://", 8) && u[8]) || (!strncmp(u, "http://", 7) && u[7])))
        return 0;
    if (!(h = curl_url()))
        return 0;
    ok = curl_url_set(h, CURLUPART_URL, u, 0) == CURLUE_OK;
    curl_url_cleanup(h);
    return ok;
}

/*
 * One process at a time works on a batch: a second `send` (or a `reconcile`) would take the
 * first one's freshly claimed rows for crash leftovers. An advisory lock on a file beside the
 * store, named after the batch; the kernel drops it when the process ends, kill -9 too.
 */
int pb_cli_lock_batch(const char *state, const char *batch, int *fd_out)
{
    char path[4096], safe[96];
    size_t i, k = 0;
    int fd;

    *fd_out = -1;
    if (strncmp(state, "mem:", 4) == 0 || pb_store_uri_is_pg(state))
        return 0;
    for (i = 0; batch[i] && k + 1 < sizeof(safe); i++) {
        char c = batch[i];
        safe[k++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_')
                        ? c
                        : '_';
    }
    safe[k] = '\0';
    snprintf(path, sizeof(path), "%s.%s.lock", state, safe);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return pb_error_set("cannot open the batch lock %s: %s", path, strerror(errno)), PB_EIO;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return pb_error_set("batch %s is being worked on by another paybatch process (lock %s); "
                            "run this again when it has finished",
                            batch, path),
               PB_EAGAIN;
    }
    *fd_out = fd;
    return 0;
}

int pb_cli_lease_begin(pb_store *st, long timeout_s, char *worker, size_t cap, int64_t *lease_ms)
{
    int rc;
    *lease_ms = 3 * (int64_t)(timeout_s > 0 ? timeout_s : 30) * 1000;
    pb_store_worker_id(worker, cap);
    rc = pb_store_lease_begin(st, worker, *lease_ms);
    if (rc == PB_ENOTSUP) {
        worker[0] = '\0';
        return 0;
    }
    return rc < 0 ? rc : 1;
}

/* On a terminal, before money moves: the summary of what is about to be sent, and the number
 * of rows typed back. 1 to go on, 0 not. */
int pb_cli_confirm(const pb_settings *s, const char *name, const char *file, const pb_guard *g,
                   uint64_t rows)
{
    char line[64], want[32], amt[32];
    const char *cur;
    size_t i;
    printf("\nabout to send batch %s (%s) to %s, project %lld:\n", name, file,
           s->sandbox ? "the embedded sandbox" : s->gate_url, (long long)s->project_id);
    for (i = 0; (cur = pb_guard_currency(g, i)) != NULL; i++) {
        uint64_t n;
        int64_t sum;
        const pb_currency *c = pb_currency_find(cur, strlen(cur));
        pb_guard_totals(g, cur, &n, &sum);
        if (pb_money_format(sum, c ? c->exponent : 2, amt, sizeof(amt)) < 0)
            amt[0] = '\0';
        printf("  %s %s in %llu row%s\n", cur, amt, (unsigned long long)n, n == 1 ? "" : "s");
    }
    snprintf(want, sizeof(want), "%llu", (unsigned long long)rows);
    printf("Type the number of rows to send (%s) to send them, anything else to stop: ", want);
    (void)fflush(stdout);
    if (!fgets(line, sizeof(line), stdin))
        return 0;
    line[strcspn(line, "\r\n")] = '\0';
    return strcmp(line, want) == 0;
}
