#include "core/str.h"

static int pb__lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

int pb_str_ieq(pb_str s, const char *c)
{
    size_t i;
    for (i = 0; i < s.len; i++) {
        if (c[i] == '\0' || pb__lower((unsigned char)s.ptr[i]) != pb__lower((unsigned char)c[i]))
            return 0;
    }
    return c[i] == '\0';
}

pb_str pb_str_trim(pb_str s)
{
    while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

void pb_hex_lower(const unsigned char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}
