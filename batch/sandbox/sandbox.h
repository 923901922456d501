/*
 * sandbox.h - a local Gate simulator (`paybatch sandbox`, SPEC §9).
 *
 * Two halves:
 *  - the pure request checks (sandbox_gate.c): a payout body in, a refusal code (or 0) and
 *    the accepted fields out; outcome scripting by the account number's last digits. No I/O.
 *  - the server (sandbox.c): libuv loop, HTTP routes, in-memory payment table, ledger file,
 *    fault injection, held-back answers, signals; sandbox_notify.c: response bodies, outcome
 *    timers, signed callbacks (sent by sandbox_callback.c: http_client on the loop).
 *    Shared internals: sandbox_int.h. Schedule arithmetic (pure): sandbox_gate.c.
 *
 * Refusal codes of the payout check, in the order they are tried:
 *   2003 body is not JSON / not an object / a field has the wrong JSON type (a string where
 *        a number is expected and vice versa, a non-integral or > 2^53 number, an object
 *        expected but something else given); a string over its cap (payment id,
 *        account 255 bytes, callback URL 1023) is treated as a wrong type
 *   3262 no general.signature (or top-level signature) string, or it is ""
 *   2004 general.project_id missing
 *   2442 general.project_id is not the sandbox's project
 *   3261 signature does not match
 *   2004 a required field is missing or "" (general.payment_id, customer.id,
 *        customer.ip_address, account.number, payment.amount, payment.currency;
 *        account.customer_name where the method requires it), or customer.ip_address is
 *        not an IP address
 *   3121 payment.currency is not the method's currency (no conversion in the sandbox)
 *   3358 amount below the method's minimum, 2642 above its maximum
 *   3242 account.number not digits / wrong length / wrong prefix for the method
 * The duplicate check (3041) needs the payment table and is done by the server.
 */
#ifndef PB_SANDBOX_SANDBOX_H
#define PB_SANDBOX_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include "core/methods.h"

#define PB_SANDBOX_ID_MAX 256 /* payment ids, account numbers, URLs are capped */

typedef struct {
    char payment_id[PB_SANDBOX_ID_MAX];
    char account[PB_SANDBOX_ID_MAX];
    char currency[8];
    char callback_url[1024]; /* general.merchant_callback_url or "" */
    int64_t amount;
    int64_t project_id; /* as sent, also on refusals when it could be read (else 0) */
} pb_sandbox_payout;

/*
 * Check a payout request for method m against project_id/secret. Always fills what it
 * could read into *out (zeroed first). *code = 0 when acceptable, else the refusal code.
 * Returns PB_OK, or PB_ENOMEM/PB_EINVAL (then *code is meaningless).
 */
int pb_sandbox_check_payout(const pb_method *m, int64_t project_id, const char *secret,
                            size_t secret_len, const char *body, size_t len, pb_sandbox_payout *out,
                            int *code);

/*
 * Check a status request {"general":{"project_id","payment_id","signature"}}. Same codes
 * (2003, 3262, 2004, 2442, 3261); payment_id (capped) to payment_id[PB_SANDBOX_ID_MAX].
 */
int pb_sandbox_check_status(int64_t project_id, const char *secret, size_t secret_len,
                            const char *body, size_t len, char *payment_id, int64_t *req_project,
                            int *code);

/* The message for a code (static; "Unknown error" when unknown). */
const char *pb_sandbox_code_message(int code);

/*
 * Scripted outcomes, by the last digits of the account number:
 *   ...01  decline, code 20101 (amount or frequency limit)
 *   ...02  decline, code 20102 (incorrect account data)
 *   ...03  stays processing until the status was polled 3 times, then success
 *   ...04  success, then after the same delay again a reversal: payment status "reversed",
 *          a second operation of type "reversal" (status success), a callback for each.
 *          The literal type "reversal" is an assumption (ecommpay-protocol.md §6 item 10).
 *   other  success (code 0)
 */
typedef enum {
    PB_SANDBOX_SUCCESS = 0,
    PB_SANDBOX_DECLINE_20101,
    PB_SANDBOX_DECLINE_20102,
    PB_SANDBOX_AFTER_3_POLLS,
    PB_SANDBOX_REVERSAL
} pb_sandbox_outcome;

pb_sandbox_outcome pb_sandbox_outcome_for(const char *account);

/*
 * Gate's callback retry schedule (ecommpay-protocol.md §2.7), pure: the wait in ms before
 * attempt n (1-based) of a callback that was not acknowledged, times scale (>= 0).
 *   n <= 1      0 (the first attempt goes out at once)
 *   n = 2..6    10 s (6 attempts 10 s apart)
 *   n >= 7      70 + 10 * 1.12^(n-4) s, capped at 4 h (the cap is reached at n = 69)
 * Gate makes at most PB_SANDBOX_CB_MAX_ATTEMPTS attempts (about 10.3 days in all).
 */
#define PB_SANDBOX_CB_MAX_ATTEMPTS 120
#define PB_SANDBOX_CB_CAP_MS       (4ull * 3600 * 1000)
uint64_t pb_sandbox_cb_delay_ms(unsigned n, double scale);

/* Codes counted one by one in a run's summary; more distinct codes are only in `refused`. */
#define PB_SANDBOX_NCODES 32

/* What a run did: the tool prints it (the sandbox itself prints nothing). */
typedef struct {
    unsigned long accepted, refused, faults, polls, cb_sent, cb_failed;
    struct {
        int code; /* a refusal code, e.g. 3041 */
        unsigned long n;
    } by_code[PB_SANDBOX_NCODES];
    size_t ncodes; /* entries of by_code in use, in order of first refusal */
} pb_sandbox_summary;

/* Options of the server. Strings are borrowed for the life of the run. */
typedef struct {
    const char *host;
    int port;
    int64_t project_id;
    const char *secret;
    size_t secret_len;
    const char *ledger_path;  /* NULL: no ledger */
    const char *callback_url; /* NULL: only general.merchant_callback_url */
    unsigned callback_delay_ms;
    unsigned long seed;
    double fail_429, fail_500, drop_after_record; /* probabilities 0..1 */
    double cb_drop, cb_dup;                       /* a final callback is not sent / sent twice */
    double cb_wrong_key;                          /* a callback is signed with another key */
    double cb_reorder;        /* a "processing" callback is sent after the final one */
    double cb_retry_scale;    /* the retry schedule times this (1.0: Gate's real one) */
    unsigned cb_max_attempts; /* 1..PB_SANDBOX_CB_MAX_ATTEMPTS */
    unsigned slow_ms;         /* with probability slow: answer an accepted payout after slow_ms */
    double slow;
    size_t max_payments; /* payments kept; over it 503 with Retry-After */
    /* once, when the socket listens (port: the one bound, also for port 0); NULL: nothing */
    void (*on_listening)(const char *host, int port, void *ctx);
    void *ctx;
} pb_sandbox_opts;

/* The default cap of kept payments and what one payment costs at most, for --help. */
#define PB_SANDBOX_MAX_PAYMENTS 1000000

/* Run until SIGINT/SIGTERM; o->on_listening is told the address first. Prints nothing:
 * events (a callback not acknowledged, a ledger write failed) go to the log sink
 * (batch/util/log.h). *sum (may be NULL; zeroed first) holds what the run did, also when it
 * failed after starting. Returns PB_OK after a clean stop, or a negative PB_E... code
 * (pb_error_last() says why). */
int pb_sandbox_run(const pb_sandbox_opts *o, pb_sandbox_summary *sum);

#endif
