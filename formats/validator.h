/*
 * validator.h - the whole check of a payout file: bytes in, per-row verdicts out.
 *
 * Glues the streaming CSV reader, the header map, the row rules (core/validate) and the
 * cross-row duplicate sets. Bytes are pushed in chunks; each data row is handed to on_row
 * with all its findings, and every file-level finding to on_file_finding. Memory is bounded
 * by the reader's caps plus the duplicate sets (~6 bytes per distinct id and payout key) and
 * 16 bytes of re-read marks per 8 KiB of input; a caller without read_at also pays a copy of
 * the input. `validate`, `send` and the fuzzer share this one path.
 */
#ifndef PB_FORMATS_VALIDATOR_H
#define PB_FORMATS_VALIDATOR_H

#include "core/findings.h"
#include "core/validate.h"
#include "formats/csv_reader.h"
#include "formats/header_map.h"

#define PB_ROW_MAX_FINDINGS 32
#define PB_MAX_CURRENCIES   192 /* more than ISO 4217 has: totals are never partial */

typedef struct {
    const pb_csv_record *rec;   /* the original fields */
    const pb_row *row;          /* mapped row; NULL when the fields could not be mapped */
    const pb_row_result *res;   /* parsed method/currency/amount; NULL with row == NULL */
    const pb_finding *findings; /* this row's findings, in the order found */
    size_t nfindings;
    int valid; /* no error finding */
} pb_row_report;

/* Return 0 to go on; nonzero stops the validator (feed/finish return it). */
typedef int (*pb_row_cb)(const pb_row_report *r, void *ctx);

/*
 * Read up to len bytes of the input at byte offset off (offsets count every byte fed so far):
 * *got < len only at the end of the input. 0 or a negative PB_E... code (with pb_error_set).
 */
typedef int (*pb_read_at_cb)(uint64_t off, char *buf, size_t len, size_t *got, void *ctx);

typedef struct {
    pb_validate_opts rules;
    char delimiter;                /* 0 = detect */
    pb_row_cb on_row;              /* may be NULL */
    pb_finding_cb on_file_finding; /* may be NULL */
    pb_finding_cb on_finding;      /* every row finding, as found (none dropped); may be NULL */
    uint64_t hash_key[2];          /* secret key of the duplicate sets (random in the CLI) */
    uint64_t size_hint; /* the file's size in bytes when known (0: a pipe): the duplicate sets
                           are sized once from it and the first rows' length, not grown */
    /*
     * Re-reads earlier input: the duplicate sets keep fingerprints, not ids, and a match is
     * confirmed against the earlier row's text before it becomes a finding. NULL: the
     * validator keeps a copy of all input in memory instead (tests, small inputs).
     */
    pb_read_at_cb read_at;
    /*
     * 1: the rules and duplicate checks run on a second thread while the caller's thread
     * reads and parses (needs read_at). Every callback but on_file_finding for the header is
     * then called on that thread, in the same order and with the same values as without it;
     * feed may return a callback's stop value one call later than without it.
     */
    int threads;
    uint64_t test_hash_mask; /* tests only: nonzero ANDs every duplicate-set hash (collisions) */
    size_t test_mark_every;  /* tests only: bytes between re-read marks (0: 8 KiB) */
    void *ctx;
} pb_validator_opts;

typedef struct {
    char currency[4];
    uint64_t rows;
    int64_t amount_minor;
    int overflow; /* the sum no longer fits int64_t */
} pb_currency_total;

typedef struct {
    uint64_t rows; /* data rows (header and blank lines excluded) */
    uint64_t valid;
    uint64_t invalid;
    uint64_t with_warnings;
    uint64_t blank;       /* blank lines skipped */
    uint64_t file_errors; /* header / file-level findings */
    uint64_t by_code[PB_F__COUNT];
    pb_currency_total valid_totals[PB_MAX_CURRENCIES]; /* rows that will be sent */
    size_t nvalid_totals;
    pb_currency_total input_totals[PB_MAX_CURRENCIES]; /* every row with a parsable amount */
    size_t ninput_totals;
    char delimiter;
    int had_bom;
    int header_seen;
} pb_validator_stats;

typedef struct pb_validator pb_validator;

int pb_validator_new(pb_validator **out, const pb_validator_opts *opts);
/* 0, the callback's nonzero value, PB_ENOMEM. CSV-level problems become findings, not codes. */
int pb_validator_feed(pb_validator *v, const char *data, size_t len);
int pb_validator_finish(pb_validator *v);
const pb_validator_stats *pb_validator_get_stats(const pb_validator *v);
/* The header map, once the header row was read (else NULL). Owned by the validator. */
const pb_header_map *pb_validator_header(const pb_validator *v);
/* The delimiter in use (detected or forced), 0 before the header line was read. */
char pb_validator_delimiter(const pb_validator *v);
int pb_validator_had_bom(const pb_validator *v);
/* 1 when the file cannot be used at all (header problems, unreadable CSV). */
int pb_validator_file_failed(const pb_validator *v);
void pb_validator_free(pb_validator *v);

#endif
