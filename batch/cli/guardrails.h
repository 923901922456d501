/*
 * guardrails.h - the guard-rails of send and plan for the command line (issue #14): the limits
 * in force (options, config, the --control file), their check over the rows to send, and the
 * messages for people.
 */
#ifndef PB_CLI_GUARDRAILS_H
#define PB_CLI_GUARDRAILS_H

#include "batch/cli/options.h"
#include "core/buf.h"
#include "core/guard.h"

#include <stdio.h>

/* s->limits plus the expected figures of s->control. 0, or the exit code after printing why
 * (66 unreadable file, 65 malformed, 64 --control together with --expect-*). */
int pb_cli_guard_limits(const pb_settings *s, pb_guard_limits *out);

/*
 * Check g; print each violation (one line each, "refused: ...") on out. *count: how many.
 * json (may be NULL) gets the report member ",\"guard_violations\":[...]" (the same lines).
 * Returns 0 or PB_ENOMEM/PB_ELIMIT.
 */
int pb_cli_guard_check(const pb_guard *g, FILE *out, pb_buf *json, size_t *count);

/* The limits in force, one line each ("  --max-total PHP:250000.00"), for the plan summary. */
void pb_cli_guard_print_limits(FILE *out, const pb_guard_limits *l);

#endif
