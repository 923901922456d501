/*
 * http_response.c - pure helpers for building HTTP responses (see http_response.h).
 */
#include "batch/net/http_response.h"

#include <string.h>

#include "core/errors.h"
#include "formats/json_write.h"

const char *pb_http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Payload Too Large";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Status";
    }
}

int pb_http_has_crlf(const char *s)
{
    return s && strpbrk(s, "\r\n") != NULL;
}

/* extra headers: NULL, or lines "Name: value\r\n" with no empty line and no bare CR/LF */
int pb_http_extra_headers_ok(const char *s)
{
    const char *p;
    size_t n;

    if (!s)
        return 1;
    n = strlen(s);
    if (n == 0)
        return 1;
    if (n < 2 || s[n - 2] != '\r' || s[n - 1] != '\n' || s[0] == '\r')
        return 0;
    for (p = s; *p; p++) {
        if (*p == '\r' && (p[1] != '\n' || p[2] == '\r'))
            return 0;
        if (*p == '\n' && (p == s || p[-1] != '\r'))
            return 0;
    }
    return 1;
}

int pb_http_json_error(pb_buf *b, int status, const char *message)
{
    const char *m = message ? message : "";
    int rc = pb_buf_printf(b, "{\"status\":\"error\",\"code\":\"%d\",\"message\":", status);
    if (rc == PB_OK)
        rc = pb_json_put_str(b, m, strlen(m));
    if (rc == PB_OK)
        rc = pb_buf_putc(b, '}');
    return rc;
}
