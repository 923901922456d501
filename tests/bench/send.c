/*
 * bench/send - rows/s and peak RSS of `paybatch send` against the sandbox, with baselines
 * (issue #12).
 *
 * Usage: bench_send PATH/TO/paybatch [ROWS]   |   bench_send --gen FILE ROWS (writes the input)
 * (default 100,000; 10,000 is run first as well, so that the two peak RSS figures show whether
 * memory grows with the batch)
 *
 * For each size: generates a valid mixed file (Touch'n Go + GCash), starts `paybatch sandbox`
 * on a free loopback port with a ledger, and times
 *   paybatch send --state DB --gate-url http://127.0.0.1:PORT --project-id 7 --rate 100000
 *                 --concurrency 64 -q --yes FILE
 * (wall time, the child's peak RSS from wait4), then checks the ledger holds exactly ROWS
 * unique payment ids. Then resume: the same command again on the finished batch, beside
 * `paybatch validate -q FILE` (resume has to hash and validate the file at least).
 * Baseline: a stateless client in this process posts the same rows' signed bodies (built with
 * pb_gate_payout_body before the clock starts) to a fresh sandbox with 64 requests in flight
 * (pb_http_client on a uv loop), once before the send and once after it. Ratios are printed,
 * to each and to their mean: the machine is shared and its speed changes within a minute.
 * Targets (issue #12): >= 5,000 rows/s, >= 50% of the baseline, RSS independent of ROWS,
 * resume of 100,000 rows under 1 s.
 */
#include "batch/net/http_client.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/methods.h"
#include "core/validate.h"
#include "formats/gate_request.h"
#include "formats/global.h"
#include "support/rows.h"

#include "bench_util.h"

#include <curl/curl.h>
#include <uv.h>

#define PB__CONC      64
#define PB__TIMEOUT_S 900.0

static void pb__noop_finding(const pb_finding *f, void *ctx)
{
    (void)f, (void)ctx;
}

/* The baseline: n pre-signed bodies, 64 in flight, one uv loop, no state. */
typedef struct {
    pb_http_client *c;
    char **bodies;
    size_t *lens;
    const char **urls;
    long n, next, done, ok, failed;
} pb__base;

static void pb__base_post(pb__base *b);

static void pb__base_cb(const pb_http_result *r, void *payload)
{
    pb__base *b = payload;
    b->done++;
    if (r->outcome == PB_HTTP_ANSWERED && r->status == 200)
        b->ok++;
    else
        b->failed++;
    if (b->next < b->n)
        pb__base_post(b);
    else if (b->done == b->n)
        pb_http_client_close(b->c, NULL, NULL);
}

static void pb__base_post(pb__base *b)
{
    static const char *const headers[] = {"Content-Type: application/json",
                                          "Accept: application/json", NULL};
    long i = b->next++;
    if (pb_http_client_post(b->c, b->urls[i], headers, b->bodies[i], b->lens[i], 30000, pb__base_cb,
                            b) < 0) {
        b->done++, b->failed++;
        if (b->done == b->n)
            pb_http_client_close(b->c, NULL, NULL);
    }
}

/* Signed bodies of rows 0..n-1 of the generated file, built like send builds them. */
static int pb__base_bodies(pb__base *b, long n, const char *tm_url, const char *gc_url)
{
    pb_gate_cfg cfg;
    pb_validate_opts vo;
    long i;
    memset(&cfg, 0, sizeof(cfg));
    memset(&vo, 0, sizeof(vo));
    cfg.project_id = 7;
    cfg.secret = PB_BENCH_SECRET;
    cfg.secret_len = strlen(PB_BENCH_SECRET);
    b->n = n;
    b->bodies = pb_calloc((size_t)n, sizeof(char *));
    b->lens = pb_calloc((size_t)n, sizeof(size_t));
    b->urls = pb_calloc((size_t)n, sizeof(char *));
    if (!b->bodies || !b->lens || !b->urls)
        return -1;
    for (i = 0; i < n; i++) {
        pb__bench_cells c;
        pb_row row;
        pb_row_result res;
        pb_buf buf;
        pb__bench_row(i, &c);
        pb_test_row(&row, NULL, c.method, c.id, c.account);
        row.cell[PB_COL_AMOUNT] = pb_str_c(c.amount);
        row.cell[PB_COL_CURRENCY] = pb_str_c(c.currency);
        row.cell[PB_COL_CUSTOMER_ID] = pb_str_c(c.customer);
        row.cell[PB_COL_IP] = pb_str_c(c.ip);
        row.cell[PB_COL_CUSTOMER_NAME] = pb_str_c(c.name);
        row.cell[PB_COL_DESCRIPTION] = pb_str_c(c.description);
        row.row = (uint64_t)i + 2;
        memset(&res, 0, sizeof(res));
        pb_validate_row(&row, &vo, &res, pb__noop_finding, NULL);
        if (res.errors || !res.method) {
            fprintf(stderr, "baseline row %ld does not validate\n", i);
            return -1;
        }
        pb_buf_init(&buf, PB_GATE_BODY_MAX);
        if (pb_gate_payout_body(&row, &res, &cfg, &buf) != 0) {
            pb_buf_free(&buf);
            return -1;
        }
        b->bodies[i] = pb_buf_detach(&buf, &b->lens[i]);
        b->urls[i] = i % 2 ? gc_url : tm_url;
    }
    return 0;
}

static void pb__base_free(pb__base *b)
{
    long i;
    for (i = 0; b->bodies && i < b->n; i++)
        pb_free(b->bodies[i]);
    pb_free(b->bodies);
    pb_free(b->lens);
    pb_free(b->urls);
}

static double pb__ru_cpu(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6 + (double)ru->ru_stime.tv_sec +
           ru->ru_stime.tv_usec / 1e6;
}

/* Rows/s of the baseline against a fresh sandbox (ledger on, like the measured run). */
static int pb__baseline(const char *pb, long n, double *rate, double *cpu_s)
{
    struct rusage ru0, ru1;
    pb__base b;
    pb__bench_sandbox sb;
    pb_http_client_opts ho;
    uv_loop_t loop;
    char ledger[] = "/tmp/pb-bench-base-ledger-XXXXXX", tm_url[128], gc_url[128];
    double t0, t;
    long i;
    int fd, rc = -1;

    memset(&b, 0, sizeof(b));
    if ((fd = mkstemp(ledger)) < 0)
        return -1;
    close(fd);
    if (pb__bench_sandbox_start(&sb, pb, ledger, n + 1000) < 0) {
        unlink(ledger);
        return -1;
    }
    snprintf(tm_url, sizeof(tm_url), "http://127.0.0.1:%d/v2/payment/wallet/touchngo/payout",
             sb.port);
    snprintf(gc_url, sizeof(gc_url), "http://127.0.0.1:%d/v2/payment/wallet/gcash/payout", sb.port);
    if (pb__base_bodies(&b, n, tm_url, gc_url) < 0 || uv_loop_init(&loop) != 0)
        goto out;
    memset(&ho, 0, sizeof(ho));
    ho.max_host_connections = PB__CONC;
    if (pb_http_client_new(&b.c, &loop, &ho) < 0) {
        (void)uv_loop_close(&loop);
        goto out;
    }
    (void)getrusage(RUSAGE_SELF, &ru0);
    t0 = pb__now_s();
    for (i = 0; i < PB__CONC && b.next < b.n; i++)
        pb__base_post(&b);
    (void)uv_run(&loop, UV_RUN_DEFAULT); /* bounded: every request has a 30 s timeout */
    t = pb__now_s() - t0;
    (void)getrusage(RUSAGE_SELF, &ru1);
    *cpu_s = pb__ru_cpu(&ru1) - pb__ru_cpu(&ru0);
    pb_http_client_free(b.c);
    if (uv_loop_close(&loop) != 0)
        fprintf(stderr, "baseline: loop closed with handles open\n");
    *rate = (double)b.ok / t;
    if (b.ok != n)
        fprintf(stderr, "baseline: %ld of %ld answered 200 (%ld failed)\n", b.ok, n, b.failed);
    rc = b.ok == n ? 0 : -1;
out:
    pb__bench_sandbox_stop(&sb);
    pb__base_free(&b);
    unlink(ledger);
    return rc;
}

/* Ledger lines and distinct payment ids pay-000000000 .. pay-<n-1>; anything else is foreign. */
static int pb__ledger_check(const char *path, long n, long *lines, long *unique, long *foreign)
{
    FILE *f = fopen(path, "r");
    unsigned char *seen = pb_calloc((size_t)n, 1);
    char line[1024];
    *lines = *unique = *foreign = 0;
    if (!f || !seen) {
        if (f)
            fclose(f);
        pb_free(seen);
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, "\"payment_id\":\"pay-");
        char *end = NULL;
        long id;
        (*lines)++;
        if (p)
            id = strtol(p + 18, &end, 10);
        if (!p || end == p + 18 || *end != '"' || id < 0 || id >= n) {
            (*foreign)++;
            continue;
        }
        if (!seen[id]++)
            (*unique)++;
    }
    fclose(f);
    pb_free(seen);
    return 0;
}

typedef struct {
    long rows;
    double send_s, resume_s, validate_s, base_rate, send_cpu, base_cpu;
    double base_rate0, base_cpu0; /* the baseline run before the send (base_*: after it) */
    long send_rss, resume_rss, validate_rss;
    long lines, unique, foreign;
    int send_rc, resume_rc;
} pb__result;

/* The baseline in a child process: its pre-signed bodies (tens of MiB at 100,000 rows) would
 * otherwise stay in this process's heap, and a `send` forked from it afterwards would have
 * them counted in its peak RSS (ru_maxrss counts the memory before exec). */
static int pb__baseline_child(const char *pb, long n, double *rate, double *cpu_s)
{
    struct {
        int rc;
        double rate, cpu;
    } out = {-1, 0, 0};
    int fds[2], status;
    pid_t pid;
    if (pipe(fds) != 0)
        return -1;
    if ((pid = fork()) < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        out.rc = pb__baseline(pb, n, &out.rate, &out.cpu);
        _exit(write(fds[1], &out, sizeof(out)) == (ssize_t)sizeof(out) ? 0 : 1);
    }
    close(fds[1]);
    if (read(fds[0], &out, sizeof(out)) != (ssize_t)sizeof(out))
        out.rc = -1;
    close(fds[0]);
    (void)waitpid(pid, &status, 0);
    *rate = out.rate;
    *cpu_s = out.cpu;
    return out.rc;
}

static int pb__one(const char *pb, long rows, pb__result *r)
{
    char file[] = "/tmp/pb-bench-send-XXXXXX", ledger[] = "/tmp/pb-bench-ledger-XXXXXX";
    char db[64], url[64];
    pb__bench_sandbox sb;
    int fd, rc = -1;

    memset(r, 0, sizeof(*r));
    memset(&sb, 0, sizeof(sb));
    sb.pid = -1;
    r->rows = rows;
    if ((fd = mkstemp(file)) < 0)
        return -1;
    close(fd);
    if ((fd = mkstemp(ledger)) < 0) {
        unlink(file);
        return -1;
    }
    close(fd);
    snprintf(db, sizeof(db), "%s.db", file);
    /* the baseline runs before the send and after it: this machine's speed changes within a
     * minute, and a ratio to one baseline measured in another phase says little */
    if (pb__baseline_child(pb, rows, &r->base_rate0, &r->base_cpu0) < 0)
        fprintf(stderr, "baseline failed\n");
    if (pb__bench_gen(file, rows) != 0 || pb__bench_sandbox_start(&sb, pb, ledger, rows + 1000))
        goto out;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", sb.port);
    {
        char *a[] = {(char *)pb,     "send",  "--state", db,       "--gate-url",    url,
                     "--project-id", "7",     "--rate",  "100000", "--concurrency", "64",
                     "-q",           "--yes", file,      NULL};
        /* 75: every row accepted, final statuses come later by callback or reconcile */
        r->send_rc = pb__bench_run_cpu(a, PB__TIMEOUT_S, &r->send_s, &r->send_rss, &r->send_cpu);
        r->resume_rc = pb__bench_run(a, PB__TIMEOUT_S, &r->resume_s, &r->resume_rss);
    }
    {
        char *a[] = {(char *)pb, "validate", "-q", file, NULL};
        if (pb__bench_run(a, PB__TIMEOUT_S, &r->validate_s, &r->validate_rss) != 0)
            fprintf(stderr, "paybatch validate failed\n");
    }
    pb__bench_sandbox_stop(&sb);
    if (pb__ledger_check(ledger, rows, &r->lines, &r->unique, &r->foreign) < 0)
        goto out;
    if (pb__baseline_child(pb, rows, &r->base_rate, &r->base_cpu) < 0)
        fprintf(stderr, "baseline failed\n");
    rc = (r->send_rc == 0 || r->send_rc == 75) && (r->resume_rc == 0 || r->resume_rc == 75) &&
                 r->lines == rows && r->unique == rows && r->foreign == 0
             ? 0
             : -1;
out:
    pb__bench_sandbox_stop(&sb);
    unlink(file);
    unlink(ledger);
    pb__bench_rm_store(db);
    return rc;
}

static void pb__print(const pb__result *r)
{
    double rate = (double)r->rows / r->send_s;
    printf("rows: %ld (Touch'n Go + GCash), --rate 100000 --concurrency 64, sandbox with ledger\n",
           r->rows);
    printf("  send:     %8.3f s  %8.0f rows/s  peak RSS %6.1f MiB  exit %d\n", r->send_s, rate,
           r->send_rss / 1024.0, r->send_rc);
    if (r->base_rate > 0 && r->base_rate0 > 0)
        printf("  baseline: stateless pb_http_client, 64 in flight, pre-signed bodies: %8.0f "
               "rows/s before the send, %.0f after; send runs at %.0f%% / %.0f%% of them, %.0f%% "
               "of their mean (target >= 50%%, and >= 5,000 rows/s)\n",
               r->base_rate0, r->base_rate, 100.0 * rate / r->base_rate0,
               100.0 * rate / r->base_rate, 200.0 * rate / (r->base_rate0 + r->base_rate));
    else
        printf("  baseline: failed\n");
    if (r->base_rate > 0)
        printf("  CPU (user+sys) per row: send %.1f us, baseline client %.1f us before and %.1f "
               "us after (%.2fx their mean)\n",
               1e6 * r->send_cpu / (double)r->rows, 1e6 * r->base_cpu0 / (double)r->rows,
               1e6 * r->base_cpu / (double)r->rows, 2 * r->send_cpu / (r->base_cpu0 + r->base_cpu));
    printf("  ledger:   %ld lines, %ld unique payment ids, %ld foreign%s\n", r->lines, r->unique,
           r->foreign,
           r->lines == r->rows && r->unique == r->rows && !r->foreign ? " (exactly ROWS: ok)"
                                                                      : " MISMATCH");
    printf("  resume:   %8.3f s  (all rows already accepted; exit %d; peak RSS %.1f MiB)\n",
           r->resume_s, r->resume_rc, r->resume_rss / 1024.0);
    printf("  baseline: paybatch validate -q on the same file: %.3f s; resume takes %.2fx of it "
           "(target: resume under 1 s for 100,000 rows)\n",
           r->validate_s, r->resume_s / r->validate_s);
}

int main(int argc, char **argv)
{
    const char *pb = argc > 1 ? argv[1] : "./paybatch";
    long rows = argc > 2 ? strtol(argv[2], NULL, 10) : 100000;
    pb__result small, big;
    int rc = 0;

    pb_global_init();
    if (argc == 4 && strcmp(argv[1], "--gen") == 0) /* bench_send --gen FILE ROWS: the input only */
        return pb__bench_gen(argv[2], strtol(argv[3], NULL, 10)) == 0 ? 0 : 1;
    if (rows < 1 || rows > 1000000) {
        /* the sandbox keeps each payment in memory (about 0.5 KiB: ~0.5 GiB at 1,000,000) */
        fprintf(stderr, "ROWS: 1 .. 1,000,000\n");
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    setenv("PAYBATCH_SECRET_KEY", PB_BENCH_SECRET, 1);
    if (rows > 10000) {
        rc |= pb__one(pb, 10000, &small) != 0;
        pb__print(&small);
    }
    rc |= pb__one(pb, rows, &big) != 0;
    pb__print(&big);
    if (rows > 10000)
        printf("peak RSS of send: %.1f MiB for 10,000 rows, %.1f MiB for %ld rows (%.2fx for "
               "%.0fx the rows)\n",
               small.send_rss / 1024.0, big.send_rss / 1024.0, rows,
               (double)big.send_rss / (double)small.send_rss, rows / 10000.0);
    curl_global_cleanup();
    return rc;
}
