/*
 * plan.h - the plan file (PLAN.json) of `paybatch plan`, `approve` and `send --plan`
 * (issue #14; docs/PLAN.md).
 *
 * Written streaming (a plan holds one line per row to send): pb_plan_write_head, then
 * pb_plan_write_row per row, then pb_plan_write_tail, each appending to a caller's pb_buf that
 * the caller writes out. Read whole with pb_plan_parse (cJSON; the file is capped at
 * PB_PLAN_MAX_BYTES). Integers and amounts are JSON strings ("150000" is not used: amounts
 * are major units as people write them, "1500.00"), so no reader rounds them through a
 * double. Approvals are kept in "approvals", outside the digest; pb_plan_add_approval rewrites
 * a plan with one more.
 *
 * Ownership: pb_plan_doc is allocated by pb_plan_parse and released by pb_plan_doc_free; its
 * strings (and the rows' strings) live as long as it does.
 */
#ifndef PB_FORMATS_PLAN_H
#define PB_FORMATS_PLAN_H

#include "core/approval.h"
#include "core/buf.h"
#include "core/plan.h"

#define PB_PLAN_MAX_BYTES     (512u << 20)
#define PB_PLAN_MAX_APPROVALS 64

typedef struct {
    char name[PB_APPROVAL_NAME + 1];
    char at[32]; /* UTC, ISO 8601 */
    unsigned char pub[PB_ED25519_KEY];
    unsigned char sig[PB_ED25519_SIG];
} pb_plan_approval;

typedef struct {
    const char *file_name;
    const char *created_at;
    pb_plan_head head; /* its strings point into the document */
    pb_guard_limits limits;
    pb_plan_row *rows;
    size_t nrows;
    pb_plan_total *totals;
    size_t ntotals;
    uint64_t rows_valid, rows_invalid;
    uint64_t findings[PB_F__COUNT];
    char digest[PB_PLAN_DIGEST_LEN + 1];
    pb_plan_approval *approvals;
    size_t napprovals;
    void *json; /* the parsed document (cJSON) the strings live in */
} pb_plan_doc;

/* "{...,"rows":[" */
int pb_plan_write_head(pb_buf *b, const char *file_name, const char *created_at,
                       const pb_plan_head *h);
int pb_plan_write_row(pb_buf *b, const pb_plan_row *r, int first);
/* "],...,"digest":...,"approvals":[]}\n"; methods: the methods of the rows (for people). */
int pb_plan_write_tail(pb_buf *b, const pb_plan_tail *t, const char *const *methods,
                       size_t nmethods, const char *digest);

/* PB_EPARSE (with a message naming the member), PB_ELIMIT, PB_ENOMEM. */
int pb_plan_parse(const char *json, size_t len, pb_plan_doc **out);
void pb_plan_doc_free(pb_plan_doc *d);
/* The digest of what the document shows (to compare with d->digest). */
int pb_plan_doc_digest(const pb_plan_doc *d, char out[PB_PLAN_DIGEST_LEN + 1]);
/* The plan text json with approval a appended to "approvals", into out. */
int pb_plan_add_approval(const char *json, size_t len, const pb_plan_approval *a, pb_buf *out);

/* "10.000" for 10000 thousandths (and back): the rate as the plan writes it. */
void pb_plan_rate_format(uint32_t rate_milli, char out[24]);

#endif
