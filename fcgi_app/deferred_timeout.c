/*
 * deferred_timeout: Twisted's Deferred.addTimeout on a libevent timer.
 * A client of the public Deferred API only: the timeout is one
 * callback/errback pair on the Deferred, and the timer cancels it.
 *
 * Owns the timer and its state (struct timeout); the pair's arg_free frees
 * both, so whichever way the Deferred goes (fires, is cancelled, is freed
 * unfired) the timer goes with the pair.  Runs on the thread that owns the
 * Deferred and the event_base.
 */
#include "deferred_timeout.h"

#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>

/* The timer points at the Deferred without a reference: the pair that
 * owns it runs or is freed no later than the Deferred, and freeing the
 * pair frees the timer, so the timer never outlives what it cancels.
 * The event_base must outlive that pair. */
struct timeout {
	struct event *ev;
	struct deferred *d;
	struct timeval tv;
	bool timed_out;
};

static void timeout_expired(evutil_socket_t fd, short what, void *arg)
{
	struct timeout *t = arg;

	(void)fd;
	(void)what;
	t->timed_out = true;
	/* May run the pair below and free t (and this event) before it
	 * returns; libevent allows freeing an event from its own callback. */
	deferred_cancel(t->d);
}

/* Twisted's convertCancelled and cancelTimeout, which it adds back to
 * back; nothing can run between them, so one pair does both, and its
 * arg_free stops the timer.  That happens when the chain reaches the pair:
 * when `d` fires, unless an earlier callback made `d` wait on another
 * Deferred, which the timer can then still cancel (as in Twisted). */
static struct deferred_val timeout_pair(struct deferred_val v, void *arg)
{
	struct timeout *t = arg;

	if (t->timed_out && v.kind == DEFERRED_VAL_FAILURE &&
	    failure_check(v.failure, FAILURE_CANCELLED)) {
		double secs = (double)t->tv.tv_sec + (double)t->tv.tv_usec / 1e6;
		struct failure *f = failure_new(
		    FAILURE_TIMEOUT, "Deferred timed out after %g seconds", secs);

		/* Out of memory, keeping the CancelledError beats a
		 * MemoryError. */
		if (f != NULL) {
			failure_free(v.failure);
			v = deferred_val_failure(f);
		}
	}
	return v;
}

static void timeout_free(void *arg)
{
	struct timeout *t = arg;

	event_free(t->ev);
	free(t);
}

int deferred_add_timeout(struct deferred *d, struct event_base *base,
                         const struct timeval *tv)
{
	struct timeout *t;

	if (base == NULL || tv == NULL)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->d = d;
	t->tv = *tv;
	t->ev = evtimer_new(base, timeout_expired, t);
	if (t->ev == NULL) {
		free(t);
		return -ENOMEM;
	}
	if (evtimer_add(t->ev, tv) != 0) {
		event_free(t->ev);
		free(t);
		return -EINVAL;
	}
	/* Added after the timer: on a fired `d` the pair runs (and frees t)
	 * right here, as Twisted's cancelTimeout would.  When adding fails
	 * nothing ran, and freeing the event takes the timer off again. */
	if (deferred_add_both(d, timeout_pair, t, timeout_free) != 0) {
		timeout_free(t);
		return -ENOMEM;
	}
	return 0;
}
