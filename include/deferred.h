/*
 * deferred: Twisted's Deferred in C (twisted/internet/defer.py semantics).
 *
 * A Deferred holds a chain of callback/errback pairs and, once fired, a
 * result that travels down the chain: a callback's return value is the next
 * pair's input; a failure selects the next errback; an errback that returns
 * a plain value switches back to the callbacks.  Callbacks added after the
 * Deferred fired run at once.  A callback that returns an unfired Deferred
 * pauses this chain until that one fires (chaining), iteratively, so long
 * chains never grow the C stack.
 *
 * Threads: a Deferred belongs to the thread that made it (the loop, or an
 * acceptor answering a route that completes at once); nothing here locks,
 * and the only state shared by all Deferreds is the unhandled-error hook,
 * set before any thread starts.  Worker threads never touch a Deferred:
 * they hand results back through the pool module, which fires Deferreds on
 * the loop.
 *
 * Ownership:
 * - deferred_new/succeed/fail/maybe/gather return a Deferred holding one
 *   reference owned by the caller; deferred_unref drops it.  The Deferred is
 *   freed when the last reference goes, never from inside one of its own
 *   callbacks (destruction is postponed to the end of the running chain).
 * - A struct deferred_val owns what it points to when its `free` is set
 *   (DEFERRED_VAL_PTR), and always owns a failure or a Deferred reference.
 *   A callback takes ownership of the value it receives and gives ownership
 *   of the value it returns.  To drop a value, call deferred_val_free.
 * - The `arg` given with a pair is borrowed by the callbacks; `arg_free`
 *   (may be NULL) runs exactly once, when the pair has run or when the
 *   Deferred is freed without running it.
 * - When a Deferred whose result is still a failure is freed, the failure is
 *   reported through the unhandled-error hook ("Unhandled error in
 *   Deferred"), then freed.
 *
 * Errors: functions returning int give 0 or a negative errno (-ENOMEM,
 * -EALREADY).  When they fail, nothing changed and the caller still owns
 * whatever it passed in (arg, value, failure).
 */
#ifndef FCGI_APP_DEFERRED_H
#define FCGI_APP_DEFERRED_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>

#include "failure.h"

struct deferred;
struct event_base;

enum deferred_val_kind {
	DEFERRED_VAL_NONE,     /* Python's None */
	DEFERRED_VAL_PTR,      /* any pointer; freed with `free` if set */
	DEFERRED_VAL_FAILURE,  /* `failure` is owned */
	DEFERRED_VAL_DEFERRED, /* `deferred` is an owned reference */
};

struct deferred_val {
	enum deferred_val_kind kind;
	union {
		void *ptr;
		struct failure *failure;
		struct deferred *deferred;
	};
	void (*free)(void *); /* DEFERRED_VAL_PTR only; NULL means borrowed */
};

/* Constructors for values.  deferred_val_str takes ownership of a malloc'd
 * string (freed with free()); deferred_val_static borrows one that outlives
 * every chain, such as a literal. */
struct deferred_val deferred_val_none(void);
struct deferred_val deferred_val_ptr(void *ptr, void (*free_fn)(void *));
struct deferred_val deferred_val_str(char *s);
struct deferred_val deferred_val_static(const char *s);
struct deferred_val deferred_val_failure(struct failure *f);
struct deferred_val deferred_val_deferred(struct deferred *d);
/* Releases whatever the value owns.  Safe on any kind. */
void deferred_val_free(struct deferred_val v);

typedef struct deferred_val (*deferred_cb_fn)(struct deferred_val result,
                                              void *arg);
/* A canceller runs when an unfired Deferred is cancelled; it may fire `d`
 * itself (then no CancelledError is produced). */
typedef void (*deferred_canceller_fn)(struct deferred *d, void *arg);
/* Called with a Deferred's unhandled failure just before it is freed. */
typedef void (*deferred_unhandled_fn)(const struct failure *f);

struct deferred *deferred_new(deferred_canceller_fn canceller, void *arg);
void deferred_ref(struct deferred *d);
void deferred_unref(struct deferred *d);

/* Appends a pair.  cb or eb may be NULL, meaning "pass the result on"
 * (Twisted's passthru/_failthru).  Runs it at once if already fired and not
 * paused.  0 or -ENOMEM (then arg_free is not called). */
int deferred_add_callbacks(struct deferred *d, deferred_cb_fn cb,
                           deferred_cb_fn eb, void *arg,
                           void (*arg_free)(void *));
int deferred_add_callback(struct deferred *d, deferred_cb_fn cb, void *arg,
                          void (*arg_free)(void *));
int deferred_add_errback(struct deferred *d, deferred_cb_fn eb, void *arg,
                         void (*arg_free)(void *));
int deferred_add_both(struct deferred *d, deferred_cb_fn fn, void *arg,
                      void (*arg_free)(void *));

/* Fires the Deferred.  Takes ownership of the value/failure on success.
 * -EALREADY (AlreadyCalledError) when it was fired before; the caller keeps
 * the value.  After a cancel without a canceller that fired it, the first
 * later fire is swallowed and returns 0 (Twisted's _suppressAlreadyCalled).
 * deferred_callback with a DEFERRED_VAL_FAILURE acts as deferred_errback.
 * Firing with a Deferred as the value is -EINVAL. */
int deferred_callback(struct deferred *d, struct deferred_val v);
int deferred_errback(struct deferred *d, struct failure *f);

/* Cancels: if unfired, runs the canceller; if still unfired, errbacks with
 * FAILURE_CANCELLED.  If waiting on a chained Deferred, cancels that one.
 * Does nothing when already fired.  Never fails; may be called repeatedly. */
void deferred_cancel(struct deferred *d);

void deferred_pause(struct deferred *d);
void deferred_unpause(struct deferred *d);

/* True once callback/errback was called (or it was cancelled). */
bool deferred_is_called(const struct deferred *d);
/* True when fired, not paused, not waiting on a chained Deferred. */
bool deferred_has_result(const struct deferred *d);
/* Borrowed view of the current result; kind NONE when there is none yet. */
struct deferred_val deferred_peek_result(const struct deferred *d);

/* Already-fired Deferreds.  Take ownership of v / f (even on NULL return,
 * which means out of memory). */
struct deferred *deferred_succeed(struct deferred_val v);
struct deferred *deferred_fail(struct failure *f);

/* Twisted's maybeDeferred: calls fn(arg) now.  A returned Deferred is
 * returned as is, a failure becomes deferred_fail, anything else
 * deferred_succeed.  NULL only when out of memory. */
struct deferred *deferred_maybe(struct deferred_val (*fn)(void *arg),
                                void *arg);

/* Twisted's addTimeout: if `d` has not fired after `tv`, cancel it and turn
 * the resulting CancelledError into FAILURE_TIMEOUT.  Covers the callbacks
 * added before the call.  The timer goes away when `d` fires.  Uses `base`
 * for the timer; 0 or -ENOMEM. */
int deferred_add_timeout(struct deferred *d, struct event_base *base,
                         const struct timeval *tv);

/* DeferredList / gatherResults. */
enum {
	DEFERRED_GATHER_FIRE_ON_ONE_CALLBACK = 1 << 0,
	DEFERRED_GATHER_FIRE_ON_ONE_ERRBACK = 1 << 1,
	DEFERRED_GATHER_CONSUME_ERRORS = 1 << 2,
};
struct deferred_gather_entry {
	bool success;
	struct deferred_val result; /* owned by the list result */
};
/* Result value of a gather (DEFERRED_VAL_PTR, freed by deferred_val_free):
 * n entries in input order.  With FIRE_ON_ONE_CALLBACK the result is
 * instead a deferred_gather_first (index + value). */
struct deferred_gather_result {
	size_t n;
	struct deferred_gather_entry entries[];
};
struct deferred_gather_first {
	size_t index;
	struct deferred_val result;
};
/* Takes one reference to each of ds[0..n-1] (the caller's).  Cancelling the
 * gather cancels every member.  With FIRE_ON_ONE_ERRBACK the failure is a
 * FAILURE_FIRST_ERROR whose message names the index and the inner failure.
 * NULL when out of memory (the references are then dropped). */
struct deferred *deferred_gather(struct deferred **ds, size_t n,
                                 unsigned flags);

/* Replaces the hook (NULL restores the default, a line on stderr). */
void deferred_set_unhandled_hook(deferred_unhandled_fn fn);

#endif
