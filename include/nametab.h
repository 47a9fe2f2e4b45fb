/*
 * nametab: a hash table of named entries, for names a peer picks.
 *
 * Intrusive: the caller embeds a struct nametab_entry in its own object,
 * points the entry at the object's name, and gets the object back from a
 * found entry with nametab_owner.  Chained, over a power-of-two bucket
 * array that doubles whenever the table holds as many entries as buckets.
 * Names are hashed with SipHash-2-4 under a random key, so that names a
 * peer chooses cannot be made to share one chain.
 *
 * Ownership: the table owns its bucket array only.  An entry and the name
 * it points at are the caller's and must stay where they are while the
 * entry is on a table.
 *
 * Threads: none of its own; the caller serializes every call.
 */
#ifndef FCGI_APP_NAMETAB_H
#define FCGI_APP_NAMETAB_H

#include <stddef.h>
#include <stdint.h>

struct nametab_entry {
	const char *name; /* the caller's: len bytes, any bytes */
	size_t len;
	/* The table's own, set by nametab_insert. */
	struct nametab_entry *next;
	uint64_t hash;
};

/* Public so that an owner can embed it; the members are the table's own,
 * read through the functions below. */
struct nametab {
	struct nametab_entry **buckets;
	size_t nbuckets, count;
	uint64_t key[2];
};

/* The object of type `type` whose member `member` is the entry e. */
#define nametab_owner(e, type, member) \
	((type *)(void *)((char *)(e) - offsetof(type, member)))

/* An empty table (no allocation yet) with a random key; without entropy
 * (very early boot) the key comes from the clock and the table's address,
 * which only weakens the flooding defence. */
void nametab_init(struct nametab *t);
/* An empty table with a fixed key, for tests that need names to collide. */
void nametab_init_key(struct nametab *t, uint64_t k0, uint64_t k1);
/* Frees the bucket array.  Entries still on the table stay the caller's;
 * the table is empty afterwards. */
void nametab_fini(struct nametab *t);

/* The entry named name (len bytes), or NULL. */
struct nametab_entry *nametab_find(const struct nametab *t, const char *name,
                                   size_t len);
/* Adds e, whose name and len are set; no entry of that name may be on t
 * already.  0, or -ENOMEM when the buckets cannot grow (t unchanged, e not
 * added). */
int nametab_insert(struct nametab *t, struct nametab_entry *e);
/* Takes e, which is on t, off it. */
void nametab_remove(struct nametab *t, struct nametab_entry *e);

size_t nametab_count(const struct nametab *t);
/* Buckets allocated now (0 before the first insert). */
size_t nametab_buckets(const struct nametab *t);

/* SipHash-2-4 of len bytes at p under the 128-bit key (k0, k1) (the key's
 * bytes in little-endian order): the table's hash, public so that tests
 * can check it against the reference vectors. */
uint64_t nametab_siphash(uint64_t k0, uint64_t k1, const void *p, size_t len);

#endif
