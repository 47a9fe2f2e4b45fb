/*
 * Unit tests for the demo's handlers (fcgi_app/demo/), called through the
 * API the way the server calls them: an app bound to a private loop, pool
 * and fanout, a request built as the acceptor builds one, the handler's
 * Deferred with a callback of the test's appended.
 *
 * The routes registered FCGI_ROUTE_ANY_THREAD (/error, /coro) promise to
 * have fired by the time the handler returns, with the body and status of
 * ROUTES.md, on whichever thread runs them; the others must really wait.
 * /sleep/<n> past --max-sleep is the handler's 400.  Then the fire's
 * pacing: how many waiters a batch completes, how far apart batches are,
 * and the slower rate while other requests arrive (the server tells the
 * fanout of those with fanout_note_foreground; so does this test).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "clock.h"
#include "config.h"
#include "deferred.h"
#include "failure.h"
#include "fanout.h"
#include "fcgi_resp.h"
#include "pool.h"
#include "req_build.h"
#include "request.h"
#include "response.h"

#include "../../fcgi_app/demo/demo.h"

static const char CORO[] =
    "<html><body><strong><i>This is a coroutine-like function!</i></strong>"
    "</body></html>";
static const char ERROR_BODY[] =
    "<strong>Uh oh spaghetti-Os!<br><br>ERROR: [Failure instance: Traceback "
    "(failure with no frames): <class 'ValueError'>: invalid literal for "
    "int() with base 10: 'hello'\n]</strong>";
static const char FIRE_REPLY[] =
    "Look at the <a href=\"/simple\">/simple</a> request tab.";
static const char FIRE_NOBODY[] =
    "The callback has already been fired or not set! Go back to "
    "<a href=\"/async/simple\" target=\"new\">/async/simple</a> and "
    "initiate the Deferred.";

struct fixture {
	struct event_base *base;
	struct pool *pool;
	struct fanout *fan;
	struct config cfg;
	struct fcgi_app *app;
	struct demo demo;
};

/* A fanout with `o` for the fixture's app, and the demo started on it
 * (its event made there), as fcgi_app_run does. */
static void start(struct fixture *f, const struct fanout_opts *o)
{
	f->fan = fanout_new(f->base, o);
	assert_non_null(f->fan);
	app_bind(f->app, &f->cfg, f->base, f->pool, f->fan);
	assert_int_equal(app_start(f->app), 0);
	assert_non_null(f->demo.simple);
}

static void stop(struct fixture *f)
{
	app_stop(f->app);
	assert_null(f->demo.simple);
	fanout_free(f->fan);
	f->fan = NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->base = event_base_new();
	assert_non_null(f->base);
	f->pool = pool_new(f->base, 1, 4);
	assert_non_null(f->pool);
	config_defaults(&f->cfg);
	f->cfg.max_sleep = 60;
	f->app = fcgi_app_new();
	assert_non_null(f->app);
	assert_int_equal(demo_register(f->app, &f->demo), 0);
	/* The busy rate on, so that the at-once routes' notes stamp the
	 * time (an atomic that the two-thread test runs under TSan). */
	struct fanout_opts o = {.fire_batch = 100, .fire_rate = 25000,
	                        .fire_rate_busy = 5000, .fire_busy_us = 50000};
	start(f, &o);
	assert_int_equal(f->demo.max_sleep, 60); /* read from the config */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	stop(f);
	pool_stop(f->pool);
	pool_free(f->pool);
	fcgi_app_free(f->app);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* What a Deferred delivered to the callback the test appended: a string
 * (sent with the request's status) or a response (its own status). */
struct got {
	bool ran;
	bool failed;
	int resp_status; /* a response's; 0 for a string */
	char type[64];   /* a response's failure type, for a failure */
	char body[512];
};

static struct deferred_val record(struct deferred_val v, void *arg)
{
	struct got *g = arg;
	g->ran = true;
	g->failed = v.kind == DEFERRED_VAL_FAILURE;
	struct fcgi_resp *resp = fcgi_resp_of(v);
	if (resp) {
		struct response view;
		fcgi_resp_encode_view(resp, &view);
		g->resp_status = view.status;
		snprintf(g->body, sizeof g->body, "%.*s", (int)view.body_len,
		         view.body);
	} else if (v.kind == DEFERRED_VAL_PTR && v.ptr) {
		snprintf(g->body, sizeof g->body, "%s", (const char *)v.ptr);
	} else if (g->failed) {
		snprintf(g->type, sizeof g->type, "%s", failure_type(v.failure));
	}
	deferred_val_free(v);
	return deferred_val_none();
}

/* Runs the handler app routes `path` to, as the server's run_route does,
 * with record appended; true if its Deferred fired before the handler
 * returned (else the test cancels it: record runs with CancelledError).
 * *status: the status the reply goes with. */
static bool call(struct fcgi_app *app, const char *path, int *status,
                 struct got *g)
{
	struct request *r = req_new(app, "GET", path, NULL);
	const struct app_route *rt = app_route(app, r->route);
	assert_non_null(rt);
	struct deferred *d = rt->handler(&r->in, rt->data);
	assert_non_null(d);
	assert_int_equal(deferred_add_both(d, record, g, NULL), 0);
	request_input_free(r); /* no demo route keeps its input */
	bool fired = g->ran;
	if (!fired)
		deferred_cancel(d);
	deferred_unref(d);
	*status = g->resp_status ? g->resp_status : r->status;
	request_free(r);
	return fired;
}

static void test_at_once_routes_fire_with_their_body(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *path;
		int status;
		const char *body;
	} cases[] = {
	    {"/coro", 200, CORO},
	    {"/async/coro", 200, CORO},
	    {"/error", 400, ERROR_BODY},
	    {"/async/error", 400, ERROR_BODY},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct got g = {0};
		int status;
		assert_true(call(f->app, cases[i].path, &status, &g));
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
	assert_false(call(f->app, "/simple", &status, &g));
	assert_true(g.failed); /* the test's own cancel */
	assert_string_equal(g.type, FAILURE_CANCELLED);
	/* The cancel took the waiter off the event. */
	assert_int_equal(fcgi_event_waiting(f->demo.simple), 0);

	memset(&g, 0, sizeof g);
	assert_false(call(f->app, "/sleep/0", &status, &g));
	assert_true(g.failed);
	assert_string_equal(g.type, FAILURE_CANCELLED);
}

/* /simple/fire answers at once either way; its text says whether anyone
 * waited. */
static void test_fire_with_nobody_waiting(void **state)
{
	struct fixture *f = *state;
	struct got g = {0};
	int status;
	assert_true(call(f->app, "/simple/fire", &status, &g));
	assert_int_equal(status, 200);
	assert_string_equal(g.body, FIRE_NOBODY);
}

/* ---- /sleep/<n> ----------------------------------------------------------- */

static void on_guard(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* /sleep/0 goes to the pool and fires on the loop with the demo's text. */
static void test_sleep_runs_on_the_pool(void **state)
{
	struct fixture *f = *state;
	struct request *r = req_new(f->app, "GET", "/async/sleep/0", NULL);
	const struct app_route *rt = app_route(f->app, r->route);
	assert_non_null(rt);
	struct deferred *d = rt->handler(&r->in, rt->data);
	assert_non_null(d);
	request_input_free(r);
	struct got g = {0};
	assert_int_equal(deferred_add_both(d, record, &g, NULL), 0);
	assert_false(g.ran);
	struct event *guard = evtimer_new(f->base, on_guard, f->base);
	struct timeval five = {5, 0};
	evtimer_add(guard, &five);
	while (!g.ran && event_base_loop(f->base, EVLOOP_ONCE) == 0)
		if (!evtimer_pending(guard, NULL))
			break;
	event_free(guard);
	assert_true(g.ran);
	assert_false(g.failed);
	assert_int_equal(r->status, 200);
	assert_string_equal(g.body, "Slept for 0 seconds");
	deferred_unref(d);
	request_free(r);
}

/* The 400 for a number above --max-sleep, as the app's own page. */
static void expect_too_long(struct fixture *f, const char *path,
                            unsigned long max)
{
	struct got g = {0};
	int status;
	assert_true(call(f->app, path, &status, &g));
	assert_false(g.failed);
	assert_int_equal(status, 400);
	char want[512];
	snprintf(want, sizeof want,
	         "<html><head><title>400 Bad Request</title></head><body>"
	         "<h1>400 Bad Request</h1><p>/sleep/&lt;n&gt; takes at most %lu "
	         "seconds.</p></body></html>",
	         max);
	assert_string_equal(g.body, want);
}

/* A number within --max-sleep goes on to the pool: with none bound (as
 * once the app stops), its Deferred fails ShuttingDown rather than
 * answering 400. */
static void expect_taken(struct fixture *f, const char *path)
{
	app_bind(f->app, &f->cfg, f->base, NULL, f->fan);
	struct got g = {0};
	int status;
	assert_true(call(f->app, path, &status, &g));
	assert_true(g.failed);
	assert_string_equal(g.type, FCGI_FAILURE_SHUTTING_DOWN);
	app_bind(f->app, &f->cfg, f->base, f->pool, f->fan);
}

static void test_sleep_above_the_maximum_is_too_long(void **state)
{
	struct fixture *f = *state;
	expect_too_long(f, "/sleep/61", 60);
	expect_too_long(f, "/async/sleep/61", 60);
	expect_taken(f, "/sleep/60");
	/* The maximum comes from the config when the demo starts. */
	stop(f);
	f->cfg.max_sleep = 5;
	start(f, &(struct fanout_opts){.fire_batch = 100});
	assert_int_equal(f->demo.max_sleep, 5);
	expect_too_long(f, "/sleep/6", 5);
	expect_taken(f, "/sleep/5");
	f->demo.max_sleep = 0;
	expect_too_long(f, "/sleep/1", 0);
	expect_taken(f, "/sleep/0");
}

/* However many digits, a number past the maximum is a 400, never a value
 * that wrapped around. */
static void test_sleep_never_overflows(void **state)
{
	struct fixture *f = *state;
	expect_too_long(f, "/sleep/99999999999999999999", 60);
	expect_too_long(f, "/sleep/18446744073709551616", 60);
	/* 2^64 + 1 would wrap to 1, within 60. */
	expect_too_long(f, "/sleep/18446744073709551617", 60);
	f->demo.max_sleep = (unsigned long)-1;
	expect_taken(f, "/sleep/18446744073709551615");
	expect_too_long(f, "/sleep/18446744073709551616", (unsigned long)-1);
}

/* ---- threads ---------------------------------------------------------------- */

/* Two threads besides this one run the at-once routes side by side, as
 * two acceptors do, each noting a foreground request after its handler
 * as the server does there; every body must come out whole.  The body
 * check catches shared state that one thread overwrites under another; a
 * race that leaves the bodies intact needs ThreadSanitizer to show (`make
 * BUILD=build-tsan CC=clang SANITIZE=thread unit`). */
struct runner {
	struct fixture *f;
	unsigned rounds, wrong;
};

static void *run_many(void *arg)
{
	struct runner *ru = arg;
	for (unsigned i = 0; i < ru->rounds; i++) {
		struct got g = {0};
		int status;
		bool coro = i % 2;
		bool fired = call(ru->f->app, coro ? "/coro" : "/error", &status, &g);
		fanout_note_foreground(ru->f->fan);
		const char *want = coro ? CORO : ERROR_BODY;
		int want_status = coro ? 200 : 400;
		if (!fired || status != want_status || strcmp(g.body, want) != 0)
			ru->wrong++;
	}
	return NULL;
}

static void test_at_once_routes_on_other_threads(void **state)
{
	struct fixture *f = *state;
	struct runner ru[2] = {{f, 20000, 0}, {f, 20000, 0}};
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
	struct request *req; /* the server's, until its chain has run */
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

/* The fixture's fanout, replaced by one with these pacing options (the
 * demo stopped and started again on it). */
static void reopen(struct fixture *f, struct fanout_opts o)
{
	stop(f);
	start(f, &o);
}

/* Holds WAITERS /simple (every other one under /async) and fires them
 * with /simple/fire.  Returns how many completed before the fire
 * returned: its first batch. */
static unsigned hold_and_fire(struct fixture *f, struct fire_run *run)
{
	memset(run, 0, sizeof *run);
	run->base = f->base;
	for (unsigned i = 0; i < WAITERS; i++) {
		struct request *r =
		    req_new(f->app, "GET", i % 2 ? "/async/simple" : "/simple", NULL);
		const struct app_route *rt = app_route(f->app, r->route);
		assert_non_null(rt);
		assert_ptr_equal(rt->handler, demo_simple);
		struct deferred *d = rt->handler(&r->in, rt->data);
		assert_non_null(d);
		request_input_free(r);
		run->w[i].run = run;
		run->w[i].req = r;
		assert_int_equal(deferred_add_both(d, on_waiter_fired, &run->w[i], NULL), 0);
		deferred_unref(d); /* the event holds its own reference */
	}
	assert_int_equal(run->done, 0);
	assert_int_equal(fcgi_event_waiting(f->demo.simple), WAITERS);
	assert_int_equal(fcgi_event_waiting_all(f->app), WAITERS);
	struct got g = {0};
	int status;
	assert_true(call(f->app, "/simple/fire", &status, &g));
	assert_int_equal(status, 200);
	assert_string_equal(g.body, FIRE_REPLY);
	/* Later waiters would wait for the next fire. */
	assert_int_equal(fcgi_event_waiting(f->demo.simple), 0);
	return run->done;
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
		assert_int_equal(run->w[i].req->status, 200);
		request_free(run->w[i].req);
		run->w[i].req = NULL;
	}
	assert_int_equal(fcgi_event_waiting_all(f->app), 0);
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
	reopen(f, (struct fanout_opts){.fire_rate = 1000000, .fire_batch = 1,
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
 * 2 ms; the /simple and /simple/fire requests themselves are not other
 * requests (the server notes neither: one pends, the other fires). */
static void test_fire_first_batch_is_one_interval_at_the_rate(void **state)
{
	struct fixture *f = *state;
	reopen(f, (struct fanout_opts){.fire_rate = 2000, .fire_batch = 1000,
	                               .fire_interval_us = 2000,
	                               .fire_rate_busy = 500,
	                               .fire_busy_us = 10000000});
	struct fire_run run = {0};
	assert_int_equal(hold_and_fire(f, &run), 4);
	finish_fire(f, &run);
}

/* A /coro, answered at once (and so noted by the server), just before the
 * fire. */
static void coro_arrives(struct fixture *f)
{
	struct got g = {0};
	int status;
	assert_true(call(f->app, "/coro", &status, &g));
	assert_string_equal(g.body, CORO);
	fanout_note_foreground(f->fan);
}

/* A /coro just before the fire: the fire goes at fire_rate_busy (1 per
 * 1 ms batch) instead of everything in the first batch, and still
 * completes every waiter. */
static void test_fire_slows_while_other_requests_arrive(void **state)
{
	struct fixture *f = *state;
	struct fanout_opts o = {.fire_rate = 1000000, .fire_batch = 1000,
	                        .fire_interval_us = 1000, .fire_rate_busy = 1000,
	                        .fire_busy_us = 10000000};
	reopen(f, o);
	struct fire_run run = {0};
	assert_int_equal(hold_and_fire(f, &run), WAITERS); /* nobody else */
	finish_fire(f, &run);

	coro_arrives(f);
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
	reopen(f, (struct fanout_opts){.fire_rate = 1000000, .fire_batch = 1,
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
	coro_arrives(f);
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
	reopen(f, (struct fanout_opts){.fire_rate = 1000, .fire_batch = 1000,
	                               .fire_interval_us = 1000,
	                               .fire_rate_busy = 1000000,
	                               .fire_busy_us = 10000000});
	coro_arrives(f);
	struct fire_run run = {0};
	assert_int_equal(hold_and_fire(f, &run), 1); /* 1 per ms, not 20 */
	finish_fire(f, &run);
}

/* Past fire_busy_us without other requests, the fire is back at its own
 * rate. */
static void test_fire_rate_returns_after_the_busy_window(void **state)
{
	struct fixture *f = *state;
	reopen(f, (struct fanout_opts){.fire_rate = 1000000, .fire_batch = 1000,
	                               .fire_interval_us = 1000,
	                               .fire_rate_busy = 1000,
	                               .fire_busy_us = 2000});
	coro_arrives(f);
	struct timespec ts = {0, 5000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	struct fire_run run = {0};
	assert_int_equal(hold_and_fire(f, &run), WAITERS);
	finish_fire(f, &run);
}

/* Stopping the demo cancels every /simple still waiting. */
static void test_stop_cancels_waiters(void **state)
{
	struct fixture *f = *state;
	struct got g[3] = {{0}};
	struct request *r[3];
	for (unsigned i = 0; i < 3; i++) {
		r[i] = req_new(f->app, "GET", "/simple", NULL);
		struct deferred *d = demo_simple(&r[i]->in, &f->demo);
		assert_non_null(d);
		assert_int_equal(deferred_add_both(d, record, &g[i], NULL), 0);
		deferred_unref(d);
	}
	assert_int_equal(fcgi_event_waiting_all(f->app), 3);
	stop(f);
	for (unsigned i = 0; i < 3; i++) {
		assert_true(g[i].ran);
		assert_true(g[i].failed);
		assert_string_equal(g[i].type, FAILURE_CANCELLED);
		request_free(r[i]);
	}
	start(f, &(struct fanout_opts){.fire_batch = 100});
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_at_once_routes_fire_with_their_body),
	    T(test_other_routes_wait_for_the_loop),
	    T(test_fire_with_nobody_waiting),
	    T(test_sleep_runs_on_the_pool),
	    T(test_sleep_above_the_maximum_is_too_long),
	    T(test_sleep_never_overflows),
	    T(test_at_once_routes_on_other_threads),
	    T(test_fire_batches_are_an_interval_apart),
	    T(test_fire_first_batch_is_one_interval_at_the_rate),
	    T(test_fire_slows_while_other_requests_arrive),
	    T(test_fire_rate_returns_after_the_busy_window),
	    T(test_fire_slows_when_a_request_arrives_during_it),
	    T(test_busy_rate_never_speeds_a_fire_up),
	    T(test_stop_cancels_waiters),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
