#include "batch/cli/cli.h"

#include "batch/util/log.h"
#include "core/errors.h"

#include <stdarg.h>

pb_log_level pb_cli_log_level = PB_LOG_NORMAL;

void pb_cli_error(const char *fmt, ...)
{
    static const pb_log_ctx ctx = {"cli.error", NULL, 0, NULL, NULL};
    char msg[4096];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap); /* a longer message is cut, not an error */
    va_end(ap);
    if (pb_log_get_format() == PB_LOG_JSON) {
        pb_log(PB_LOG_ERROR, &ctx, "%s", msg);
        return;
    }
    (void)fprintf(stderr, "paybatch: %s\n", msg);
}

void pb_cli_log_setup(const pb_settings *s)
{
    pb_cli_log_level = s->quiet ? PB_LOG_QUIET : s->verbose ? PB_LOG_VERBOSE : PB_LOG_NORMAL;
    pb_log_setup(stderr, s->log_json ? PB_LOG_JSON : PB_LOG_TEXT,
                 s->quiet     ? PB_LOG_WARN
                 : s->verbose ? PB_LOG_DEBUG
                              : PB_LOG_INFO);
}

const char *pb_cli_shown(const char *uri)
{
    static char shown[1024];
    pb_store_uri_redact(uri, shown, sizeof(shown));
    return shown;
}

int pb_cli_store_exit(int rc, int opening)
{
    if (rc == PB_ENOMEM)
        return PB_EXIT_SOFTWARE;
    if (rc == PB_EAGAIN)
        return opening ? PB_EXIT_UNAVAILABLE : PB_EXIT_TEMPFAIL;
    if (rc == PB_EINVAL && opening)
        return PB_EXIT_CONFIG;
    return PB_EXIT_IOERR;
}
