/*
 * bench/validate - throughput and peak memory of `paybatch validate`, with baselines.
 *
 * Usage: bench_validate PATH/TO/paybatch [ROWS]   (default 1,000,000 rows)
 * paybatch on the valid file and the libcsv ceiling are timed best of 3 (peak RSS: the largest).
 * Generates a valid file and one with 10% invalid rows, runs paybatch validate on each, and
 * in the same run times `mlr --icsv --ojson cat`, Python's csv module and libcsv's bare parse
 * (empty callbacks, 256 KiB reads: the ceiling of a validator built on libcsv) reading the same
 * file, so the ratios stay meaningful on a noisy shared machine. Prints rows/s, peak RSS.
 * `bench_validate --libcsv-parse FILE` is that bare parse on its own (the benchmark runs it).
 * Above 2,000,000 rows (e.g. 10,000,000 to see the peak RSS grow by the duplicate index alone)
 * Miller and Python are skipped: Miller would need ~1 GiB per million rows.
 */
#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int gen(const char *path, long rows, int invalid_pct)
{
    FILE *f = fopen(path, "w");
    long i;
    if (!f)
        return -1;
    fputs("method,payment_id,amount,currency,customer_id,ip_address,account_number,"
          "customer_name,description\n",
          f);
    for (i = 0; i < rows; i++) {
        int bad = invalid_pct && (i % 100) < invalid_pct;
        if (i % 2)
            fprintf(f,
                    "gcash,pay-%09ld,%ld,PHP,cust-%ld,198.51.%ld.%ld,09%09ld,Juan Dela Cruz,%s\n",
                    i, bad ? 5L : 1000 + (i % 100000), i % 50000, (i / 256) % 256, i % 256,
                    i % 1000000000, "monthly payout");
        else
            fprintf(f, "touchngo,pay-%09ld,%ld,MYR,cust-%ld,203.0.%ld.%ld,60%09ld,,%s\n", i,
                    500 + (i % 100000), i % 50000, (i / 256) % 256, i % 256, i % 1000000000,
                    bad ? "bad\001char" : "cashback");
    }
    return fclose(f);
}

static void bare_field(void *s, size_t len, void *data)
{
    (void)s;
    (void)len;
    (void)data;
}

static void bare_row(int c, void *data)
{
    (void)c;
    ++*(unsigned long *)data;
}

/* libcsv with empty callbacks over the file, read as paybatch reads it. */
static int bare_parse(const char *path)
{
    static char buf[256 * 1024];
    struct csv_parser p;
    unsigned long nrows = 0;
    ssize_t n;
    int fd = open(path, O_RDONLY);
    if (fd < 0 || csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) != 0)
        return 1;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        if (csv_parse(&p, buf, (size_t)n, bare_field, bare_row, &nrows) != (size_t)n)
            return 1;
    }
    csv_fini(&p, bare_field, bare_row, &nrows);
    csv_free(&p);
    close(fd);
    printf("%lu rows\n", nrows);
    return n < 0;
}

/* Run argv with stdout to /dev/null; wall seconds and peak RSS (KiB) of the child. */
static int run(char *const argv[], double *secs, long *rss_kib)
{
    struct rusage ru;
    int status;
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (wait4(pid, &status, 0, &ru) < 0)
        return -1;
    *secs = now_s() - t0;
    *rss_kib = ru.ru_maxrss;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(int argc, char **argv)
{
    const char *pb = argc > 1 ? argv[1] : "./paybatch";
    long rows = argc > 2 ? strtol(argv[2], NULL, 10) : 1000000;
    char valid[] = "/tmp/pb-bench-valid-XXXXXX", invalid[] = "/tmp/pb-bench-invalid-XXXXXX";
    double t_pb, t_pb_inv, t_mlr = 0, t_py = 0, t_csv = 0;
    long r_pb, r_pb_inv, r_mlr = 0, r_py = 0, r_csv = 0;
    int rc, fd, i;

    if (argc == 3 && strcmp(argv[1], "--libcsv-parse") == 0)
        return bare_parse(argv[2]);

    if ((fd = mkstemp(valid)) < 0 || close(fd) != 0 || (fd = mkstemp(invalid)) < 0 ||
        close(fd) != 0)
        return 1;
    if (gen(valid, rows, 0) != 0 || gen(invalid, rows, 10) != 0) {
        fprintf(stderr, "cannot write the test files: %s\n", strerror(errno));
        return 1;
    }
    /* paybatch and its ceiling: best of 3, interleaved, so both see the same machine load */
    t_pb = t_csv = 1e30;
    r_pb = r_csv = 0;
    for (i = 0; i < 3; i++) {
        char *a[] = {(char *)pb, "validate", "-q", valid, NULL};
        char *b[] = {"/proc/self/exe", "--libcsv-parse", valid, NULL};
        double t;
        long r;
        rc = run(a, &t, &r);
        if (rc != 0) {
            fprintf(stderr, "paybatch validate on the valid file exited %d\n", rc);
            return 1;
        }
        t_pb = t < t_pb ? t : t_pb;
        r_pb = r > r_pb ? r : r_pb;
        if (run(b, &t, &r) != 0) {
            fprintf(stderr, "libcsv bare parse failed\n");
            return 1;
        }
        t_csv = t < t_csv ? t : t_csv;
        r_csv = r > r_csv ? r : r_csv;
    }
    {
        char *a[] = {(char *)pb, "validate", "-q", invalid, NULL};
        rc = run(a, &t_pb_inv, &r_pb_inv);
        if (rc != 65) {
            fprintf(stderr, "paybatch validate on the invalid file exited %d, want 65\n", rc);
            return 1;
        }
    }
    if (rows <= 2000000) {
        char *a[] = {"mlr", "--icsv", "--ojson", "cat", valid, NULL};
        if (run(a, &t_mlr, &r_mlr) != 0)
            t_mlr = 0;
    }
    if (rows <= 2000000) {
        char *a[] = {"python3", "-c",
                     "import csv,sys\nn=0\nfor r in csv.reader(open(sys.argv[1],newline='')): "
                     "n+=1\n",
                     valid, NULL};
        if (run(a, &t_py, &r_py) != 0)
            t_py = 0;
    }
    printf("rows: %ld per file\n", rows);
    printf("paybatch validate, valid file:      %8.3f s  %10.0f rows/s  peak RSS %6.1f MiB\n", t_pb,
           rows / t_pb, r_pb / 1024.0);
    printf("paybatch validate, 10%% invalid:     %8.3f s  %10.0f rows/s  peak RSS %6.1f MiB\n",
           t_pb_inv, rows / t_pb_inv, r_pb_inv / 1024.0);
    if (t_mlr > 0)
        printf("baseline mlr --icsv --ojson cat:    %8.3f s  %10.0f rows/s  peak RSS %6.1f MiB"
               "  (paybatch is %.1fx faster)\n",
               t_mlr, rows / t_mlr, r_mlr / 1024.0, t_mlr / t_pb);
    else if (rows <= 2000000)
        printf("baseline mlr: not available (apt-get install miller)\n");
    else
        printf("baselines mlr and python3: skipped above 2,000,000 rows\n");
    if (t_py > 0)
        printf("baseline python3 csv.reader:        %8.3f s  %10.0f rows/s  peak RSS %6.1f MiB"
               "  (paybatch is %.1fx faster)\n",
               t_py, rows / t_py, r_py / 1024.0, t_py / t_pb);
    printf("ceiling libcsv bare parse:          %8.3f s  %10.0f rows/s  peak RSS %6.1f MiB"
           "  (paybatch runs at %.0f%% of it)\n",
           t_csv, rows / t_csv, r_csv / 1024.0, 100.0 * t_csv / t_pb);
    unlink(valid);
    unlink(invalid);
    return 0;
}
