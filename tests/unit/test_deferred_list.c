/*
 * Unit tests for deferred_list: DeferredList / gatherResults
 * (deferred_gather): results in order, fireOnOne*, consumeErrors, who owns
 * each result, shared values, cancel, and the core's cycle check through a
 * gather.  Shared helpers: deferred_test.h.
 */
#include "deferred_list.h"
#include "deferred_test.h"

/* ---- DeferredList ---- */

/* Gives the gather one reference to each of n new Deferreds and keeps
 * one for the test. */
static void new_members(struct deferred **ds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ds[i] = deferred_new(canceller_note, S("m"));
		deferred_ref(ds[i]);
	}
}

static void drop_members(struct deferred **ds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		deferred_unref(ds[i]);
}

static const struct deferred_gather_result *list_of(struct deferred *g)
{
	struct deferred_val v = deferred_peek_result(g);

	assert_int_equal(v.kind, DEFERRED_VAL_PTR);
	return v.ptr;
}

static void gather_lists_results_in_input_order(void **state)
{
	struct deferred *ds[3];
	struct deferred *g;
	const struct deferred_gather_result *r;

	(void)state;
	new_members(ds, 3);
	g = deferred_gather(ds, 3, 0);
	deferred_callback(ds[2], INT(30));
	deferred_callback(ds[0], INT(10));
	assert_false(deferred_is_called(g));
	deferred_callback(ds[1], INT(20));
	r = list_of(g);
	assert_int_equal(r->n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_true(r->entries[i].success);
		assert_int_equal(as_int(r->entries[i].result), 10 * (i + 1));
	}
	drop_members(ds, 3);
	deferred_unref(g);
}

static void gather_of_fired_members_fires_at_once(void **state)
{
	struct deferred *ds[2] = { deferred_succeed(INT(1)),
		                   deferred_succeed(INT(2)) };
	struct deferred *g = deferred_gather(ds, 2, 0);
	const struct deferred_gather_result *r = list_of(g);

	(void)state;
	assert_int_equal(r->n, 2);
	assert_int_equal(as_int(r->entries[0].result), 1);
	assert_int_equal(as_int(r->entries[1].result), 2);
	deferred_unref(g);
}

static void gather_of_nothing_fires_with_an_empty_list(void **state)
{
	struct deferred *g = deferred_gather(NULL, 0, 0);

	(void)state;
	assert_int_equal(list_of(g)->n, 0);
	deferred_unref(g);
}

static void gather_keeps_a_failure_and_the_member_still_reports_it(
    void **state)
{
	struct deferred *ds[2];
	struct deferred *g;
	const struct deferred_gather_result *r;

	(void)state;
	new_members(ds, 2);
	g = deferred_gather(ds, 2, 0);
	deferred_callback(ds[0], INT(1));
	deferred_errback(ds[1], value_error("bad"));
	r = list_of(g);
	assert_true(r->entries[0].success);
	assert_false(r->entries[1].success);
	assert_int_equal(r->entries[1].result.kind, DEFERRED_VAL_FAILURE);
	assert_string_equal(failure_message(r->entries[1].result.failure), "bad");
	deferred_unref(g);
	assert_int_equal(unhandled_calls, 0);
	/* Without consumeErrors the member keeps failing, as in Twisted. */
	drop_members(ds, 2);
	assert_int_equal(unhandled_calls, 1);
	assert_string_equal(unhandled_message, "bad");
}

static void gather_consume_errors_leaves_members_with_none(void **state)
{
	struct deferred *ds[2];
	struct deferred *g;

	(void)state;
	new_members(ds, 2);
	g = deferred_gather(ds, 2, DEFERRED_GATHER_CONSUME_ERRORS);
	deferred_errback(ds[0], value_error("bad"));
	deferred_callback(ds[1], INT(2));
	deferred_add_both(ds[0], cb_note, S("m0"), NULL);
	deferred_add_both(ds[1], cb_note, S("m1"), NULL);
	assert_string_equal(trace, "m0=None;m1=2;");
	assert_false(list_of(g)->entries[0].success);
	drop_members(ds, 2);
	deferred_unref(g);
	assert_int_equal(unhandled_calls, 0);
}

static void gather_fire_on_one_callback_gives_first_success(void **state)
{
	struct deferred *ds[2];
	struct deferred *g;
	const struct deferred_gather_first *first;

	(void)state;
	new_members(ds, 2);
	g = deferred_gather(ds, 2, DEFERRED_GATHER_FIRE_ON_ONE_CALLBACK);
	deferred_callback(ds[1], INT(7));
	first = deferred_peek_result(g).ptr;
	assert_int_equal(first->index, 1);
	assert_int_equal(as_int(first->result), 7);
	deferred_callback(ds[0], INT(1));
	assert_int_equal(first->index, 1);
	deferred_add_callback(ds[1], cb_note, S("m1"), NULL);
	assert_string_equal(trace, "m1=7;");
	drop_members(ds, 2);
	deferred_unref(g);
}

static void gather_fire_on_one_callback_without_success_gives_the_list(
    void **state)
{
	struct deferred *ds[2];
	struct deferred *g;
	const struct deferred_gather_first *first;
	const struct deferred_gather_result *r;

	(void)state;
	new_members(ds, 2);
	g = deferred_gather(ds, 2, DEFERRED_GATHER_FIRE_ON_ONE_CALLBACK |
	                               DEFERRED_GATHER_CONSUME_ERRORS);
	deferred_errback(ds[0], value_error("a"));
	deferred_errback(ds[1], value_error("b"));
	first = deferred_peek_result(g).ptr;
	assert_int_equal(first->index, 2);
	r = first->result.ptr;
	assert_int_equal(r->n, 2);
	assert_false(r->entries[0].success);
	assert_string_equal(failure_message(r->entries[1].result.failure), "b");
	drop_members(ds, 2);
	deferred_unref(g);
	assert_int_equal(unhandled_calls, 0);
}

static void gather_fire_on_one_errback_fails_with_first_error(void **state)
{
	struct deferred *ds[2];
	struct deferred *g;
	struct deferred_val v;

	(void)state;
	new_members(ds, 2);
	g = deferred_gather(ds, 2, DEFERRED_GATHER_FIRE_ON_ONE_ERRBACK |
	                               DEFERRED_GATHER_CONSUME_ERRORS);
	deferred_callback(ds[0], INT(1));
	deferred_errback(ds[1], value_error("boom"));
	v = deferred_peek_result(g);
	assert_int_equal(v.kind, DEFERRED_VAL_FAILURE);
	assert_true(failure_check(v.failure, FAILURE_FIRST_ERROR));
	assert_string_equal(failure_message(v.failure),
	    "FirstError[#1, [Failure instance: Traceback (failure with no "
	    "frames): <class 'ValueError'>: boom\n]]");
	drop_members(ds, 2);
	assert_int_equal(unhandled_calls, 0);
	deferred_unref(g);
	assert_int_equal(unhandled_calls, 1);
	assert_string_equal(unhandled_type, FAILURE_FIRST_ERROR);
}

static void gather_results_style_succeeds_with_every_value(void **state)
{
	struct deferred *ds[3];
	struct deferred *g;
	const struct deferred_gather_result *r;

	(void)state;
	new_members(ds, 3);
	g = deferred_gather(ds, 3, DEFERRED_GATHER_FIRE_ON_ONE_ERRBACK |
	                               DEFERRED_GATHER_CONSUME_ERRORS);
	for (size_t i = 3; i-- > 0;)
		deferred_callback(ds[i], INT(i));
	r = list_of(g);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(as_int(r->entries[i].result), i);
	drop_members(ds, 3);
	deferred_unref(g);
}

static void cancelling_a_gather_cancels_every_member(void **state)
{
	struct deferred *ds[2];
	struct deferred *g;
	const struct deferred_gather_result *r;

	(void)state;
	new_members(ds, 2);
	g = deferred_gather(ds, 2, DEFERRED_GATHER_CONSUME_ERRORS);
	deferred_cancel(g);
	assert_string_equal(trace, "cancel:m;cancel:m;");
	r = list_of(g);
	assert_true(failure_check(r->entries[0].result.failure,
	                          FAILURE_CANCELLED));
	assert_true(failure_check(r->entries[1].result.failure,
	                          FAILURE_CANCELLED));
	drop_members(ds, 2);
	deferred_unref(g);
	assert_int_equal(unhandled_calls, 0);
}

static void cancelling_fire_on_one_errback_gather_still_cancels_all(
    void **state)
{
	struct deferred *ds[3];
	struct deferred *g;

	(void)state;
	new_members(ds, 3);
	g = deferred_gather(ds, 3, DEFERRED_GATHER_FIRE_ON_ONE_ERRBACK |
	                               DEFERRED_GATHER_CONSUME_ERRORS);
	deferred_add_errback(g, cb_note, S("g"), NULL);
	deferred_add_errback(g, cb_recover, (void *)0, NULL);
	/* The first member's CancelledError fires the gather at once. */
	deferred_cancel(g);
	assert_string_equal(trace, "cancel:m;g=" FAILURE_FIRST_ERROR
	                           ";cancel:m;cancel:m;");
	for (size_t i = 0; i < 3; i++)
		assert_true(deferred_is_called(ds[i]));
	drop_members(ds, 3);
	deferred_unref(g);
	assert_int_equal(unhandled_calls, 0);
}

static void cancelling_a_gather_reaches_members_only_it_holds(void **state)
{
	struct deferred *ds[3];
	struct deferred *g;

	(void)state;
	for (size_t i = 0; i < 3; i++)
		ds[i] = deferred_new(canceller_note, S("m"));
	g = deferred_gather(ds, 3, DEFERRED_GATHER_FIRE_ON_ONE_ERRBACK |
	                               DEFERRED_GATHER_CONSUME_ERRORS);
	deferred_add_errback(g, cb_recover, (void *)0, NULL);
	/* Firing on the first member releases the other two mid-loop. */
	deferred_cancel(g);
	assert_string_equal(trace, "cancel:m;cancel:m;cancel:m;");
	deferred_unref(g);
	assert_int_equal(unhandled_calls, 0);
}

static void gather_freed_early_leaves_members_usable(void **state)
{
	struct deferred *ds[2];
	struct deferred *g;

	(void)state;
	new_members(ds, 2);
	g = deferred_gather(ds, 2, 0);
	deferred_unref(g);
	deferred_callback(ds[0], INT(5));
	deferred_add_callback(ds[0], cb_note, S("m0"), NULL);
	assert_string_equal(trace, "m0=5;");
	drop_members(ds, 2);
}

static void gather_with_the_same_member_twice_lists_it_twice(void **state)
{
	struct deferred *m = deferred_new(NULL, NULL);
	struct deferred *ds[2] = { m, m };
	struct deferred *g;
	const struct deferred_gather_result *r;

	(void)state;
	deferred_ref(m);
	deferred_ref(m);
	g = deferred_gather(ds, 2, 0);
	deferred_callback(m, INT(4));
	r = list_of(g);
	assert_int_equal(as_int(r->entries[0].result), 4);
	assert_int_equal(as_int(r->entries[1].result), 4);
	deferred_unref(m);
	deferred_unref(g);
}

/* ---- issue 17: gather ownership, cancel, order, FirstError ---- */

static char *heap_str(const char *s)
{
	char *p = strdup(s);

	assert_non_null(p);
	return p;
}

static char *shared_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = deferred_shared_new(n, NULL);

	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

/* Notes a string result by reading it, so that a dangling pointer is a
 * read of freed memory (ASan, valgrind), not just a wrong number. */
static struct deferred_val cb_note_str(struct deferred_val v, void *tag)
{
	if (v.kind == DEFERRED_VAL_PTR)
		note("%s=%s", (const char *)tag, (const char *)v.ptr);
	else
		cb_note(v, tag);
	return v;
}

/* Drops the value it gets, so the list's copy must stand on its own. */
static struct deferred_val cb_drop(struct deferred_val v, void *arg)
{
	(void)arg;
	deferred_val_free(v);
	return deferred_val_none();
}

static const char *entry_str(const struct deferred_gather_result *r,
                             size_t i)
{
	assert_int_equal(r->entries[i].result.kind, DEFERRED_VAL_PTR);
	return r->entries[i].result.ptr;
}

/* The case: member 0's heap string, member 1's failure fires the
 * gather, which frees its list; a callback added to member 0 afterwards
 * must not see the freed string. */
static void gather_first_error_then_member_callback_reads_no_freed_value(
    void **state)
{
	struct deferred *ds[2];
	struct deferred *g;

	(void)state;
	new_members(ds, 2);
	g = deferred_gather(ds, 2, DEFERRED_GATHER_FIRE_ON_ONE_ERRBACK |
	                               DEFERRED_GATHER_CONSUME_ERRORS);
	deferred_add_errback(g, cb_recover, (void *)0, NULL);
	deferred_callback(ds[0], deferred_val_str(heap_str("hello")));
	deferred_errback(ds[1], value_error("bad"));
	deferred_unref(g);
	/* A uniquely owned value moved into the (now freed) list. */
	deferred_add_callback(ds[0], cb_note_str, S("m0"), NULL);
	assert_string_equal(trace, "m0=None;");
	drop_members(ds, 2);
	assert_int_equal(unhandled_calls, 0);
}

static void gather_shared_value_outlives_the_list_on_the_member(
    void **state)
{
	struct deferred *ds[2];
	struct deferred *g;

	(void)state;
	new_members(ds, 2);
	g = deferred_gather(ds, 2, DEFERRED_GATHER_FIRE_ON_ONE_ERRBACK |
	                               DEFERRED_GATHER_CONSUME_ERRORS);
	deferred_add_errback(g, cb_recover, (void *)0, NULL);
	deferred_callback(ds[0], deferred_val_shared(shared_str("hello")));
	deferred_errback(ds[1], value_error("bad"));
	deferred_unref(g);
	deferred_add_callback(ds[0], cb_note_str, S("m0"), NULL);
	assert_string_equal(trace, "m0=hello;");
	drop_members(ds, 2);
}

/* The list's consumer frees it, then the members read their values; and
 * a member that drops its value first leaves the list's entry intact. */
static void gather_list_and_members_free_their_values_in_any_order(
    void **state)
{
	struct deferred *ds[2];
	struct deferred *g;
	const struct deferred_gather_result *r;

	(void)state;
	new_members(ds, 2);
	g = deferred_gather(ds, 2, 0);
	deferred_callback(ds[0], deferred_val_shared(shared_str("a")));
	deferred_callback(ds[1], deferred_val_shared(shared_str("b")));
	r = list_of(g);
	assert_true(r->entries[0].success);
	deferred_add_callback(ds[1], cb_drop, NULL, NULL);
	assert_string_equal(entry_str(r, 0), "a");
	assert_string_equal(entry_str(r, 1), "b");
	deferred_unref(g);
	deferred_add_callback(ds[0], cb_note_str, S("m0"), NULL);
	deferred_add_callback(ds[1], cb_note_str, S("m1"), NULL);
	assert_string_equal(trace, "m0=a;m1=None;");
	drop_members(ds, 2);
}

static void gather_moves_unique_values_into_the_list(void **state)
{
	struct deferred *ds[2];
	struct deferred *g;
	const struct deferred_gather_result *r;

	(void)state;
	new_members(ds, 2);
	g = deferred_gather(ds, 2, 0);
	deferred_callback(ds[0], deferred_val_str(heap_str("a")));
	deferred_callback(ds[1], deferred_val_static("b"));
	r = list_of(g);
	assert_string_equal(entry_str(r, 0), "a");
	assert_string_equal(entry_str(r, 1), "b");
	deferred_unref(g);
	/* A borrowed pointer is shared as it is. */
	deferred_add_callback(ds[0], cb_note_str, S("m0"), NULL);
	deferred_add_callback(ds[1], cb_note_str, S("m1"), NULL);
	assert_string_equal(trace, "m0=None;m1=b;");
	drop_members(ds, 2);
}

static void gather_first_success_shares_a_shared_value(void **state)
{
	struct deferred *ds[2];
	struct deferred *g;
	const struct deferred_gather_first *first;

	(void)state;
	new_members(ds, 2);
	g = deferred_gather(ds, 2, DEFERRED_GATHER_FIRE_ON_ONE_CALLBACK);
	deferred_callback(ds[1], deferred_val_shared(shared_str("x")));
	first = deferred_peek_result(g).ptr;
	assert_int_equal(first->index, 1);
	assert_string_equal((const char *)first->result.ptr, "x");
	deferred_unref(g);
	deferred_add_callback(ds[1], cb_note_str, S("m1"), NULL);
	assert_string_equal(trace, "m1=x;");
	drop_members(ds, 2);
}

/* Without consumeErrors the member's own failure goes on unchanged
 * (frames and all); the FirstError holds a copy with the index. */
static void first_error_carries_index_and_inner_failure(void **state)
{
	struct deferred *ds[3];
	struct deferred *g;
	struct failure *f = value_error("boom");
	struct deferred_val v;
	const struct failure *inner;
	char *want, *got;

	(void)state;
	assert_int_equal(failure_add_frame(f, "x.c", 3, "fn"), 0);
	want = failure_to_string(f);
	new_members(ds, 3);
	g = deferred_gather(ds, 3, DEFERRED_GATHER_FIRE_ON_ONE_ERRBACK);
	deferred_callback(ds[0], INT(1));
	deferred_errback(ds[2], f);
	v = deferred_peek_result(g);
	assert_int_equal(v.kind, DEFERRED_VAL_FAILURE);
	assert_true(failure_check(v.failure, FAILURE_FIRST_ERROR));
	assert_int_equal(failure_first_error_index(v.failure), 2);
	inner = failure_first_error_inner(v.failure);
	assert_non_null(inner);
	assert_ptr_not_equal(inner, f);
	got = failure_to_string(inner);
	assert_string_equal(got, want);
	free(got);
	deferred_add_errback(ds[2], cb_note, S("m2"), NULL);
	deferred_add_errback(ds[2], cb_recover, (void *)0, NULL);
	assert_string_equal(trace, "m2=ValueError;");
	deferred_add_errback(g, cb_recover, (void *)0, NULL);
	deferred_unref(g);
	drop_members(ds, 3);
	free(want);
	assert_int_equal(unhandled_calls, 0);
}

/* A member that cannot answer the cancel at once (paused) reports later,
 * and its result, not a bare CancelledError, fires the gather. */
static void cancelled_gather_fires_from_a_paused_members_later_result(
    void **state)
{
	struct deferred *ds[2];
	struct deferred *g;
	const struct deferred_gather_result *r;

	(void)state;
	new_members(ds, 2);
	g = deferred_gather(ds, 2, DEFERRED_GATHER_CONSUME_ERRORS);
	deferred_pause(ds[1]);
	deferred_cancel(g);
	assert_string_equal(trace, "cancel:m;cancel:m;");
	assert_false(deferred_is_called(g));
	deferred_unpause(ds[1]);
	r = list_of(g);
	assert_true(failure_check(r->entries[0].result.failure,
	                          FAILURE_CANCELLED));
	assert_true(failure_check(r->entries[1].result.failure,
	                          FAILURE_CANCELLED));
	drop_members(ds, 2);
	deferred_unref(g);
	assert_int_equal(unhandled_calls, 0);
}

static void cancelled_gather_keeps_a_member_result_held_by_a_pause(
    void **state)
{
	struct deferred *ds[2];
	struct deferred *g;
	const struct deferred_gather_result *r;

	(void)state;
	new_members(ds, 2);
	g = deferred_gather(ds, 2, DEFERRED_GATHER_CONSUME_ERRORS);
	deferred_pause(ds[1]);
	deferred_callback(ds[1], INT(8));
	deferred_cancel(g);
	assert_false(deferred_is_called(g));
	deferred_unpause(ds[1]);
	r = list_of(g);
	assert_false(r->entries[0].success);
	assert_true(r->entries[1].success);
	assert_int_equal(as_int(r->entries[1].result), 8);
	drop_members(ds, 2);
	deferred_unref(g);
}

static void cancelled_gather_waits_for_a_member_waiting_on_a_paused_one(
    void **state)
{
	struct deferred *ds[2];
	struct deferred *inner = deferred_new(canceller_note, S("inner"));
	struct deferred *g;
	const struct deferred_gather_result *r;

	(void)state;
	new_members(ds, 2);
	deferred_pause(inner);
	deferred_callback(inner, INT(6));
	/* Added before the gather's pair: member 1 waits on the paused inner
	 * before the gather hears from it. */
	deferred_add_callback(ds[1], cb_return_deferred, inner, NULL);
	g = deferred_gather(ds, 2, DEFERRED_GATHER_CONSUME_ERRORS);
	deferred_callback(ds[1], INT(0));
	deferred_cancel(g);
	/* The cancel reaches inner, which has fired, so nothing happens. */
	assert_string_equal(trace, "cancel:m;");
	assert_false(deferred_is_called(g));
	deferred_unpause(inner);
	r = list_of(g);
	assert_false(r->entries[0].success);
	assert_int_equal(as_int(r->entries[1].result), 6);
	deferred_unref(inner);
	drop_members(ds, 2);
	deferred_unref(g);
	assert_int_equal(unhandled_calls, 0);
}

/* DeferredList.cancel does nothing once the list was called, even while
 * it waits on a Deferred its callback returned. */
static void cancel_after_a_gather_fired_does_not_reach_its_chain(
    void **state)
{
	struct deferred *ds[1];
	struct deferred *inner = deferred_new(canceller_note, S("inner"));
	struct deferred *g;

	(void)state;
	new_members(ds, 1);
	g = deferred_gather(ds, 1, 0);
	deferred_add_callback(g, cb_return_deferred, inner, NULL);
	deferred_add_callback(g, cb_note, S("g"), NULL);
	deferred_callback(ds[0], INT(1));
	deferred_cancel(g);
	assert_string_equal(trace, "");
	assert_false(deferred_is_called(inner));
	deferred_callback(inner, INT(2));
	assert_string_equal(trace, "g=2;");
	deferred_unref(g);
	deferred_unref(inner);
	drop_members(ds, 1);
}

/* DeferredList([], fireOnOneCallback=True): testEmptyDeferredList. */
static void empty_gather_firing_on_one_callback_never_fires(void **state)
{
	struct deferred *g = deferred_gather(NULL, 0,
	                                     DEFERRED_GATHER_FIRE_ON_ONE_CALLBACK);

	(void)state;
	assert_non_null(g);
	assert_false(deferred_is_called(g));
	deferred_cancel(g);
	assert_false(deferred_is_called(g));
	deferred_unref(g);
}

/* ds = [m, x, m] with m failed and x succeeded: Twisted attaches and runs
 * slot 0 (m's failure, consumed into None), then slot 1 (x's success wins),
 * then slot 2.  Reporting both of m's slots first would make slot 2's None
 * win. */
static void member_listed_twice_reports_in_index_order(void **state)
{
	struct deferred *m = deferred_fail(value_error("bad"));
	struct deferred *x = deferred_succeed(INT(2));
	struct deferred *ds[3] = { m, x, m };
	struct deferred *g;
	const struct deferred_gather_first *first;

	(void)state;
	deferred_ref(m);
	deferred_ref(m);
	g = deferred_gather(ds, 3, DEFERRED_GATHER_FIRE_ON_ONE_CALLBACK |
	                               DEFERRED_GATHER_CONSUME_ERRORS);
	first = deferred_peek_result(g).ptr;
	assert_int_equal(first->index, 1);
	assert_int_equal(as_int(first->result), 2);
	deferred_add_callback(m, cb_note, S("m"), NULL);
	assert_string_equal(trace, "m=None;");
	deferred_unref(m);
	deferred_unref(g);
	assert_int_equal(unhandled_calls, 0);
}

/* Returns a new reference to the Deferred *arg points to (made later). */
static struct deferred_val cb_return_deferred_at(struct deferred_val v,
                                                 void *at)
{
	return cb_return_deferred(v, *(struct deferred **)at);
}

/* A member whose callback returns the gather that waits on it. */
static void member_returning_its_own_gather_fails(void **state)
{
	struct deferred *m = deferred_new(NULL, NULL);
	struct deferred *g = NULL;
	const struct deferred_gather_result *r;

	(void)state;
	deferred_add_callback(m, cb_return_deferred_at, &g, NULL);
	deferred_ref(m);
	g = deferred_gather(&m, 1, DEFERRED_GATHER_CONSUME_ERRORS);
	deferred_callback(m, INT(1));
	r = list_of(g);
	assert_false(r->entries[0].success);
	assert_string_equal(failure_type(r->entries[0].result.failure),
	                    "RuntimeError");
	deferred_add_callback(m, cb_note, S("m"), NULL);
	assert_string_equal(trace, "m=None;");
	deferred_unref(g);
	deferred_unref(m);
	assert_int_equal(unhandled_calls, 0);
}

/* The same through a Deferred that waits on the gather. */
static void member_returning_a_deferred_waiting_on_its_gather_fails(
    void **state)
{
	struct deferred *m = deferred_new(NULL, NULL);
	struct deferred *x = deferred_new(NULL, NULL);
	struct deferred *g = NULL;

	(void)state;
	deferred_add_callback(m, cb_return_deferred, x, NULL);
	deferred_ref(m);
	g = deferred_gather(&m, 1, DEFERRED_GATHER_FIRE_ON_ONE_ERRBACK);
	deferred_add_errback(g, cb_note, S("g"), NULL);
	deferred_add_errback(g, cb_recover, (void *)0, NULL);
	deferred_add_callback(x, cb_return_deferred, g, NULL);
	deferred_callback(x, INT(0));
	deferred_callback(m, INT(1));
	assert_string_equal(trace, "g=" FAILURE_FIRST_ERROR ";");
	deferred_add_errback(m, cb_recover, (void *)0, NULL);
	deferred_unref(m);
	deferred_unref(x);
	deferred_unref(g);
	assert_int_equal(unhandled_calls, 0);
}

/* A cycle through a gather of a gather is not detected (deferred.h):
 * g2 waits on g1, g1 on m, m on g2.  Cancelling g2 reaches g2 again
 * through m and stops there instead of recursing without end. */
static void cancel_looping_back_into_a_gather_stops(void **state)
{
	struct deferred *m = deferred_new(NULL, NULL);
	struct deferred *g1, *g2 = NULL;

	(void)state;
	deferred_add_callback(m, cb_return_deferred_at, &g2, NULL);
	deferred_ref(m);
	g1 = deferred_gather(&m, 1, 0);
	deferred_ref(g1);
	g2 = deferred_gather(&g1, 1, 0);
	deferred_callback(m, INT(1));
	deferred_cancel(g2);
	assert_false(deferred_is_called(g1));
	assert_false(deferred_is_called(g2));
	/* Firing g2 by hand breaks the loop and frees everything. */
	assert_int_equal(deferred_callback(g2, INT(5)), 0);
	assert_int_equal(as_int(list_of(g1)->entries[0].result), 5);
	deferred_unref(g1);
	deferred_unref(g2);
	deferred_unref(m);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(gather_lists_results_in_input_order),
		T(gather_of_fired_members_fires_at_once),
		T(gather_of_nothing_fires_with_an_empty_list),
		T(gather_keeps_a_failure_and_the_member_still_reports_it),
		T(gather_consume_errors_leaves_members_with_none),
		T(gather_fire_on_one_callback_gives_first_success),
		T(gather_fire_on_one_callback_without_success_gives_the_list),
		T(gather_fire_on_one_errback_fails_with_first_error),
		T(gather_results_style_succeeds_with_every_value),
		T(cancelling_a_gather_cancels_every_member),
		T(cancelling_fire_on_one_errback_gather_still_cancels_all),
		T(cancelling_a_gather_reaches_members_only_it_holds),
		T(gather_freed_early_leaves_members_usable),
		T(gather_with_the_same_member_twice_lists_it_twice),
		T(gather_first_error_then_member_callback_reads_no_freed_value),
		T(gather_shared_value_outlives_the_list_on_the_member),
		T(gather_list_and_members_free_their_values_in_any_order),
		T(gather_moves_unique_values_into_the_list),
		T(gather_first_success_shares_a_shared_value),
		T(first_error_carries_index_and_inner_failure),
		T(cancelled_gather_fires_from_a_paused_members_later_result),
		T(cancelled_gather_keeps_a_member_result_held_by_a_pause),
		T(cancelled_gather_waits_for_a_member_waiting_on_a_paused_one),
		T(cancel_after_a_gather_fired_does_not_reach_its_chain),
		T(empty_gather_firing_on_one_callback_never_fires),
		T(member_listed_twice_reports_in_index_order),
		T(member_returning_its_own_gather_fails),
		T(member_returning_a_deferred_waiting_on_its_gather_fails),
		T(cancel_looping_back_into_a_gather_stops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
