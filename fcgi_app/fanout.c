/* fanout: events many requests wait on, and the paced fire (see fanout.h). */
#include "fanout.h"

#include <errno.h>
#include <event2/event.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "failure.h"
#include "list.h"
#include "log.h"
#include "nametab.h"

/* One request waiting.  It is on its event's `waiting` list until a fire
 * takes it, then on that fire's list until it is called; `ev` stays its
 * event either way, and `gen` (the event's fire count when it came) tells
 * which list it is on.  Holds the fanout's reference to `d`. */
struct waiter {
	struct list link;
	struct deferred *d;
	struct fanout_event *ev;
	uint64_t gen;
};

/* Waiters one fanout_event_fire took, with the value they get.  Fires
 * are completed in order. */
struct fire {
	struct fire *next;
	struct list waiters;
	struct deferred_val v;
};

struct fanout_event {
	struct fanout *f;
	struct list waiting;
	size_t n_waiting, n_unfired;  /* unfired: waiting + in a fire */
	uint64_t gen;                 /* fires so far */
	struct list all;              /* on f->events */
	char *name;                   /* named only: freed with the event */
	struct nametab_entry named;   /* named only: on f->names, naming name */
};

struct fanout {
	struct fanout_opts o;
	struct event *timer_ev; /* timer_fd readable: the next batch is due */
	int timer_fd;
	struct fire *first, *last;
	struct list events; /* every event, for fanout_free */
	size_t unfired;
	uint64_t fire_calls;     /* fanout_event_fire calls, ever */
	double credit;           /* waiters the rate allows now, not yet fired */
	uint64_t last_us;        /* when the credit was last topped up */
	bool in_batch;           /* a batch is calling back: no nested batch */
	_Atomic uint64_t fg_last_us; /* last foreground request; 0: never */
	struct nametab names; /* the named events, by name */
};

static uint64_t now_us(const struct fanout *f)
{
	return f->o.clock_us ? f->o.clock_us() : clock_us();
}

/* The named event called name, or NULL. */
static struct fanout_event *named_find(const struct fanout *f, const char *name,
                                       size_t len)
{
	struct nametab_entry *n = nametab_find(&f->names, name, len);
	return n ? nametab_owner(n, struct fanout_event, named) : NULL;
}

/* ---- events ------------------------------------------------------------ */

struct fanout_event *fanout_event_new(struct fanout *f)
{
	struct fanout_event *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->f = f;
	list_init(&e->waiting);
	list_push(&f->events, &e->all);
	return e;
}

static void event_release(struct fanout_event *e)
{
	struct fanout *f = e->f;
	list_remove(&e->all);
	if (e->name)
		nametab_remove(&f->names, &e->named);
	free(e->name);
	free(e);
}

/* A waiter left its event: a named event nobody waits on goes. */
static void event_drop_one(struct fanout_event *e, bool was_waiting)
{
	if (was_waiting)
		e->n_waiting--;
	e->n_unfired--;
	e->f->unfired--;
	if (e->name && e->n_unfired == 0)
		event_release(e);
}

/* The canceller of a waiter's Deferred: a client went away, or its event
 * or the fanout is being freed. */
static void waiter_cancel(struct deferred *d, void *arg)
{
	struct waiter *w = arg;
	(void)d;
	list_remove(&w->link);
	event_drop_one(w->ev, w->gen == w->ev->gen);
	deferred_unref(w->d);
	free(w);
	/* Not firing d here: the library errbacks with CancelledError. */
}

struct deferred *fanout_event_wait(struct fanout_event *e)
{
	struct waiter *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	struct deferred *d = deferred_new(waiter_cancel, w);
	if (!d) {
		free(w);
		return NULL;
	}
	deferred_ref(d); /* the waiter's */
	w->d = d;
	w->ev = e;
	w->gen = e->gen;
	list_push(&e->waiting, &w->link);
	e->n_waiting++;
	e->n_unfired++;
	e->f->unfired++;
	return d;
}

/* Cancels every waiter on `list` (moved there first, so a callback that
 * cancels or fires others while these run finds consistent lists). */
static void cancel_list(struct list *list)
{
	while (!list_empty(list)) {
		struct deferred *d = list_entry(list->next, struct waiter, link)->d;
		deferred_ref(d);
		deferred_cancel(d); /* waiter_cancel unlinks and frees */
		deferred_unref(d);
	}
}

void fanout_event_free(struct fanout_event *e)
{
	if (!e)
		return;
	struct list doomed;
	list_init(&doomed);
	for (struct fire *fi = e->f->first; fi; fi = fi->next)
		for (struct list *n = fi->waiters.next, *next; n != &fi->waiters; n = next) {
			next = n->next;
			if (list_entry(n, struct waiter, link)->ev == e) {
				list_remove(n);
				list_push(&doomed, n);
			}
		}
	/* A named event stops being one first, so that its last waiter's
	 * cancel does not free it under us. */
	if (e->name) {
		nametab_remove(&e->f->names, &e->named);
		free(e->name);
		e->name = NULL;
	}
	cancel_list(&e->waiting);
	cancel_list(&doomed);
	event_release(e);
}

size_t fanout_event_waiting(const struct fanout_event *e)
{
	return e->n_waiting;
}

size_t fanout_event_unfired(const struct fanout_event *e)
{
	return e->n_unfired;
}

/* ---- the fire ----------------------------------------------------------- */

static void fire_free(struct fire *fi)
{
	deferred_val_free(fi->v);
	free(fi);
}

/* Drops finished fires from the front, freeing their values. */
static void pop_done(struct fanout *f)
{
	while (f->first && list_empty(&f->first->waiters)) {
		struct fire *fi = f->first;
		f->first = fi->next;
		if (!f->first)
			f->last = NULL;
		fire_free(fi);
	}
}

/* Completes up to n queued waiters, oldest first. */
static void fire_some(struct fanout *f, size_t n)
{
	f->in_batch = true;
	for (size_t i = 0; i < n;) {
		pop_done(f);
		if (!f->first)
			break;
		struct fire *fi = f->first;
		struct waiter *w = list_entry(list_shift(&fi->waiters), struct waiter, link);
		struct deferred *d = w->d;
		struct fanout_event *e = w->ev;
		free(w);
		/* Each chain borrows the fire's value (see fanout.h); the fire
		 * stays at the front, so it outlives this call. */
		struct deferred_val view = fi->v.kind == DEFERRED_VAL_PTR
		                               ? deferred_val_ptr(fi->v.ptr, NULL)
		                               : deferred_val_none();
		event_drop_one(e, false);
		if (deferred_callback(d, view) < 0)
			deferred_cancel(d); /* cannot happen: waiters are unfired */
		deferred_unref(d);
		i++;
	}
	f->in_batch = false;
	pop_done(f);
}

/* The rate of the next batch: fire_rate_busy while foreground requests
 * arrive, else fire_rate (0: unpaced).  Every reply the fire sends, nginx
 * must relay before it gets to a request queued behind it. */
static unsigned rate_now(struct fanout *f, uint64_t now)
{
	const struct fanout_opts *o = &f->o;
	if (o->fire_rate_busy == 0 || (o->fire_rate != 0 && o->fire_rate <= o->fire_rate_busy))
		return o->fire_rate;
	uint64_t last = atomic_load_explicit(&f->fg_last_us, memory_order_relaxed);
	return last != 0 && last + o->fire_busy_us > now ? o->fire_rate_busy : o->fire_rate;
}

static void arm(struct fanout *f, uint64_t us)
{
	if (us == 0)
		us = 1; /* 0 would disarm it */
	struct itimerspec its = {
	    .it_value = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000}};
	/* Cannot fail with a valid timerfd and a time > 0.  If it did,
	 * nothing would wake the rest of the fire: better all of them now
	 * than none. */
	if (timerfd_settime(f->timer_fd, 0, &its, NULL) < 0) {
		log_error("msg=\"cannot arm the fire's timer, firing the rest "
		          "unpaced\" errno=%d waiting=%zu", errno, f->unfired);
		if (!f->in_batch)
			fire_some(f, SIZE_MAX);
	}
}

/* Fires the next batch: what the rate allowed since the last one, at most
 * fire_batch, so a late timer makes the next batch larger rather than the
 * whole fire slower (10,000 waiters at 25,000/s take ~0.4 s however coarse
 * the timer).  Fractions carry over, and the credit is capped at one
 * batch, so a loop that stalled does not catch up in a flood. */
static void batch(struct fanout *f, bool first)
{
	const struct fanout_opts *o = &f->o;
	uint64_t now = now_us(f);
	unsigned rate = rate_now(f, now);
	if (rate == 0) {
		f->credit = o->fire_batch;
	} else if (first) {
		/* One interval's worth, so a small fire completes at once and a
		 * slow rate starts slowly. */
		f->credit = (double)rate * o->fire_interval_us / 1e6;
		if (f->credit < 1)
			f->credit = 1;
	} else {
		f->credit += (double)(now - f->last_us) * rate / 1e6;
	}
	if (f->credit > o->fire_batch)
		f->credit = o->fire_batch;
	f->last_us = now;
	unsigned n = (unsigned)f->credit;
	f->credit -= n;
	fire_some(f, n);
	/* A timer, not event_active: an event activated from its own
	 * callback runs again in the same pass, before the loop polls; a
	 * timer waits for the next epoll_wait, so I/O and other requests get
	 * their turn between batches. */
	if (f->first) {
		uint64_t us = 0;
		if (rate) {
			/* Wake when the next waiter is due, not sooner. */
			double wait = (1 - f->credit) * 1e6 / rate;
			us = wait > o->fire_interval_us ? (uint64_t)wait : o->fire_interval_us;
		}
		arm(f, us);
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	uint64_t expirations;
	if (read(fd, &expirations, sizeof expirations) < 0)
		return; /* EAGAIN: disarmed or re-armed meanwhile */
	batch(arg, false);
}

long fanout_event_fire(struct fanout_event *e, struct deferred_val v)
{
	if (v.kind != DEFERRED_VAL_NONE && v.kind != DEFERRED_VAL_PTR)
		return -EINVAL;
	struct fanout *f = e->f;
	size_t n = e->n_waiting;
	f->fire_calls++;
	if (n == 0) {
		deferred_val_free(v);
		return 0;
	}
	struct fire *fi = calloc(1, sizeof *fi);
	if (!fi)
		return -ENOMEM;
	list_init(&fi->waiters);
	fi->v = v;
	list_splice(&fi->waiters, &e->waiting);
	e->n_waiting = 0;
	e->gen++;
	bool idle = f->first == NULL;
	if (f->last)
		f->last->next = fi;
	else
		f->first = fi;
	f->last = fi;
	/* A batch in progress (a callback firing again) must not free the
	 * value its caller borrows: the timer carries these. */
	if (idle && !f->in_batch)
		batch(f, true);
	else if (idle)
		arm(f, 1);
	return (long)n;
}

/* ---- named events ----------------------------------------------------- */

struct deferred *fanout_wait_named(struct fanout *f, const char *name, size_t len)
{
	struct fanout_event *e = named_find(f, name, len);
	if (!e) {
		if (!(e = fanout_event_new(f)))
			return NULL;
		char *copy = malloc(len ? len : 1);
		if (copy) {
			memcpy(copy, name, len);
			e->named = (struct nametab_entry){.name = copy, .len = len};
		}
		/* Named only once on the table, so that event_release of a
		 * failed one takes nothing off it. */
		if (!copy || nametab_insert(&f->names, &e->named) < 0) {
			free(copy);
			event_release(e);
			return NULL;
		}
		e->name = copy;
	}
	struct deferred *d = fanout_event_wait(e);
	if (!d && e->n_unfired == 0)
		event_release(e);
	return d;
}

long fanout_fire_named(struct fanout *f, const char *name, size_t len,
                       struct deferred_val v)
{
	struct fanout_event *e = named_find(f, name, len);
	if (!e || e->n_waiting == 0) {
		if (v.kind != DEFERRED_VAL_NONE && v.kind != DEFERRED_VAL_PTR)
			return -EINVAL;
		f->fire_calls++;
		deferred_val_free(v);
		return 0;
	}
	return fanout_event_fire(e, v);
}

size_t fanout_named_waiting(const struct fanout *f, const char *name, size_t len)
{
	struct fanout_event *e = named_find(f, name, len);
	return e ? e->n_waiting : 0;
}

size_t fanout_named_count(const struct fanout *f)
{
	return nametab_count(&f->names);
}

/* ---- the fanout ----------------------------------------------------------- */

void fanout_note_foreground(struct fanout *f)
{
	if (f->o.fire_rate_busy == 0)
		return;
	/* At most one store per millisecond: several threads share this
	 * cache line on every request.  A compare-and-swap, so that a thread
	 * preempted between its clock read and its store never moves the
	 * stamp back over a later one. */
	uint64_t now = now_us(f);
	uint64_t last = atomic_load_explicit(&f->fg_last_us, memory_order_relaxed);
	while (now >= last + 1000 &&
	       !atomic_compare_exchange_weak_explicit(&f->fg_last_us, &last, now,
	                                              memory_order_relaxed,
	                                              memory_order_relaxed))
		;
}

uint64_t fanout_fire_calls(const struct fanout *f)
{
	return f->fire_calls;
}

size_t fanout_unfired(const struct fanout *f)
{
	return f->unfired;
}

struct fanout *fanout_new(struct event_base *base, const struct fanout_opts *o)
{
	struct fanout *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->o = *o;
	list_init(&f->events);
	if (f->o.fire_batch == 0)
		f->o.fire_batch = 1;
	nametab_init(&f->names);
	f->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (f->timer_fd < 0) {
		free(f);
		return NULL;
	}
	f->timer_ev = event_new(base, f->timer_fd, EV_READ | EV_PERSIST, on_timer, f);
	if (!f->timer_ev || event_add(f->timer_ev, NULL) < 0) {
		if (f->timer_ev)
			event_free(f->timer_ev);
		close(f->timer_fd);
		free(f);
		errno = ENOMEM;
		return NULL;
	}
	return f;
}

void fanout_free(struct fanout *f)
{
	if (!f)
		return;
	while (!list_empty(&f->events))
		fanout_event_free(list_entry(f->events.next, struct fanout_event, all));
	pop_done(f);
	event_free(f->timer_ev);
	close(f->timer_fd);
	nametab_fini(&f->names);
	free(f);
}
