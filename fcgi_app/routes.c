/* routes: the demo's five routes on Deferreds (see routes.h). */
#include "routes.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "deferred.h"
#include "failure.h"
#include "log.h"
#include "pool.h"

/* A /simple waiting for the fire.  Lives on `waiting` (or on `firing` once
 * a fire took it) until fired or cancelled; holds one Deferred reference. */
struct waiter {
	struct waiter *prev, *next;
	struct deferred *d;
	struct routes *owner;
};

struct routes {
	struct pool *pool;
	struct event *fire_ev; /* fire_tfd readable: the next batch is due */
	int fire_tfd;          /* timerfd, armed while a fire runs (and until
	                          its next expiry after the last waiter of a
	                          fire was cancelled: one empty batch) */
	struct waiter waiting; /* sentinel of a circular list */
	struct waiter firing;  /* taken by a fire, not yet fired */
	size_t n_waiting; /* on either list: not yet fired */
	struct routes_opts opts;
	double fire_credit;    /* replies the rate allows now, not yet sent */
	uint64_t fire_last_us; /* when the credit was last topped up */
	/* When routes_dispatch last started a request other than /simple and
	 * /simple/fire; 0: never.  Acceptor threads write it too
	 * (routes_at_once). */
	_Atomic uint64_t fg_last_us;
};

static void list_init(struct waiter *head)
{
	head->prev = head->next = head;
}

static void list_unlink(struct waiter *w)
{
	w->prev->next = w->next;
	w->next->prev = w->prev;
	w->prev = w->next = w;
}

static void list_push(struct waiter *head, struct waiter *w)
{
	w->prev = head->prev;
	w->next = head;
	head->prev->next = w;
	head->prev = w;
}

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

/* Klein's request.notifyFinish().addErrback(lambda _: d.cancel()) ends
 * here when nginx drops a pending /simple: forget the waiter. */
static void simple_cancel(struct deferred *d, void *arg)
{
	struct waiter *w = arg;
	(void)d;
	list_unlink(w);
	w->owner->n_waiting--;
	deferred_unref(w->d);
	free(w);
	/* Not firing d here: the library errbacks with CancelledError. */
}

static struct deferred *route_simple(struct routes *r)
{
	static const char *const tags[] = {"i", "u"};
	struct waiter *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	struct deferred *d = deferred_new(simple_cancel, w);
	if (!d || add_tags(d, tags, 2) < 0) {
		deferred_unref(d);
		free(w);
		return NULL;
	}
	deferred_ref(d); /* the waiter's */
	w->d = d;
	w->owner = r;
	list_push(&r->waiting, w);
	r->n_waiting++;
	return d;
}

/* The rate of the next batch: fire_rate_busy while other requests
 * arrive, else fire_rate (0: unpaced).  The fire is background work: every
 * reply it sends, nginx must relay before it gets to a request queued
 * behind it, so while someone is waiting for an answer now, the fan-out
 * yields nginx's time to them (docs/ARCHITECTURE.md, "Fan-out"). */
static unsigned fire_rate_now(struct routes *r, uint64_t now)
{
	const struct routes_opts *o = &r->opts;
	if (o->fire_rate_busy == 0 ||
	    (o->fire_rate != 0 && o->fire_rate <= o->fire_rate_busy))
		return o->fire_rate;
	uint64_t last = atomic_load_explicit(&r->fg_last_us, memory_order_relaxed);
	return last != 0 && last + o->fire_busy_us > now ? o->fire_rate_busy
	                                                 : o->fire_rate;
}

/* Completes up to n of the waiters a fire took, oldest first. */
static void fire_some(struct routes *r, size_t n)
{
	for (size_t i = 0; i < n && r->firing.next != &r->firing; i++) {
		struct waiter *w = r->firing.next;
		struct deferred *d = w->d;
		list_unlink(w);
		r->n_waiting--;
		free(w);
		/* Every waiter shares the one static value: no copy per
		 * request; each chain's first addTag makes its own string. */
		if (deferred_callback(d, deferred_val_static(ROUTES_FIRE_VALUE)) < 0)
			deferred_cancel(d); /* cannot happen: waiters are unfired */
		deferred_unref(d);
	}
}

/* Fires the next batch of the waiters a fire took.  The batch is what
 * the fire rate allowed since the last one, at most fire_batch, so a late
 * timer makes the next batch larger rather than the whole fire slower:
 * 10,000 waiters at 25,000/s take ~0.4 s however coarse the timer is.
 * Fractions carry over (a rate below one per interval fires one waiter
 * every few intervals), and the credit is capped at one batch, so a loop
 * that stalled does not catch up in a flood. */
static void fire_batch(struct routes *r, bool first)
{
	const struct routes_opts *o = &r->opts;
	uint64_t now = clock_us();
	unsigned rate = fire_rate_now(r, now);
	if (rate == 0) {
		r->fire_credit = o->fire_batch;
	} else if (first) {
		/* Start with one interval's worth, so a small fire completes
		 * at once and a slow rate starts slowly. */
		r->fire_credit = (double)rate * o->fire_interval_us / 1e6;
		if (r->fire_credit < 1)
			r->fire_credit = 1;
	} else {
		r->fire_credit += (double)(now - r->fire_last_us) * rate / 1e6;
	}
	if (r->fire_credit > o->fire_batch)
		r->fire_credit = o->fire_batch;
	r->fire_last_us = now;
	unsigned n = (unsigned)r->fire_credit;
	r->fire_credit -= n;
	fire_some(r, n);
	/* A timer, not event_active: an event activated from its own
	 * callback runs again in the same pass, before the loop polls; a
	 * timer waits for the next epoll_wait, so I/O and other requests get
	 * their turn between batches.  The pacing is for nginx, which must
	 * relay every reply to its client: thousands at once stall it. */
	if (r->firing.next != &r->firing) {
		uint64_t us = 0;
		if (rate) {
			/* Wake when the next waiter is due, not sooner. */
			double wait = (1 - r->fire_credit) * 1e6 / rate;
			us = wait > o->fire_interval_us ? (uint64_t)wait
			                                : o->fire_interval_us;
		}
		if (us == 0)
			us = 1; /* 0 would disarm it */
		struct itimerspec its = {
		    .it_value = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000}};
		/* Cannot fail with a valid timerfd and a time > 0.  If it
		 * did, nothing would wake the rest of the fire: better all of
		 * them now than none. */
		if (timerfd_settime(r->fire_tfd, 0, &its, NULL) < 0) {
			log_error("msg=\"cannot arm the fire's timer, firing the "
			          "rest unpaced\" errno=%d waiting=%zu",
			          errno, r->n_waiting);
			fire_some(r, SIZE_MAX);
		}
	}
}

static void on_fire_ev(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	uint64_t expirations;
	if (read(fd, &expirations, sizeof expirations) < 0)
		return; /* EAGAIN: disarmed or re-armed meanwhile */
	fire_batch(arg, false);
}

static struct deferred *route_fire(struct routes *r)
{
	static const char fired[] =
	    "Look at the <a href=\"/simple\">/simple</a> request tab.";
	static const char not_set[] =
	    "The callback has already been fired or not set! Go back to "
	    "<a href=\"/async/simple\" target=\"new\">/async/simple</a> and "
	    "initiate the Deferred.";
	if (r->waiting.next == &r->waiting)
		return deferred_succeed(deferred_val_static(not_set));
	bool idle = r->firing.next == &r->firing;
	/* Take everything waiting now; later /simple wait for the next fire. */
	struct waiter *first = r->waiting.next, *last = r->waiting.prev;
	list_init(&r->waiting);
	first->prev = r->firing.prev;
	r->firing.prev->next = first;
	last->next = &r->firing;
	r->firing.prev = last;
	if (idle) /* else the running fire's timer carries these too */
		fire_batch(r, true);
	return deferred_succeed(deferred_val_static(fired));
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

/* At most one store per millisecond: the acceptors and the loop share
 * this cache line on every request.  A compare-and-swap, so that a
 * thread preempted between its clock read and its store never moves the
 * stamp back over a later one. */
static void note_foreground(struct routes *r)
{
	uint64_t now = clock_us();
	uint64_t last = atomic_load_explicit(&r->fg_last_us, memory_order_relaxed);
	while (now >= last + 1000 &&
	       !atomic_compare_exchange_weak_explicit(&r->fg_last_us, &last, now,
	                                              memory_order_relaxed,
	                                              memory_order_relaxed))
		;
}

struct deferred *routes_dispatch(struct routes *r, const struct router_match *m,
                                 int *status)
{
	if (r->opts.fire_rate_busy && m->route != ROUTER_SIMPLE &&
	    m->route != ROUTER_SIMPLE_FIRE)
		note_foreground(r);
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
	return r->n_waiting;
}

struct routes *routes_new(struct event_base *base, struct pool *pool,
                          const struct routes_opts *o)
{
	struct routes *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->fire_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (r->fire_tfd < 0) {
		free(r);
		return NULL;
	}
	r->fire_ev = event_new(base, r->fire_tfd, EV_READ | EV_PERSIST, on_fire_ev, r);
	if (!r->fire_ev || event_add(r->fire_ev, NULL) < 0) {
		if (r->fire_ev)
			event_free(r->fire_ev);
		close(r->fire_tfd);
		free(r);
		return NULL;
	}
	list_init(&r->waiting);
	list_init(&r->firing);
	r->pool = pool;
	r->opts = *o;
	if (r->opts.fire_batch == 0)
		r->opts.fire_batch = 1;
	return r;
}

static void cancel_all(struct waiter *head)
{
	while (head->next != head) {
		struct deferred *d = head->next->d;
		deferred_ref(d);
		deferred_cancel(d); /* simple_cancel unlinks and frees */
		deferred_unref(d);
	}
}

void routes_free(struct routes *r)
{
	if (!r)
		return;
	cancel_all(&r->firing);
	cancel_all(&r->waiting);
	event_free(r->fire_ev);
	close(r->fire_tfd);
	free(r);
}
