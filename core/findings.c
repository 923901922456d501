#include "core/findings.h"

#include "core/assert.h"

#include <stddef.h>
#include <stdio.h>

static const struct {
    const char *name;
    pb_severity sev;
    int file_level;
} pb__codes[PB_F__COUNT] = {
    [PB_F_NO_HEADER] = {"no-header", PB_SEV_ERROR, 1},
    [PB_F_DUPLICATE_COLUMN] = {"duplicate-column", PB_SEV_ERROR, 1},
    [PB_F_UNKNOWN_COLUMN] = {"unknown-column", PB_SEV_ERROR, 1},
    [PB_F_MISSING_COLUMN] = {"missing-column", PB_SEV_ERROR, 1},
    [PB_F_TWO_AMOUNT_COLUMNS] = {"two-amount-columns", PB_SEV_ERROR, 1},
    [PB_F_MALFORMED_CSV] = {"malformed-csv", PB_SEV_ERROR, 1},
    [PB_F_ENCODING] = {"encoding", PB_SEV_ERROR, 0},
    [PB_F_WRONG_FIELD_COUNT] = {"wrong-field-count", PB_SEV_ERROR, 0},
    [PB_F_MISSING_VALUE] = {"missing-value", PB_SEV_ERROR, 0},
    [PB_F_BAD_AMOUNT] = {"bad-amount", PB_SEV_ERROR, 0},
    [PB_F_AMOUNT_HAS_DECIMALS] = {"amount-has-decimals", PB_SEV_ERROR, 0},
    [PB_F_DECIMAL_COMMA] = {"decimal-comma", PB_SEV_ERROR, 0},
    [PB_F_AMOUNT_TOO_SMALL] = {"amount-too-small", PB_SEV_ERROR, 0},
    [PB_F_AMOUNT_TOO_LARGE] = {"amount-too-large", PB_SEV_ERROR, 0},
    [PB_F_CURRENCY_MISMATCH] = {"currency-mismatch", PB_SEV_ERROR, 0},
    [PB_F_CONVERTED_CURRENCY] = {"converted-currency", PB_SEV_WARNING, 0},
    [PB_F_UNKNOWN_METHOD] = {"unknown-method", PB_SEV_ERROR, 0},
    [PB_F_BAD_ACCOUNT_NUMBER] = {"bad-account-number", PB_SEV_ERROR, 0},
    [PB_F_LEADING_ZERO_LOST] = {"leading-zero-lost", PB_SEV_ERROR, 0},
    [PB_F_SCIENTIFIC_NOTATION] = {"scientific-notation", PB_SEV_ERROR, 0},
    [PB_F_BAD_IP] = {"bad-ip", PB_SEV_ERROR, 0},
    [PB_F_DUPLICATE_PAYMENT_ID] = {"duplicate-payment-id", PB_SEV_ERROR, 0},
    [PB_F_BAD_CHARACTERS] = {"bad-characters", PB_SEV_ERROR, 0},
    [PB_F_TOO_LONG] = {"too-long", PB_SEV_ERROR, 0},
    [PB_F_POSSIBLE_DUPLICATE_PAYOUT] = {"possible-duplicate-payout", PB_SEV_WARNING, 0},
    [PB_F_FORMULA_LIKE] = {"formula-like", PB_SEV_WARNING, 0},
    [PB_F_PAYMENT_ID_USED] = {"payment-id-used", PB_SEV_ERROR, 0},
    [PB_F_PAID_RECENTLY] = {"paid-recently", PB_SEV_WARNING, 0},
};

void pb_finding_vmake(pb_finding *f, pb_finding_code code, uint64_t row, const char *column,
                      uint64_t other_row, const char *fmt, va_list ap)
{
    f->code = code;
    f->row = row;
    f->column = column;
    f->other_row = other_row;
    f->escalated = 0;
    if (vsnprintf(f->message, sizeof(f->message), fmt, ap) < 0)
        f->message[0] = '\0';
}

void pb_finding_make(pb_finding *f, pb_finding_code code, uint64_t row, const char *column,
                     uint64_t other_row, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pb_finding_vmake(f, code, row, column, other_row, fmt, ap);
    va_end(ap);
}

const char *pb_finding_name(pb_finding_code code)
{
    if ((unsigned)code >= PB_F__COUNT)
        return "unknown";
    return pb__codes[code].name;
}

pb_severity pb_finding_severity(pb_finding_code code)
{
    if ((unsigned)code >= PB_F__COUNT)
        return PB_SEV_ERROR;
    return pb__codes[code].sev;
}

pb_severity pb_finding_sev(const pb_finding *f)
{
    return f->escalated ? PB_SEV_ERROR : pb_finding_severity(f->code);
}

int pb_finding_is_file_level(pb_finding_code code)
{
    return (unsigned)code < PB_F__COUNT && pb__codes[code].file_level;
}

const char *pb_severity_name(pb_severity s)
{
    return s == PB_SEV_WARNING ? "warning" : "error";
}

void pb_mask_account(const char *acct, size_t len, char *out, size_t outlen)
{
    size_t i, n, keep = len > 4 ? 4 : 0;
    if (outlen == 0)
        return;
    PB_ASSERT(out && (acct || len == 0));
    /* a number longer than the output keeps its tail: the last digits are what people match */
    n = len < outlen - 1 ? len : outlen - 1;
    for (i = 0; i < n; i++) {
        size_t src = len - n + i;
        out[i] = src >= len - keep ? acct[src] : '*';
    }
    out[n] = '\0';
}
