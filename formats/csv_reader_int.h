/*
 * csv_reader_int.h - what the files of the CSV reader share; nothing else includes it.
 *
 * csv_reader.c parses (libcsv, the BOM, the delimiter, records, batches); csv_reader_marks.c
 * keeps the marks where records start, so that rows can be re-read from the middle of the input.
 */
#ifndef PB_FORMATS_CSV_READER_INT_H
#define PB_FORMATS_CSV_READER_INT_H

#include "core/buf.h"
#include "formats/csv_reader.h"

#include <csv.h>
#include <stdatomic.h>

#define PB_CSV_BOM_DONE 3
#define PB__MARK_BLOCK  4096 /* marks per block */
#define PB__MARK_BLOCKS 4096 /* blocks: 16M marks, 128 GiB of input at 8 KiB */

struct pb_csv_reader {
    struct csv_parser p;
    int p_inited;
    pb_csv_record_cb cb;
    void *ctx;
    size_t max_field;
    size_t max_fields;
    char delim;
    int had_bom;
    int bom_state; /* BOM bytes matched so far, PB_CSV_BOM_DONE once decided */
    /* delimiter detection: bytes held back until the first non-blank line has ended */
    int detecting;
    pb_buf head;
    int head_inq;
    int head_content;
    size_t counts[3]; /* ',' ';' TAB outside quotes on the current line */
    /* the record being built */
    pb_buf arena;      /* the record's cells, each followed by a NUL; capped at arena_max */
    pb_buf prev_arena; /* the record delivered last: valid until the next callback returns */
    pb_buf prev_fields;
    size_t arena_max; /* max_fields * (max_field + 1) */
    pb_buf fields;    /* pb_str[nfields]; capped at max_fields entries */
    size_t nfields;
    /* opts.batch: records pile up in arena (and their cells' lengths in lens) until
       pb_csv_reader_take; the record being built starts at rec_start (0 otherwise) */
    int batch;
    size_t rec_start;
    int in_row;    /* in the record callback: no cell is half built */
    pb_buf lens;   /* uint32_t per cell of the records piled up */
    int last_term; /* character that ended the previous record or blank line */
    uint64_t next_row;
    int finished;
    int rc; /* sticky: first error or callback stop */
    /* marks: record starts, every mark_every bytes, in blocks that never move, so another
       thread may look them up while this one adds (the count is published last) */
    size_t mark_every;
    pb_csv_mark **mblock; /* PB__MARK_BLOCKS pointers, allocated with the first mark */
    _Atomic size_t nmarks;
    uint64_t off;     /* bytes handed to libcsv so far (the BOM not counted) */
    uint64_t mark_at; /* look for the next mark from this offset on */
    uint64_t err_row;
    char err[256];
};

/* The reader's error: out of memory (sticky, like every error). */
void pb_csv_reader__oom(pb_csv_reader *r);
/* Keep a mark (a failed allocation is the reader's error). */
void pb_csv_reader__add_mark(pb_csv_reader *r, const pb_csv_mark *m);
/*
 * The first line end in data[from, len) to split at: an LF, or a CR whose next byte is here
 * and is not an LF (a mark between the CR and LF of a CRLF would count a line twice on a
 * re-read). NULL when there is none.
 */
const char *pb_csv_reader__line_end(const char *data, size_t from, size_t len);

#endif
