/*
 * Unit tests for deferred, the core: Twisted's Deferred semantics
 * (defer.py), the demo's own chains (/simple, /error, the overview
 * example), chaining and its cycle check, cancellation, pause, unhandled
 * errors and the C lifetime rules (refcounts, arg_free, re-entrancy).
 * Shared helpers: deferred_test.h.
 */
#include <unistd.h>

#include "deferred_test.h"

#define DEEP 100000

static void count_arg_free(void *arg)
{
	(void)arg;
	arg_frees++;
}

static struct deferred_val cb_add(struct deferred_val v, void *n)
{
	return INT(as_int(v) + (intptr_t)n);
}

static struct deferred_val cb_fail(struct deferred_val v, void *msg)
{
	deferred_val_free(v);
	return deferred_val_failure(value_error(msg));
}

/* The demo's addTag: wraps the string result in <tag>...</tag>. */
static struct deferred_val cb_add_tag(struct deferred_val v, void *tag)
{
	char *s = NULL;

	assert_int_equal(v.kind, DEFERRED_VAL_PTR);
	assert_int_not_equal(asprintf(&s, "<%s>%s</%s>", (const char *)tag,
	                              (const char *)v.ptr, (const char *)tag),
	                     -1);
	deferred_val_free(v);
	return deferred_val_str(s);
}

static struct deferred_val cb_unref(struct deferred_val v, void *d)
{
	deferred_unref(d);
	return v;
}

static struct deferred_val cb_pause(struct deferred_val v, void *d)
{
	deferred_pause(d);
	return v;
}

static struct deferred_val cb_refire(struct deferred_val v, void *d)
{
	int rc = deferred_callback(d, INT(99));

	note("refire=%s", rc == -EALREADY ? "EALREADY" : "other");
	return v;
}

static struct deferred_val cb_fire_other(struct deferred_val v, void *other)
{
	note("firing-other");
	assert_int_equal(deferred_callback(other, INT(2)), 0);
	note("fired-other");
	return v;
}

static struct deferred_val cb_cancel(struct deferred_val v, void *d)
{
	deferred_cancel(d);
	return v;
}

/* ---- the demo's chains ---- */

/* Overview: a result of 100 through four additions, an errback that
 * never runs and addBoth, which sees 110. */
static void overview_chain_adds_up_to_110(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	for (intptr_t i = 1; i <= 4; i++)
		assert_int_equal(deferred_add_callback(d, cb_add, (void *)i,
		                                       NULL), 0);
	deferred_add_errback(d, cb_note, S("errback"), NULL);
	deferred_add_both(d, cb_note, S("both"), NULL);
	assert_int_equal(deferred_callback(d, INT(100)), 0);
	assert_string_equal(trace, "both=110;");
	deferred_unref(d);
}

static void simple_route_chain_wraps_in_i_then_u(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(d, cb_add_tag, S("i"), NULL);
	deferred_add_callback(d, cb_add_tag, S("u"), NULL);
	assert_false(deferred_has_result(d));
	deferred_callback(d,
	    deferred_val_static("This is a simple callback...FIRE!"));
	assert_string_equal(deferred_peek_result(d).ptr,
	                    "<u><i>This is a simple callback...FIRE!</i></u>");
	deferred_unref(d);
}

static struct deferred_val raise_error(void *arg)
{
	(void)arg;
	return deferred_val_failure(
	    value_error("invalid literal for int() with base 10: 'hello'"));
}

static struct deferred_val error_callback(struct deferred_val v, void *arg)
{
	char *s = failure_to_string(v.failure), *out = NULL;

	(void)arg;
	assert_non_null(s);
	assert_int_not_equal(
	    asprintf(&out, "Uh oh spaghetti-Os!<br><br>ERROR: %s", s), -1);
	free(s);
	deferred_val_free(v);
	return deferred_val_str(out);
}

static void error_route_chain_recovers_and_wraps_in_strong(void **state)
{
	struct deferred *d = deferred_maybe(raise_error, NULL);

	(void)state;
	deferred_add_errback(d, error_callback, NULL, NULL);
	deferred_add_callback(d, cb_add_tag, S("strong"), NULL);
	assert_string_equal(deferred_peek_result(d).ptr,
	    "<strong>Uh oh spaghetti-Os!<br><br>ERROR: [Failure instance: "
	    "Traceback (failure with no frames): <class 'ValueError'>: "
	    "invalid literal for int() with base 10: 'hello'\n]</strong>");
	deferred_unref(d);
	assert_int_equal(unhandled_calls, 0);
}

/* ---- callbacks and results ---- */

static void pairs_run_in_the_order_they_were_added(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(d, cb_note, S("a"), NULL);
	deferred_add_callback(d, cb_add, (void *)1, NULL);
	deferred_add_callback(d, cb_note, S("b"), NULL);
	deferred_add_callback(d, cb_add, (void *)10, NULL);
	deferred_add_callback(d, cb_note, S("c"), NULL);
	deferred_callback(d, INT(0));
	assert_string_equal(trace, "a=0;b=1;c=11;");
	deferred_unref(d);
}

static void callback_returning_failure_switches_to_errbacks(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(d, cb_fail, S("bad"), NULL);
	deferred_add_callback(d, cb_note, S("skipped"), NULL);
	deferred_add_errback(d, cb_note, S("eb"), NULL);
	deferred_add_errback(d, cb_recover, (void *)7, NULL);
	deferred_add_callback(d, cb_note, S("after"), NULL);
	deferred_callback(d, INT(1));
	assert_string_equal(trace, "eb=ValueError;after=7;");
	deferred_unref(d);
}

static void errback_returning_value_switches_back_to_callbacks(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_errback(d, cb_recover, (void *)3, NULL);
	deferred_add_errback(d, cb_note, S("eb"), NULL);
	deferred_add_callback(d, cb_note, S("cb"), NULL);
	deferred_errback(d, value_error("x"));
	assert_string_equal(trace, "cb=3;");
	deferred_unref(d);
	assert_int_equal(unhandled_calls, 0);
}

static void add_both_sees_successes_and_failures(void **state)
{
	struct deferred *ok = deferred_new(NULL, NULL);
	struct deferred *bad = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_both(ok, cb_note, S("ok"), NULL);
	deferred_add_both(bad, cb_note, S("bad"), NULL);
	deferred_add_errback(bad, cb_recover, (void *)0, NULL);
	deferred_callback(ok, INT(4));
	deferred_errback(bad, value_error("x"));
	assert_string_equal(trace, "ok=4;bad=ValueError;");
	deferred_unref(ok);
	deferred_unref(bad);
}

static void callbacks_added_after_firing_run_at_once(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_callback(d, INT(8));
	assert_string_equal(trace, "");
	deferred_add_callback(d, cb_note, S("late"), NULL);
	assert_string_equal(trace, "late=8;");
	deferred_unref(d);
}

static void callback_with_failure_value_runs_errbacks(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callbacks(d, cb_note, cb_note, S("x"), NULL);
	deferred_add_errback(d, cb_recover, (void *)0, NULL);
	deferred_callback(d, deferred_val_failure(value_error("v")));
	assert_string_equal(trace, "x=ValueError;");
	deferred_unref(d);
}

static void callback_with_deferred_value_is_einval(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);
	struct deferred *other = deferred_new(NULL, NULL);

	(void)state;
	assert_int_equal(deferred_callback(d, deferred_val_deferred(other)),
	                 -EINVAL);
	assert_false(deferred_is_called(d));
	deferred_unref(other);
	deferred_unref(d);
}

static void errback_with_null_failure_fires_a_memory_error(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_errback(d, cb_note, S("eb"), NULL);
	assert_int_equal(deferred_errback(d, NULL), 0);
	assert_string_equal(trace, "eb=MemoryError;");
	deferred_unref(d);
	assert_int_equal(unhandled_calls, 1);
	assert_string_equal(unhandled_type, "MemoryError");
}

static void second_fire_returns_ealready_and_leaves_the_value(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);
	struct deferred_val again = deferred_val_str(strdup("again"));
	struct failure *f = value_error("again");

	(void)state;
	assert_int_equal(deferred_callback(d, INT(1)), 0);
	assert_int_equal(deferred_callback(d, again), -EALREADY);
	assert_int_equal(deferred_errback(d, f), -EALREADY);
	/* Still ours: freeing them is neither a leak nor a double free. */
	assert_string_equal(again.ptr, "again");
	deferred_val_free(again);
	failure_free(f);
	assert_int_equal(as_int(deferred_peek_result(d)), 1);
	deferred_unref(d);
}

static void state_queries_follow_firing_and_pausing(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	assert_false(deferred_is_called(d));
	assert_false(deferred_has_result(d));
	assert_int_equal(deferred_peek_result(d).kind, DEFERRED_VAL_NONE);
	deferred_pause(d);
	deferred_callback(d, INT(6));
	assert_true(deferred_is_called(d));
	assert_false(deferred_has_result(d));
	deferred_unpause(d);
	assert_true(deferred_has_result(d));
	assert_int_equal(as_int(deferred_peek_result(d)), 6);
	deferred_unref(d);
}

static void peek_result_is_a_borrowed_view(void **state)
{
	struct deferred *d = deferred_succeed(deferred_val_str(strdup("s")));
	struct deferred_val v = deferred_peek_result(d);

	(void)state;
	assert_int_equal(v.kind, DEFERRED_VAL_PTR);
	assert_string_equal(v.ptr, "s");
	assert_null(v.free);
	deferred_unref(d);
}

/* ---- succeed, fail, maybe ---- */

static void succeed_returns_a_fired_deferred(void **state)
{
	struct deferred *d = deferred_succeed(INT(12));

	(void)state;
	assert_true(deferred_has_result(d));
	deferred_add_callback(d, cb_note, S("v"), NULL);
	assert_string_equal(trace, "v=12;");
	deferred_unref(d);
}

static void fail_returns_a_failed_deferred(void **state)
{
	struct deferred *d = deferred_fail(value_error("f"));

	(void)state;
	assert_true(deferred_has_result(d));
	assert_int_equal(deferred_peek_result(d).kind, DEFERRED_VAL_FAILURE);
	deferred_add_errback(d, cb_note, S("eb"), NULL);
	deferred_add_errback(d, cb_recover, (void *)0, NULL);
	assert_string_equal(trace, "eb=ValueError;");
	deferred_unref(d);
	assert_int_equal(unhandled_calls, 0);
}

static struct deferred_val return_int(void *arg)
{
	return INT((intptr_t)arg);
}

static struct deferred_val return_deferred(void *d)
{
	return deferred_val_deferred(d);
}

static void maybe_wraps_a_plain_value_in_succeed(void **state)
{
	struct deferred *d = deferred_maybe(return_int, (void *)9);

	(void)state;
	assert_true(deferred_has_result(d));
	assert_int_equal(as_int(deferred_peek_result(d)), 9);
	deferred_unref(d);
}

static void maybe_wraps_a_failure_in_fail(void **state)
{
	struct deferred *d = deferred_maybe(raise_error, NULL);
	struct deferred_val v = deferred_peek_result(d);

	(void)state;
	assert_int_equal(v.kind, DEFERRED_VAL_FAILURE);
	assert_true(failure_check(v.failure, "ValueError"));
	deferred_unref(d);
	assert_int_equal(unhandled_calls, 1);
}

static void maybe_returns_a_returned_deferred_unchanged(void **state)
{
	struct deferred *inner = deferred_new(NULL, NULL);
	struct deferred *d = deferred_maybe(return_deferred, inner);

	(void)state;
	assert_ptr_equal(d, inner);
	assert_false(deferred_is_called(d));
	deferred_unref(d);
}

/* ---- chaining ---- */

static void callback_returning_unfired_deferred_waits_for_it(void **state)
{
	struct deferred *outer = deferred_new(NULL, NULL);
	struct deferred *inner = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(outer, cb_return_deferred, inner, NULL);
	deferred_add_callback(outer, cb_note, S("outer"), NULL);
	deferred_callback(outer, INT(1));
	assert_string_equal(trace, "");
	assert_true(deferred_is_called(outer));
	assert_false(deferred_has_result(outer));
	assert_int_equal(deferred_peek_result(outer).kind,
	                 DEFERRED_VAL_DEFERRED);
	assert_ptr_equal(deferred_peek_result(outer).deferred, inner);

	deferred_callback(inner, INT(42));
	assert_string_equal(trace, "outer=42;");
	assert_true(deferred_has_result(outer));
	deferred_unref(inner);
	deferred_unref(outer);
}

static void chained_deferred_is_left_with_none(void **state)
{
	struct deferred *outer = deferred_new(NULL, NULL);
	struct deferred *inner = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(outer, cb_return_deferred, inner, NULL);
	deferred_callback(outer, INT(1));
	deferred_add_callback(outer, cb_note, S("outer"), NULL);
	deferred_add_callback(inner, cb_note, S("inner"), NULL);
	deferred_callback(inner, INT(3));
	/* The continuation sits before the pair added to inner afterwards. */
	assert_string_equal(trace, "outer=3;inner=None;");
	deferred_unref(inner);
	deferred_unref(outer);
}

static void waiter_gets_the_result_after_inner_pairs_added_before(
    void **state)
{
	struct deferred *outer = deferred_new(NULL, NULL);
	struct deferred *inner = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(inner, cb_add, (void *)10, NULL);
	deferred_add_callback(outer, cb_return_deferred, inner, NULL);
	deferred_add_callback(outer, cb_note, S("outer"), NULL);
	deferred_callback(outer, INT(0));
	deferred_callback(inner, INT(1));
	assert_string_equal(trace, "outer=11;");
	deferred_unref(inner);
	deferred_unref(outer);
}

/* Fires `other`, whose callback returns this callback's own Deferred
 * while this callback is still in progress. */
static struct deferred_val cb_fire_other_then_add(struct deferred_val v,
                                                  void *other)
{
	deferred_callback(other, INT(0));
	note("fired");
	return INT(as_int(v) + 1);
}

static void deferred_returned_from_inside_its_callback_is_waited_on(
    void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);
	struct deferred *x = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(x, cb_return_deferred, d, NULL);
	deferred_add_callback(x, cb_note, S("x"), NULL);
	deferred_add_callback(d, cb_fire_other_then_add, x, NULL);
	deferred_callback(d, INT(1));
	/* x gets the value d's callback returned, not a half-run state. */
	assert_string_equal(trace, "fired;x=2;");
	assert_int_equal(deferred_peek_result(d).kind, DEFERRED_VAL_NONE);
	deferred_unref(x);
	deferred_unref(d);
}

static void callback_returning_fired_deferred_takes_its_result_at_once(
    void **state)
{
	struct deferred *outer = deferred_new(NULL, NULL);
	struct deferred *inner = deferred_succeed(INT(5));

	(void)state;
	deferred_add_callback(outer, cb_return_deferred, inner, NULL);
	deferred_add_callback(outer, cb_note, S("outer"), NULL);
	deferred_callback(outer, INT(1));
	assert_string_equal(trace, "outer=5;");
	assert_int_equal(deferred_peek_result(inner).kind, DEFERRED_VAL_NONE);
	deferred_unref(inner);
	deferred_unref(outer);
}

static void chained_failure_goes_to_the_outer_errbacks(void **state)
{
	struct deferred *outer = deferred_new(NULL, NULL);
	struct deferred *inner = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(outer, cb_return_deferred, inner, NULL);
	deferred_add_callback(outer, cb_note, S("cb"), NULL);
	deferred_add_errback(outer, cb_note, S("eb"), NULL);
	deferred_add_errback(outer, cb_recover, (void *)0, NULL);
	deferred_callback(outer, INT(1));
	deferred_errback(inner, value_error("inner"));
	assert_string_equal(trace, "eb=ValueError;");
	deferred_unref(inner);
	deferred_unref(outer);
	assert_int_equal(unhandled_calls, 0);
}

static void paused_inner_is_waited_on_even_with_a_result(void **state)
{
	struct deferred *outer = deferred_new(NULL, NULL);
	struct deferred *inner = deferred_new(NULL, NULL);

	(void)state;
	deferred_pause(inner);
	deferred_callback(inner, INT(4));
	deferred_add_callback(outer, cb_return_deferred, inner, NULL);
	deferred_add_callback(outer, cb_note, S("outer"), NULL);
	deferred_callback(outer, INT(1));
	assert_string_equal(trace, "");
	deferred_unpause(inner);
	assert_string_equal(trace, "outer=4;");
	deferred_unref(inner);
	deferred_unref(outer);
}

static void two_deferreds_waiting_on_one_get_value_then_none(void **state)
{
	struct deferred *a = deferred_new(NULL, NULL);
	struct deferred *b = deferred_new(NULL, NULL);
	struct deferred *inner = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(a, cb_return_deferred, inner, NULL);
	deferred_add_callback(a, cb_note, S("a"), NULL);
	deferred_add_callback(b, cb_return_deferred, inner, NULL);
	deferred_add_callback(b, cb_note, S("b"), NULL);
	deferred_callback(a, INT(0));
	deferred_callback(b, INT(0));
	deferred_callback(inner, INT(9));
	assert_string_equal(trace, "a=9;b=None;");
	deferred_unref(a);
	deferred_unref(b);
	deferred_unref(inner);
}

static void callbacks_added_to_a_waiter_keep_later_waiters_linked(
    void **state)
{
	struct deferred *a = deferred_new(NULL, NULL);
	struct deferred *b = deferred_new(NULL, NULL);
	struct deferred *inner = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(a, cb_return_deferred, inner, NULL);
	deferred_add_callback(b, cb_return_deferred, inner, NULL);
	deferred_callback(a, INT(0));
	deferred_callback(b, INT(0));
	deferred_add_callback(a, cb_note, S("a"), NULL);
	deferred_pause(a);
	deferred_unpause(a);
	deferred_add_callback(b, cb_note, S("b"), NULL);
	deferred_callback(inner, INT(9));
	assert_string_equal(trace, "a=9;b=None;");
	deferred_unref(a);
	deferred_unref(b);
	deferred_unref(inner);
}

static void callback_returning_its_own_deferred_fails(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(d, cb_return_deferred, d, NULL);
	deferred_add_errback(d, cb_note, S("eb"), NULL);
	deferred_add_errback(d, cb_recover, (void *)0, NULL);
	deferred_callback(d, INT(0));
	assert_string_equal(trace, "eb=RuntimeError;");
	deferred_unref(d);
}

static void dropping_a_waiting_deferred_leaves_the_inner_usable(void **state)
{
	struct deferred *outer = deferred_new(NULL, NULL);
	struct deferred *inner = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(outer, cb_return_deferred, inner, NULL);
	deferred_add_callback(outer, cb_note, S("outer"), count_arg_free);
	deferred_callback(outer, INT(0));
	deferred_unref(outer);
	assert_int_equal(arg_frees, 1);
	deferred_add_callback(inner, cb_note, S("inner"), NULL);
	deferred_callback(inner, INT(2));
	assert_string_equal(trace, "inner=2;");
	deferred_unref(inner);
}

/* ds[i] waits on ds[i - 1]; firing ds[0] walks the whole chain. */
static struct deferred **deep_chain(void)
{
	struct deferred **ds = calloc(DEEP, sizeof(*ds));

	assert_non_null(ds);
	for (size_t i = 0; i < DEEP; i++) {
		ds[i] = deferred_new(NULL, NULL);
		assert_non_null(ds[i]);
	}
	for (size_t i = 1; i < DEEP; i++) {
		deferred_add_callback(ds[i], cb_return_deferred, ds[i - 1], NULL);
		deferred_callback(ds[i], INT(0));
	}
	return ds;
}

static void deep_chain_of_deferreds_runs_without_stack_growth(void **state)
{
	struct deferred **ds = deep_chain();

	(void)state;
	deferred_add_callback(ds[DEEP - 1], cb_note, S("top"), NULL);
	assert_string_equal(trace, "");
	deferred_callback(ds[0], INT(7));
	assert_string_equal(trace, "top=7;");
	for (size_t i = 0; i < DEEP; i++)
		deferred_unref(ds[i]);
	free(ds);
}

static void dropping_a_deep_waiting_chain_frees_it_iteratively(void **state)
{
	struct deferred **ds = deep_chain();

	(void)state;
	deferred_add_callback(ds[0], cb_note, S("never"), count_arg_free);
	/* Each waiter owns the one below, so only the top frees them all. */
	for (size_t i = 0; i < DEEP - 1; i++)
		deferred_unref(ds[i]);
	assert_int_equal(arg_frees, 0);
	deferred_unref(ds[DEEP - 1]);
	assert_int_equal(arg_frees, 1);
	assert_string_equal(trace, "");
	free(ds);
}

static void cancelling_a_deep_waiting_chain_reaches_the_innermost(
    void **state)
{
	struct deferred **ds = deep_chain();

	(void)state;
	deferred_add_errback(ds[DEEP - 1], cb_note, S("top"), NULL);
	deferred_add_errback(ds[DEEP - 1], cb_recover, (void *)0, NULL);
	deferred_cancel(ds[DEEP - 1]);
	assert_string_equal(trace, "top=" FAILURE_CANCELLED ";");
	for (size_t i = 0; i < DEEP; i++)
		deferred_unref(ds[i]);
	free(ds);
	assert_int_equal(unhandled_calls, 0);
}

/* ---- cancel ---- */

static void cancel_without_canceller_errbacks_cancelled_error(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_errback(d, cb_note, S("eb"), NULL);
	deferred_cancel(d);
	assert_true(deferred_is_called(d));
	assert_string_equal(trace, "eb=" FAILURE_CANCELLED ";");
	deferred_unref(d);
	assert_int_equal(unhandled_calls, 1);
	assert_string_equal(unhandled_type, FAILURE_CANCELLED);
}

static void cancel_runs_the_canceller_then_errbacks(void **state)
{
	struct deferred *d = deferred_new(canceller_note, S("c"));

	(void)state;
	deferred_add_errback(d, cb_note, S("eb"), NULL);
	deferred_add_errback(d, cb_recover, (void *)0, NULL);
	deferred_cancel(d);
	assert_string_equal(trace, "cancel:c;eb=" FAILURE_CANCELLED ";");
	deferred_unref(d);
}

static void canceller_that_fires_replaces_the_cancelled_error(void **state)
{
	struct deferred *d = deferred_new(canceller_fires, NULL);

	(void)state;
	deferred_add_both(d, cb_note, S("both"), NULL);
	deferred_cancel(d);
	assert_string_equal(trace, "cancel:fires;both=5;");
	/* It fired for real, so nothing is suppressed. */
	assert_int_equal(deferred_callback(d, INT(1)), -EALREADY);
	deferred_unref(d);
}

static void callback_after_cancel_without_canceller_is_swallowed_once(
    void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_errback(d, cb_recover, (void *)0, NULL);
	deferred_cancel(d);
	/* Taken and freed: the string must not leak. */
	assert_int_equal(deferred_callback(d, deferred_val_str(strdup("x"))), 0);
	assert_int_equal(deferred_callback(d, INT(2)), -EALREADY);
	assert_int_equal(as_int(deferred_peek_result(d)), 0);
	deferred_unref(d);
}

static void callback_after_cancel_with_canceller_is_already_called(
    void **state)
{
	struct deferred *d = deferred_new(canceller_note, S("c"));

	(void)state;
	deferred_add_errback(d, cb_recover, (void *)0, NULL);
	deferred_cancel(d);
	assert_int_equal(deferred_callback(d, INT(2)), -EALREADY);
	deferred_unref(d);
}

static void cancelling_twice_errbacks_once(void **state)
{
	struct deferred *d = deferred_new(canceller_note, S("c"));

	(void)state;
	deferred_add_errback(d, cb_note, S("eb"), NULL);
	deferred_add_errback(d, cb_recover, (void *)0, NULL);
	deferred_cancel(d);
	deferred_cancel(d);
	assert_string_equal(trace, "cancel:c;eb=" FAILURE_CANCELLED ";");
	deferred_unref(d);
}

static void cancel_after_firing_does_nothing(void **state)
{
	struct deferred *d = deferred_new(canceller_note, S("c"));

	(void)state;
	deferred_callback(d, INT(1));
	deferred_cancel(d);
	assert_string_equal(trace, "");
	assert_int_equal(as_int(deferred_peek_result(d)), 1);
	deferred_unref(d);
}

static void cancel_forwards_to_the_chained_deferred(void **state)
{
	struct deferred *outer = deferred_new(canceller_note, S("outer"));
	struct deferred *inner = deferred_new(canceller_note, S("inner"));

	(void)state;
	deferred_add_callback(outer, cb_return_deferred, inner, NULL);
	deferred_add_errback(outer, cb_note, S("eb"), NULL);
	deferred_add_errback(outer, cb_recover, (void *)0, NULL);
	deferred_callback(outer, INT(0));
	deferred_cancel(outer);
	assert_string_equal(trace, "cancel:inner;eb=" FAILURE_CANCELLED ";");
	assert_true(deferred_is_called(inner));
	deferred_unref(inner);
	deferred_unref(outer);
}

static void cancel_from_inside_own_callback_is_harmless(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(d, cb_cancel, d, NULL);
	deferred_add_callback(d, cb_note, S("after"), NULL);
	deferred_callback(d, INT(1));
	assert_string_equal(trace, "after=1;");
	deferred_unref(d);
}

/* ---- pause ---- */

static void paused_deferred_holds_callbacks_until_unpaused(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_pause(d);
	deferred_add_callback(d, cb_note, S("a"), NULL);
	deferred_callback(d, INT(1));
	deferred_add_callback(d, cb_note, S("b"), NULL);
	assert_string_equal(trace, "");
	deferred_unpause(d);
	assert_string_equal(trace, "a=1;b=1;");
	deferred_unref(d);
}

static void pause_counts_so_each_needs_an_unpause(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_pause(d);
	deferred_pause(d);
	deferred_add_callback(d, cb_note, S("a"), NULL);
	deferred_callback(d, INT(1));
	deferred_unpause(d);
	assert_string_equal(trace, "");
	deferred_unpause(d);
	assert_string_equal(trace, "a=1;");
	deferred_unref(d);
}

static void unpause_without_pause_does_not_underflow(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_unpause(d);
	deferred_pause(d);
	deferred_add_callback(d, cb_note, S("a"), NULL);
	deferred_callback(d, INT(1));
	assert_string_equal(trace, "");
	deferred_unpause(d);
	assert_string_equal(trace, "a=1;");
	deferred_unref(d);
}

static void pause_from_inside_a_callback_stops_before_the_next(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(d, cb_pause, d, NULL);
	deferred_add_callback(d, cb_note, S("a"), NULL);
	deferred_callback(d, INT(1));
	assert_string_equal(trace, "");
	deferred_unpause(d);
	assert_string_equal(trace, "a=1;");
	deferred_unref(d);
}

/* ---- re-entrancy and lifetime ---- */

static void unref_inside_own_callback_waits_for_the_end_of_the_run(
    void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(d, cb_unref, d, NULL);
	deferred_add_callback(d, cb_note, S("after"), count_arg_free);
	deferred_add_callback(d, cb_note, S("last"), count_arg_free);
	/* The caller's only reference goes in the first callback. */
	deferred_callback(d, INT(1));
	assert_string_equal(trace, "after=1;last=1;");
	assert_int_equal(arg_frees, 2);
}

static void unref_inside_callback_reports_a_final_failure_once(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(d, cb_unref, d, NULL);
	deferred_add_callback(d, cb_fail, S("late"), NULL);
	deferred_callback(d, INT(1));
	assert_int_equal(unhandled_calls, 1);
	assert_string_equal(unhandled_message, "late");
}

static void fire_from_inside_own_callback_is_ealready(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(d, cb_refire, d, NULL);
	deferred_add_callback(d, cb_note, S("after"), NULL);
	deferred_callback(d, INT(1));
	assert_string_equal(trace, "refire=EALREADY;after=1;");
	deferred_unref(d);
}

static void firing_another_deferred_from_a_callback_runs_it_inside(
    void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);
	struct deferred *other = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(other, cb_note, S("other"), NULL);
	deferred_add_callback(d, cb_fire_other, other, NULL);
	deferred_add_callback(d, cb_note, S("d"), NULL);
	deferred_callback(d, INT(1));
	assert_string_equal(trace, "firing-other;other=2;fired-other;d=1;");
	deferred_unref(other);
	deferred_unref(d);
}

static int nesting, max_nesting, added_from_inside;

/* Adds the next callback to its own Deferred while running: each one
 * must run after the current returns, not inside it. */
static struct deferred_val cb_add_next(struct deferred_val v, void *d)
{
	nesting++;
	if (nesting > max_nesting)
		max_nesting = nesting;
	if (added_from_inside < DEEP) {
		added_from_inside++;
		assert_int_equal(deferred_add_callback(d, cb_add_next, d, NULL),
		                 0);
	}
	nesting--;
	return v;
}

static void callbacks_added_from_inside_a_callback_do_not_recurse(
    void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	nesting = max_nesting = added_from_inside = 0;
	deferred_add_callback(d, cb_add_next, d, NULL);
	deferred_callback(d, INT(0));
	assert_int_equal(added_from_inside, DEEP);
	assert_int_equal(max_nesting, 1);
	deferred_unref(d);
}

static void more_than_four_pairs_are_kept_in_order(void **state)
{
	static const char *const tags[] = { "a", "b", "c", "d", "e",
		                            "f", "g", "h", "i", "j" };
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	for (size_t i = 0; i < 10; i++) {
		deferred_add_callback(d, cb_add, (void *)1, NULL);
		deferred_add_callback(d, cb_note, (void *)tags[i], NULL);
	}
	deferred_callback(d, INT(0));
	assert_string_equal(trace, "a=1;b=2;c=3;d=4;e=5;f=6;g=7;h=8;i=9;j=10;");
	deferred_unref(d);
}

static void pairs_added_while_paused_midway_keep_their_order(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(d, cb_pause, d, NULL);
	deferred_add_callback(d, cb_note, S("a"), NULL);
	deferred_add_callback(d, cb_note, S("b"), NULL);
	deferred_add_callback(d, cb_note, S("c"), NULL);
	deferred_callback(d, INT(1));
	/* The four inline slots are full with one of them spent. */
	deferred_add_callback(d, cb_note, S("d"), NULL);
	deferred_add_callback(d, cb_note, S("e"), NULL);
	assert_string_equal(trace, "");
	deferred_unpause(d);
	assert_string_equal(trace, "a=1;b=1;c=1;d=1;e=1;");
	deferred_unref(d);
}

/* ---- arg_free ---- */

static void arg_free_runs_once_after_its_pair_ran(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(d, cb_note, S("a"), count_arg_free);
	deferred_callback(d, INT(1));
	assert_int_equal(arg_frees, 1);
	deferred_unref(d);
	assert_int_equal(arg_frees, 1);
}

static void arg_free_runs_for_a_pair_whose_other_side_was_used(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_errback(d, cb_note, S("eb"), count_arg_free);
	deferred_callback(d, INT(1));
	assert_string_equal(trace, "");
	assert_int_equal(arg_frees, 1);
	deferred_unref(d);
	assert_int_equal(arg_frees, 1);
}

static void arg_free_runs_on_free_for_pairs_that_never_ran(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	for (int i = 0; i < 6; i++)
		deferred_add_callback(d, cb_note, S("never"), count_arg_free);
	deferred_unref(d);
	assert_int_equal(arg_frees, 6);
	assert_string_equal(trace, "");
}

static void arg_free_runs_on_free_for_pairs_held_by_a_pause(void **state)
{
	struct deferred *d = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(d, cb_note, S("ran"), count_arg_free);
	deferred_add_callback(d, cb_pause, d, count_arg_free);
	deferred_add_callback(d, cb_note, S("held"), count_arg_free);
	deferred_callback(d, INT(1));
	assert_int_equal(arg_frees, 2);
	deferred_unref(d);
	assert_int_equal(arg_frees, 3);
	assert_string_equal(trace, "ran=1;");
}

/* ---- unhandled errors ---- */

static void dropping_a_failed_deferred_reports_it_once(void **state)
{
	struct deferred *d = deferred_fail(value_error("boom"));

	(void)state;
	deferred_ref(d);
	deferred_unref(d);
	assert_int_equal(unhandled_calls, 0);
	deferred_unref(d);
	assert_int_equal(unhandled_calls, 1);
	assert_string_equal(unhandled_type, "ValueError");
	assert_string_equal(unhandled_message, "boom");
}

static void handled_failure_is_not_reported(void **state)
{
	struct deferred *d = deferred_fail(value_error("boom"));

	(void)state;
	deferred_add_errback(d, cb_recover, (void *)0, NULL);
	deferred_unref(d);
	assert_int_equal(unhandled_calls, 0);
}

static void unfired_deferred_is_not_reported(void **state)
{
	(void)state;
	deferred_unref(deferred_new(NULL, NULL));
	assert_int_equal(unhandled_calls, 0);
}

static void failure_handed_to_a_waiter_is_reported_by_the_waiter_only(
    void **state)
{
	struct deferred *outer = deferred_new(NULL, NULL);
	struct deferred *inner = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(outer, cb_return_deferred, inner, NULL);
	deferred_callback(outer, INT(0));
	deferred_errback(inner, value_error("in"));
	deferred_unref(inner);
	assert_int_equal(unhandled_calls, 0);
	deferred_unref(outer);
	assert_int_equal(unhandled_calls, 1);
	assert_string_equal(unhandled_message, "in");
}

static void null_hook_restores_the_default_reporter(void **state)
{
	(void)state;
	deferred_set_unhandled_hook(NULL);
	/* The default writes a line to stderr instead of calling ours:
	 * catch stderr in a file for the one unref. */
	char path[] = "/tmp/test_deferred_stderr.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	deferred_unref(deferred_fail(value_error("to stderr")));
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	char buf[512] = "";
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal(unhandled_calls, 0);
	assert_non_null(strstr(buf, "Unhandled error in Deferred"));
	assert_non_null(strstr(buf, "ValueError"));
	assert_non_null(strstr(buf, "to stderr"));
}

/* ---- many waiters, cycles ---- */

/* Many Deferreds chained onto one (each callback returns the same inner):
 * the first gets the value, the others None, in order.  Correctness only;
 * bench/deferred_chain.c measures the time. */
static struct deferred_val cb_count_none(struct deferred_val v, void *n)
{
	if (v.kind == DEFERRED_VAL_NONE)
		(*(size_t *)n)++;
	else
		note("value=%ld", (long)as_int(v));
	return v;
}

static void many_deferreds_chained_onto_one_fire_in_order(void **state)
{
	struct deferred **ws = calloc(DEEP, sizeof(*ws));
	struct deferred *inner = deferred_new(NULL, NULL);
	size_t nones = 0;

	(void)state;
	assert_non_null(ws);
	for (size_t i = 0; i < DEEP; i++) {
		ws[i] = deferred_new(NULL, NULL);
		deferred_add_callback(ws[i], cb_return_deferred, inner, NULL);
		deferred_add_callback(ws[i], cb_count_none, &nones, NULL);
		deferred_callback(ws[i], INT(0));
	}
	assert_int_equal(nones, 0);
	deferred_callback(inner, INT(5));
	assert_string_equal(trace, "value=5;");
	assert_int_equal(nones, DEEP - 1);
	for (size_t i = 0; i < DEEP; i++)
		deferred_unref(ws[i]);
	deferred_unref(inner);
	free(ws);
}

/* Dropping waiters from the head, the tail and the middle keeps the rest
 * linked in order. */
static void dropping_waiters_anywhere_keeps_the_others_in_order(void **state)
{
	enum { N = 7 };
	static const char *const tags[N] = { "w0", "w1", "w2", "w3",
		                             "w4", "w5", "w6" };
	struct deferred *ws[N];
	struct deferred *inner = deferred_new(NULL, NULL);

	(void)state;
	for (size_t i = 0; i < N; i++) {
		ws[i] = deferred_new(NULL, NULL);
		deferred_add_callback(ws[i], cb_return_deferred, inner, NULL);
		deferred_add_callback(ws[i], cb_note, S(tags[i]), NULL);
		deferred_callback(ws[i], INT(0));
	}
	deferred_unref(ws[0]);
	deferred_unref(ws[6]);
	deferred_unref(ws[3]);
	deferred_unref(ws[5]);
	/* A waiter added after the drops goes last. */
	ws[0] = deferred_new(NULL, NULL);
	deferred_add_callback(ws[0], cb_return_deferred, inner, NULL);
	deferred_add_callback(ws[0], cb_note, S("late"), NULL);
	deferred_callback(ws[0], INT(0));
	deferred_callback(inner, INT(3));
	assert_string_equal(trace, "w1=3;w2=None;w4=None;late=None;");
	for (size_t i = 0; i < N; i++)
		if (i != 3 && i != 5 && i != 6)
			deferred_unref(ws[i]);
	deferred_unref(inner);
}

/* a waits on b; b's callback returns a: a cycle nobody could fire. */
static void deferred_chaining_onto_one_that_waits_on_it_fails(void **state)
{
	struct deferred *a = deferred_new(NULL, NULL);
	struct deferred *b = deferred_new(NULL, NULL);

	(void)state;
	deferred_add_callback(a, cb_return_deferred, b, NULL);
	deferred_add_both(a, cb_note, S("a"), NULL);
	deferred_add_callback(b, cb_return_deferred, a, NULL);
	deferred_add_errback(b, cb_note, S("b"), NULL);
	deferred_add_errback(b, cb_recover, (void *)3, NULL);
	deferred_callback(a, INT(0));
	deferred_callback(b, INT(0));
	assert_string_equal(trace, "b=RuntimeError;a=3;");
	deferred_unref(a);
	deferred_unref(b);
	assert_int_equal(unhandled_calls, 0);
}

static struct deferred_val cb_note_message(struct deferred_val v, void *tag)
{
	note("%s=%s", (const char *)tag, failure_message(v.failure));
	return v;
}

/* The same three Deferreds round: a waits on b, b on c, c returns a. */
static void longer_chain_cycle_fails_with_a_clear_message(void **state)
{
	struct deferred *d[3];

	(void)state;
	for (size_t i = 0; i < 3; i++)
		d[i] = deferred_new(NULL, NULL);
	for (size_t i = 0; i < 3; i++)
		deferred_add_callback(d[i], cb_return_deferred, d[(i + 1) % 3],
		                      NULL);
	deferred_add_errback(d[2], cb_note_message, S("c"), NULL);
	for (size_t i = 0; i < 3; i++)
		deferred_callback(d[i], INT(0));
	assert_string_equal(trace, "c=Callback returned a Deferred that waits "
	                           "on the Deferred it was attached to (a "
	                           "cycle);");
	/* The failure travels up to a, which reports it when dropped. */
	for (size_t i = 0; i < 3; i++)
		deferred_unref(d[i]);
	assert_int_equal(unhandled_calls, 1);
	assert_string_equal(unhandled_type, "RuntimeError");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(overview_chain_adds_up_to_110),
		T(simple_route_chain_wraps_in_i_then_u),
		T(error_route_chain_recovers_and_wraps_in_strong),
		T(pairs_run_in_the_order_they_were_added),
		T(callback_returning_failure_switches_to_errbacks),
		T(errback_returning_value_switches_back_to_callbacks),
		T(add_both_sees_successes_and_failures),
		T(callbacks_added_after_firing_run_at_once),
		T(callback_with_failure_value_runs_errbacks),
		T(callback_with_deferred_value_is_einval),
		T(errback_with_null_failure_fires_a_memory_error),
		T(second_fire_returns_ealready_and_leaves_the_value),
		T(state_queries_follow_firing_and_pausing),
		T(peek_result_is_a_borrowed_view),
		T(succeed_returns_a_fired_deferred),
		T(fail_returns_a_failed_deferred),
		T(maybe_wraps_a_plain_value_in_succeed),
		T(maybe_wraps_a_failure_in_fail),
		T(maybe_returns_a_returned_deferred_unchanged),
		T(callback_returning_unfired_deferred_waits_for_it),
		T(chained_deferred_is_left_with_none),
		T(waiter_gets_the_result_after_inner_pairs_added_before),
		T(deferred_returned_from_inside_its_callback_is_waited_on),
		T(callback_returning_fired_deferred_takes_its_result_at_once),
		T(chained_failure_goes_to_the_outer_errbacks),
		T(paused_inner_is_waited_on_even_with_a_result),
		T(two_deferreds_waiting_on_one_get_value_then_none),
		T(callbacks_added_to_a_waiter_keep_later_waiters_linked),
		T(callback_returning_its_own_deferred_fails),
		T(dropping_a_waiting_deferred_leaves_the_inner_usable),
		T(deep_chain_of_deferreds_runs_without_stack_growth),
		T(dropping_a_deep_waiting_chain_frees_it_iteratively),
		T(cancelling_a_deep_waiting_chain_reaches_the_innermost),
		T(cancel_without_canceller_errbacks_cancelled_error),
		T(cancel_runs_the_canceller_then_errbacks),
		T(canceller_that_fires_replaces_the_cancelled_error),
		T(callback_after_cancel_without_canceller_is_swallowed_once),
		T(callback_after_cancel_with_canceller_is_already_called),
		T(cancelling_twice_errbacks_once),
		T(cancel_after_firing_does_nothing),
		T(cancel_forwards_to_the_chained_deferred),
		T(cancel_from_inside_own_callback_is_harmless),
		T(paused_deferred_holds_callbacks_until_unpaused),
		T(pause_counts_so_each_needs_an_unpause),
		T(unpause_without_pause_does_not_underflow),
		T(pause_from_inside_a_callback_stops_before_the_next),
		T(unref_inside_own_callback_waits_for_the_end_of_the_run),
		T(unref_inside_callback_reports_a_final_failure_once),
		T(fire_from_inside_own_callback_is_ealready),
		T(firing_another_deferred_from_a_callback_runs_it_inside),
		T(callbacks_added_from_inside_a_callback_do_not_recurse),
		T(more_than_four_pairs_are_kept_in_order),
		T(pairs_added_while_paused_midway_keep_their_order),
		T(arg_free_runs_once_after_its_pair_ran),
		T(arg_free_runs_for_a_pair_whose_other_side_was_used),
		T(arg_free_runs_on_free_for_pairs_that_never_ran),
		T(arg_free_runs_on_free_for_pairs_held_by_a_pause),
		T(dropping_a_failed_deferred_reports_it_once),
		T(handled_failure_is_not_reported),
		T(unfired_deferred_is_not_reported),
		T(failure_handed_to_a_waiter_is_reported_by_the_waiter_only),
		T(null_hook_restores_the_default_reporter),
		T(many_deferreds_chained_onto_one_fire_in_order),
		T(dropping_waiters_anywhere_keeps_the_others_in_order),
		T(deferred_chaining_onto_one_that_waits_on_it_fails),
		T(longer_chain_cycle_fails_with_a_clear_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
