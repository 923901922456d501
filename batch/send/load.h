/*
 * load.h - a payout file into the state store: hash it, validate it against the rules and the
 * store (payment ids of other batches), and put every row into its batch.
 *
 * A file is read three times at most, each pass streaming (memory bounded by the validator,
 * never by the file): pb_load_hash names the batch; pb_load_check validates and says whether
 * it may be sent; pb_load_store puts the rows into a batch. Rows go in in row order, in
 * transactions of PB_LOAD_CHUNK rows, so after a crash the stored rows are a prefix of the
 * file and pb_load_store continues after them (skip = rows already stored).
 */
#ifndef PB_SEND_LOAD_H
#define PB_SEND_LOAD_H

#include "batch/store/store.h"
#include "formats/validator.h"

#include <stdint.h>

#define PB_LOAD_CHUNK 512

typedef struct {
    const char *path;
    pb_validate_opts rules;
    char delimiter; /* 0 = detect */
    pb_store *store;
    uint64_t this_batch;  /* 0 while the batch does not exist yet */
    uint64_t stored_rows; /* data rows of this batch already in the store (a resume) */
    /* paid-recently (issue #14): when recent_on, each row to send is looked up in the store
     * (pb_store_paid_recently, rows updated at or after recent_since_ms); a hit is a warning,
     * or with strict_recent an error that makes the row invalid */
    int recent_on;
    int64_t recent_since_ms;
    int strict_recent;
    /* every finding (file level and rows), including payment-id-used; may be NULL */
    pb_finding_cb on_finding;
    /* every data row after the store check (valid = would be sent), with the validator for
     * its header map and delimiter; may be NULL */
    int (*on_row)(const pb_row_report *r, int valid, const pb_validator *v, void *payload);
    void *payload;
} pb_load_opts;

typedef struct {
    pb_validator_stats stats; /* the validator's counts ... */
    uint64_t id_used;         /* ... of which valid rows whose payment id another batch holds */
    uint64_t recent;          /* valid rows with a paid-recently hit (warning or error) */
    uint64_t recent_refused;  /* ... of which made invalid by strict_recent */
    uint64_t valid;           /* rows that will be sent: stats.valid - id_used - recent_refused */
    uint64_t invalid;         /* stats.invalid + id_used + recent_refused */
    int file_failed;
    char sha256[65];
    char *header; /* the header cells, packed (pb_store_cells_pack); owned */
    size_t header_len;
} pb_load_result;

void pb_load_result_clear(pb_load_result *res);

/* SHA-256 (lowercase hex) of the file's bytes. PB_EIO with a message naming the file. */
int pb_load_hash(const char *path, char hex[65]);

/* Validate every row, and check each valid row's payment id against the store. */
int pb_load_check(const pb_load_opts *o, pb_load_result *res);

/* Put the rows into batch o->this_batch, skipping the first `skip` data rows (stored by an
 * interrupted earlier run). Valid rows go in `queued`, the others `invalid` with their
 * finding names. */
int pb_load_store(const pb_load_opts *o, uint64_t skip, pb_load_result *res);

#endif
