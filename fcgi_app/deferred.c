/*
 * deferred: the core of Twisted's Deferred (twisted/internet/defer.py) in
 * C, with reference counting in place of Python's garbage collector.  Runs
 * on the loop thread.  DeferredList is in deferred_list.c, addTimeout in
 * deferred_timeout.c.
 *
 * What this file owns: every struct deferred, its pair queue, its result
 * slot and its links to the Deferreds it waits on and that wait on it.  A
 * gather's state belongs to deferred_list.c; this file keeps it as the
 * gather Deferred's opaque canceller arg and reaches it only through the
 * hooks of deferred_internal.h.
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
 * Lifetime rules beyond the header:
 * - The waiting side owns the waited-on side (W owns a reference to I; a
 *   gather owns its members) and the back links are weak.  So whoever wants
 *   W's result must keep W referenced; dropping W while it waits unlinks it
 *   from I and drops I.  The one way to close a loop of such references,
 *   a chain that comes back to where it started, is refused when chaining
 *   (waits_on), so no reference cycle can leak.
 * - Every Deferred on a run's stack holds one extra reference, which is how
 *   an unref from inside a callback is postponed to the end of the run.
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
 * - A NULL failure stands for MemoryError (see failure.c), so running out
 *   of memory while building a failure still fires the chain.
 * - Only references keep a Deferred alive (deferred.h, "Where this differs
 *   from Twisted"): one nobody references is freed with its pending pairs,
 *   which never run, where Twisted's garbage collector keeps it as long as
 *   whatever will fire it; the same for a gather.  C has no collector, and
 *   keeping Deferreds alive from below would make every chain a cycle.
 * - A callback returning a Deferred whose chain waits on the callback's
 *   own Deferred gets a RuntimeError failure, like the case above, instead
 *   of a pair of Deferreds that never fire (and, here, are never freed).
 */
#include "deferred.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deferred_internal.h"

enum {
	F_CALLED = 1 << 0,   /* callback/errback/cancel fired it */
	F_SUPPRESS = 1 << 1, /* eat the next fire (_suppressAlreadyCalled) */
	F_ON_CHAIN = 1 << 2, /* on a run's stack; u.chain_prev is valid */
	F_RUNNING = 1 << 3,  /* inside one of its own callbacks */
	F_HEAP = 1 << 4,     /* pairs live in p.heap */
	F_GATHER = 1 << 5,   /* a gather; its state is u.cancel.arg until called */
	F_MEMBER = 1 << 6,   /* may hold a gather's pair (see waits_on) */
};

struct pair {
	deferred_cb_fn cb;
	deferred_cb_fn eb;
	void *arg;
	void (*arg_free)(void *);
};

#define INLINE_PAIRS 4

/*
 * 192 bytes on LP64: 4 inline pairs (128), the result (16 + kind), the
 * canceller / wait / stack link union (16), the waiter list (8) and five
 * 32-bit counters.  The result is stored unpacked so its kind fits in a
 * byte instead of an enum plus padding.  A waiter's position in its list
 * lives in the result's free-function slot, which is dead while the result
 * is a Deferred, so the list is doubly linked at no cost in size.
 */
struct deferred {
	union {
		struct pair inline_pairs[INLINE_PAIRS];
		struct {
			struct pair *v;
			uint32_t cap;
		} heap;
	} p;
	union {
		void *ptr;
		struct failure *failure;
		struct deferred *deferred;
	} res;
	union {
		void (*free)(void *); /* kind PTR: releases res.ptr; NULL: borrowed */
		uint32_t wait_seq;    /* waiting: value of the waited-on `popped`
		                         at which this waiter gets the result */
	} aux;
	/* Which member is live follows from the state: the canceller until
	 * the Deferred is called (it is never needed after); `wait` while it
	 * waits on res.deferred; `chain_prev` while it is on a run's stack.
	 * A Deferred leaves the stack before it starts waiting, and a waiter
	 * is taken off its list before it is pushed. */
	union {
		struct {
			deferred_canceller_fn fn;
			void *arg;
		} cancel;
		struct {
			/* The waiters on one Deferred: `next` ends in NULL,
			 * the first one's `prev` is the last one, so appending
			 * and unlinking are O(1). */
			struct deferred *next;
			struct deferred *prev;
		} wait;
		struct deferred *chain_prev; /* the Deferred below on the stack */
	} u;
	struct deferred *waiters; /* Deferreds waiting on this one, in order */
	uint32_t head;   /* index of the first pending pair */
	uint32_t count;  /* pending pairs */
	uint32_t popped; /* pairs taken off the queue so far (wraps) */
	uint32_t refcnt;
	uint32_t paused;
	uint8_t kind; /* enum deferred_val_kind of res */
	uint8_t flags;
};

_Static_assert(sizeof(void *) != 8 || sizeof(struct deferred) <= 200,
               "struct deferred grew past its size budget");

static void default_unhandled(const struct failure *f);

static deferred_unhandled_fn unhandled_hook = default_unhandled;

/* ---- values ---- */

struct deferred_val deferred_val_none(void)
{
	return (struct deferred_val){ .kind = DEFERRED_VAL_NONE };
}

struct deferred_val deferred_val_ptr(void *ptr, void (*free_fn)(void *))
{
	return (struct deferred_val){
		.kind = DEFERRED_VAL_PTR, .ptr = ptr, .free = free_fn
	};
}

struct deferred_val deferred_val_str(char *s)
{
	return deferred_val_ptr(s, free);
}

struct deferred_val deferred_val_static(const char *s)
{
	return deferred_val_ptr((void *)(uintptr_t)s, NULL);
}

struct deferred_val deferred_val_failure(struct failure *f)
{
	return (struct deferred_val){
		.kind = DEFERRED_VAL_FAILURE, .failure = f
	};
}

struct deferred_val deferred_val_deferred(struct deferred *d)
{
	return (struct deferred_val){
		.kind = DEFERRED_VAL_DEFERRED, .deferred = d
	};
}

void deferred_val_free(struct deferred_val v)
{
	switch (v.kind) {
	case DEFERRED_VAL_PTR:
		if (v.free != NULL && v.ptr != NULL)
			v.free(v.ptr);
		break;
	case DEFERRED_VAL_FAILURE:
		failure_free(v.failure);
		break;
	case DEFERRED_VAL_DEFERRED:
		deferred_unref(v.deferred);
		break;
	case DEFERRED_VAL_NONE:
		break;
	}
}

/* ---- result slot ---- */

/* A waiting Deferred must be unlinked from its waiter list first: the
 * slot's aux field is its list position then. */
static struct deferred_val result_take(struct deferred *d)
{
	struct deferred_val v = { .kind = d->kind };

	v.ptr = d->res.ptr;
	if (d->kind == DEFERRED_VAL_PTR)
		v.free = d->aux.free;
	d->kind = DEFERRED_VAL_NONE;
	d->res.ptr = NULL;
	d->aux.free = NULL;
	return v;
}

/* Overwrites the slot without releasing what it held. */
static void result_set(struct deferred *d, struct deferred_val v)
{
	d->kind = (uint8_t)v.kind;
	d->res.ptr = v.ptr;
	d->aux.free = v.kind == DEFERRED_VAL_PTR ? v.free : NULL;
}

static bool is_waiting(const struct deferred *d)
{
	return d->kind == DEFERRED_VAL_DEFERRED;
}

/* ---- pair queue ---- */

static struct pair *pairs(struct deferred *d)
{
	return (d->flags & F_HEAP) ? d->p.heap.v : d->p.inline_pairs;
}

/* Makes room for one more pair at pairs(d)[head + count] without changing
 * the queue.  Run-time pops copy a pair out before calling it, so moving
 * the array under a running chain is safe.  0 or -ENOMEM. */
static int pair_reserve(struct deferred *d)
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

/* Appends after pair_reserve succeeded. */
static void pair_push(struct deferred *d, deferred_cb_fn cb, deferred_cb_fn eb,
                      void *arg, void (*arg_free)(void *))
{
	pairs(d)[d->head + d->count] = (struct pair){ cb, eb, arg, arg_free };
	d->count++;
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

static void waiter_unlink(struct deferred *inner, struct deferred *w)
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
	waiter_unlink(inner, w);
	/* w's result slot holds w's reference to inner; the stack holds
	 * another, so dropping it cannot free inner here. */
	result_set(w, result_take(inner));
	chain_push(w, inner);
	deferred_unref(inner);
}

/* defer.py _runCallbacks, with the `chain` list threaded through the
 * Deferreds themselves (u.chain_prev). */
static void run_callbacks(struct deferred *d)
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

/* ---- life cycle ---- */

struct deferred *deferred_new(deferred_canceller_fn canceller, void *arg)
{
	struct deferred *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->refcnt = 1;
	d->u.cancel.fn = canceller;
	d->u.cancel.arg = arg;
	return d;
}

void deferred_ref(struct deferred *d)
{
	d->refcnt++;
}

/* Frees d and returns the Deferred it was waiting on, whose reference the
 * caller must drop: handing it back instead of dropping it here keeps a
 * long chain of waiting Deferreds from being freed recursively. */
static struct deferred *destroy(struct deferred *d)
{
	struct deferred *inner = NULL;
	struct pair *v = pairs(d);

	if ((d->flags & (F_GATHER | F_CALLED)) == F_GATHER)
		deferred_list__release(d->u.cancel.arg);
	if (is_waiting(d)) {
		waiter_unlink(d->res.deferred, d);
		inner = result_take(d).deferred;
	} else {
		if (d->kind == DEFERRED_VAL_FAILURE)
			unhandled_hook(d->res.failure);
		deferred_val_free(result_take(d));
	}
	for (uint32_t i = 0; i < d->count; i++) {
		struct pair *p = &v[d->head + i];

		if (p->arg_free != NULL)
			p->arg_free(p->arg);
	}
	if (d->flags & F_HEAP)
		free(d->p.heap.v);
	free(d);
	return inner;
}

void deferred_unref(struct deferred *d)
{
	while (d != NULL && --d->refcnt == 0)
		d = destroy(d);
}

/* ---- adding callbacks ---- */

int deferred_add_callbacks(struct deferred *d, deferred_cb_fn cb,
                           deferred_cb_fn eb, void *arg,
                           void (*arg_free)(void *))
{
	if (pair_reserve(d) != 0)
		return -ENOMEM;
	pair_push(d, cb, eb, arg, arg_free);
	if (d->flags & F_CALLED)
		run_callbacks(d);
	return 0;
}

int deferred_add_callback(struct deferred *d, deferred_cb_fn cb, void *arg,
                          void (*arg_free)(void *))
{
	return deferred_add_callbacks(d, cb, NULL, arg, arg_free);
}

int deferred_add_errback(struct deferred *d, deferred_cb_fn eb, void *arg,
                         void (*arg_free)(void *))
{
	return deferred_add_callbacks(d, NULL, eb, arg, arg_free);
}

int deferred_add_both(struct deferred *d, deferred_cb_fn fn, void *arg,
                      void (*arg_free)(void *))
{
	return deferred_add_callbacks(d, fn, fn, arg, arg_free);
}

/* ---- firing ---- */

/* defer.py _startRunCallbacks. */
static int fire(struct deferred *d, struct deferred_val v)
{
	void *gather = NULL;

	if (d->flags & F_CALLED) {
		if (!(d->flags & F_SUPPRESS))
			return -EALREADY;
		d->flags &= (uint8_t)~F_SUPPRESS;
		deferred_val_free(v);
		return 0;
	}
	if (d->flags & F_GATHER)
		gather = d->u.cancel.arg;
	d->u.cancel.fn = NULL;
	d->u.cancel.arg = NULL;
	d->flags |= F_CALLED;
	result_set(d, v);
	/* A fired gather no longer needs its members. */
	if (gather != NULL)
		deferred_list__release(gather);
	run_callbacks(d);
	return 0;
}

int deferred_callback(struct deferred *d, struct deferred_val v)
{
	if (v.kind == DEFERRED_VAL_DEFERRED)
		return -EINVAL;
	return fire(d, v);
}

int deferred_errback(struct deferred *d, struct failure *f)
{
	return fire(d, deferred_val_failure(f));
}

void deferred_cancel(struct deferred *d)
{
	/* Twisted forwards to the Deferred this one waits on, which forwards
	 * again if it waits too; walking down does that without recursion.
	 * DeferredList.cancel does not forward once the list was called. */
	while ((d->flags & F_CALLED) && is_waiting(d) && !(d->flags & F_GATHER))
		d = d->res.deferred;
	if (d->flags & F_CALLED)
		return;
	/* The canceller or the errback may drop the caller's reference. */
	deferred_ref(d);
	if (d->flags & F_GATHER) {
		/* DeferredList.cancel: the members' results fire it. */
		deferred_list__cancel(d->u.cancel.arg);
		deferred_unref(d);
		return;
	}
	if (d->u.cancel.fn != NULL)
		d->u.cancel.fn(d, d->u.cancel.arg);
	else
		d->flags |= F_SUPPRESS;
	/* CancelledError() has no message.  Out of memory, the NULL failure
	 * still fires d, as a MemoryError, since cancel cannot fail. */
	if (!(d->flags & F_CALLED))
		fire(d, deferred_val_failure(
		            failure_new(FAILURE_CANCELLED, "%s", "")));
	deferred_unref(d);
}

void deferred_pause(struct deferred *d)
{
	d->paused++;
}

void deferred_unpause(struct deferred *d)
{
	if (d->paused == 0)
		return;
	if (--d->paused == 0 && (d->flags & F_CALLED))
		run_callbacks(d);
}

bool deferred_is_called(const struct deferred *d)
{
	return (d->flags & F_CALLED) != 0;
}

bool deferred_has_result(const struct deferred *d)
{
	return (d->flags & F_CALLED) && d->paused == 0 && !is_waiting(d);
}

struct deferred_val deferred_peek_result(const struct deferred *d)
{
	struct deferred_val v = { .kind = DEFERRED_VAL_NONE };

	if (d->flags & F_CALLED) {
		v.kind = d->kind;
		v.ptr = d->res.ptr;
	}
	return v;
}

/* ---- succeed, fail, maybe ---- */

struct deferred *deferred_succeed(struct deferred_val v)
{
	struct deferred *d;

	if (v.kind == DEFERRED_VAL_DEFERRED)
		return v.deferred;
	d = deferred_new(NULL, NULL);
	if (d == NULL) {
		deferred_val_free(v);
		return NULL;
	}
	fire(d, v);
	return d;
}

struct deferred *deferred_fail(struct failure *f)
{
	return deferred_succeed(deferred_val_failure(f));
}

struct deferred *deferred_maybe(struct deferred_val (*fn)(void *arg),
                                void *arg)
{
	return deferred_succeed(fn(arg));
}

/* ---- unhandled errors ---- */

static void default_unhandled(const struct failure *f)
{
	fprintf(stderr, "Unhandled error in Deferred: <class '%s'>: %s\n",
	        failure_type(f), failure_message(f));
}

void deferred_set_unhandled_hook(deferred_unhandled_fn fn)
{
	unhandled_hook = fn != NULL ? fn : default_unhandled;
}

/* ---- hooks for deferred_list.c (deferred_internal.h) ---- */

int deferred__reserve_pairs(struct deferred **ds, size_t n)
{
	size_t placed;

	/* Push an empty pair per entry (a Deferred listed twice gets two),
	 * then take them all off again.  The pushed pairs are the newest of
	 * their Deferreds, and nothing ran since, so dropping them from the
	 * tail is exact. */
	for (placed = 0; placed < n; placed++) {
		if (pair_reserve(ds[placed]) != 0)
			break;
		pair_push(ds[placed], NULL, NULL, NULL, NULL);
	}
	for (size_t i = placed; i > 0; i--)
		ds[i - 1]->count--;
	return placed == n ? 0 : -ENOMEM;
}

void deferred__make_gather(struct deferred *d, void *state)
{
	d->u.cancel.fn = NULL;
	d->u.cancel.arg = state;
	d->flags |= F_GATHER;
}

void deferred__mark_member(struct deferred *d)
{
	d->flags |= F_MEMBER;
}
