/*
 * cmd_listen.c - `paybatch listen`: serve result callbacks (SPEC §8) into the state store until
 * SIGINT/SIGTERM. The receiver (batch/listen/receiver.h) does the work on this loop.
 */
#include "batch/cli/cli.h"
#include "batch/cli/options.h"
#include "batch/listen/receiver.h"
#include "batch/net/http_server.h"
#include "batch/util/log.h"
#include "core/errors.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define PB__DEFAULT_LISTEN "127.0.0.1:8765"

static void pb__listen_usage(FILE *out)
{
    fputs("Usage: paybatch listen [options]\n"
          "\n"
          "Receive Gate's result callbacks and record them in the state store (the one a\n"
          "`paybatch send` uses; both may run at once). Every POST is verified (HMAC-SHA512\n"
          "with the project's secret) and recorded durably before it is answered 200.\n"
          "Binds to " PB__DEFAULT_LISTEN " unless --callback-listen says otherwise (port 0: any\n"
          "free port). The first line on stdout is \"listening on HOST:PORT\".\n"
          "SIGINT/SIGTERM: stop accepting, finish recording, exit 0.\n"
          "\n"
          "Options:\n",
          out);
    pb_settings_print_options(out, PB_CMD_LISTEN);
}

typedef struct {
    uv_signal_t sigint, sigterm;
    pb_http_server *srv;
    pb_receiver *rcv;
    int stopping;
    int srv_open, rcv_open;
} pb__listen;

static void pb__srv_closed(pb_http_server *s, void *arg)
{
    pb__listen *l = arg;
    (void)s;
    l->srv_open = 0;
}

static void pb__rcv_closed(pb_receiver *r, void *arg)
{
    pb__listen *l = arg;
    (void)r;
    l->rcv_open = 0;
}

static void pb__stop(pb__listen *l)
{
    if (l->stopping)
        return;
    l->stopping = 1;
    uv_close((uv_handle_t *)&l->sigint, NULL);
    uv_close((uv_handle_t *)&l->sigterm, NULL);
    /* the listener and every connection close; callbacks already received are recorded */
    if (l->srv_open)
        pb_http_server_close(l->srv, pb__srv_closed, l);
    if (l->rcv_open)
        pb_receiver_close(l->rcv, pb__rcv_closed, l);
}

static void pb__on_signal(uv_signal_t *h, int signum)
{
    pb__listen *l = h->data;
    pb_log_ctx c;
    memset(&c, 0, sizeof(c));
    c.event = "listen.stopping";
    pb_log(PB_LOG_INFO, &c, "signal %d: stopping", signum);
    pb__stop(l);
}

static int pb__is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0;
}

int pb_cmd_listen(int argc, char **argv)
{
    pb_settings s;
    pb__listen l;
    pb_receiver_opts ro;
    pb_receiver_stats st;
    uv_loop_t loop;
    int loop_ok = 0, rc, port = 0, exit_code = PB_EXIT_SOFTWARE;
    char host[256], *secret = NULL;
    size_t secret_len = 0, npos = 0;
    struct sigaction sa;
    pb_log_ctx c;

    memset(&l, 0, sizeof(l));
    memset(&c, 0, sizeof(c));
    if ((rc = pb_settings_parse(&s, PB_CMD_LISTEN, argc, argv, pb__listen_usage, NULL, 0, &npos)) !=
        0) {
        pb_settings_free(&s);
        return pb_settings_exit(rc);
    }
    pb_log_setup(stderr, s.log_json ? PB_LOG_JSON : PB_LOG_TEXT,
                 s.quiet     ? PB_LOG_WARN
                 : s.verbose ? PB_LOG_DEBUG
                             : PB_LOG_INFO);
    if (pb_http_hostport_parse(s.callback_listen ? s.callback_listen : PB__DEFAULT_LISTEN, host,
                               sizeof(host), &port) < 0) {
        pb_cli_error("--callback-listen %s: use HOST:PORT (127.0.0.1:8765, [::1]:0)",
                     s.callback_listen);
        exit_code = PB_EXIT_USAGE;
        goto out;
    }
    if ((rc = pb_settings_secret(&s, &secret, &secret_len)) < 0) {
        pb_cli_error("%s", pb_error_last());
        exit_code = rc == PB_ENOMEM ? PB_EXIT_SOFTWARE : PB_EXIT_CONFIG;
        goto out;
    }
    /* a peer that goes away while its answer is written must not kill the process */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    (void)sigaction(SIGPIPE, &sa, NULL); /* cannot fail for a valid signal number */
    if (uv_loop_init(&loop) != 0) {
        pb_cli_error("cannot start the event loop");
        goto out;
    }
    loop_ok = 1;
    memset(&ro, 0, sizeof(ro));
    ro.store_uri = s.state;
    ro.secret = secret;
    ro.secret_len = secret_len;
    ro.project_id = s.project_id;
    if ((rc = pb_receiver_new(&l.rcv, &loop, &ro)) < 0) {
        pb_cli_error("state store %s: %s", pb_cli_shown(s.state), pb_error_last());
        exit_code = pb_cli_store_exit(rc, 1);
        goto out;
    }
    l.rcv_open = 1;
    if ((rc = pb_http_server_new(&l.srv, &loop, NULL, pb_receiver_handle, l.rcv)) < 0) {
        pb_cli_error("cannot make the HTTP server: %s", pb_error_last());
        goto out;
    }
    l.srv_open = 1;
    if ((rc = pb_http_server_listen(l.srv, host, port)) < 0) {
        pb_cli_error("cannot listen on %s:%d: %s", host, port, pb_error_last());
        exit_code = PB_EXIT_UNAVAILABLE;
        goto out;
    }
    if (!pb__is_loopback(host)) {
        c.event = "listen.exposed";
        pb_log(PB_LOG_WARN, &c,
               "listening on %s, not loopback: put TLS in front (a reverse proxy or tunnel)", host);
    }
    if (uv_signal_init(&loop, &l.sigint) != 0) {
        pb_cli_error("cannot watch signals");
        goto out;
    }
    if (uv_signal_init(&loop, &l.sigterm) != 0) {
        pb_cli_error("cannot watch signals");
        uv_close((uv_handle_t *)&l.sigint, NULL); /* else the loop cannot close */
        goto out;
    }
    l.sigint.data = l.sigterm.data = &l;
    if (uv_signal_start(&l.sigint, pb__on_signal, SIGINT) != 0 ||
        uv_signal_start(&l.sigterm, pb__on_signal, SIGTERM) != 0) {
        pb_cli_error("cannot watch signals");
        pb__stop(&l);
        (void)uv_run(&loop, UV_RUN_DEFAULT);
        goto out;
    }
    printf("listening on %s%s%s:%d\n", strchr(host, ':') ? "[" : "", host,
           strchr(host, ':') ? "]" : "", pb_http_server_port(l.srv));
    fflush(stdout);
    c.event = "listen.started";
    pb_log(PB_LOG_INFO, &c, "receiving callbacks on %s:%d into %s", host,
           pb_http_server_port(l.srv), pb_cli_shown(s.state));
    (void)uv_run(&loop, UV_RUN_DEFAULT); /* until both the server and the receiver closed */
    pb_receiver_get_stats(l.rcv, &st);
    c.event = "listen.summary";
    pb_log(PB_LOG_INFO, &c,
           "stopped: %llu requests, %llu applied, %llu duplicate, %llu stale, %llu conflict, "
           "%llu mismatch, %llu unknown, %llu other project, %llu bad signature, %llu not JSON, "
           "%llu busy",
           (unsigned long long)st.received, (unsigned long long)st.applied,
           (unsigned long long)st.same, (unsigned long long)st.stale,
           (unsigned long long)st.conflict, (unsigned long long)st.mismatch,
           (unsigned long long)st.unknown, (unsigned long long)st.other_project,
           (unsigned long long)st.bad_signature, (unsigned long long)st.not_json,
           (unsigned long long)st.busy);
    exit_code = PB_EXIT_OK;
out:
    if (loop_ok) {
        /* whatever is still open closes now (error paths), then the loop must be empty */
        if (l.srv_open)
            pb_http_server_close(l.srv, pb__srv_closed, &l);
        if (l.rcv_open)
            pb_receiver_close(l.rcv, pb__rcv_closed, &l);
        (void)uv_run(&loop, UV_RUN_DEFAULT);
        if (uv_loop_close(&loop) != 0 && exit_code == PB_EXIT_OK)
            exit_code = PB_EXIT_SOFTWARE;
    }
    pb_http_server_free(l.srv);
    pb_receiver_free(l.rcv);
    pb_settings_secret_free(secret, secret_len);
    pb_settings_free(&s);
    return exit_code;
}
