/*
 * bench/callbacks - callback intake of `paybatch listen` (issue #13), with an in-run baseline,
 * and a flood of forged callbacks beside genuine ones.
 *
 * Usage: bench_callbacks PATH/TO/paybatch [N]   (default 20,000)
 *
 * 1. Intake: a SQLite store with N accepted rows (made through the store API), `paybatch
 *    listen` on a free loopback port, and N signed `success` callbacks (one per row) posted
 *    with 64 in flight: callbacks/s answered 200, each verified and recorded durably (the
 *    store is checked afterwards: N rows success, N inbox lines). Baseline in the same run: the
 *    same bodies posted the same way to the project's HTTP server (pb_http_server, in a child
 *    process) answering a trivial route (200 "OK", nothing parsed or stored). Target (issue
 *    #13): >= 5,000 callbacks/s; the ratio is printed (the machine is shared and noisy).
 * 2. Flood: 10 s of genuine callbacks at 200/s alone, then 10 s of genuine callbacks at 200/s
 *    while 1,000 forged callbacks/s (wrong key, each a `decline` for a row that stays
 *    accepted) arrive on other connections: genuine recorded/s and latency p50/p99 with and
 *    without the flood; every forged one must be answered 400 and change nothing.
 */
#include "batch/net/http_client.h"
#include "batch/net/http_server.h"
#include "batch/store/store.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/signature.h"
#include "formats/global.h"

#include "bench_util.h"

#include <curl/curl.h>
#include <uv.h>

#define PB__CONC      64
#define PB__FLOOD_S   10
#define PB__GENUINE_S 200  /* genuine callbacks per second during the flood test */
#define PB__FORGED_S  1000 /* forged callbacks per second */

/* ---- bodies --------------------------------------------------------------------------- */

/* A callback for payment id with status, signed with key (the project's or a forger's). */
static char *pb__callback(const char *id, const char *status, const char *key, size_t *len)
{
    char body[768], sig[PB_SIG_LEN + 1], *out;
    int n =
        snprintf(body, sizeof(body),
                 "{\"project_id\":" PB_BENCH_PROJECT ",\"payment\":{\"id\":\"%s\",\"type\":"
                 "\"payout\",\"status\":\"%s\",\"sum\":{\"amount\":1000,\"currency\":\"PHP\"}},"
                 "\"operation\":{\"id\":1,\"type\":\"payout\",\"status\":\"%s\",\"code\":\"%s\","
                 "\"message\":\"m\"}}",
                 id, status, status, strcmp(status, "decline") == 0 ? "20101" : "0");
    if (n < 0 || (size_t)n >= sizeof(body) ||
        pb_sig_sign_json(body, (size_t)n, key, strlen(key), sig) != 0)
        return NULL;
    if (!(out = pb_malloc((size_t)n + PB_SIG_LEN + 32)))
        return NULL;
    body[n - 1] = '\0'; /* drop the closing brace: the signature goes before it */
    *len =
        (size_t)snprintf(out, (size_t)n + PB_SIG_LEN + 32, "%s,\"signature\":\"%s\"}", body, sig);
    return out;
}

/* ---- the store ------------------------------------------------------------------------ */

/* A fresh store at path with rows 2..n+1 accepted, payment ids prefix-<i>. */
static int pb__store_make(const char *path, const char *prefix, long n)
{
    static const char sha[] = "cbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcb";
    pb_store *st = NULL;
    pb_batch_key k;
    pb_batch_info bi;
    pb_store_row *rows = NULL, out[256];
    pb_row_update *ups = NULL;
    size_t got;
    int created, rc = -1;
    long i;

    memset(&k, 0, sizeof(k));
    memset(&bi, 0, sizeof(bi));
    k.name = prefix;
    k.file_name = "bench.csv";
    k.file_sha256 = sha;
    k.delimiter = ',';
    if (pb_store_open(&st, path) < 0 || pb_store_batch_begin(st, &k, &bi, &created) < 0)
        goto out;
    rows = pb_calloc((size_t)n, sizeof(*rows));
    ups = pb_calloc(256, sizeof(*ups));
    if (!rows || !ups)
        goto out;
    for (i = 0; i < n; i++) {
        rows[i].row_no = (uint32_t)i + 2;
        rows[i].state = PB_ROW_QUEUED;
        snprintf(rows[i].payment_id, sizeof(rows[i].payment_id), "%s-%ld", prefix, i);
        snprintf(rows[i].method, sizeof(rows[i].method), "gcash");
        rows[i].amount = 1000;
        snprintf(rows[i].currency, sizeof(rows[i].currency), "PHP");
        snprintf(rows[i].account_masked, sizeof(rows[i].account_masked), "0917****567");
    }
    if (pb_store_rows_add(st, bi.id, rows, (size_t)n) < 0)
        goto out;
    for (;;) {
        if (pb_store_claim(st, bi.id, 0, 256, out, &got) < 0)
            goto out;
        if (!got)
            break;
        for (size_t j = 0; j < got; j++) {
            memset(&ups[j], 0, sizeof(ups[j]));
            ups[j].row_no = out[j].row_no;
            ups[j].from = PB_ROW_SENDING;
            ups[j].to = PB_ROW_ACCEPTED;
            ups[j].at_ms = 1;
        }
        pb_store_rows_clear(out, got);
        if (pb_store_mark(st, bi.id, ups, got, NULL) < 0)
            goto out;
    }
    rc = 0;
out:
    if (rc < 0)
        fprintf(stderr, "store %s: %s\n", path, pb_error_last());
    pb_batch_info_clear(&bi);
    pb_free(rows);
    pb_free(ups);
    pb_store_free(st);
    return rc;
}

/* Rows of batch name in state, read back from the store. */
static long pb__store_count(const char *path, const char *name, pb_row_state state)
{
    pb_store *st = NULL;
    pb_batch_info bi;
    pb_batch_counts c;
    long n = -1;
    memset(&bi, 0, sizeof(bi));
    memset(&c, 0, sizeof(c));
    if (pb_store_open(&st, path) == 0 && pb_store_batch_get(st, name, &bi) == 0 &&
        pb_store_counts(st, bi.id, &c) == 0)
        n = (long)c.rows[state];
    pb_batch_counts_clear(&c);
    pb_batch_info_clear(&bi);
    pb_store_free(st);
    return n;
}

/* ---- children: `paybatch listen`, and the trivial server --------------------------------- */

typedef struct {
    pid_t pid;
    FILE *out;
    int port;
} pb__child;

static int pb__listen_start(pb__child *c, const char *pb, const char *db)
{
    int fds[2];
    char line[256];
    c->pid = -1;
    c->out = NULL;
    if (pipe(fds) != 0 || (c->pid = fork()) < 0)
        return -1;
    if (c->pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fds[1], 1);
        dup2(fd, 2);
        close(fds[0]);
        setenv("PAYBATCH_SECRET_KEY", PB_BENCH_SECRET, 1);
        execl(pb, pb, "listen", "--state", db, "--callback-listen", "127.0.0.1:0", "--project-id",
              PB_BENCH_PROJECT, "-q", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    c->out = fdopen(fds[0], "r");
    if (!c->out || !fgets(line, sizeof(line), c->out) ||
        sscanf(line, "listening on 127.0.0.1:%d", &c->port) != 1) {
        fprintf(stderr, "paybatch listen did not start\n");
        kill(c->pid, SIGKILL);
        (void)waitpid(c->pid, NULL, 0);
        c->pid = -1;
        return -1;
    }
    return 0;
}

static void pb__child_stop(pb__child *c)
{
    struct rusage ru;
    if (c->pid > 0) {
        kill(c->pid, SIGTERM);
        (void)pb__bench_wait(c->pid, 10, &ru);
    }
    c->pid = -1;
    if (c->out)
        fclose(c->out);
    c->out = NULL;
}

static void pb__trivial(pb_http_exchange *ex, const pb_http_request *req, void *ctx)
{
    (void)req, (void)ctx;
    (void)pb_http_respond(ex, 200, "text/plain", NULL, "OK", 2);
}

static void pb__trivial_stop(uv_signal_t *s, int signum)
{
    (void)signum;
    uv_stop(s->loop);
}

/* The project's HTTP server with a trivial route, in a child process on a free port. */
static int pb__trivial_start(pb__child *c)
{
    int fds[2];
    c->pid = -1;
    c->out = NULL;
    if (pipe(fds) != 0 || (c->pid = fork()) < 0)
        return -1;
    if (c->pid == 0) {
        uv_loop_t loop;
        uv_signal_t sig;
        pb_http_server *srv = NULL;
        close(fds[0]);
        if (uv_loop_init(&loop) != 0 ||
            pb_http_server_new(&srv, &loop, NULL, pb__trivial, NULL) < 0 ||
            pb_http_server_listen(srv, "127.0.0.1", 0) < 0)
            _exit(1);
        dprintf(fds[1], "%d\n", pb_http_server_port(srv));
        close(fds[1]);
        (void)uv_signal_init(&loop, &sig);
        (void)uv_signal_start(&sig, pb__trivial_stop, SIGTERM);
        (void)uv_run(&loop, UV_RUN_DEFAULT);
        _exit(0); /* the process ends: the kernel closes the sockets */
    }
    close(fds[1]);
    c->out = fdopen(fds[0], "r");
    if (!c->out || fscanf(c->out, "%d", &c->port) != 1) {
        fprintf(stderr, "trivial server did not start\n");
        kill(c->pid, SIGKILL);
        (void)waitpid(c->pid, NULL, 0);
        c->pid = -1;
        return -1;
    }
    return 0;
}

/* ---- posting -------------------------------------------------------------------------- */

static const char *const pb__headers[] = {"Content-Type: application/json", NULL};

/* n bodies to url, PB__CONC in flight: answers per second; ok/bad counted by status. */
typedef struct {
    pb_http_client *c;
    char **bodies;
    size_t *lens;
    const char *url;
    long n, next, done, ok, other;
} pb__burst;

static void pb__burst_post(pb__burst *b);

static void pb__burst_cb(const pb_http_result *r, void *payload)
{
    pb__burst *b = payload;
    b->done++;
    if (r->outcome == PB_HTTP_ANSWERED && r->status == 200)
        b->ok++;
    else
        b->other++;
    if (b->next < b->n)
        pb__burst_post(b);
    else if (b->done == b->n)
        pb_http_client_close(b->c, NULL, NULL);
}

static void pb__burst_post(pb__burst *b)
{
    long i = b->next++;
    if (pb_http_client_post(b->c, b->url, pb__headers, b->bodies[i], b->lens[i], 30000,
                            pb__burst_cb, b) < 0) {
        b->done++, b->other++;
        if (b->done == b->n)
            pb_http_client_close(b->c, NULL, NULL);
    }
}

static int pb__burst_run(const char *url, char **bodies, size_t *lens, long n, double *rate,
                         long *ok)
{
    pb__burst b;
    pb_http_client_opts ho;
    uv_loop_t loop;
    double t0;
    memset(&b, 0, sizeof(b));
    memset(&ho, 0, sizeof(ho));
    ho.max_host_connections = PB__CONC;
    if (uv_loop_init(&loop) != 0)
        return -1;
    if (pb_http_client_new(&b.c, &loop, &ho) < 0) {
        (void)uv_loop_close(&loop);
        return -1;
    }
    b.bodies = bodies;
    b.lens = lens;
    b.url = url;
    b.n = n;
    t0 = pb__now_s();
    for (long i = 0; i < PB__CONC && b.next < b.n; i++)
        pb__burst_post(&b);
    (void)uv_run(&loop, UV_RUN_DEFAULT); /* bounded: every request has a 30 s timeout */
    *rate = (double)b.done / (pb__now_s() - t0);
    *ok = b.ok;
    pb_http_client_free(b.c);
    if (uv_loop_close(&loop) != 0)
        fprintf(stderr, "loop closed with handles open\n");
    return 0;
}

/* ---- the flood ------------------------------------------------------------------------ */

typedef struct pb__flood pb__flood;
typedef struct {
    pb__flood *f;
    double sent_at;
} pb__req;

struct pb__flood {
    pb_http_client *good, *bad;
    uv_timer_t tick;
    char url[96];
    char **gbodies, **fbodies;
    size_t *glens, *flens;
    long ng, nf, gsent, fsent, gdone, fdone, gok, fbad, fother, gother;
    double t0, *lat;
    int forged_on;
};

static void pb__flood_maybe_close(pb__flood *f)
{
    if (f->gsent == f->ng && f->fsent == f->nf && f->gdone == f->ng && f->fdone == f->nf) {
        pb_http_client_close(f->good, NULL, NULL);
        pb_http_client_close(f->bad, NULL, NULL);
    }
}

static void pb__flood_good(const pb_http_result *r, void *payload)
{
    pb__req *q = payload;
    pb__flood *f = q->f;
    f->lat[f->gdone++] = pb__now_s() - q->sent_at;
    if (r->outcome == PB_HTTP_ANSWERED && r->status == 200)
        f->gok++;
    else
        f->gother++;
    pb_free(q);
    pb__flood_maybe_close(f);
}

static void pb__flood_bad(const pb_http_result *r, void *payload)
{
    pb__flood *f = payload;
    f->fdone++;
    if (r->outcome == PB_HTTP_ANSWERED && r->status == 400)
        f->fbad++;
    else
        f->fother++;
    pb__flood_maybe_close(f);
}

static void pb__flood_tick(uv_timer_t *t)
{
    pb__flood *f = t->data;
    double el = pb__now_s() - f->t0;
    long gwant = (long)(el * PB__GENUINE_S), fwant = f->forged_on ? (long)(el * PB__FORGED_S) : 0;
    while (f->gsent < f->ng && f->gsent < gwant) {
        pb__req *q = pb_malloc(sizeof(*q));
        long i = f->gsent++;
        if (!q) {
            f->gdone++, f->gother++;
            continue;
        }
        q->f = f;
        q->sent_at = pb__now_s();
        if (pb_http_client_post(f->good, f->url, pb__headers, f->gbodies[i], f->glens[i], 30000,
                                pb__flood_good, q) < 0) {
            pb_free(q);
            f->lat[f->gdone++] = 0;
            f->gother++;
        }
    }
    while (f->fsent < f->nf && f->fsent < fwant) {
        long i = f->fsent++;
        if (pb_http_client_post(f->bad, f->url, pb__headers, f->fbodies[i], f->flens[i], 30000,
                                pb__flood_bad, f) < 0)
            f->fdone++, f->fother++;
    }
    if (f->gsent == f->ng && f->fsent == f->nf) {
        (void)uv_timer_stop(t);
        uv_close((uv_handle_t *)t, NULL);
        pb__flood_maybe_close(f);
    }
}

static int pb__cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* 10 s of genuine callbacks at 200/s, with (forged_on) or without 1,000 forged/s. */
static int pb__flood_run(pb__flood *f, int port, int forged_on, double *rate, double *p50,
                         double *p99)
{
    pb_http_client_opts ho;
    uv_loop_t loop;
    double t;
    f->forged_on = forged_on;
    f->gsent = f->fsent = f->gdone = f->fdone = f->gok = f->fbad = f->fother = f->gother = 0;
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/callback", port);
    memset(&ho, 0, sizeof(ho));
    if (uv_loop_init(&loop) != 0)
        return -1;
    ho.max_host_connections = 8;
    if (pb_http_client_new(&f->good, &loop, &ho) < 0)
        return -1;
    ho.max_host_connections = 32;
    if (pb_http_client_new(&f->bad, &loop, &ho) < 0)
        return -1;
    long nf = f->nf;
    if (!forged_on)
        f->nf = 0;
    (void)uv_timer_init(&loop, &f->tick);
    f->tick.data = f;
    f->t0 = pb__now_s();
    (void)uv_timer_start(&f->tick, pb__flood_tick, 1, 1);
    (void)uv_run(&loop, UV_RUN_DEFAULT);
    t = pb__now_s() - f->t0;
    pb_http_client_free(f->good);
    pb_http_client_free(f->bad);
    if (uv_loop_close(&loop) != 0)
        fprintf(stderr, "flood loop closed with handles open\n");
    qsort(f->lat, (size_t)f->ng, sizeof(double), pb__cmp_d);
    *rate = (double)f->gok / t;
    *p50 = f->lat[f->ng / 2] * 1000;
    *p99 = f->lat[(f->ng * 99) / 100] * 1000;
    f->nf = nf;
    return 0;
}

/* ---- main ----------------------------------------------------------------------------- */

static char **pb__bodies(const char *prefix, long from, long n, const char *status, const char *key,
                         size_t **lens)
{
    char **b = pb_calloc((size_t)n, sizeof(char *)), id[64];
    *lens = pb_calloc((size_t)n, sizeof(size_t));
    if (!b || !*lens)
        return NULL;
    for (long i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "%s-%ld", prefix, from + i);
        if (!(b[i] = pb__callback(id, status, key, &(*lens)[i])))
            return NULL;
    }
    return b;
}

static void pb__bodies_free(char **b, size_t *lens, long n)
{
    for (long i = 0; b && i < n; i++)
        pb_free(b[i]);
    pb_free(b);
    pb_free(lens);
}

int main(int argc, char **argv)
{
    long n = argc > 2 ? atol(argv[2]) : 20000, ok = 0, ok_base = 0;
    char db[] = "/tmp/pb-bench-cb-XXXXXX", db2[64], url[96];
    double rate = 0, base = 0;
    pb__child lc, tc;
    char **bodies = NULL;
    size_t *lens = NULL;
    int fd, rc = 1;

    if (argc < 2 || n < 1 || n > 1000000) {
        fprintf(stderr, "usage: %s PATH/TO/paybatch [N (1..1,000,000)]\n", argv[0]);
        return 2;
    }
    pb_global_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN);
    if ((fd = mkstemp(db)) < 0)
        return 1;
    close(fd);
    unlink(db);
    snprintf(db2, sizeof(db2), "%s-flood", db);

    /* 1. intake */
    if (pb__store_make(db, "cb", n) < 0 ||
        !(bodies = pb__bodies("cb", 0, n, "success", PB_BENCH_SECRET, &lens)))
        goto out;
    if (pb__listen_start(&lc, argv[1], db) < 0)
        goto out;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/callback", lc.port);
    pb__burst_run(url, bodies, lens, n, &rate, &ok);
    pb__child_stop(&lc);
    if (pb__trivial_start(&tc) < 0)
        goto out;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/trivial", tc.port);
    pb__burst_run(url, bodies, lens, n, &base, &ok_base);
    pb__child_stop(&tc);
    long success = pb__store_count(db, "cb", PB_ROW_SUCCESS);
    printf("callbacks: %ld signed `success` callbacks, %d in flight, to `paybatch listen` "
           "(SQLite, synchronous=FULL)\n",
           n, PB__CONC);
    printf("  listen:   %8.0f callbacks/s verified and recorded (%ld answered 200; store: %ld "
           "rows success)\n",
           rate, ok, success);
    printf("  baseline: %8.0f requests/s, the same server answering a trivial route; listen runs "
           "at %.0f%% of it (target >= 5,000/s)\n",
           base, base > 0 ? 100.0 * rate / base : 0);
    if (ok != n || success != n || ok_base != n)
        goto out;

    /* 2. flood */
    {
        long ng = (long)PB__FLOOD_S * PB__GENUINE_S, nf = (long)PB__FLOOD_S * PB__FORGED_S;
        pb__flood f;
        double r0, p50a, p99a, r1, p50b, p99b;
        memset(&f, 0, sizeof(f));
        /* rows fl-0 .. fl-(2ng-1): the first ng get callbacks in the quiet run, the next ng in
         * the flooded one; the forged ones aim at fx-* rows, which must stay accepted */
        if (pb__store_make(db2, "fl", 2 * ng) < 0 || pb__store_make(db2, "fx", 1000) < 0)
            goto out;
        f.ng = ng;
        f.nf = nf;
        f.lat = pb_calloc((size_t)ng, sizeof(double));
        f.fbodies = pb_calloc((size_t)nf, sizeof(char *));
        f.flens = pb_calloc((size_t)nf, sizeof(size_t));
        if (!f.lat || !f.fbodies || !f.flens)
            goto out;
        for (long i = 0; i < nf; i++) {
            char id[32];
            snprintf(id, sizeof(id), "fx-%ld", i % 1000);
            if (!(f.fbodies[i] = pb__callback(id, "decline", "forger-key", &f.flens[i])))
                goto out;
        }
        if (pb__listen_start(&lc, argv[1], db2) < 0)
            goto out;
        f.gbodies = pb__bodies("fl", 0, ng, "success", PB_BENCH_SECRET, &f.glens);
        pb__flood_run(&f, lc.port, 0, &r0, &p50a, &p99a);
        long quiet_ok = f.gok;
        pb__bodies_free(f.gbodies, f.glens, ng);
        f.gbodies = pb__bodies("fl", ng, ng, "success", PB_BENCH_SECRET, &f.glens);
        pb__flood_run(&f, lc.port, 1, &r1, &p50b, &p99b);
        pb__child_stop(&lc);
        long flood_ok = f.gok, refused = f.fbad, fother = f.fother;
        long fl_success = pb__store_count(db2, "fl", PB_ROW_SUCCESS);
        long fx_accepted = pb__store_count(db2, "fx", PB_ROW_ACCEPTED);
        pb__bodies_free(f.gbodies, f.glens, ng);
        pb__bodies_free(f.fbodies, f.flens, nf);
        pb_free(f.lat);
        printf("flood: genuine callbacks at %d/s for %d s, alone and beside %d forged/s\n",
               PB__GENUINE_S, PB__FLOOD_S, PB__FORGED_S);
        printf("  alone:       %5.0f genuine/s recorded (%ld of %ld), latency p50 %.1f ms, p99 "
               "%.1f ms\n",
               r0, quiet_ok, ng, p50a, p99a);
        printf("  with flood:  %5.0f genuine/s recorded (%ld of %ld), latency p50 %.1f ms, p99 "
               "%.1f ms; forged: %ld answered 400, %ld otherwise\n",
               r1, flood_ok, ng, p50b, p99b, refused, fother);
        printf("  store: %ld of %ld genuine rows success; forged targets still accepted: %ld of "
               "1000\n",
               fl_success, 2 * ng, fx_accepted);
        if (quiet_ok != ng || flood_ok != ng || refused != nf || fl_success != 2 * ng ||
            fx_accepted != 1000)
            goto out;
    }
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "bench_callbacks: a check failed (see above)\n");
    pb__bodies_free(bodies, lens, n);
    pb__bench_rm_store(db);
    pb__bench_rm_store(db2);
    curl_global_cleanup();
    return rc;
}
