#include "formats/json_write.h"

#include "core/errors.h"
#include "core/utf8.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

int pb_json_put_str(pb_buf *b, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;
    int rc;

    if ((rc = pb_buf_putc(b, '"')) < 0)
        return rc;
    while (i < len) {
        unsigned char c = p[i];
        size_t ul;
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            run++, i++;
            continue;
        }
        if (run && (rc = pb_buf_put(b, s + i - run, run)) < 0)
            return rc;
        run = 0;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            rc = pb_buf_put(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            rc = c == '\n'   ? pb_buf_puts(b, "\\n")
                 : c == '\r' ? pb_buf_puts(b, "\\r")
                 : c == '\t' ? pb_buf_puts(b, "\\t")
                             : pb_buf_printf(b, "\\u%04x", c);
            i++;
        } else if ((ul = pb_utf8_seq_len(p + i, len - i)) > 0) {
            rc = pb_buf_put(b, s + i, ul);
            i += ul;
        } else {
            rc = pb_buf_puts(b, "\xEF\xBF\xBD"); /* U+FFFD */
            i++;
        }
        if (rc < 0)
            return rc;
    }
    if (run && (rc = pb_buf_put(b, s + i - run, run)) < 0)
        return rc;
    return pb_buf_putc(b, '"');
}

int pb_json_add_int(struct cJSON *obj, const char *key, int64_t v)
{
    char num[24];
    snprintf(num, sizeof(num), "%" PRId64, v);
    return cJSON_AddRawToObject(obj, key, num) ? PB_OK : PB_ENOMEM;
}
