/*
 * fanout: events that many requests wait on, and the paced fire that
 * completes them.
 *
 * An event (fanout_event) holds waiters: each fanout_event_wait returns a
 * Deferred that the event's next fire completes.  fanout_event_fire takes
 * every waiter the event has at that moment (later waiters wait for the
 * next fire) and queues them on the fanout, which completes them oldest
 * first at `fire_rate` per second, in batches `fire_interval_us` apart:
 * a fan-out to thousands neither holds the loop nor floods nginx with
 * thousands of replies at once, and other requests go on between the
 * batches.  The rate is one budget for every event of a fanout, since the
 * replies all go through the same nginx.  While foreground requests arrive
 * (fanout_note_foreground within the last `fire_busy_us`), the fire slows
 * to `fire_rate_busy`: a request someone waits for now goes before the
 * fan-out's backlog in nginx too.
 *
 * Named events (fanout_wait_named / fanout_fire_named) are made on the
 * first wait and freed when their last waiter is gone, so a name costs
 * memory only while someone waits on it.
 *
 * Ownership:
 * - A waiter's Deferred: fanout_event_wait returns one reference, the
 *   caller's; the fanout holds its own until the waiter is fired or
 *   cancelled.  Cancelling the Deferred (a client went away) removes the
 *   waiter at once, even in the middle of a fire.
 * - A fire's value is the fanout's (freed with deferred_val_free once its
 *   last waiter has been called).  Each waiter's chain receives a borrowed
 *   view of it (DEFERRED_VAL_PTR with no free function, or NONE): valid
 *   while that callback runs.  A callback that needs the value later
 *   copies it, as the demo's first addTag does.
 * - An event belongs to whoever made it with fanout_event_new; freeing it
 *   cancels its waiters, those of a fire in progress included.
 *   fanout_free cancels every waiter and frees every event left.
 *
 * Threads: the loop thread (the one that runs `base`), except
 * fanout_note_foreground, which any thread may call.
 */
#ifndef FCGI_APP_FANOUT_H
#define FCGI_APP_FANOUT_H

#include <stddef.h>
#include <stdint.h>

#include "deferred.h"

struct event_base;
struct fanout;
struct fanout_event;

struct fanout_opts {
	unsigned fire_batch;       /* most waiters completed per batch (>= 1) */
	unsigned fire_rate;        /* waiters completed per second; 0: unpaced */
	unsigned fire_interval_us; /* between paced batches */
	unsigned fire_rate_busy;   /* the rate while foreground requests
	                              arrive; 0: always fire_rate */
	unsigned fire_busy_us;     /* how long one such request counts */
	/* Monotonic microseconds; NULL: clock_us().  Tests inject their
	 * own, so batch sizes never depend on wall time. */
	uint64_t (*clock_us)(void);
};

/* Borrows base.  NULL when out of resources (errno set). */
struct fanout *fanout_new(struct event_base *base, const struct fanout_opts *o);
/* Cancels every waiter (CancelledError), frees every event, then the
 * fanout.  NULL is fine. */
void fanout_free(struct fanout *f);

/* Any thread: a request someone is waiting for arrived now. */
void fanout_note_foreground(struct fanout *f);

/* Calls to fanout_event_fire (and fanout_fire_named) so far, whether
 * anyone waited or not: the server tells a request that fired an event
 * (not a foreground request for the pacing) by this count moving. */
uint64_t fanout_fire_calls(const struct fanout *f);

/* Waiters not yet fired, over every event (a fire in progress included). */
size_t fanout_unfired(const struct fanout *f);

struct fanout_event *fanout_event_new(struct fanout *f);
/* Cancels the event's waiters, then frees it.  Not from a callback of one
 * of its own waiters. */
void fanout_event_free(struct fanout_event *e);

/* A Deferred that the event's next fire completes; NULL when out of
 * memory. */
struct deferred *fanout_event_wait(struct fanout_event *e);

/* Takes every waiter the event has now and queues them with `v`, whose
 * kind must be DEFERRED_VAL_NONE or DEFERRED_VAL_PTR.  Takes ownership of
 * v on success.  Returns the number of waiters taken (0: nobody waited,
 * and v is freed), -EINVAL for another kind (v still the caller's), or
 * -ENOMEM (v still the caller's, nothing taken). */
long fanout_event_fire(struct fanout_event *e, struct deferred_val v);

/* Waiting for the next fire / not yet fired (a fire in progress too). */
size_t fanout_event_waiting(const struct fanout_event *e);
size_t fanout_event_unfired(const struct fanout_event *e);

/* The named event `name` (len bytes, any bytes; the caller checks what
 * names it allows): wait on it, made if needed.  NULL when out of
 * memory. */
struct deferred *fanout_wait_named(struct fanout *f, const char *name,
                                   size_t len);
/* Fires the named event; 0 when nobody waits on that name (v is freed).
 * Otherwise as fanout_event_fire. */
long fanout_fire_named(struct fanout *f, const char *name, size_t len,
                       struct deferred_val v);
/* Waiting on `name` for its next fire; 0 for an unknown name. */
size_t fanout_named_waiting(const struct fanout *f, const char *name,
                            size_t len);
/* Named events that exist now (each has at least one unfired waiter). */
size_t fanout_named_count(const struct fanout *f);

#endif
