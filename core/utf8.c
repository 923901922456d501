#include "core/utf8.h"

#include <stdint.h>
#include <string.h>

size_t pb_utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned char c, lo = 0x80, hi = 0xBF;
    size_t need, i;

    if (n == 0)
        return 0;
    c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0; /* continuation byte, overlong 2-byte lead (C0, C1), F5..FF */
    }
    if (n < need || p[1] < lo || p[1] > hi)
        return 0;
    for (i = 2; i < need; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return need;
}

int pb_utf8_valid(const void *s, size_t n)
{
    const unsigned char *p = s;
    size_t i = 0, k;

    while (i < n) {
        if (p[i] < 0x80) {
            uint64_t w;
            i++;
            while (i + 8 <= n) {
                memcpy(&w, p + i, 8);
                if (w & 0x8080808080808080ULL)
                    break;
                i += 8;
            }
            while (i < n && p[i] < 0x80)
                i++;
            continue;
        }
        if ((k = pb_utf8_seq_len(p + i, n - i)) == 0)
            return 0;
        i += k;
    }
    return 1;
}
