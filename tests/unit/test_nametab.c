/* Unit tests for nametab: SipHash-2-4 against the reference vectors, find,
 * insert and remove, chains of colliding names under a fixed key, and
 * growth keeping every entry findable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nametab.h"

/* An owner with the entry in the middle, so nametab_owner has to work. */
struct item {
	int id;
	struct nametab_entry e;
	char name[24];
};

static void item_set(struct item *it, int id, const char *name, size_t len)
{
	it->id = id;
	memcpy(it->name, name, len);
	it->e = (struct nametab_entry){.name = it->name, .len = len};
}

static int found_id(const struct nametab *t, const char *name, size_t len)
{
	struct nametab_entry *e = nametab_find(t, name, len);
	return e ? nametab_owner(e, struct item, e)->id : -1;
}

/* The reference implementation's vectors: key bytes 0..15, message bytes
 * 0..n-1; lengths 0, 1, 7, 8 and 15 cover an empty, a partial, a whole
 * and a whole-plus-partial last block. */
static void siphash_matches_the_reference_vectors(void **state)
{
	(void)state;
	const uint64_t k0 = 0x0706050403020100ull, k1 = 0x0f0e0d0c0b0a0908ull;
	unsigned char m[16];
	for (int i = 0; i < 16; i++)
		m[i] = (unsigned char)i;
	assert_true(nametab_siphash(k0, k1, m, 0) == 0x726fdb47dd0e0e31ull);
	assert_true(nametab_siphash(k0, k1, m, 1) == 0x74f839c593dc67fdull);
	assert_true(nametab_siphash(k0, k1, m, 7) == 0xab0200f58b01d137ull);
	assert_true(nametab_siphash(k0, k1, m, 8) == 0x93f5f5799a932462ull);
	assert_true(nametab_siphash(k0, k1, m, 15) == 0xa129ca6149be45e5ull);
}

static void insert_find_remove(void **state)
{
	(void)state;
	struct nametab t;
	nametab_init(&t);
	assert_null(nametab_find(&t, "news", 4)); /* no buckets yet */
	assert_int_equal(nametab_buckets(&t), 0);
	struct item a, b, c, empty;
	item_set(&a, 1, "news", 4);
	item_set(&b, 2, "n\0ws", 4); /* any bytes, NUL included */
	item_set(&c, 3, "newsroom", 8);
	item_set(&empty, 4, "", 0);
	assert_int_equal(nametab_insert(&t, &a.e), 0);
	assert_int_equal(nametab_insert(&t, &b.e), 0);
	assert_int_equal(nametab_insert(&t, &c.e), 0);
	assert_int_equal(nametab_insert(&t, &empty.e), 0);
	assert_int_equal(nametab_count(&t), 4);
	assert_int_equal(nametab_buckets(&t), 16);
	assert_int_equal(found_id(&t, "news", 4), 1);
	assert_int_equal(found_id(&t, "n\0ws", 4), 2);
	assert_int_equal(found_id(&t, "newsroom", 8), 3);
	assert_int_equal(found_id(&t, "", 0), 4);
	/* A prefix, or the name with a byte more, is another name. */
	assert_int_equal(found_id(&t, "new", 3), -1);
	assert_int_equal(found_id(&t, "newsr", 5), -1);
	nametab_remove(&t, &a.e);
	assert_int_equal(nametab_count(&t), 3);
	assert_int_equal(found_id(&t, "news", 4), -1);
	assert_int_equal(found_id(&t, "newsroom", 8), 3);
	/* A removed entry may go back on, under its name again. */
	assert_int_equal(nametab_insert(&t, &a.e), 0);
	assert_int_equal(found_id(&t, "news", 4), 1);
	nametab_fini(&t);
	assert_int_equal(nametab_count(&t), 0);
	assert_null(nametab_find(&t, "news", 4));
	/* The entries were never the table's: still as they were. */
	assert_int_equal(a.id, 1);
	assert_memory_equal(a.e.name, "news", 4);
}

/* Names that land in one bucket under a fixed key, found by trying: a
 * chain of five, taken apart at its middle, head and tail. */
static void chains_of_colliding_names(void **state)
{
	(void)state;
	const uint64_t k0 = 1, k1 = 2;
	struct nametab t;
	nametab_init_key(&t, k0, k1);
	enum { CHAIN = 5 };
	struct item it[CHAIN];
	char name[24];
	uint64_t bucket = 0;
	int n = 0;
	for (int i = 0; n < CHAIN && i < 10000; i++) {
		int len = snprintf(name, sizeof name, "c%d", i);
		uint64_t h = nametab_siphash(k0, k1, name, (size_t)len);
		if (n == 0)
			bucket = h & 15;
		if ((h & 15) != bucket)
			continue;
		item_set(&it[n], n, name, (size_t)len);
		n++;
	}
	assert_int_equal(n, CHAIN);
	for (int i = 0; i < CHAIN; i++)
		assert_int_equal(nametab_insert(&t, &it[i].e), 0);
	assert_int_equal(nametab_buckets(&t), 16); /* so all on one chain */
	for (int i = 0; i < CHAIN; i++)
		assert_int_equal(found_id(&t, it[i].name, it[i].e.len), i);
	/* Inserted at the head: it[4] is first, it[0] last. */
	nametab_remove(&t, &it[2].e);
	nametab_remove(&t, &it[4].e);
	nametab_remove(&t, &it[0].e);
	assert_int_equal(nametab_count(&t), 2);
	for (int i = 0; i < CHAIN; i++)
		assert_int_equal(found_id(&t, it[i].name, it[i].e.len),
		                 i == 1 || i == 3 ? i : -1);
	nametab_fini(&t);
}

/* The buckets double when the table holds as many entries as buckets, and
 * every entry stays findable across each doubling. */
static void growth_keeps_every_entry(void **state)
{
	(void)state;
	enum { N = 1000 };
	struct nametab t;
	nametab_init_key(&t, 3, 4);
	struct item *it = calloc(N, sizeof *it);
	assert_non_null(it);
	for (int i = 0; i < N; i++) {
		char name[24];
		int len = snprintf(name, sizeof name, "name-%d", i);
		item_set(&it[i], i, name, (size_t)len);
		assert_int_equal(nametab_insert(&t, &it[i].e), 0);
		if (i == 15)
			assert_int_equal(nametab_buckets(&t), 16);
		if (i == 16)
			assert_int_equal(nametab_buckets(&t), 32);
	}
	assert_int_equal(nametab_count(&t), N);
	assert_int_equal(nametab_buckets(&t), 1024);
	for (int i = 0; i < N; i++)
		assert_int_equal(found_id(&t, it[i].name, it[i].e.len), i);
	for (int i = 0; i < N; i += 2)
		nametab_remove(&t, &it[i].e);
	assert_int_equal(nametab_count(&t), N / 2);
	for (int i = 0; i < N; i++)
		assert_int_equal(found_id(&t, it[i].name, it[i].e.len), i % 2 ? i : -1);
	nametab_fini(&t);
	free(it);
}

/* Two tables get keys of their own (the test reads the keys, which only
 * the table uses otherwise; equal random keys: a chance of 2^-128). */
static void random_keys_differ(void **state)
{
	(void)state;
	struct nametab a, b;
	nametab_init(&a);
	nametab_init(&b);
	assert_false(a.key[0] == b.key[0] && a.key[1] == b.key[1]);
	nametab_fini(&a);
	nametab_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(siphash_matches_the_reference_vectors),
		cmocka_unit_test(insert_find_remove),
		cmocka_unit_test(chains_of_colliding_names),
		cmocka_unit_test(growth_keeps_every_entry),
		cmocka_unit_test(random_keys_differ),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
