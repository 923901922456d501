#include "batch/cli/cli.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int pb_outfile_open(pb_outfile *o, const char *path)
{
    size_t n = strlen(path);
    int fd;

    memset(o, 0, sizeof(*o));
    o->path = pb_strdup(path);
    o->tmp = pb_malloc(n + 16);
    if (!o->path || !o->tmp) {
        pb_outfile_abort(o);
        return PB_ENOMEM;
    }
    memcpy(o->tmp, path, n);
    memcpy(o->tmp + n, ".tmp.XXXXXX", 12);
    fd = mkstemp(o->tmp);
    if (fd < 0) {
        pb_error_set("cannot create %s: %s", o->tmp, strerror(errno));
        pb_free(o->tmp);
        o->tmp = NULL;
        pb_outfile_abort(o);
        return PB_EIO;
    }
    o->f = fdopen(fd, "w");
    if (!o->f) {
        close(fd);
        pb_outfile_abort(o);
        return PB_EIO;
    }
    return PB_OK;
}

int pb_outfile_commit(pb_outfile *o)
{
    int rc = PB_OK;
    if (fflush(o->f) != 0 || ferror(o->f) || fsync(fileno(o->f)) != 0) {
        pb_error_set("cannot write %s: %s", o->path, strerror(errno));
        rc = PB_EIO;
    }
    if (fclose(o->f) != 0 && rc == 0) {
        pb_error_set("cannot write %s: %s", o->path, strerror(errno));
        rc = PB_EIO;
    }
    o->f = NULL;
    if (rc == 0 && rename(o->tmp, o->path) != 0) {
        pb_error_set("cannot rename %s to %s: %s", o->tmp, o->path, strerror(errno));
        rc = PB_EIO;
    }
    if (rc < 0)
        unlink(o->tmp);
    pb_free(o->tmp);
    pb_free(o->path);
    o->tmp = o->path = NULL;
    return rc;
}

void pb_outfile_abort(pb_outfile *o)
{
    if (o->f)
        fclose(o->f);
    if (o->tmp)
        unlink(o->tmp);
    pb_free(o->tmp);
    pb_free(o->path);
    memset(o, 0, sizeof(*o));
}
