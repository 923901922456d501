/*
 * sim.c - the deterministic simulator of `send` (see sim.h). Usage:
 *   pb_sim --seeds N [--from S]   run seeds S .. S+N-1; stop at the first failure
 *   pb_sim --seed S [-v]          replay one seed (-v: trace every command and event)
 * A failure prints the command that replays it and exits 1.
 */
#include "sim.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIM_RUNS_MAX   16
#define SIM_EVENTS_MAX 3000000
#define SIM_TIME_MAX   (48LL * 3600 * 1000)

uint64_t sim_rand(sim_world *w)
{
    return sim_mix(&w->rng);
}

uint64_t sim_below(sim_world *w, uint64_t n)
{
    return n ? sim_rand(w) % n : 0;
}

int sim_chance(sim_world *w, int permille)
{
    return !w->healed && (int)sim_below(w, 1000) < permille;
}

void sim_fail(sim_world *w, const char *fmt, ...)
{
    if (w->fail[0])
        return; /* the first failure is the story */
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(w->fail, sizeof w->fail, "t=%lld ms: ", (long long)w->now);
    vsnprintf(w->fail + n, sizeof w->fail - (size_t)n, fmt, ap);
    va_end(ap);
}

/* --- the event queue: a binary heap of pool indices ordered by (t, seq) ------------------ */

static int sim__before(const sim_world *w, uint32_t a, uint32_t b)
{
    const sim_ev *x = &w->pool[a], *y = &w->pool[b];
    return x->t < y->t || (x->t == y->t && x->seq < y->seq);
}

sim_ev *sim_new_ev(sim_world *w, int64_t t, sim_ev_type type)
{
    if (!w->n_free) {
        sim_fail(w, "event pool exhausted");
        return NULL;
    }
    uint32_t idx = w->free_list[--w->n_free];
    sim_ev *ev = &w->pool[idx];
    memset(ev, 0, sizeof *ev);
    ev->t = t < w->now ? w->now : t;
    ev->seq = ++w->ev_seq;
    ev->type = type;
    ev->ev.now_ms = ev->t;
    uint32_t i = w->n_heap++;
    w->heap[i] = idx;
    while (i > 0 && sim__before(w, w->heap[i], w->heap[(i - 1) / 2])) {
        uint32_t p = (i - 1) / 2, tmp = w->heap[p];
        w->heap[p] = w->heap[i];
        w->heap[i] = tmp;
        i = p;
    }
    return ev;
}

static sim_ev *sim__pop(sim_world *w)
{
    if (!w->n_heap)
        return NULL;
    uint32_t top = w->heap[0];
    w->heap[0] = w->heap[--w->n_heap];
    for (uint32_t i = 0;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->n_heap && sim__before(w, w->heap[l], w->heap[m]))
            m = l;
        if (r < w->n_heap && sim__before(w, w->heap[r], w->heap[m]))
            m = r;
        if (m == i)
            break;
        uint32_t tmp = w->heap[m];
        w->heap[m] = w->heap[i];
        w->heap[i] = tmp;
        i = m;
    }
    return &w->pool[top];
}

static void sim__release(sim_world *w, sim_ev *ev)
{
    pb_free(ev->rows);
    pb_free(ev->ups);
    ev->rows = NULL;
    ev->ups = NULL;
    w->free_list[w->n_free++] = (uint32_t)(ev - w->pool);
}

/* --- the store model: committed rows; CLAIM commits at once, COMMIT when its event fires --- */

/* --- the driver ---------------------------------------------------------------------------- */

static void sim__start_engine(sim_world *w);

static void sim__note_request(sim_world *w)
{
    if (w->now < w->pause_until)
        sim_fail(w, "a request during a Retry-After pause (until %lld)", (long long)w->pause_until);
    if (w->n_req == w->cap_req) {
        size_t cap = w->cap_req ? w->cap_req * 2 : 1024;
        int64_t *p = pb_realloc(w->req_at, cap * sizeof *p);
        if (!p) {
            sim_fail(w, "out of memory");
            return;
        }
        w->req_at = p;
        w->cap_req = cap;
    }
    w->req_at[w->n_req++] = w->now;
}

static void sim__run_over(sim_world *w, pb_engine_done_reason reason)
{
    pb_engine_stats st;
    pb_engine_get_stats(w->e, &st);
    if (w->verbose)
        printf("%8lld DONE %s posts=%llu queries=%llu throttles=%llu retries=%llu\n",
               (long long)w->now, pb_engine_reason_name(reason), (unsigned long long)st.posts,
               (unsigned long long)st.queries, (unsigned long long)st.throttles,
               (unsigned long long)st.retries);
    pb_engine_free(w->e);
    w->e = NULL;
    w->engine_up = 0;
    w->done_reason = reason;
    if (reason == PB_ENGINE_FINISHED) {
        for (uint32_t i = 0; i < w->n_rows; i++) {
            pb_row_state s = w->rows[i].r.state;
            if (s == PB_ROW_QUEUED || s == PB_ROW_SENDING || s == PB_ROW_IN_DOUBT)
                sim_fail(w, "engine finished, row %u is still %s", w->rows[i].r.row_no,
                         pb_row_state_name(s));
        }
        return;
    }
    /* gave up or stopped: the operator runs `send` again later */
    if (++w->runs >= SIM_RUNS_MAX) {
        sim_fail(w, "no convergence after %d runs", w->runs);
        return;
    }
    if (w->runs + w->crashes >= 5)
        w->healed = 1;
    sim_new_ev(w, w->now + 30000, SIM_RESTART);
}

static void sim__drive(sim_world *w)
{
    pb_engine_cmd c;
    while (w->engine_up && !w->fail[0] && pb_engine_next(w->e, &c)) {
        sim_ev *ev;
        sim_row *r;
        size_t n;
        int64_t hint;
        switch (c.type) {
        case PB_ENGINE_CLAIM:
        case PB_ENGINE_DUE:
            ev = sim_new_ev(w, w->now + (int64_t)sim_below(w, 4), SIM_STORE_ROWS);
            if (!ev)
                return;
            ev->gen = w->gen;
            ev->rows = sim_store_select(w, c.type == PB_ENGINE_CLAIM, c.max, &n, &hint);
            ev->n = n;
            ev->ev.type = c.type == PB_ENGINE_CLAIM ? PB_ENGINE_ROWS_CLAIMED : PB_ENGINE_ROWS_DUE;
            ev->ev.u.rows.rows = ev->rows;
            ev->ev.u.rows.n = n;
            ev->ev.u.rows.next_at_ms = hint;
            if (w->verbose)
                printf("%8lld %s max=%u -> %zu\n", (long long)w->now,
                       c.type == PB_ENGINE_CLAIM ? "CLAIM" : "DUE", c.max, n);
            break;
        case PB_ENGINE_COMMIT:
            ev = sim_new_ev(w, w->now + 1 + (int64_t)sim_below(w, 20), SIM_COMMIT_DONE);
            if (!ev)
                return;
            ev->gen = w->gen;
            ev->ups = pb_malloc(c.n_updates * sizeof *ev->ups);
            if (!ev->ups) {
                sim_fail(w, "out of memory");
                return;
            }
            memcpy(ev->ups, c.updates, c.n_updates * sizeof *ev->ups);
            ev->n = c.n_updates;
            if (w->verbose)
                for (size_t i = 0; i < c.n_updates; i++)
                    printf("%8lld COMMIT row %u %s -> %s next=%lld %s\n", (long long)w->now,
                           c.updates[i].row_no, pb_row_state_name(c.updates[i].from),
                           pb_row_state_name(c.updates[i].to), (long long)c.updates[i].next_at_ms,
                           c.updates[i].message);
            break;
        case PB_ENGINE_POST_PAYOUT:
            r = sim_row_of(w, c.row->row_no);
            if (!r)
                return;
            if (w->verbose)
                printf("%8lld POST row %u attempts=%u\n", (long long)w->now, r->r.row_no,
                       r->r.attempts);
            /* (a callback may have settled a row the engine holds: Gate refuses the repeated
             * payment id with 3041, so the row is still paid once) */
            if (r->r.state != PB_ROW_SENDING && !r->cb_moves)
                sim_fail(w, "POST for row %u whose committed state is %s", r->r.row_no,
                         pb_row_state_name(r->r.state));
            if (r->doubt)
                sim_fail(w, "row %u resent while in doubt, before a status query said not found",
                         r->r.row_no);
            if (r->in_flight)
                sim_fail(w, "row %u posted twice at once", r->r.row_no);
            if (!w->due_seen)
                sim_fail(w, "a POST before the restarted engine's first DUE answer");
            sim__note_request(w);
            r->in_flight = 1;
            r->posts++;
            sim_gate_post(w, (uint32_t)(r - w->rows));
            break;
        case PB_ENGINE_QUERY_STATUS:
            r = sim_row_of(w, c.row->row_no);
            if (!r)
                return;
            if (w->verbose)
                printf("%8lld QUERY row %u (%s)\n", (long long)w->now, r->r.row_no,
                       pb_row_state_name(r->r.state));
            if (r->r.state != PB_ROW_SENDING && r->r.state != PB_ROW_IN_DOUBT && !r->cb_moves)
                sim_fail(w, "status query for row %u in %s", r->r.row_no,
                         pb_row_state_name(r->r.state));
            sim__note_request(w);
            sim_gate_status(w, (uint32_t)(r - w->rows));
            break;
        case PB_ENGINE_TIMER:
            if (c.at_ms <= w->now)
                sim_fail(w, "TIMER for %lld, which is not in the future", (long long)c.at_ms);
            ev = sim_new_ev(w, c.at_ms, SIM_TIMER);
            if (!ev)
                return;
            ev->gen = w->gen;
            ev->tseq = ++w->timer_seq;
            break;
        case PB_ENGINE_DONE:
            sim__run_over(w, c.reason);
            return;
        }
    }
}

static void sim__feed(sim_world *w, pb_engine_event *ev)
{
    ev->now_ms = w->now;
    if (pb_engine_feed(w->e, ev) != PB_OK) {
        sim_fail(w, "the engine refused event %d: %s", (int)ev->type, pb_error_last());
        return;
    }
    sim__drive(w);
}

/* the loader's own stream (see sim_world.ld_rng) */
static uint64_t sim__ld_below(sim_world *w, uint64_t n)
{
    uint64_t z = sim_mix(&w->ld_rng);
    return n ? z % n : 0;
}

static void sim__load_next(sim_world *w)
{
    sim_ev *ev = sim_new_ev(w, w->now + 1 + (int64_t)sim__ld_below(w, 40), SIM_LOAD);
    if (ev)
        ev->gen = w->gen;
}

/* A chunk of 1..8 rows commits; the engine hears of it (the last one says so). */
static void sim__load(sim_world *w)
{
    pb_engine_event ev = {.type = PB_ENGINE_ROWS_ADDED, .rnd = sim_rand(w)};
    uint32_t k = 1 + (uint32_t)sim__ld_below(w, 8);
    w->n_loaded = w->n_loaded + k < w->n_rows ? w->n_loaded + k : w->n_rows;
    w->ld_chunks++;
    ev.u.added.last = w->n_loaded == w->n_rows;
    if (w->verbose)
        printf("%8lld LOAD rows up to %u%s\n", (long long)w->now, w->n_loaded + 1,
               ev.u.added.last ? " (last)" : "");
    if (!ev.u.added.last)
        sim__load_next(w);
    sim__feed(w, &ev);
}

static void sim__start_engine(sim_world *w)
{
    /* a run starts loading where the last one stopped (the stored rows are a prefix) */
    w->cfg.loading = w->n_loaded < w->n_rows;
    if (w->cfg.loading)
        sim__load_next(w);
    if (pb_engine_new(&w->e, &w->cfg) != PB_OK) {
        sim_fail(w, "pb_engine_new: %s", pb_error_last());
        return;
    }
    w->engine_up = 1;
    w->timer_seq++;
    w->pause_until = 0; /* a new process knows no pause (restarts take over a second) */
    w->due_seen = 0;
    if (w->verbose)
        printf("%8lld START gen %u%s\n", (long long)w->now, w->gen, w->healed ? " (healed)" : "");
    if (!w->healed && w->crashes < 3 && sim_chance(w, 400)) {
        sim_ev *ev = sim_new_ev(
            w, w->now + (int64_t)sim_below(w, sim_chance(w, 500) ? 3000 : 60000), SIM_CRASH);
        if (ev)
            ev->gen = w->gen;
    }
    if (!w->healed && sim_chance(w, 60)) {
        sim_ev *ev = sim_new_ev(w, w->now + (int64_t)sim_below(w, 20000), SIM_STOP);
        if (ev)
            ev->gen = w->gen;
    }
    pb_engine_event ev = {.type = PB_ENGINE_TICK, .rnd = sim_rand(w)};
    sim__feed(w, &ev);
}

/* Everything not committed is gone; requests already out still reach Gate. */
static void sim__crash(sim_world *w)
{
    if (w->verbose)
        printf("%8lld CRASH\n", (long long)w->now);
    pb_engine_free(w->e);
    w->e = NULL;
    w->engine_up = 0;
    w->gen++;
    w->crashes++;
    for (uint32_t i = 0; i < w->n_rows; i++) {
        if (w->rows[i].in_flight)
            w->rows[i].doubt = 1; /* its answer is lost with us */
        w->rows[i].in_flight = 0;
    }
    if (w->runs + w->crashes >= 5)
        w->healed = 1;
    /* a restart takes over a second, so no window of one second spans two limiters */
    sim_new_ev(w, w->now + 1001 + (int64_t)sim_below(w, 4000), SIM_RESTART);
}

static int sim__ambiguous(const pb_engine_payout_result *p)
{
    if (p->outcome == PB_ENGINE_NOT_SENT)
        return 0;
    if (p->outcome == PB_ENGINE_NO_ANSWER || !p->parsed)
        return p->http_status != 429 && p->http_status != 503;
    if (strcmp(p->code, "3041") == 0 || p->http_status >= 500)
        return 1;
    return 0;
}

static void sim__client(sim_world *w, sim_ev *ev)
{
    if (ev->gen != w->gen || !w->engine_up)
        return; /* the process that asked is gone */
    sim_row *r = &w->rows[ev->row];
    int http = ev->ev.type == PB_ENGINE_PAYOUT_RESULT ? ev->ev.u.payout.http_status
                                                      : ev->ev.u.status.http_status;
    int64_t ra = ev->ev.type == PB_ENGINE_PAYOUT_RESULT ? ev->ev.u.payout.retry_after_ms
                                                        : ev->ev.u.status.retry_after_ms;
    if ((http == 429 || http == 503) && ra >= 0 && w->now + ra > w->pause_until)
        w->pause_until = w->now + ra; /* the sim's Retry-After values are under the cap */
    if (ev->ev.type == PB_ENGINE_PAYOUT_RESULT) {
        r->in_flight = 0;
        if (sim__ambiguous(&ev->ev.u.payout))
            r->doubt = 1;
        if (w->verbose)
            printf("%8lld  <- payout row %u outcome=%d http=%d code=%s\n", (long long)w->now,
                   r->r.row_no, ev->ev.u.payout.outcome, ev->ev.u.payout.http_status,
                   ev->ev.u.payout.code);
    } else {
        const pb_engine_status_result *s = &ev->ev.u.status;
        if (s->outcome == PB_ENGINE_ANSWERED &&
            (s->http_status == 404 || (s->parsed && strcmp(s->code, "3061") == 0)))
            r->doubt = 0;
        if (w->verbose)
            printf("%8lld  <- status row %u outcome=%d http=%d code=%s payment=%s\n",
                   (long long)w->now, r->r.row_no, s->outcome, s->http_status, s->code,
                   s->payment_status);
    }
    sim__feed(w, &ev->ev);
}

/* --- one seed ------------------------------------------------------------------------------ */

static void sim__setup(sim_world *w, uint64_t seed)
{
    w->rng = seed * 0x2545F4914F6CDD1Dull + 1;
    w->seed = seed;
    w->now = 1000000;
    w->gen = 1;
    w->n_rows = 5 + (uint32_t)sim_below(w, 46);
    static const int64_t rates[] = {500, 1000, 3000, 10000, 50000, 1000000};
    memset(&w->cfg, 0, sizeof w->cfg);
    w->cfg.rate_milli = rates[sim_below(w, 6)];
    w->cfg.concurrency = 1 + (uint32_t)sim_below(w, SIM_CONC_MAX);
    w->cfg.max_attempts = 3 + (uint32_t)sim_below(w, 8);
    w->cfg.retry_budget = 5 + (uint32_t)sim_below(w, 60);
    w->cfg.status_delay_ms = sim_below(w, 2) ? 10000 : 500 + (int64_t)sim_below(w, 15000);
    w->cfg.backoff_base_ms = 20 + (int64_t)sim_below(w, 1000);
    w->cfg.backoff_cap_ms = 2000 + (int64_t)sim_below(w, 30000);
    w->cfg.seed = sim_rand(w);
    /* a fault profile: calm, flaky or hostile */
    int level = (int)sim_below(w, 3);
    int top = level == 0 ? 0 : level == 1 ? 80 : 300;
    int *p[] = {&w->p_notsent, &w->p_drop_before, &w->p_drop_after, &w->p_late,
                &w->p_garbage, &w->p_500,         &w->p_429,        &w->p_503};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        *p[i] = top ? (int)sim_below(w, (uint64_t)top + 1) : 0;
    for (uint32_t i = 0; i < w->n_rows; i++) {
        sim_row *r = &w->rows[i];
        memset(r, 0, sizeof *r);
        r->r.row_no = i + 2;
        r->r.state = PB_ROW_QUEUED;
        r->r.amount = 1 + (int64_t)sim_below(w, 10000000);
        snprintf(r->r.currency, sizeof r->r.currency, "%s", sim_below(w, 4) ? "PHP" : "USD");
        snprintf(r->r.payment_id, sizeof r->r.payment_id, "p-%llu-%u", (unsigned long long)seed,
                 i + 2);
        r->refuse = sim_below(w, 10) == 0;
        r->declines = sim_below(w, 10) == 0;
        if (sim_below(w, 20) == 0) {
            /* someone else's payment already holds this id, with another amount or currency */
            r->foreign = 1;
            r->gate_recorded = 1;
            r->gate_final = PB_ROW_SUCCESS;
            r->gate_amount = r->r.amount + (sim_below(w, 2) ? 1 : 0);
            snprintf(r->gate_cur, sizeof r->gate_cur, "%s",
                     r->gate_amount != r->r.amount  ? r->r.currency
                     : strcmp(r->r.currency, "PHP") ? "PHP"
                                                    : "USD");
        }
    }
    sim_cb_setup(w);
    /* half of the seeds send while their rows are still going in, from 0..n_rows-1 stored */
    w->n_loaded = w->n_rows;
    w->ld_rng = seed * 0x9E3779B97F4A7C15ull + 0x1D;
    if (w->loading_on && sim__ld_below(w, 2))
        w->n_loaded = (uint32_t)sim__ld_below(w, w->n_rows);
}

typedef struct {
    uint64_t events, requests, crashes, runs, sim_ms;
    uint64_t cb_genuine, cb_forged, cb_applied, cb_polled, reversals, reversals_unseen;
    uint64_t ld_seeds, ld_chunks;
} sim_totals;

static int sim_run_seed(sim_world *w, uint64_t seed, sim_totals *tot)
{
    sim__setup(w, seed);
    uint64_t events = 0;
    sim__start_engine(w);
    while (!w->fail[0]) {
        sim_ev *ev = sim__pop(w);
        if (!ev) {
            if (w->engine_up)
                sim_fail(w, "the engine waits for nothing: no request, store call or timer out");
            break;
        }
        w->now = ev->t;
        if (++events > SIM_EVENTS_MAX || w->now > SIM_TIME_MAX)
            sim_fail(w, "runaway: %llu events", (unsigned long long)events);
        int mine = ev->gen == w->gen && w->engine_up;
        switch (ev->type) {
        case SIM_TIMER:
            if (mine && ev->tseq == w->timer_seq) {
                pb_engine_event t = {.type = PB_ENGINE_TICK, .rnd = sim_rand(w)};
                sim__feed(w, &t);
            }
            break;
        case SIM_STORE_ROWS:
            if (mine && ev->ev.type == PB_ENGINE_ROWS_DUE)
                w->due_seen = 1;
            if (mine)
                sim__feed(w, &ev->ev);
            break;
        case SIM_COMMIT_DONE:
            if (mine) {
                sim_store_apply(w, ev);
                sim__feed(w, &ev->ev);
            }
            break;
        case SIM_GATE_POST:
        case SIM_GATE_STATUS:
            sim_gate_arrive(w, ev);
            break;
        case SIM_CLIENT:
            sim__client(w, ev);
            break;
        case SIM_CRASH:
            if (mine)
                sim__crash(w);
            break;
        case SIM_RESTART:
            if (!w->engine_up)
                sim__start_engine(w);
            break;
        case SIM_STOP:
            if (mine) {
                w->stops++;
                pb_engine_event s = {.type = PB_ENGINE_STOP_REQUESTED, .rnd = sim_rand(w)};
                sim__feed(w, &s);
            }
            break;
        case SIM_SETTLE:
            sim_gate_settle(w, ev);
            break;
        case SIM_CALLBACK:
            sim_cb_deliver(w, ev);
            break;
        case SIM_REVERSE:
            sim_cb_reverse(w, ev);
            break;
        case SIM_LOAD:
            if (mine)
                sim__load(w);
            break;
        }
        sim__release(w, ev);
    }
    if (!w->fail[0])
        sim_check_end(w);
    if (!w->fail[0])
        sim_cb_reconcile_and_check(w);
    tot->events += events;
    tot->requests += w->n_req;
    tot->crashes += (uint64_t)w->crashes;
    tot->runs += (uint64_t)w->runs + 1;
    tot->sim_ms += (uint64_t)(w->now - 1000000);
    tot->cb_genuine += w->cb_genuine;
    tot->cb_forged += w->cb_forged;
    tot->cb_applied += w->cb_applied;
    tot->cb_polled += w->cb_polled;
    tot->reversals += w->reversals;
    tot->reversals_unseen += w->reversals_unseen;
    tot->ld_seeds += w->ld_chunks > 0;
    tot->ld_chunks += w->ld_chunks;
    /* reset for the next seed */
    sim_ev *ev;
    while ((ev = sim__pop(w)) != NULL)
        sim__release(w, ev);
    pb_engine_free(w->e);
    int failed = w->fail[0] != 0;
    return failed;
}

static int sim__world_init(sim_world *w)
{
    memset(w, 0, sizeof *w);
    w->pool = pb_calloc(SIM_EV_MAX, sizeof *w->pool);
    w->heap = pb_calloc(SIM_EV_MAX, sizeof *w->heap);
    w->free_list = pb_calloc(SIM_EV_MAX, sizeof *w->free_list);
    if (!w->pool || !w->heap || !w->free_list)
        return PB_ENOMEM;
    for (uint32_t i = 0; i < SIM_EV_MAX; i++)
        w->free_list[w->n_free++] = SIM_EV_MAX - 1 - i;
    return PB_OK;
}

static void sim__world_reset(sim_world *w)
{
    int verbose = w->verbose, callbacks = w->callbacks, loading_on = w->loading_on;
    sim_ev *pool = w->pool;
    uint32_t *heap = w->heap, *free_list = w->free_list, n_free = w->n_free;
    int64_t *req_at = w->req_at;
    size_t cap_req = w->cap_req;
    memset(w, 0, sizeof *w);
    w->verbose = verbose;
    w->callbacks = callbacks;
    w->loading_on = loading_on;
    w->pool = pool;
    w->heap = heap;
    w->free_list = free_list;
    w->n_free = n_free;
    w->req_at = req_at;
    w->cap_req = cap_req;
}

static int sim__parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end)
        return PB_EINVAL;
    *out = v;
    return PB_OK;
}

int main(int argc, char **argv)
{
    uint64_t from = 1, count = 1000;
    int verbose = 0, callbacks = 1, loading = 1;
    for (int i = 1; i < argc; i++) {
        int more = i + 1 < argc;
        if (strcmp(argv[i], "--seeds") == 0 && more && sim__parse_u64(argv[i + 1], &count) == 0)
            i++;
        else if (strcmp(argv[i], "--from") == 0 && more && sim__parse_u64(argv[i + 1], &from) == 0)
            i++;
        else if (strcmp(argv[i], "--seed") == 0 && more &&
                 sim__parse_u64(argv[i + 1], &from) == 0) {
            i++;
            count = 1;
        } else if (strcmp(argv[i], "-v") == 0)
            verbose = 1;
        else if (strcmp(argv[i], "--no-callbacks") == 0)
            callbacks = 0;
        else if (strcmp(argv[i], "--no-loading") == 0)
            loading = 0;
        else {
            fprintf(stderr,
                    "usage: %s [--seeds N] [--from S] | --seed S [-v] [--no-callbacks] "
                    "[--no-loading]\n",
                    argv[0]);
            return 2;
        }
    }
    sim_world *w = pb_calloc(1, sizeof *w);
    if (!w || sim__world_init(w) != PB_OK) {
        fprintf(stderr, "pb_sim: out of memory\n");
        return 2;
    }
    w->verbose = verbose;
    w->callbacks = callbacks;
    w->loading_on = loading;
    sim_totals tot = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = 0;
    uint64_t done = 0;
    for (uint64_t s = from; s < from + count; s++) {
        sim__world_reset(w);
        if (sim_run_seed(w, s, &tot)) {
            printf("FAIL seed %llu: %s\n  rows=%u rate=%lld/1000 conc=%u runs=%d crashes=%d\n"
                   "  replay: %s --seed %llu -v%s%s\n",
                   (unsigned long long)s, w->fail, w->n_rows, (long long)w->cfg.rate_milli,
                   w->cfg.concurrency, w->runs, w->crashes, argv[0], (unsigned long long)s,
                   callbacks ? "" : " --no-callbacks", loading ? "" : " --no-loading");
            rc = 1;
            break;
        }
        done++;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%s: %llu seeds from %llu in %.1f s; %llu events, %llu requests, %llu crashes, %llu "
           "runs, %.1f h simulated; callbacks: %llu from Gate (%llu changed a row), %llu forged "
           "(all refused), %llu rows settled by polling; %llu payouts reversed (%llu never told: "
           "every callback lost); %llu seeds sent while loading (%llu chunks)\n",
           rc ? "failed" : "ok", (unsigned long long)done, (unsigned long long)from, secs,
           (unsigned long long)tot.events, (unsigned long long)tot.requests,
           (unsigned long long)tot.crashes, (unsigned long long)tot.runs,
           (double)tot.sim_ms / 3.6e6, (unsigned long long)tot.cb_genuine,
           (unsigned long long)tot.cb_applied, (unsigned long long)tot.cb_forged,
           (unsigned long long)tot.cb_polled, (unsigned long long)tot.reversals,
           (unsigned long long)tot.reversals_unseen, (unsigned long long)tot.ld_seeds,
           (unsigned long long)tot.ld_chunks);
    pb_free(w->req_at);
    pb_free(w->pool);
    pb_free(w->heap);
    pb_free(w->free_list);
    pb_free(w);
    return rc;
}
