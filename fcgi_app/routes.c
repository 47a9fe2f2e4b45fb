/* routes: the demo's five routes on Deferreds (see routes.h). */
#include "routes.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deferred.h"
#include "fanout.h"
#include "failure.h"
#include "pool.h"

struct routes {
	struct pool *pool;
	struct fanout *fan;
	struct fanout_event *simple; /* every /simple waits on it */
	struct routes_opts opts;
};

static struct deferred_val fail_oom(void)
{
	return deferred_val_failure(failure_new("MemoryError", "out of memory"));
}

/* The demo's addTag(text, tag): '<{0}>{1}</{0}>'.format(tag, text). */
static struct deferred_val add_tag(struct deferred_val v, void *arg)
{
	const char *tag = arg;
	const char *text = v.kind == DEFERRED_VAL_PTR && v.ptr ? v.ptr : "None";
	char *out;
	if (asprintf(&out, "<%s>%s</%s>", tag, text, tag) < 0) {
		deferred_val_free(v);
		return fail_oom();
	}
	deferred_val_free(v);
	return deferred_val_str(out);
}

static int add_tags(struct deferred *d, const char *const *tags, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (deferred_add_callback(d, add_tag, (void *)tags[i], NULL) < 0)
			return -ENOMEM;
	return 0;
}

/* ---- /simple and /simple/fire ---------------------------------------- */

/* Each /simple waits on the one event; Klein's
 * request.notifyFinish().addErrback(lambda _: d.cancel()) ends in the
 * fanout's canceller when nginx drops it. */
static struct deferred *route_simple(struct routes *r)
{
	static const char *const tags[] = {"i", "u"};
	struct deferred *d = fanout_event_wait(r->simple);
	if (d && add_tags(d, tags, 2) < 0) {
		deferred_cancel(d); /* out of memory: leave the event */
		deferred_unref(d);
		return NULL;
	}
	return d;
}

static struct deferred *route_fire(struct routes *r)
{
	static const char fired[] =
	    "Look at the <a href=\"/simple\">/simple</a> request tab.";
	static const char not_set[] =
	    "The callback has already been fired or not set! Go back to "
	    "<a href=\"/async/simple\" target=\"new\">/async/simple</a> and "
	    "initiate the Deferred.";
	/* Every waiter shares the one static value: no copy per request;
	 * each chain's first addTag makes its own string. */
	long n = fanout_event_fire(r->simple, deferred_val_static(ROUTES_FIRE_VALUE));
	if (n < 0)
		return NULL;
	return deferred_succeed(deferred_val_static(n > 0 ? fired : not_set));
}

/* ---- /error ------------------------------------------------------------ */

/* The demo's raiseError: int('hello'), with Python's message. */
static struct deferred_val raise_error(void *arg)
{
	const char *text = arg;
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (end == text || *end || errno)
		return deferred_val_failure(failure_new(
		    "ValueError", "invalid literal for int() with base 10: '%s'",
		    text));
	return deferred_val_ptr((void *)(intptr_t)v, NULL);
}

static struct deferred_val error_callback(struct deferred_val v, void *arg)
{
	int *status = arg;
	*status = 400; /* request.setResponseCode(400) */
	char *text = failure_to_string(v.failure);
	char *out = NULL;
	if (!text || asprintf(&out, "Uh oh spaghetti-Os!<br><br>ERROR: %s",
	                      text) < 0) {
		free(text);
		deferred_val_free(v);
		return fail_oom();
	}
	free(text);
	deferred_val_free(v);
	return deferred_val_str(out);
}

static struct deferred *route_error(int *status)
{
	static char hello[] = "hello";
	struct deferred *d = deferred_maybe(raise_error, hello);
	if (!d)
		return NULL;
	if (deferred_add_errback(d, error_callback, status, NULL) < 0 ||
	    deferred_add_callback(d, add_tag, (void *)"strong", NULL) < 0) {
		deferred_unref(d);
		return NULL;
	}
	return d;
}

/* ---- /coro ------------------------------------------------------------- */

/* inlineCallbacks in the demo: each `yield addTag(...)` is a step whose
 * result feeds the next.  A chain of callbacks is that coroutine unrolled;
 * a step returning a Deferred would pause it the same way a yield does. */
static struct deferred *route_coro(void)
{
	static const char *const steps[] = {"i", "strong", "body", "html"};
	struct deferred *d = deferred_succeed(
	    deferred_val_static("This is a coroutine-like function!"));
	if (d && add_tags(d, steps, 4) < 0) {
		deferred_unref(d);
		return NULL;
	}
	return d;
}

/* ---- /sleep/<n> -------------------------------------------------------- */

/* The demo's blockingTask: runs on a worker thread. */
static struct deferred_val blocking_task(void *arg)
{
	unsigned long n = (unsigned long)(uintptr_t)arg;
	struct timespec ts = {(time_t)n, 0};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	char *out;
	if (asprintf(&out, "Slept for %lu seconds", n) < 0)
		return fail_oom();
	return deferred_val_str(out);
}

static struct deferred *route_sleep(struct routes *r, unsigned long n)
{
	struct deferred *d = NULL;
	int rc = pool_defer_to_thread(r->pool, blocking_task,
	                              (void *)(uintptr_t)n, NULL, &d);
	if (rc == 0)
		return d;
	if (rc == -EAGAIN)
		return deferred_fail(failure_new(
		    ROUTES_FAILURE_QUEUE_FULL,
		    "All %u worker threads are busy and %u jobs are waiting.",
		    pool_size(r->pool), pool_queued(r->pool)));
	if (rc == -ESHUTDOWN)
		return deferred_fail(
		    failure_new(ROUTES_FAILURE_SHUTDOWN, "The server is stopping."));
	return NULL;
}

static struct deferred *route_sleep_too_long(struct routes *r, int *status)
{
	*status = 400;
	char *out;
	if (asprintf(&out,
	             "<html><head><title>400 Bad Request</title></head><body>"
	             "<h1>400 Bad Request</h1><p>/sleep/&lt;n&gt; takes at most "
	             "%lu seconds.</p></body></html>",
	             r->opts.max_sleep) < 0)
		return NULL;
	return deferred_succeed(deferred_val_str(out));
}

static struct deferred *route_not_found(int *status)
{
	*status = 404;
	return deferred_succeed(deferred_val_static(
	    "<html><head><title>404 Not Found</title></head><body>"
	    "<h1>404 Not Found</h1><p>No such resource.</p></body></html>"));
}

struct deferred *routes_dispatch(struct routes *r, const struct router_match *m,
                                 int *status)
{
	if (m->route != ROUTER_SIMPLE && m->route != ROUTER_SIMPLE_FIRE)
		fanout_note_foreground(r->fan);
	switch (m->route) {
	case ROUTER_SIMPLE: return route_simple(r);
	case ROUTER_SIMPLE_FIRE: return route_fire(r);
	case ROUTER_ERROR: return route_error(status);
	case ROUTER_CORO: return route_coro();
	case ROUTER_SLEEP: return route_sleep(r, m->seconds);
	case ROUTER_SLEEP_TOO_LONG: return route_sleep_too_long(r, status);
	case ROUTER_NOT_FOUND: break;
	}
	return route_not_found(status);
}

bool routes_at_once(enum router_route route)
{
	switch (route) {
	case ROUTER_ERROR:
	case ROUTER_CORO:
	case ROUTER_SLEEP_TOO_LONG:
	case ROUTER_NOT_FOUND: return true;
	case ROUTER_SIMPLE:      /* the registry */
	case ROUTER_SIMPLE_FIRE: /* the registry and the fire's timer */
	case ROUTER_SLEEP:       /* the pool, whose results the loop fires */
		break;
	}
	return false;
}

size_t routes_simple_waiting(const struct routes *r)
{
	return fanout_event_unfired(r->simple);
}

struct routes *routes_new(struct event_base *base, struct pool *pool,
                          const struct routes_opts *o)
{
	struct routes *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	struct fanout_opts fo = {
		.fire_batch = o->fire_batch,
		.fire_rate = o->fire_rate,
		.fire_interval_us = o->fire_interval_us,
		.fire_rate_busy = o->fire_rate_busy,
		.fire_busy_us = o->fire_busy_us,
		.clock_us = o->clock_us,
	};
	r->fan = fanout_new(base, &fo);
	r->simple = r->fan ? fanout_event_new(r->fan) : NULL;
	if (!r->simple) {
		fanout_free(r->fan);
		free(r);
		return NULL;
	}
	r->pool = pool;
	r->opts = *o;
	return r;
}

void routes_free(struct routes *r)
{
	if (!r)
		return;
	fanout_free(r->fan); /* waiting /simple errback with CancelledError */
	free(r);
}
