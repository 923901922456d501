/*
 * prep.c - the send driver's table of prepared request bodies (see prep.h).
 */
#include "batch/send/prep.h"

#include "core/alloc.h"
#include "core/errors.h"

#include <string.h>

static size_t pb__home(const pb__preps *t, uint32_t row_no)
{
    return (size_t)(row_no * 2654435761u) & t->mask; /* Knuth's multiplicative hash */
}

int pb_send__preps_init(pb__preps *t, size_t max, size_t body_max)
{
    size_t n = 2, i;
    memset(t, 0, sizeof(*t));
    while (n < 2 * max)
        n *= 2;
    if (!(t->slot = pb_calloc(n, sizeof(*t->slot))))
        return pb_error_set("out of memory for %zu prepared bodies", max), PB_ENOMEM;
    for (i = 0; i < n; i++)
        pb_buf_init(&t->slot[i].body, body_max);
    t->mask = n - 1;
    t->max = max;
    return PB_OK;
}

void pb_send__preps_free(pb__preps *t)
{
    for (size_t i = 0; t->slot && i <= t->mask; i++)
        pb_buf_free(&t->slot[i].body);
    pb_free(t->slot);
    memset(t, 0, sizeof(*t));
}

pb__prep *pb_send__preps_find(const pb__preps *t, uint32_t row_no)
{
    size_t i;
    if (!t->slot || !row_no)
        return NULL;
    for (i = pb__home(t, row_no); t->slot[i].row_no; i = (i + 1) & t->mask)
        if (t->slot[i].row_no == row_no)
            return &t->slot[i];
    return NULL;
}

int pb_send__preps_put(pb__preps *t, uint32_t row_no, const char *endpoint, pb_buf *body)
{
    size_t i;
    pb_buf tmp;
    if (!t->slot || !row_no || t->n >= t->max)
        return PB_EAGAIN;
    /* at most half full: an empty slot always ends the probe */
    for (i = pb__home(t, row_no); t->slot[i].row_no; i = (i + 1) & t->mask)
        if (t->slot[i].row_no == row_no)
            return PB_EAGAIN;
    tmp = t->slot[i].body;
    t->slot[i].body = *body;
    *body = tmp;
    pb_buf_clear(body);
    t->slot[i].row_no = row_no;
    t->slot[i].endpoint = endpoint;
    t->n++;
    return PB_OK;
}

void pb_send__preps_drop(pb__preps *t, pb__prep *p)
{
    size_t i = (size_t)(p - t->slot), j = i;
    pb_buf keep = p->body;
    /* backward shift: each later entry of the run whose home is not in (i, j] moves into the
     * hole, so every entry stays reachable from its home without tombstones */
    for (;;) {
        size_t k;
        j = (j + 1) & t->mask;
        if (!t->slot[j].row_no)
            break;
        k = pb__home(t, t->slot[j].row_no);
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        t->slot[i] = t->slot[j];
        i = j;
    }
    t->slot[i].row_no = 0;
    t->slot[i].endpoint = NULL;
    t->slot[i].body = keep;
    pb_buf_clear(&t->slot[i].body);
    t->n--;
}
