#include "batch/util/log.h"

#include "core/buf.h"
#include "formats/json_write.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#define PB__LOG_LINE_MAX (16u * 1024u)

static FILE *pb__out;
static pb_log_format pb__fmt = PB_LOG_TEXT;
static pb_log_sev pb__level = PB_LOG_INFO;
static int pb__line_open; /* a progress line is on the terminal, not ended yet */

static const char *const pb__level_names[] = {"error", "warn", "info", "debug"};

void pb_log_setup(FILE *out, pb_log_format fmt, pb_log_sev level)
{
    pb__out = out;
    pb__fmt = fmt;
    pb__level = level;
}

pb_log_format pb_log_get_format(void)
{
    return pb__fmt;
}

void pb_log_line_open(int open)
{
    pb__line_open = open;
}

int pb_log_enabled(pb_log_sev level)
{
    return level <= pb__level;
}

static void pb__json_member(pb_buf *b, const char *key, const char *val)
{
    if (!val)
        return;
    (void)pb_buf_printf(b, ",\"%s\":", key);
    (void)pb_json_put_str(b, val, strlen(val));
}

void pb_log(pb_log_sev level, const pb_log_ctx *ctx, const char *fmt, ...)
{
    static const pb_log_ctx none = {"log", NULL, 0, NULL, NULL};
    FILE *out = pb__out ? pb__out : stderr;
    char when[96], msg[4096], *p;
    struct timespec ts;
    struct tm tm;
    pb_buf b;
    va_list ap;

    if (!pb_log_enabled(level))
        return;
    if (!ctx)
        ctx = &none;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap); /* a longer message is cut, not an error */
    va_end(ap);
    /* one line per event, whatever Gate or a quoted cell said: a control character (a line
     * break) could split an event or forge one */
    for (p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    (void)gmtime_r(&ts.tv_sec, &tm);
    (void)snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   ts.tv_nsec / 1000000);

    /* a line that does not fit the cap is cut: logging must never fail the run */
    pb_buf_init(&b, PB__LOG_LINE_MAX);
    if (pb__fmt == PB_LOG_JSON) {
        (void)pb_buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\"", when, pb__level_names[level]);
        pb__json_member(&b, "event", ctx->event ? ctx->event : "log");
        pb__json_member(&b, "batch", ctx->batch);
        if (ctx->row)
            (void)pb_buf_printf(&b, ",\"row\":%" PRIu64, ctx->row);
        pb__json_member(&b, "payment_id", ctx->payment_id);
        pb__json_member(&b, "code", ctx->code);
        pb__json_member(&b, "message", msg);
        (void)pb_buf_puts(&b, "}\n");
    } else {
        (void)pb_buf_printf(&b, "%s paybatch: %s%s", when,
                            level == PB_LOG_ERROR  ? "error: "
                            : level == PB_LOG_WARN ? "warning: "
                                                   : "",
                            msg);
        if (ctx->row)
            (void)pb_buf_printf(&b, " (row %" PRIu64 ")", ctx->row);
        (void)pb_buf_putc(&b, '\n');
    }
    if (b.ptr) {
        if (pb__line_open) {
            (void)fputc('\n', out); /* end the progress line: this event gets its own */
            pb__line_open = 0;
        }
        (void)fwrite(b.ptr, 1, b.len, out);
        (void)fflush(out);
    }
    pb_buf_free(&b);
}
