/*
 * cmd_reconcile.c - `paybatch reconcile`: settle what can be settled by asking Gate, then write
 * the result CSV from the state store alone (SPEC §3, §8). It never sends a payout: rows in
 * doubt are resolved through status queries; a row Gate has never seen goes back to queued for
 * the next `send`.
 */
#include "batch/cli/cli.h"
#include "batch/cli/options.h"
#include "batch/send/result.h"
#include "batch/send/result_xlsx.h"
#include "batch/send/send.h"
#include "batch/util/log.h"
#include "batch/util/outfile.h"
#include "core/alloc.h"
#include "core/errors.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void pb__reconcile_usage(FILE *out)
{
    fputs("Usage: paybatch reconcile [options]\n"
          "\n"
          "Settle the rows of a batch that are still in doubt by asking Gate (never sending a\n"
          "payout), then write the result CSV from the state store: the input file is not\n"
          "needed. With one batch in the store --batch-id may be left out.\n"
          "\n"
          "Options:\n",
          out);
    pb_settings_print_options(out, PB_CMD_RECONCILE);
    fputs("\n"
          "Exit status: 0 every row is final; 75 some rows are still pending (run it again\n"
          "later); 74 the state store or an output cannot be written; 78 configuration; 64\n"
          "usage.\n",
          out);
}

typedef struct {
    const char *want;
    char name[256];
    int count;
} pb__pick;

static int pb__pick_batch(const pb_batch_info *b, void *payload)
{
    pb__pick *p = payload;
    if (p->want && strcmp(p->want, b->name) != 0)
        return 0;
    p->count++;
    snprintf(p->name, sizeof(p->name), "%s", b->name);
    return 0;
}

static uint64_t pb__open_rows(const pb_batch_counts *c)
{
    return c->rows[PB_ROW_QUEUED] + c->rows[PB_ROW_SENDING] + c->rows[PB_ROW_IN_DOUBT] +
           c->rows[PB_ROW_ACCEPTED];
}

int pb_cmd_reconcile(int argc, char **argv)
{
    pb_settings s;
    pb_store *st = NULL;
    pb_batch_info info;
    pb_batch_counts counts;
    pb__pick pick;
    char *secret = NULL;
    size_t npos = 0, secret_len = 0;
    struct stat sb;
    int tty = 0, rc, exit_code = PB_EXIT_SOFTWARE, lock_fd = -1, shared = 0;
    char worker[128] = "";
    int64_t lease_ms = 0;

    memset(&info, 0, sizeof(info));
    memset(&counts, 0, sizeof(counts));
    if ((rc = pb_settings_parse(&s, PB_CMD_RECONCILE, argc, argv, pb__reconcile_usage, NULL, 0,
                                &npos)) != 0) {
        pb_settings_free(&s);
        return pb_settings_exit(rc);
    }
    pb_log_setup(stderr, s.log_json ? PB_LOG_JSON : PB_LOG_TEXT,
                 s.quiet     ? PB_LOG_WARN
                 : s.verbose ? PB_LOG_DEBUG
                             : PB_LOG_INFO);
    if (s.out && s.out_xlsx) {
        int same = 0;
        if (pb_outfile_same(s.out, s.out_xlsx, &same) == 0 && same) {
            pb_cli_error("%s and %s are the same file: give each output its own", s.out,
                         s.out_xlsx);
            exit_code = PB_EXIT_USAGE;
            goto out;
        }
    }
    if (strncmp(s.state, "mem:", 4) != 0 && !pb_store_uri_is_pg(s.state) &&
        stat(s.state, &sb) != 0) {
        pb_cli_error("no state store at %s: give --state the file that send used", s.state);
        exit_code = PB_EXIT_NOINPUT;
        goto out;
    }
    if ((rc = pb_store_open(&st, s.state)) < 0) {
        pb_cli_error("state store %s: %s", pb_cli_shown(s.state), pb_error_last());
        exit_code = pb_cli_store_exit(rc, 1);
        goto out;
    }
    memset(&pick, 0, sizeof(pick));
    pick.want = s.batch_id;
    if ((rc = pb_store_batches_each(st, pb__pick_batch, &pick)) < 0)
        goto store_err;
    if (pick.count == 0) {
        pb_cli_error(s.batch_id ? "no batch %s in %s" : "%sno batches in %s",
                     s.batch_id ? s.batch_id : "", pb_cli_shown(s.state));
        exit_code = PB_EXIT_DATAERR;
        goto out;
    }
    if (pick.count > 1) {
        pb_cli_error("%s holds %d batches: name one with --batch-id (paybatch status lists them)",
                     pb_cli_shown(s.state), pick.count);
        exit_code = PB_EXIT_USAGE;
        goto out;
    }
    if (pb_cli_lock_batch(s.state, pick.name, &lock_fd) < 0) {
        pb_cli_error("%s", pb_error_last());
        exit_code = PB_EXIT_TEMPFAIL;
        goto out;
    }
    /* PostgreSQL: a worker among the batch's others (its leases keep it off their rows) */
    if ((shared = pb_cli_lease_begin(st, (long)s.timeout_s, worker, sizeof(worker), &lease_ms)) <
        0) {
        pb_cli_error("%s", pb_error_last());
        exit_code = pb_cli_store_exit(shared, 0);
        goto out;
    }
    if ((rc = pb_store_batch_get(st, pick.name, &info)) < 0 ||
        (rc = pb_store_counts(st, info.id, &counts)) < 0)
        goto store_err;
    {
        /* the gateway and project the batch was sent to: asking another one would find
         * nothing, and "not found" would put paid rows back in the queue */
        char stored_url[2048] = "";
        long long stored_project = 0;
        const char *p = info.settings ? strstr(info.settings, "gate_url=") : NULL;
        const char *q = info.settings ? strstr(info.settings, "project_id=") : NULL;
        if (p)
            sscanf(p + 9, "%2047[^\n]", stored_url);
        if (q)
            sscanf(q + 11, "%lld", &stored_project);
        if (strcmp(stored_url, "sandbox") == 0) {
            pb_cli_error("batch %s was sent to the embedded sandbox (send --sandbox), which is "
                         "gone: there is nothing to reconcile it with",
                         info.name);
            exit_code = PB_EXIT_USAGE;
            goto out;
        }
        if (stored_url[0] && strcmp(stored_url, s.gate_url) != 0) {
            if (strcmp(s.gate_url, PB_DEFAULT_GATE_URL) != 0) {
                pb_cli_error("batch %s was sent to %s, not %s", info.name, stored_url, s.gate_url);
                exit_code = PB_EXIT_CONFIG;
                goto out;
            }
            char *u = pb_strdup(stored_url);
            if (!u)
                goto store_err;
            pb_free(s.gate_url);
            s.gate_url = u;
        }
        if (stored_project && s.project_id && stored_project != (long long)s.project_id) {
            pb_cli_error("batch %s was sent with project id %lld, not %lld", info.name,
                         stored_project, (long long)s.project_id);
            exit_code = PB_EXIT_CONFIG;
            goto out;
        }
        if (stored_project && !s.project_id)
            s.project_id = (int64_t)stored_project;
    }

    if (counts.rows[PB_ROW_SENDING] + counts.rows[PB_ROW_IN_DOUBT] + counts.rows[PB_ROW_ACCEPTED] >
        0) {
        pb_send_opts so;
        pb_send_result sr;
        if (!s.project_id) {
            pb_cli_error("rows are not final and need status queries: give --project-id N (or "
                         "PAYBATCH_PROJECT_ID)");
            exit_code = PB_EXIT_CONFIG;
            goto out;
        }
        if ((rc = pb_settings_secret(&s, &secret, &secret_len)) < 0) {
            pb_cli_error("%s", pb_error_last());
            exit_code = PB_EXIT_CONFIG;
            goto out;
        }
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            pb_cli_error("cannot initialise libcurl");
            goto out;
        }
        memset(&so, 0, sizeof(so));
        so.store = st;
        so.batch = info.id;
        so.batch_name = info.name;
        so.gate_url = s.gate_url;
        so.project_id = s.project_id;
        so.secret = secret;
        so.secret_len = secret_len;
        pb_cli_send_opts(&so, &s, &tty);
        so.engine.status_only = 1;
        so.poll_once = 1; /* at least one status query per accepted row */
        so.worker = shared ? worker : NULL;
        so.lease_ms = lease_ms;
        rc = pb_send_run(&so, &sr);
        curl_global_cleanup();
        if (rc < 0) {
            pb_cli_error("%s", pb_error_last());
            exit_code = pb_cli_store_exit(rc, 0); /* a database gone away: 75, else 74 */
            goto out;
        }
        pb_batch_counts_clear(&counts);
        if ((rc = pb_store_counts(st, info.id, &counts)) < 0)
            goto store_err;
    }
    exit_code = pb__open_rows(&counts) ? PB_EXIT_TEMPFAIL : PB_EXIT_OK;
    if (s.out && pb_result_write(st, info.name, s.out) < 0) {
        pb_cli_error("--out: %s", pb_error_last());
        exit_code = PB_EXIT_IOERR;
        goto out;
    }
    if (s.out_xlsx && pb_result_xlsx_write(st, info.name, s.out_xlsx) < 0) {
        pb_cli_error("--out-xlsx: %s", pb_error_last());
        exit_code = PB_EXIT_IOERR;
        goto out;
    }
    if (s.report) {
        pb_outfile of;
        pb_buf b;
        pb_buf_init(&b, 1u << 20);
        rc = pb_buf_puts(&b, "{\"report_version\":1,\"command\":\"reconcile\"");
        if (rc == 0)
            rc = pb_cli_batch_members(&b, st, info.id, info.name, &counts);
        if (rc == 0)
            rc = pb_buf_printf(&b, ",\"exit_code\":%d}\n", exit_code);
        if (rc == 0 && (rc = pb_outfile_open(&of, s.report)) == 0) {
            if (fwrite(b.ptr, 1, b.len, of.f) != b.len)
                pb_outfile_abort(&of), rc = PB_EIO;
            else
                rc = pb_outfile_commit(&of);
        }
        pb_buf_free(&b);
        if (rc < 0) {
            pb_cli_error("--report %s: %s", s.report, pb_error_last());
            exit_code = PB_EXIT_IOERR;
            goto out;
        }
    }
    printf("batch %s (%s)\n", info.name, info.file_name);
    pb_cli_print_counts(stdout, &counts);
    if (exit_code == PB_EXIT_TEMPFAIL && counts.rows[PB_ROW_QUEUED])
        printf("result: %" PRIu64 " rows were never taken by Gate (queued): run the same send "
               "again to send them; reconcile never sends a payout\n",
               counts.rows[PB_ROW_QUEUED]);
    if (exit_code == PB_EXIT_TEMPFAIL && pb__open_rows(&counts) > counts.rows[PB_ROW_QUEUED])
        printf("result: %" PRIu64
               " rows are waiting for Gate's result; run reconcile again later\n",
               pb__open_rows(&counts) - counts.rows[PB_ROW_QUEUED]);
    goto out;

store_err:
    pb_cli_error("state store %s: %s", pb_cli_shown(s.state), pb_error_last());
    exit_code = pb_cli_store_exit(rc, 0);
out:
    if (lock_fd >= 0)
        close(lock_fd);
    pb_batch_counts_clear(&counts);
    pb_batch_info_clear(&info);
    pb_store_free(st);
    pb_settings_secret_free(secret, secret_len);
    pb_settings_free(&s);
    return exit_code;
}
