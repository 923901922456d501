/*
 * plan_fuzz.c - pb_plan_parse on arbitrary bytes, then (when it parses) the digest of what it
 * shows and an approval added. Checks: no crash, only documented return codes, a message on
 * every failure, a parsed plan whose text with one more approval parses again to the same
 * digest and one more approval.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors.h"
#include "formats/global.h"
#include "formats/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    pb_plan_doc *d = NULL, *d2 = NULL;
    char a[PB_PLAN_DIGEST_LEN + 1], b[PB_PLAN_DIGEST_LEN + 1];
    pb_plan_approval ap;
    pb_buf out;
    int rc;

    if (!init) {
        pb_global_init();
        init = 1;
    }
    rc = pb_plan_parse((const char *)data, size, &d);
    if (rc != PB_OK && rc != PB_EPARSE && rc != PB_ELIMIT && rc != PB_ENOMEM)
        abort();
    if (rc != PB_OK) {
        if (d || !pb_error_last()[0])
            abort();
        return 0;
    }
    if (pb_plan_doc_digest(d, a) != 0 || strlen(a) != PB_PLAN_DIGEST_LEN)
        abort();
    memset(&ap, 0, sizeof(ap));
    memcpy(ap.name, "fuzz", 5);
    memcpy(ap.at, "2026-01-01T00:00:00Z", 21);
    pb_buf_init(&out, PB_PLAN_MAX_BYTES + 4096);
    if (pb_plan_add_approval((const char *)data, size, &ap, &out) == 0) {
        rc = pb_plan_parse(out.ptr, out.len, &d2);
        if (rc == PB_OK) {
            if (pb_plan_doc_digest(d2, b) != 0 || strcmp(a, b) != 0 ||
                d2->napprovals != d->napprovals + 1)
                abort();
        } else if (rc != PB_EPARSE || d->napprovals < PB_PLAN_MAX_APPROVALS) {
            abort(); /* only one approval too many may refuse it */
        }
    }
    pb_buf_free(&out);
    pb_plan_doc_free(d2);
    pb_plan_doc_free(d);
    return 0;
}
