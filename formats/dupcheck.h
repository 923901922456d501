/*
 * dupcheck.h - cross-row duplicate detection in memory proportional to distinct keys.
 *
 * Keys are not stored, only a 64-bit keyed hash of them (SipHash-1-3): with a 1M-row file the
 * chance that two different ids share a hash is about 3e-8, and with a secret random key a
 * file cannot be crafted to make two different ids collide. Payment ids keep the row of their first
 * occurrence (12 bytes a slot) so the finding can name it; payout keys (method, account,
 * amount, currency) keep only the hash (8 bytes a slot); hash and row share one packed slot, so a
 * probe is one cache miss. Tables are Robin Hood hash sets that
 * grow by 1.5x at 75% load (or are sized once by pb_dupset_reserve), so 1M distinct ids cost
 * about 16 MiB + 11 MiB at most, never the file size.
 */
#ifndef PB_FORMATS_DUPCHECK_H
#define PB_FORMATS_DUPCHECK_H

#include <stddef.h>
#include <stdint.h>

typedef struct pb_dupset pb_dupset;

/* with_rows: remember the row of each first occurrence. key: the hash key (may be all 0). */
int pb_dupset_new(pb_dupset **out, int with_rows, const uint64_t key[2]);
/*
 * Insert the key, or find it. *first_row is 0 when the key is new, else the row it was first
 * seen in (1 when the set keeps no rows). Returns 0 or PB_ENOMEM.
 */
int pb_dupset_check(pb_dupset *s, const void *key, size_t len, uint32_t row, uint32_t *first_row);
/*
 * Make room for n keys in all (at up to 0.9 load) at once: one rehash now instead of a chain of
 * 1.5x growths, each of which holds the old and the new table. Returns 0 or PB_ENOMEM (the
 * set is unchanged then and still usable).
 */
int pb_dupset_reserve(pb_dupset *s, size_t n);
/* The hash pb_dupset_check uses for key. */
uint64_t pb_dupset_key_hash(const pb_dupset *s, const void *key, size_t len);
/* pb_dupset_check with the hash already computed by pb_dupset_key_hash. */
int pb_dupset_check_hashed(pb_dupset *s, uint64_t h, uint32_t row, uint32_t *first_row);
size_t pb_dupset_count(const pb_dupset *s);
size_t pb_dupset_bytes(const pb_dupset *s);
void pb_dupset_free(pb_dupset *s);

/* SipHash-1-3 of data under key k. */
uint64_t pb_dupset_hash(const uint64_t k[2], const void *data, size_t len);

#endif
