#include "core/errors.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char pb__last_error[512];

const char *pb_strerror(int code)
{
    switch (code) {
    case PB_OK:
        return "success";
    case PB_ERROR:
        return "error";
    case PB_ENOMEM:
        return "out of memory";
    case PB_EINVAL:
        return "invalid value";
    case PB_ERANGE:
        return "out of range";
    case PB_ELIMIT:
        return "size limit reached";
    case PB_EPARSE:
        return "malformed input";
    case PB_ENOTFOUND:
        return "not found";
    case PB_EEXISTS:
        return "already exists";
    case PB_EIO:
        return "I/O error";
    case PB_ECRYPTO:
        return "crypto library error";
    case PB_EAGAIN:
        return "try again";
    case PB_EENCODING:
        return "invalid UTF-8";
    case PB_ENOTSUP:
        return "not supported";
    default:
        return "unknown error";
    }
}

int pb_error_set(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pb__last_error, sizeof(pb__last_error), fmt, ap);
    va_end(ap);
    return PB_ERROR;
}

const char *pb_error_last(void)
{
    return pb__last_error;
}

void pb_error_clear(void)
{
    pb__last_error[0] = '\0';
}
