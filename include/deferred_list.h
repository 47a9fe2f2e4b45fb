/*
 * deferred_list: Twisted's DeferredList and gatherResults
 * (deferred_gather), and the shared values that let a gather's list and a
 * member's chain hold one value at once.  Built on the Deferred core
 * (deferred.h); runs on the thread that owns the Deferreds, apart from
 * deferred_shared_unref.
 *
 * The gather state belongs to this module.  The core knows a gather
 * Deferred only as one whose cancel goes to its members and whose cycle
 * check looks at the members' pairs (deferred.h, "Cycles").
 */
#ifndef FCGI_APP_DEFERRED_LIST_H
#define FCGI_APP_DEFERRED_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "deferred.h"

/*
 * Reference-counted memory for values that two holders keep at once, such
 * as a gather's list and the member's own chain (see below).  `size`
 * zeroed bytes, aligned for any type; `dtor` (may be NULL) runs on them
 * before they are freed, when the last reference goes.  NULL when out of
 * memory.  References may be dropped from any thread.
 */
void *deferred_shared_new(size_t size, void (*dtor)(void *));
void deferred_shared_ref(void *p);
void deferred_shared_unref(void *p);
/* A DEFERRED_VAL_PTR that owns the caller's reference to p (its `free` is
 * deferred_shared_unref). */
struct deferred_val deferred_val_shared(void *p);

/* DeferredList / gatherResults. */
enum {
	DEFERRED_GATHER_FIRE_ON_ONE_CALLBACK = 1 << 0,
	DEFERRED_GATHER_FIRE_ON_ONE_ERRBACK = 1 << 1,
	DEFERRED_GATHER_CONSUME_ERRORS = 1 << 2,
};
struct deferred_gather_entry {
	bool success;
	struct deferred_val result; /* owned by the list */
};
/* Result value of a gather (DEFERRED_VAL_PTR, freed by deferred_val_free):
 * n entries in input order.  With FIRE_ON_ONE_CALLBACK the result is
 * instead a deferred_gather_first (index + value), or, when no member
 * succeeded, a deferred_gather_first with index n whose value is the
 * list. */
struct deferred_gather_result {
	size_t n;
	struct deferred_gather_entry entries[];
};
struct deferred_gather_first {
	size_t index;
	struct deferred_val result;
};
/*
 * Twisted's DeferredList(ds, fireOnOneCallback, fireOnOneErrback,
 * consumeErrors).  Takes one reference to each of ds[0..n-1] (the
 * caller's), and holds it until the gather fires or is freed.  A member may
 * be listed more than once.  Members report in index order, those already
 * fired at once.  With no members the gather fires at once with an empty
 * list, except with FIRE_ON_ONE_CALLBACK, where (as in Twisted) it never
 * fires.  With FIRE_ON_ONE_ERRBACK the failure is a FAILURE_FIRST_ERROR
 * whose failure_first_error_index and failure_first_error_inner give the
 * member's index and (a copy of) its failure.
 *
 * Results and ownership.  In Twisted the list and the member's chain share
 * each result.  Here the list owns its own entry and the member's chain
 * goes on with its own value, so either side may free its value whatever
 * the other does:
 * - None and borrowed pointers (free == NULL) are shared as they are;
 * - a failure goes on down the member's chain, and the list (or the
 *   FirstError) gets a copy (failure_copy; a MemoryError if that fails);
 * - a deferred_val_shared value goes on down the member's chain, and the
 *   list takes a reference of its own;
 * - any other owned pointer (such as deferred_val_str) cannot be shared:
 *   it moves into the list, and the member's chain goes on with None.
 *   Make such values with deferred_val_shared when the member's later
 *   callbacks need them too.
 * With CONSUME_ERRORS a failure goes on down the member's chain as None.
 * The gather only reads results while it is unfired; once fired, members
 * that report later pass their result on (the list its callbacks got is
 * theirs, and does not change).
 *
 * Cancel (DeferredList.cancel): cancelling an unfired gather cancels every
 * member and does not fire the gather itself: it fires from the members'
 * results, when they come (a member that is paused, or waits on a paused
 * Deferred, reports when it resumes).  Once the gather has fired, cancel
 * does nothing, even while it waits on a Deferred one of its callbacks
 * returned.
 *
 * NULL when out of memory (the references are then dropped).
 */
struct deferred *deferred_gather(struct deferred **ds, size_t n,
                                 unsigned flags);
#endif
