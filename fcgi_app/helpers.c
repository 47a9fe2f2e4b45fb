/* helpers: the API's timers, thread pool and events (fcgi_app.h's
 * fcgi_call_later, fcgi_defer_to_thread, fcgi_event_*), on what the run
 * bound to the app (app_base, app_pool, app_fanout).  Loop thread only. */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>

#include "app.h"
#include "fanout.h"
#include "pool.h"

/* ---- helpers -------------------------------------------------------------- */

struct later {
	struct event *ev;
	struct deferred *d; /* one reference, until the timer fires or is
	                       cancelled */
};

static void later_free(struct later *l)
{
	event_free(l->ev);
	deferred_unref(l->d);
	free(l);
}

static void on_later(evutil_socket_t fd, short what, void *arg)
{
	struct later *l = arg;
	(void)fd;
	(void)what;
	struct deferred *d = l->d;
	deferred_ref(d);
	later_free(l);
	deferred_callback(d, deferred_val_none());
	deferred_unref(d);
}

/* Cancelling stops the timer; the Deferred then errbacks with
 * CancelledError (the canceller does not fire it). */
static void cancel_later(struct deferred *d, void *arg)
{
	(void)d;
	later_free(arg);
}

struct deferred *fcgi_call_later(struct fcgi_app *app, uint64_t ms)
{
	struct later *l = calloc(1, sizeof *l);
	if (!l || !app_base(app))
		goto fail;
	if (!(l->ev = evtimer_new(app_base(app), on_later, l)))
		goto fail;
	struct deferred *d = deferred_new(cancel_later, l);
	if (!d)
		goto fail;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	/* libevent measures from the time it cached at the loop's last turn;
	 * a handler may run long after it (a batch of requests), and the timer
	 * would fire that much early. */
	event_base_update_cache_time(app_base(app));
	if (evtimer_add(l->ev, &tv) < 0) {
		deferred_unref(d);
		goto fail;
	}
	deferred_ref(d);
	l->d = d;
	return d;
fail:
	if (l && l->ev)
		event_free(l->ev);
	free(l);
	return NULL;
}

struct deferred *fcgi_defer_to_thread(struct fcgi_app *app,
                                      struct deferred_val (*fn)(void *arg),
                                      void *arg, void (*arg_free)(void *))
{
	struct deferred *d = NULL;
	int rc = app_pool(app) ? pool_defer_to_thread(app_pool(app), fn, arg, arg_free, &d)
	                   : -ESHUTDOWN;
	if (rc == 0)
		return d;
	if (rc == -ENOMEM)
		return NULL;
	/* The job never runs: arg is still ours to free. */
	if (arg_free)
		arg_free(arg);
	if (rc == -EAGAIN)
		return deferred_fail(failure_new(
		    FCGI_FAILURE_QUEUE_FULL,
		    "All %u worker threads are busy and %u jobs are waiting.",
		    pool_size(app_pool(app)), pool_queued(app_pool(app))));
	return deferred_fail(
	    failure_new(FCGI_FAILURE_SHUTTING_DOWN, "The server is stopping."));
}

/* ---- events ------------------------------------------------------------- */

struct fcgi_event {
	struct fanout_event *e;
};

struct fcgi_event *fcgi_event_new(struct fcgi_app *app)
{
	if (!app_fanout(app))
		return NULL;
	struct fcgi_event *ev = malloc(sizeof *ev);
	if (ev && !(ev->e = fanout_event_new(app_fanout(app)))) {
		free(ev);
		return NULL;
	}
	return ev;
}

void fcgi_event_free(struct fcgi_event *e)
{
	if (!e)
		return;
	fanout_event_free(e->e);
	free(e);
}

struct deferred *fcgi_event_wait(struct fcgi_event *e)
{
	return fanout_event_wait(e->e);
}

long fcgi_event_fire(struct fcgi_event *e, struct deferred_val v)
{
	return fanout_event_fire(e->e, v);
}

size_t fcgi_event_waiting(const struct fcgi_event *e)
{
	return fanout_event_waiting(e->e);
}

struct deferred *fcgi_event_wait_named(struct fcgi_app *app, const char *name,
                                       size_t len)
{
	return app_fanout(app) ? fanout_wait_named(app_fanout(app), name, len) : NULL;
}

long fcgi_event_fire_named(struct fcgi_app *app, const char *name, size_t len,
                           struct deferred_val v)
{
	if (!app_fanout(app))
		return -EINVAL;
	return fanout_fire_named(app_fanout(app), name, len, v);
}

size_t fcgi_event_waiting_named(const struct fcgi_app *app, const char *name,
                                size_t len)
{
	return app_fanout(app) ? fanout_named_waiting(app_fanout(app), name, len) : 0;
}

size_t fcgi_event_waiting_all(const struct fcgi_app *app)
{
	return app_fanout(app) ? fanout_unfired(app_fanout(app)) : 0;
}
