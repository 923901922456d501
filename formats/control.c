#include "formats/control.h"

#include "core/errors.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int pb__space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* "rows" value: digits only, up to INT64_MAX */
static int pb__count(const char *s, size_t len, int64_t *out)
{
    int64_t n = 0;
    size_t i;
    if (!len || len > 18)
        return -1;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        n = n * 10 + (s[i] - '0');
    }
    *out = n;
    return 0;
}

int pb_control_parse(const char *data, size_t len, pb_guard_limits *l)
{
    size_t pos = 0, line = 0;
    int any = 0;

    if (len > PB_CONTROL_MAX_BYTES) {
        pb_error_set("the control file is over %d bytes: it holds a row count and totals only",
                     PB_CONTROL_MAX_BYTES);
        return PB_ELIMIT;
    }
    while (pos < len) {
        const char *p = data + pos, *nl = memchr(p, '\n', len - pos), *eq;
        size_t n = nl ? (size_t)(nl - p) : len - pos, kl, vs, vl;
        pos += n + (nl ? 1 : 0);
        line++;
        while (n && pb__space(*p))
            p++, n--;
        while (n && pb__space(p[n - 1]))
            n--;
        if (!n || *p == '#')
            continue;
        if (memchr(p, '\0', n)) {
            pb_error_set("line %zu: a NUL byte: the control file is text", line);
            return PB_EPARSE;
        }
        if (!(eq = memchr(p, '=', n))) {
            pb_error_set("line %zu: not a `key = value` line; use rows = N or total = CUR:AMOUNT",
                         line);
            return PB_EPARSE;
        }
        kl = (size_t)(eq - p);
        while (kl && pb__space(p[kl - 1]))
            kl--;
        vs = (size_t)(eq - p) + 1;
        while (vs < n && pb__space(p[vs]))
            vs++;
        vl = n - vs;
        if (kl == 4 && !strncasecmp(p, "rows", 4)) {
            if (l->expect_rows >= 0) {
                pb_error_set("line %zu: rows is given twice", line);
                return PB_EPARSE;
            }
            if (pb__count(p + vs, vl, &l->expect_rows) < 0) {
                pb_error_set("line %zu: rows = '%.*s': use a whole number of rows", line,
                             (int)(vl > 40 ? 40 : vl), p + vs);
                l->expect_rows = -1;
                return PB_EPARSE;
            }
        } else if (kl == 5 && !strncasecmp(p, "total", 5)) {
            pb_guard_money m;
            char why[400];
            int rc;
            if (pb_guard_money_parse(p + vs, vl, &m) < 0 ||
                (rc = pb_guard_money_add(l->expect_total, &l->n_expect_total, &m, "total")) < 0) {
                snprintf(why, sizeof(why), "%s", pb_error_last());
                pb_error_set("line %zu: %s", line, why);
                return PB_EPARSE;
            }
        } else {
            pb_error_set("line %zu: unknown key '%.*s'; the keys are rows and total", line,
                         (int)(kl > 40 ? 40 : kl), p);
            return PB_EPARSE;
        }
        any = 1;
    }
    if (!any) {
        pb_error_set("the control file names neither rows nor a total");
        return PB_EPARSE;
    }
    return 0;
}
