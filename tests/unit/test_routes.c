/*
 * Unit tests for routes_at_once: the promise that lets the server answer a
 * request on the acceptor thread that parsed it.  A route it names must
 * have fired by the time routes_dispatch returns, with the body and status
 * of ROUTES.md, on whichever thread runs it; a route it does not name must
 * really wait (else answering it on the loop would be a needless hop, and
 * the list would be wrong the other way).
 */
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
	struct routes_opts o = {.fire_batch = 100, .max_sleep = 60};
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_at_once_routes_fire_with_their_body,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_routes_wait_for_the_loop,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_at_once_routes_on_other_threads,
	                                    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
