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
