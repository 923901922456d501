/*
 * engine_int.h - what engine.c (the pump, claims, commits) and engine_outcome.c (what an
 * answer means for a row) share. Not part of the engine's API.
 */
#ifndef PB_CORE_ENGINE_INT_H
#define PB_CORE_ENGINE_INT_H

#include "core/backoff.h"
#include "core/engine.h"
#include "core/ratelimit.h"

/* What a row in hand waits for. */
enum {
    PB__FREE = 0,
    PB__POST_READY,  /* claimed (sending committed), waiting for a rate slot */
    PB__POSTING,     /* POST_PAYOUT out */
    PB__QUERY_READY, /* needs a status query, waiting for a rate slot */
    PB__QUERYING,    /* QUERY_STATUS out */
    PB__QUERY_WAIT,  /* an in_doubt row whose query failed: retry at wait_until */
    PB__UPDATE,      /* its update waits for the next COMMIT */
    PB__COMMITTING   /* its update is in the COMMIT that is out */
};

typedef struct {
    pb_engine_row row;
    int phase;
    int64_t wait_until;
    uint32_t query_fails;
} pb__slot;

#define PB__CMDQ_EXTRA 8
/* rows in hand per request in flight (engine.c pb_engine_new, pb_engine_rows_max): claimed
   rows up to three rounds ahead, those in flight and those whose answers wait for their commit */
#define PB__SLOTS_PER_REQUEST 8

struct pb_engine {
    pb_engine_config cfg;
    pb_ratelimit rl;
    pb_retry_budget budget;
    uint64_t rng;
    int64_t now;

    pb__slot *slots;
    uint32_t cap, used, reserved;

    pb_row_update *pending, *commit;
    uint32_t *stale; /* rows released while a DUE was out: its answer may predate that */
    uint32_t n_stale;
    size_t n_pending, n_commit;
    int commit_out, claim_out, due_out;
    uint32_t asked; /* max of the CLAIM / DUE that is out */

    int due_done_once;            /* restart rule: status queries before any claim */
    int64_t claim_at, claim_wake; /* claim again at; wakes seen since the CLAIM left */
    int64_t due_at, due_wake;     /* the same for DUE */
    int64_t timer_at;
    int stopping, gave_up, done;
    int loading;               /* config.loading until ROWS_ADDED with last */
    int config_refused;        /* Gate refused our signature or project (3261, 3262, 2442) */
    unsigned throttles_in_row; /* throttles since the last success */

    pb_engine_cmd *q; /* commands ready for pb_engine_next */
    size_t q_head, q_len, q_cap;
    pb_engine_stats stats;
};

uint64_t pb__eng_rand(pb_engine *e); /* jitter: splitmix64 over the seed and events' rnd */
void pb__eng_release(pb_engine *e, pb__slot *s);
/* Queue s's row's change to `to` for the next COMMIT (PB_EINVAL if no transition). */
int pb__eng_update(pb_engine *e, pb__slot *s, pb_row_state to, int64_t next_at, const char *message,
                   pb_row_update **out);
int pb__eng_payout_result(pb_engine *e, pb__slot *s, const pb_engine_payout_result *r);
int pb__eng_status_result(pb_engine *e, pb__slot *s, const pb_engine_status_result *r);

#endif
