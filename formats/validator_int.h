/*
 * validator_int.h - what the files of the validator share; nothing else includes it.
 *
 * validator.c         the API and the reading side: feed, finish, the header, records piled
 *                     into batches (the CSV reader hands its buffers over: no copy);
 * validator_rows.c    the row pipeline, one batch at a time: rules and hashing a few rows ahead
 *                     of the duplicate checks, totals and reports (so the index slots a row
 *                     needs are already loaded when it is checked);
 * validator_confirm.c a fingerprint match confirmed against the earlier row, re-read;
 * validator_thread.c  the checking thread and the queue of batches it takes (opts.threads).
 *
 * Every batch is checked by the same code, on the caller's thread or on the checking one, in
 * the order read: findings, reports and exit codes cannot depend on the thread or its timing.
 */
#ifndef PB_FORMATS_VALIDATOR_INT_H
#define PB_FORMATS_VALIDATOR_INT_H

#include "core/buf.h"
#include "formats/dupcheck.h"
#include "formats/validator.h"

#include <pthread.h>
#include <stdatomic.h>

#define PB_VALIDATOR__QUEUE      4                         /* batches between the two threads */
#define PB_VALIDATOR__BATCH_ROWS 1024                      /* records a batch */
#define PB_VALIDATOR__WAKE_AT    (PB_VALIDATOR__QUEUE - 1) /* batches waiting wake the checker */
#define PB_VALIDATOR__AHEAD      16 /* rows whose rules run before the oldest is finished */
#define PB_VALIDATOR__SIZE_AFTER 64 /* rows read before the sets are sized from size_hint */

/* A record of a batch: its cells are bytes[boff ...], their lengths lens[first ...]. */
typedef struct {
    uint64_t row;
    size_t nfields, first, boff;
    int bad_utf8_field;
} pb_validator__qrec;

typedef struct {
    pb_buf bytes;  /* the cells, each followed by a NUL (taken from the reader) */
    pb_buf lens;   /* uint32_t per cell (taken from the reader) */
    pb_buf recs;   /* pb_validator__qrec[] */
    int reader_rc; /* the reader's error after these records (0: none) */
    uint64_t err_row;
    char err[256];
    uint64_t lines, fed; /* the reader's rows and the bytes fed when it was handed over */
    int end;             /* the last batch (the checking thread ends after it) */
} pb_validator__batch;

/* A row between its rules and hashes (run ahead) and its duplicate checks and report. */
typedef struct {
    pb_csv_record rec;
    pb_str *cells; /* rec.fields, pointing into the batch */
    size_t cells_cap;
    pb_row row;
    pb_buf pass; /* pb_passthrough[] of row */
    pb_row_result res;
    int skip;   /* the file failed: the row is only counted, as invalid */
    int mapped; /* row and res are set */
    int rc;     /* PB_ENOMEM keeping its cells or a finding */
    unsigned errors, warnings;
    uint64_t id_hash;     /* 0: no payment id */
    uint64_t payout_hash; /* 0: no payout key to check */
    size_t key_len;
    char key[512];
    pb_buf found; /* pb_finding[] of the rules, reported when the row is finished */
} pb_validator__pend;

/* One row of a re-read block: where its payment id and payout key are in the block's text. */
typedef struct {
    uint64_t row;
    size_t id_off, id_len;
    size_t key_off, key_len; /* key_len 0: the row has no payout key; -1: not computed */
} pb_validator__entry;

/* The rows from a mark to a candidate, re-read and decoded: [first, end) (end 0: nothing). */
typedef struct {
    uint64_t first, end;
    int keys; /* the candidate's payout key was computed (it takes the row rules) */
    pb_buf text;
    pb_buf ents; /* pb_validator__entry[] in row order */
} pb_validator__block;

struct pb_validator {
    pb_validator_opts o;
    pb_csv_reader *csv;
    pb_header_map *map;
    pb_dupset *ids;
    pb_dupset *payouts;
    /* --- the checking side (the caller's thread, or the checking thread) --- */
    pb_validator_stats st;
    pb_finding f[PB_ROW_MAX_FINDINGS]; /* the report of the row being finished */
    size_t nf;
    unsigned row_errors;
    unsigned row_warnings;
    int file_failed;
    int fatal; /* PB_ENOMEM or a callback's stop value */
    int sized; /* the duplicate sets were sized from size_hint */
    pb_validator__pend pend[PB_VALIDATOR__AHEAD];
    /* confirming fingerprint matches against the earlier row's text */
    uint64_t header_row; /* row of the header record */
    pb_str cur_id;       /* the payment id being looked up */
    const char *cur_key; /* the payout key being looked up */
    size_t cur_key_len;
    char *rbuf; /* re-read buffer, allocated on the first re-read */
    pb_validator__block blk;
    uint64_t want; /* decode up to this row at least */
    /* --- the reading side (the caller's thread) --- */
    uint64_t fed;       /* bytes fed so far */
    pb_buf spool;       /* a copy of all input, when there is no read_at */
    int head_done;      /* the header record was read */
    size_t next_first;  /* the next record's first field, in the reader's piled-up buffers */
    size_t next_boff;   /* and its first byte */
    int a_fatal;        /* what feed/finish return from now on: its own error or the checker's */
    int a_stop;         /* the record callback stopped the reader with this */
    int a_file_failed;  /* the file failed, as the reading side knows it */
    int reader_stopped; /* a reader error: nothing more can be read */
    pb_validator__batch q[PB_VALIDATOR__QUEUE];
    pb_validator__batch *cur; /* the batch being filled */
    /* --- opts.threads --- */
    int threaded;
    int joined; /* the checking thread has ended */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv_items, cv_space;
    size_t q_tail, q_count; /* under mu */
    int q_last;             /* under mu: the last batch is queued */
    _Atomic int b_fatal;    /* the checking thread's fatal code */
    _Atomic int quit;       /* the checking thread skips what is left (pb_validator_free) */
    char b_err[512];        /* its pb_error_last() when it stopped or ended (messages are per
                               thread: the reading thread takes it over) */
};

/* validator.c */
void pb_validator__file_finding(pb_validator *v, const pb_finding *f);
void pb_validator__size_sets(pb_validator *v, uint64_t lines, uint64_t bytes);
void pb_validator__batch_clear(pb_validator__batch *b);

/* validator_rows.c: check a batch's records, in order; errors end up in v->fatal */
void pb_validator__check_batch(pb_validator *v, pb_validator__batch *b);
/* The payout key of a row (method, account, currency, amount): its length, 0 when none. */
size_t pb_validator__payout_key(const pb_row *row, const pb_row_result *res, char key[512]);

/* validator_confirm.c: pb_dupset_confirm_cb for ids (v->cur_id) and payouts (v->cur_key) */
int pb_validator__confirm_id(uint64_t row, int *same, void *ctx);
int pb_validator__confirm_payout(uint64_t row, int *same, void *ctx);

/* validator_thread.c */
int pb_validator__thread_start(pb_validator *v);
/* Hand v->cur over and take the next free batch; the checker's fatal code (0: none). */
int pb_validator__submit(pb_validator *v, int end);
/* After the queued batches the checking thread ends; wait for it. */
void pb_validator__join(pb_validator *v);
void pb_validator__thread_free(pb_validator *v);

#endif
