/*
 * store.h - the durable state of batches, rows and received callbacks (SPEC 7, SEND_DESIGN).
 *
 * One interface, several backends chosen by the URI given to pb_store_open():
 *   "mem:"            a fresh in-memory store (tests, simulator, fuzzers); gone on free
 *   "postgresql://..", "postgres://.."  PostgreSQL (libpq URI), shared by several hosts;
 *                     the schema is created on first use (store_pg.c)
 *   anything else     a SQLite file path (created when missing)
 * Every write call is one transaction and returns only once it is committed (unless it is made
 * inside a group: pb_store_group_begin). The front end
 * checks every transition with pb_row_state_allowed() before a backend sees it, so a final
 * state is never replaced (except success -> reversed).
 *
 * Ownership:
 * - pb_store is owned by the caller of pb_store_open and released with pb_store_free.
 * - Rows handed IN (rows_add) are read only and borrowed for the call; the store copies them.
 * - Rows handed OUT (claim, due, row_get, row_by_payment_id) live in caller-provided
 *   pb_store_row storage; the store fills them and their `cells` and `findings` point to heap
 *   memory that the row now owns: release it with pb_store_row_clear / pb_store_rows_clear.
 *   On failure nothing is left to release (n == 0, rows cleared).
 * - Rows and batch infos given to a callback (rows_each, batches_each, inbox_each) are valid
 *   only during the callback. A callback returning non-zero stops the walk and that value is
 *   returned.
 * - pb_batch_info and pb_batch_counts filled by the store own heap memory: _clear them.
 */
#ifndef PB_STORE_STORE_H
#define PB_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/payout_state.h"
#include "core/str.h"

typedef struct pb_store pb_store;

/* Caps of the fixed text fields of a row (bytes without the NUL); longer values are cut at
 * a UTF-8 character boundary (pb_row_field_set). */
#define PB_STORE_PAYMENT_ID_MAX 255
#define PB_STORE_METHOD_MAX     63
#define PB_STORE_CURRENCY_MAX   15
#define PB_STORE_ACCOUNT_MAX    63
#define PB_STORE_SHA256_HEX     64

typedef struct {
    uint64_t batch;     /* the batch id (pb_batch_info.id); ignored by rows_add */
    uint32_t row_no;    /* spreadsheet row number (header = 1), unique within the batch */
    pb_row_state state; /* rows_add accepts only PB_ROW_QUEUED and PB_ROW_INVALID */
    char payment_id[PB_STORE_PAYMENT_ID_MAX + 1];
    char method[PB_STORE_METHOD_MAX + 1];
    int64_t amount; /* minor units */
    char currency[PB_STORE_CURRENCY_MAX + 1];
    char account_masked[PB_STORE_ACCOUNT_MAX + 1];
    /* The original CSV cells, packed with pb_store_cells_pack (byte-exact round trip). */
    char *cells;
    size_t cells_len;
    /* Finding names of an invalid row, comma separated ("bad-amount,missing-value"), or
     * NULL. Only an invalid row has them (rows_add refuses a queued row with findings). */
    char *findings;
    uint32_t attempts;
    int64_t next_at_ms; /* queued / in_doubt / sending: not before this time */
    char code[PB_ROW_CODE_MAX + 1];
    char message[PB_ROW_MESSAGE_MAX + 1];
    char gate_status[PB_ROW_STATUS_MAX + 1];
    char request_id[PB_ROW_ID_MAX + 1];
    char operation_id[PB_ROW_ID_MAX + 1];
    char provider_payment_id[PB_ROW_ID_MAX + 1];
    int64_t updated_at_ms;
    int reversed; /* 1 once the row went success -> reversed */
    /* The paid-recently key (pb_guard_payee_key: method, full account number, amount,
     * currency), 64 lowercase hex digits, or "" when unknown (rows stored before schema 2). */
    char payee_key[PB_STORE_SHA256_HEX + 1];
} pb_store_row;

/* What identifies a batch (input of pb_store_batch_begin; every pointer borrowed). */
typedef struct {
    const char *name;        /* the batch id: --batch-id, or derived from the file */
    const char *file_name;   /* as given on the command line */
    const char *file_sha256; /* 64 lowercase hex digits of the input file */
    const char *settings;    /* the effective settings as text (NULL = "") */
    const char *header;      /* the header cells, packed with pb_store_cells_pack (may be NULL) */
    size_t header_len;
    char delimiter;
    int had_bom;
    int64_t created_at_ms;
    const char *plan; /* the approved plan it was sent under ("digest=...\napprovers=...\n"), or
                         NULL */
} pb_batch_key;

/* A stored batch. Filled by the store; owns its strings: pb_batch_info_clear. */
typedef struct {
    uint64_t id;
    char *name;
    char *file_name;
    char file_sha256[PB_STORE_SHA256_HEX + 1];
    char *settings;
    char *header; /* packed cells */
    size_t header_len;
    char delimiter;
    int had_bom;
    int64_t created_at_ms;
    int64_t finished_at_ms; /* 0 until pb_store_batch_finish */
    char *plan;             /* as given to batch_begin; NULL when none */
} pb_batch_info;

/* Rows and amount sums of one currency, per state. */
typedef struct {
    char currency[PB_STORE_CURRENCY_MAX + 1];
    uint64_t rows[PB_ROW_STATE_COUNT];
    int64_t amount[PB_ROW_STATE_COUNT];
} pb_batch_currency_counts;

/* Filled by pb_store_counts; cur is owned: pb_batch_counts_clear. Currencies sorted. */
typedef struct {
    uint64_t rows[PB_ROW_STATE_COUNT]; /* all currencies */
    uint64_t total;
    pb_batch_currency_counts *cur;
    size_t ncur;
} pb_batch_counts;

/* A received callback for the inbox (every pointer borrowed). */
typedef struct {
    int64_t received_at_ms;
    const char *body; /* the raw body as received */
    size_t body_len;
    const char *payment_id; /* NULL or "" when the body had none */
    int matched;            /* 1: it matched a row of the store */
    uint64_t batch;         /* the matched row, else 0 */
    uint32_t row_no;
} pb_store_inbox_rec;

typedef int (*pb_store_row_cb)(const pb_store_row *row, void *payload);
typedef int (*pb_store_batch_cb)(const pb_batch_info *info, void *payload);
typedef int (*pb_store_inbox_cb)(const pb_store_inbox_rec *rec, void *payload);

/* Open or create the store named by uri (see the top of this file). */
int pb_store_open(pb_store **out, const char *uri);
void pb_store_free(pb_store *st);
/* 1 when uri names a PostgreSQL database. */
int pb_store_uri_is_pg(const char *uri);
/* uri for messages and logs: a PostgreSQL URI's password (user:PASSWORD@, password=) becomes
 * "***"; other URIs are copied. Always NUL-terminated (cut at cap). */
void pb_store_uri_redact(const char *uri, char *out, size_t cap);
/* "mem", "sqlite", "pg": the backend in use. */
const char *pb_store_backend(const pb_store *st);

/* Find the batch named key->name or create it; *created says which. Same name with a
 * different file SHA-256: PB_EEXISTS with a message naming both. info: _clear it. */
int pb_store_batch_begin(pb_store *st, const pb_batch_key *key, pb_batch_info *info, int *created);
/* Mark the batch finished at at_ms (a later resume may still change rows). */
int pb_store_batch_finish(pb_store *st, uint64_t batch, int64_t at_ms);
/* Insert rows into a batch, in one transaction. A row number already present, or a payment
 * id already held by a non-invalid row of any batch: PB_EEXISTS, nothing inserted. */
int pb_store_rows_add(pb_store *st, uint64_t batch, const pb_store_row *rows, size_t n);
/* The name of a batch other than this_batch holding a (non-invalid) row with this payment
 * id: *owner is allocated, the caller pb_free()s it. PB_ENOTFOUND when there is none. */
int pb_store_payment_id_owner(pb_store *st, const char *payment_id, size_t len, uint64_t this_batch,
                              char **owner);
/* Up to max queued rows with next_at_ms <= now_ms, lowest row number first, moved to
 * sending with attempts + 1, committed before returning. */
int pb_store_claim(pb_store *st, uint64_t batch, int64_t now_ms, size_t max, pb_store_row *rows,
                   size_t *n);
/* Up to max sending or in_doubt rows with next_at_ms <= now_ms, lowest row number first
 * (read only). */
int pb_store_due(pb_store *st, uint64_t batch, int64_t now_ms, size_t max, pb_store_row *rows,
                 size_t *n);
/* Apply the updates as compare-and-set on `from`, in order, in one transaction; a row no
 * longer in `from` is skipped and not counted in *applied. A transition that the state
 * machine forbids: PB_EINVAL, nothing applied. applied may be NULL. */
int pb_store_mark(pb_store *st, uint64_t batch, const pb_row_update *updates, size_t n,
                  size_t *applied);
/* One row (PB_ENOTFOUND when absent); clear it with pb_store_row_clear. */
int pb_store_row_get(pb_store *st, uint64_t batch, uint32_t row_no, pb_store_row *row);
/* The non-invalid row holding this payment id, in any batch. */
int pb_store_row_by_payment_id(pb_store *st, const char *payment_id, size_t len, pb_store_row *row);
/* Every row of a batch in row order. */
int pb_store_rows_each(pb_store *st, uint64_t batch, pb_store_row_cb cb, void *payload);
/* Rows and amount sums per state per currency; PB_ERANGE when a sum overflows int64. */
int pb_store_counts(pb_store *st, uint64_t batch, pb_batch_counts *counts);
/* Every batch, in creation order. */
int pb_store_batches_each(pb_store *st, pb_store_batch_cb cb, void *payload);
/* Keep a received callback, committed before returning. */
int pb_store_inbox_put(pb_store *st, const pb_store_inbox_rec *rec);
/* Every inbox record in arrival order. */
int pb_store_inbox_each(pb_store *st, pb_store_inbox_cb cb, void *payload);

/* A row of another batch paid to the same payee (pb_store_paid_recently); valid during the
 * callback only. */
typedef struct {
    const char *batch_name;
    uint64_t batch;
    uint32_t row_no;
    pb_row_state state; /* accepted or success */
    const char *payment_id;
    int64_t at_ms; /* the row's updated_at_ms: when it was accepted, or became success */
} pb_store_paid_hit;
typedef int (*pb_store_paid_cb)(const pb_store_paid_hit *hit, void *payload);

/*
 * Rows of batches other than this_batch with this payee key (64 hex digits) in state accepted
 * or success whose updated_at_ms >= since_ms, newest first (then batch, row number): the
 * paid-recently check. A callback returning nonzero stops the walk and that value is
 * returned. Optional for a backend: one that does not offer it gives PB_ENOTSUP.
 */
int pb_store_paid_recently(pb_store *st, const char *payee_key, uint64_t this_batch,
                           int64_t since_ms, pb_store_paid_cb cb, void *payload);

/* The batch named name (PB_ENOTFOUND when there is none); info: _clear it. */
int pb_store_batch_get(pb_store *st, const char *name, pb_batch_info *info);

/* Which rows pb_store_next_at looks at. */
typedef enum {
    PB_STORE_NEXT_QUEUED = 1, /* queued: what CLAIM would pick later */
    PB_STORE_NEXT_PENDING     /* sending / in_doubt: what DUE would pick later */
} pb_store_next_kind;

/* The earliest next_at_ms > after_ms among the batch's rows of that kind, or INT64_MAX when
 * none waits: tells a restarted engine that rows backed off before the restart still wait.
 * Cost: the SQLite backend reads every row of that kind (an index entry each), so ask when a
 * claim or DUE came back short, as send does: then only the rows that wait are left. */
int pb_store_next_at(pb_store *st, uint64_t batch, pb_store_next_kind kind, int64_t after_ms,
                     int64_t *out);

/* Up to max rows of the batch in `state` with row_no > after_row, lowest row number first
 * (read only): the poller walks the accepted rows with it, a page at a time. */
int pb_store_list(pb_store *st, uint64_t batch, pb_row_state state, uint32_t after_row, size_t max,
                  pb_store_row *rows, size_t *n);

/*
 * Groups: the calls made between pb_store_group_begin and pb_store_group_end share one
 * transaction, so one durable commit (one fsync) carries them all. Inside a group each call
 * still applies all or nothing (a failing call leaves the others in place) and reads see the
 * group's writes, but nothing is durable, nor visible to other processes, until group_end
 * returns 0; when it fails none of the group's writes happened. A caller must therefore not
 * act on a group's results (send a claimed row, answer a callback) before group_end. Groups do
 * not nest (PB_EINVAL). A backend without groups (mem) commits each call on its own, which
 * meets the same promise. A store freed inside a group rolls the group back.
 */
int pb_store_group_begin(pb_store *st);
int pb_store_group_end(pb_store *st);

/* Hold the batch named name for this handle until pb_store_batch_unlock or pb_store_free (or
 * the process ends), across hosts. A worker (pb_store_lease_begin first) holds it only while
 * it loads the batch: it waits up to 10 minutes for another worker's load, then PB_EAGAIN.
 * Otherwise one `send` per batch: PB_EAGAIN with a message at once when another handle holds
 * it. A backend that one host uses alone (SQLite: the CLI locks a file beside it; mem:) has
 * nothing to do: PB_OK. */
int pb_store_batch_lock(pb_store *st, const char *name);

/* Release the batch taken with pb_store_batch_lock (nothing to do when none is held). */
void pb_store_batch_unlock(pb_store *st);

/*
 * Several `send` workers on one batch (PostgreSQL; docs/SEND_DESIGN.md). Optional for a
 * backend: SQLite and mem: answer PB_ENOTSUP (one process per batch, the CLI's file lock).
 *
 * pb_store_lease_begin makes this handle the worker `worker` (pb_store_worker_id): from then
 * on a claim leases its rows to the worker until the database's clock passes now + lease_ms;
 * a due takes only rows whose lease lapsed or that the worker holds, and leases them; a mark
 * of a sending / in_doubt row that another worker has leased since is skipped (fenced);
 * next_at(PENDING) gives a row that another worker holds as due again within 1 s (to look
 * whether it was settled or its lease lapsed). A handle that never called it keeps the plain
 * semantics (the conformance suite). worker is copied.
 *
 * pb_store_lease_renew extends every lease the worker holds in the batch to now + lease_ms
 * (the heartbeat); *renewed: how many (may be NULL).
 *
 * The shared rate (Gate's limit is per project, so per key): pb_store_rate_take reserves the
 * next `n` request slots, `interval_us` apart, from one GCRA row named key, and says when the
 * first slot starts relative to the database's clock at the statement (*start_in_us, >= 0):
 * slot j may be used from start + j x interval_us for one interval. Every slot is issued once,
 * so workers that spend their slots within them keep the sum within the rate.
 * pb_store_rate_pause makes every later rate_take of key start no earlier than now + ms (a
 * 429 / Retry-After seen by one worker pauses all).
 */
int pb_store_lease_begin(pb_store *st, const char *worker, int64_t lease_ms);
int pb_store_lease_renew(pb_store *st, uint64_t batch, uint64_t *renewed);
int pb_store_rate_take(pb_store *st, const char *key, int64_t interval_us, uint32_t n,
                       int64_t *start_in_us);
int pb_store_rate_pause(pb_store *st, const char *key, int64_t ms);
/* "host:pid:16 hex digits of randomness" into out (cap >= 96), NUL-terminated. */
void pb_store_worker_id(char *out, size_t cap);

/*
 * Create or upgrade the schema of the store named by uri explicitly (`paybatch status
 * --migrate`); *from and *to: the version found (0: none, it was created) and the version
 * now. PostgreSQL upgrades only here (an upgrade changes what processes still running an
 * older paybatch rely on); SQLite upgrades itself on open (from == to then).
 */
int pb_store_migrate(const char *uri, int *from, int *to);

void pb_store_row_clear(pb_store_row *row);
void pb_store_rows_clear(pb_store_row *rows, size_t n);
void pb_batch_info_clear(pb_batch_info *info);
void pb_batch_counts_clear(pb_batch_counts *counts);

/*
 * Cells: a row's CSV cells packed as (4-byte big-endian length, bytes) per cell, so any byte
 * (quotes, delimiters, newlines, NUL) survives. pack allocates *blob (pb_free); unpack fills
 * up to max borrowed pb_str pointing into blob and sets *n (PB_ELIMIT when more than max,
 * PB_EPARSE when the blob is malformed).
 */
int pb_store_cells_pack(const pb_str *cells, size_t n, char **blob, size_t *len);
int pb_store_cells_unpack(const char *blob, size_t len, pb_str *cells, size_t max, size_t *n);

#endif
