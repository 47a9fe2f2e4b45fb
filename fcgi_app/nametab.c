/* nametab: a hash table of named entries, keyed by SipHash-2-4 (see
 * nametab.h). */
#include "nametab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"

/* The buckets the first insert allocates. */
#define FIRST_BUCKETS 16

/* ---- SipHash-2-4 --------------------------------------------------------- */

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                          \
	do {                                                              \
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32); \
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                    \
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                    \
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32); \
	} while (0)

uint64_t nametab_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t m = 0;
		for (int k = 7; k >= 0; k--)
			m = m << 8 | p[i + (size_t)k];
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	uint64_t b = (uint64_t)len << 56;
	for (size_t k = 0; i + k < len; k++)
		b |= (uint64_t)p[i + k] << (8 * k);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static uint64_t hash(const struct nametab *t, const char *name, size_t len)
{
	return nametab_siphash(t->key[0], t->key[1], name, len);
}

/* ---- the table ------------------------------------------------------------ */

void nametab_init_key(struct nametab *t, uint64_t k0, uint64_t k1)
{
	*t = (struct nametab){.key = {k0, k1}};
}

void nametab_init(struct nametab *t)
{
	*t = (struct nametab){0};
	if (getrandom(t->key, sizeof t->key, 0) != (ssize_t)sizeof t->key) {
		t->key[0] = clock_us();
		t->key[1] = (uint64_t)(uintptr_t)t;
	}
}

void nametab_fini(struct nametab *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = t->count = 0;
}

struct nametab_entry *nametab_find(const struct nametab *t, const char *name,
                                   size_t len)
{
	if (!t->nbuckets)
		return NULL;
	uint64_t h = hash(t, name, len);
	for (struct nametab_entry *e = t->buckets[h & (t->nbuckets - 1)]; e; e = e->next)
		if (e->hash == h && e->len == len && memcmp(e->name, name, len) == 0)
			return e;
	return NULL;
}

/* Doubles the buckets once the table holds as many entries as buckets. */
static int grow(struct nametab *t)
{
	if (t->count < t->nbuckets)
		return 0;
	size_t n = t->nbuckets ? 2 * t->nbuckets : FIRST_BUCKETS;
	struct nametab_entry **b = calloc(n, sizeof *b);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < t->nbuckets; i++)
		while (t->buckets[i]) {
			struct nametab_entry *e = t->buckets[i];
			t->buckets[i] = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
	return 0;
}

int nametab_insert(struct nametab *t, struct nametab_entry *e)
{
	if (grow(t) < 0)
		return -ENOMEM;
	e->hash = hash(t, e->name, e->len);
	struct nametab_entry **head = &t->buckets[e->hash & (t->nbuckets - 1)];
	e->next = *head;
	*head = e;
	t->count++;
	return 0;
}

void nametab_remove(struct nametab *t, struct nametab_entry *e)
{
	struct nametab_entry **pp = &t->buckets[e->hash & (t->nbuckets - 1)];
	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	e->next = NULL;
	t->count--;
}

size_t nametab_count(const struct nametab *t)
{
	return t->count;
}

size_t nametab_buckets(const struct nametab *t)
{
	return t->nbuckets;
}
