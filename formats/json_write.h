/*
 * json_write.h - append JSON string literals to a capped buffer.
 *
 * Used by the streaming report writers, which cannot hold a whole document in memory. Bytes
 * that are not valid UTF-8 (a message cut in the middle of a character) become U+FFFD, so the
 * output is always valid JSON.
 */
#ifndef PB_JSON_WRITE_H
#define PB_JSON_WRITE_H

#include "core/buf.h"

/* Append "s" with quotes and escapes. Returns 0, PB_ELIMIT, PB_ENOMEM. */
int pb_json_put_str(pb_buf *b, const char *s, size_t len);

#endif
