/*
 * backoff.h - retry delays and the retry budget of `send`.
 *
 * Delays are capped exponential with full jitter (AWS): attempt n waits a uniform value in
 * [0, min(cap, base * 2^(n-1))]. The random value is the caller's, so the module stays pure
 * and tests are exact.
 *
 * The budget bounds retries across a whole run so a dead gateway cannot make us spin: it starts
 * with `initial` tokens, every retry spends one, every success earns `per_success_permille`
 * thousandths of one back (never above `initial`). Plain values; nothing to free.
 */
#ifndef PB_CORE_BACKOFF_H
#define PB_CORE_BACKOFF_H

#include <stdint.h>

/* The full-jitter delay of attempt `attempt` (1 = the first retry; 0 is taken as 1): uniform
 * in [0, min(cap_ms, base_ms << (attempt - 1))] drawn from rnd. base_ms, cap_ms >= 0. */
int64_t pb_backoff_delay_ms(int64_t base_ms, int64_t cap_ms, uint32_t attempt, uint64_t rnd);

typedef struct {
    int64_t tokens_milli;
    int64_t max_milli;
    int64_t earn_milli;
} pb_retry_budget;

void pb_retry_budget_init(pb_retry_budget *b, uint32_t initial, uint32_t per_success_permille);
/* Spend one retry: 1 when allowed, 0 when the budget is exhausted (nothing spent). */
int pb_retry_budget_spend(pb_retry_budget *b);
void pb_retry_budget_earn(pb_retry_budget *b);
/* Whole retries left. */
uint32_t pb_retry_budget_left(const pb_retry_budget *b);

#endif
