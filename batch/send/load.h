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

#define PB_LOAD_CHUNK  512
#define PB_LOAD_PIECE  (32 * 1024) /* the file is read, and its pieces compared, in these */
#define PB_LOAD_DIGEST 16          /* bytes of SHA-256 kept per piece (pb_load_result.pieces) */

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
    /* pb_load_check: the first PB_LOAD_DIGEST bytes of each piece's SHA-256, for the loader
     * (about 0.05% of the file's size); owned */
    unsigned char (*pieces)[PB_LOAD_DIGEST];
    size_t npieces;
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

/*
 * The store pass as a stream, for a send that begins before the whole file is stored
 * (pb_send_opts.loader): pb_loader_next parses the next rows on the caller's thread and hands
 * them over as a chunk; pb_loader_store asks the chunk's store questions (payment ids of
 * other batches, paid-recently) and inserts it, on whichever thread owns the store at that
 * moment (it reads only the options, never the parser). Chunks must be stored in the order
 * they were handed out, so the stored rows stay a prefix of the file. Each piece of the file
 * must equal the one pb_load_check read (its digest), and the file must end where it did, else
 * PB_EPARSE before a row of the differing piece is handed out: a file changed between the
 * check and the send is not sent on.
 */
/* A row of a chunk, as small as it can be: a chunk holds thousands (a pb_store_row, with
 * room for every answer, takes 1.3 KiB). text holds the payment id, method, currency, masked
 * account and paid-recently key one after another, each ended by a NUL. Everything owned. */
typedef struct {
    uint32_t row_no;
    pb_row_state state; /* PB_ROW_QUEUED or PB_ROW_INVALID */
    int64_t amount;
    char *text;
    char *cells; /* pb_store_cells_pack */
    size_t cells_len;
    char *findings; /* NULL for a queued row */
} pb_load_row;

/* Chunks grow from PB_LOAD_CHUNK / 2 rows to about PB_LOAD_CHUNK_MAX: the first rows go out
 * soon, and later a chunk's insert writes the pages of the paid-recently index (its keys are
 * random) once for thousands of rows instead of for a few hundred (bench_send, 100,000 rows:
 * 51,000 WAL frames for the load in chunks of 256 to 512 rows, 17,000 in chunks of 4,096). */
#define PB_LOAD_CHUNK_MAX 4096

typedef struct pb_load_chunk {
    pb_load_row *rows;
    size_t n, cap;
    uint64_t id_used, recent_refused; /* made invalid by pb_loader_store */
} pb_load_chunk;

typedef struct pb_loader pb_loader;

/* o is copied (its pointers are borrowed for the loader's life); skip as in pb_load_store;
 * checked is pb_load_check's result for this file (its SHA-256 and piece digests, copied):
 * each piece read must equal the one checked before any of its rows is handed out. */
int pb_loader_new(pb_loader **out, const pb_load_opts *o, uint64_t skip,
                  const pb_load_result *checked);
void pb_loader_free(pb_loader *l);
/* The next rows, PB_LOAD_CHUNK / 2 at first, then more up to about PB_LOAD_CHUNK_MAX, fewer at
 * the end: *chunk (the caller's,
 * pb_load_chunk_free), or NULL when none are left; *eof = 1 once the file was read to its end
 * and found to be the one checked. PB_EPARSE as soon as a piece differs from the check's. */
int pb_loader_next(pb_loader *l, pb_load_chunk **chunk, int *eof);
int pb_loader_store(const pb_loader *l, pb_load_chunk *chunk);
void pb_load_chunk_free(pb_load_chunk *c);

#endif
