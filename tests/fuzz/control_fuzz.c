/*
 * control_fuzz.c - pb_control_parse on arbitrary bytes. Checks: no crash, only documented
 * return codes, a message on failure, and on success figures that a person could have written
 * (rows >= 0 or unset, at most PB_GUARD_MAX_CUR totals, each a known currency).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors.h"
#include "formats/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_guard_limits l;
    size_t i;
    int rc;

    pb_guard_limits_init(&l);
    rc = pb_control_parse((const char *)data, size, &l);
    if (rc != PB_OK && rc != PB_EPARSE && rc != PB_ELIMIT)
        abort();
    if (rc != PB_OK && !pb_error_last()[0])
        abort();
    if (rc == PB_OK) {
        if (l.expect_rows < -1 || l.n_expect_total > PB_GUARD_MAX_CUR)
            abort();
        if (l.expect_rows < 0 && l.n_expect_total == 0)
            abort();
        for (i = 0; i < l.n_expect_total; i++)
            if (strlen(l.expect_total[i].currency) != 3 || l.expect_total[i].amount < 0)
                abort();
    }
    return 0;
}
