/*
 * outfile.c - atomic output files that respect special files and links (see outfile.h).
 */
#include "batch/util/outfile.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PB__MAX_LINKS 40 /* like the kernel's ELOOP limit */

/* Split p at its last '/': *dir (pb_malloc'd; "." or "/" when there is none) and *base. */
static int pb__split(const char *p, char **dir, const char **base)
{
    const char *slash = strrchr(p, '/');
    *base = slash ? slash + 1 : p;
    if (!slash)
        *dir = pb_strdup(".");
    else if (slash == p)
        *dir = pb_strdup("/");
    else
        *dir = pb_strndup(p, (size_t)(slash - p));
    return *dir ? PB_OK : PB_ENOMEM;
}

/* dir + "/" + name, pb_malloc'd. */
static char *pb__join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    char *r = pb_malloc(dl + nl + 2);
    if (!r)
        return NULL;
    memcpy(r, dir, dl);
    r[dl] = '/';
    memcpy(r + dl + 1, name, nl + 1);
    return r;
}

/*
 * Follow symlinks from path to the file that is really written (it may not exist yet: a
 * dangling link names the file to create). *out is pb_malloc'd.
 */
static int pb__resolve(const char *path, char **out)
{
    char *cur = pb_strdup(path), *next = NULL, *dir = NULL;
    char link[PATH_MAX];
    const char *base;
    struct stat st;
    int rc = PB_OK, hops;
    ssize_t n;

    *out = NULL;
    if (!cur)
        return PB_ENOMEM;
    for (hops = 0;; hops++) {
        if (lstat(cur, &st) != 0) {
            if (errno == ENOENT)
                break; /* a new file */
            pb_error_set("cannot use %s: %s", cur, strerror(errno));
            rc = PB_EIO;
            goto out;
        }
        if (!S_ISLNK(st.st_mode))
            break;
        if (hops == PB__MAX_LINKS) {
            pb_error_set("cannot use %s: %s", path, strerror(ELOOP));
            rc = PB_EIO;
            goto out;
        }
        n = readlink(cur, link, sizeof(link) - 1);
        if (n < 0) {
            pb_error_set("cannot read the link %s: %s", cur, strerror(errno));
            rc = PB_EIO;
            goto out;
        }
        link[n] = '\0';
        if (link[0] == '/') {
            next = pb_strdup(link);
        } else {
            if ((rc = pb__split(cur, &dir, &base)) < 0)
                goto out;
            next = pb__join(dir, link);
            pb_free(dir);
            dir = NULL;
        }
        if (!next) {
            rc = PB_ENOMEM;
            goto out;
        }
        pb_free(cur);
        cur = next;
        next = NULL;
    }
    *out = cur;
    cur = NULL;
out:
    pb_free(cur);
    pb_free(dir);
    return rc;
}

static mode_t pb__umask(void)
{
    mode_t m = umask(022);
    umask(m);
    return m;
}

int pb_outfile_open(pb_outfile *o, const char *path)
{
    struct stat st;
    size_t n;
    int fd = -1, rc = PB_OK, exists;
    mode_t mode;

    memset(o, 0, sizeof(*o));
    o->path = pb_strdup(path);
    if (!o->path) {
        rc = PB_ENOMEM;
        goto out;
    }
    if ((rc = pb__resolve(path, &o->target)) < 0)
        goto out;
    exists = stat(o->target, &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            pb_error_set("cannot write %s: %s", path, strerror(EISDIR));
            rc = PB_EIO;
            goto out;
        }
        /* a device or FIFO: write into it, never replace it */
        fd = open(o->target, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            pb_error_set("cannot open %s: %s", path, strerror(errno));
            rc = PB_EIO;
            goto out;
        }
        o->in_place = 1;
    } else {
        n = strlen(o->target);
        o->tmp = pb_malloc(n + 12);
        if (!o->tmp) {
            rc = PB_ENOMEM;
            goto out;
        }
        memcpy(o->tmp, o->target, n);
        memcpy(o->tmp + n, ".tmp.XXXXXX", 12);
        fd = mkstemp(o->tmp);
        if (fd < 0) {
            pb_error_set("cannot create a temporary file for %s (%s): %s", path, o->tmp,
                         strerror(errno));
            pb_free(o->tmp);
            o->tmp = NULL;
            rc = PB_EIO;
            goto out;
        }
        /* mkstemp makes 0600; a new file gets the usual mode, a replaced one keeps its own */
        mode = exists ? (st.st_mode & 07777) : (0666 & ~pb__umask());
        if (fchmod(fd, mode) != 0) {
            pb_error_set("cannot set the mode of %s: %s", o->tmp, strerror(errno));
            rc = PB_EIO;
            goto out;
        }
    }
    o->f = fdopen(fd, "w");
    if (!o->f) {
        pb_error_set("cannot open %s: %s", path, strerror(errno));
        rc = PB_EIO;
        goto out;
    }
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        pb_outfile_abort(o);
    return rc;
}

int pb_outfile_fail(const pb_outfile *o)
{
    int e = errno ? errno : EIO;
    pb_error_set("cannot write %s: %s", o->path ? o->path : "an output file", strerror(e));
    return PB_EIO;
}

static int pb__fsync_dir(const char *file)
{
    char *dir = NULL;
    const char *base;
    int fd, rc;

    if ((rc = pb__split(file, &dir, &base)) < 0)
        return rc;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        pb_error_set("cannot sync the directory %s: %s", dir, strerror(errno));
        rc = PB_EIO;
    }
    if (fd >= 0)
        close(fd);
    pb_free(dir);
    return rc;
}

int pb_outfile_commit(pb_outfile *o)
{
    int rc = PB_OK;

    errno = 0;
    if (fflush(o->f) != 0 || ferror(o->f) || (!o->in_place && fsync(fileno(o->f)) != 0))
        rc = pb_outfile_fail(o);
    errno = 0;
    if (fclose(o->f) != 0 && rc == 0)
        rc = pb_outfile_fail(o);
    o->f = NULL;
    if (rc == 0 && o->tmp) {
        if (rename(o->tmp, o->target) != 0) {
            pb_error_set("cannot rename %s to %s: %s", o->tmp, o->target, strerror(errno));
            rc = PB_EIO;
        } else {
            pb_free(o->tmp); /* renamed: nothing left to remove */
            o->tmp = NULL;
            rc = pb__fsync_dir(o->target);
        }
    }
    pb_outfile_abort(o);
    return rc;
}

void pb_outfile_abort(pb_outfile *o)
{
    if (o->f)
        fclose(o->f);
    if (o->tmp)
        unlink(o->tmp);
    pb_free(o->tmp);
    pb_free(o->target);
    pb_free(o->path);
    memset(o, 0, sizeof(*o));
}

/* An identity for a path: the (dev, ino) of an existing file, else its canonical name. */
typedef struct {
    int exists;
    dev_t dev;
    ino_t ino;
    char *name; /* pb_malloc'd, when !exists */
} pb__ident;

static int pb__identify(const char *path, pb__ident *id)
{
    char *target = NULL, *dir = NULL, real[PATH_MAX];
    const char *base;
    struct stat st;
    int rc;

    memset(id, 0, sizeof(*id));
    if ((rc = pb__resolve(path, &target)) < 0)
        return rc;
    if (stat(target, &st) == 0) {
        id->exists = 1;
        id->dev = st.st_dev;
        id->ino = st.st_ino;
        goto out;
    }
    if ((rc = pb__split(target, &dir, &base)) < 0)
        goto out;
    id->name = pb__join(realpath(dir, real) ? real : dir, base);
    if (!id->name)
        rc = PB_ENOMEM;
out:
    pb_free(dir);
    pb_free(target);
    return rc;
}

int pb_outfile_same(const char *a, const char *b, int *same)
{
    pb__ident ia, ib;
    int rc;

    *same = 0;
    if ((rc = pb__identify(a, &ia)) < 0)
        return rc;
    if ((rc = pb__identify(b, &ib)) < 0) {
        pb_free(ia.name);
        return rc;
    }
    if (ia.exists && ib.exists)
        *same = ia.dev == ib.dev && ia.ino == ib.ino;
    else if (!ia.exists && !ib.exists)
        *same = strcmp(ia.name, ib.name) == 0;
    pb_free(ia.name);
    pb_free(ib.name);
    return PB_OK;
}
