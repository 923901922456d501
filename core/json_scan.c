#include "core/json_scan.h"

#include "core/assert.h"
#include "core/errors.h"
#include "core/utf8.h"

#include <string.h>

void pb_json_scan_init(pb_json_scan *s, const char *json, size_t len)
{
    s->p = (const unsigned char *)json;
    s->end = s->p + len;
}

void pb_json_scan_ws(pb_json_scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* Append to dst unless dst is NULL (validate only). With a non-NULL *over, running into the
 * cap sets *over and drops the rest instead of failing. */
static int pb__out(pb_buf *dst, int *over, const void *s, size_t n)
{
    int rc;
    if (!dst || (over && *over))
        return PB_OK;
    rc = pb_buf_put(dst, s, n);
    if (rc == PB_ELIMIT && over) {
        *over = 1;
        return PB_OK;
    }
    return rc;
}

static int pb__hex4(const unsigned char *p, const unsigned char *end, unsigned *cp)
{
    unsigned v = 0;
    int i;
    if (end - p < 4)
        return PB_EPARSE;
    for (i = 0; i < 4; i++) {
        unsigned c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return PB_EPARSE;
    }
    *cp = v;
    return PB_OK;
}

/* One escape sequence after the backslash at s->p; appends the decoded bytes. */
static int pb__escape(pb_json_scan *s, pb_buf *dst, int *over)
{
    const unsigned char *p = s->p + 1;
    unsigned char u[4];
    unsigned cp, lo;
    size_t n;
    int rc;

    if (p >= s->end)
        return PB_EPARSE;
    if (*p != 'u') {
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *hit = *p ? strchr(from, *p) : NULL;
        if (!hit)
            return PB_EPARSE;
        s->p = p + 1;
        return pb__out(dst, over, &to[hit - from], 1);
    }
    if ((rc = pb__hex4(p + 1, s->end, &cp)) < 0)
        return rc;
    p += 5;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return PB_EPARSE; /* lone low surrogate */
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (s->end - p < 6 || p[0] != '\\' || p[1] != 'u')
            return PB_EPARSE;
        if ((rc = pb__hex4(p + 2, s->end, &lo)) < 0)
            return rc;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return PB_EPARSE;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
    }
    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | (cp >> 18));
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    s->p = p;
    return pb__out(dst, over, u, n);
}

/* The string at s->p (on its opening quote), decoded into dst (NULL: validate only). */
int pb_json_scan_string(pb_json_scan *s, pb_buf *dst, int *over)
{
    int rc;

    PB_ASSERT(s->p < s->end && *s->p == '"'); /* called on the opening quote */
    s->p++;
    for (;;) {
        const unsigned char *run = s->p;
        unsigned char c;

        while (s->p < s->end && *s->p >= 0x20 && *s->p < 0x80 && *s->p != '"' && *s->p != '\\')
            s->p++;
        if ((rc = pb__out(dst, over, run, (size_t)(s->p - run))) < 0)
            return rc;
        if (s->p >= s->end)
            return PB_EPARSE;
        c = *s->p;
        if (c == '"') {
            s->p++;
            return PB_OK;
        }
        if (c < 0x20)
            return PB_EPARSE;
        if (c == '\\') {
            rc = pb__escape(s, dst, over);
        } else {
            size_t n = pb_utf8_seq_len(s->p, (size_t)(s->end - s->p));
            if (!n)
                return PB_EPARSE;
            rc = pb__out(dst, over, s->p, n);
            s->p += n;
        }
        if (rc < 0)
            return rc;
    }
}

/* Scan a number token; *len gets its length. */
int pb_json_scan_number(pb_json_scan *s, size_t *len)
{
    const unsigned char *start = s->p, *p = s->p, *e = s->end;

#define PB__DIGIT(q) ((q) < e && *(q) >= '0' && *(q) <= '9')
    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0')
        p++;
    else if (PB__DIGIT(p))
        while (PB__DIGIT(p))
            p++;
    else
        return PB_EPARSE;
    if (p < e && *p == '.') {
        p++;
        if (!PB__DIGIT(p))
            return PB_EPARSE;
        while (PB__DIGIT(p))
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (!PB__DIGIT(p))
            return PB_EPARSE;
        while (PB__DIGIT(p))
            p++;
    }
#undef PB__DIGIT
    *len = (size_t)(p - start);
    s->p = p;
    return PB_OK;
}

int pb_json_scan_literal(pb_json_scan *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return PB_EPARSE;
    s->p += n;
    return PB_OK;
}

/* Member lookup: path is what is still to be matched below this value (NULL: just check). */
typedef struct {
    pb_json_scan s;
    pb_json_token *out;
    int found;
    pb_buf key; /* scratch for escaped member names */
} pb__get;

static int pb__get_value(pb__get *g, int depth, const char *const *path, size_t n);

/* 1 when the member name at g->s.p (on its quote) is want; the cursor moves past it. */
static int pb__key_is(pb__get *g, const char *want, int *is)
{
    const unsigned char *q = g->s.p + 1, *start = q;
    int rc, over = 0;

    while (q < g->s.end && *q != '"' && *q != '\\')
        q++;
    if (q < g->s.end && *q == '"') { /* no escapes: compare the bytes as written */
        size_t n = (size_t)(q - start);
        if ((rc = pb_json_scan_string(&g->s, NULL, NULL)) < 0)
            return rc;
        *is = want && strlen(want) == n && memcmp(start, want, n) == 0;
        return PB_OK;
    }
    pb_buf_clear(&g->key);
    if ((rc = pb_json_scan_string(&g->s, want ? &g->key : NULL, &over)) < 0)
        return rc;
    *is = want && !over && strlen(want) == g->key.len && memcmp(g->key.ptr, want, g->key.len) == 0;
    return PB_OK;
}

static int pb__get_container(pb__get *g, int depth, const char *const *path, size_t n)
{
    int obj = *g->s.p == '{', rc, is;
    unsigned char close = obj ? '}' : ']';

    if (depth >= PB_JSON_MAX_DEPTH)
        return PB_ELIMIT;
    g->s.p++;
    pb_json_scan_ws(&g->s);
    if (g->s.p < g->s.end && *g->s.p == close) {
        g->s.p++;
        return PB_OK;
    }
    for (;;) {
        pb_json_scan_ws(&g->s);
        is = 0;
        if (obj) {
            if (g->s.p >= g->s.end || *g->s.p != '"')
                return PB_EPARSE;
            if ((rc = pb__key_is(g, path ? path[0] : NULL, &is)) < 0)
                return rc;
            pb_json_scan_ws(&g->s);
            if (g->s.p >= g->s.end || *g->s.p != ':')
                return PB_EPARSE;
            g->s.p++;
            pb_json_scan_ws(&g->s);
        }
        if ((rc = pb__get_value(g, depth + 1, is ? path + 1 : NULL, is ? n - 1 : 0)) < 0)
            return rc;
        pb_json_scan_ws(&g->s);
        if (g->s.p < g->s.end && *g->s.p == ',') {
            g->s.p++;
            continue;
        }
        if (g->s.p < g->s.end && *g->s.p == close) {
            g->s.p++;
            return PB_OK;
        }
        return PB_EPARSE;
    }
}

static int pb__get_value(pb__get *g, int depth, const char *const *path, size_t n)
{
    const unsigned char *start = g->s.p;
    pb_json_type type;
    size_t len;
    int rc;

    if (g->s.p >= g->s.end)
        return PB_EPARSE;
    switch (*g->s.p) {
    case '{':
    case '[':
        type = *g->s.p == '{' ? PB_JSON_OBJECT : PB_JSON_ARRAY;
        rc = pb__get_container(g, depth, path && n && type == PB_JSON_OBJECT ? path : NULL, n);
        break;
    case '"':
        type = PB_JSON_STRING;
        rc = pb_json_scan_string(&g->s, NULL, NULL);
        break;
    case 't':
        type = PB_JSON_TRUE;
        rc = pb_json_scan_literal(&g->s, "true");
        break;
    case 'f':
        type = PB_JSON_FALSE;
        rc = pb_json_scan_literal(&g->s, "false");
        break;
    case 'n':
        type = PB_JSON_NULL;
        rc = pb_json_scan_literal(&g->s, "null");
        break;
    default:
        type = PB_JSON_NUMBER;
        rc = pb_json_scan_number(&g->s, &len);
        break;
    }
    if (rc < 0 || !path || n > 0)
        return rc;
    if (g->found)
        return PB_EPARSE; /* the same path twice */
    g->found = 1;
    g->out->type = type;
    g->out->text = pb_str_make((const char *)start, (size_t)(g->s.p - start));
    return PB_OK;
}

static const char *const pb__whole[1] = {NULL}; /* depth 0: the top value itself */

int pb_json_get(const char *json, size_t len, const char *const *path, size_t depth,
                pb_json_token *out)
{
    pb__get g;
    int rc;

    if ((!json && len) || (!path && depth) || !out)
        return PB_EINVAL;
    memset(&g, 0, sizeof(g));
    pb_json_scan_init(&g.s, json, len);
    g.out = out;
    pb_buf_init(&g.key, 256); /* longer names are never a path we look for */
    pb_json_scan_ws(&g.s);
    rc = pb__get_value(&g, 0, path ? path : pb__whole, depth);
    if (rc < 0)
        goto out;
    pb_json_scan_ws(&g.s);
    if (g.s.p != g.s.end) {
        rc = PB_EPARSE;
        goto out;
    }
    rc = g.found ? PB_OK : PB_ENOTFOUND;
out:
    pb_buf_free(&g.key);
    return rc;
}

int pb_json_int64(pb_str t, int64_t *v)
{
    size_t i = 0;
    uint64_t mag = 0, lim;
    int neg;

    if (t.len == 0 || !v)
        return PB_EINVAL;
    neg = t.ptr[0] == '-';
    i = (size_t)neg;
    if (i == t.len || (t.ptr[i] == '0' && t.len > i + 1))
        return PB_EINVAL; /* "-" alone, or a leading zero (not JSON) */
    lim = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    for (; i < t.len; i++) {
        unsigned d;
        if (t.ptr[i] < '0' || t.ptr[i] > '9')
            return PB_EINVAL; /* fraction or exponent: not an integer token */
        d = (unsigned)(t.ptr[i] - '0');
        if (mag > (lim - d) / 10)
            return PB_ERANGE;
        mag = mag * 10 + d;
    }
    *v = neg ? (mag == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
    return PB_OK;
}
