#include "core/payout_state.h"

#include "core/errors.h"

#include <string.h>

static const char *const pb__names[PB_ROW_STATE_COUNT] = {
    "invalid",  "queued",  "sending", "in_doubt", "accepted",
    "rejected", "success", "decline", "error",    "reversed"};

const char *pb_row_state_name(pb_row_state s)
{
    if ((unsigned)s >= PB_ROW_STATE_COUNT)
        return "?";
    return pb__names[s];
}

int pb_row_state_parse(const char *name, size_t len, pb_row_state *out)
{
    for (unsigned i = 0; i < PB_ROW_STATE_COUNT; i++) {
        if (strlen(pb__names[i]) == len && memcmp(pb__names[i], name, len) == 0) {
            *out = (pb_row_state)i;
            return PB_OK;
        }
    }
    return PB_ENOTFOUND;
}

int pb_row_state_is_final(pb_row_state s)
{
    switch (s) {
    case PB_ROW_INVALID:
    case PB_ROW_REJECTED:
    case PB_ROW_SUCCESS:
    case PB_ROW_DECLINE:
    case PB_ROW_ERROR:
    case PB_ROW_REVERSED:
        return 1;
    default:
        return 0;
    }
}

/* The Gate's final verdicts on an accepted payment, which may also arrive (by callback or
 * status query) while we still think the row is sending or in doubt. */
static int pb__is_verdict(pb_row_state s)
{
    return s == PB_ROW_SUCCESS || s == PB_ROW_DECLINE || s == PB_ROW_ERROR;
}

int pb_row_state_allowed(pb_row_state from, pb_row_state to)
{
    if ((unsigned)from >= PB_ROW_STATE_COUNT || (unsigned)to >= PB_ROW_STATE_COUNT || from == to)
        return 0;
    switch (from) {
    case PB_ROW_QUEUED:
        return to == PB_ROW_SENDING;
    case PB_ROW_SENDING:
        return to == PB_ROW_ACCEPTED || to == PB_ROW_REJECTED || to == PB_ROW_IN_DOUBT ||
               to == PB_ROW_QUEUED || pb__is_verdict(to);
    case PB_ROW_IN_DOUBT:
        return to == PB_ROW_QUEUED || to == PB_ROW_ACCEPTED || to == PB_ROW_REJECTED ||
               pb__is_verdict(to);
    case PB_ROW_ACCEPTED:
        return pb__is_verdict(to);
    case PB_ROW_SUCCESS:
        return to == PB_ROW_REVERSED;
    default:
        return 0;
    }
}

void pb_row_field_set(char *dst, size_t cap, const char *src, size_t len)
{
    if (len > cap) {
        len = cap;
        /* never cut a UTF-8 sequence in half: back up to the start of the cut character */
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
            len--;
    }
    if (len)
        memcpy(dst, src, len);
    dst[len] = '\0';
}
