/*
 * routes: the demo's handlers, each returning a Deferred, as Klein's do.
 *
 * A handler's Deferred fires with the response body (a NUL-terminated
 * string) or a failure; handlers set the HTTP status through `*status`, the
 * way the demo's errback calls request.setResponseCode(400).  The server
 * appends its own callback that writes the reply, exactly as Klein appends
 * write_response to the Deferred a route returns.
 *
 * Every /simple waits on one fanout event (fanout.h) until /simple/fire
 * fires it; the fanout completes the waiters paced at `fire_rate` per
 * second in batches `fire_interval_us` apart, and slows to
 * `fire_rate_busy` while other requests arrive (routes_dispatch notes
 * every route but /simple and /simple/fire as such a request).
 *
 * Runs on the loop thread, except the routes routes_at_once names: their
 * handlers touch nothing shared but one atomic timestamp (no registry, no
 * pool, no loop), so any thread may run them with its own Deferreds.
 */
#ifndef FCGI_APP_ROUTES_H
#define FCGI_APP_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "router.h"

struct deferred;
struct event_base;
struct pool;
struct routes;

/* Failure types the server maps to statuses. */
#define ROUTES_FAILURE_QUEUE_FULL "fcgi_app.QueueFull"   /* 503 */
#define ROUTES_FAILURE_SHUTDOWN "fcgi_app.ShuttingDown"  /* 503 */

/* The value /simple/fire fires every pending /simple with. */
#define ROUTES_FIRE_VALUE "This is a simple callback...FIRE!"

struct routes_opts {
	unsigned fire_batch;       /* most /simple fired per batch (>= 1) */
	unsigned fire_rate;        /* replies per second; 0: unpaced */
	unsigned fire_interval_us; /* between paced batches */
	unsigned fire_rate_busy;   /* replies per second while other requests
	                              arrive (see routes_dispatch); 0: none */
	unsigned fire_busy_us;     /* how long one such request counts */
	unsigned long max_sleep;   /* named in the 400 for /sleep/<n> */
	uint64_t (*clock_us)(void); /* the fire's clock; NULL: clock_us() */
};

/* Borrows base and pool for its lifetime.  NULL when out of memory. */
struct routes *routes_new(struct event_base *base, struct pool *pool,
                          const struct routes_opts *o);

/* Starts route `m`.  Returns a Deferred (one reference, the caller's), or
 * NULL when out of memory.  `status` is borrowed until the Deferred fires
 * (it stays 200 unless a handler changes it). */
struct deferred *routes_dispatch(struct routes *r, const struct router_match *m,
                                 int *status);

/* Whether route's Deferred has fired by the time routes_dispatch returns,
 * and its handler reads only what routes_new fixed: such a request may be
 * dispatched and answered on the thread that parsed it. */
bool routes_at_once(enum router_route route);

/* /simple requests waiting for a fire (including a fire in progress). */
size_t routes_simple_waiting(const struct routes *r);

/* Cancels every waiting /simple (their Deferreds errback with
 * CancelledError), then frees.  NULL is fine. */
void routes_free(struct routes *r);

#endif
