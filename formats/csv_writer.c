#include "formats/csv_writer.h"

#include "core/errors.h"
#include "core/validate.h"

#include <string.h>

static int pb__needs_quotes(const char *p, size_t len, char delim)
{
    size_t i;

    for (i = 0; i < len; i++) {
        char c = p[i];
        if (c == delim || c == '"' || c == '\r' || c == '\n')
            return 1;
    }
    return 0;
}

static int pb__write_field(pb_buf *out, const pb_str *f, char delim, int neutralize)
{
    const char *p = f->ptr, *q;
    size_t left = f->len;
    int rc, quote = pb__needs_quotes(f->ptr, f->len, delim);

    if (quote && (rc = pb_buf_putc(out, '"')) < 0)
        return rc;
    if (neutralize && pb_formula_like(*f) && (rc = pb_buf_putc(out, '\'')) < 0)
        return rc;
    if (!quote)
        return left ? pb_buf_put(out, p, left) : PB_OK;
    while ((q = memchr(p, '"', left)) != NULL) {
        size_t n = (size_t)(q - p) + 1; /* through the quote, then the quote again */
        if ((rc = pb_buf_put(out, p, n)) < 0 || (rc = pb_buf_putc(out, '"')) < 0)
            return rc;
        p += n;
        left -= n;
    }
    if (left && (rc = pb_buf_put(out, p, left)) < 0)
        return rc;
    return pb_buf_putc(out, '"');
}

int pb_csv_write_record(pb_buf *out, const pb_str *fields, size_t n, char delimiter,
                        int neutralize_formulas)
{
    size_t start, i;
    int rc = PB_OK;

    if (!out || (!fields && n) || delimiter == '"' || delimiter == '\r' || delimiter == '\n' ||
        delimiter == 0)
        return PB_EINVAL;
    start = out->len;
    for (i = 0; i < n; i++) {
        if (i && (rc = pb_buf_putc(out, delimiter)) < 0)
            goto out;
        if ((rc = pb__write_field(out, &fields[i], delimiter, neutralize_formulas)) < 0)
            goto out;
    }
    rc = pb_buf_put(out, "\r\n", 2);
out:
    if (rc < 0 && out->len > start)
        pb_buf_truncate(out, start);
    return rc;
}
