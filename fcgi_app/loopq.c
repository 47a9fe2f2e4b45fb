/* loopq: any thread -> the loop thread (see loopq.h). */
#include "loopq.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>

struct loopq {
	pthread_mutex_t mu;
	struct list items;  /* under mu */
	struct event *wake; /* never event_add'ed: only activated */
	void (*fn)(void *);
	void *arg;
};

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct loopq *q = arg;
	(void)fd;
	(void)what;
	q->fn(q->arg);
}

struct loopq *loopq_new(struct event_base *base, void (*fn)(void *arg), void *arg)
{
	struct loopq *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	list_init(&q->items);
	q->fn = fn;
	q->arg = arg;
	if (pthread_mutex_init(&q->mu, NULL) != 0) {
		free(q);
		return NULL;
	}
	q->wake = event_new(base, -1, 0, on_wake, q);
	if (!q->wake) {
		pthread_mutex_destroy(&q->mu);
		free(q);
		return NULL;
	}
	return q;
}

void loopq_push(struct loopq *q, struct list *node)
{
	pthread_mutex_lock(&q->mu);
	list_push(&q->items, node);
	pthread_mutex_unlock(&q->mu);
	/* Outside mu: event_active takes the base's lock. */
	event_active(q->wake, EV_READ, 0);
}

bool loopq_take(struct loopq *q, struct list *out)
{
	pthread_mutex_lock(&q->mu);
	bool any = !list_empty(&q->items);
	list_splice(out, &q->items);
	pthread_mutex_unlock(&q->mu);
	return any;
}

void loopq_free(struct loopq *q)
{
	if (!q)
		return;
	event_free(q->wake);
	pthread_mutex_destroy(&q->mu);
	free(q);
}
