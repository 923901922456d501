/*
 * prep.h - the send driver's table of prepared request bodies: a claimed row's signed body,
 * built on the loop when its claim came back, waits here by row number for the engine's
 * POST_PAYOUT (so the request leaves the moment a slot and the rate let it). Internal.
 *
 * Open addressing with linear probing over a power of two at least twice the rows it may
 * hold, deletion by backward shift (no tombstones): a lookup reads a slot or two, where the
 * list it replaces was scanned whole for every request (up to 8 x concurrency entries).
 *
 * Ownership: the table owns every slot's body buffer (pb_send__preps_free releases them).
 * pb_send__preps_put swaps buffers with the caller's, so no body is copied; a slot's buffer
 * stays with the table when its row leaves. A pointer from pb_send__preps_find is valid
 * until the next put or drop.
 */
#ifndef PB_SEND_PREP_H
#define PB_SEND_PREP_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pb__prep {
    uint32_t row_no;      /* 0: a free slot */
    const char *endpoint; /* the method's path, appended to the gate URL (static storage) */
    pb_buf body;
} pb__prep;

typedef struct {
    pb__prep *slot;
    size_t mask; /* slots - 1 */
    size_t n, max;
} pb__preps;

/* A table for up to max rows; bodies are capped at body_max bytes. PB_ENOMEM. */
int pb_send__preps_init(pb__preps *t, size_t max, size_t body_max);
void pb_send__preps_free(pb__preps *t);
/* The row's prepared body, or NULL. */
pb__prep *pb_send__preps_find(const pb__preps *t, uint32_t row_no);
/* Keep row_no's body: swaps *body with a free slot's buffer (the caller gets an empty one).
 * 0, or PB_EAGAIN when the table holds max rows already or the row is in it (nothing
 * changed: the POST then builds the body from the stored row). */
int pb_send__preps_put(pb__preps *t, uint32_t row_no, const char *endpoint, pb_buf *body);
/* Forget p's row (its buffer stays with the table, emptied). */
void pb_send__preps_drop(pb__preps *t, pb__prep *p);

#endif
