/*
 * deferred: the core of Twisted's Deferred (twisted/internet/defer.py) in
 * C, with reference counting in place of Python's garbage collector: the
 * API (values, life cycle, adding pairs, firing, cancel, pause,
 * succeed/fail/maybe, the unhandled-error hook).  How a chain runs is in
 * deferred_chain.c, which shares struct deferred with this file through
 * deferred_chain.h.  DeferredList is in deferred_list.c, addTimeout in
 * deferred_timeout.c.  Runs on the loop thread.
 *
 * What the core owns: every struct deferred, its pair queue, its result
 * slot and its links to the Deferreds it waits on and that wait on it.  A
 * gather's state belongs to deferred_list.c; the core keeps it as the
 * gather Deferred's opaque canceller arg and reaches it only through the
 * hooks of deferred_internal.h.
 *
 * Lifetime rules beyond the header: the waiting side owns the waited-on
 * side (W owns a reference to I; a gather owns its members) and the back
 * links are weak.  So whoever wants W's result must keep W referenced;
 * dropping W while it waits unlinks it from I and drops I.  The one way to
 * close a loop of such references, a chain that comes back to where it
 * started, is refused when chaining (waits_on in deferred_chain.c), so no
 * reference cycle can leak.
 *
 * Deliberate differences from defer.py, each for a C reason (the chain's
 * own are in deferred_chain.c):
 * - A NULL failure stands for MemoryError (see failure.c), so running out
 *   of memory while building a failure still fires the chain.
 * - Only references keep a Deferred alive (deferred.h, "Where this differs
 *   from Twisted"): one nobody references is freed with its pending pairs,
 *   which never run, where Twisted's garbage collector keeps it as long as
 *   whatever will fire it; the same for a gather.  C has no collector, and
 *   keeping Deferreds alive from below would make every chain a cycle.
 */
#include "deferred.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "deferred_chain.h"
#include "deferred_internal.h"

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
		deferred__waiter_unlink(d->res.deferred, d);
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
	if (deferred__pair_reserve(d) != 0)
		return -ENOMEM;
	pair_push(d, cb, eb, arg, arg_free);
	if (d->flags & F_CALLED)
		deferred__run_callbacks(d);
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
	deferred__run_callbacks(d);
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
		deferred__run_callbacks(d);
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
