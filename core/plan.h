/*
 * plan.h - the canonical form of a payout plan and its digest (issue #14).
 *
 * A plan is what `send` would do with a file under the effective settings. Its digest is
 * SHA-256 over a canonical serialization, fed in three parts in this order: the head (the
 * settings), one record per row to send, in row order, and the tail (totals and findings).
 * `plan` computes it while it validates the file; `approve` recomputes it from the plan file
 * (so an approver signs what the file shows); `send --plan` recomputes it from the file and
 * the settings of its own run. Approvals are not part of it. docs/PLAN.md lists each field
 * and why it is there.
 *
 * Canonical serialization: the text "paybatch-plan-v1\n", then each field as
 *   <name> '=' <decimal byte length of the value> ':' <value bytes> '\n'
 * in the fixed order of plan.c; integers as decimal ASCII, flags as "0"/"1", amounts as
 * decimal minor units. The length prefix makes it unambiguous whatever bytes a value holds.
 *
 * Ownership: pb_plan_hash is allocated by pb_plan_hash_new and released by
 * pb_plan_hash_free (NULL is fine). Structures handed in are read only during the call.
 */
#ifndef PB_CORE_PLAN_H
#define PB_CORE_PLAN_H

#include "core/buf.h"
#include "core/findings.h"
#include "core/guard.h"

#include <stddef.h>
#include <stdint.h>

#define PB_PLAN_DIGEST_LEN 71 /* "sha256:" + 64 hex digits */

typedef struct {
    const char *file_sha256;  /* the bytes that are paid */
    const char *batch_id;     /* the batch's name in the state store */
    const char *gate_url;     /* where the requests go ("sandbox" for --sandbox) */
    int64_t project_id;       /* whose money */
    const char *callback_url; /* where results are sent ("" when none) */
    const char *method;       /* --method for files without a method column ("" when none) */
    int allow_conversion;
    int skip_invalid;
    uint32_t rate_milli; /* requests per second x 1000 */
    const pb_guard_limits *limits;
    unsigned recent_days;
    int strict_recent;
} pb_plan_head;

typedef struct {
    uint32_t row_no;
    const char *payment_id;
    const char *method;
    int64_t amount; /* minor units */
    const char *currency;
    const char *account_masked;
} pb_plan_row;

typedef struct {
    char currency[4];
    uint64_t rows;
    int64_t amount;
} pb_plan_total;

typedef struct {
    const pb_plan_total *totals; /* sorted by currency */
    size_t ntotals;
    uint64_t rows_valid;      /* rows to send */
    uint64_t rows_invalid;    /* rows not sent (invalid, payment id used, paid recently strict) */
    const uint64_t *findings; /* PB_F__COUNT counts, by code */
} pb_plan_tail;

typedef struct pb_plan_hash pb_plan_hash;

int pb_plan_hash_new(pb_plan_hash **out);
void pb_plan_hash_free(pb_plan_hash *h);
/* Each 0, or PB_ECRYPTO / PB_EINVAL (a part out of order); after a failure the hash is
 * unusable. */
int pb_plan_hash_head(pb_plan_hash *h, const pb_plan_head *head);
int pb_plan_hash_row(pb_plan_hash *h, const pb_plan_row *row);
int pb_plan_hash_tail(pb_plan_hash *h, const pb_plan_tail *tail);
/* "sha256:<64 hex>" into out. */
int pb_plan_hash_final(pb_plan_hash *h, char out[PB_PLAN_DIGEST_LEN + 1]);

/* The same field encoding into a caller's buffer (tests, docs): the head only. */
int pb_plan_head_canonical(const pb_plan_head *head, pb_buf *out);

#endif
