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
 * Three modules: this one (values, the chain, cancel, succeed/fail/maybe,
 * the unhandled-error hook) and, built on it, deferred_list.h
 * (DeferredList / gatherResults, shared values) and deferred_timeout.h
 * (addTimeout on a libevent timer), both included at the end of this
 * header.  The core is two files, deferred.c
 * and deferred_chain.c, and calls into deferred_list for a gather's
 * cancel, release and cycle check, so whatever links deferred links
 * deferred_chain and deferred_list too.
 *
 * Threads: a Deferred belongs to the thread that made it (the loop, or an
 * acceptor answering a route that completes at once); nothing here locks,
 * and the only state shared by all Deferreds is the unhandled-error hook,
 * set before any thread starts (deferred_shared_*, in deferred_list.h,
 * counts references atomically).  Worker threads never touch a Deferred:
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
 * Where this differs from Twisted: only references keep a Deferred alive.
 * In Twisted whatever will fire a Deferred, or a Deferred it waits on,
 * keeps it (and its callbacks) alive through the garbage collector.  Here a
 * Deferred whose last reference is dropped is freed at once with every
 * pair it still holds: those callbacks never run (their arg_free does), and
 * if it was waiting on another Deferred it stops waiting.  The waiting side
 * owns the waited-on side, never the reverse, so whoever wants the result
 * of a chain keeps a reference to its outer end:
 *
 *     struct deferred *outer = deferred_new(NULL, NULL);
 *
 *     deferred_add_callback(outer, start_lookup, ctx, NULL); // returns `inner`
 *     deferred_add_callback(outer, write_answer, req, NULL);
 *     deferred_callback(outer, deferred_val_none()); // outer waits on inner
 *     deferred_unref(outer);  // WRONG: frees outer now; write_answer never
 *                             // runs, even when inner fires later
 *
 * Keep `outer` referenced instead (for instance in `req`) and drop it once
 * write_answer ran, or from inside write_answer, which is safe: the free
 * waits for the end of the run.  The same holds for a gather: dropping the
 * last reference to an unfired gather frees it and its list, detaches it
 * from its members (which go on as if it had never been made, apart from
 * consumeErrors), and its callbacks never run.
 *
 * Cycles: a callback that returns a Deferred which already waits, directly
 * or down its chain, on the Deferred the callback is attached to (so that
 * each would wait on the other forever) does not chain: that Deferred goes
 * on with a "RuntimeError" failure instead, as for a callback returning its
 * own Deferred.  The same holds when the returned Deferred is, or waits
 * down its chain on, an unfired gather that still waits to hear from the
 * callback's Deferred (one of its members).  The check walks the returned
 * Deferred's chain only when something already waits on the callback's
 * Deferred or when that one still holds a gather's pair.  It does not go
 * from a gather to its other members: a cycle through one (X's callback
 * returns gather G while a member of G waits on X; or m's callback returns
 * a gather of a gather of m) is not detected.  Nothing in such a cycle
 * fires or is freed until something outside fires one of its Deferreds;
 * cancelling the gather cancels each member once.
 *
 * Errors: functions returning int give 0 or a negative errno (-ENOMEM,
 * -EALREADY).  When they fail, nothing changed and the caller still owns
 * whatever it passed in (arg, value, failure).
 */
#ifndef FCGI_APP_DEFERRED_H
#define FCGI_APP_DEFERRED_H

#include <stdbool.h>
#include <stddef.h>

#include "failure.h"

struct deferred;

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
 * Does nothing when already fired.  Never fails; may be called repeatedly.
 * A gather cancels its members instead (deferred_gather, in
 * deferred_list.h). */
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

/* Replaces the hook (NULL restores the default, a line on stderr). */
void deferred_set_unhandled_hook(deferred_unhandled_fn fn);

/* Last, as they build on the declarations above: including deferred.h (as
 * fcgi_app.h does) declares the whole Deferred library. */
#include "deferred_list.h"
#include "deferred_timeout.h"

#endif
