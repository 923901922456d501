/*
 * store_backend.h - what a store backend implements (libgit2 odb/refdb style).
 *
 * A backend allocates a struct whose first member is a pb_store, sets `ops`, and hands it
 * back from its open function; the front end (store.c) checks arguments and transitions
 * before calling an op, so a backend never decides whether a transition is allowed, it only
 * applies updates as compare-and-set on `from`. Every write op is one transaction and
 * returns once committed, except inside a group (group_begin .. group_end, optional: NULL
 * means every op commits on its own), where each op is a nested all-or-nothing step and
 * group_end commits them together. Output rows follow the ownership rules of store.h; an op that
 * fails leaves no output to release and sets a message with pb_error_set().
 */
#ifndef PB_STORE_STORE_BACKEND_H
#define PB_STORE_STORE_BACKEND_H

#include "batch/store/store.h"

typedef struct pb_store_ops {
    const char *name; /* "mem", "sqlite", later "pg" */
    int (*batch_begin)(pb_store *st, const pb_batch_key *key, pb_batch_info *info, int *created);
    int (*batch_finish)(pb_store *st, uint64_t batch, int64_t at_ms);
    int (*rows_add)(pb_store *st, uint64_t batch, const pb_store_row *rows, size_t n);
    int (*payment_id_owner)(pb_store *st, const char *id, size_t len, uint64_t this_batch,
                            char **owner);
    int (*claim)(pb_store *st, uint64_t batch, int64_t now_ms, size_t max, pb_store_row *rows,
                 size_t *n);
    int (*due)(pb_store *st, uint64_t batch, int64_t now_ms, size_t max, pb_store_row *rows,
               size_t *n);
    int (*mark)(pb_store *st, uint64_t batch, const pb_row_update *updates, size_t n,
                size_t *applied);
    int (*row_get)(pb_store *st, uint64_t batch, uint32_t row_no, pb_store_row *row);
    int (*row_by_payment_id)(pb_store *st, const char *id, size_t len, pb_store_row *row);
    int (*rows_each)(pb_store *st, uint64_t batch, pb_store_row_cb cb, void *payload);
    int (*counts)(pb_store *st, uint64_t batch, pb_batch_counts *counts);
    int (*batches_each)(pb_store *st, pb_store_batch_cb cb, void *payload);
    int (*inbox_put)(pb_store *st, const pb_store_inbox_rec *rec);
    int (*inbox_each)(pb_store *st, pb_store_inbox_cb cb, void *payload);
    void (*free)(pb_store *st);
    int (*next_at)(pb_store *st, uint64_t batch, pb_store_next_kind kind, int64_t after_ms,
                   int64_t *out);
    int (*list)(pb_store *st, uint64_t batch, pb_row_state state, uint32_t after_row, size_t max,
                pb_store_row *rows, size_t *n);
    int (*group_begin)(pb_store *st);
    int (*group_end)(pb_store *st);
    /* optional (NULL: the front end answers PB_ENOTSUP); issue #14 */
    int (*paid_recently)(pb_store *st, const char *payee_key, uint64_t this_batch, int64_t since_ms,
                         pb_store_paid_cb cb, void *payload);
    /* Optional (NULL: the CLI's file lock already keeps one process per batch on one host).
     * Hold the batch for this handle until batch_unlock or free, across hosts (store.h). */
    int (*batch_lock)(pb_store *st, const char *name);
    /* Optional (NULL: nothing held, nothing to release). */
    void (*batch_unlock)(pb_store *st);
    /* Optional, all four or none (NULL: PB_ENOTSUP; store.h "Several send workers"). */
    int (*lease_begin)(pb_store *st, const char *worker, int64_t lease_ms);
    int (*lease_renew)(pb_store *st, uint64_t batch, uint64_t *renewed);
    int (*rate_take)(pb_store *st, const char *key, int64_t interval_us, uint32_t n,
                     int64_t *start_in_us);
    int (*rate_pause)(pb_store *st, const char *key, int64_t ms);
} pb_store_ops;

struct pb_store {
    const pb_store_ops *ops;
    int in_group; /* kept by the front end */
};

/* The backends' constructors (called by pb_store_open). */
int pb_store_mem_open(pb_store **out, const char *uri);
int pb_store_sqlite_open(pb_store **out, const char *path);
int pb_store_pg_open(pb_store **out, const char *uri);
/* As pb_store_pg_open, upgrading an older schema (pb_store_migrate); *from: the version found
 * (0 when it was created). */
int pb_store_pg_open_migrate(pb_store **out, const char *uri, int *from);
/* The schema version the PostgreSQL backend writes. */
int pb_store_pg_schema_version(void);

/* Shared by backends: add one row's amount to counts (sorted insert of a new currency);
 * PB_ERANGE on int64 overflow, PB_ENOMEM. */
int pb_batch_counts_add(pb_batch_counts *c, pb_row_state state, const char *currency, uint64_t rows,
                        int64_t amount);
/* Copy the heap parts (cells, findings) of src into dst, whose fixed fields are already
 * set; PB_ENOMEM leaves dst without heap parts. */
int pb_store_row_dup_heap(pb_store_row *dst, const char *cells, size_t cells_len,
                          const char *findings);

#endif
