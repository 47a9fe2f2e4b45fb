/*
 * deferred_chain: many Deferreds chained onto one.
 *
 * Each of N waiters gets a callback that returns the same unfired Deferred
 * `inner`, so each waiter starts waiting on it ("chaining"); then `inner`
 * fires and hands its result to the first waiter and None to the others,
 * in order.  A second pass drops every waiter while it still waits (the
 * unlink from inner's list), then fires `inner` with nobody left.
 *
 * Prints, for each N, the best of REPS runs of each phase in ns per
 * waiter, and the ratio of the per-waiter chain time at the largest N to
 * the smallest: about 1 when a chain costs O(1), about N_max / N_min when
 * each chain walks the waiter list.
 *
 *   build/bench/deferred_chain [N...]    (default: 25000 50000 100000)
 *
 * CPU only, no I/O; bounded by the N given (each run allocates N
 * Deferreds of 192 bytes).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "deferred.h"

#define REPS 3

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static struct deferred_val return_inner(struct deferred_val v, void *inner)
{
	deferred_val_free(v);
	deferred_ref(inner);
	return deferred_val_deferred(inner);
}

static struct deferred_val count_result(struct deferred_val v, void *n)
{
	(*(size_t *)n)++;
	return v;
}

struct phases {
	double chain, fire, free, chain_drop;
};

static void die(const char *what)
{
	fprintf(stderr, "deferred_chain: %s\n", what);
	exit(1);
}

static struct deferred *make_waiter(struct deferred *inner, size_t *seen)
{
	struct deferred *w = deferred_new(NULL, NULL);

	if (w == NULL ||
	    deferred_add_callback(w, return_inner, inner, NULL) != 0 ||
	    deferred_add_callback(w, count_result, seen, NULL) != 0)
		die("out of memory");
	return w;
}

static void run(size_t n, struct phases *best)
{
	struct deferred **ws = calloc(n, sizeof(*ws));
	struct deferred *inner;
	size_t seen = 0;
	double t0, t1, t2, t3;

	if (ws == NULL)
		die("out of memory");
	/* Pass 1: chain n waiters, fire, free. */
	inner = deferred_new(NULL, NULL);
	if (inner == NULL)
		die("out of memory");
	for (size_t i = 0; i < n; i++)
		ws[i] = make_waiter(inner, &seen);
	t0 = now_ns();
	for (size_t i = 0; i < n; i++)
		deferred_callback(ws[i], deferred_val_none());
	t1 = now_ns();
	deferred_callback(inner, deferred_val_none());
	t2 = now_ns();
	for (size_t i = 0; i < n; i++)
		deferred_unref(ws[i]);
	deferred_unref(inner);
	t3 = now_ns();
	if (seen != n)
		die("a waiter did not get its result");
	if (best->chain == 0 || t1 - t0 < best->chain)
		best->chain = t1 - t0;
	if (best->fire == 0 || t2 - t1 < best->fire)
		best->fire = t2 - t1;
	if (best->free == 0 || t3 - t2 < best->free)
		best->free = t3 - t2;

	/* Pass 2: chain n waiters, drop them all while they wait (the first
	 * half from the front, the rest from the back), then fire. */
	seen = 0;
	inner = deferred_new(NULL, NULL);
	if (inner == NULL)
		die("out of memory");
	for (size_t i = 0; i < n; i++) {
		ws[i] = make_waiter(inner, &seen);
		deferred_callback(ws[i], deferred_val_none());
	}
	t0 = now_ns();
	for (size_t i = 0; i < n / 2; i++)
		deferred_unref(ws[i]);
	for (size_t i = n; i-- > n / 2;)
		deferred_unref(ws[i]);
	t1 = now_ns();
	deferred_callback(inner, deferred_val_none());
	deferred_unref(inner);
	if (seen != 0)
		die("a dropped waiter ran");
	if (best->chain_drop == 0 || t1 - t0 < best->chain_drop)
		best->chain_drop = t1 - t0;
	free(ws);
}

int main(int argc, char **argv)
{
	size_t defaults[] = { 25000, 50000, 100000 };
	size_t ns[16];
	size_t count = 0;
	double first_chain = 0, last_chain = 0;

	for (int i = 1; i < argc && count < 16; i++) {
		char *end;
		unsigned long long v = strtoull(argv[i], &end, 10);

		if (*end != '\0' || v == 0 || v > 10000000)
			die("usage: deferred_chain [N...] (1..10000000)");
		ns[count++] = (size_t)v;
	}
	if (count == 0)
		for (; count < sizeof(defaults) / sizeof(defaults[0]); count++)
			ns[count] = defaults[count];

	printf("%10s %14s %14s %14s %14s %10s\n", "waiters", "chain ns/w",
	       "fire ns/w", "free ns/w", "drop ns/w", "chain ms");
	for (size_t k = 0; k < count; k++) {
		struct phases best = { 0, 0, 0, 0 };
		double n = (double)ns[k];

		for (int r = 0; r < REPS; r++)
			run(ns[k], &best);
		printf("%10zu %14.1f %14.1f %14.1f %14.1f %10.2f\n", ns[k],
		       best.chain / n, best.fire / n, best.free / n,
		       best.chain_drop / n, best.chain / 1e6);
		if (k == 0)
			first_chain = best.chain / n;
		last_chain = best.chain / n;
	}
	if (count > 1)
		printf("chain ns/w at %zu over %zu: %.2f (1 = O(1) per chain)\n",
		       ns[count - 1], ns[0], last_chain / first_chain);
	return 0;
}
