/*
 * Unit tests for routes_at_once: the promise that lets the server answer a
 * request on the acceptor thread that parsed it.  A route it names must
 * have fired by the time routes_dispatch returns, with the body and status
 * of ROUTES.md, on whichever thread runs it; a route it does not name must
 * really wait (else answering it on the loop would be a needless hop, and
 * the list would be wrong the other way).  Then the fire's pacing: how
 * many waiters a batch completes, how far apart batches are, and the
 * slower rate while other requests arrive.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "deferred.h"
#include "failure.h"
#include "pool.h"
#include "router.h"
#include "routes.h"

static const char CORO[] =
    "<html><body><strong><i>This is a coroutine-like function!</i></strong>"
    "</body></html>";
static const char ERROR_BODY[] =
    "<strong>Uh oh spaghetti-Os!<br><br>ERROR: [Failure instance: Traceback "
    "(failure with no frames): <class 'ValueError'>: invalid literal for "
    "int() with base 10: 'hello'\n]</strong>";

struct fixture {
	struct event_base *base;
	struct pool *pool;
	struct routes *routes;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->base = event_base_new();
	assert_non_null(f->base);
	f->pool = pool_new(f->base, 1, 4);
	assert_non_null(f->pool);
	/* The busy rate on, so that the at-once routes stamp the time (an
	 * atomic that the two-thread test runs under TSan). */
	struct routes_opts o = {.fire_batch = 100, .max_sleep = 60,
	                        .fire_rate = 25000, .fire_rate_busy = 5000,
	                        .fire_busy_us = 50000};
	f->routes = routes_new(f->base, f->pool, &o);
	assert_non_null(f->routes);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	routes_free(f->routes);
	pool_stop(f->pool);
	pool_free(f->pool);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* What a Deferred delivered to the callback the test appended. */
struct got {
	bool ran;
	bool failed;
	char body[512];
};

static struct deferred_val record(struct deferred_val v, void *arg)
{
	struct got *g = arg;
	g->ran = true;
	g->failed = v.kind == DEFERRED_VAL_FAILURE;
	if (v.kind == DEFERRED_VAL_PTR && v.ptr)
		snprintf(g->body, sizeof g->body, "%s", (const char *)v.ptr);
	deferred_val_free(v);
	return deferred_val_none();
}

/* Dispatches route and appends record; true if it fired before this
 * returned.  The Deferred is dropped either way. */
static bool dispatch_now(struct routes *rs, enum router_route route,
                         unsigned long n, int *status, struct got *g)
{
	struct router_match m = {route, n};
	*status = 200;
	struct deferred *d = routes_dispatch(rs, &m, status);
	assert_non_null(d);
	assert_int_equal(deferred_add_both(d, record, g, NULL), 0);
	bool fired = g->ran;
	if (!fired)
		deferred_cancel(d); /* record runs with CancelledError */
	deferred_unref(d);
	return fired;
}

static void test_at_once_routes_fire_with_their_body(void **state)
{
	struct fixture *f = *state;
	static const struct {
		enum router_route route;
		unsigned long n;
		int status;
		const char *body;
	} cases[] = {
	    {ROUTER_CORO, 0, 200, CORO},
	    {ROUTER_ERROR, 0, 400, ERROR_BODY},
	    {ROUTER_NOT_FOUND, 0, 404,
	     "<html><head><title>404 Not Found</title></head><body>"
	     "<h1>404 Not Found</h1><p>No such resource.</p></body></html>"},
	    {ROUTER_SLEEP_TOO_LONG, 61, 400,
	     "<html><head><title>400 Bad Request</title></head><body>"
	     "<h1>400 Bad Request</h1><p>/sleep/&lt;n&gt; takes at most 60 "
	     "seconds.</p></body></html>"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_true(routes_at_once(cases[i].route));
		struct got g = {0};
		int status;
		assert_true(dispatch_now(f->routes, cases[i].route, cases[i].n,
		                         &status, &g));
		assert_false(g.failed);
		assert_int_equal(status, cases[i].status);
		assert_string_equal(g.body, cases[i].body);
	}
}

static void test_other_routes_wait_for_the_loop(void **state)
{
	struct fixture *f = *state;
	struct got g = {0};
	int status;
	assert_false(routes_at_once(ROUTER_SIMPLE));
	assert_false(dispatch_now(f->routes, ROUTER_SIMPLE, 0, &status, &g));
	assert_true(g.failed); /* the test's own cancel */

	assert_false(routes_at_once(ROUTER_SLEEP));
	memset(&g, 0, sizeof g);
	assert_false(dispatch_now(f->routes, ROUTER_SLEEP, 0, &status, &g));
	assert_true(g.failed);

	/* /simple/fire's own reply fires at once, but it takes the
	 * registry, which only the loop may touch. */
	assert_false(routes_at_once(ROUTER_SIMPLE_FIRE));
}

/* Two threads besides this one run the at-once routes side by side, as
 * two acceptors do; every body must come out whole.  The body check
 * catches shared state that one thread overwrites under another; a race
 * that leaves the bodies intact needs ThreadSanitizer to show (`make
 * BUILD=build-tsan CC=clang SANITIZE=thread unit`: clean at this commit). */
struct runner {
	struct routes *routes;
	unsigned rounds, wrong;
};

static void *run_many(void *arg)
{
	struct runner *ru = arg;
	for (unsigned i = 0; i < ru->rounds; i++) {
		struct got g = {0};
		int status;
		enum router_route route = i % 2 ? ROUTER_CORO : ROUTER_ERROR;
		bool fired = dispatch_now(ru->routes, route, 0, &status, &g);
		const char *want = route == ROUTER_CORO ? CORO : ERROR_BODY;
		int want_status = route == ROUTER_CORO ? 200 : 400;
		if (!fired || status != want_status || strcmp(g.body, want) != 0)
			ru->wrong++;
	}
	return NULL;
}

static void test_at_once_routes_on_other_threads(void **state)
{
	struct fixture *f = *state;
	struct runner ru[2] = {{f->routes, 20000, 0}, {f->routes, 20000, 0}};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, run_many, &ru[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(ru[0].wrong, 0);
	assert_int_equal(ru[1].wrong, 0);
}

/* ---- the fire's pacing ------------------------------------------------ */

static const char FIRED[] = "<u><i>This is a simple callback...FIRE!</i></u>";

#define WAITERS 20

struct fire_run;

struct waiter_seen {
	struct fire_run *run;
	struct got got;
	uint64_t at_us; /* when its Deferred fired */
};

struct fire_run {
	struct waiter_seen w[WAITERS];
	unsigned done;
	struct event_base *base;
};

static struct deferred_val on_waiter_fired(struct deferred_val v, void *arg)
{
	struct waiter_seen *w = arg;
	struct fire_run *run = w->run;
	w->at_us = clock_us();
	if (++run->done == WAITERS)
		event_base_loopbreak(run->base);
	return record(v, &w->got);
}

/* The fixture's routes, replaced by ones with these pacing options. */
static void reopen(struct fixture *f, struct routes_opts o)
{
	routes_free(f->routes);
	o.max_sleep = 60;
	f->routes = routes_new(f->base, f->pool, &o);
	assert_non_null(f->routes);
}

/* Holds WAITERS /simple and fires them.  Returns how many completed
 * before the fire returned: its first batch. */
static unsigned hold_and_fire(struct fixture *f, struct fire_run *run)
{
	memset(run, 0, sizeof *run);
	run->base = f->base;
	for (unsigned i = 0; i < WAITERS; i++) {
		struct router_match m = {ROUTER_SIMPLE, 0};
		int status = 200;
		struct deferred *d = routes_dispatch(f->routes, &m, &status);
		assert_non_null(d);
		run->w[i].run = run;
		assert_int_equal(deferred_add_both(d, on_waiter_fired, &run->w[i], NULL), 0);
		deferred_unref(d); /* the registry holds its own reference */
	}
	assert_int_equal(run->done, 0);
	assert_int_equal(routes_simple_waiting(f->routes), WAITERS);
	struct router_match fire = {ROUTER_SIMPLE_FIRE, 0};
	int status = 200;
	struct deferred *d = routes_dispatch(f->routes, &fire, &status);
	assert_non_null(d);
	deferred_unref(d);
	return run->done;
}

static void on_guard(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static uint64_t cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Runs the loop until every waiter fired (or 10 s passed), and checks
 * that each got the fired body exactly once.  Then the loop runs 50 ms
 * more: a fire that is over must leave its timer quiet (a timerfd whose
 * expiry is never read stays readable, and the loop would spin). */
static void finish_fire(struct fixture *f, struct fire_run *run)
{
	struct event *guard = evtimer_new(f->base, on_guard, f->base);
	struct timeval ten = {10, 0};
	evtimer_add(guard, &ten);
	if (run->done < WAITERS)
		event_base_dispatch(f->base);
	struct timeval after = {0, 50000};
	evtimer_add(guard, &after);
	uint64_t cpu0 = cpu_us();
	event_base_dispatch(f->base);
	uint64_t spent = cpu_us() - cpu0;
	event_free(guard);
	assert_true(spent < 25000); /* a spinning loop: ~50,000 */
	assert_int_equal(run->done, WAITERS);
	for (unsigned i = 0; i < WAITERS; i++) {
		assert_false(run->w[i].got.failed);
		assert_string_equal(run->w[i].got.body, FIRED);
	}
	assert_int_equal(routes_simple_waiting(f->routes), 0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* One waiter per batch, batches 2 ms apart: the gaps must be 2 ms, not
 * the tick of the coarse clock libevent's own timers run on, which the
 * fire used before it had a timerfd of its own.  (That tick is 1000/HZ:
 * 4 ms on this project's kernels, where the old code fails this test; a
 * HZ=1000 kernel would not tell them apart.) */
static void test_fire_batches_are_an_interval_apart(void **state)
{
	struct fixture *f = *state;
	reopen(f, (struct routes_opts){.fire_rate = 1000000, .fire_batch = 1,
	                               .fire_interval_us = 2000});
	struct fire_run run = {0};
	assert_int_equal(hold_and_fire(f, &run), 1);
	finish_fire(f, &run);
	uint64_t gaps[WAITERS - 1];
	for (unsigned i = 1; i < WAITERS; i++)
		gaps[i - 1] = run.w[i].at_us - run.w[i - 1].at_us;
	qsort(gaps, WAITERS - 1, sizeof gaps[0], cmp_u64);
	uint64_t median = gaps[(WAITERS - 1) / 2];
	assert_in_range(median, 1900, 3500);
}

/* The first batch is one interval's worth at the rate: 4 at 2,000/s and
 * 2 ms; the registry's own /simple and /simple/fire do not count as other
 * requests. */
static void test_fire_first_batch_is_one_interval_at_the_rate(void **state)
{
	struct fixture *f = *state;
	reopen(f, (struct routes_opts){.fire_rate = 2000, .fire_batch = 1000,
	                               .fire_interval_us = 2000,
	                               .fire_rate_busy = 500,
	                               .fire_busy_us = 10000000});
	struct fire_run run = {0};
	assert_int_equal(hold_and_fire(f, &run), 4);
	finish_fire(f, &run);
}

/* A /coro just before the fire: the fire goes at fire_rate_busy (1 per
 * 1 ms batch) instead of everything in the first batch, and still
 * completes every waiter. */
static void test_fire_slows_while_other_requests_arrive(void **state)
{
	struct fixture *f = *state;
	struct routes_opts o = {.fire_rate = 1000000, .fire_batch = 1000,
	                        .fire_interval_us = 1000, .fire_rate_busy = 1000,
	                        .fire_busy_us = 10000000};
	reopen(f, o);
	struct fire_run run = {0};
	assert_int_equal(hold_and_fire(f, &run), WAITERS); /* nobody else */
	finish_fire(f, &run);

	struct got g = {0};
	int status;
	assert_true(dispatch_now(f->routes, ROUTER_CORO, 0, &status, &g));
	assert_int_equal(hold_and_fire(f, &run), 1);
	finish_fire(f, &run);
	/* 19 more at 1,000/s: at least ~19 ms, whatever the machine does. */
	assert_true(run.w[WAITERS - 1].at_us - run.w[0].at_us >= 15000);
}

/* A /coro while a fire runs slows the rest of it, on the fire's own
 * (injected) clock, so that no assertion depends on how busy the machine
 * is: at 1,000,000/s one waiter per batch goes each 1 ms step; after the
 * /coro, at the busy rate of 250/s, one every 4 ms. */
static uint64_t fake_us;
static uint64_t fake_clock(void)
{
	return fake_us;
}

static unsigned fired_count(const struct fire_run *run)
{
	unsigned n = 0;
	for (unsigned i = 0; i < WAITERS; i++)
		n += run->w[i].at_us != 0;
	return n;
}

static void test_fire_slows_when_a_request_arrives_during_it(void **state)
{
	struct fixture *f = *state;
	fake_us = 1000000;
	reopen(f, (struct routes_opts){.fire_rate = 1000000, .fire_batch = 1,
	                               .fire_interval_us = 1000,
	                               .fire_rate_busy = 250,
	                               .fire_busy_us = 10000000,
	                               .clock_us = fake_clock});
	struct fire_run run = {0};
	assert_int_equal(hold_and_fire(f, &run), 1);
	/* Each step: the clock moves 1 ms, the loop runs the next batch. */
	for (unsigned step = 1; step <= 2; step++) {
		fake_us += 1000;
		event_base_loop(f->base, EVLOOP_ONCE);
		assert_int_equal(fired_count(&run), 1 + step);
	}
	struct got g = {0};
	int status;
	assert_true(dispatch_now(f->routes, ROUTER_CORO, 0, &status, &g));
	unsigned before = fired_count(&run);
	for (unsigned step = 1; step <= 8; step++) {
		fake_us += 1000;
		event_base_loop(f->base, EVLOOP_ONCE);
		assert_int_equal(fired_count(&run), before + step / 4);
	}
	for (unsigned i = 0; i < WAITERS && run.done < WAITERS; i++) {
		fake_us += 1000000; /* a batch each, at the cap of 1 */
		event_base_loop(f->base, EVLOOP_ONCE);
	}
	finish_fire(f, &run);
}

/* The busy rate only ever slows a fire: above fire_rate it is ignored. */
static void test_busy_rate_never_speeds_a_fire_up(void **state)
{
	struct fixture *f = *state;
	reopen(f, (struct routes_opts){.fire_rate = 1000, .fire_batch = 1000,
	                               .fire_interval_us = 1000,
	                               .fire_rate_busy = 1000000,
	                               .fire_busy_us = 10000000});
	struct got g = {0};
	int status;
	assert_true(dispatch_now(f->routes, ROUTER_CORO, 0, &status, &g));
	struct fire_run run = {0};
	assert_int_equal(hold_and_fire(f, &run), 1); /* 1 per ms, not 20 */
	finish_fire(f, &run);
}

/* Past fire_busy_us without other requests, the fire is back at its own
 * rate. */
static void test_fire_rate_returns_after_the_busy_window(void **state)
{
	struct fixture *f = *state;
	reopen(f, (struct routes_opts){.fire_rate = 1000000, .fire_batch = 1000,
	                               .fire_interval_us = 1000,
	                               .fire_rate_busy = 1000,
	                               .fire_busy_us = 2000});
	struct got g = {0};
	int status;
	assert_true(dispatch_now(f->routes, ROUTER_CORO, 0, &status, &g));
	struct timespec ts = {0, 5000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	struct fire_run run = {0};
	assert_int_equal(hold_and_fire(f, &run), WAITERS);
	finish_fire(f, &run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_at_once_routes_fire_with_their_body,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_routes_wait_for_the_loop,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_at_once_routes_on_other_threads,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fire_batches_are_an_interval_apart,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_fire_first_batch_is_one_interval_at_the_rate, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_fire_slows_while_other_requests_arrive, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_fire_rate_returns_after_the_busy_window, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_fire_slows_when_a_request_arrives_during_it, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_busy_rate_never_speeds_a_fire_up,
	                                    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
