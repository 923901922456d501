/*
 * http_request.c - request parsing adapter over http-parser 2.9.4 (see http_request.h).
 *
 * Storage per message: `head` holds "url\0" then "name\0value\0" per header, then
 * "path\0" and "query\0" copied out of the URL; `body` holds the decoded body. Both are
 * capped pb_bufs. http-parser is paused in pb__on_message_complete so that one feed never runs
 * past the end of a request (pipelining).
 */
#include "batch/net/http_request.h"

#include <http_parser.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"

enum { CUR_URL, CUR_FIELD, CUR_VALUE, CUR_DONE };

struct pb_httpreq_msg {
    pb_http_request req;
    pb_buf head;
    pb_buf body;
};

struct pb_httpreq_parser {
    http_parser hp;
    http_parser_settings settings;
    size_t max_header;
    size_t max_body;
    pb_httpreq_state_t state;
    int err_status;
    const char *err_msg;
    pb_httpreq_msg *msg; /* being built, or complete in READY */
    int cur;             /* which token the data callbacks are filling */
    size_t hdr_bytes;    /* counted against max_header */
    size_t nheaders;
    size_t hdrs_off;  /* start of the header pairs in msg->head */
    size_t hdrs_end;  /* end of the header pairs */
    size_t path_off;  /* offsets of the copied path / query in msg->head */
    size_t query_off; /* SIZE_MAX when there is no query */
};

static int pb__fail(pb_httpreq_parser *p, int status, const char *msg)
{
    p->err_status = status;
    p->err_msg = msg;
    /* -1 aborts http-parser from every callback (pb__on_headers_complete: 1 and 2 mean
     * "no body" and "upgrade", not failure) */
    return -1;
}

void pb_httpreq_msg_free(pb_httpreq_msg *m)
{
    if (!m)
        return;
    pb_buf_free(&m->head);
    pb_buf_free(&m->body);
    pb_free(m);
}

const pb_http_request *pb_httpreq_msg_request(const pb_httpreq_msg *m)
{
    return m ? &m->req : NULL;
}

static pb_httpreq_parser *pb__from_hp(http_parser *hp)
{
    return (pb_httpreq_parser *)hp->data;
}

/* Count header bytes against the cap; 431 beyond it. */
static int pb__count_header(pb_httpreq_parser *p, size_t n)
{
    if (n > p->max_header || p->hdr_bytes > p->max_header - n)
        return pb__fail(p, 431, "Request header fields too large");
    p->hdr_bytes += n;
    return 0;
}

static int pb__put_head(pb_httpreq_parser *p, const void *data, size_t n)
{
    int rc = pb_buf_put(&p->msg->head, data, n);
    if (rc == PB_ELIMIT)
        return pb__fail(p, 431, "Request header fields too large");
    if (rc != PB_OK)
        return pb__fail(p, 500, "Out of memory");
    return 0;
}

/* Append a copy of head[off, off+len) to head: grow first, then copy (put may move ptr). */
static int pb__copy_within(pb_httpreq_parser *p, size_t off, size_t len)
{
    pb_buf *h = &p->msg->head;
    size_t dst = h->len, i;

    for (i = 0; i < len; i++)
        if (pb__put_head(p, "", 1))
            return -1;
    memcpy(h->ptr + dst, h->ptr + off, len);
    return 0;
}

static int pb__on_message_begin(http_parser *hp)
{
    pb_httpreq_parser *p = pb__from_hp(hp);
    pb_httpreq_msg *m;

    pb_httpreq_msg_free(p->msg);
    p->msg = NULL;
    m = pb_calloc(1, sizeof(*m));
    if (!m)
        return pb__fail(p, 500, "Out of memory");
    /* head: logical cap is hdr_bytes; room for NULs, path and query copies on top */
    pb_buf_init(&m->head, 2 * p->max_header + 2 * PB_HTTPREQ_MAX_HEADERS + 16);
    pb_buf_init(&m->body, p->max_body);
    p->msg = m;
    p->cur = CUR_URL;
    p->hdr_bytes = 0;
    p->nheaders = 0;
    p->hdrs_off = p->hdrs_end = 0;
    p->path_off = 0;
    p->query_off = SIZE_MAX;
    p->state = PB_HTTPREQ_HEADERS;
    return 0;
}

static int pb__on_url(http_parser *hp, const char *at, size_t len)
{
    pb_httpreq_parser *p = pb__from_hp(hp);
    if (pb__count_header(p, len))
        return -1;
    return pb__put_head(p, at, len);
}

static int pb__on_header_field(http_parser *hp, const char *at, size_t len)
{
    pb_httpreq_parser *p = pb__from_hp(hp);

    if (pb__count_header(p, len))
        return -1;
    if (p->cur == CUR_DONE) /* trailer after a chunked body: counted, not kept */
        return 0;
    if (p->cur != CUR_FIELD) {
        if (p->nheaders >= PB_HTTPREQ_MAX_HEADERS)
            return pb__fail(p, 431, "Too many header fields");
        if (pb__count_header(p, 4) || pb__put_head(p, "", 1)) /* ends the url or previous value */
            return -1;
        if (p->cur == CUR_URL)
            p->hdrs_off = p->msg->head.len;
        p->nheaders++;
        p->cur = CUR_FIELD;
    }
    return pb__put_head(p, at, len);
}

static int pb__on_header_value(http_parser *hp, const char *at, size_t len)
{
    pb_httpreq_parser *p = pb__from_hp(hp);

    if (pb__count_header(p, len))
        return -1;
    if (p->cur == CUR_DONE)
        return 0;
    if (p->cur == CUR_FIELD) {
        if (pb__put_head(p, "", 1))
            return -1;
        p->cur = CUR_VALUE;
    }
    if (p->cur != CUR_VALUE)
        return pb__fail(p, 400, "Bad request");
    return pb__put_head(p, at, len);
}

static int pb__on_headers_complete(http_parser *hp)
{
    pb_httpreq_parser *p = pb__from_hp(hp);
    pb_httpreq_msg *m = p->msg;
    struct http_parser_url u;
    size_t url_len;
    const char *url;

    if (p->cur == CUR_URL) {
        if (pb__put_head(p, "", 1))
            return -1;
        url_len = m->head.len - 1;
        p->hdrs_off = p->hdrs_end = m->head.len;
    } else {
        if (p->cur == CUR_FIELD) /* http-parser does not end on a bare name; be safe */
            return pb__fail(p, 400, "Bad request");
        if (pb__put_head(p, "", 1))
            return -1;
        url_len = strlen(m->head.ptr);
        p->hdrs_end = m->head.len;
    }
    p->cur = CUR_DONE;

    if (hp->content_length != ULLONG_MAX && hp->content_length > (uint64_t)p->max_body)
        return pb__fail(p, 413, "Payload too large");

    url = m->head.ptr;
    http_parser_url_init(&u);
    if (url_len == 0 || http_parser_parse_url(url, url_len, hp->method == HTTP_CONNECT, &u) != 0)
        return pb__fail(p, 400, "Bad request target");
    /* copy path and query behind the headers so that they are NUL-terminated */
    p->path_off = m->head.len;
    if (u.field_set & (1 << UF_PATH)) {
        if (pb__copy_within(p, u.field_data[UF_PATH].off, u.field_data[UF_PATH].len))
            return -1;
    } else if (pb__put_head(p, "/", 1)) {
        return -1;
    }
    if (pb__put_head(p, "", 1))
        return -1;
    if (u.field_set & (1 << UF_QUERY)) {
        p->query_off = m->head.len;
        if (pb__copy_within(p, u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len) ||
            pb__put_head(p, "", 1))
            return -1;
    }
    p->state = PB_HTTPREQ_BODY;
    return 0;
}

static int pb__on_body(http_parser *hp, const char *at, size_t len)
{
    pb_httpreq_parser *p = pb__from_hp(hp);
    int rc = pb_buf_put(&p->msg->body, at, len);
    if (rc == PB_ELIMIT)
        return pb__fail(p, 413, "Payload too large");
    if (rc != PB_OK)
        return pb__fail(p, 500, "Out of memory");
    return 0;
}

static int pb__on_message_complete(http_parser *hp)
{
    pb_httpreq_parser *p = pb__from_hp(hp);
    pb_httpreq_msg *m = p->msg;
    pb_http_request *r = &m->req;

    r->method = http_method_str((enum http_method)hp->method);
    r->path = m->head.ptr + p->path_off;
    r->query = p->query_off == SIZE_MAX ? NULL : m->head.ptr + p->query_off;
    r->body = pb_buf_cstr(&m->body);
    r->body_len = m->body.len;
    r->http_minor = hp->http_major == 1 ? hp->http_minor : 0;
    r->keep_alive = http_should_keep_alive(hp) && !hp->upgrade && hp->http_major == 1;
    r->hdrs_ = m->head.ptr + p->hdrs_off;
    r->hdrs_len_ = p->hdrs_end - p->hdrs_off;
    r->content_type = pb_http_request_header(r, "Content-Type");
    p->state = PB_HTTPREQ_READY;
    http_parser_pause(hp, 1); /* stop right after this request */
    return 0;
}

int pb_httpreq_parser_new(pb_httpreq_parser **out, const pb_httpreq_limits *limits)
{
    pb_httpreq_parser *p;

    if (!out)
        return PB_EINVAL;
    *out = NULL;
    p = pb_calloc(1, sizeof(*p));
    if (!p)
        return PB_ENOMEM;
    p->max_header = limits && limits->max_header_bytes ? limits->max_header_bytes
                                                       : PB_HTTPREQ_DEFAULT_MAX_HEADER;
    p->max_body =
        limits && limits->max_body_bytes ? limits->max_body_bytes : PB_HTTPREQ_DEFAULT_MAX_BODY;
    http_parser_init(&p->hp, HTTP_REQUEST);
    p->hp.data = p;
    http_parser_settings_init(&p->settings);
    p->settings.on_message_begin = pb__on_message_begin;
    p->settings.on_url = pb__on_url;
    p->settings.on_header_field = pb__on_header_field;
    p->settings.on_header_value = pb__on_header_value;
    p->settings.on_headers_complete = pb__on_headers_complete;
    p->settings.on_body = pb__on_body;
    p->settings.on_message_complete = pb__on_message_complete;
    p->state = PB_HTTPREQ_IDLE;
    p->err_msg = "";
    *out = p;
    return PB_OK;
}

void pb_httpreq_parser_free(pb_httpreq_parser *p)
{
    if (!p)
        return;
    pb_httpreq_msg_free(p->msg);
    pb_free(p);
}

pb_httpreq_state_t pb_httpreq_state(const pb_httpreq_parser *p)
{
    return p->state;
}

int pb_httpreq_error_status(const pb_httpreq_parser *p)
{
    return p->state == PB_HTTPREQ_ERROR ? p->err_status : 0;
}

const char *pb_httpreq_error_message(const pb_httpreq_parser *p)
{
    return p->state == PB_HTTPREQ_ERROR ? p->err_msg : "";
}

int pb_httpreq_feed(pb_httpreq_parser *p, const char *data, size_t len, size_t *used)
{
    size_t n;
    enum http_errno e;

    *used = 0;
    if (p->state == PB_HTTPREQ_ERROR)
        return p->err_status == 413 || p->err_status == 431 ? PB_ELIMIT : PB_EPARSE;
    if (p->state == PB_HTTPREQ_READY || len == 0)
        return PB_OK;
    n = http_parser_execute(&p->hp, &p->settings, data, len);
    e = HTTP_PARSER_ERRNO(&p->hp);
    if (e == HPE_PAUSED && p->state == PB_HTTPREQ_READY) {
        *used = n;
        return PB_OK;
    }
    if (e == HPE_OK) {
        *used = n;
        if (n == len || p->state == PB_HTTPREQ_READY)
            return PB_OK;
        /* http-parser stopped early without an error: after an upgrade request */
        p->err_status = 400;
        p->err_msg = "Bad request";
    } else if (e == HPE_HEADER_OVERFLOW) {
        p->err_status = 431;
        p->err_msg = "Request header fields too large";
    } else if (e >= HPE_CB_message_begin && e <= HPE_CB_chunk_complete && p->err_status) {
        /* our callback chose the status */
    } else {
        p->err_status = 400;
        p->err_msg = "Bad request";
    }
    *used = n;
    p->state = PB_HTTPREQ_ERROR;
    pb_httpreq_msg_free(p->msg);
    p->msg = NULL;
    return p->err_status == 413 || p->err_status == 431 ? PB_ELIMIT : PB_EPARSE;
}

int pb_httpreq_take(pb_httpreq_parser *p, pb_httpreq_msg **out)
{
    if (!out)
        return PB_EINVAL;
    *out = NULL;
    if (p->state != PB_HTTPREQ_READY)
        return PB_EINVAL;
    *out = p->msg;
    p->msg = NULL;
    if (!(*out)->req.keep_alive) {
        /* nothing may follow on this connection (Connection: close, HTTP/1.0, upgrade) */
        p->state = PB_HTTPREQ_ERROR;
        p->err_status = 400;
        p->err_msg = "Request after Connection: close";
        return PB_OK;
    }
    http_parser_pause(&p->hp, 0);
    p->state = PB_HTTPREQ_IDLE;
    return PB_OK;
}

int pb_http_request_header_next(const pb_http_request *req, size_t *pos, const char **name,
                                const char **value)
{
    const char *base = req->hdrs_, *nend, *vend;
    size_t len = req->hdrs_len_;

    if (!base || *pos >= len)
        return PB_ENOTFOUND;
    nend = memchr(base + *pos, '\0', len - *pos);
    if (!nend || (size_t)(nend - base) + 1 >= len)
        return PB_ENOTFOUND;
    vend = memchr(nend + 1, '\0', len - (size_t)(nend + 1 - base));
    if (!vend)
        return PB_ENOTFOUND;
    *name = base + *pos;
    *value = nend + 1;
    *pos = (size_t)(vend - base) + 1;
    return PB_OK;
}

const char *pb_http_request_header(const pb_http_request *req, const char *name)
{
    size_t pos = 0;
    const char *n, *v;

    while (pb_http_request_header_next(req, &pos, &n, &v) == PB_OK) {
        if (strcasecmp(n, name) == 0)
            return v;
    }
    return NULL;
}
