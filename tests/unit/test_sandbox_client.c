/*
 * The real `paybatch sandbox` process driven over loopback with requests built and signed by
 * the project's own code (pb_gate_payout_body / pb_gate_status_body), and its signed status
 * answers checked with pb_sig_verify_json. The Python signer in test_sandbox.sh is the
 * independent cross-check; this one proves our sender and the sandbox agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/signature.h"
#include "formats/gate_request.h"
#include "support/rows.h"

static pid_t sandbox_pid;
static int sandbox_port;
static char ledger[] = "/tmp/pb-test-ledger-XXXXXX";
static const pb_gate_cfg cfg = {31, NULL, "client-secret", 13};

static int start(void **state)
{
    int fds[2], fd;
    FILE *f;
    char line[256];
    (void)state;
    if ((fd = mkstemp(ledger)) < 0)
        return -1;
    close(fd);
    if (pipe(fds) != 0)
        return -1;
    setenv("PAYBATCH_SECRET_KEY", "client-secret", 1);
    sandbox_pid = fork();
    if (sandbox_pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(PB_PAYBATCH_BIN, PB_PAYBATCH_BIN, "sandbox", "--listen", "127.0.0.1:0",
              "--project-id", "31", "--ledger", ledger, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    alarm(60); /* bounded: a hung sandbox cannot hang the suite */
    if (!f || !fgets(line, sizeof(line), f) ||
        sscanf(line, "listening on 127.0.0.1:%d", &sandbox_port) != 1)
        return -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

static int stop(void **state)
{
    int status = 0;
    (void)state;
    kill(sandbox_pid, SIGTERM);
    waitpid(sandbox_pid, &status, 0);
    unlink(ledger);
    curl_global_cleanup();
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
    pb_buf *b = ud;
    return pb_buf_put(b, p, sz * n) == 0 ? sz * n : 0;
}

static long post(const char *path, const pb_buf *body, pb_buf *answer)
{
    char url[256];
    long code = 0;
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", sandbox_port, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->ptr);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, answer);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return code;
}

static void make_row(pb_row *row, pb_row_result *res, const char *method, const char *id,
                     const char *acct)
{
    pb_test_row(row, res, method, id, acct);
    row->cell[PB_COL_DESCRIPTION] = pb_str_c("tab\tand\nnewline");
    res->currency = pb_currency_find(res->method->currency, 3);
    row->cell[PB_COL_CURRENCY] = pb_str_c(res->method->currency);
    res->amount_minor = res->method->min_minor;
}

static long payout(const char *method, const char *id, const char *acct, pb_buf *answer)
{
    pb_row row;
    pb_row_result res;
    pb_buf body;
    char path[128];
    long code;
    make_row(&row, &res, method, id, acct);
    pb_buf_init(&body, PB_GATE_BODY_MAX);
    assert_int_equal(pb_gate_payout_body(&row, &res, &cfg, &body), 0);
    snprintf(path, sizeof(path), "%s", res.method->endpoint);
    pb_buf_clear(answer);
    code = post(path, &body, answer);
    pb_buf_free(&body);
    return code;
}

static void test_payouts_duplicates_status(void **state)
{
    pb_buf ans, body;
    int ok = 0;
    char line[4096];
    int lines = 0;
    FILE *lf;
    (void)state;
    pb_buf_init(&ans, 1 << 20);
    assert_int_equal(payout("gcash", "own-signer-1", "09171234567", &ans), 200);
    assert_non_null(strstr(pb_buf_cstr(&ans), "\"status\":\"success\""));
    assert_int_equal(payout("touchngo", "own-signer-2", "60123456789", &ans), 200);
    /* the same payment id again: 3041, and nothing new in the ledger */
    assert_int_equal(payout("gcash", "own-signer-1", "09171234567", &ans), 400);
    assert_non_null(strstr(pb_buf_cstr(&ans), "3041"));

    pb_buf_init(&body, PB_GATE_BODY_MAX);
    assert_int_equal(pb_gate_status_body("own-signer-1", 12, &cfg, &body), 0);
    pb_buf_clear(&ans);
    assert_int_equal(post("/v2/payment/status", &body, &ans), 200);
    assert_non_null(strstr(pb_buf_cstr(&ans), "\"id\":\"own-signer-1\""));
    assert_int_equal(pb_sig_verify_json(ans.ptr, ans.len, "client-secret", 13, &ok), 0);
    assert_int_equal(ok, 1);
    pb_buf_clear(&body);
    assert_int_equal(pb_gate_status_body("never-sent", 10, &cfg, &body), 0);
    pb_buf_clear(&ans);
    assert_int_equal(post("/v2/payment/status", &body, &ans), 404);
    assert_non_null(strstr(pb_buf_cstr(&ans), "3061"));
    pb_buf_free(&body);
    pb_buf_free(&ans);

    lf = fopen(ledger, "r");
    assert_non_null(lf);
    while (fgets(line, sizeof(line), lf))
        lines++;
    fclose(lf);
    assert_int_equal(lines, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_payouts_duplicates_status),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
