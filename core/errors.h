/*
 * errors.h - error codes and the last-error message.
 *
 * Every function that can fail returns int: 0 (PB_OK) or a negative PB_E... code, and
 * hands results back through out-parameters. A function that fails may leave a
 * human-readable explanation with pb_error_set(); callers read it with pb_error_last().
 * The message is thread-local and owned by the library (valid until the next set).
 */
#ifndef PB_CORE_ERRORS_H
#define PB_CORE_ERRORS_H

enum {
    PB_OK = 0,
    PB_ERROR = -1,      /* generic failure, see pb_error_last() */
    PB_ENOMEM = -2,     /* allocation failed */
    PB_EINVAL = -3,     /* invalid argument or invalid input value */
    PB_ERANGE = -4,     /* value out of range / arithmetic overflow */
    PB_ELIMIT = -5,     /* a configured size cap was reached */
    PB_EPARSE = -6,     /* malformed input (JSON, CSV, HTTP ...) */
    PB_ENOTFOUND = -7,  /* no such item */
    PB_EEXISTS = -8,    /* item already exists */
    PB_EIO = -9,        /* operating-system I/O error */
    PB_ECRYPTO = -10,   /* the crypto library failed */
    PB_EAGAIN = -11,    /* try again later */
    PB_EENCODING = -12, /* invalid UTF-8 */
    PB_ENOTSUP = -13    /* the store backend (or build) does not offer this operation */
};

/* Static, never NULL: a short name for an error code ("out of memory"). */
const char *pb_strerror(int code);

/* Record a message for the calling thread (printf-style). Returns PB_ERROR for convenience. */
int pb_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The calling thread's last message, or "" when none was set. Never NULL. */
const char *pb_error_last(void);

void pb_error_clear(void);

#endif
