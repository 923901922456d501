#include "core/ratelimit.h"

#include "core/errors.h"

static void pb__set_rate(pb_ratelimit *rl, int64_t milli)
{
    rl->cur_milli = milli;
    /* rounded up: a slightly slower pace, never a slightly faster one */
    rl->interval_us = (1000000000 + milli - 1) / milli;
}

int pb_ratelimit_init(pb_ratelimit *rl, const pb_ratelimit_config *cfg)
{
    if (cfg->rate_milli <= 0 || cfg->rate_milli > PB_RATE_MILLI_MAX)
        return pb_error_set("rate limit: rate %lld/1000 per second is outside 1..%d",
                            (long long)cfg->rate_milli, PB_RATE_MILLI_MAX),
               PB_EINVAL;
    if (cfg->cut_permille >= 1000 || cfg->floor_milli < 0 || cfg->add_milli < 0 ||
        cfg->slack_permille >= 1000)
        return pb_error_set("rate limit: bad AIMD settings"), PB_EINVAL;
    rl->ceil_milli = cfg->rate_milli;
    rl->burst = cfg->burst ? cfg->burst : 1;
    rl->slack_permille = cfg->slack_permille;
    rl->floor_milli = cfg->floor_milli ? cfg->floor_milli : 100;
    if (rl->floor_milli > rl->ceil_milli)
        rl->floor_milli = rl->ceil_milli;
    rl->add_milli = cfg->add_milli ? cfg->add_milli : rl->ceil_milli / 16;
    if (rl->add_milli < 1)
        rl->add_milli = 1;
    rl->cut_permille = cfg->cut_permille ? cfg->cut_permille : 500;
    rl->tat_us = INT64_MIN / 4;
    rl->paused_until_us = 0;
    pb__set_rate(rl, rl->ceil_milli);
    return PB_OK;
}

int64_t pb_ratelimit_next_us(const pb_ratelimit *rl, int64_t now_us)
{
    int64_t t = rl->tat_us - (int64_t)(rl->burst - 1) * rl->interval_us -
                rl->interval_us * rl->slack_permille / 1000;
    if (t < rl->paused_until_us)
        t = rl->paused_until_us;
    return t > now_us ? t : now_us;
}

int pb_ratelimit_take(pb_ratelimit *rl, int64_t now_us)
{
    if (pb_ratelimit_next_us(rl, now_us) > now_us)
        return PB_EAGAIN;
    rl->tat_us = (rl->tat_us > now_us ? rl->tat_us : now_us) + rl->interval_us;
    return PB_OK;
}

void pb_ratelimit_throttle(pb_ratelimit *rl, int64_t now_us, int64_t retry_after_us)
{
    if (retry_after_us < 0)
        retry_after_us = 0;
    if (now_us + retry_after_us > rl->paused_until_us)
        rl->paused_until_us = now_us + retry_after_us;
    int64_t cut = rl->cur_milli * rl->cut_permille / 1000;
    pb__set_rate(rl, cut > rl->floor_milli ? cut : rl->floor_milli);
}

void pb_ratelimit_success(pb_ratelimit *rl)
{
    if (rl->cur_milli >= rl->ceil_milli)
        return;
    int64_t up = rl->cur_milli + rl->add_milli;
    pb__set_rate(rl, up < rl->ceil_milli ? up : rl->ceil_milli);
}

int64_t pb_ratelimit_rate_milli(const pb_ratelimit *rl)
{
    return rl->cur_milli;
}

int64_t pb_ratelimit_paused_until_us(const pb_ratelimit *rl)
{
    return rl->paused_until_us;
}
