/*
 * bench/rate - how exactly `paybatch send --rate N` keeps its rate (issue #12).
 *
 * Usage: bench_rate PATH/TO/paybatch [SECONDS]   (default 10 s per rate, as the issue asks)
 *
 * For 10, 100 and 1,000 requests/s: a minimal Gate receiver in this process (the project's
 * http_server on a uv loop in a thread) answers every payout 200 {"status":"success"} and
 * records its arrival time (CLOCK_MONOTONIC, microseconds); `paybatch send --rate N
 * --concurrency 64` sends a file of N x SECONDS rows to it. Prints the achieved rate (arrivals
 * - 1 over first to last arrival), its error against the target, and the busiest 1-second
 * window (sliding, starting at each arrival) beside the target: the limiter promises at most
 * rate + 1 per window below 500/s, rate + 2 from there (core/engine.c: the burst).
 */
#include "batch/net/http_server.h"
#include "core/alloc.h"
#include "formats/global.h"

#include "bench_util.h"

#include <pthread.h>
#include <uv.h>

typedef struct {
    uv_loop_t loop;
    uv_async_t stop;
    pb_http_server *srv;
    pthread_t thread;
    int64_t *at_us;
    long cap, n, other;
    int port;
} pb__recv;

static int64_t pb__now_us(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void pb__handle(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    static const char ok[] = "{\"status\":\"success\",\"request_id\":\"bench\"}";
    pb__recv *r = ctx;
    int64_t t = pb__now_us();
    if (strcmp(req->method, "POST") != 0 || strstr(req->path, "/payout") == NULL) {
        r->other++;
        (void)pb_http_respond_error(ex, 404, "Not found", NULL); /* counted, not timed */
        return;
    }
    if (r->n < r->cap)
        r->at_us[r->n] = t;
    r->n++;
    (void)pb_http_respond(ex, 200, "application/json", NULL, ok, sizeof(ok) - 1);
    /* a failed answer (client gone) is the client's problem: the arrival is recorded */
}

static void pb__on_stop(uv_async_t *a)
{
    pb__recv *r = a->data;
    pb_http_server_close(r->srv, NULL, NULL);
    uv_close((uv_handle_t *)&r->stop, NULL);
}

static void *pb__recv_main(void *arg)
{
    pb__recv *r = arg;
    (void)uv_run(&r->loop, UV_RUN_DEFAULT); /* ends when the stop async closed everything */
    return NULL;
}

static int pb__recv_start(pb__recv *r, long cap)
{
    memset(r, 0, sizeof(*r));
    r->cap = cap;
    if (!(r->at_us = pb_calloc((size_t)cap, sizeof(int64_t))) || uv_loop_init(&r->loop) != 0)
        return -1;
    if (pb_http_server_new(&r->srv, &r->loop, NULL, pb__handle, r) < 0 ||
        pb_http_server_listen(r->srv, "127.0.0.1", 0) < 0 ||
        (r->port = pb_http_server_port(r->srv)) <= 0 ||
        uv_async_init(&r->loop, &r->stop, pb__on_stop) != 0)
        return -1;
    r->stop.data = r;
    return pthread_create(&r->thread, NULL, pb__recv_main, r) == 0 ? 0 : -1;
}

/* Close the server and join its thread; the arrival times stay for the caller to free. */
static void pb__recv_stop(pb__recv *r)
{
    (void)uv_async_send(&r->stop);
    (void)pthread_join(r->thread, NULL);
    pb_http_server_free(r->srv);
    if (uv_loop_close(&r->loop) != 0)
        fprintf(stderr, "receiver: loop closed with handles open\n");
}

/* One rate: returns 0 when every row arrived exactly once. */
static int pb__one(const char *pb, long rate, long seconds)
{
    char file[] = "/tmp/pb-bench-rate-XXXXXX", db[64], url[64], rate_s[32];
    long rows = rate * seconds, i, j = 0, busiest = 0;
    int64_t busiest_at = 0;
    double secs = 0, achieved;
    long rss = 0;
    pb__recv r;
    int fd, rc;

    if ((fd = mkstemp(file)) < 0)
        return -1;
    close(fd);
    snprintf(db, sizeof(db), "%s.db", file);
    if (pb__bench_gen(file, rows) != 0 || pb__recv_start(&r, rows + 16) != 0) {
        unlink(file);
        return -1;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", r.port);
    snprintf(rate_s, sizeof(rate_s), "%ld", rate);
    {
        char *a[] = {(char *)pb,     "send",  "--state", db,     "--gate-url",    url,
                     "--project-id", "7",     "--rate",  rate_s, "--concurrency", "64",
                     "-q",           "--yes", file,      NULL};
        rc = pb__bench_run(a, (double)seconds * 3 + 120, &secs, &rss);
    }
    pb__recv_stop(&r);
    for (i = 0; i < r.n && i < r.cap; i++) {
        while (r.at_us[j] <= r.at_us[i] - 1000000)
            j++;
        if (i - j + 1 > busiest) {
            busiest = i - j + 1;
            busiest_at = r.at_us[i] - r.at_us[0];
        }
    }
    achieved = r.n > 1 ? (double)(r.n - 1) * 1e6 / (double)(r.at_us[r.n - 1] - r.at_us[0]) : 0;
    printf("--rate %-5ld %6ld requests in %6.3f s (first to last arrival): %9.3f req/s, error "
           "%+6.2f%%; busiest 1 s window %5ld (ending %.1f s in) beside the target %ld (bound "
           "%ld); send exit %d in %.1f s\n",
           rate, r.n, r.n > 1 ? (double)(r.at_us[r.n - 1] - r.at_us[0]) / 1e6 : 0.0, achieved,
           100.0 * (achieved - (double)rate) / (double)rate, busiest, busiest_at / 1e6, rate,
           rate + (rate >= 500 ? 2 : 1), rc, secs);
    rc = (rc == 0 || rc == 75) && r.n == rows && r.other == 0 ? 0 : -1;
    pb_free(r.at_us);
    unlink(file);
    pb__bench_rm_store(db);
    return rc;
}

int main(int argc, char **argv)
{
    static const long rates[] = {10, 100, 1000};
    const char *pb = argc > 1 ? argv[1] : "./paybatch";
    long seconds = argc > 2 ? strtol(argv[2], NULL, 10) : 10;
    size_t k;
    int rc = 0;

    pb_global_init();
    if (seconds < 2 || seconds > 120) {
        fprintf(stderr, "SECONDS: 2 .. 120\n");
        return 2;
    }
    setenv("PAYBATCH_SECRET_KEY", PB_BENCH_SECRET, 1);
    printf("rate limiter accuracy: paybatch send --rate N --concurrency 64 for %ld s each, "
           "arrivals timed by the receiver (microseconds)\n",
           seconds);
    for (k = 0; k < sizeof(rates) / sizeof(rates[0]); k++)
        if (pb__one(pb, rates[k], seconds) != 0) {
            fprintf(stderr, "--rate %ld: not every row arrived exactly once\n", rates[k]);
            rc = 1;
        }
    return rc;
}
