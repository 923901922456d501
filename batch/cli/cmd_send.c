/*
 * cmd_send.c - `paybatch send`: validate a payout file, put it in the state store, send every
 * valid row once, and say what became of each (SPEC §3, §5, §7); and `paybatch plan`, the same
 * run up to the point where money would move, written as a plan (issue #14). The guard-rails
 * (limits, control totals, paid-recently, plan and approvals, the confirmation on a terminal)
 * all stand before the rows go into the store. Helpers: send_support.c, guardrails.c,
 * plan_cli.c.
 */
#include "batch/cli/cli.h"
#include "batch/cli/guardrails.h"
#include "batch/cli/plan_cli.h"
#include "batch/cli/send_support.h"
#include "batch/cli/options.h"
#include "batch/send/load.h"
#include "batch/send/result.h"
#include "batch/send/result_xlsx.h"
#include "batch/send/send.h"
#include "batch/util/log.h"
#include "batch/util/outfile.h"
#include "formats/json_write.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/money.h"
#include "core/str.h"
#include "formats/gate_request.h"
#include "formats/report.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PB__EXAMPLES 5

static int64_t pb__now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int pb__run(int argc, char **argv, unsigned cmd);

int pb_cmd_send(int argc, char **argv)
{
    return pb__run(argc, argv, PB_CMD_SEND);
}

int pb_cmd_plan(int argc, char **argv)
{
    return pb__run(argc, argv, PB_CMD_PLAN);
}

static int pb__run(int argc, char **argv, unsigned cmd)
{
    const int planning = cmd == PB_CMD_PLAN;
    pb_plan_doc *want = NULL; /* send --plan */
    pb_cli_plan pl;
    pb_outfile planf;
    pb_guard_limits lim;
    pb_plan_head head;
    char approvers[1024], digest[PB_PLAN_DIGEST_LEN + 1], plan_rec[1200], created_at[32];
    pb_settings s;
    char *pos[1], *secret = NULL, name[80], sbx_secret[65], settings[4096];
    int lock_fd = -1, shared = 0;
    char worker[128] = "";
    int64_t lease_ms = 0;
    size_t npos = 0, secret_len = 0;
    pb_store *st = NULL;
    pb_batch_info info;
    pb_load_opts lo;
    pb_load_result lr;
    pb_cli_send_fs fs;
    pb_send_opts so;
    pb_send_result sr;
    pb_loader *loader = NULL;
    pb_batch_counts counts;
    pb_cli_sbx sbx = {-1, NULL, ""};
    pb_outfile report, invalid;
    pb_gate_cfg dry_cfg;
    const char *gate_url, *file;
    int tty = 0, rc, exit_code = PB_EXIT_SOFTWARE, exists = 0, all_final;

    memset(&lr, 0, sizeof(lr));
    memset(&info, 0, sizeof(info));
    memset(&report, 0, sizeof(report));
    memset(&invalid, 0, sizeof(invalid));
    memset(&counts, 0, sizeof(counts));
    memset(&fs, 0, sizeof(fs));
    memset(&dry_cfg, 0, sizeof(dry_cfg));
    memset(&pl, 0, sizeof(pl));
    memset(&planf, 0, sizeof(planf));
    approvers[0] = plan_rec[0] = '\0';
    if ((rc = pb_settings_parse(&s, cmd, argc, argv,
                                planning ? pb_cli_plan_usage : pb_cli_send_usage, pos, 1, &npos)) !=
        0) {
        pb_settings_free(&s);
        return pb_settings_exit(rc);
    }
    pb_log_setup(stderr, s.log_json ? PB_LOG_JSON : PB_LOG_TEXT,
                 s.quiet     ? PB_LOG_WARN
                 : s.verbose ? PB_LOG_DEBUG
                             : PB_LOG_INFO);
    if (npos != 1) {
        pb_cli_error("%s needs exactly one FILE.csv; see paybatch %s --help", argv[0], argv[0]);
        exit_code = PB_EXIT_USAGE;
        goto out;
    }
    file = pos[0];
    memset(&lo, 0, sizeof(lo));
    lo.path = file;
    lo.rules.allow_conversion = s.allow_conversion;
    if (s.method && !(lo.rules.default_method = pb_method_find(s.method, strlen(s.method)))) {
        char names[256];
        pb_method_names(names, sizeof(names), ", ", 0);
        pb_cli_error("--method %s: unknown method; use one of %s", s.method, names);
        exit_code = PB_EXIT_USAGE;
        goto out;
    }
    if (s.delimiter) {
        if (!strcmp(s.delimiter, ",") || !strcmp(s.delimiter, "comma"))
            lo.delimiter = ',';
        else if (!strcmp(s.delimiter, ";") || !strcmp(s.delimiter, "semicolon"))
            lo.delimiter = ';';
        else if (!strcmp(s.delimiter, "tab") || !strcmp(s.delimiter, "\\t"))
            lo.delimiter = '\t';
        else {
            pb_cli_error("--delimiter %s: use ',', ';' or 'tab'", s.delimiter);
            exit_code = PB_EXIT_USAGE;
            goto out;
        }
    }

    if (planning && !s.out) {
        pb_cli_error("plan needs --out PLAN.json: where to write the plan");
        exit_code = PB_EXIT_USAGE;
        goto out;
    }
    if ((rc = pb_cli_guard_limits(&s, &lim)) != 0) {
        exit_code = rc;
        goto out;
    }
    if (pb_guard_new(&fs.guard, &lim) < 0)
        goto oom;
    if (!planning && s.require_plan && !s.plan) {
        pb_cli_error("require_plan is set: send needs --plan PLAN.json, made by paybatch plan and "
                     "approved with paybatch approve; nothing was sent");
        exit_code = PB_EXIT_CONFIG;
        goto out;
    }
    if (!planning && s.plan) {
        /* the plan and its approvals first: nothing is read or sent under a bad one */
        if ((exit_code = pb_cli_plan_load(s.plan, &want, NULL, NULL)) != 0 ||
            (exit_code = pb_cli_plan_approvals(&s, want, approvers, sizeof(approvers))) != 0)
            goto out;
        exit_code = PB_EXIT_SOFTWARE;
    }

    /* configuration first: nothing is read or written when it cannot be sent anyway */
    if (s.sandbox) {
        unsigned char r[32];
        if (!s.project_id)
            s.project_id = 1;
        /* a throw-away key shared with the embedded sandbox only */
        FILE *u = fopen("/dev/urandom", "rb");
        if (!u || fread(r, 1, sizeof(r), u) != sizeof(r)) {
            if (u)
                fclose(u);
            pb_cli_error("cannot make a key for the sandbox");
            goto out;
        }
        fclose(u);
        pb_hex_lower(r, sizeof(r), sbx_secret);
        secret_len = 64;
        if (!(secret = pb_strdup(sbx_secret)))
            goto oom;
    } else {
        if (!s.project_id && (!s.dry_run || planning)) {
            pb_cli_error("no project id: give --project-id N, PAYBATCH_PROJECT_ID, or "
                         "project-id in the config file");
            exit_code = PB_EXIT_CONFIG;
            goto out;
        }
        if (!planning && (rc = pb_settings_secret(&s, &secret, &secret_len)) < 0) {
            pb_cli_error("%s", pb_error_last());
            exit_code = rc == PB_ENOMEM ? PB_EXIT_SOFTWARE : PB_EXIT_CONFIG;
            goto out;
        }
        if (!pb_cli_url_ok(s.gate_url)) {
            pb_cli_error("--gate-url %s: use an http:// or https:// URL", s.gate_url);
            exit_code = PB_EXIT_CONFIG;
            goto out;
        }
    }
    if (s.callback_url && !pb_cli_url_ok(s.callback_url)) {
        pb_cli_error("--callback-url %s: use an http:// or https:// URL", s.callback_url);
        exit_code = PB_EXIT_CONFIG;
        goto out;
    }

    {
        /* an output must never replace the input or another output (issue #11 defect 1) */
        const char *outs[] = {s.report, s.invalid_out, s.out, s.out_xlsx};
        size_t a, b;
        for (a = 0; a < 4; a++) {
            int same = 0;
            if (!outs[a])
                continue;
            if (pb_outfile_same(file, outs[a], &same) == 0 && same) {
                pb_cli_error("%s is the input file: an output must not replace it", outs[a]);
                exit_code = PB_EXIT_USAGE;
                goto out;
            }
            for (b = a + 1; b < 4; b++) {
                if (outs[b] && pb_outfile_same(outs[a], outs[b], &same) == 0 && same) {
                    pb_cli_error("%s and %s are the same file: give each output its own", outs[a],
                                 outs[b]);
                    exit_code = PB_EXIT_USAGE;
                    goto out;
                }
            }
        }
    }
    if (pb_load_hash(file, lr.sha256) < 0) {
        pb_cli_error("%s", pb_error_last());
        exit_code = PB_EXIT_NOINPUT;
        goto out;
    }
    if (s.batch_id)
        snprintf(name, sizeof(name), "%s", s.batch_id);
    else
        snprintf(name, sizeof(name), "%.16s", lr.sha256);
    if (strlen(name) == 0 || (s.batch_id && strlen(s.batch_id) >= sizeof(name))) {
        pb_cli_error("--batch-id: use 1 to %zu characters", sizeof(name) - 1);
        exit_code = PB_EXIT_USAGE;
        goto out;
    }
    /* What the batch is sent with: recorded when it is created, required unchanged on every
     * resume. Another project id or gateway would resend rows in doubt into a project where
     * the payment id is new (paid twice); another method or conversion would send a row to
     * another wallet. */
    snprintf(settings, sizeof(settings),
             "project_id=%lld\ngate_url=%s\nmethod=%s\nallow_conversion=%d\n",
             (long long)s.project_id, s.sandbox ? "sandbox" : s.gate_url, s.method ? s.method : "",
             s.allow_conversion);
    if (s.sandbox && strcmp(s.state, PB_DEFAULT_STATE) == 0) {
        /* a rehearsal never shares the real store: its payment ids would block the real run */
        char *sb = pb_strdup("./paybatch-sandbox.db");
        if (!sb)
            goto oom;
        pb_free(s.state);
        s.state = sb;
    }
    if (!s.dry_run) {
        if (!planning && pb_cli_lock_batch(s.state, name, &lock_fd) < 0) {
            pb_cli_error("%s", pb_error_last());
            exit_code = PB_EXIT_TEMPFAIL;
            goto out;
        }
        if ((rc = pb_store_open(&st, s.state)) < 0) {
            pb_cli_error("state store %s: %s", pb_cli_shown(s.state), pb_error_last());
            exit_code = pb_cli_store_exit(rc, 1);
            goto out;
        }
        /* PostgreSQL: one worker of several on the batch; the store's lock on the batch is
         * held while the batch is loaded (workers starting at once load it once) */
        if (!planning && (shared = pb_cli_lease_begin(st, (long)s.timeout_s, worker, sizeof(worker),
                                                      &lease_ms)) < 0) {
            rc = shared;
            shared = 0;
            pb_cli_error("%s", pb_error_last());
            exit_code = pb_cli_store_exit(rc, 0);
            goto out;
        }
        if ((rc = pb_store_batch_lock(st, name)) < 0) {
            pb_cli_error("%s", pb_error_last());
            exit_code = rc == PB_EAGAIN ? PB_EXIT_TEMPFAIL : pb_cli_store_exit(rc, 0);
            goto out;
        }
        rc = pb_store_batch_get(st, name, &info);
        if (rc == 0) {
            exists = 1;
            if (strcmp(info.file_sha256, lr.sha256) != 0) {
                pb_cli_error("batch %s holds another file (SHA-256 %.16s..., this file %.16s...): "
                             "a batch id names one file; give this file another --batch-id",
                             name, info.file_sha256, lr.sha256);
                exit_code = PB_EXIT_DATAERR;
                goto out;
            }
            if (info.settings && info.settings[0] && strcmp(info.settings, settings) != 0) {
                pb_cli_error("batch %s was started with other settings; resume it with the same "
                             "ones (or send the file as a new batch with another --batch-id):\n"
                             "started with:\n%sthis run:\n%s",
                             name, info.settings, settings);
                exit_code = PB_EXIT_CONFIG;
                goto out;
            }
        } else if (rc != PB_ENOTFOUND) {
            pb_cli_error("state store %s: %s", pb_cli_shown(s.state), pb_error_last());
            exit_code = PB_EXIT_IOERR;
            goto out;
        }
    }

    /* validate, with the store's view of payment ids */
    if (pb_summary_new(&fs.summary, s.quiet ? 0 : PB__EXAMPLES) < 0)
        goto oom;
    fs.verbose = s.verbose;
    fs.max_findings = s.max_findings;
    pb_buf_init(&fs.body, PB_GATE_BODY_MAX);
    if (s.dry_run) {
        dry_cfg.project_id = s.project_id;
        dry_cfg.callback_url = s.callback_url;
        dry_cfg.secret = secret;
        dry_cfg.secret_len = secret_len;
        fs.sign = &dry_cfg;
    }
    if (s.report) {
        if (pb_outfile_open(&report, s.report) < 0) {
            pb_cli_error("--report: %s", pb_error_last());
            exit_code = PB_EXIT_IOERR;
            goto out;
        }
        if (pb_json_report_open(&fs.json, report.f, "send", file) < 0)
            goto oom;
    }
    if (s.invalid_out) {
        if (pb_outfile_open(&invalid, s.invalid_out) < 0) {
            pb_cli_error("--invalid-out: %s", pb_error_last());
            exit_code = PB_EXIT_IOERR;
            goto out;
        }
        fs.invalid = &invalid;
    }
    memset(&head, 0, sizeof(head));
    head.file_sha256 = lr.sha256;
    head.batch_id = name;
    head.gate_url = s.sandbox ? "sandbox" : s.gate_url;
    head.project_id = s.project_id;
    head.callback_url = s.callback_url ? s.callback_url : "";
    head.method = s.method ? s.method : "";
    head.allow_conversion = s.allow_conversion;
    head.skip_invalid = s.skip_invalid;
    head.rate_milli = s.rate_milli;
    head.limits = &lim;
    head.recent_days = s.recent_days;
    head.strict_recent = s.strict_recent;
    if (want && exists && info.plan && strstr(info.plan, want->digest)) {
        /* a resume of a batch started under this plan: its file and settings are held by the
         * checks above; the plan was compared when the batch was started */
        pb_plan_doc_free(want);
        want = NULL;
        snprintf(plan_rec, sizeof(plan_rec), "%s", info.plan);
    }
    if (planning || want) {
        pb_cli_now_iso(created_at);
        if (planning && pb_outfile_open(&planf, s.out) < 0) {
            pb_cli_error("--out: %s", pb_error_last());
            exit_code = PB_EXIT_IOERR;
            goto out;
        }
        if (pb_cli_plan_begin(&pl, &head, planning ? planf.f : NULL, file, created_at, want) < 0)
            goto oom;
        fs.plan = &pl;
    }
    lo.on_row = pb_cli_send_on_row;
    lo.this_batch = exists ? info.id : 0;
    if (exists) {
        if ((rc = pb_store_counts(st, info.id, &counts)) < 0)
            goto store_err;
        lo.stored_rows = counts.total;
        pb_batch_counts_clear(&counts);
    }
    lo.on_finding = pb_cli_send_on_finding;
    lo.payload = &fs;
    lo.recent_on = s.recent_days > 0;
    lo.recent_since_ms = pb__now_ms() - (int64_t)s.recent_days * 86400000;
    lo.strict_recent = s.strict_recent;
    {
        /* a dry run touches no state store: payment ids are then checked within the file */
        pb_store *mem = NULL;
        rc = st ? 0 : pb_store_open(&mem, "mem:");
        lo.store = st ? st : mem;
        if (rc == 0)
            rc = pb_load_check(&lo, &lr);
        lo.store = st;
        pb_store_free(mem);
    }
    if (rc < 0) {
        pb_cli_error("%s", pb_error_last());
        exit_code = rc == PB_EIO       ? PB_EXIT_NOINPUT
                    : rc == PB_ENOTSUP ? PB_EXIT_CONFIG
                                       : PB_EXIT_SOFTWARE;
        goto out;
    }
    if (fs.io_failed) {
        pb_cli_error("cannot write an output: %s", pb_error_last());
        exit_code = PB_EXIT_IOERR;
        goto out;
    }
    if (!s.quiet || lr.invalid || lr.file_failed) {
        /* rows whose payment id another batch holds are invalid here, not valid */
        pb_validator_stats shown = lr.stats;
        shown.valid = lr.valid;
        shown.invalid = lr.invalid;
        (void)pb_summary_print(fs.summary, stdout, file, &shown);
    }
    if (lr.file_failed) {
        printf("\nresult: INVALID FILE: fix the file-level errors above; nothing was sent\n");
        exit_code = PB_EXIT_DATAERR;
        goto out;
    }
    if (fs.guard_rc) {
        pb_cli_error("the totals of the rows to send: %s", pb_error_last());
        exit_code = PB_EXIT_DATAERR;
        goto out;
    }
    if (!lr.invalid || s.skip_invalid || exists) {
        /* policy limits and control totals: over any, nothing is sent */
        size_t nviol = 0;
        pb_buf gj;
        pb_buf_init(&gj, 1u << 20);
        rc = pb_cli_guard_check(fs.guard, stdout, fs.json ? &gj : NULL, &nviol);
        if (rc == 0 && nviol && fs.json)
            rc = pb_json_report_set_extra(fs.json, gj.ptr, gj.len);
        pb_buf_free(&gj);
        if (rc < 0)
            goto oom;
        if (nviol) {
            printf("\nresult: %zu guard-rail%s above: nothing was sent. Check the file with its "
                   "exporter before changing a limit\n",
                   nviol, nviol == 1 ? "" : "s");
            exit_code = PB_EXIT_DATAERR;
            goto out;
        }
    }
    if (lr.invalid && !s.skip_invalid && !exists) {
        printf("\nresult: %" PRIu64
               " invalid row%s: nothing was sent. Fix them, or send the %" PRIu64
               " valid row%s with --skip-invalid\n",
               lr.invalid, lr.invalid == 1 ? "" : "s", lr.valid, lr.valid == 1 ? "" : "s");
        exit_code = PB_EXIT_DATAERR;
        goto out;
    }
    if (planning || want) {
        if (pb_cli_plan_end(&pl, fs.guard, lr.valid, lr.invalid, digest) < 0) {
            pb_cli_error("the plan: %s", pb_error_last());
            exit_code = pl.rc == PB_EIO ? PB_EXIT_IOERR : PB_EXIT_SOFTWARE;
            goto out;
        }
    }
    if (planning) {
        pb_plan_doc *doc = NULL;
        if (pb_outfile_commit(&planf) < 0) {
            pb_cli_error("--out: %s", pb_error_last());
            exit_code = PB_EXIT_IOERR;
            goto out;
        }
        /* read back what was written: the summary is of the file an approver will sign */
        if ((exit_code = pb_cli_plan_load(s.out, &doc, NULL, NULL)) != 0) {
            exit_code = PB_EXIT_SOFTWARE;
            goto out;
        }
        printf("\n");
        pb_cli_plan_print(stdout, doc);
        printf("\nplan written to %s; nothing was sent. Approve it with paybatch approve --key "
               "KEY.pem %s\n",
               s.out, s.out);
        pb_plan_doc_free(doc);
        exit_code = PB_EXIT_OK;
        goto out;
    }
    if (want) {
        if (strcmp(digest, want->digest) != 0) {
            char why[600];
            pb_cli_plan_diff(&pl, fs.guard, lr.valid, lr.invalid, why, sizeof(why));
            printf("\nresult: this run is not the plan %s: %s; nothing was sent. Make and "
                   "approve a new plan for what should be sent\n",
                   s.plan, why[0] ? why : "its digest differs");
            exit_code = PB_EXIT_DATAERR;
            goto out;
        }
        snprintf(plan_rec, sizeof(plan_rec), "digest=%s\napprovers=%s\n", digest, approvers);
        printf("\nplan %s: this run is the plan (%s)%s%s\n", s.plan, digest,
               approvers[0] ? ", approved by " : "", approvers);
    }
    if (!want && !s.yes && !s.dry_run && !plan_rec[0] && isatty(STDIN_FILENO) &&
        isatty(STDOUT_FILENO)) {
        if (!pb_cli_confirm(&s, name, file, fs.guard, lr.valid)) {
            printf("\nresult: not confirmed; nothing was sent\n");
            exit_code = PB_EXIT_TEMPFAIL;
            goto out;
        }
    }
    if (s.dry_run) {
        printf("\ndry run: %" PRIu64 " request%s built and signed (%" PRIu64
               " bytes) for %s, project %lld; nothing was sent\n",
               fs.signed_rows, fs.signed_rows == 1 ? "" : "s", fs.body_bytes, s.gate_url,
               (long long)s.project_id);
        exit_code = fs.sign_failed ? PB_EXIT_DATAERR : PB_EXIT_OK;
        goto out;
    }

    /* into the store: a new batch, or the rest of one whose loading was interrupted */
    {
        pb_batch_key key;
        uint64_t skip = 0;
        int created = 0;
        memset(&key, 0, sizeof(key));
        key.name = name;
        key.file_name = file;
        key.file_sha256 = lr.sha256;
        key.settings = settings;
        key.delimiter = lr.stats.delimiter;
        key.had_bom = lr.stats.had_bom;
        key.created_at_ms = pb__now_ms();
        key.header = lr.header;
        key.header_len = lr.header_len;
        key.plan = plan_rec[0] ? plan_rec : NULL;
        if (!exists && (rc = pb_store_batch_begin(st, &key, &info, &created)) < 0)
            goto store_err;
        if ((rc = pb_store_counts(st, info.id, &counts)) < 0)
            goto store_err;
        skip = counts.total;
        pb_batch_counts_clear(&counts);
        /* the rest of the file goes in while the first rows are sent (send_load.c) */
        if (skip < lr.stats.rows) {
            lo.this_batch = info.id;
            if ((rc = pb_loader_new(&loader, &lo, skip, &lr)) < 0) {
                pb_cli_error("%s", pb_error_last());
                exit_code = PB_EXIT_NOINPUT;
                goto out;
            }
        }
        if (shared && loader) {
            /* several workers (PostgreSQL): this one stores the whole file under the batch's
             * lock before sending, so the others, waiting for the lock, find the batch complete
             * (a streaming load would leave them a batch still growing, and an empty claim
             * would end their run) */
            pb_load_chunk *c = NULL;
            int eof = 0, frc = 0;
            while (!eof && rc == 0) {
                if ((frc = rc = pb_loader_next(loader, &c, &eof)) < 0 || !c)
                    continue;
                rc = pb_loader_store(loader, c);
                pb_load_chunk_free(c);
                c = NULL;
            }
            pb_loader_free(loader);
            loader = NULL;
            if (frc < 0) {
                pb_cli_error("%s", pb_error_last());
                exit_code = frc == PB_EPARSE   ? PB_EXIT_DATAERR
                            : frc == PB_ENOMEM ? PB_EXIT_SOFTWARE
                                               : PB_EXIT_NOINPUT;
                goto out;
            }
            if (rc < 0)
                goto store_err;
        }
        if (shared)
            pb_store_batch_unlock(st); /* loaded: the other workers may start */
    }

    if (s.sandbox) {
        if (pb_cli_sandbox_start(&sbx, s.project_id, secret) < 0) {
            pb_cli_error("%s", pb_error_last());
            goto out;
        }
        gate_url = sbx.url;
        pb_log(PB_LOG_INFO, NULL, "embedded sandbox gateway at %s", sbx.url);
    } else {
        gate_url = s.gate_url;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        pb_cli_error("cannot initialise libcurl");
        goto out;
    }
    memset(&so, 0, sizeof(so));
    so.store = st;
    so.batch = info.id;
    so.batch_name = name;
    so.gate_url = gate_url;
    so.project_id = s.project_id;
    so.secret = secret;
    so.secret_len = secret_len;
    so.callback_url = s.callback_url;
    so.rules = lo.rules;
    pb_cli_send_opts(&so, &s, &tty);
    so.callback_listen = s.callback_listen;
    so.loader = shared ? NULL : loader; /* shared: loaded above */
    so.worker = shared ? worker : NULL;
    so.lease_ms = lease_ms;
    rc = pb_send_run(&so, &sr);
    curl_global_cleanup();
    pb_cli_sandbox_stop(&sbx);
    if (rc < 0) {
        pb_cli_error("%s", pb_error_last());
        exit_code = !sr.file_failed   ? pb_cli_store_exit(rc, 0)
                    : rc == PB_EPARSE ? PB_EXIT_DATAERR
                    : rc == PB_ENOMEM ? PB_EXIT_SOFTWARE
                                      : PB_EXIT_NOINPUT;
        /* fall through to the summary: what is committed is consistent */
    }
    {
        /* rc keeps the run's outcome for below */
        int crc = pb_store_counts(st, info.id, &counts);
        if (crc < 0) {
            rc = crc;
            goto store_err;
        }
    }
    printf("\nbatch %s (%s)\n", name, file);
    pb_cli_plan_line(stdout, plan_rec[0] ? plan_rec : info.plan);
    pb_cli_print_counts(stdout, &counts);
    all_final = counts.rows[PB_ROW_QUEUED] + counts.rows[PB_ROW_SENDING] +
                    counts.rows[PB_ROW_IN_DOUBT] + counts.rows[PB_ROW_ACCEPTED] ==
                0;
    if (rc < 0) {
        if (sr.file_failed)
            printf("result: the run stopped: %s could not be read to its end as the file that "
                   "was checked; every row sent so far is recorded: restore the file, then run "
                   "the same command again\n",
                   file);
        else if (exit_code == PB_EXIT_IOERR)
            printf("result: the run stopped: the state store could not be written (a full "
                   "disk?); what it holds is consistent: fix that, then run the same command "
                   "again\n");
        goto out;
    }
    if (all_final)
        exit_code = PB_EXIT_OK;
    else if (sr.engine.config_refused)
        exit_code = PB_EXIT_CONFIG; /* Gate refused our signature or project: fix, run again */
    else if (sr.stopped_by_signal)
        exit_code = PB_EXIT_TEMPFAIL; /* stopped on request: the next run picks up here */
    else if (sr.accepted_now == 0 && sr.engine.posts > 0 && sr.answered + sr.no_answer > 0 &&
             sr.reason == PB_ENGINE_GAVE_UP)
        exit_code = PB_EXIT_UNAVAILABLE;
    else if (sr.accepted_now == 0 && sr.engine.posts > 0 && sr.answered == 0)
        exit_code = PB_EXIT_UNAVAILABLE;
    else
        exit_code = PB_EXIT_TEMPFAIL;
    if (fs.json && pb_cli_report_batch(fs.json, st, info.id, name, &counts,
                                       plan_rec[0] ? plan_rec : info.plan) < 0)
        goto oom;
    if (s.out && pb_result_write(st, name, s.out) < 0) {
        pb_cli_error("--out: %s", pb_error_last());
        exit_code = PB_EXIT_IOERR;
        goto out;
    }
    if (s.out_xlsx && pb_result_xlsx_write(st, name, s.out_xlsx) < 0) {
        pb_cli_error("--out-xlsx: %s", pb_error_last());
        exit_code = PB_EXIT_IOERR;
        goto out;
    }
    if (exit_code == PB_EXIT_CONFIG)
        printf("result: Gate refused the signature or the project id: check the secret key and "
               "--project-id; nothing was paid, run the same command again after fixing it\n");
    if (exit_code == PB_EXIT_TEMPFAIL)
        printf("result: some rows are not final yet; run the same command (or paybatch "
               "reconcile) later\n");
    else if (exit_code == PB_EXIT_UNAVAILABLE && sr.engine.fatal)
        printf("result: the gateway's TLS certificate was refused (see the warnings above); "
               "nothing was sent: check --gate-url and --ca-file, then run the same command "
               "again\n");
    else if (exit_code == PB_EXIT_UNAVAILABLE)
        printf("result: the gateway did not accept any request (%" PRIu64 " not sent, %" PRIu64
               " without an answer); nothing is lost: run the same command again later\n",
               sr.not_sent, sr.no_answer);
    goto out;

store_err:
    pb_cli_error("state store %s: %s", pb_cli_shown(s.state), pb_error_last());
    exit_code = pb_cli_store_exit(rc, 0);
    goto out;
oom:
    pb_cli_error("out of memory");
    exit_code = PB_EXIT_SOFTWARE;
out:
    if (lock_fd >= 0)
        close(lock_fd); /* releases the batch's lock */
    /* the outputs: invalid rows first, the report last (a report on disk means every output of
     * the run is there); on a usage, configuration or internal error nothing is written */
    if (exit_code != PB_EXIT_USAGE && exit_code != PB_EXIT_CONFIG &&
        exit_code != PB_EXIT_SOFTWARE && exit_code != PB_EXIT_NOINPUT) {
        if (invalid.f && pb_outfile_commit(&invalid) < 0) {
            pb_cli_error("--invalid-out: %s", pb_error_last());
            exit_code = PB_EXIT_IOERR;
        }
        if (fs.json && report.f) {
            int jrc = pb_json_report_close(fs.json, &lr.stats, lr.sha256, exit_code);
            fs.json = NULL;
            if (jrc < 0 || pb_outfile_commit(&report) < 0) {
                pb_cli_error("--report: %s", pb_error_last());
                exit_code = PB_EXIT_IOERR;
            }
        }
    }
    pb_json_report_free(fs.json);
    if (report.f)
        pb_outfile_abort(&report);
    if (invalid.f)
        pb_outfile_abort(&invalid);
    pb_cli_sandbox_stop(&sbx);
    pb_batch_counts_clear(&counts);
    pb_batch_info_clear(&info);
    pb_store_free(st);
    pb_summary_free(fs.summary);
    pb_guard_free(fs.guard);
    pb_cli_plan_free(&pl);
    pb_plan_doc_free(want);
    if (planf.f)
        pb_outfile_abort(&planf);
    pb_buf_free(&fs.body);
    pb_load_result_clear(&lr);
    pb_loader_free(loader);
    pb_settings_secret_free(secret, secret_len);
    pb_settings_free(&s);
    return exit_code;
}
