/*
 * outfile.h - output files that are never half-written, and never clobber what they must not.
 *
 * pb_outfile_open(PATH):
 *  - PATH missing or a regular file: data goes to a temporary file beside it; commit flushes,
 *    fsyncs, renames it over PATH and fsyncs the directory. An error or a crash leaves PATH
 *    untouched, so a partial file is never presented as complete. A new file gets the mode
 *    0666 & ~umask; a replaced file keeps its mode.
 *  - PATH a symlink: the link is followed; the temporary file is made in the target's
 *    directory and renamed over the target, so the link stays a link.
 *  - PATH a device, FIFO or socket (after following links): written in place, never
 *    replaced (--invalid-out /dev/null stays /dev/null, even as root).
 *
 * pb_outfile_same() tells whether two paths name one file (same path, another spelling, a
 * symlink, a hard link), so a command can refuse outputs that would overwrite its input.
 *
 * Ownership: the pb_outfile owns f, path, target and tmp until commit or abort, which both
 * release everything (also on failure). Every failure leaves a message naming the file and
 * the system's reason (pb_error_last()).
 */
#ifndef PB_UTIL_OUTFILE_H
#define PB_UTIL_OUTFILE_H

#include <stdio.h>

typedef struct {
    FILE *f;      /* write here */
    char *path;   /* as given */
    char *target; /* the file that is written or replaced (path with symlinks followed) */
    char *tmp;    /* the temporary file, NULL when writing in place */
    int in_place; /* a device or FIFO: written directly, nothing renamed */
} pb_outfile;

/* 0, PB_ENOMEM, PB_EIO (message set). On failure o is left empty (abort is harmless). */
int pb_outfile_open(pb_outfile *o, const char *path);
/* Flush, fsync, rename over the target, fsync the directory; frees o. 0 or PB_EIO. */
int pb_outfile_commit(pb_outfile *o);
/* Drop the temporary file (if any) and free o. Accepts an empty or already freed o. */
void pb_outfile_abort(pb_outfile *o);
/*
 * Record a write failure of o (errno is read now): the message names the file and the
 * system's reason. Returns PB_EIO.
 */
int pb_outfile_fail(const pb_outfile *o);

/*
 * *same = 1 when a and b name the same file: both exist and have the same st_dev/st_ino
 * (symlinks followed), or neither exists and the real path of the parent directory plus the
 * name are equal. 0, or PB_EIO/PB_ENOMEM when a path cannot be resolved (message set).
 */
int pb_outfile_same(const char *a, const char *b, int *same);

#endif
