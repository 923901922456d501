/*
 * log.h - the one log sink of every command (SPEC §3: -q, -v, --log-format text|json).
 *
 * An event is one line on the sink's stream (stderr by default): text is one readable line,
 * json is one object per line with stable keys: time, level, event, batch, row, payment_id,
 * code, message (absent keys are left out); in both, a control character of the message (a
 * line break a quoted cell or Gate sent) becomes '?'. Callers pass masked account numbers only
 * and never a secret: the sink cannot tell them apart from other text. Not thread-safe: the
 * loop thread logs.
 */
#ifndef PB_UTIL_LOG_H
#define PB_UTIL_LOG_H

#include <stdint.h>
#include <stdio.h>

typedef enum { PB_LOG_ERROR = 0, PB_LOG_WARN, PB_LOG_INFO, PB_LOG_DEBUG } pb_log_sev;
typedef enum { PB_LOG_TEXT = 0, PB_LOG_JSON } pb_log_format;

typedef struct {
    const char *event;      /* stable machine name: "row.accepted", "send.summary" */
    const char *batch;      /* or NULL */
    uint64_t row;           /* 0 = none */
    const char *payment_id; /* or NULL */
    const char *code;       /* or NULL */
} pb_log_ctx;

/* Where and how much: level is the most detailed level written (default PB_LOG_INFO). */
void pb_log_setup(FILE *out, pb_log_format fmt, pb_log_sev level);
pb_log_format pb_log_get_format(void);
int pb_log_enabled(pb_log_sev level);

/* A line redrawn in place on the sink's terminal (send's progress line) is open: the next
 * event first ends it with a newline, so every event keeps a line of its own. */
void pb_log_line_open(int open);

/* Write one event; the message is printf-style. A NULL ctx is an event named "log". */
void pb_log(pb_log_sev level, const pb_log_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
