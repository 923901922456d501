/*
 * cmd_validate.c - `paybatch validate`: check a payout file, report, send nothing.
 */
#include "batch/cli/cli.h"
#include "batch/cli/options.h"

#include "core/alloc.h"
#include "core/errors.h"
#include "formats/report.h"
#include "formats/validator.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PB_READ_CHUNK        (256 * 1024)
#define PB_EXAMPLES_PER_CODE 5

static void pb__validate_usage(FILE *out)
{
    fputs("Usage: paybatch validate [options] FILE.csv\n"
          "\n"
          "Check every row of a payout file against the payout rules of its method and print\n"
          "what is wrong and how to fix it. Nothing is sent. -q prints counts only, -v every\n"
          "finding as it is found.\n"
          "\n"
          "Options (each also a config file key and an environment variable PAYBATCH_<OPTION>):\n",
          out);
    pb_settings_print_options(out, PB_CMD_VALIDATE);
    fputs("\n"
          "Exit status: 0 every row is valid (warnings allowed); 65 some row or the header is\n"
          "invalid; 66 the file cannot be read; 64 usage error; 74 an output file cannot be\n"
          "written; 78 configuration error.\n",
          out);
}

/* SIGINT/SIGTERM: the run stops, removes its temporary files and dies of the signal. */
static volatile sig_atomic_t pb__stop_signal;

static void pb__on_stop_signal(int sig)
{
    pb__stop_signal = sig;
}

static void pb__catch_stop_signals(struct sigaction *old_int, struct sigaction *old_term)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = pb__on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked read returns EINTR and the loop sees the flag */
    pb__stop_signal = 0;
    sigaction(SIGINT, &sa, old_int);
    sigaction(SIGTERM, &sa, old_term);
}

/* After the clean-up: die of the signal that stopped the run (exit status 128 + sig). */
static void pb__reraise_stop_signal(const struct sigaction *old_int,
                                    const struct sigaction *old_term)
{
    struct sigaction dfl;
    int sig = pb__stop_signal;
    sigaction(SIGINT, old_int, NULL);
    sigaction(SIGTERM, old_term, NULL);
    if (!sig)
        return;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    fflush(stdout);
    raise(sig);
}

typedef struct {
    int fd;       /* what read_at reads: the input when it is a regular file, else the spool */
    int spool_fd; /* a pipe's bytes, kept in an unlinked temporary file (-1: not a pipe) */
    const char *file;
    pb_summary *summary;
    pb_json_report *json;
    pb_outfile invalid;
    pb_outfile *report;
    const pb_validator *v;
    char delimiter;
    int invalid_header_done;
    int io_failed;
    int verbose;
    uint64_t stop_row; /* row of the last file-level finding */
    uint64_t max_findings;
    uint64_t json_written, json_omitted;    /* findings written to / left out of --report */
    uint64_t inv_written;                   /* findings written to --invalid-out */
    uint64_t inv_rows_omitted, inv_omitted; /* left out of --invalid-out */
} pb__vrun;

/*
 * The validator confirms a duplicate's fingerprint against the earlier row's text: a regular
 * file is read again at the offset, a pipe from the spool that keeps what was read of it.
 */
static int pb__read_at(uint64_t off, char *buf, size_t len, size_t *got, void *ctx)
{
    pb__vrun *r = ctx;
    *got = 0;
    while (*got < len) {
        ssize_t n = pread(r->fd, buf + *got, len - *got, (off_t)(off + *got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            pb_error_set("cannot read %s again: %s", r->spool_fd >= 0 ? "the spool file" : r->file,
                         strerror(errno));
            return PB_EIO;
        }
        if (n == 0)
            break;
        *got += (size_t)n;
    }
    return PB_OK;
}

/* A pipe is kept in an unlinked file in $TMPDIR (or /tmp) so rows can be read again. */
static int pb__spool_open(pb__vrun *r)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    if (!dir || !*dir)
        dir = "/tmp";
    if ((size_t)snprintf(path, sizeof(path), "%s/paybatch-spool-XXXXXX", dir) >= sizeof(path))
        return pb_error_set("TMPDIR is too long");
    r->spool_fd = mkstemp(path);
    if (r->spool_fd < 0)
        return pb_error_set("cannot create a spool file in %s: %s", dir, strerror(errno));
    (void)unlink(path); /* gone when closed, whatever happens: the fd is all we need */
    r->fd = r->spool_fd;
    return PB_OK;
}

static int pb__spool_write(pb__vrun *r, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(r->spool_fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return pb_error_set("cannot write the spool file: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    return PB_OK;
}

static void pb__print_finding(const pb_finding *f)
{
    printf("row %" PRIu64 "%s%s: %s: %s\n", f->row, f->column ? ", " : "",
           f->column ? f->column : "", pb_finding_name(f->code), f->message);
}

static int pb__note(pb__vrun *r, const pb_finding *f)
{
    int rc = pb_summary_add(r->summary, f);
    if (rc == 0 && r->json) {
        if (r->json_written < r->max_findings) {
            rc = pb_json_report_finding(r->json, f);
            if (rc == PB_EIO)
                rc = pb_outfile_fail(r->report); /* names the file and errno's reason */
            r->json_written++;
        } else {
            pb_json_report_omit(r->json, f);
            r->json_omitted++;
        }
    }
    if (r->verbose)
        pb__print_finding(f);
    return rc;
}

static void pb__on_file_finding(const pb_finding *f, void *ctx)
{
    pb__vrun *r = ctx;
    r->stop_row = f->row;
    if (pb__note(r, f) < 0)
        r->io_failed = 1;
}

static void pb__on_finding(const pb_finding *f, void *ctx)
{
    pb__vrun *r = ctx;
    if (pb__note(r, f) < 0)
        r->io_failed = 1;
}

static int pb__on_row(const pb_row_report *rep, void *ctx)
{
    pb__vrun *r = ctx;
    int rc;

    if (r->io_failed)
        return PB_EIO;
    if (pb__stop_signal)
        return PB_EAGAIN; /* interrupted: stop at once */
    if (!rep->valid && r->invalid.f && r->inv_written >= r->max_findings) {
        r->inv_rows_omitted++;
        r->inv_omitted += rep->nfindings;
    } else if (!rep->valid && r->invalid.f) {
        const pb_header_map *map = pb_validator_header(r->v);
        if (!r->invalid_header_done) {
            r->delimiter = pb_validator_delimiter(r->v);
            rc = pb_invalid_csv_header(r->invalid.f, map, r->delimiter, pb_validator_had_bom(r->v));
            if (rc == PB_EIO)
                pb_outfile_fail(&r->invalid);
            if (rc < 0)
                return rc;
            r->invalid_header_done = 1;
        }
        if ((rc = pb_invalid_csv_row(r->invalid.f, map, rep, r->delimiter)) < 0) {
            if (rc == PB_EIO)
                pb_outfile_fail(&r->invalid);
            return rc;
        }
        r->inv_written += rep->nfindings;
    }
    return 0;
}

/*
 * An output that is the input, or another output, would destroy what the run reads or
 * writes: refuse it before anything is opened (any spelling, symlink or hard link).
 * Returns 0, or the exit code: 64 for the same file twice, 74 for a path that cannot be
 * used (a directory in it is a file, a link loop: SPEC §3, an output file's I/O error).
 */
static int pb__outputs_distinct(const char *file, const char *report, const char *invalid)
{
    const char *name[3] = {"FILE.csv", "--report", "--invalid-out"};
    const char *p[3] = {file, report, invalid};
    int i, j, same, rc;

    for (i = 1; i < 3; i++) {
        if (!p[i])
            continue;
        for (j = 0; j < i; j++) {
            if (!p[j])
                continue;
            if ((rc = pb_outfile_same(p[i], p[j], &same)) < 0) {
                pb_cli_error("%s: %s", name[i], pb_error_last());
                return rc == PB_ENOMEM ? PB_EXIT_SOFTWARE : PB_EXIT_IOERR;
            }
            if (same) {
                pb_cli_error("%s %s is the same file as %s %s: it would be overwritten; "
                             "choose another path",
                             name[i], p[i], name[j], p[j]);
                return PB_EXIT_USAGE;
            }
        }
    }
    return 0;
}

static int pb__parse_delimiter(const char *s, char *out)
{
    if (strcmp(s, ",") == 0 || strcmp(s, "comma") == 0)
        *out = ',';
    else if (strcmp(s, ";") == 0 || strcmp(s, "semicolon") == 0)
        *out = ';';
    else if (strcmp(s, "tab") == 0 || strcmp(s, "\\t") == 0 || strcmp(s, "\t") == 0)
        *out = '\t';
    else
        return -1;
    return 0;
}

/* The settings that need more than the option table checks; 0 or the exit code. */
static int pb__settings_apply(const pb_settings *set, pb_validator_opts *vo, pb__vrun *run)
{
    if (set->method &&
        !(vo->rules.default_method = pb_method_find(set->method, strlen(set->method)))) {
        char names[128];
        pb_method_names(names, sizeof(names), ", ", 0);
        pb_cli_error("--method %s: unknown method; use one of %s", set->method, names);
        return PB_EXIT_USAGE;
    }
    if (set->delimiter && pb__parse_delimiter(set->delimiter, &vo->delimiter) < 0) {
        pb_cli_error("--delimiter %s: use ',', ';' or 'tab'", set->delimiter);
        return PB_EXIT_USAGE;
    }
    vo->rules.allow_conversion = set->allow_conversion;
    run->max_findings = set->max_findings;
    /* the results are the same either way (test_validate_equiv runs both) */
    vo->threads = set->threads > 1;
    return PB_EXIT_OK;
}

int pb_cmd_validate(int argc, char **argv)
{
    pb_settings set;
    char *pos[1];
    size_t npos = 0;
    pb_validator_opts vo;
    pb__vrun run;
    pb_validator *v = NULL;
    pb_outfile report;
    const char *report_path = NULL, *invalid_path = NULL, *file;
    char *chunk = NULL;
    EVP_MD_CTX *sha = NULL;
    unsigned char digest[32];
    char hex[65];
    int fd = -1, exit_code = PB_EXIT_SOFTWARE, rc, i, invalid_committed = 0, at_eof = 0;
    uint64_t bytes_read = 0;
    const pb_validator_stats *st;
    struct sigaction old_int, old_term;

    memset(&vo, 0, sizeof(vo));
    memset(&run, 0, sizeof(run));
    run.fd = run.spool_fd = -1;
    memset(&report, 0, sizeof(report));
    if ((rc = pb_settings_parse(&set, PB_CMD_VALIDATE, argc, argv, pb__validate_usage, pos, 1,
                                &npos)) != 0) {
        pb_settings_free(&set);
        return pb_settings_exit(rc);
    }
    pb_cli_log_setup(&set);
    exit_code = pb__settings_apply(&set, &vo, &run);
    if (exit_code == PB_EXIT_OK && npos != 1) {
        pb_cli_error("validate needs exactly one FILE.csv (got %zu); see paybatch validate --help",
                     npos);
        exit_code = PB_EXIT_USAGE;
    }
    if (exit_code != PB_EXIT_OK) {
        pb_settings_free(&set);
        return exit_code;
    }
    exit_code = PB_EXIT_SOFTWARE;
    file = pos[0];
    report_path = set.report;
    invalid_path = set.invalid_out;
    if ((exit_code = pb__outputs_distinct(file, report_path, invalid_path)) != 0) {
        pb_settings_free(&set);
        return exit_code;
    }
    exit_code = PB_EXIT_SOFTWARE;

    /* big tables in their own mappings: with glibc's sliding mmap threshold a freed one pushes
       the next onto the brk heap, where it is cleared and fragments (issue 17) */
    (void)mallopt(M_MMAP_THRESHOLD, 1 << 20);
    pb__catch_stop_signals(&old_int, &old_term);
    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pb_cli_error("cannot read %s: %s", file, strerror(errno));
        exit_code = pb__stop_signal ? PB_EXIT_SOFTWARE : PB_EXIT_NOINPUT;
        goto out;
    }
    run.verbose = pb_cli_log_level == PB_LOG_VERBOSE;
    run.delimiter = vo.delimiter;
    if (pb_summary_new(&run.summary, pb_cli_log_level == PB_LOG_QUIET ? 0 : PB_EXAMPLES_PER_CODE) <
        0)
        goto oom;
    if (report_path) {
        if (pb_outfile_open(&report, report_path) < 0) {
            pb_cli_error("--report: %s", pb_error_last());
            exit_code = PB_EXIT_IOERR;
            goto out;
        }
        run.report = &report;
        if (pb_json_report_open(&run.json, report.f, "validate", file) < 0) {
            pb_outfile_fail(&report);
            goto ioerr;
        }
    }
    if (invalid_path && pb_outfile_open(&run.invalid, invalid_path) < 0) {
        pb_cli_error("--invalid-out: %s", pb_error_last());
        exit_code = PB_EXIT_IOERR;
        goto out;
    }
    vo.on_row = pb__on_row;
    vo.on_file_finding = pb__on_file_finding;
    vo.on_finding = pb__on_finding;
    /* a secret key: nobody can craft ids that collide in the duplicate sets */
    if (RAND_bytes((unsigned char *)vo.hash_key, sizeof(vo.hash_key)) != 1)
        goto oom;
    vo.ctx = &run;
    {
        struct stat sb; /* a regular file's size sizes the duplicate sets once (issue 17) */
        run.file = file;
        if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
            vo.size_hint = (uint64_t)sb.st_size;
            run.fd = fd;
        } else if (pb__spool_open(&run) < 0) {
            pb_cli_error("%s", pb_error_last());
            exit_code = PB_EXIT_IOERR;
            goto out;
        }
        vo.read_at = pb__read_at; /* also what a checking thread needs (vo.threads) */
    }
    if (pb_validator_new(&v, &vo) < 0)
        goto oom;
    run.v = v;
    chunk = pb_malloc(PB_READ_CHUNK);
    if (!chunk)
        goto oom;
    /* the file's SHA-256 is only for the report: without one the reading thread, the busier of
       the two, is spared it (issue 17) */
    if (report_path &&
        (!(sha = EVP_MD_CTX_new()) || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1))
        goto oom;

    for (;;) {
        ssize_t n;
        if (pb__stop_signal)
            goto out;
        n = read(fd, chunk, PB_READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            pb_cli_error("cannot read %s: %s", file, strerror(errno));
            exit_code = PB_EXIT_NOINPUT;
            goto out;
        }
        if (n == 0) {
            at_eof = 1;
            break;
        }
        bytes_read += (uint64_t)n;
        if (sha && EVP_DigestUpdate(sha, chunk, (size_t)n) != 1)
            goto oom; /* OpenSSL fails here only when it cannot allocate */
        if (run.spool_fd >= 0 && pb__spool_write(&run, chunk, (size_t)n) < 0)
            goto ioerr;
        rc = pb_validator_feed(v, chunk, (size_t)n);
        if (pb__stop_signal)
            goto out;
        if (rc == PB_ENOMEM)
            goto oom;
        if (rc != 0) /* run.io_failed belongs to the checking thread until finish */
            goto ioerr;
        /* a failed file is not read further (it may never end: /dev/zero, a pipe) */
        if (pb_validator_file_failed(v))
            break;
    }
    rc = pb_validator_finish(v);
    if (rc == PB_ENOMEM)
        goto oom;
    if (rc != 0 || run.io_failed)
        goto ioerr;
    hex[0] = '\0';
    if (sha && EVP_DigestFinal_ex(sha, digest, NULL) != 1)
        goto oom;
    for (i = 0; sha && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);

    st = pb_validator_get_stats(v);
    exit_code = (st->invalid || pb_validator_file_failed(v)) ? PB_EXIT_DATAERR : PB_EXIT_OK;
    if (pb_summary_print(run.summary, stdout, file, st) < 0) {
        pb_error_set("cannot write the summary to standard output: %s", strerror(errno));
        goto ioerr;
    }
    if (run.json_omitted || run.inv_rows_omitted)
        printf("\n--max-findings %" PRIu64 ": %" PRIu64
               " finding%s not written to --report, %" PRIu64
               " invalid row%s not written to --invalid-out (the counts above are exact)\n",
               run.max_findings, run.json_omitted, run.json_omitted == 1 ? "" : "s",
               run.inv_rows_omitted, run.inv_rows_omitted == 1 ? "" : "s");
    if (!at_eof)
        printf("\nreading stopped at row %" PRIu64 " after %" PRIu64
               " bytes: the rest of the file was not checked and its rows are not counted "
               "above\n",
               run.stop_row, bytes_read);
    if (exit_code == PB_EXIT_OK)
        printf("\nresult: OK: %" PRIu64 " row%s ready to send\n", st->valid,
               st->valid == 1 ? "" : "s");
    else if (pb_validator_file_failed(v))
        printf("\nresult: INVALID FILE: fix the file-level errors above; no row can be sent\n");
    else
        printf("\nresult: INVALID: %" PRIu64 " row%s must be fixed (or send the %" PRIu64
               " valid row%s with send --skip-invalid)\n",
               st->invalid, st->invalid == 1 ? "" : "s", st->valid, st->valid == 1 ? "" : "s");
    fflush(stdout);

    if (run.invalid.f) {
        /* an --invalid-out with no invalid rows is still written: header only */
        if (!run.invalid_header_done && pb_validator_header(v) &&
            pb_invalid_csv_header(run.invalid.f, pb_validator_header(v), pb_validator_delimiter(v),
                                  pb_validator_had_bom(v)) < 0) {
            pb_outfile_fail(&run.invalid);
            goto ioerr;
        }
        if (pb_outfile_commit(&run.invalid) < 0)
            goto ioerr;
        invalid_committed = 1;
    }
    if (run.json) {
        /* the report comes last: a report on disk means every output of the run is there */
        pb_json_report_set_invalid_omitted(run.json, run.inv_rows_omitted, run.inv_omitted);
        pb_json_report_set_input(run.json, bytes_read, at_eof, at_eof ? 0 : run.stop_row);
        rc = pb_json_report_close(run.json, st, hex, exit_code);
        run.json = NULL;
        if (rc < 0)
            pb_outfile_fail(&report);
        if (rc < 0 || pb_outfile_commit(&report) < 0) {
            if (invalid_committed)
                unlink(invalid_path);
            goto ioerr;
        }
    }
    goto out;

oom:
    pb_cli_error("out of memory");
    exit_code = PB_EXIT_SOFTWARE;
    goto out;
ioerr:
    /* every failing path above left a message that names the file and the reason */
    pb_cli_error("%s", pb_error_last()[0] ? pb_error_last() : "cannot write an output file");
    exit_code = PB_EXIT_IOERR;
out:
    pb_validator_free(v); /* first: its checking thread calls back into run */
    v = NULL;
    pb_json_report_free(run.json);
    if (report.f)
        pb_outfile_abort(&report);
    if (run.invalid.f)
        pb_outfile_abort(&run.invalid);
    pb_summary_free(run.summary);
    EVP_MD_CTX_free(sha);
    pb_free(chunk);
    if (fd >= 0)
        close(fd);
    if (run.spool_fd >= 0)
        close(run.spool_fd);
    pb_settings_free(&set);
    pb__reraise_stop_signal(&old_int, &old_term);
    return exit_code;
}
