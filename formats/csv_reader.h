/*
 * csv_reader.h - push-based streaming CSV reader (on libcsv).
 *
 * The caller pushes bytes in chunks of any size with pb_csv_reader_feed() and ends the input
 * with pb_csv_reader_finish(); every complete record is handed to the callback with its
 * spreadsheet row number (header = row 1; a blank line takes a row number but is not
 * delivered; a quoted cell with line breaks keeps its record on one row).
 *
 * Handles a UTF-8 BOM, delimiter detection (',' ';' TAB) on the first non-blank line, CRLF /
 * LF / lone CR, quoting (strict), and flags invalid UTF-8 per record. Unquoted cells lose
 * their leading and trailing spaces/tabs (libcsv's rule); quoted cells are kept verbatim.
 *
 * Memory is bounded by the caps, not by the input: a field longer than max_field bytes or a
 * record with more than max_fields fields stops the reader with PB_ELIMIT. The reader owns
 * all record memory (two records' worth at most); rec->fields and the bytes they point at are
 * valid during the callback and until the next record's callback returns (or the reader is
 * freed), so a caller can finish a record while the next one is read. After an error or a callback
 * stop the reader is stuck: feed/finish return the same code again.
 */
#ifndef PB_FORMATS_CSV_READER_H
#define PB_FORMATS_CSV_READER_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"

typedef struct {
    uint64_t row; /* spreadsheet row number: header = 1 */
    size_t nfields;
    const pb_str *fields; /* valid until the next callback returns; NUL-terminated at ptr[len],
                             one after another in one buffer (fields[i + 1].ptr is right after
                             fields[i]'s NUL) */
    int bad_utf8_field;   /* index of the first field with invalid UTF-8, or -1 */
} pb_csv_record;

/* Return 0 to go on, nonzero to stop: feed/finish then return that value. */
typedef int (*pb_csv_record_cb)(const pb_csv_record *rec, void *ctx);

typedef struct {
    char delimiter;    /* ',', ';', '\t', or 0 = detect from the first (header) line */
    size_t max_field;  /* bytes per field (default 65536 if 0); allocated once up front */
    size_t max_fields; /* fields per record (default 1024 if 0) */
    size_t mark_every; /* bytes between marks (0: no marks); see pb_csv_reader_mark_before */
    /*
     * 1: records are not reused but pile up, their cells back to back, until the caller takes
     * them with pb_csv_reader_take (a hand-off without a copy). rec->fields is then valid only
     * during the callback (the cells may move on the next append): the caller keeps offsets,
     * not pointers.
     */
    int batch;
} pb_csv_opts;

/*
 * A place where a record starts: a reader made with the same delimiter, resumed at `row`
 * (pb_csv_reader_resume) and fed the input from byte `off` on (the BOM counted) delivers the
 * same records from there as this one did. With mark_every set, the reader marks the first
 * line end outside quotes after every mark_every bytes (a CR-only file gets none).
 */
typedef struct {
    uint64_t off;
    uint64_t row;
} pb_csv_mark;

typedef struct pb_csv_reader pb_csv_reader;

/* opts may be NULL (all defaults). PB_EINVAL for a delimiter other than , ; TAB or 0. */
int pb_csv_reader_new(pb_csv_reader **out, const pb_csv_opts *opts, pb_csv_record_cb cb, void *ctx);
/* Any chunking, including 1 byte at a time, gives the same records. */
int pb_csv_reader_feed(pb_csv_reader *r, const char *data, size_t len);
/* End of input: flush the last record (a missing final line end is fine). */
int pb_csv_reader_finish(pb_csv_reader *r);
/* Detected or forced delimiter; 0 while not known yet. */
char pb_csv_reader_delimiter(const pb_csv_reader *r);
int pb_csv_reader_had_bom(const pb_csv_reader *r);
/* Rows seen so far, blank ones included. */
uint64_t pb_csv_reader_rows(const pb_csv_reader *r);
/* After PB_EPARSE / PB_ELIMIT: the row where it happened (0 if none) and a message that
 * says what is wrong and how to fix it ("" if none). Owned by the reader. */
uint64_t pb_csv_reader_error_row(const pb_csv_reader *r);
const char *pb_csv_reader_error(const pb_csv_reader *r);
/*
 * The last mark whose row is <= row: 0, or 1 when there is none (read from the start then).
 * *next_row: the row of the mark after it, 0 when there is none yet.
 */
int pb_csv_reader_mark_before(const pb_csv_reader *r, uint64_t row, pb_csv_mark *out,
                              uint64_t *next_row);
/* Marks kept (16 bytes each). These two may be called from another thread while this one
 * feeds: they see the marks added so far. */
size_t pb_csv_reader_marks(const pb_csv_reader *r);
/*
 * opts.batch only: hand over the records delivered since the last take (during a callback:
 * that record too). *bytes gets their cells back to back, each followed by a NUL, *lens the
 * length of each cell (uint32_t, in order); the reader keeps the buffers that were in *bytes
 * and *lens (contents dropped, allocations reused) and the part of a record not complete yet.
 * 0 or PB_ENOMEM (nothing handed over then).
 */
int pb_csv_reader_take(pb_csv_reader *r, pb_buf *bytes, pb_buf *lens);
/*
 * Before the first feed of a reader that re-reads from a mark: no BOM, the delimiter given
 * in its opts (PB_EINVAL without one), the first record is row `row`.
 */
int pb_csv_reader_resume(pb_csv_reader *r, uint64_t row);
void pb_csv_reader_free(pb_csv_reader *r);

#endif
