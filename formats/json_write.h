/*
 * json_write.h - append JSON string literals to a capped buffer.
 *
 * Used by the streaming report writers, which cannot hold a whole document in memory. Bytes
 * that are not valid UTF-8 (a message cut in the middle of a character) become U+FFFD, so the
 * output is always valid JSON.
 */
#ifndef PB_FORMATS_JSON_WRITE_H
#define PB_FORMATS_JSON_WRITE_H

#include "core/buf.h"

#include <stdint.h>

/* Append "s" with quotes and escapes. Returns 0, PB_ELIMIT, PB_ENOMEM. */
int pb_json_put_str(pb_buf *b, const char *s, size_t len);

/*
 * Add an integer member to a cJSON object as a raw token: cJSON keeps numbers as doubles,
 * which would round amounts and ids past 2^53. Every integer paybatch writes into JSON
 * (amounts, project ids) goes through here. Returns 0 or PB_ENOMEM.
 */
struct cJSON;
int pb_json_add_int(struct cJSON *obj, const char *key, int64_t v);

#endif
