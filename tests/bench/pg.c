/*
 * bench/pg - `paybatch send` with the PostgreSQL store against the sandbox (issue #15): rows/s
 * for 1, 2 and 4 workers started at once on one batch, beside the SQLite single-host figure in
 * the same run, and the database round trips per row.
 *
 * Usage: bench_pg PATH/TO/paybatch POSTGRESQL_URI [ROWS]   (default 10,000 rows)
 *   e.g. URI=$(bash scripts/pg-test-cluster.sh start /tmp/pgb) &&
 *        ./build/tests/bench/bench_pg ./build/paybatch "$URI"; bash scripts/pg-test-cluster.sh
 *        stop /tmp/pgb
 *
 * Each run: a fresh database (CREATE DATABASE on the server of URI), a fresh sandbox with a
 * ledger, N workers `paybatch send --state DB_URI --rate 100000 --concurrency 64 -q --yes FILE`
 * started together; the time until the last one exits, and the ledger must hold exactly ROWS
 * unique payment ids. Round trips are counted by a proxy in this process between one worker
 * and the server: every Sync ('S') or simple Query ('Q') message a client sends is one round
 * trip (libpq's PQexecParams ends each statement with a Sync).
 *
 * Several workers share the batch (leases, rate slots from the database: SEND_DESIGN), so the
 * 2- and 4-worker runs split the rows; the rate is non-binding (100,000/s), so what limits
 * them is CPU (the workers, the sandbox and the server share the machine) and the database.
 * The round trips are counted for 1 and for 2 workers (both through the proxy): the second
 * figure less the first is what sharing costs per row (lease renewals, rate blocks, the due
 * polls of a worker waiting for another's rows, claims that find rows taken).
 */
#include "bench_util.h"

#include <dirent.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#define PB__TIMEOUT_S 600.0

/* ---- the counting proxy ------------------------------------------------------------------- */

typedef struct {
    int lfd;            /* listening socket */
    int backend_port;   /* the real server on 127.0.0.1 */
    long round_trips;   /* Sync + Query messages from clients */
    pthread_mutex_t mu; /* round_trips */
} pb__proxy;

typedef struct {
    pb__proxy *p;
    int cfd;
} pb__conn;

/* Count the frontend messages in a client byte stream (state kept across reads). */
typedef struct {
    int started;             /* the startup packet is past */
    unsigned char hdr[8];    /* the header being read */
    size_t hlen;             /* its bytes so far */
    unsigned long long skip; /* bytes of the current message body still to pass */
} pb__fe;

static long pb__fe_feed(pb__fe *f, const unsigned char *b, size_t n)
{
    long count = 0;
    size_t i = 0;
    while (i < n) {
        size_t want, take;
        if (f->skip) {
            take = n - i < f->skip ? n - i : (size_t)f->skip;
            f->skip -= take;
            i += take;
            continue;
        }
        want = f->started ? 5 : 8; /* type + length, or length + code of an untyped packet */
        take = want - f->hlen < n - i ? want - f->hlen : n - i;
        memcpy(f->hdr + f->hlen, b + i, take);
        f->hlen += take;
        i += take;
        if (f->hlen < want)
            break;
        f->hlen = 0;
        if (!f->started) {
            unsigned long len = ((unsigned long)f->hdr[0] << 24) |
                                ((unsigned long)f->hdr[1] << 16) | ((unsigned long)f->hdr[2] << 8) |
                                f->hdr[3];
            unsigned long code = ((unsigned long)f->hdr[4] << 24) |
                                 ((unsigned long)f->hdr[5] << 16) |
                                 ((unsigned long)f->hdr[6] << 8) | f->hdr[7];
            /* SSLRequest / GSSENCRequest come before the startup packet */
            if (code != 80877103ul && code != 80877104ul)
                f->started = 1;
            f->skip = len > 8 ? len - 8 : 0;
        } else {
            unsigned long len = ((unsigned long)f->hdr[1] << 24) |
                                ((unsigned long)f->hdr[2] << 16) | ((unsigned long)f->hdr[3] << 8) |
                                f->hdr[4];
            if (f->hdr[0] == 'S' || f->hdr[0] == 'Q')
                count++;
            f->skip = len > 4 ? len - 4 : 0;
        }
    }
    return count;
}

static void *pb__conn_run(void *arg)
{
    pb__conn *c = arg;
    struct sockaddr_in a;
    struct pollfd pf[2];
    unsigned char buf[65536];
    pb__fe fe;
    int sfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    memset(&fe, 0, sizeof(fe));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)c->p->backend_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (sfd < 0 || connect(sfd, (struct sockaddr *)&a, sizeof(a)) != 0)
        goto out;
    pf[0].fd = c->cfd;
    pf[1].fd = sfd;
    pf[0].events = pf[1].events = POLLIN;
    for (;;) {
        int k;
        ssize_t n;
        if (poll(pf, 2, -1) < 0)
            break;
        for (k = 0; k < 2; k++) {
            if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            n = read(pf[k].fd, buf, sizeof(buf));
            if (n <= 0)
                goto out;
            if (k == 0) {
                long rt = pb__fe_feed(&fe, buf, (size_t)n);
                pthread_mutex_lock(&c->p->mu);
                c->p->round_trips += rt;
                pthread_mutex_unlock(&c->p->mu);
            }
            if (write(pf[1 - k].fd, buf, (size_t)n) != n)
                goto out;
        }
    }
out:
    if (sfd >= 0)
        close(sfd);
    close(c->cfd);
    free(c);
    return NULL;
}

static void *pb__proxy_run(void *arg)
{
    pb__proxy *p = arg;
    for (;;) {
        pthread_t t;
        pb__conn *c;
        int fd = accept(p->lfd, NULL, NULL);
        if (fd < 0)
            return NULL; /* the listening socket was shut down */
        c = malloc(sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->p = p;
        c->cfd = fd;
        if (pthread_create(&t, NULL, pb__conn_run, c) != 0) {
            close(fd);
            free(c);
            continue;
        }
        pthread_detach(t);
    }
}

static int pb__proxy_start(pb__proxy *p, int backend_port, int *port)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    pthread_t t;
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    p->backend_port = backend_port;
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(p->lfd, 64) != 0 || getsockname(p->lfd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    if (pthread_create(&t, NULL, pb__proxy_run, p) != 0)
        return -1;
    pthread_detach(t);
    return 0;
}

/* ---- runs ---------------------------------------------------------------------------------- */

typedef struct {
    char user[64], password[128], host[64];
    int port;
} pb__server;

static int pb__server_parse(const char *uri, pb__server *s)
{
    char *err = NULL;
    PQconninfoOption *o = PQconninfoParse(uri, &err), *i;
    memset(s, 0, sizeof(*s));
    if (!o) {
        fprintf(stderr, "bad URI: %s", err ? err : "?");
        PQfreemem(err);
        return -1;
    }
    snprintf(s->host, sizeof(s->host), "127.0.0.1");
    s->port = 5432;
    for (i = o; i->keyword; i++) {
        if (!i->val)
            continue;
        if (strcmp(i->keyword, "user") == 0)
            snprintf(s->user, sizeof(s->user), "%s", i->val);
        else if (strcmp(i->keyword, "password") == 0)
            snprintf(s->password, sizeof(s->password), "%s", i->val);
        else if (strcmp(i->keyword, "host") == 0)
            snprintf(s->host, sizeof(s->host), "%s", i->val);
        else if (strcmp(i->keyword, "port") == 0)
            s->port = (int)strtol(i->val, NULL, 10);
    }
    PQconninfoFree(o);
    return 0;
}

static int pb__sql(const char *uri, const char *sql)
{
    PGconn *c = PQconnectdb(uri);
    PGresult *r;
    int ok;
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "%s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    r = PQexec(c, sql);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

static long pb__ledger_unique(const char *path, long rows)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    unsigned char *seen = calloc((size_t)rows, 1);
    long unique = 0, dup = 0;
    while (f && seen && fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, "\"payment_id\":\"pay-");
        long i;
        if (!p)
            continue;
        i = strtol(p + 18, NULL, 10);
        if (i < 0 || i >= rows)
            continue;
        if (seen[i]++)
            dup++;
        else
            unique++;
    }
    if (f)
        fclose(f);
    free(seen);
    return dup ? -dup : unique;
}

/* N workers of one batch at once; wall seconds until the last exits; ledger unique count. */
static int pb__run(const char *pb, const char *state, const char *file, long rows, int workers,
                   const char *ledger, double *secs, long *unique)
{
    pb__bench_sandbox sb;
    char url[64];
    pid_t pid[8];
    int w, rc = 0, ex;
    double t0;
    struct rusage ru;
    (void)unlink(ledger);
    if (pb__bench_sandbox_start(&sb, pb, ledger, rows + 1000) < 0)
        return -1;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", sb.port);
    t0 = pb__now_s();
    for (w = 0; w < workers; w++) {
        char *a[] = {(char *)pb,     "send",  "--state",    (char *)state, "--gate-url",    url,
                     "--project-id", "7",     "--rate",     "100000",      "--concurrency", "64",
                     "-q",           "--yes", (char *)file, NULL};
        pid[w] = fork();
        if (pid[w] == 0) {
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 1);
            dup2(fd, 2);
            execv(a[0], a);
            _exit(127);
        }
    }
    for (w = 0; w < workers; w++) {
        ex = pb__bench_wait(pid[w], PB__TIMEOUT_S, &ru);
        if (ex != 0 && ex != 75)
            rc = -1; /* 75: rows accepted, final statuses later; or: another worker had it */
    }
    *secs = pb__now_s() - t0;
    pb__bench_sandbox_stop(&sb);
    *unique = pb__ledger_unique(ledger, rows);
    return rc;
}

int main(int argc, char **argv)
{
    const char *pb = argc > 1 ? argv[1] : NULL, *uri = argc > 2 ? argv[2] : NULL;
    long rows = argc > 3 ? strtol(argv[3], NULL, 10) : 10000, unique;
    char dir[] = "/tmp/pb-bench-pg-XXXXXX", file[128], ledger[128], db[160], state[640], sql[128],
         base[512];
    pb__server srv;
    pb__proxy proxy;
    int workers[] = {1, 2, 4}, k, pport, failed = 0;
    double secs, sqlite_rps = 0, rt[2] = {0, 0};
    if (!pb || !uri || rows <= 0) {
        fprintf(stderr, "usage: bench_pg PATH/TO/paybatch POSTGRESQL_URI [ROWS]\n");
        return 64;
    }
    setenv("PAYBATCH_SECRET_KEY", PB_BENCH_SECRET, 1);
    unsetenv("PAYBATCH_CONFIG");
    if (!mkdtemp(dir) || pb__server_parse(uri, &srv) < 0)
        return 1;
    snprintf(file, sizeof(file), "%s/in.csv", dir);
    snprintf(ledger, sizeof(ledger), "%s/ledger", dir);
    if (pb__bench_gen(file, rows) < 0)
        return 1;
    printf("bench_pg: %ld rows, sandbox on loopback, --rate 100000 --concurrency 64\n", rows);

    snprintf(db, sizeof(db), "%s/s.db", dir);
    if (pb__run(pb, db, file, rows, 1, ledger, &secs, &unique) < 0 || unique != rows)
        failed = 1, printf("  sqlite run FAILED (ledger %ld of %ld)\n", unique, rows);
    sqlite_rps = (double)rows / secs;
    printf("  sqlite, 1 worker (one host):   %8.0f rows/s  (%.2f s)\n", sqlite_rps, secs);

    snprintf(base, sizeof(base), "postgresql://%s:%s@%s:%d/", srv.user, srv.password, srv.host,
             srv.port);
    for (k = 0; k < 3; k++) {
        snprintf(sql, sizeof(sql), "CREATE DATABASE pbbench_%ld_%d", (long)getpid(), k);
        snprintf(state, sizeof(state), "%spostgres", base);
        if (pb__sql(state, sql) < 0)
            return 1;
        snprintf(state, sizeof(state), "%spbbench_%ld_%d", base, (long)getpid(), k);
        if (pb__run(pb, state, file, rows, workers[k], ledger, &secs, &unique) < 0 ||
            unique != rows)
            failed = 1, printf("  pg run FAILED (ledger %ld of %ld)\n", unique, rows);
        printf("  pg, %d worker%s started:       %8.0f rows/s  (%.2f s, %.2fx sqlite)\n",
               workers[k], workers[k] > 1 ? "s" : " ", (double)rows / secs, secs,
               (double)rows / secs / sqlite_rps);
    }

    /* round trips: 1, then 2 workers through the counting proxy */
    if (pb__proxy_start(&proxy, srv.port, &pport) < 0)
        return 1;
    for (k = 1; k <= 2; k++) {
        snprintf(sql, sizeof(sql), "CREATE DATABASE pbbench_%ld_rt%d", (long)getpid(), k);
        snprintf(state, sizeof(state), "%spostgres", base);
        if (pb__sql(state, sql) < 0)
            return 1;
        snprintf(state, sizeof(state),
                 "postgresql://%s:%s@127.0.0.1:%d/pbbench_%ld_rt%d?sslmode=disable&gssencmode="
                 "disable",
                 srv.user, srv.password, pport, (long)getpid(), k);
        pthread_mutex_lock(&proxy.mu);
        proxy.round_trips = 0;
        pthread_mutex_unlock(&proxy.mu);
        if (pb__run(pb, state, file, rows, k, ledger, &secs, &unique) < 0 || unique != rows)
            failed = 1, printf("  pg proxied run FAILED (ledger %ld of %ld)\n", unique, rows);
        pthread_mutex_lock(&proxy.mu);
        rt[k - 1] = (double)proxy.round_trips / (double)rows;
        printf("  round trips (%d worker%s, through a counting proxy): %ld, %.2f per row (%.0f "
               "rows/s proxied)\n",
               k, k > 1 ? "s" : "", proxy.round_trips, rt[k - 1], (double)rows / secs);
        pthread_mutex_unlock(&proxy.mu);
    }
    printf("  extra round trips per row of sharing the batch between 2 workers: %+.2f\n",
           rt[1] - rt[0]);
    shutdown(proxy.lfd, SHUT_RDWR);
    close(proxy.lfd);

    snprintf(state, sizeof(state), "%spostgres", base);
    for (k = 0; k < 3; k++) {
        snprintf(sql, sizeof(sql), "DROP DATABASE pbbench_%ld_%d WITH (FORCE)", (long)getpid(), k);
        (void)pb__sql(state, sql);
    }
    for (k = 1; k <= 2; k++) {
        snprintf(sql, sizeof(sql), "DROP DATABASE pbbench_%ld_rt%d WITH (FORCE)", (long)getpid(),
                 k);
        (void)pb__sql(state, sql);
    }
    {
        DIR *d = opendir(dir);
        struct dirent *e;
        char p[512];
        while (d && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            (void)unlink(p);
        }
        if (d)
            closedir(d);
    }
    (void)rmdir(dir);
    return failed;
}
