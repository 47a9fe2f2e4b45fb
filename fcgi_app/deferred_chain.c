/*
 * deferred_chain: how a Deferred's chain runs (defer.py _runCallbacks):
 * the pair queue, waiting on another Deferred, the cycle check, and the
 * run itself.  Part of the Deferred core with deferred.c, which holds the
 * API; struct deferred is in deferred_chain.h.  Runs on the loop thread.
 *
 * How chaining is stored.  When a callback of W returns a Deferred I that
 * has no result yet, W "waits on" I: W's result is the reference to I that
 * the callback returned (so cancelling W can reach I, as Twisted's
 * `isinstance(self.result, Deferred)` does), and W is linked into I's list
 * of waiters together with the position in I's callback queue where
 * Twisted would have appended its _continuation() pair.  When I's run
 * reaches that position, I's result moves to W and W's callbacks run next,
 * on the same explicit stack (defer.py _runCallbacks's `chain` list), so
 * the C stack does not grow with the length of a chain.  Neither a waiter
 * nor a stack entry costs an allocation: both reuse fields of the waiting
 * Deferred that are dead by then (see `u` in struct deferred).
 *
 * Every Deferred on a run's stack holds one extra reference, which is how
 * an unref from inside a callback is postponed to the end of the run.
 *
 * Deliberate differences from defer.py, each for a C reason:
 * - A pause() from inside a callback stops the run before the next pair
 *   (Twisted only notices on the next _runCallbacks), and a paused Deferred
 *   reached through a chain lets the Deferreds below it go on instead of
 *   abandoning the whole stack.
 * - A Deferred is on at most one run's stack (the stack is intrusive), so
 *   callbacks added to a Deferred that is on a stack, but not at its top,
 *   run when the stack unwinds to it rather than at once.
 * - A callback returning the Deferred it is attached to gets a RuntimeError
 *   failure instead of hanging the chain (and leaking the self reference).
 * - A callback returning a Deferred whose chain waits on the callback's
 *   own Deferred gets a RuntimeError failure, like the case above, instead
 *   of a pair of Deferreds that never fire (and, here, are never freed).
 */
#include "deferred_chain.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "deferred_internal.h"

/* ---- pair queue ---- */

int deferred__pair_reserve(struct deferred *d)
{
	struct pair *v = pairs(d), *grown;
	uint32_t cap = (d->flags & F_HEAP) ? d->p.heap.cap : INLINE_PAIRS;

	if (d->head + d->count < cap)
		return 0;
	if (d->head > 0) {
		memmove(v, v + d->head, d->count * sizeof(*v));
		d->head = 0;
		return 0;
	}
	if (cap > UINT32_MAX / 2)
		return -ENOMEM;
	if (d->flags & F_HEAP) {
		grown = realloc(v, (size_t)cap * 2 * sizeof(*v));
	} else {
		grown = malloc((size_t)cap * 2 * sizeof(*v));
		if (grown != NULL)
			memcpy(grown, v, d->count * sizeof(*v));
	}
	if (grown == NULL)
		return -ENOMEM;
	d->p.heap.v = grown;
	d->p.heap.cap = cap * 2;
	d->flags |= F_HEAP;
	return 0;
}

static struct pair pair_pop(struct deferred *d)
{
	struct pair p = pairs(d)[d->head];

	d->head++;
	d->count--;
	d->popped++;
	if (d->count == 0)
		d->head = 0;
	return p;
}

/* ---- waiting on another Deferred ---- */

/* Positions only grow along the list (popped + count never decreases), so
 * appending keeps it in the order the waiters get results. */
static void waiter_append(struct deferred *inner, struct deferred *w)
{
	struct deferred *first = inner->waiters;

	/* The continuation goes after every pair inner has now, like Twisted's
	 * callbacks.append(current._continuation()). */
	w->aux.wait_seq = inner->popped + inner->count;
	w->u.wait.next = NULL;
	if (first == NULL) {
		w->u.wait.prev = w;
		inner->waiters = w;
	} else {
		w->u.wait.prev = first->u.wait.prev;
		first->u.wait.prev->u.wait.next = w;
		first->u.wait.prev = w;
	}
}

void deferred__waiter_unlink(struct deferred *inner, struct deferred *w)
{
	struct deferred *next = w->u.wait.next;

	if (inner->waiters == w) {
		inner->waiters = next;
		if (next != NULL)
			next->u.wait.prev = w->u.wait.prev;
		return;
	}
	w->u.wait.prev->u.wait.next = next;
	if (next != NULL)
		next->u.wait.prev = w->u.wait.prev;
	else
		inner->waiters->u.wait.prev = w->u.wait.prev;
}

/* Whether d still holds a pair of an unfired gather (the gather still waits
 * to hear from d).  With `g` NULL, any gather.  Clears F_MEMBER when d
 * holds none, so a Deferred pays for the scan only while it is a member. */
static bool holds_gather_pair(struct deferred *d, const struct deferred *g)
{
	const struct pair *v = pairs(d) + d->head;
	bool any = false;

	if (!(d->flags & F_MEMBER))
		return false;
	for (uint32_t i = 0; i < d->count; i++) {
		const void *state = deferred_list__pair_gather(v[i].cb, v[i].arg);

		if (state == NULL)
			continue;
		any = true;
		if (g == NULL || state == g->u.cancel.arg)
			return true;
	}
	if (!any)
		d->flags &= (uint8_t)~F_MEMBER;
	return false;
}

/* Whether `inner`, or a Deferred down its chain, waits on d: directly (only
 * possible when something waits on d: the link before d would be one of
 * d's waiters), or by being an unfired gather that still waits on d. */
static bool waits_on(const struct deferred *inner, struct deferred *d)
{
	bool member = holds_gather_pair(d, NULL);

	if (d->waiters == NULL && !member)
		return false;
	for (;;) {
		if (member && (inner->flags & F_GATHER) &&
		    !(inner->flags & F_CALLED) && holds_gather_pair(d, inner))
			return true;
		if (!is_waiting(inner))
			return false;
		inner = inner->res.deferred;
		if (inner == d)
			return true;
	}
}

/* Whether a Deferred returned from a callback can give its result right
 * now (Twisted's "Yep, it did.  Steal it.").  One that is inside its own
 * callback is not: its result is in the callback's hands, and C cannot
 * share it the way Python does, so the caller waits for the final one. */
static bool can_take_result(const struct deferred *d)
{
	return (d->flags & F_CALLED) && d->paused == 0 && !is_waiting(d) &&
	       !(d->flags & F_RUNNING);
}

/* After a callback of d returned: if the result is a Deferred, take its
 * result or return it as the one d must now wait on. */
static struct deferred *resolve_returned_deferred(struct deferred *d)
{
	struct deferred *inner;

	if (d->kind != DEFERRED_VAL_DEFERRED)
		return NULL;
	inner = d->res.deferred;
	if (inner == NULL) {
		d->kind = DEFERRED_VAL_NONE;
		return NULL;
	}
	if (inner == d) {
		/* d is on the stack, so dropping this reference cannot free it. */
		result_set(d, deferred_val_failure(failure_new(
		                  "RuntimeError", "Callback returned the Deferred "
		                                  "it was attached to")));
		deferred_unref(inner);
		return NULL;
	}
	if (!can_take_result(inner) && waits_on(inner, d)) {
		/* d is on the stack, so whatever dropping inner frees down
		 * its chain cannot free d. */
		result_set(d, deferred_val_failure(failure_new(
		                  "RuntimeError", "Callback returned a Deferred "
		                                  "that waits on the Deferred it "
		                                  "was attached to (a cycle)")));
		deferred_unref(inner);
		return NULL;
	}
	if (!can_take_result(inner))
		return inner;
	result_set(d, result_take(inner));
	deferred_unref(inner);
	return NULL;
}

/* Runs the next pair of d; returns the Deferred d must now wait on, if
 * its callback returned one without a result. */
static struct deferred *run_pair(struct deferred *d)
{
	struct pair p = pair_pop(d);
	deferred_cb_fn fn = d->kind == DEFERRED_VAL_FAILURE ? p.eb : p.cb;

	if (fn != NULL) {
		struct deferred_val in = result_take(d);
		struct deferred_val out;

		d->flags |= F_RUNNING;
		out = fn(in, p.arg);
		d->flags &= (uint8_t)~F_RUNNING;
		result_set(d, out);
	}
	if (p.arg_free != NULL)
		p.arg_free(p.arg);
	return fn != NULL ? resolve_returned_deferred(d) : NULL;
}

static void chain_push(struct deferred *d, struct deferred *below)
{
	d->refcnt++;
	d->flags |= F_ON_CHAIN;
	d->u.chain_prev = below;
}

/* The _CONTINUE step: w was waiting on `inner`, whose run reached w's
 * position.  w gets inner's result and goes on top of the stack. */
static void hand_result(struct deferred *inner, struct deferred *w)
{
	deferred__waiter_unlink(inner, w);
	/* w's result slot holds w's reference to inner; the stack holds
	 * another, so dropping it cannot free inner here. */
	result_set(w, result_take(inner));
	chain_push(w, inner);
	deferred_unref(inner);
}

/* defer.py _runCallbacks, with the `chain` list threaded through the
 * Deferreds themselves (u.chain_prev). */
void deferred__run_callbacks(struct deferred *d)
{
	struct deferred *cur = d;

	/* F_ON_CHAIN covers Twisted's _runningCallbacks: whoever has d on a
	 * stack will get to the new pairs.  A waiting d must not be pushed
	 * either, as its stack link would overwrite its waiter link. */
	if ((d->flags & F_ON_CHAIN) || d->paused > 0 || is_waiting(d))
		return;
	chain_push(d, NULL);
	while (cur != NULL) {
		struct deferred *inner = NULL, *waiter = NULL, *below;

		while (cur->paused == 0 && !is_waiting(cur)) {
			waiter = cur->waiters;
			if (waiter != NULL && waiter->aux.wait_seq == cur->popped)
				break;
			waiter = NULL;
			if (cur->count == 0)
				break;
			inner = run_pair(cur);
			if (inner != NULL)
				break;
		}
		if (waiter != NULL) {
			hand_result(cur, waiter);
			cur = waiter;
			continue;
		}
		below = cur->u.chain_prev;
		cur->flags &= (uint8_t)~F_ON_CHAIN;
		if (inner != NULL)
			waiter_append(inner, cur);
		/* May free cur: this is where an unref from inside one of its
		 * callbacks takes effect. */
		deferred_unref(cur);
		cur = below;
	}
}

/* ---- for deferred_list.c (deferred_internal.h) ---- */

int deferred__reserve_pairs(struct deferred **ds, size_t n)
{
	size_t placed;

	/* Push an empty pair per entry (a Deferred listed twice gets two),
	 * then take them all off again.  The pushed pairs are the newest of
	 * their Deferreds, and nothing ran since, so dropping them from the
	 * tail is exact. */
	for (placed = 0; placed < n; placed++) {
		if (deferred__pair_reserve(ds[placed]) != 0)
			break;
		pair_push(ds[placed], NULL, NULL, NULL, NULL);
	}
	for (size_t i = placed; i > 0; i--)
		ds[i - 1]->count--;
	return placed == n ? 0 : -ENOMEM;
}
