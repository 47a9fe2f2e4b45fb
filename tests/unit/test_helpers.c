/*
 * The API's helpers on a private loop: fcgi_call_later (fires after its
 * time, cancelled stops its timer), fcgi_defer_to_thread (the result on
 * the loop, a full pool and a stopped one as failures the default error
 * mapping answers 503, arg_free once), and events anonymous and named
 * (counts, a fire completing every waiter, a cancelled waiter leaving).
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "app.h"
#include "clock.h"
#include "config.h"
#include "fanout.h"
#include "pool.h"

struct fixture {
	struct event_base *base;
	struct pool *pool;
	struct fanout *fan;
	struct fcgi_app *app;
	struct config cfg;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	evthread_use_pthreads();
	f->base = event_base_new();
	f->pool = pool_new(f->base, 1, 1);
	struct fanout_opts fo = {.fire_batch = 128};
	f->fan = fanout_new(f->base, &fo);
	f->app = fcgi_app_new();
	assert_non_null(f->base);
	assert_non_null(f->pool);
	assert_non_null(f->fan);
	assert_non_null(f->app);
	config_defaults(&f->cfg);
	app_bind(f->app, &f->cfg, f->base, f->pool, f->fan);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	fanout_free(f->fan);
	pool_free(f->pool);
	fcgi_app_free(f->app);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* Records what a chain ended with. */
struct seen {
	int calls;
	enum deferred_val_kind kind;
	char type[64];
	char text[64];
	uint64_t at_us;
};

static struct deferred_val record(struct deferred_val v, void *arg)
{
	struct seen *s = arg;
	s->calls++;
	s->kind = v.kind;
	s->at_us = clock_us();
	if (v.kind == DEFERRED_VAL_FAILURE)
		snprintf(s->type, sizeof s->type, "%s", failure_type(v.failure));
	else if (v.kind == DEFERRED_VAL_PTR && v.ptr)
		snprintf(s->text, sizeof s->text, "%s", (const char *)v.ptr);
	deferred_val_free(v);
	return deferred_val_none();
}

static void run_until(struct fixture *f, const int *flag, int want, unsigned ms)
{
	uint64_t until = clock_us() + (uint64_t)ms * 1000;
	while (*flag < want && clock_us() < until)
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static void call_later_fires_after_its_time(void **state)
{
	struct fixture *f = *state;
	struct seen s = {0};
	uint64_t t0 = clock_us();
	struct deferred *d = fcgi_call_later(f->app, 30);
	assert_non_null(d);
	assert_int_equal(deferred_add_both(d, record, &s, NULL), 0);
	assert_int_equal(s.calls, 0);
	run_until(f, &s.calls, 1, 2000);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.kind, DEFERRED_VAL_NONE);
	/* Never early by more than libevent's clock, the kernel's coarse
	 * monotonic one (a tick of up to 4 ms). */
	assert_true(s.at_us - t0 >= 30000 - 5000);
	deferred_unref(d);
}

static void call_later_cancelled_stops_its_timer(void **state)
{
	struct fixture *f = *state;
	struct seen s = {0};
	struct deferred *d = fcgi_call_later(f->app, 20);
	assert_non_null(d);
	assert_int_equal(deferred_add_both(d, record, &s, NULL), 0);
	deferred_cancel(d);
	assert_int_equal(s.calls, 1);
	assert_string_equal(s.type, FAILURE_CANCELLED);
	deferred_unref(d);
	/* The timer is gone: running the loop past its time calls nothing
	 * again (ASan and valgrind would see a freed timer firing). */
	int never = 0;
	run_until(f, &never, 1, 60);
	assert_int_equal(s.calls, 1);
}

static struct deferred_val work(void *arg)
{
	(void)arg;
	return deferred_val_static("worked");
}

static int freed;
static void count_free(void *arg)
{
	(void)arg;
	freed++;
}

static struct deferred_val block(void *arg)
{
	/* Holds the one worker until the test lets it go. */
	_Atomic int *go = arg;
	while (!*go)
		;
	return deferred_val_none();
}

static void defer_to_thread_results_and_refusals(void **state)
{
	struct fixture *f = *state;
	struct seen s = {0};
	freed = 0;
	struct deferred *d = fcgi_defer_to_thread(f->app, work, NULL, count_free);
	assert_non_null(d);
	assert_int_equal(deferred_add_both(d, record, &s, NULL), 0);
	run_until(f, &s.calls, 1, 5000);
	assert_int_equal(s.calls, 1);
	assert_string_equal(s.text, "worked");
	assert_int_equal(freed, 1);
	deferred_unref(d);

	/* One worker busy, one job queued: the third is QueueFull, with its
	 * arg freed at once (the job never runs). */
	static _Atomic int go;
	go = 0;
	struct seen b = {0}, q = {0}, full = {0};
	struct deferred *busy = fcgi_defer_to_thread(f->app, block, (void *)&go, NULL);
	struct deferred *queued = fcgi_defer_to_thread(f->app, work, NULL, NULL);
	struct deferred *over = fcgi_defer_to_thread(f->app, work, NULL, count_free);
	assert_non_null(busy);
	assert_non_null(queued);
	assert_non_null(over);
	assert_int_equal(freed, 2);
	deferred_add_both(busy, record, &b, NULL);
	deferred_add_both(queued, record, &q, NULL);
	deferred_add_both(over, record, &full, NULL);
	assert_int_equal(full.calls, 1);
	assert_string_equal(full.type, FCGI_FAILURE_QUEUE_FULL);
	go = 1;
	run_until(f, &q.calls, 1, 5000);
	assert_int_equal(b.calls, 1);
	assert_int_equal(q.calls, 1);
	deferred_unref(busy);
	deferred_unref(queued);
	deferred_unref(over);

	/* A stopped pool: ShuttingDown. */
	pool_stop(f->pool);
	struct seen st = {0};
	struct deferred *late = fcgi_defer_to_thread(f->app, work, NULL, count_free);
	assert_non_null(late);
	deferred_add_both(late, record, &st, NULL);
	assert_string_equal(st.type, FCGI_FAILURE_SHUTTING_DOWN);
	assert_int_equal(freed, 3);
	deferred_unref(late);
}

static void events_anonymous_and_named(void **state)
{
	struct fixture *f = *state;
	struct fcgi_event *e = fcgi_event_new(f->app);
	assert_non_null(e);
	struct seen w[3] = {{0}};
	struct deferred *d[3];
	for (int i = 0; i < 3; i++) {
		d[i] = fcgi_event_wait(e);
		assert_non_null(d[i]);
		deferred_add_both(d[i], record, &w[i], NULL);
	}
	assert_int_equal(fcgi_event_waiting(e), 3);
	assert_int_equal(fcgi_event_waiting_all(f->app), 3);
	deferred_cancel(d[1]); /* its client went away */
	assert_int_equal(fcgi_event_waiting(e), 2);
	assert_int_equal(fcgi_event_fire(e, deferred_val_static("v")), 2);
	run_until(f, &w[2].calls, 1, 2000);
	assert_string_equal(w[0].text, "v");
	assert_string_equal(w[2].text, "v");
	assert_string_equal(w[1].type, FAILURE_CANCELLED);
	assert_int_equal(fcgi_event_fire(e, deferred_val_static("v")), 0);
	for (int i = 0; i < 3; i++)
		deferred_unref(d[i]);

	/* Named: made on the first wait, counted per name, gone with its
	 * last waiter. */
	struct seen n[2] = {{0}};
	struct deferred *a = fcgi_event_wait_named(f->app, "room-1", 6);
	struct deferred *b = fcgi_event_wait_named(f->app, "room-2", 6);
	deferred_add_both(a, record, &n[0], NULL);
	deferred_add_both(b, record, &n[1], NULL);
	assert_int_equal(fcgi_event_waiting_named(f->app, "room-1", 6), 1);
	assert_int_equal(fcgi_event_waiting_named(f->app, "room-3", 6), 0);
	assert_int_equal(fcgi_event_fire_named(f->app, "room-3", 6, deferred_val_none()), 0);
	assert_int_equal(fcgi_event_fire_named(f->app, "room-1", 6,
	                                       deferred_val_static("hi")), 1);
	run_until(f, &n[0].calls, 1, 2000);
	assert_string_equal(n[0].text, "hi");
	assert_int_equal(n[1].calls, 0);
	assert_int_equal(fcgi_event_waiting_named(f->app, "room-1", 6), 0);
	assert_int_equal(fcgi_event_waiting_all(f->app), 1);
	deferred_unref(a);
	/* Freeing an event cancels its waiters. */
	fcgi_event_free(e);
	deferred_cancel(b);
	assert_string_equal(n[1].type, FAILURE_CANCELLED);
	deferred_unref(b);
	assert_int_equal(fcgi_event_waiting_all(f->app), 0);
}

static void helpers_before_the_app_runs(void **state)
{
	(void)state;
	struct fcgi_app *app = fcgi_app_new();
	assert_non_null(app);
	/* Not bound to a loop yet: nothing to wait or time on. */
	assert_null(fcgi_call_later(app, 1));
	assert_null(fcgi_event_new(app));
	assert_null(fcgi_event_wait_named(app, "x", 1));
	assert_int_equal(fcgi_event_waiting_all(app), 0);
	struct seen s = {0};
	freed = 0;
	struct deferred *d = fcgi_defer_to_thread(app, work, NULL, count_free);
	assert_non_null(d);
	deferred_add_both(d, record, &s, NULL);
	assert_string_equal(s.type, FCGI_FAILURE_SHUTTING_DOWN);
	assert_int_equal(freed, 1);
	deferred_unref(d);
	fcgi_app_free(app);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(call_later_fires_after_its_time, setup, teardown),
		cmocka_unit_test_setup_teardown(call_later_cancelled_stops_its_timer, setup, teardown),
		cmocka_unit_test_setup_teardown(defer_to_thread_results_and_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(events_anonymous_and_named, setup, teardown),
		cmocka_unit_test(helpers_before_the_app_runs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
