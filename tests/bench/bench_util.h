/*
 * bench_util.h - helpers shared by the send benchmarks (header-only, static): the clock, a
 * valid mixed payout file (Touch'n Go + GCash), a child `paybatch sandbox` on a free loopback
 * port, and running a child with a bounded wait and its peak RSS.
 *
 * Every wait is bounded; children are killed when their deadline passes. Files are the
 * caller's (it unlinks them).
 */
#ifndef PB_BENCH_BENCH_UTIL_H
#define PB_BENCH_BENCH_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PB_BENCH_PROJECT "7"
#define PB_BENCH_SECRET  "bench-secret"
#define PB_BENCH_HEADER                                                                            \
    "method,payment_id,amount,currency,customer_id,ip_address,account_number,customer_name,"       \
    "description\n"

static inline double pb__now_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The cells of row i of the generated file: odd rows GCash (PHP, 11 digits starting 09), even
 * rows Touch'n Go (MYR); amounts in minor units inside both methods' limits. */
typedef struct {
    char method[16], id[32], amount[24], currency[4], customer[32], ip[32], account[16];
    const char *name, *description;
} pb__bench_cells;

static inline void pb__bench_row(long i, pb__bench_cells *c)
{
    int gcash = (int)(i % 2);
    snprintf(c->method, sizeof(c->method), "%s", gcash ? "gcash" : "touchngo");
    snprintf(c->id, sizeof(c->id), "pay-%09ld", i);
    snprintf(c->amount, sizeof(c->amount), "%ld", gcash ? 1000 + (i % 100000) : 500 + (i % 100000));
    snprintf(c->currency, sizeof(c->currency), "%s", gcash ? "PHP" : "MYR");
    snprintf(c->customer, sizeof(c->customer), "cust-%ld", i % 50000);
    snprintf(c->ip, sizeof(c->ip), "%s.%ld.%ld", gcash ? "198.51" : "203.0", (i / 256) % 256,
             i % 256);
    snprintf(c->account, sizeof(c->account), "%s%09ld", gcash ? "09" : "60", i % 1000000000);
    c->name = gcash ? "Juan Dela Cruz" : "";
    c->description = gcash ? "monthly payout" : "cashback";
}

static inline int pb__bench_gen(const char *path, long rows)
{
    FILE *f = fopen(path, "w");
    long i;
    if (!f)
        return -1;
    fputs(PB_BENCH_HEADER, f);
    for (i = 0; i < rows; i++) {
        pb__bench_cells c;
        pb__bench_row(i, &c);
        fprintf(f, "%s,%s,%s,%s,%s,%s,%s,%s,%s\n", c.method, c.id, c.amount, c.currency, c.customer,
                c.ip, c.account, c.name, c.description);
    }
    return fclose(f);
}

/* Wait for pid at most timeout_s (then SIGKILL it). Exit status, or -1; rusage in *ru. */
static inline int pb__bench_wait(pid_t pid, double timeout_s, struct rusage *ru)
{
    double until = pb__now_s() + timeout_s;
    int status = 0;
    for (;;) {
        pid_t r = wait4(pid, &status, WNOHANG, ru);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (r < 0 && errno != EINTR)
            return -1;
        if (pb__now_s() > until) {
            fprintf(stderr, "child %d ran over %.0f s: killed\n", (int)pid, timeout_s);
            kill(pid, SIGKILL);
            (void)wait4(pid, &status, 0, ru);
            return -1;
        }
        usleep(2000);
    }
}

/* Run argv (stdout and stderr to /dev/null); wall seconds and the child's peak RSS in KiB. */
static inline int pb__bench_run_cpu(char *const argv[], double timeout_s, double *secs,
                                    long *rss_kib, double *cpu_s)
{
    struct rusage ru;
    double t0 = pb__now_s();
    int rc;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    memset(&ru, 0, sizeof(ru));
    rc = pb__bench_wait(pid, timeout_s, &ru);
    *secs = pb__now_s() - t0;
    *rss_kib = ru.ru_maxrss;
    if (cpu_s)
        *cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    return rc;
}

static inline int pb__bench_run(char *const argv[], double timeout_s, double *secs, long *rss_kib)
{
    return pb__bench_run_cpu(argv, timeout_s, secs, rss_kib, NULL);
}

typedef struct {
    pid_t pid;
    FILE *out; /* its stdout, kept open so it never writes to a closed pipe */
    int port;
} pb__bench_sandbox;

/* Start `paybatch sandbox` on 127.0.0.1:0 (ledger may be NULL); reads its port. */
static inline int pb__bench_sandbox_start(pb__bench_sandbox *s, const char *pb, const char *ledger,
                                          long max_payments)
{
    int fds[2];
    char line[256], maxp[32];
    snprintf(maxp, sizeof(maxp), "%ld", max_payments);
    s->pid = -1;
    s->out = NULL;
    if (pipe(fds) != 0)
        return -1;
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fds[1], 1);
        dup2(fd, 2);
        close(fds[0]);
        setenv("PAYBATCH_SECRET_KEY", PB_BENCH_SECRET, 1);
        if (ledger)
            execl(pb, pb, "sandbox", "--listen", "127.0.0.1:0", "--project-id", PB_BENCH_PROJECT,
                  "--max-payments", maxp, "--ledger", ledger, (char *)NULL);
        else
            execl(pb, pb, "sandbox", "--listen", "127.0.0.1:0", "--project-id", PB_BENCH_PROJECT,
                  "--max-payments", maxp, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    s->out = fdopen(fds[0], "r");
    /* the first line comes at once; a sandbox that cannot start exits (EOF), never hangs */
    if (!s->out || !fgets(line, sizeof(line), s->out) ||
        sscanf(line, "listening on 127.0.0.1:%d", &s->port) != 1) {
        fprintf(stderr, "sandbox did not start\n");
        kill(s->pid, SIGKILL);
        (void)waitpid(s->pid, NULL, 0);
        s->pid = -1;
        return -1;
    }
    return 0;
}

static inline void pb__bench_sandbox_stop(pb__bench_sandbox *s)
{
    struct rusage ru;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        (void)pb__bench_wait(s->pid, 10, &ru); /* killed if it does not stop within 10 s */
    }
    s->pid = -1;
    if (s->out)
        fclose(s->out);
    s->out = NULL;
}

/* Remove a SQLite store and what `send` leaves beside it: -wal, -shm, the batch lock files. */
static inline void pb__bench_rm_store(const char *db)
{
    char pat[256];
    glob_t g;
    unlink(db);
    snprintf(pat, sizeof(pat), "%s-wal", db);
    unlink(pat);
    snprintf(pat, sizeof(pat), "%s-shm", db);
    unlink(pat);
    snprintf(pat, sizeof(pat), "%s.*.lock", db);
    if (glob(pat, 0, NULL, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; i++)
            unlink(g.gl_pathv[i]);
    globfree(&g);
}

#endif
