/* Unit tests for fanout: events many Deferreds wait on, named events, the
 * paced fire's batch sizes (on an injected clock, so no assertion depends
 * on wall time), cancels in the middle of a fire, and who frees what. */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "deferred.h"
#include "failure.h"
#include "fanout.h"

static uint64_t fake_us;
static uint64_t fake_clock(void)
{
	return fake_us;
}

struct fixture {
	struct event_base *base;
	struct fanout *f;
};

static struct fanout_opts opts(unsigned rate, unsigned batch)
{
	return (struct fanout_opts){.fire_batch = batch, .fire_rate = rate,
	                            .fire_interval_us = 1000,
	                            .fire_busy_us = 50000,
	                            .clock_us = fake_clock};
}

static int setup_with(void **state, struct fanout_opts o)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	fx->base = event_base_new();
	fx->f = fanout_new(fx->base, &o);
	assert_non_null(fx->f);
	fake_us = 1000000;
	*state = fx;
	return 0;
}

static int setup_unpaced(void **state)
{
	return setup_with(state, opts(0, 1000));
}

static int setup_paced(void **state)
{
	return setup_with(state, opts(1000, 5));
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	fanout_free(fx->f);
	event_base_free(fx->base);
	free(fx);
	return 0;
}

/* What each waiter saw. */
struct seen {
	int calls;
	bool failed;
	char text[64];
};

static struct deferred_val record(struct deferred_val v, void *arg)
{
	struct seen *s = arg;
	s->calls++;
	if (v.kind == DEFERRED_VAL_FAILURE) {
		s->failed = true;
		snprintf(s->text, sizeof s->text, "%s", failure_type(v.failure));
	} else if (v.kind == DEFERRED_VAL_PTR) {
		/* Borrowed: copied now, as fanout.h asks. */
		snprintf(s->text, sizeof s->text, "%s", (const char *)v.ptr);
	}
	deferred_val_free(v);
	return deferred_val_none();
}

static struct deferred *wait_on(struct fanout_event *e, struct seen *s)
{
	struct deferred *d = fanout_event_wait(e);
	assert_non_null(d);
	assert_int_equal(deferred_add_both(d, record, s, NULL), 0);
	return d;
}

static int value_frees;
static void count_free(void *p)
{
	value_frees++;
	free(p);
}

static void fanout_fire_completes_every_waiter_with_the_value(void **state)
{
	struct fixture *fx = *state;
	struct fanout_event *e = fanout_event_new(fx->f);
	struct seen s[3] = {0};
	struct deferred *d[3];
	for (int i = 0; i < 3; i++)
		d[i] = wait_on(e, &s[i]);
	assert_int_equal(fanout_event_waiting(e), 3);
	assert_int_equal(fanout_unfired(fx->f), 3);
	value_frees = 0;
	long n = fanout_event_fire(e, deferred_val_ptr(strdup("hello"), count_free));
	assert_int_equal(n, 3);
	/* Unpaced: the first batch takes all three at once. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(s[i].calls, 1);
		assert_false(s[i].failed);
		assert_string_equal(s[i].text, "hello");
		deferred_unref(d[i]);
	}
	assert_int_equal(value_frees, 1); /* once, after the last waiter */
	assert_int_equal(fanout_event_waiting(e), 0);
	assert_int_equal(fanout_unfired(fx->f), 0);
	/* Nobody waits now: 0, and the value is freed. */
	assert_int_equal(fanout_event_fire(e, deferred_val_ptr(strdup("x"), count_free)), 0);
	assert_int_equal(value_frees, 2);
	struct deferred_val bad = deferred_val_failure(failure_new("E", "x"));
	assert_int_equal(fanout_event_fire(e, bad), -EINVAL);
	deferred_val_free(bad); /* refused: still ours */
	fanout_event_free(e);
}

static void fanout_later_waiters_wait_for_the_next_fire(void **state)
{
	struct fixture *fx = *state;
	struct fanout_event *e = fanout_event_new(fx->f);
	struct seen a = {0}, b = {0};
	struct deferred *da = wait_on(e, &a);
	assert_int_equal(fanout_event_fire(e, deferred_val_static("one")), 1);
	struct deferred *db = wait_on(e, &b);
	assert_int_equal(b.calls, 0);
	assert_int_equal(fanout_event_fire(e, deferred_val_static("two")), 1);
	assert_string_equal(a.text, "one");
	assert_string_equal(b.text, "two");
	deferred_unref(da);
	deferred_unref(db);
	fanout_event_free(e);
}

/* rate 1000/s, interval 1 ms, batch at most 5: the first batch is one
 * interval's worth (1); each later one is what the clock says the rate
 * allowed since, capped at 5. */
static void fanout_batches_follow_the_rate_on_the_clock(void **state)
{
	struct fixture *fx = *state;
	struct fanout_event *e = fanout_event_new(fx->f);
	enum { N = 12 };
	struct seen s[N] = {0};
	struct deferred *d[N];
	for (int i = 0; i < N; i++)
		d[i] = wait_on(e, &s[i]);
	assert_int_equal(fanout_event_fire(e, deferred_val_static("v")), N);
	int done = 0;
	for (int i = 0; i < N; i++)
		done += s[i].calls;
	assert_int_equal(done, 1);
	static const struct {
		uint64_t advance_us;
		int total;
	} steps[] = {{3000, 4}, {100000, 9}, {1500, 10}, {100000, 12}};
	for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
		fake_us += steps[k].advance_us;
		event_base_loop(fx->base, EVLOOP_ONCE);
		done = 0;
		for (int i = 0; i < N; i++)
			done += s[i].calls;
		assert_int_equal(done, steps[k].total);
		assert_int_equal(fanout_event_unfired(e), (size_t)(N - steps[k].total));
	}
	/* Oldest first. */
	for (int i = 0; i < N; i++) {
		assert_string_equal(s[i].text, "v");
		deferred_unref(d[i]);
	}
	fanout_event_free(e);
}

/* A foreground request within fire_busy_us puts the fire on the busy
 * rate: 100/s here, so a 10 ms step allows one, not ten. */
static void fanout_foreground_requests_slow_the_fire(void **state)
{
	struct fixture *fx = *state;
	fanout_free(fx->f);
	struct fanout_opts o = opts(1000, 50);
	o.fire_rate_busy = 100;
	fx->f = fanout_new(fx->base, &o);
	struct fanout_event *e = fanout_event_new(fx->f);
	struct seen s[30] = {0};
	struct deferred *d[30];
	for (int i = 0; i < 30; i++)
		d[i] = wait_on(e, &s[i]);
	fanout_note_foreground(fx->f);
	assert_int_equal(fanout_event_fire(e, deferred_val_static("v")), 30);
	fake_us += 10000;
	event_base_loop(fx->base, EVLOOP_ONCE);
	assert_int_equal(fanout_event_unfired(e), 28); /* 1 first + 1 */
	fake_us += 60000; /* the busy window (50 ms) is over: 1000/s */
	event_base_loop(fx->base, EVLOOP_ONCE);
	assert_int_equal(fanout_event_unfired(e), 0);
	for (int i = 0; i < 30; i++)
		deferred_unref(d[i]);
	fanout_event_free(e);
}

static void fanout_cancel_in_the_middle_of_a_fire(void **state)
{
	struct fixture *fx = *state;
	struct fanout_event *e = fanout_event_new(fx->f);
	struct seen s[6] = {0};
	struct deferred *d[6];
	for (int i = 0; i < 6; i++)
		d[i] = wait_on(e, &s[i]);
	value_frees = 0;
	assert_int_equal(fanout_event_fire(e, deferred_val_ptr(strdup("v"), count_free)), 6);
	assert_int_equal(s[0].calls, 1);
	/* Two leave while they wait in the fire: a client went away. */
	deferred_cancel(d[3]);
	deferred_cancel(d[5]);
	assert_true(s[3].failed && s[5].failed);
	assert_string_equal(s[3].text, FAILURE_CANCELLED);
	assert_int_equal(fanout_event_unfired(e), 3);
	fake_us += 100000;
	event_base_loop(fx->base, EVLOOP_ONCE);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(s[i].calls, 1);
		assert_int_equal(s[i].failed, i == 3 || i == 5);
		deferred_unref(d[i]);
	}
	assert_int_equal(value_frees, 1);
	/* And a waiter that leaves before any fire. */
	struct seen w = {0};
	struct deferred *dw = wait_on(e, &w);
	deferred_cancel(dw);
	deferred_unref(dw);
	assert_int_equal(fanout_event_waiting(e), 0);
	assert_int_equal(fanout_unfired(fx->f), 0);
	fanout_event_free(e);
}

/* Freeing an event cancels its waiters, those a fire took included; the
 * other events' waiters in the same fire queue are not touched. */
static void fanout_event_free_cancels_its_own_waiters_only(void **state)
{
	struct fixture *fx = *state;
	struct fanout_event *a = fanout_event_new(fx->f), *b = fanout_event_new(fx->f);
	struct seen sa[8] = {0}, sb[8] = {0};
	struct deferred *da[8], *db[8];
	for (int i = 0; i < 8; i++) {
		da[i] = wait_on(a, &sa[i]);
		db[i] = wait_on(b, &sb[i]);
	}
	assert_int_equal(fanout_event_fire(a, deferred_val_static("a")), 8);
	assert_int_equal(fanout_event_fire(b, deferred_val_static("b")), 8);
	struct seen late = {0};
	struct deferred *dl = wait_on(a, &late);
	fanout_event_free(a);
	assert_int_equal(late.calls, 1);
	assert_true(late.failed);
	int cancelled = 0;
	for (int i = 0; i < 8; i++)
		cancelled += sa[i].failed;
	assert_int_equal(cancelled, 7); /* the first batch had one */
	fake_us += 100000;
	while (fanout_unfired(fx->f) > 0)
		event_base_loop(fx->base, EVLOOP_ONCE), fake_us += 100000;
	for (int i = 0; i < 8; i++) {
		assert_int_equal(sb[i].calls, 1);
		assert_false(sb[i].failed);
		assert_string_equal(sb[i].text, "b");
		deferred_unref(da[i]);
		deferred_unref(db[i]);
	}
	deferred_unref(dl);
	fanout_event_free(b);
}

static void fanout_named_events_live_while_someone_waits(void **state)
{
	struct fixture *fx = *state;
	struct seen s[3] = {0};
	struct deferred *d0 = fanout_wait_named(fx->f, "news", 4);
	struct deferred *d1 = fanout_wait_named(fx->f, "news", 4);
	struct deferred *d2 = fanout_wait_named(fx->f, "sport", 5);
	assert_int_equal(deferred_add_both(d0, record, &s[0], NULL), 0);
	assert_int_equal(deferred_add_both(d1, record, &s[1], NULL), 0);
	assert_int_equal(deferred_add_both(d2, record, &s[2], NULL), 0);
	assert_int_equal(fanout_named_count(fx->f), 2);
	assert_int_equal(fanout_named_waiting(fx->f, "news", 4), 2);
	assert_int_equal(fanout_named_waiting(fx->f, "new", 3), 0);
	assert_int_equal(fanout_fire_named(fx->f, "nope", 4, deferred_val_static("x")), 0);
	assert_int_equal(fanout_fire_named(fx->f, "news", 4, deferred_val_static("N")), 2);
	assert_string_equal(s[0].text, "N");
	assert_string_equal(s[1].text, "N");
	assert_int_equal(s[2].calls, 0);
	/* "news" had nobody left: gone.  "sport" goes with its last waiter. */
	assert_int_equal(fanout_named_count(fx->f), 1);
	deferred_cancel(d2);
	assert_int_equal(fanout_named_count(fx->f), 0);
	assert_true(s[2].failed);
	deferred_unref(d0);
	deferred_unref(d1);
	deferred_unref(d2);
}

/* Many names: the table grows and every name keeps its own waiters. */
static void fanout_many_names(void **state)
{
	struct fixture *fx = *state;
	enum { N = 2000 };
	struct deferred **d = calloc(N, sizeof *d);
	struct seen *s = calloc(N, sizeof *s);
	char name[32];
	for (int i = 0; i < N; i++) {
		int len = snprintf(name, sizeof name, "ch-%d", i);
		d[i] = fanout_wait_named(fx->f, name, (size_t)len);
		assert_non_null(d[i]);
		assert_int_equal(deferred_add_both(d[i], record, &s[i], NULL), 0);
	}
	assert_int_equal(fanout_named_count(fx->f), N);
	for (int i = 0; i < N; i += 2) {
		int len = snprintf(name, sizeof name, "ch-%d", i);
		char *msg = malloc(16);
		snprintf(msg, 16, "m%d", i);
		assert_int_equal(fanout_fire_named(fx->f, name, (size_t)len,
		                                   deferred_val_ptr(msg, free)), 1);
	}
	for (int i = 0; i < N; i++) {
		char want[16];
		snprintf(want, sizeof want, "m%d", i);
		if (i % 2 == 0)
			assert_string_equal(s[i].text, want);
		else
			assert_int_equal(s[i].calls, 0);
	}
	assert_int_equal(fanout_named_count(fx->f), N / 2);
	for (int i = 0; i < N; i++) {
		if (i % 2)
			deferred_cancel(d[i]); /* before `s` goes */
		deferred_unref(d[i]);
	}
	assert_int_equal(fanout_named_count(fx->f), 0);
	free(d);
	free(s);
}

/* A waiter's callback fires another event: the nested fire is queued
 * behind the running one (the batch goes on into it; no batch runs inside
 * another), and each value is freed once, after its own callbacks. */
struct refire {
	struct fanout_event *other;
	struct seen seen;
};

static struct deferred_val fire_other(struct deferred_val v, void *arg)
{
	struct refire *r = arg;
	record(v, &r->seen);
	fanout_event_fire(r->other, deferred_val_ptr(strdup("second"), count_free));
	return deferred_val_none();
}

static void fanout_a_callback_may_fire_again(void **state)
{
	struct fixture *fx = *state;
	struct fanout_event *a = fanout_event_new(fx->f), *b = fanout_event_new(fx->f);
	struct refire r = {.other = b};
	struct seen sb = {0};
	struct deferred *da = fanout_event_wait(a);
	assert_int_equal(deferred_add_both(da, fire_other, &r, NULL), 0);
	struct deferred *db = wait_on(b, &sb);
	value_frees = 0;
	assert_int_equal(fanout_event_fire(a, deferred_val_ptr(strdup("first"), count_free)), 1);
	assert_string_equal(r.seen.text, "first");
	assert_int_equal(sb.calls, 1);
	assert_string_equal(sb.text, "second");
	assert_int_equal(value_frees, 2);
	deferred_unref(da);
	deferred_unref(db);
	fanout_event_free(a);
	fanout_event_free(b);
}

static void fanout_free_cancels_everything(void **state)
{
	struct fixture *fx = *state;
	struct fanout_event *e = fanout_event_new(fx->f);
	struct seen s[4] = {0};
	struct deferred *d[4];
	for (int i = 0; i < 2; i++)
		d[i] = wait_on(e, &s[i]);
	d[2] = fanout_wait_named(fx->f, "x", 1);
	assert_int_equal(deferred_add_both(d[2], record, &s[2], NULL), 0);
	d[3] = wait_on(e, &s[3]);
	fanout_free(fx->f);
	fx->f = fanout_new(fx->base, &(struct fanout_opts){.fire_batch = 1});
	for (int i = 0; i < 4; i++) {
		assert_int_equal(s[i].calls, 1);
		assert_true(s[i].failed);
		deferred_unref(d[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(fanout_fire_completes_every_waiter_with_the_value,
		                                setup_unpaced, teardown),
		cmocka_unit_test_setup_teardown(fanout_later_waiters_wait_for_the_next_fire,
		                                setup_unpaced, teardown),
		cmocka_unit_test_setup_teardown(fanout_batches_follow_the_rate_on_the_clock,
		                                setup_paced, teardown),
		cmocka_unit_test_setup_teardown(fanout_foreground_requests_slow_the_fire,
		                                setup_paced, teardown),
		cmocka_unit_test_setup_teardown(fanout_cancel_in_the_middle_of_a_fire,
		                                setup_paced, teardown),
		cmocka_unit_test_setup_teardown(fanout_event_free_cancels_its_own_waiters_only,
		                                setup_paced, teardown),
		cmocka_unit_test_setup_teardown(fanout_named_events_live_while_someone_waits,
		                                setup_unpaced, teardown),
		cmocka_unit_test_setup_teardown(fanout_many_names, setup_unpaced, teardown),
		cmocka_unit_test_setup_teardown(fanout_a_callback_may_fire_again,
		                                setup_unpaced, teardown),
		cmocka_unit_test_setup_teardown(fanout_free_cancels_everything,
		                                setup_unpaced, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
