/*
 * Unit tests for deferred_timeout: addTimeout on a real event_base, which
 * each test gets in *state and which must hold no timer once the test let
 * go of its Deferreds.  Shared helpers: deferred_test.h.
 */
#include <event2/event.h>

#include "deferred_test.h"
#include "deferred_timeout.h"

static int setup_base(void **state)
{
	setup(state);
	*state = event_base_new();
	return *state != NULL ? 0 : -1;
}

/* Every timer must be gone once the test let go of its Deferreds. */
static int teardown_base(void **state)
{
	struct event_base *base = *state;
	int added = event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED);

	event_base_free(base);
	teardown(state);
	return added == 0 ? 0 : -1;
}

/* ---- addTimeout ---- */

static const struct timeval ten_ms = { 0, 10000 };
static const struct timeval ten_s = { 10, 0 };

static void timeout_turns_cancelled_error_into_timeout_error(void **state)
{
	struct event_base *base = *state;
	struct deferred *d = deferred_new(NULL, NULL);
	struct deferred_val v;

	deferred_add_errback(d, cb_note, S("before"), NULL);
	assert_int_equal(deferred_add_timeout(d, base, &ten_ms), 0);
	deferred_add_errback(d, cb_note, S("after"), NULL);
	assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
	/* Only the pairs added after addTimeout see the conversion. */
	assert_string_equal(trace, "before=" FAILURE_CANCELLED
	                           ";after=" FAILURE_TIMEOUT ";");
	v = deferred_peek_result(d);
	assert_string_equal(failure_message(v.failure),
	                    "Deferred timed out after 0.01 seconds");
	deferred_unref(d);
	assert_int_equal(unhandled_calls, 1);
	assert_string_equal(unhandled_type, FAILURE_TIMEOUT);
}

static void late_callback_after_timeout_is_swallowed(void **state)
{
	struct event_base *base = *state;
	struct deferred *d = deferred_new(NULL, NULL);

	deferred_add_timeout(d, base, &ten_ms);
	deferred_add_errback(d, cb_recover, (void *)0, NULL);
	assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
	assert_int_equal(deferred_callback(d, INT(1)), 0);
	assert_int_equal(as_int(deferred_peek_result(d)), 0);
	deferred_unref(d);
}

static void timeout_runs_the_canceller(void **state)
{
	struct event_base *base = *state;
	struct deferred *d = deferred_new(canceller_fires, NULL);

	deferred_add_timeout(d, base, &ten_ms);
	deferred_add_callback(d, cb_note, S("cb"), NULL);
	assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
	assert_string_equal(trace, "cancel:fires;cb=5;");
	deferred_unref(d);
}

static void canceller_errbacks(struct deferred *d, void *arg)
{
	(void)arg;
	deferred_errback(d, value_error("own"));
}

static void timeout_keeps_a_non_cancel_failure_from_the_canceller(
    void **state)
{
	struct event_base *base = *state;
	struct deferred *d = deferred_new(canceller_errbacks, NULL);

	deferred_add_timeout(d, base, &ten_ms);
	deferred_add_errback(d, cb_note, S("eb"), NULL);
	deferred_add_errback(d, cb_recover, (void *)0, NULL);
	assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
	assert_string_equal(trace, "eb=ValueError;");
	deferred_unref(d);
}

static void deferred_fired_before_timeout_leaves_no_timer(void **state)
{
	struct event_base *base = *state;
	struct deferred *d = deferred_new(NULL, NULL);

	assert_int_equal(deferred_add_timeout(d, base, &ten_s), 0);
	assert_int_equal(
	    event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 1);
	deferred_add_callback(d, cb_note, S("cb"), NULL);
	deferred_callback(d, INT(3));
	assert_int_equal(
	    event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0);
	assert_string_equal(trace, "cb=3;");
	deferred_unref(d);
}

static void timeout_on_a_fired_deferred_leaves_no_timer(void **state)
{
	struct event_base *base = *state;
	struct deferred *d = deferred_succeed(INT(3));

	assert_int_equal(deferred_add_timeout(d, base, &ten_s), 0);
	assert_int_equal(
	    event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0);
	assert_int_equal(as_int(deferred_peek_result(d)), 3);
	deferred_unref(d);
}

static void freeing_an_unfired_deferred_removes_its_timer(void **state)
{
	struct event_base *base = *state;
	struct deferred *d = deferred_new(NULL, NULL);

	deferred_add_timeout(d, base, &ten_s);
	deferred_unref(d);
	assert_int_equal(
	    event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0);
}

static void timeout_leaves_other_failures_alone(void **state)
{
	struct event_base *base = *state;
	struct deferred *d = deferred_new(NULL, NULL);

	deferred_add_timeout(d, base, &ten_s);
	deferred_add_errback(d, cb_note, S("eb"), NULL);
	deferred_add_errback(d, cb_recover, (void *)0, NULL);
	deferred_errback(d, value_error("own"));
	assert_string_equal(trace, "eb=ValueError;");
	deferred_unref(d);
}

static void timeout_while_waiting_cancels_the_chained_deferred(void **state)
{
	struct event_base *base = *state;
	struct deferred *outer = deferred_new(NULL, NULL);
	struct deferred *inner = deferred_new(canceller_note, S("inner"));

	deferred_add_callback(outer, cb_return_deferred, inner, NULL);
	deferred_callback(outer, INT(0));
	deferred_add_timeout(outer, base, &ten_ms);
	deferred_add_errback(outer, cb_note, S("eb"), NULL);
	deferred_add_errback(outer, cb_recover, (void *)0, NULL);
	assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
	assert_string_equal(trace, "cancel:inner;eb=" FAILURE_TIMEOUT ";");
	deferred_unref(inner);
	deferred_unref(outer);
}

#define TB(name) \
	cmocka_unit_test_setup_teardown(name, setup_base, teardown_base)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TB(timeout_turns_cancelled_error_into_timeout_error),
		TB(late_callback_after_timeout_is_swallowed),
		TB(timeout_runs_the_canceller),
		TB(timeout_keeps_a_non_cancel_failure_from_the_canceller),
		TB(deferred_fired_before_timeout_leaves_no_timer),
		TB(timeout_on_a_fired_deferred_leaves_no_timer),
		TB(freeing_an_unfired_deferred_removes_its_timer),
		TB(timeout_leaves_other_failures_alone),
		TB(timeout_while_waiting_cancels_the_chained_deferred),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
