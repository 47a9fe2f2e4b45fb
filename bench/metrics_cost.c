/*
 * metrics_cost: what recording one request costs the thread that answers
 * it, in ns: the two clock reads (request_new's and respond's) plus
 * metrics_record, and metrics_record alone.  Single-threaded, so each
 * thread's shard is uncontended, as in the app.  Best of 5 rounds of 2M.
 *
 *   make bench-metrics-cost
 */
#include <stdint.h>
#include <stdio.h>

#include "clock.h"
#include "metrics.h"

#define N 2000000

/* A table the size of the demo's: no route, its five routes, the
 * operator pages. */
static const char *const labels[] = {
	"not_found", "simple", "simple_fire", "error", "coro", "sleep",
	"_fcgi_app",
};
#define CORO 4

int main(void)
{
	struct metrics *m = metrics_new(labels, sizeof labels / sizeof labels[0]);
	if (!m)
		return 1;
	double best_full = 1e9, best_rec = 1e9;
	for (int round = 0; round < 5; round++) {
		uint64_t t0 = clock_us();
		for (unsigned i = 0; i < N; i++) {
			uint64_t start = clock_us();
			metrics_record(m, CORO, 200, clock_us() - start);
		}
		uint64_t t1 = clock_us();
		for (unsigned i = 0; i < N; i++)
			metrics_record(m, CORO, 200, i & 1023);
		uint64_t t2 = clock_us();
		double full = (double)(t1 - t0) * 1000.0 / N;
		double rec = (double)(t2 - t1) * 1000.0 / N;
		if (full < best_full)
			best_full = full;
		if (rec < best_rec)
			best_rec = rec;
	}
	printf("metrics_cost: %.1f ns per request (2 clock reads + metrics_record), "
	       "%.1f ns metrics_record alone; best of 5 x %d\n",
	       best_full, best_rec, N);
	metrics_free(m);
	return 0;
}
