#include "batch/cli/cli.h"

#include <stdarg.h>

pb_log_level pb_cli_log_level = PB_LOG_NORMAL;

void pb_cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("paybatch: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
