/*
 * bench/sandbox - payouts per second the sandbox gateway accepts, with a baseline.
 *
 * Usage: bench_sandbox PATH/TO/paybatch [PAYOUTS]   (default 100,000; the sandbox keeps at most
 * 200,000 payments in memory)
 *
 * Starts `paybatch sandbox` on a free loopback port with the ledger on, pre-signs PAYOUTS
 * distinct payout requests, and sends them over 64 keep-alive connections (libcurl multi).
 * In the same run, wrk drives GET /healthz of the same server with 64 connections: the
 * server's cost without the signature check, JSON parsing and ledger. Prints both rates and
 * their ratio, and checks that the ledger holds exactly one line per accepted payout.
 */
#include "core/alloc.h"
#include "formats/gate_request.h"
#include "support/rows.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CONNS 64

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return sz * n;
}

static pid_t start_sandbox(const char *pb, const char *ledger, int *port)
{
    int fds[2];
    pid_t pid;
    FILE *f;
    char line[256];

    if (pipe(fds) != 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(pb, pb, "sandbox", "--listen", "127.0.0.1:0", "--project-id", "7", "--ledger", ledger,
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    if (!f || !fgets(line, sizeof(line), f) ||
        sscanf(line, "listening on 127.0.0.1:%d", port) != 1) {
        fprintf(stderr, "sandbox did not start\n");
        kill(pid, SIGKILL);
        return -1;
    }
    return pid; /* f stays open so the sandbox never writes to a closed pipe */
}

static double run_wrk(int port, long *reqs)
{
    char cmd[256], line[512];
    FILE *p;
    double rate = 0;
    snprintf(cmd, sizeof(cmd), "wrk -t2 -c%d -d5s http://127.0.0.1:%d/healthz 2>&1", CONNS, port);
    p = popen(cmd, "r");
    if (!p)
        return 0;
    while (fgets(line, sizeof(line), p)) {
        sscanf(line, "Requests/sec: %lf", &rate);
        sscanf(line, " %ld requests in", reqs);
    }
    pclose(p);
    return rate;
}

int main(int argc, char **argv)
{
    const char *pb = argc > 1 ? argv[1] : "./paybatch";
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 100000, i, next = 0, done = 0, ok = 0;
    char ledger[] = "/tmp/pb-bench-ledger-XXXXXX", url[128], **bodies;
    pb_gate_cfg cfg = {7, NULL, "bench-secret", 12};
    struct curl_slist *hdr = NULL;
    CURLM *multi;
    CURL *easy[CONNS];
    pid_t pid;
    int port, fd, running;
    double t0, t, wrk_rate;
    long wrk_reqs = 0, lines = 0;
    FILE *lf;
    int ch;

    setenv("PAYBATCH_SECRET_KEY", "bench-secret", 1);
    if ((fd = mkstemp(ledger)) < 0)
        return 1;
    close(fd);
    /* the requests are signed before the clock starts: this measures the server */
    bodies = calloc((size_t)n, sizeof(char *));
    for (i = 0; i < n; i++) {
        pb_row row;
        pb_row_result res;
        char id[32];
        pb_buf b;
        snprintf(id, sizeof(id), "bench-%09ld", i);
        pb_test_row(&row, &res, "gcash", id, "09171234560");
        pb_buf_init(&b, PB_GATE_BODY_MAX);
        if (pb_gate_payout_body(&row, &res, &cfg, &b) != 0)
            return 1;
        bodies[i] = pb_buf_detach(&b, NULL);
    }
    pid = start_sandbox(pb, ledger, &port);
    if (pid < 0)
        return 1;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)CONNS);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v2/payment/wallet/gcash/payout", port);
    t0 = now_s();
    for (i = 0; i < CONNS && next < n; i++) {
        easy[i] = curl_easy_init();
        curl_easy_setopt(easy[i], CURLOPT_URL, url);
        curl_easy_setopt(easy[i], CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(easy[i], CURLOPT_TIMEOUT_MS, 30000L);
        curl_easy_setopt(easy[i], CURLOPT_POSTFIELDS, bodies[next++]);
        curl_multi_add_handle(multi, easy[i]);
    }
    while (done < n) {
        CURLMsg *m;
        int q;
        curl_multi_perform(multi, &running);
        while ((m = curl_multi_info_read(multi, &q)) != NULL) {
            long code = 0;
            CURL *e = m->easy_handle;
            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
            ok += code == 200;
            done++;
            curl_multi_remove_handle(multi, e);
            if (next < n) { /* the same handle keeps its connection alive */
                curl_easy_setopt(e, CURLOPT_POSTFIELDS, bodies[next++]);
                curl_multi_add_handle(multi, e);
            } else {
                curl_easy_cleanup(e);
            }
        }
        if (done < n)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
        if (now_s() - t0 > 300) {
            fprintf(stderr, "gave up after 300 s (%ld of %ld answered)\n", done, n);
            break;
        }
    }
    t = now_s() - t0;
    wrk_rate = run_wrk(port, &wrk_reqs);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    lf = fopen(ledger, "r");
    while (lf && (ch = fgetc(lf)) != EOF)
        lines += ch == '\n';
    if (lf)
        fclose(lf);

    printf("sandbox: %ld signed payouts over %d keep-alive connections, ledger on\n", n, CONNS);
    printf("  accepted (HTTP 200): %ld in %.3f s = %.0f payouts/s; ledger lines: %ld%s\n", ok, t,
           ok / t, lines, lines == ok ? " (one per accepted payout)" : " MISMATCH");
    if (wrk_rate > 0)
        printf("  baseline wrk -c%d GET /healthz on the same server: %.0f req/s (%ld requests);"
               " payouts run at %.2fx of it\n",
               CONNS, wrk_rate, wrk_reqs, (ok / t) / wrk_rate);
    else
        printf("  baseline: wrk not available (apt-get install wrk) or /healthz missing\n");
    for (i = 0; i < n; i++)
        pb_free(bodies[i]);
    free(bodies);
    curl_slist_free_all(hdr);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    unlink(ledger);
    return lines == ok && ok == n ? 0 : 1;
}
