/*
 * dupcheck.h - cross-row duplicate detection: an exact set of keys in ~6 bytes per distinct key.
 *
 * Keys are not stored. Each slot holds the row the key first came from, a short fingerprint
 * (10 bits of a 64-bit keyed SipHash-1-3, beside the ~20 bits that chose the slot) and the
 * slot's distance from its home (Robin Hood): 5 bytes in a table sized for the whole input, 6
 * (18-bit fingerprint) in the tables of a set that grows, 8 once rows pass 2^24. A fingerprint
 * match is only a candidate: the caller's confirm callback compares the key with the text of
 * the earlier row, so a finding is never reported for two different keys, whatever the hash
 * does (issue 17). Candidates that are not the key are rare (about one probe in a thousand).
 *
 * Without the full hash a table cannot be rehashed, so the set is a chain of tables: a full
 * table stays as it is and a new one (sized by pb_dupset_reserve, or twice the keys so far)
 * takes the new keys; a lookup probes each. Memory is proportional to distinct keys, never to
 * the file's size. The set owns its tables; the confirm callback owns nothing of it.
 */
#ifndef PB_FORMATS_DUPCHECK_H
#define PB_FORMATS_DUPCHECK_H

#include <stddef.h>
#include <stdint.h>

typedef struct pb_dupset pb_dupset;

/*
 * Is the key of this lookup the key first seen in `row`? Set *same to 1 or 0; return 0, or a
 * negative PB_E... code that ends the lookup (pb_dupset_check returns it).
 */
typedef int (*pb_dupset_confirm_cb)(uint64_t row, int *same, void *ctx);

/* key: the hash key (may be NULL: all 0). */
int pb_dupset_new(pb_dupset **out, const uint64_t key[2]);
/*
 * Look the key up by its hash h (pb_dupset_key_hash): *first_row is the row it was first
 * seen in, or 0 when it is new, and then it is added with `row` (>= 1). Every fingerprint
 * match is confirmed through confirm(row_of_candidate, &same, ctx) before it counts.
 * Returns 0, PB_ENOMEM (the set is unchanged and still usable) or confirm's error.
 */
int pb_dupset_check(pb_dupset *s, uint64_t h, uint64_t row, pb_dupset_confirm_cb confirm, void *ctx,
                    uint64_t *first_row);
/*
 * Make room for n keys in all (at up to 0.9 load) at once: one table of the right size
 * instead of a chain of growing ones. Returns 0 or PB_ENOMEM (the set is unchanged then).
 */
int pb_dupset_reserve(pb_dupset *s, size_t n);
/* Start loading the slots a lookup of h will read (a hint: no effect on results). */
void pb_dupset_prefetch(const pb_dupset *s, uint64_t h);
/* The hash pb_dupset_check takes for key. */
uint64_t pb_dupset_key_hash(const pb_dupset *s, const void *key, size_t len);
/*
 * Tests only: every hash is ANDed with mask, so that unrelated keys share slots and
 * fingerprints and the confirm path is exercised. Results stay exact, only slower.
 */
void pb_dupset_weaken(pb_dupset *s, uint64_t mask);
size_t pb_dupset_count(const pb_dupset *s);
size_t pb_dupset_bytes(const pb_dupset *s);
/* Fingerprint matches that confirm said were another key (for benchmarks and tests). */
uint64_t pb_dupset_false_matches(const pb_dupset *s);
void pb_dupset_free(pb_dupset *s);

/* SipHash-1-3 of data under key k (never 0). */
uint64_t pb_dupset_hash(const uint64_t k[2], const void *data, size_t len);

#endif
