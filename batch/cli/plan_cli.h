/*
 * plan_cli.h - plans on the command line (issue #14): the plan of a run computed while its
 * file is validated (written by `plan`, compared by `send --plan`), reading a plan file, the
 * approval check against `approval_keys`, and the plan summary for people.
 *
 * Ownership: pb_cli_plan is the caller's struct (zero it, then pb_cli_plan_begin); release it
 * with pb_cli_plan_free. It borrows the head's strings, the output FILE and `want`.
 */
#ifndef PB_CLI_PLAN_CLI_H
#define PB_CLI_PLAN_CLI_H

#include "batch/cli/options.h"
#include "core/guard.h"
#include "core/plan.h"
#include "core/str.h"
#include "formats/plan.h"

#include <stdio.h>

typedef struct {
    pb_plan_hash *hash;
    pb_plan_head head;
    pb_buf text;             /* plan text not yet written to f */
    FILE *f;                 /* `plan --out`, or NULL */
    const pb_plan_doc *want; /* `send --plan`, or NULL */
    uint64_t nrows;
    char row_diff[400]; /* the first row that differs from want, or "" */
    uint64_t findings[PB_F__COUNT];
    char methods[8][32];
    size_t nmethods;
    int rc; /* the first failure (PB_E...) */
} pb_cli_plan;

int pb_cli_plan_begin(pb_cli_plan *p, const pb_plan_head *h, FILE *f, const char *file_name,
                      const char *created_at, const pb_plan_doc *want);
void pb_cli_plan_finding(pb_cli_plan *p, const pb_finding *f);
/* One row to send (cells as the validator mapped them). */
void pb_cli_plan_row(pb_cli_plan *p, uint32_t row_no, pb_str payment_id, const char *method,
                     int64_t amount, const char *currency, pb_str account);
/* The tail (totals from g), the digest; with f, the rest of the plan text written. */
int pb_cli_plan_end(pb_cli_plan *p, const pb_guard *g, uint64_t valid, uint64_t invalid,
                    char digest[PB_PLAN_DIGEST_LEN + 1]);
/* What differs between want and this run, one sentence, into out ("" when nothing found). */
void pb_cli_plan_diff(const pb_cli_plan *p, const pb_guard *g, uint64_t valid, uint64_t invalid,
                      char *out, size_t outlen);
void pb_cli_plan_free(pb_cli_plan *p);

/* Read and parse a plan file; checks that its contents give its digest. 0 or an exit code
 * after printing why (66 unreadable, 65 malformed or edited). *text (pb_free) may be NULL. */
int pb_cli_plan_load(const char *path, pb_plan_doc **doc, char **text, size_t *len);

/*
 * The approvals of doc against s->approval_keys and s->approvals_required; approvers gets
 * "name (fingerprint), ..." of the counted ones. 0, or an exit code after printing why: 78 for
 * configuration (no keys with require_plan, an unreadable key file, too few approvals), 65 for
 * a forged approval (a configured key whose signature does not verify).
 */
int pb_cli_plan_approvals(const pb_settings *s, const pb_plan_doc *doc, char *approvers,
                          size_t len);

/* The plan for people: file, batch, gate, project, totals, limits, findings. */
void pb_cli_plan_print(FILE *out, const pb_plan_doc *d);

/* Read a small file (key, control) whole; NUL-terminated; pb_free it. 0 or -errno. */
int pb_cli_read_small(const char *path, size_t max, char **buf, size_t *len);

/* "2026-11-29T17:00:00Z" for now. */
void pb_cli_now_iso(char out[32]);

#endif
