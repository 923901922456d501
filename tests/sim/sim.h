/*
 * sim.h - the deterministic simulator of `send`: the real engine (core/engine) against a
 * simulated Gate, network, clock and store, with crashes. One seed is one history.
 *
 * sim.c holds the world (event queue, store model, driver, crashes, the streaming load,
 * invariants) and main;
 * sim_gate.c the Gate and the network between us and it; sim_callback.c Gate's callbacks,
 * forged ones, the receiver and the final reconcile. Everything random comes from the
 * world's splitmix64 stream, so a seed replays exactly.
 */
#ifndef PB_TESTS_SIM_SIM_H
#define PB_TESTS_SIM_SIM_H

#include "core/engine.h"

#include <stdint.h>

#define SIM_ROWS_MAX 64
#define SIM_CONC_MAX 16
#define SIM_EV_MAX   4096

typedef enum {
    SIM_TIMER = 1,   /* the engine's timer (gen, seq) */
    SIM_STORE_ROWS,  /* ROWS_CLAIMED / ROWS_DUE delivered (gen) */
    SIM_COMMIT_DONE, /* the COMMIT's transaction commits now (gen) */
    SIM_GATE_POST,   /* a payout request reaches Gate (survives crashes) */
    SIM_GATE_STATUS, /* a status request reaches Gate */
    SIM_CLIENT,      /* the HTTP client reports a result to the engine (gen) */
    SIM_CRASH,
    SIM_RESTART,
    SIM_STOP,
    SIM_SETTLE,   /* Gate finishes a recorded payment */
    SIM_CALLBACK, /* a callback reaches the receiver: Gate's (cb_status) or a forger's */
    SIM_REVERSE,  /* Gate reverses a paid payout */
    SIM_LOAD      /* the next rows of the file are committed to the batch (gen) */
} sim_ev_type;

typedef struct {
    int64_t t;
    uint64_t seq;
    sim_ev_type type;
    uint32_t gen;
    uint32_t row;        /* row index */
    uint32_t flags;      /* SIM_F_... for Gate arrivals */
    int64_t sent_at;     /* when the request left */
    uint64_t tseq;       /* timer sequence */
    pb_engine_event ev;  /* what reaches the engine */
    pb_engine_row *rows; /* SIM_STORE_ROWS: pb_malloc'ed, freed when the event is */
    pb_row_update *ups;  /* SIM_COMMIT_DONE: the same */
    size_t n;
    int cb_kind;   /* SIM_CALLBACK: SIM_CB_... */
    int cb_status; /* SIM_CALLBACK: the payment status it carries (a pb_row_state) */
} sim_ev;

/* Callback kinds: Gate's own, or forgeries the receiver must refuse (sim_callback.c). */
enum {
    SIM_CB_GENUINE = 0,
    SIM_CB_WRONG_KEY,   /* signed with another key */
    SIM_CB_COPIED,      /* a genuine signature of another body */
    SIM_CB_UNSIGNED,    /* no signature at all */
    SIM_CB_TAMPERED,    /* a genuine body, amount changed after signing */
    SIM_CB_GENERAL_SIG, /* a forged general.signature */
    SIM_CB_KINDS
};

#define SIM_F_DROP_BEFORE 1u /* connection reset before Gate read the request */
#define SIM_F_DROP_AFTER  2u /* Gate processed it, the answer is lost */
#define SIM_F_LATE        4u /* the answer comes after the client timeout */
#define SIM_F_GARBAGE     8u /* the answer body is unparsable */

typedef struct {
    /* the store's committed row */
    pb_engine_row r;
    char code[PB_ROW_CODE_MAX + 1];
    /* what the Gate holds under this payment id */
    int gate_recorded;   /* 1: a payment exists */
    int gate_ours;       /* it was created by one of our POSTs */
    int gate_records;    /* how many of our POSTs created a payment (must stay <= 1) */
    int64_t gate_amount; /* the recorded payment's amount / currency */
    char gate_cur[8];
    int gate_final; /* 0 processing, else PB_ROW_SUCCESS / PB_ROW_DECLINE */
    /* the row's nature in this seed */
    int refuse;  /* Gate refuses it with code 3025 */
    int foreign; /* its payment id already holds someone else's payment */
    int declines;
    /* client-side bookkeeping for the invariants */
    int in_flight; /* a POST of ours whose result the engine has not been told */
    int doubt;     /* a POST may have been recorded; no "not found" seen since */
    uint32_t posts;
    int cb_moves;      /* times a callback changed the committed row (the engine may then find its
                          compare-and-set skipped, or post a row a callback already settled) */
    int reversal_told; /* Gate's reversal reached us (a callback delivered) */
} sim_row;

typedef struct {
    uint64_t rng;
    uint64_t seed;
    int64_t now;
    uint32_t gen; /* engine incarnation: bumped by each crash */
    int verbose;

    /* faults, per mille */
    int p_notsent, p_drop_before, p_drop_after, p_late, p_garbage, p_500, p_429, p_503;
    int p_q_fail;
    int healed; /* faults off: later runs must converge */

    sim_row rows[SIM_ROWS_MAX];
    uint32_t n_rows;

    pb_engine_config cfg;
    pb_engine *e;
    uint64_t timer_seq;
    int engine_up;
    int runs, crashes, stops;
    int done_reason;

    sim_ev *pool;
    uint32_t *heap, n_heap;
    uint32_t *free_list, n_free;
    uint64_t ev_seq;

    int64_t pause_until; /* this incarnation was told to hold every request until then */
    int due_seen;        /* this incarnation has had its first ROWS_DUE */
    int64_t *req_at;
    size_t n_req, cap_req;
    uint64_t gate_posts, gate_queries;

    /* callbacks (sim_callback.c): their own random stream, so the engine's histories of a
     * seed stay those of a run without callbacks (--no-callbacks) */
    int callbacks;
    uint64_t cb_rng;
    int p_cb_lost, p_cb_dup; /* per mille */
    uint64_t cb_genuine, cb_forged, cb_applied, cb_polled, reversals, reversals_unseen;

    /* the streaming load (send_load.c): the batch holds rows [0, n_loaded) only; rows are
     * added while the engine sends (config.loading), in their own random stream */
    int loading_on; /* --no-loading: every row stored before the first run */
    uint64_t ld_rng;
    uint32_t n_loaded;
    uint64_t ld_chunks;

    char fail[512];
} sim_world;

/* splitmix64, one step of the stream *state (the world's and the side streams') */
static inline uint64_t sim_mix(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t sim_rand(sim_world *w);
uint64_t sim_below(sim_world *w, uint64_t n); /* uniform in [0, n) */
int sim_chance(sim_world *w, int permille);
sim_ev *sim_new_ev(sim_world *w, int64_t t, sim_ev_type type);
void sim_fail(sim_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* sim_store.c: the store model and the end-of-seed invariants */
sim_row *sim_row_of(sim_world *w, uint32_t row_no); /* NULL (and a failure) if no such row */
/* CLAIM (claim = 1: moves rows to sending, committed) or DUE (read only); pb_malloc'ed */
pb_engine_row *sim_store_select(sim_world *w, int claim, uint32_t max, size_t *n, int64_t *hint);
void sim_store_apply(sim_world *w, sim_ev *ev); /* a COMMIT lands; ev becomes COMMITTED */
void sim_check_end(sim_world *w);

/* sim_gate.c: the network and Gate */
void sim_gate_post(sim_world *w, uint32_t row);   /* POST_PAYOUT leaves now */
void sim_gate_status(sim_world *w, uint32_t row); /* QUERY_STATUS leaves now */
void sim_gate_arrive(sim_world *w, sim_ev *ev);   /* SIM_GATE_POST / SIM_GATE_STATUS */
void sim_gate_settle(sim_world *w, sim_ev *ev);

/* sim_callback.c: Gate's callbacks (lost, duplicated, reordered), forgeries, the receiver
 * (the real parse, signature check and pb_callback_decide), and the final reconcile */
void sim_cb_setup(sim_world *w);                  /* per seed: fault levels, forgeries planned */
void sim_cb_recorded(sim_world *w, uint32_t row); /* Gate recorded our payment */
void sim_cb_settled(sim_world *w, uint32_t row);  /* ... and finished it */
void sim_cb_deliver(sim_world *w, sim_ev *ev);    /* SIM_CALLBACK */
void sim_cb_reverse(sim_world *w, sim_ev *ev);    /* SIM_REVERSE */
/* After the last event: poll every row still pending (reconcile), then check that each row's
 * result (pb_result_name, as the result CSV says it) is Gate's truth. */
void sim_cb_reconcile_and_check(sim_world *w);

#endif
