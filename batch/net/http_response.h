/*
 * http_response.h - pure helpers for building HTTP/1.1 responses (no I/O).
 *
 * Used by the server (batch/http_server.c) and the router; all strings returned are static.
 */
#ifndef PB_NET_HTTP_RESPONSE_H
#define PB_NET_HTTP_RESPONSE_H

#include "core/buf.h"

/* Reason phrase for a status ("Not Found"); "Status" for unknown codes. Never NULL. */
const char *pb_http_reason(int status);
/* 1 when s (may be NULL) contains CR or LF. */
int pb_http_has_crlf(const char *s);
/* 1 when s is NULL, "", or complete header lines "Name: value\r\n" without bare CR/LF or
 * an empty line (so a caller cannot end the header block early). */
int pb_http_extra_headers_ok(const char *s);
/* Append {"status":"error","code":"<status>","message":"<message, JSON-escaped>"} to b
 * (escaped by pb_json_put_str: invalid UTF-8 becomes U+FFFD).
 * PB_OK, PB_ELIMIT (b's cap) or PB_ENOMEM. */
int pb_http_json_error(pb_buf *b, int status, const char *message);

#endif
