#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/engine.h"
#include "core/errors.h"

/* A driver by hand: every command the engine hands out lands in a list the test reads. */
typedef struct {
    pb_engine *e;
    int64_t now;
    pb_engine_cmd cmds[64];
    pb_row_update ups[64]; /* copies of the last COMMIT's updates */
    size_t n, pos, n_ups;
} h_t;

static void h_drain(h_t *h)
{
    pb_engine_cmd c;
    h->n = h->pos = 0;
    while (pb_engine_next(h->e, &c)) {
        assert_true(h->n < 64);
        if (c.type == PB_ENGINE_COMMIT) {
            assert_true(c.n_updates <= 64);
            memcpy(h->ups, c.updates, c.n_updates * sizeof *c.updates);
            h->n_ups = c.n_updates;
            /* every update the engine emits is a transition of the machine */
            for (size_t i = 0; i < c.n_updates; i++)
                assert_true(pb_row_state_allowed(c.updates[i].from, c.updates[i].to));
        }
        h->cmds[h->n++] = c;
    }
}

static void h_feed(h_t *h, pb_engine_event *ev)
{
    ev->now_ms = h->now;
    assert_int_equal(pb_engine_feed(h->e, ev), PB_OK);
    h_drain(h);
}

/* The next command must be of this type (TIMERs are skipped unless asked for). */
static pb_engine_cmd *h_expect(h_t *h, pb_engine_cmd_type t)
{
    while (h->pos < h->n && h->cmds[h->pos].type == PB_ENGINE_TIMER && t != PB_ENGINE_TIMER)
        h->pos++;
    if (h->pos >= h->n)
        fail_msg("expected command %d, got none", (int)t);
    if (h->cmds[h->pos].type != t)
        fail_msg("expected command %d, got %d", (int)t, (int)h->cmds[h->pos].type);
    return &h->cmds[h->pos++];
}

static void h_expect_none(h_t *h)
{
    while (h->pos < h->n && h->cmds[h->pos].type == PB_ENGINE_TIMER)
        h->pos++;
    if (h->pos < h->n)
        fail_msg("expected no command, got %d", (int)h->cmds[h->pos].type);
}

static void h_tick(h_t *h, int64_t at)
{
    pb_engine_event ev = {.type = PB_ENGINE_TICK};
    h->now = at;
    h_feed(h, &ev);
}

/* The next command of this type once the rate slot (10/s: 100 ms) has come round. */
static pb_engine_cmd *h_expect_soon(h_t *h, pb_engine_cmd_type t)
{
    size_t p = h->pos;
    while (p < h->n && h->cmds[p].type == PB_ENGINE_TIMER)
        p++;
    if (p >= h->n)
        h_tick(h, h->now + 100);
    return h_expect(h, t);
}

static pb_engine_row mkrow(uint32_t no, pb_row_state st, uint32_t attempts)
{
    pb_engine_row r;
    memset(&r, 0, sizeof r);
    r.row_no = no;
    r.state = st;
    r.attempts = attempts;
    r.amount = 150000;
    memcpy(r.currency, "PHP", 4);
    snprintf(r.payment_id, sizeof r.payment_id, "p-%u", no);
    return r;
}

static void h_rows(h_t *h, pb_engine_event_type t, const pb_engine_row *rows, size_t n,
                   int64_t next_at)
{
    pb_engine_event ev = {.type = t};
    ev.u.rows.rows = rows;
    ev.u.rows.n = n;
    ev.u.rows.next_at_ms = next_at;
    h_feed(h, &ev);
}

static void h_committed(h_t *h)
{
    pb_engine_event ev = {.type = PB_ENGINE_COMMITTED};
    ev.u.committed.applied = h->n_ups;
    h_feed(h, &ev);
}

static void h_payout(h_t *h, uint32_t row, pb_engine_outcome o, int http, int64_t ra,
                     const char *status, const char *code)
{
    pb_engine_event ev = {.type = PB_ENGINE_PAYOUT_RESULT};
    pb_engine_payout_result *r = &ev.u.payout;
    r->row_no = row;
    r->outcome = o;
    r->http_status = http;
    r->retry_after_ms = ra;
    r->parsed = status != NULL;
    if (status) {
        snprintf(r->status, sizeof r->status, "%s", status);
        snprintf(r->code, sizeof r->code, "%s", code ? code : "");
        snprintf(r->message, sizeof r->message, "msg %s", code ? code : "ok");
        snprintf(r->request_id, sizeof r->request_id, "req-%u", row);
    }
    h_feed(h, &ev);
}

static void h_status(h_t *h, uint32_t row, pb_engine_outcome o, int http, const char *code,
                     const char *pstatus, int64_t amount, const char *cur)
{
    pb_engine_event ev = {.type = PB_ENGINE_STATUS_RESULT};
    pb_engine_status_result *r = &ev.u.status;
    r->row_no = row;
    r->outcome = o;
    r->http_status = http;
    r->retry_after_ms = -1;
    r->parsed = 1;
    snprintf(r->code, sizeof r->code, "%s", code ? code : "");
    if (pstatus) {
        snprintf(r->payment_status, sizeof r->payment_status, "%s", pstatus);
        r->has_amount = 1;
        r->amount = amount;
        snprintf(r->currency, sizeof r->currency, "%s", cur);
        snprintf(r->operation_id, sizeof r->operation_id, "op-%u", row);
    }
    h_feed(h, &ev);
}

static void h_open(h_t *h, const pb_engine_config *cfg)
{
    memset(h, 0, sizeof *h);
    h->now = 1000000;
    assert_int_equal(pb_engine_new(&h->e, cfg), PB_OK);
    h_tick(h, h->now);
}

/* start: the first DUE (nothing due), then a claim that hands out `row` */
static void h_start_with(h_t *h, const pb_engine_config *cfg, pb_engine_row row)
{
    h_open(h, cfg);
    h_expect(h, PB_ENGINE_DUE);
    h_rows(h, PB_ENGINE_ROWS_DUE, NULL, 0, PB_ENGINE_NEVER);
    h_expect(h, PB_ENGINE_CLAIM);
    h_rows(h, PB_ENGINE_ROWS_CLAIMED, &row, 1, PB_ENGINE_NEVER);
    pb_engine_cmd *c = h_expect(h, PB_ENGINE_POST_PAYOUT);
    assert_int_equal(c->row->row_no, row.row_no);
    assert_string_equal(c->row->payment_id, row.payment_id);
}

static void h_start(h_t *h)
{
    pb_engine_config cfg = {0};
    h_start_with(h, &cfg, mkrow(2, PB_ROW_SENDING, 1));
}

static void h_close(h_t *h)
{
    pb_engine_free(h->e);
    h->e = NULL;
}

/* the one update of the last COMMIT */
static pb_row_update *h_update(h_t *h, pb_row_state from, pb_row_state to)
{
    h_expect(h, PB_ENGINE_COMMIT);
    assert_int_equal(h->n_ups, 1);
    assert_int_equal(h->ups[0].from, from);
    assert_int_equal(h->ups[0].to, to);
    return &h->ups[0];
}

static void test_accepted(void **state)
{
    (void)state;
    h_t h;
    h_start(&h);
    h_payout(&h, 2, PB_ENGINE_ANSWERED, 200, -1, "success", NULL);
    pb_row_update *u = h_update(&h, PB_ROW_SENDING, PB_ROW_ACCEPTED);
    assert_string_equal(u->request_id, "req-2");
    assert_int_equal(u->row_no, 2);
    h_committed(&h);
    assert_int_equal(h_expect(&h, PB_ENGINE_DONE)->reason, PB_ENGINE_FINISHED);
    pb_engine_event ev = {.type = PB_ENGINE_TICK};
    assert_int_equal(pb_engine_feed(h.e, &ev), PB_EINVAL); /* nothing after DONE */
    h_close(&h);
}

static void test_refused(void **state)
{
    (void)state;
    static const int https[] = {400, 200, 422};
    for (int i = 0; i < 3; i++) {
        h_t h;
        h_start(&h);
        h_payout(&h, 2, PB_ENGINE_ANSWERED, https[i], -1, "error", "3025");
        pb_row_update *u = h_update(&h, PB_ROW_SENDING, PB_ROW_REJECTED);
        assert_string_equal(u->code, "3025");
        assert_string_equal(u->message, "msg 3025");
        h_committed(&h);
        h_expect(&h, PB_ENGINE_DONE);
        h_close(&h);
    }
}

/* a refused signature or project is about the configuration: the row is not rejected (it was
 * not paid, and would be sendable once the secret is fixed), and the run stops */
static void test_config_refusal(void **state)
{
    (void)state;
    static const char *const codes[] = {"3261", "3262", "2442"};
    for (int i = 0; i < 3; i++) {
        h_t h;
        pb_engine_stats st;
        h_start(&h);
        h_payout(&h, 2, PB_ENGINE_ANSWERED, 400, -1, "error", codes[i]);
        pb_row_update *u = h_update(&h, PB_ROW_SENDING, PB_ROW_QUEUED);
        assert_string_equal(u->code, codes[i]);
        h_committed(&h);
        pb_engine_cmd *c = h_expect(&h, PB_ENGINE_DONE);
        assert_int_equal(c->reason, PB_ENGINE_GAVE_UP);
        pb_engine_get_stats(h.e, &st);
        assert_int_equal(st.config_refused, 1);
        h_close(&h);
    }
}

/* a gateway that only throttles: the run gives up instead of waiting forever */
static void test_throttle_storm_gives_up(void **state)
{
    (void)state;
    h_t h;
    int done = 0, throttles = 0;
    h_start(&h);
    while (!done && throttles < 3 * PB_ENGINE_THROTTLES_MAX) {
        h_payout(&h, 2, PB_ENGINE_ANSWERED, 429, 0, NULL, NULL);
        throttles++;
        h_update(&h, PB_ROW_SENDING, PB_ROW_QUEUED);
        h_committed(&h);
        /* wait out the pause, then either the engine claims the row again or it gives up */
        for (int k = 0; k < 20 && !done; k++) {
            int posted = 0;
            for (size_t j = h.pos; j < h.n && !done && !posted; j++) {
                if (h.cmds[j].type == PB_ENGINE_DONE) {
                    assert_int_equal(h.cmds[j].reason, PB_ENGINE_GAVE_UP);
                    done = 1;
                } else if (h.cmds[j].type == PB_ENGINE_CLAIM) {
                    pb_engine_row r = mkrow(2, PB_ROW_SENDING, 1);
                    h_rows(&h, PB_ENGINE_ROWS_CLAIMED, &r, 1, PB_ENGINE_NEVER);
                    h_expect(&h, PB_ENGINE_POST_PAYOUT);
                    posted = 1;
                }
            }
            if (posted)
                break;
            if (!done)
                h_tick(&h, h.now + 1100);
        }
    }
    assert_true(done);
    assert_true(throttles > PB_ENGINE_THROTTLES_MAX / 2);
    h_close(&h);
}

static void test_3041_queries_status(void **state)
{
    (void)state;
    static const char *const st[] = {"processing", "success", "decline", "error"};
    static const pb_row_state to[] = {PB_ROW_ACCEPTED, PB_ROW_SUCCESS, PB_ROW_DECLINE,
                                      PB_ROW_ERROR};
    for (int i = 0; i < 4; i++) {
        h_t h;
        h_start(&h);
        h_payout(&h, 2, PB_ENGINE_ANSWERED, 400, -1, "error", "3041");
        h_expect_none(&h); /* no commit: the row stays sending until the answer */
        pb_engine_cmd *c = h_expect_soon(&h, PB_ENGINE_QUERY_STATUS);
        assert_int_equal(c->row->row_no, 2);
        h_status(&h, 2, PB_ENGINE_ANSWERED, 200, NULL, st[i], 150000, "PHP");
        pb_row_update *u = h_update(&h, PB_ROW_SENDING, to[i]);
        assert_string_equal(u->gate_status, st[i]);
        assert_string_equal(u->operation_id, "op-2");
        h_committed(&h);
        h_expect(&h, PB_ENGINE_DONE);
        h_close(&h);
    }
}

/* A payment Gate paid and then reversed: success, then reversed, in one COMMIT, in order. */
static void test_status_reversed(void **state)
{
    (void)state;
    h_t h;
    h_start(&h);
    h_payout(&h, 2, PB_ENGINE_ANSWERED, 400, -1, "error", "3041");
    h_expect_soon(&h, PB_ENGINE_QUERY_STATUS);
    h_status(&h, 2, PB_ENGINE_ANSWERED, 200, NULL, "reversed", 150000, "PHP");
    h_expect(&h, PB_ENGINE_COMMIT);
    assert_int_equal(h.n_ups, 2);
    assert_int_equal(h.ups[0].from, PB_ROW_SENDING);
    assert_int_equal(h.ups[0].to, PB_ROW_SUCCESS);
    assert_int_equal(h.ups[1].from, PB_ROW_SUCCESS);
    assert_int_equal(h.ups[1].to, PB_ROW_REVERSED);
    assert_string_equal(h.ups[1].gate_status, "reversed");
    assert_string_equal(h.ups[1].operation_id, "op-2");
    h_committed(&h);
    h_expect(&h, PB_ENGINE_DONE);
    h_close(&h);
}

static void test_conflict(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        h_t h;
        h_start(&h);
        h_payout(&h, 2, PB_ENGINE_ANSWERED, 400, -1, "error", "3041");
        h_expect_soon(&h, PB_ENGINE_QUERY_STATUS);
        /* Gate's payment under this id has another amount / currency: not ours */
        if (i == 0)
            h_status(&h, 2, PB_ENGINE_ANSWERED, 200, NULL, "success", 150001, "PHP");
        else
            h_status(&h, 2, PB_ENGINE_ANSWERED, 200, NULL, "success", 150000, "USD");
        pb_row_update *u = h_update(&h, PB_ROW_SENDING, PB_ROW_REJECTED);
        assert_string_equal(u->code, "conflict");
        assert_string_equal(u->gate_status, "");
        h_committed(&h);
        h_expect(&h, PB_ENGINE_DONE);
        pb_engine_stats st;
        pb_engine_get_stats(h.e, &st);
        assert_int_equal(st.conflicts, 1);
        h_close(&h);
    }
}

static void test_throttled(void **state)
{
    (void)state;
    static const int https[] = {429, 503};
    for (int i = 0; i < 2; i++) {
        h_t h;
        h_start(&h);
        int64_t t0 = h.now;
        h_payout(&h, 2, PB_ENGINE_ANSWERED, https[i], 5000, NULL, NULL);
        pb_row_update *u = h_update(&h, PB_ROW_SENDING, PB_ROW_QUEUED);
        assert_int_equal(u->next_at_ms, t0 + 5000);
        assert_int_equal(u->add_attempt, 0);
        h_committed(&h);
        /* paused: no claim before the end of Retry-After */
        h_expect_none(&h);
        h_tick(&h, t0 + 4999);
        h_expect_none(&h);
        h_tick(&h, t0 + 5000);
        h_expect(&h, PB_ENGINE_CLAIM);
        pb_engine_row r = mkrow(2, PB_ROW_SENDING, 2);
        h_rows(&h, PB_ENGINE_ROWS_CLAIMED, &r, 1, PB_ENGINE_NEVER);
        h_expect(&h, PB_ENGINE_POST_PAYOUT);
        pb_engine_stats st;
        pb_engine_get_stats(h.e, &st);
        assert_int_equal(st.throttles, 1);
        assert_int_equal(st.retries, 0); /* a throttle spends no retry */
        h_close(&h);
    }
}

static void test_in_doubt_then_status(void **state)
{
    (void)state;
    /* every unclear answer: no answer, 5xx, 503 without Retry-After, unparsable 200 */
    for (int i = 0; i < 4; i++) {
        h_t h;
        h_start(&h);
        int64_t t0 = h.now;
        if (i == 0)
            h_payout(&h, 2, PB_ENGINE_NO_ANSWER, 0, -1, NULL, NULL);
        else if (i == 1)
            h_payout(&h, 2, PB_ENGINE_ANSWERED, 500, -1, "error", "500");
        else if (i == 2)
            h_payout(&h, 2, PB_ENGINE_ANSWERED, 503, -1, NULL, NULL);
        else
            h_payout(&h, 2, PB_ENGINE_ANSWERED, 200, -1, NULL, NULL);
        pb_row_update *u = h_update(&h, PB_ROW_SENDING, PB_ROW_IN_DOUBT);
        assert_int_equal(u->next_at_ms, t0 + 10000);
        h_committed(&h);
        pb_engine_cmd *tm = h_expect(&h, PB_ENGINE_TIMER);
        assert_int_equal(tm->at_ms, t0 + 10000);
        h_expect_none(&h); /* never resent blindly */
        h_tick(&h, t0 + 10000);
        assert_true(h_expect(&h, PB_ENGINE_DUE)->max >= 1);
        pb_engine_row r = mkrow(2, PB_ROW_IN_DOUBT, 1);
        h_rows(&h, PB_ENGINE_ROWS_DUE, &r, 1, PB_ENGINE_NEVER);
        h_expect(&h, PB_ENGINE_QUERY_STATUS);
        if (i % 2 == 0) {
            h_status(&h, 2, PB_ENGINE_ANSWERED, 404, NULL, NULL, 0, NULL);
        } else {
            h_status(&h, 2, PB_ENGINE_ANSWERED, 200, "3061", NULL, 0, NULL);
        }
        u = h_update(&h, PB_ROW_IN_DOUBT, PB_ROW_QUEUED);
        assert_int_equal(u->next_at_ms, h.now);
        h_committed(&h);
        /* only now, after "not found", the row is claimed and sent again */
        h_expect_soon(&h, PB_ENGINE_CLAIM);
        r = mkrow(2, PB_ROW_SENDING, 2);
        h_rows(&h, PB_ENGINE_ROWS_CLAIMED, &r, 1, PB_ENGINE_NEVER);
        h_expect(&h, PB_ENGINE_POST_PAYOUT);
        h_close(&h);
    }
}

static void test_status_failures(void **state)
{
    (void)state;
    h_t h;
    pb_engine_config cfg = {0};
    h_open(&h, &cfg);
    h_expect(&h, PB_ENGINE_DUE);
    /* restart: one row left sending, one in doubt; both get status queries, no claim yet */
    pb_engine_row rows[2] = {mkrow(3, PB_ROW_SENDING, 1), mkrow(4, PB_ROW_IN_DOUBT, 1)};
    h_rows(&h, PB_ENGINE_ROWS_DUE, rows, 2, PB_ENGINE_NEVER);
    assert_int_equal(h_expect(&h, PB_ENGINE_QUERY_STATUS)->row->row_no, 3);
    h_expect_none(&h); /* 10/s: the second waits 100 ms for its slot */
    h_tick(&h, h.now + 100);
    assert_int_equal(h_expect(&h, PB_ENGINE_QUERY_STATUS)->row->row_no, 4);
    /* the sending row's query fails: it becomes in_doubt (a commit) */
    h_status(&h, 3, PB_ENGINE_NO_ANSWER, 0, NULL, NULL, 0, NULL);
    pb_row_update *u = h_update(&h, PB_ROW_SENDING, PB_ROW_IN_DOUBT);
    assert_true(u->next_at_ms > h.now);
    h_committed(&h);
    /* the in_doubt row's query fails: no transition exists, it waits in hand */
    h_status(&h, 4, PB_ENGINE_ANSWERED, 500, NULL, NULL, 0, NULL);
    h_expect_none(&h);
    h_tick(&h, h.now + 60000);
    h_expect(&h, PB_ENGINE_QUERY_STATUS);
    /* a found payment without an amount cannot be checked: asked again, not adopted */
    pb_engine_event ev = {.type = PB_ENGINE_STATUS_RESULT};
    ev.u.status.row_no = 4;
    ev.u.status.outcome = PB_ENGINE_ANSWERED;
    ev.u.status.http_status = 200;
    ev.u.status.parsed = 1;
    snprintf(ev.u.status.payment_status, sizeof ev.u.status.payment_status, "success");
    h_feed(&h, &ev);
    h_expect_none(&h);
    h_tick(&h, h.now + 60000);
    h_expect(&h, PB_ENGINE_QUERY_STATUS);
    h_status(&h, 4, PB_ENGINE_ANSWERED, 200, NULL, "processing", 150000, "PHP");
    h_update(&h, PB_ROW_IN_DOUBT, PB_ROW_ACCEPTED);
    h_close(&h);
}

static void test_not_sent_backoff(void **state)
{
    (void)state;
    h_t h;
    h_start(&h);
    int64_t t0 = h.now;
    h_payout(&h, 2, PB_ENGINE_NOT_SENT, 0, -1, NULL, NULL);
    pb_row_update *u = h_update(&h, PB_ROW_SENDING, PB_ROW_QUEUED);
    assert_true(u->next_at_ms >= t0 && u->next_at_ms <= t0 + 500);
    int64_t at = u->next_at_ms;
    h_committed(&h);
    if (at > t0) {
        h_expect_none(&h);
        h_tick(&h, at);
    }
    h_expect_soon(&h, PB_ENGINE_CLAIM);
    h_close(&h);
}

/* A TLS certificate refused: no retry, the row back to queued at once, the run gives up. */
static void test_not_sent_fatal(void **state)
{
    (void)state;
    h_t h;
    pb_engine_stats st;
    h_start(&h);
    pb_engine_event ev = {.type = PB_ENGINE_PAYOUT_RESULT};
    ev.u.payout.row_no = 2;
    ev.u.payout.outcome = PB_ENGINE_NOT_SENT;
    ev.u.payout.retry_after_ms = -1;
    ev.u.payout.fatal = 1;
    h_feed(&h, &ev);
    pb_row_update *u = h_update(&h, PB_ROW_SENDING, PB_ROW_QUEUED);
    assert_int_equal(u->next_at_ms, h.now);
    assert_non_null(strstr(u->message, "certificate"));
    h_committed(&h);
    pb_engine_cmd *c = h_expect(&h, PB_ENGINE_DONE);
    assert_int_equal(c->reason, PB_ENGINE_GAVE_UP);
    pb_engine_get_stats(h.e, &st);
    assert_int_equal(st.fatal, 1);
    assert_int_equal(st.retries, 0);
    h_close(&h);
}

static void test_budget_gives_up(void **state)
{
    (void)state;
    h_t h;
    pb_engine_config cfg = {.retry_budget = 2, .backoff_base_ms = 1};
    h_start_with(&h, &cfg, mkrow(2, PB_ROW_SENDING, 1));
    for (uint32_t a = 2; a <= 3; a++) {
        h_payout(&h, 2, PB_ENGINE_NOT_SENT, 0, -1, NULL, NULL);
        h_update(&h, PB_ROW_SENDING, PB_ROW_QUEUED);
        h_committed(&h);
        h_tick(&h, h.now + 1000);
        h_expect(&h, PB_ENGINE_CLAIM);
        pb_engine_row r = mkrow(2, PB_ROW_SENDING, a);
        h_rows(&h, PB_ENGINE_ROWS_CLAIMED, &r, 1, PB_ENGINE_NEVER);
        h_expect(&h, PB_ENGINE_POST_PAYOUT);
    }
    h_payout(&h, 2, PB_ENGINE_NOT_SENT, 0, -1, NULL, NULL);
    pb_row_update *u = h_update(&h, PB_ROW_SENDING, PB_ROW_QUEUED);
    assert_int_equal(u->next_at_ms, h.now); /* left for the next run */
    h_committed(&h);
    assert_int_equal(h_expect(&h, PB_ENGINE_DONE)->reason, PB_ENGINE_GAVE_UP);
    h_close(&h);

    /* a row at its attempt cap gives the run up on its next retryable failure */
    pb_engine_config cfg2 = {.max_attempts = 3};
    h_start_with(&h, &cfg2, mkrow(2, PB_ROW_SENDING, 3));
    h_payout(&h, 2, PB_ENGINE_NOT_SENT, 0, -1, NULL, NULL);
    h_update(&h, PB_ROW_SENDING, PB_ROW_QUEUED);
    h_committed(&h);
    assert_int_equal(h_expect(&h, PB_ENGINE_DONE)->reason, PB_ENGINE_GAVE_UP);
    h_close(&h);
}

/* Rows a killed run claimed and never sent are all "not found": resending them (still
 * `sending`) takes nothing from the retry budget, so a run that takes many over does not give
 * up; rows posted and left in doubt do spend it; the attempt cap holds for both. */
static void test_not_found_spends_no_budget(void **state)
{
    (void)state;
    h_t h;
    pb_engine_stats st;
    pb_engine_config cfg = {.retry_budget = 1};
    h_open(&h, &cfg);
    h_expect(&h, PB_ENGINE_DUE);
    pb_engine_row rows[4] = {mkrow(3, PB_ROW_SENDING, 1), mkrow(4, PB_ROW_SENDING, 1),
                             mkrow(5, PB_ROW_SENDING, 1), mkrow(6, PB_ROW_SENDING, 1)};
    h_rows(&h, PB_ENGINE_ROWS_DUE, rows, 4, PB_ENGINE_NEVER);
    for (uint32_t no = 3; no <= 6; no++) {
        assert_int_equal(h_expect_soon(&h, PB_ENGINE_QUERY_STATUS)->row->row_no, no);
        h_status(&h, no, PB_ENGINE_ANSWERED, 404, NULL, NULL, 0, NULL);
        pb_row_update *u = h_update(&h, PB_ROW_SENDING, PB_ROW_QUEUED);
        assert_non_null(strstr(u->message, "resending"));
        h_committed(&h);
    }
    pb_engine_get_stats(h.e, &st);
    assert_int_equal(st.retries, 0);
    /* not given up: the rows are claimed and sent again */
    pb_engine_cmd *c = h_expect_soon(&h, PB_ENGINE_CLAIM);
    assert_true(c->max >= 1);
    h_close(&h);

    /* rows this run's predecessor posted and got no clear answer for (in_doubt) are retries:
     * the budget (1 token, 0.1 earned per answer) lets one through, not two */
    pb_engine_config cfg3 = {.retry_budget = 1};
    h_open(&h, &cfg3);
    h_expect(&h, PB_ENGINE_DUE);
    pb_engine_row doubt[2] = {mkrow(8, PB_ROW_IN_DOUBT, 1), mkrow(9, PB_ROW_IN_DOUBT, 1)};
    h_rows(&h, PB_ENGINE_ROWS_DUE, doubt, 2, PB_ENGINE_NEVER);
    assert_int_equal(h_expect_soon(&h, PB_ENGINE_QUERY_STATUS)->row->row_no, 8);
    h_status(&h, 8, PB_ENGINE_ANSWERED, 404, NULL, NULL, 0, NULL);
    assert_non_null(strstr(h_update(&h, PB_ROW_IN_DOUBT, PB_ROW_QUEUED)->message, "resending"));
    h_committed(&h);
    assert_int_equal(h_expect_soon(&h, PB_ENGINE_QUERY_STATUS)->row->row_no, 9);
    h_status(&h, 9, PB_ENGINE_ANSWERED, 404, NULL, NULL, 0, NULL);
    assert_non_null(strstr(h_update(&h, PB_ROW_IN_DOUBT, PB_ROW_QUEUED)->message, "not resent"));
    h_committed(&h);
    pb_engine_get_stats(h.e, &st);
    assert_int_equal(st.retries, 1);
    assert_int_equal(h_expect(&h, PB_ENGINE_DONE)->reason, PB_ENGINE_GAVE_UP);
    h_close(&h);

    /* a row at its attempt cap is not resent, and the run gives up */
    pb_engine_config cfg2 = {.max_attempts = 2};
    h_open(&h, &cfg2);
    h_expect(&h, PB_ENGINE_DUE);
    pb_engine_row r = mkrow(7, PB_ROW_IN_DOUBT, 2);
    h_rows(&h, PB_ENGINE_ROWS_DUE, &r, 1, PB_ENGINE_NEVER);
    h_expect(&h, PB_ENGINE_QUERY_STATUS);
    h_status(&h, 7, PB_ENGINE_ANSWERED, 404, NULL, NULL, 0, NULL);
    pb_row_update *u = h_update(&h, PB_ROW_IN_DOUBT, PB_ROW_QUEUED);
    assert_non_null(strstr(u->message, "not resent"));
    h_committed(&h);
    assert_int_equal(h_expect(&h, PB_ENGINE_DONE)->reason, PB_ENGINE_GAVE_UP);
    h_close(&h);
}

static void test_stop(void **state)
{
    (void)state;
    h_t h;
    pb_engine_config cfg = {.rate_milli = 1000, .concurrency = 4};
    h_open(&h, &cfg);
    h_expect(&h, PB_ENGINE_DUE);
    h_rows(&h, PB_ENGINE_ROWS_DUE, NULL, 0, PB_ENGINE_NEVER);
    assert_int_equal(h_expect(&h, PB_ENGINE_CLAIM)->max, 1); /* 1/s: one row at a time */
    pb_engine_row r = mkrow(5, PB_ROW_SENDING, 1);
    h_rows(&h, PB_ENGINE_ROWS_CLAIMED, &r, 1, PB_ENGINE_NEVER);
    h_expect(&h, PB_ENGINE_POST_PAYOUT);
    h_tick(&h, h.now + 1000);
    h_expect(&h, PB_ENGINE_CLAIM);
    pb_engine_row r2[1] = {mkrow(6, PB_ROW_SENDING, 1)};
    h_rows(&h, PB_ENGINE_ROWS_CLAIMED, r2, 1, PB_ENGINE_NEVER);
    h_expect(&h, PB_ENGINE_POST_PAYOUT);
    /* a third, claimed while the rate slot is taken */
    h_tick(&h, h.now + 1000);
    h_expect(&h, PB_ENGINE_CLAIM);
    pb_engine_event ev = {.type = PB_ENGINE_STOP_REQUESTED};
    h_feed(&h, &ev);
    h_expect_none(&h); /* the claim is out: its answer comes first */
    pb_engine_row r3 = mkrow(7, PB_ROW_SENDING, 1);
    h_rows(&h, PB_ENGINE_ROWS_CLAIMED, &r3, 1, PB_ENGINE_NEVER);
    /* claimed, not sent: back to queued, never posted */
    pb_row_update *u = h_update(&h, PB_ROW_SENDING, PB_ROW_QUEUED);
    assert_int_equal(u->row_no, 7);
    h_committed(&h);
    h_expect_none(&h); /* two still in flight */
    h_payout(&h, 5, PB_ENGINE_ANSWERED, 200, -1, "success", NULL);
    h_update(&h, PB_ROW_SENDING, PB_ROW_ACCEPTED);
    h_committed(&h);
    h_payout(&h, 6, PB_ENGINE_NOT_SENT, 0, -1, NULL, NULL);
    h_update(&h, PB_ROW_SENDING, PB_ROW_QUEUED);
    h_committed(&h);
    assert_int_equal(h_expect(&h, PB_ENGINE_DONE)->reason, PB_ENGINE_STOPPED);
    h_close(&h);
}

static void h_added(h_t *h, int last)
{
    pb_engine_event ev = {.type = PB_ENGINE_ROWS_ADDED};
    ev.u.added.last = last;
    h_feed(h, &ev);
}

/* config.loading: rows arrive while the batch is sent; an empty claim means "not yet" until
 * ROWS_ADDED says the last rows are in, and a claim that ran before rows came asks again */
static void test_loading(void **state)
{
    (void)state;
    h_t h;
    pb_engine_config cfg = {0};
    cfg.loading = 1;
    h_open(&h, &cfg);
    h_expect(&h, PB_ENGINE_DUE);
    h_rows(&h, PB_ENGINE_ROWS_DUE, NULL, 0, PB_ENGINE_NEVER);
    h_expect(&h, PB_ENGINE_CLAIM);
    h_rows(&h, PB_ENGINE_ROWS_CLAIMED, NULL, 0, PB_ENGINE_NEVER);
    h_expect_none(&h); /* nothing yet, and not DONE */
    for (int i = 0; i < 5; i++) {
        h_tick(&h, h.now + 1000);
        h_expect_none(&h);
    }
    h_added(&h, 0);
    h_expect(&h, PB_ENGINE_CLAIM);
    /* rows added while this claim is out (it may have run before they were in) */
    h_added(&h, 0);
    h_expect_none(&h);
    pb_engine_row r = mkrow(2, PB_ROW_SENDING, 1);
    h_rows(&h, PB_ENGINE_ROWS_CLAIMED, &r, 1, PB_ENGINE_NEVER);
    h_expect(&h, PB_ENGINE_POST_PAYOUT);
    h_payout(&h, 2, PB_ENGINE_ANSWERED, 200, -1, "success", NULL);
    h_update(&h, PB_ROW_SENDING, PB_ROW_ACCEPTED);
    h_committed(&h);
    /* the answer's next_at said nothing more, but rows were added meanwhile: claim again */
    h_expect_soon(&h, PB_ENGINE_CLAIM);
    h_rows(&h, PB_ENGINE_ROWS_CLAIMED, NULL, 0, PB_ENGINE_NEVER);
    h_expect_none(&h);
    h_added(&h, 1); /* the last rows: one more claim, then done */
    h_expect(&h, PB_ENGINE_CLAIM);
    h_rows(&h, PB_ENGINE_ROWS_CLAIMED, NULL, 0, PB_ENGINE_NEVER);
    assert_int_equal(h_expect(&h, PB_ENGINE_DONE)->reason, PB_ENGINE_FINISHED);
    h_close(&h);

    /* a stop ends the run while rows are still being added */
    h_open(&h, &cfg);
    h_expect(&h, PB_ENGINE_DUE);
    h_rows(&h, PB_ENGINE_ROWS_DUE, NULL, 0, PB_ENGINE_NEVER);
    h_expect(&h, PB_ENGINE_CLAIM);
    h_rows(&h, PB_ENGINE_ROWS_CLAIMED, NULL, 0, PB_ENGINE_NEVER);
    h_expect_none(&h);
    pb_engine_event ev = {.type = PB_ENGINE_STOP_REQUESTED};
    h_feed(&h, &ev);
    assert_int_equal(h_expect(&h, PB_ENGINE_DONE)->reason, PB_ENGINE_STOPPED);
    h_close(&h);

    /* ROWS_ADDED to an engine that is not loading is a protocol error */
    cfg.loading = 0;
    h_open(&h, &cfg);
    ev.type = PB_ENGINE_ROWS_ADDED;
    ev.now_ms = h.now;
    assert_int_equal(pb_engine_feed(h.e, &ev), PB_EINVAL);
    h_close(&h);
}

/* reconcile: rows in doubt are asked about, nothing is ever claimed or posted */
static void test_status_only(void **state)
{
    (void)state;
    h_t h;
    pb_engine_config cfg = {0};
    cfg.status_only = 1;
    h_open(&h, &cfg);
    h_expect(&h, PB_ENGINE_DUE);
    pb_engine_row rows[2] = {mkrow(2, PB_ROW_SENDING, 1), mkrow(3, PB_ROW_IN_DOUBT, 1)};
    h_rows(&h, PB_ENGINE_ROWS_DUE, rows, 2, PB_ENGINE_NEVER);
    h_expect(&h, PB_ENGINE_QUERY_STATUS);
    h_status(&h, 2, PB_ENGINE_ANSWERED, 200, NULL, "success", 150000, "PHP");
    h_update(&h, PB_ROW_SENDING, PB_ROW_SUCCESS);
    h_committed(&h);
    h_expect_soon(&h, PB_ENGINE_QUERY_STATUS);
    h_status(&h, 3, PB_ENGINE_ANSWERED, 404, NULL, NULL, 0, NULL);
    h_update(&h, PB_ROW_IN_DOUBT, PB_ROW_QUEUED);
    h_committed(&h);
    /* "not found": back to queued for the next send, never claimed here */
    for (int i = 0; i < 20; i++) {
        for (size_t k = h.pos; k < h.n; k++) {
            assert_int_not_equal(h.cmds[k].type, PB_ENGINE_CLAIM);
            assert_int_not_equal(h.cmds[k].type, PB_ENGINE_POST_PAYOUT);
            if (h.cmds[k].type == PB_ENGINE_DUE)
                h_rows(&h, PB_ENGINE_ROWS_DUE, NULL, 0, PB_ENGINE_NEVER);
        }
        if (h.n && h.cmds[h.n - 1].type == PB_ENGINE_DONE)
            break;
        h_tick(&h, h.now + 1000);
    }
    assert_true(h.n > 0);
    assert_int_equal(h.cmds[h.n - 1].type, PB_ENGINE_DONE);
    assert_int_equal(h.cmds[h.n - 1].reason, PB_ENGINE_FINISHED);
    h_close(&h);
}

/* How far claims run ahead: three rounds of requests past those in flight when the rate does
 * not bind, but no more rows waiting than the rate lets out in about a quarter second. */
static void test_claim_window(void **state)
{
    static const struct {
        uint32_t conc;
        int64_t rate_milli;
        uint32_t first; /* the first claim's max */
    } cases[] = {
        {64, 100000000, 256}, /* 100,000/s: 64 in flight + 3 rounds */
        {16, 30000, 8},       /* 30/s: 1 + 30/4 */
        {1, 1000, 1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pb_engine_config cfg = {.concurrency = cases[i].conc, .rate_milli = cases[i].rate_milli};
        h_t h;
        h_open(&h, &cfg);
        h_expect(&h, PB_ENGINE_DUE);
        h_rows(&h, PB_ENGINE_ROWS_DUE, NULL, 0, PB_ENGINE_NEVER);
        assert_int_equal(h_expect(&h, PB_ENGINE_CLAIM)->max, cases[i].first);
        h_close(&h);
    }
    /* 30/s, 16 in flight: rows waiting for the limiter stay within a quarter second's worth */
    pb_engine_config cfg = {.concurrency = 16, .rate_milli = 30000};
    h_t h;
    uint32_t next = 1, held = 0, max_held = 0;
    h_open(&h, &cfg);
    h_expect(&h, PB_ENGINE_DUE);
    h_rows(&h, PB_ENGINE_ROWS_DUE, NULL, 0, PB_ENGINE_NEVER);
    for (int step = 0; step < 400; step++) {
        for (size_t k = 0; k < h.n; k++) {
            pb_engine_cmd *c = &h.cmds[k];
            if (c->type == PB_ENGINE_CLAIM) {
                pb_engine_row rows[64];
                assert_true(c->max <= 64);
                for (uint32_t j = 0; j < c->max; j++)
                    rows[j] = mkrow(next++, PB_ROW_SENDING, 1);
                held += c->max;
                h_rows(&h, PB_ENGINE_ROWS_CLAIMED, rows, c->max, PB_ENGINE_NEVER);
                k = (size_t)-1;
            } else if (c->type == PB_ENGINE_COMMIT) {
                held -= (uint32_t)h.n_ups;
                h_committed(&h);
                k = (size_t)-1;
            } else if (c->type == PB_ENGINE_POST_PAYOUT) {
                /* no answer for a while: every request slot stays taken */
                continue;
            }
        }
        max_held = held > max_held ? held : max_held;
        h_tick(&h, h.now + 10);
    }
    /* 16 requests out (their answers never came) and at most 8 claimed rows waiting */
    assert_true(max_held <= 16 + 8);
    assert_true(max_held >= 16);
    h_close(&h);
}

static void test_rate_and_concurrency(void **state)
{
    (void)state;
    h_t h;
    pb_engine_config cfg = {.rate_milli = 500, .concurrency = 2};
    h_open(&h, &cfg);
    h_expect(&h, PB_ENGINE_DUE);
    h_rows(&h, PB_ENGINE_ROWS_DUE, NULL, 0, PB_ENGINE_NEVER);
    int64_t last = -1;
    int posts = 0;
    /* 0.5/s: posts 2 s apart; never more than 2 in hand */
    for (int step = 0; step < 200 && posts < 4; step++) {
        for (size_t i = 0; i < h.n; i++) {
            pb_engine_cmd *c = &h.cmds[i];
            if (c->type == PB_ENGINE_CLAIM) {
                assert_true(c->max <= 2);
                pb_engine_row r = mkrow(10 + (uint32_t)posts, PB_ROW_SENDING, 1);
                h_rows(&h, PB_ENGINE_ROWS_CLAIMED, &r, 1, 0);
                i = (size_t)-1;
                continue;
            }
            if (c->type == PB_ENGINE_POST_PAYOUT) {
                if (last >= 0)
                    assert_true(h.now - last >= 2000);
                last = h.now;
                posts++;
                uint32_t no = c->row->row_no;
                h_payout(&h, no, PB_ENGINE_ANSWERED, 200, -1, "success", NULL);
                i = (size_t)-1;
                continue;
            }
            if (c->type == PB_ENGINE_COMMIT) {
                h_committed(&h);
                i = (size_t)-1;
                continue;
            }
        }
        h_tick(&h, h.now + 250);
    }
    assert_int_equal(posts, 4);
    h_close(&h);
}

static void test_protocol_errors(void **state)
{
    (void)state;
    h_t h;
    h_start(&h);
    pb_engine_event ev = {.type = PB_ENGINE_COMMITTED, .now_ms = h.now};
    assert_int_equal(pb_engine_feed(h.e, &ev), PB_EINVAL);
    ev.type = PB_ENGINE_ROWS_CLAIMED;
    assert_int_equal(pb_engine_feed(h.e, &ev), PB_EINVAL);
    ev.type = PB_ENGINE_STATUS_RESULT;
    ev.u.status.row_no = 2; /* a POST is out for it, not a query */
    assert_int_equal(pb_engine_feed(h.e, &ev), PB_EINVAL);
    ev.type = PB_ENGINE_PAYOUT_RESULT;
    ev.u.payout.row_no = 99;
    assert_int_equal(pb_engine_feed(h.e, &ev), PB_EINVAL);
    h_close(&h);

    h_open(&h, &(pb_engine_config){0});
    h_expect(&h, PB_ENGINE_DUE);
    pb_engine_row bad = mkrow(1, PB_ROW_QUEUED, 0);
    ev.type = PB_ENGINE_ROWS_DUE;
    ev.u.rows.rows = &bad;
    ev.u.rows.n = 1;
    assert_int_equal(pb_engine_feed(h.e, &ev), PB_EINVAL);
    h_close(&h);

    pb_engine *e = NULL;
    pb_engine_config cfg = {.concurrency = PB_ENGINE_CONC_MAX + 1};
    assert_int_equal(pb_engine_new(&e, &cfg), PB_EINVAL);
    assert_null(e);
    pb_engine_free(NULL);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    pb_engine_config cfg = {0};
    int ok = 0;
    for (long n = 0; n < 10 && !ok; n++) {
        pb_engine *e = NULL;
        pb_alloc_fail_after(n);
        int rc = pb_engine_new(&e, &cfg);
        pb_alloc_fail_after(-1);
        if (rc == PB_OK)
            ok = 1;
        else
            assert_int_equal(rc, PB_ENOMEM);
        pb_engine_free(e);
    }
    assert_true(ok);
}

/* The one throttle rule, which the driver also uses to pause the other workers of a shared
 * batch (batch/send/share.c). */
static void test_throttled_rule(void **state)
{
    (void)state;
    assert_true(pb_engine_throttled(429, -1));
    assert_true(pb_engine_throttled(429, 2000));
    assert_true(pb_engine_throttled(503, 0));
    assert_false(pb_engine_throttled(503, -1));
    assert_false(pb_engine_throttled(500, 1000));
    assert_false(pb_engine_throttled(200, 1000));
}

/* No CLAIM or DUE asks for more rows than pb_engine_rows_max, the size send's driver gives its
 * tables: a DUE cut short by the driver read as "nothing more due" and rows in doubt lost
 * their status query. The first DUE of a run asks for all of them. */
static void test_rows_max(void **state)
{
    static const uint32_t conc[] = {0, 1, 3, 64};
    size_t i;
    (void)state;
    for (i = 0; i < sizeof conc / sizeof conc[0]; i++) {
        pb_engine_config cfg = {.concurrency = conc[i]};
        h_t h;
        pb_engine_cmd *c;
        h_open(&h, &cfg);
        c = h_expect(&h, PB_ENGINE_DUE);
        assert_int_equal(c->max, pb_engine_rows_max(conc[i]));
        h_rows(&h, PB_ENGINE_ROWS_DUE, NULL, 0, PB_ENGINE_NEVER);
        c = h_expect(&h, PB_ENGINE_CLAIM);
        assert_true(c->max >= 1 && c->max <= pb_engine_rows_max(conc[i]));
        h_close(&h);
    }
    assert_int_equal(pb_engine_rows_max(0), pb_engine_rows_max(8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_max),
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_3041_queries_status),
        cmocka_unit_test(test_status_reversed),
        cmocka_unit_test(test_conflict),
        cmocka_unit_test(test_throttled),
        cmocka_unit_test(test_in_doubt_then_status),
        cmocka_unit_test(test_status_failures),
        cmocka_unit_test(test_not_sent_backoff),
        cmocka_unit_test(test_not_sent_fatal),
        cmocka_unit_test(test_budget_gives_up),
        cmocka_unit_test(test_not_found_spends_no_budget),
        cmocka_unit_test(test_claim_window),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_rate_and_concurrency),
        cmocka_unit_test(test_status_only),
        cmocka_unit_test(test_loading),
        cmocka_unit_test(test_config_refusal),
        cmocka_unit_test(test_throttle_storm_gives_up),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_throttled_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
