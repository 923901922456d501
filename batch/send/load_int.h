/*
 * load_int.h - what load.c (the hash, the check, the store pass) shares with loader.c (the
 * store pass streamed for send). Internal.
 */
#ifndef PB_SEND_LOAD_INT_H
#define PB_SEND_LOAD_INT_H

#include "batch/send/load.h"

/* One pass over the file: the validator and what its callbacks need. */
typedef struct {
    const pb_load_opts *o;
    pb_load_result *res;
    pb_validator *v;
    int storing;
    uint64_t skip, seen;
    uint64_t checked; /* data rows seen by the payment-id check */
    pb_store_row *rows;
    size_t nrows, rows_cap;
    int deferred; /* the streaming loader: rows collect for pb_loader_next; the store's
                     questions and the insert wait for pb_loader_store */
    int err;
    int grouped;     /* a store group is open (pb__group) */
    size_t in_group; /* payment ids asked about in it */
    int fd;          /* the file being read (pb__read_at reads earlier rows of it again) */
    char payee[65];  /* the current row's paid-recently key (pb__payee_key), or "" */
} pb_load__scan;

/* s for a pass over o->path (the rows array when storing, the validator); pb_load__scan_free. */
int pb_load__scan_init(pb_load__scan *s, const pb_load_opts *o, int storing, uint64_t skip,
                       pb_load_result *res);
void pb_load__scan_free(pb_load__scan *s);
/* Up to PB_LOAD_PIECE bytes of fd into buf (fewer only at the end of the file). */
int pb_load__read_piece(int fd, const char *path, char *buf, size_t *got);
/* The first PB_LOAD_DIGEST bytes of the piece's SHA-256. */
void pb_load__piece_digest(const char *buf, size_t n, unsigned char out[PB_LOAD_DIGEST]);

#endif
