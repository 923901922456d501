#include "core/backoff.h"

int64_t pb_backoff_delay_ms(int64_t base_ms, int64_t cap_ms, uint32_t attempt, uint64_t rnd)
{
    if (base_ms <= 0 || cap_ms <= 0)
        return 0;
    if (attempt == 0)
        attempt = 1;
    int64_t ceiling = base_ms;
    /* doubling stops at the cap, so the shift can never overflow */
    for (uint32_t i = 1; i < attempt && ceiling < cap_ms; i++)
        ceiling *= 2;
    if (ceiling > cap_ms)
        ceiling = cap_ms;
    return (int64_t)(rnd % (uint64_t)(ceiling + 1));
}

void pb_retry_budget_init(pb_retry_budget *b, uint32_t initial, uint32_t per_success_permille)
{
    b->tokens_milli = (int64_t)initial * 1000;
    b->max_milli = b->tokens_milli;
    b->earn_milli = per_success_permille;
}

int pb_retry_budget_spend(pb_retry_budget *b)
{
    if (b->tokens_milli < 1000)
        return 0;
    b->tokens_milli -= 1000;
    return 1;
}

void pb_retry_budget_earn(pb_retry_budget *b)
{
    b->tokens_milli += b->earn_milli;
    if (b->tokens_milli > b->max_milli)
        b->tokens_milli = b->max_milli;
}

uint32_t pb_retry_budget_left(const pb_retry_budget *b)
{
    return (uint32_t)(b->tokens_milli / 1000);
}
