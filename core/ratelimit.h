/*
 * ratelimit.h - the request pacer of `send`: GCRA (one theoretical arrival time, TAT) with an
 * AIMD controller on top, as a pure function of (state, now).
 *
 * Rates are fixed-point milli-requests per second (500 = 0.5/s, 10000 = 10/s) and time is in
 * microseconds, so the limiter never touches floating point. With burst 1 (the default)
 * consecutive slots are at least one emission interval apart, so any window of one second
 * holds at most rate + 1 requests.
 *
 * Throttling (429, or 503 with Retry-After) pauses every request until now + Retry-After and
 * cuts the current rate multiplicatively (never below the floor); each success adds back a
 * fixed step until the configured ceiling is reached again. The rate never exceeds the
 * ceiling. A pb_ratelimit is a plain value: it allocates nothing and needs no free.
 */
#ifndef PB_CORE_RATELIMIT_H
#define PB_CORE_RATELIMIT_H

#include <stdint.h>

#define PB_RATE_MILLI_MAX 1000000000 /* 1,000,000 requests/s: an interval of 1 us */

typedef struct {
    int64_t rate_milli;    /* the ceiling, > 0 */
    uint32_t burst;        /* slots that may go back to back; 0 means 1 */
    int64_t floor_milli;   /* the lowest rate a throttle may cut to; 0: min(ceiling, 100) */
    int64_t add_milli;     /* additive step per success; 0: ceiling / 16 (at least 1) */
    uint32_t cut_permille; /* multiplicative cut per throttle; 0: 500 (halve) */
    /* Lateness forgiven, in thousandths of an interval (0..999): a slot taken up to this much
     * late does not push every later slot back, so a driver whose timers fire a little late
     * still reaches the rate. Below one interval, any 1 s window (closed or half-open) still
     * holds at most rate + 1 requests. */
    uint32_t slack_permille;
} pb_ratelimit_config;

typedef struct {
    int64_t ceil_milli;
    int64_t floor_milli;
    int64_t add_milli;
    uint32_t cut_permille;
    uint32_t burst;
    uint32_t slack_permille;
    int64_t cur_milli;   /* the current rate, floor..ceiling */
    int64_t interval_us; /* 1 s / cur, rounded up so the rate is never exceeded */
    int64_t tat_us;      /* GCRA theoretical arrival time */
    int64_t paused_until_us;
} pb_ratelimit;

/* PB_EINVAL (with a message) for a rate outside 1..PB_RATE_MILLI_MAX or a cut of 1000+. */
int pb_ratelimit_init(pb_ratelimit *rl, const pb_ratelimit_config *cfg);
/* The earliest time >= now_us at which pb_ratelimit_take succeeds. */
int64_t pb_ratelimit_next_us(const pb_ratelimit *rl, int64_t now_us);
/* Take one slot at now_us: PB_OK, or PB_EAGAIN (nothing changed) when none is free yet. */
int pb_ratelimit_take(pb_ratelimit *rl, int64_t now_us);
/* Gate throttled us: pause all slots until now + retry_after (kept if already later) and cut
 * the rate. retry_after_us < 0 is taken as 0. */
void pb_ratelimit_throttle(pb_ratelimit *rl, int64_t now_us, int64_t retry_after_us);
/* An answered request that was not throttled: the additive step back toward the ceiling. */
void pb_ratelimit_success(pb_ratelimit *rl);
/* The current rate (milli-requests/s) and the end of the pause (0 if none ever). */
int64_t pb_ratelimit_rate_milli(const pb_ratelimit *rl);
int64_t pb_ratelimit_paused_until_us(const pb_ratelimit *rl);

#endif
