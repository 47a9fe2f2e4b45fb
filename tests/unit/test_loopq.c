/* Unit tests for list.h and loopq: the intrusive list's operations, and
 * nodes pushed from several threads reaching the loop thread, each once,
 * in each thread's order. */
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "list.h"
#include "loopq.h"

struct item {
	struct list link;
	int thread, seq;
};

static void list_operations(void **state)
{
	(void)state;
	struct list a, b;
	list_init(&a);
	list_init(&b);
	struct item it[5];
	assert_true(list_empty(&a));
	assert_null(list_shift(&a));
	for (int i = 0; i < 5; i++) {
		list_init(&it[i].link);
		assert_false(list_linked(&it[i].link));
		it[i].seq = i;
		list_push(i < 3 ? &a : &b, &it[i].link);
		assert_true(list_linked(&it[i].link));
	}
	list_remove(&it[1].link);
	assert_false(list_linked(&it[1].link));
	list_splice(&a, &b);
	assert_true(list_empty(&b));
	list_splice(&a, &b); /* an empty splice changes nothing */
	static const int want[] = {0, 2, 3, 4};
	for (size_t i = 0; i < 4; i++) {
		struct list *n = list_shift(&a);
		assert_non_null(n);
		assert_int_equal(list_entry(n, struct item, link)->seq, want[i]);
		assert_false(list_linked(n));
	}
	assert_true(list_empty(&a));
}

enum { THREADS = 4, PER_THREAD = 20000 };

struct run {
	struct loopq *q;
	struct event_base *base;
	struct item *items;
	int next_seq[THREADS]; /* loop thread: what each thread sent next */
	int received, wakeups;
	pthread_t loop_thread;
	bool order_ok, thread_ok;
};

static struct run run;

static void on_items(void *arg)
{
	struct run *r = arg;
	r->wakeups++;
	r->thread_ok &= pthread_equal(pthread_self(), r->loop_thread);
	struct list got;
	list_init(&got);
	loopq_take(r->q, &got);
	for (struct list *n; (n = list_shift(&got));) {
		struct item *it = list_entry(n, struct item, link);
		r->order_ok &= it->seq == r->next_seq[it->thread];
		r->next_seq[it->thread]++;
		r->received++;
	}
	if (r->received == THREADS * PER_THREAD)
		event_base_loopbreak(r->base);
}

static void *producer(void *arg)
{
	int t = (int)(intptr_t)arg;
	for (int i = 0; i < PER_THREAD; i++) {
		struct item *it = &run.items[t * PER_THREAD + i];
		it->thread = t;
		it->seq = i;
		loopq_push(run.q, &it->link);
	}
	return NULL;
}

static void loopq_delivers_every_node_once_in_order(void **state)
{
	(void)state;
	assert_int_equal(evthread_use_pthreads(), 0);
	run.base = event_base_new();
	run.q = loopq_new(run.base, on_items, &run);
	assert_non_null(run.q);
	run.items = calloc(THREADS * PER_THREAD, sizeof *run.items);
	run.loop_thread = pthread_self();
	run.order_ok = run.thread_ok = true;
	pthread_t th[THREADS];
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, producer, (void *)(intptr_t)t), 0);
	/* Bounded: the loop exits after 10 s if something is lost. */
	struct timeval tv = {10, 0};
	event_base_loopexit(run.base, &tv);
	event_base_dispatch(run.base);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	assert_int_equal(run.received, THREADS * PER_THREAD);
	assert_true(run.order_ok);
	assert_true(run.thread_ok);
	/* Wake-ups merge: far fewer callbacks than pushes is the point, but
	 * only "at least one, at most one per push" is certain. */
	assert_true(run.wakeups >= 1 && run.wakeups <= THREADS * PER_THREAD);
	struct list rest;
	list_init(&rest);
	assert_false(loopq_take(run.q, &rest));
	loopq_free(run.q);
	loopq_free(NULL);
	event_base_free(run.base);
	free(run.items);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(list_operations),
		cmocka_unit_test(loopq_delivers_every_node_once_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
