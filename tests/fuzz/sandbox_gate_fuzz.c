/*
 * sandbox_gate_fuzz.c - the sandbox's request checks on arbitrary bodies.
 *
 * The first byte picks the method and payout or status. Invariants: the check never fails
 * for anything but memory, a refused request has a known Gate code, an accepted payout obeys
 * the method's limits and its strings are NUL-terminated within their caps.
 */
#include "batch/sandbox/sandbox.h"
#include "formats/global.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const pb_method *m;
    pb_sandbox_payout p;
    char id[PB_SANDBOX_ID_MAX];
    int64_t proj = 0;
    int code = -1, rc;

    pb_global_init(); /* idempotent: cJSON allocates through core/alloc.h */
    if (size < 1)
        return 0;
    m = pb_method_at(data[0] % pb_method_count());
    if (data[0] & 0x80) {
        rc = pb_sandbox_check_status(123, "secret", 6, (const char *)data + 1, size - 1, id, &proj,
                                     &code);
        if (rc == 0 && code == 0 && !memchr(id, 0, sizeof(id)))
            abort();
    } else {
        rc = pb_sandbox_check_payout(m, 123, "secret", 6, (const char *)data + 1, size - 1, &p,
                                     &code);
        if (rc == 0 && code == 0 &&
            (p.amount < m->min_minor || p.amount > m->max_minor ||
             !memchr(p.payment_id, 0, sizeof(p.payment_id)) ||
             strcmp(p.currency, m->currency) != 0))
            abort();
    }
    if (rc == 0 && code != 0 && strcmp(pb_sandbox_code_message(code), "Unknown error") == 0)
        abort();
    return 0;
}
