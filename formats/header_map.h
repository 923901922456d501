/*
 * header_map.h - map a CSV header row to Gate request fields (SPEC §4).
 *
 * Column names are trimmed and compared case-insensitively against the canonical Gate paths
 * and their aliases; any other `object.field` with object in general/customer/account/payment
 * passes through into the request as a string. Header problems are file-level findings: a
 * typo must never silently drop data. The map owns copies of the header names it keeps.
 */
#ifndef PB_FORMATS_HEADER_MAP_H
#define PB_FORMATS_HEADER_MAP_H

#include "core/findings.h"
#include "core/str.h"
#include "core/validate.h"

#define PB_MAP_IGNORE (-1)

typedef struct pb_header_map pb_header_map;

/*
 * Build the map from the header fields. Every header problem goes to cb (row = header_row)
 * and is counted in *errors; when *errors > 0 the map is still returned (so a report can name
 * the columns) but rows must not be validated against it. has_default_method: --method given.
 * Returns 0, PB_ENOMEM.
 */
int pb_header_map_new(pb_header_map **out, const pb_str *fields, size_t n, uint64_t header_row,
                      int has_default_method, pb_finding_cb cb, void *ctx, unsigned *errors);

/* Number of header fields. */
size_t pb_header_map_width(const pb_header_map *m);
/* The header name as written (trimmed) of field i. */
const char *pb_header_map_name(const pb_header_map *m, size_t i);
/* Index of the field that holds account.number, or -1. */
long pb_header_map_account_field(const pb_header_map *m);
/* 1 when field i holds an account number or another account.* pass-through value: masked. */
int pb_header_map_is_sensitive(const pb_header_map *m, size_t i);
/* 1 when field i is one of the amount columns. */
int pb_header_map_is_amount(const pb_header_map *m, size_t i);

/*
 * Fill row from a record's fields (exactly pb_header_map_width() of them). The row borrows the
 * fields and the map; its pass-through array lives in the map (valid until the next call).
 */
void pb_header_map_row(pb_header_map *m, const pb_str *fields, uint64_t rownum, pb_row *row);

void pb_header_map_free(pb_header_map *m);

#endif
