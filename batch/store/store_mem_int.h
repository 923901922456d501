/*
 * store_mem_int.h - shared between store_mem.c (writes) and store_mem_read.c (the payment id
 * index, reads, the inbox). Not for callers.
 */
#ifndef PB_STORE_STORE_MEM_INT_H
#define PB_STORE_STORE_MEM_INT_H

#include "batch/store/store_backend.h"

enum {
    PB__S_PAYMENT_ID,
    PB__S_METHOD,
    PB__S_CURRENCY,
    PB__S_ACCOUNT,
    PB__S_FINDINGS,
    PB__S_PAYEE,
    /* the fields a pb_row_update may set, in this order */
    PB__S_CODE,
    PB__S_MESSAGE,
    PB__S_GATE_STATUS,
    PB__S_REQUEST_ID,
    PB__S_OPERATION_ID,
    PB__S_PROVIDER_ID,
    PB__S_COUNT
};
#define PB__S_UPD_FIRST PB__S_CODE
#define PB__S_UPD_COUNT (PB__S_COUNT - PB__S_CODE)

typedef struct {
    uint64_t batch;
    uint32_t row_no;
    pb_row_state state;
    uint32_t attempts;
    int reversed;
    int64_t amount, next_at_ms, updated_at_ms;
    char *s[PB__S_COUNT];
    char *cells;
    size_t cells_len;
} pb__mrow;

typedef struct {
    pb_batch_info info;
    pb__mrow **rows; /* sorted by row_no */
    size_t n, cap;
    size_t queued_hint; /* no queued row before this index */
} pb__mbatch;

typedef struct {
    int64_t received_at_ms;
    char *body;
    size_t body_len;
    char *payment_id;
    int matched;
    uint64_t batch;
    uint32_t row_no;
} pb__minbox;

typedef struct {
    pb_store base;
    pb__mbatch **batches; /* batch id = index + 1 */
    size_t nbatches;
    pb__mrow **slots; /* payment id hash: open addressing, linear probing */
    size_t nslots, nused;
    pb__minbox *inbox;
    size_t ninbox;
} pb__mstore;

const char *pb__mem_str(const char *s); /* "" for NULL */
int pb__mem_nomem(void);
/* NULL for "" (nothing to allocate); *ok = 0 on allocation failure */
char *pb__mem_dup(const char *s, size_t len, int *ok);
int pb__mem_batch_get(pb__mstore *ms, uint64_t id, pb__mbatch **out);
/* index of row_no, or -(insertion point) - 1 */
long pb__mem_find(const pb__mbatch *b, uint32_t row_no);
/* the payment id index of non-invalid rows (open addressing, linear probing) */
pb__mrow *pb__mem_id_find(pb__mstore *ms, const char *id, size_t len);
void pb__mem_id_put(pb__mstore *ms, pb__mrow *m);
void pb__mem_id_del(pb__mstore *ms, pb__mrow *m);
int pb__mem_id_reserve(pb__mstore *ms, size_t more);
/* the row as callers see it (cells, findings borrowed) / an owned copy */
void pb__mem_view(const pb__mrow *m, pb_store_row *out);
int pb__mem_out(const pb__mrow *m, pb_store_row *out);
int pb__mem_row_get(pb_store *st, uint64_t batch, uint32_t row_no, pb_store_row *row);
int pb__mem_row_by_payment_id(pb_store *st, const char *id, size_t len, pb_store_row *row);
int pb__mem_rows_each(pb_store *st, uint64_t batch, pb_store_row_cb cb, void *payload);
int pb__mem_counts(pb_store *st, uint64_t batch, pb_batch_counts *counts);
int pb__mem_batches_each(pb_store *st, pb_store_batch_cb cb, void *payload);
int pb__mem_inbox_put(pb_store *st, const pb_store_inbox_rec *rec);
int pb__mem_inbox_each(pb_store *st, pb_store_inbox_cb cb, void *payload);
int pb__mem_paid_recently(pb_store *st, const char *payee_key, uint64_t this_batch,
                          int64_t since_ms, pb_store_paid_cb cb, void *payload);

#endif
