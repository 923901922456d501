/*
 * engine.h - the send engine: every decision of `send` as a sans-I/O state machine.
 *
 * The driver (batch/send on the libuv loop, or tests/sim) feeds events and executes the
 * commands the engine hands out; the engine reads no clock, draws no random numbers and does
 * no I/O: time and a random value come with every event. See docs/SEND_DESIGN.md.
 *
 *   pb_engine_new(&e, &cfg);
 *   feed a TICK with the current time, then loop:
 *     while (pb_engine_next(e, &cmd)) execute cmd, later feed its answer;
 *   until a DONE command comes out.  pb_engine_free(e);
 *
 * Commands and the events that answer them:
 *   CLAIM max      -> pb_store_claim(now, max)      -> ROWS_CLAIMED (rows already `sending`,
 *                                                      committed)
 *   DUE max        -> pb_store_due(now, max)        -> ROWS_DUE (sending / in_doubt rows)
 *   COMMIT updates -> pb_store_mark(updates, n)     -> COMMITTED
 *   POST_PAYOUT row   -> POST the row's payout      -> PAYOUT_RESULT
 *   QUERY_STATUS row  -> POST /v2/payment/status    -> STATUS_RESULT
 *   TIMER at       -> feed a TICK at or after `at`; a new TIMER replaces the armed one
 *   DONE reason    -> nothing more in this run; the engine emits nothing after it
 * ROWS_ADDED (config.loading): rows were committed to the batch since the last claim: claim
 * again; with `last`, no more will come and the engine may finish.
 * STOP_REQUESTED (any time): stop claiming, put claimed-but-unsent rows back to `queued`,
 * finish what is in flight, then DONE.
 *
 * At most one CLAIM or DUE is outstanding at a time, and at most one COMMIT; requests are
 * paced by the rate limiter (status queries too: Gate's limit is per project). Every state
 * change leaves as a pb_row_update in a COMMIT, always a pb_row_state_allowed transition, and
 * a row leaves the engine's hands once its update is committed, so memory is bounded by
 * `concurrency`, not by the batch. A payout is posted only for a row the store handed out
 * through CLAIM (its `sending` is committed); an in-doubt row is posted again only after it
 * went back to `queued` because a status query said "not found".
 *
 * Contract addition to SEND_DESIGN: ROWS_CLAIMED and ROWS_DUE carry `next_at_ms`, the earliest
 * next_at_ms among the matching rows that were not yet due (queued rows for CLAIM, sending /
 * in_doubt rows for DUE), or PB_ENGINE_NEVER. Without it a restarted engine cannot know that
 * rows backed off before the restart still wait for it. It is read only from an answer with
 * fewer rows than the command's `max` (a full answer means "ask again now"), so a driver may
 * leave it unset in a full one.
 *
 * Ownership: the engine owns its memory (pb_engine_free). An event's pointers (the rows of
 * ROWS_*) are read during pb_engine_feed only. A command's `row` is valid until the next
 * pb_engine_feed; a COMMIT's `updates` until its COMMITTED is fed.
 */
#ifndef PB_CORE_ENGINE_H
#define PB_CORE_ENGINE_H

#include "core/payout_state.h"

#include <stddef.h>
#include <stdint.h>

#define PB_ENGINE_NEVER         INT64_MAX
#define PB_ENGINE_THROTTLES_MAX 200 /* throttles in a row with no success: the run gives up */
#define PB_ENGINE_CONC_MAX      1024
#define PB_ENGINE_CURRENCY_MAX  7

/* The engine's view of one row in hand: what it needs to act and to check status answers. */
typedef struct {
    uint32_t row_no;
    pb_row_state state; /* as committed in the store */
    uint32_t attempts;  /* as stored (a claim counts one) */
    int64_t next_at_ms; /* as stored */
    int64_t amount;     /* minor units */
    char currency[PB_ENGINE_CURRENCY_MAX + 1];
    char payment_id[PB_ROW_ID_MAX + 1];
} pb_engine_row;

typedef struct {
    int64_t rate_milli;             /* requests/s x 1000 (0.5/s = 500); 0: 10/s */
    uint32_t concurrency;           /* rows in hand at most (1..PB_ENGINE_CONC_MAX); 0: 8 */
    uint32_t rate_slack_permille;   /* lateness the rate limiter forgives (ratelimit.h); 0..999 */
    int64_t status_delay_ms;        /* in doubt -> first status query; 0: 10 s */
    uint32_t max_attempts;          /* per row, counted by the store's claims; 0: 10 */
    int64_t backoff_base_ms;        /* 0: 500 */
    int64_t backoff_cap_ms;         /* 0: 30 s */
    uint32_t retry_budget;          /* retries per run; 0: 100 */
    uint32_t budget_earn_permille;  /* retry budget earned per success; 0: 100 */
    int64_t retry_after_default_ms; /* a 429 without Retry-After; 0: 1 s */
    int64_t retry_after_max_ms;     /* Retry-After is clamped to this; 0: 60 s */
    uint64_t seed;                  /* mixed with each event's rnd for jitter */
    int status_only; /* reconcile: never CLAIM (no payout is sent); only resolve rows in doubt
                        through status queries; a "not found" row goes back to queued */
    int loading;     /* rows are still being added to the batch while it is sent: the engine
                        does not finish (a claim that finds nothing only means "not yet")
                        until ROWS_ADDED says the last ones are in */
} pb_engine_config;

typedef enum {
    PB_ENGINE_CLAIM = 1,
    PB_ENGINE_DUE,
    PB_ENGINE_COMMIT,
    PB_ENGINE_POST_PAYOUT,
    PB_ENGINE_QUERY_STATUS,
    PB_ENGINE_TIMER,
    PB_ENGINE_DONE
} pb_engine_cmd_type;

typedef enum {
    PB_ENGINE_FINISHED = 1, /* every row handed out is final or accepted; nothing is due */
    PB_ENGINE_STOPPED,      /* STOP_REQUESTED */
    PB_ENGINE_GAVE_UP       /* retry budget or a row's attempt cap: the gateway looks dead */
} pb_engine_done_reason;

typedef struct {
    pb_engine_cmd_type type;
    uint32_t max;                 /* CLAIM, DUE */
    const pb_engine_row *row;     /* POST_PAYOUT, QUERY_STATUS */
    const pb_row_update *updates; /* COMMIT */
    size_t n_updates;
    int64_t at_ms;                /* TIMER */
    pb_engine_done_reason reason; /* DONE */
} pb_engine_cmd;

typedef enum {
    PB_ENGINE_ROWS_CLAIMED = 1,
    PB_ENGINE_ROWS_DUE,
    PB_ENGINE_COMMITTED,
    PB_ENGINE_PAYOUT_RESULT,
    PB_ENGINE_STATUS_RESULT,
    PB_ENGINE_TICK,
    PB_ENGINE_STOP_REQUESTED,
    PB_ENGINE_ROWS_ADDED /* queued rows were committed to the batch (config.loading) */
} pb_engine_event_type;

/* What the HTTP client says about one request (batch/net/http_client.h). */
typedef enum {
    PB_ENGINE_NOT_SENT = 1, /* failed before a byte left: safe to retry */
    PB_ENGINE_NO_ANSWER,    /* sent, no complete answer: in doubt */
    PB_ENGINE_ANSWERED
} pb_engine_outcome;

typedef struct {
    uint32_t row_no;
    pb_engine_outcome outcome;
    int http_status;        /* ANSWERED */
    int64_t retry_after_ms; /* -1: no Retry-After */
    int parsed;             /* 1: the body was Gate's JSON; the fields below ("" if absent) */
    char status[PB_ROW_STATUS_MAX + 1]; /* "success" | "error" */
    char code[PB_ROW_CODE_MAX + 1];
    char message[PB_ROW_MESSAGE_MAX + 1];
    char request_id[PB_ROW_ID_MAX + 1];
    int fatal; /* NOT_SENT that no retry can fix (the gateway's TLS certificate was refused):
                  the run gives up at once, the row stays queued */
} pb_engine_payout_result;

typedef struct {
    uint32_t row_no;
    pb_engine_outcome outcome;
    int http_status;
    int64_t retry_after_ms;
    int parsed;
    char code[PB_ROW_CODE_MAX + 1]; /* the answer's own error code ("3061": not found) */
    char message[PB_ROW_MESSAGE_MAX + 1];
    char payment_status[PB_ROW_STATUS_MAX + 1]; /* "" when the answer holds no payment */
    int has_amount;                             /* the payment's sum was present */
    int64_t amount;
    char currency[PB_ENGINE_CURRENCY_MAX + 1];
    char operation_code[PB_ROW_CODE_MAX + 1];
    char operation_message[PB_ROW_MESSAGE_MAX + 1];
    char request_id[PB_ROW_ID_MAX + 1];
    char operation_id[PB_ROW_ID_MAX + 1];
    char provider_payment_id[PB_ROW_ID_MAX + 1];
    int fatal; /* as in pb_engine_payout_result */
} pb_engine_status_result;

typedef struct {
    pb_engine_event_type type;
    int64_t now_ms; /* the driver's monotonic clock; an earlier value than before is ignored */
    uint64_t rnd;   /* a fresh random value (jitter); tests may pass anything */
    union {
        struct {
            const pb_engine_row *rows;
            size_t n;
            int64_t next_at_ms; /* see "Contract addition" above */
        } rows;                 /* ROWS_CLAIMED, ROWS_DUE */
        struct {
            size_t applied; /* informational: a skipped CAS means someone else moved the row */
        } committed;
        pb_engine_payout_result payout;
        pb_engine_status_result status;
        struct {
            int last; /* 1: the load is over (complete or abandoned): nothing more comes */
        } added;      /* ROWS_ADDED */
    } u;
} pb_engine_event;

typedef struct {
    uint64_t posts, queries, commits, updates, throttles, retries, conflicts;
    uint64_t fatal;     /* requests that could not leave and never will (TLS refused) */
    int config_refused; /* Gate refused the signature or the project: fix the configuration */
} pb_engine_stats;

typedef struct pb_engine pb_engine;

/* PB_EINVAL for a configuration out of range, PB_ENOMEM. *out is the caller's; free it. */
int pb_engine_new(pb_engine **out, const pb_engine_config *cfg);
/* The most rows the engine holds, and so the most a CLAIM or DUE asks for, for this
 * concurrency (0: the default). The driver sizes its tables by it: a store answer cut short
 * by the driver would read as "no more rows due" and leave rows without their status query. */
uint32_t pb_engine_rows_max(uint32_t concurrency);
void pb_engine_free(pb_engine *e);
/* Take one event. PB_EINVAL (with a message, engine unchanged) for an event that answers
 * nothing the engine asked for (unknown row, a second answer, rows in the wrong state). */
int pb_engine_feed(pb_engine *e, const pb_engine_event *ev);
/* 1 and the next command in *out, or 0 when there is none until the next event. */
int pb_engine_next(pb_engine *e, pb_engine_cmd *out);
void pb_engine_get_stats(const pb_engine *e, pb_engine_stats *out);
/* 1 when an answer is Gate throttling us (429, or 503 with Retry-After): the one rule, also
 * used by the driver to pause the other workers of a shared batch. */
int pb_engine_throttled(int http_status, int64_t retry_after_ms);
/* "finished", "stopped", "gave up": static. */
const char *pb_engine_reason_name(pb_engine_done_reason r);

#endif
