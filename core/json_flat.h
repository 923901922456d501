/*
 * json_flat.h - strict JSON text -> sorted "PATH:VALUE" entries (ecommpay signature input).
 *
 * pb_flat_parse() reads a JSON object given as text (RFC 8259, strict: no trailing garbage,
 * valid escapes, valid UTF-8, no lone surrogates) in one pass, without building a tree, and
 * records one entry per leaf value: PATH is the chain of member names (every ':' in a name
 * doubled) and 0-based array indices joined with ':'; VALUE is the decoded string, the
 * original number token, 1/0 for true/false, "" for null. Members named exactly "signature"
 * or "frame_mode" are dropped at any depth (still syntax-checked); empty {} / [] give nothing.
 * Optionally the top-level "signature" and "general"."signature" strings are captured.
 * The tokens (strings, numbers, literals) come from the strict scanner in core/json_scan.
 *
 * Memory is bounded by the caps below: all entries live in two capped pb_bufs, the parser
 * recurses at most PB_FLAT_MAX_DEPTH levels. Hitting a cap returns PB_ELIMIT.
 *
 * Ownership: a pb_flat owns every buffer inside it; the caller owns the pb_flat itself
 * (usually on the stack) and releases it with pb_flat_free(). Entry pointers (pb_flat_entry.s)
 * point into f->arena and stay valid until pb_flat_free(). Input text is only read.
 */
#ifndef PB_CORE_JSON_FLAT_H
#define PB_CORE_JSON_FLAT_H

#include <stddef.h>

#include "core/buf.h"

#define PB_FLAT_MAX_JSON    (1024u * 1024u)      /* input text, bytes */
#define PB_FLAT_MAX_DEPTH   32                   /* nested objects/arrays, top object = 1 */
#define PB_FLAT_MAX_PATH    (64u * 1024u)        /* one PATH or one member name, bytes */
#define PB_FLAT_MAX_ENTRIES 65536u               /* leaf entries */
#define PB_FLAT_MAX_TOTAL   (4u * 1024u * 1024u) /* all entries joined with ';', bytes */
#define PB_FLAT_MAX_SIG     256u                 /* captured signature string; longer = bad */

typedef struct {
    const char *s; /* "PATH:VALUE" inside the arena (valid after pb_flat_parse succeeded) */
    size_t off;    /* offset of s in the arena */
    size_t plen;   /* PATH length; s[plen] == ':' */
    size_t vlen;   /* VALUE length, starts at s + plen + 1 */
} pb_flat_entry;

typedef enum {
    PB_FLAT_ORDER_PATH,    /* PATH bytes (memcmp): the normative order (PHP/Python-like) */
    PB_FLAT_ORDER_NATURAL, /* PATH with digit runs compared numerically (PHP SORT_NATURAL) */
    PB_FLAT_ORDER_WHOLE    /* whole "PATH:VALUE" bytes (Go sort.Strings, Java) */
} pb_flat_order;

typedef struct {
    pb_buf arena;                   /* "PATH:VALUE" bytes of every entry, back to back */
    pb_buf ents;                    /* pb_flat_entry[count] */
    size_t count;                   /* number of entries */
    int has_array;                  /* a non-empty array was flattened */
    int sig_top;                    /* 1 when a top-level "signature" string was captured */
    int sig_gen;                    /* 1 when a "general"."signature" string was captured */
    int sig_top_long, sig_gen_long; /* captured string exceeded PB_FLAT_MAX_SIG */
    pb_buf sig_top_s, sig_gen_s;    /* captured strings (decoded) */
} pb_flat;

void pb_flat_init(pb_flat *f);
/*
 * Parse json[0..len) into f (which must be freshly initialised). capture_sig != 0 captures
 * the signature strings; a second one at the same place is then PB_EPARSE (ambiguous).
 * Returns 0, PB_EPARSE (not a strict JSON object), PB_ELIMIT (a cap), PB_ENOMEM.
 */
int pb_flat_parse(pb_flat *f, const char *json, size_t len, int capture_sig);
/* Sort the entries. With PB_FLAT_ORDER_PATH two equal PATHs (duplicate member names) are
 * PB_EPARSE, since their order would be undefined. */
int pb_flat_sort(pb_flat *f, pb_flat_order order);
/* Append the entries in their current order, joined with ';'. On failure out may hold a
 * partial result (the caller truncates). Returns 0, PB_ELIMIT, PB_ENOMEM. */
int pb_flat_join(const pb_flat *f, pb_buf *out);
/* Release everything f owns; f may then be initialised again. Accepts NULL. */
void pb_flat_free(pb_flat *f);

#endif
