/*
 * Unit tests for pool (deferToThread), one behaviour per test, each with a
 * real event_base.  Workers that must stay busy block on a gate the test
 * opens, so every assertion follows from ordering, never from timing.  The
 * loop runs with EVLOOP_ONCE until a loop-thread counter reaches its target;
 * a 30 s safety timer turns a hang into a failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deferred.h"
#include "failure.h"
#include "pool.h"

struct fixture {
	struct event_base *base;
	struct event *safety;
	bool timed_out;
	struct pool *pool; /* freed by teardown unless a test did it */
};

static pthread_t loop_thread;
static unsigned unhandled_errors;

/* Lets workers run only when the test says so, and records how many ran at
 * once. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned started, running, max_running;
	bool open;
};

/* One job's argument.  runs and worker are written by the worker; the rest
 * is loop-thread only. */
struct work {
	struct gate *gate;          /* block here first; NULL: don't */
	const char *value;          /* returned as a static string */
	struct gate *open_on_free;  /* arg_free opens this gate */
	atomic_uint runs;
	pthread_t worker;
	unsigned arg_frees;
};

/* What the Deferred delivered.  Loop thread only. */
struct outcome {
	unsigned fired;
	bool failed;
	bool on_loop_thread;
	const void *ptr;
	char type[64];
	char msg[64];
	struct pool **free_pool; /* pool_free(*free_pool) from the callback */
};

static void gate_init(struct gate *g)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
}

static void gate_destroy(struct gate *g)
{
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
}

static void gate_wait_started(struct gate *g, unsigned n)
{
	pthread_mutex_lock(&g->mu);
	while (g->started < n)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static unsigned gate_max_running(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	unsigned n = g->max_running;
	pthread_mutex_unlock(&g->mu);
	return n;
}

/* Worker side. */
static void gate_pass(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->started++;
	if (++g->running > g->max_running)
		g->max_running = g->running;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	g->running--;
	pthread_mutex_unlock(&g->mu);
}

static struct deferred_val work_fn(void *arg)
{
	struct work *w = arg;
	w->worker = pthread_self();
	atomic_fetch_add(&w->runs, 1);
	if (w->gate)
		gate_pass(w->gate);
	return deferred_val_static(w->value ? w->value : "done");
}

static void work_arg_free(void *arg)
{
	struct work *w = arg;
	w->arg_frees++;
	if (w->open_on_free)
		gate_open(w->open_on_free);
}

static struct deferred_val record_cb(struct deferred_val result, void *arg)
{
	struct outcome *o = arg;
	o->fired++;
	o->on_loop_thread = pthread_equal(pthread_self(), loop_thread);
	o->failed = result.kind == DEFERRED_VAL_FAILURE;
	if (o->failed) {
		snprintf(o->type, sizeof(o->type), "%s",
		         failure_type(result.failure));
		snprintf(o->msg, sizeof(o->msg), "%s",
		         failure_message(result.failure));
	} else if (result.kind == DEFERRED_VAL_PTR) {
		o->ptr = result.ptr;
	}
	deferred_val_free(result);
	if (o->free_pool) {
		pool_free(*o->free_pool);
		*o->free_pool = NULL;
	}
	return deferred_val_none();
}

static void count_unhandled(const struct failure *f)
{
	(void)f;
	unhandled_errors++;
}

static void safety_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fixture *fx = arg;
	(void)fd;
	(void)what;
	fx->timed_out = true;
}

/* Runs the loop until *count (written on the loop thread) reaches n. */
static void run_until(struct fixture *fx, const unsigned *count, unsigned n)
{
	while (*count < n && !fx->timed_out)
		event_base_loop(fx->base, EVLOOP_ONCE);
	if (fx->timed_out)
		fail_msg("timed out waiting for the loop (%u of %u)", *count,
		         n);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	loop_thread = pthread_self();
	unhandled_errors = 0;
	deferred_set_unhandled_hook(count_unhandled);
	fx->base = event_base_new();
	if (!fx->base)
		return -1;
	/* Also gives EVLOOP_ONCE an added event to block on: with none it
	 * returns at once and run_until would spin. */
	fx->safety = evtimer_new(fx->base, safety_cb, fx);
	struct timeval tv = {30, 0};
	if (!fx->safety || evtimer_add(fx->safety, &tv) != 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	pool_free(fx->pool);
	event_free(fx->safety);
	int added = event_base_get_num_events(fx->base, EVENT_BASE_COUNT_ADDED);
	int active =
	    event_base_get_num_events(fx->base, EVENT_BASE_COUNT_ACTIVE);
	event_base_free(fx->base);
	deferred_set_unhandled_hook(NULL);
	unsigned unhandled = unhandled_errors;
	free(fx);
	assert_int_equal(added, 0);
	assert_int_equal(active, 0);
	assert_int_equal(unhandled, 0);
	return 0;
}

/* Submits w and attaches record_cb to both sides.  Drops the caller's
 * reference unless keep is set (then it is returned). */
static struct deferred *submit(struct pool *p, struct work *w,
                               struct outcome *o, bool keep)
{
	struct deferred *d = NULL;
	assert_int_equal(pool_defer_to_thread(p, work_fn, w, work_arg_free, &d),
	                 0);
	assert_non_null(d);
	assert_int_equal(deferred_add_both(d, record_cb, o, NULL), 0);
	if (keep)
		return d;
	deferred_unref(d);
	return NULL;
}

static void pool_new_rejects_zero_threads(void **state)
{
	struct fixture *fx = *state;
	errno = 0;
	assert_null(pool_new(fx->base, 0, 10));
	assert_int_equal(errno, EINVAL);
}

static void pool_reports_its_size(void **state)
{
	struct fixture *fx = *state;
	fx->pool = pool_new(fx->base, 3, 5);
	assert_non_null(fx->pool);
	assert_int_equal(pool_size(fx->pool), 3);
	assert_int_equal(pool_busy(fx->pool), 0);
	assert_int_equal(pool_queued(fx->pool), 0);
}

static void result_is_delivered_on_the_loop_thread_not_the_worker(void **state)
{
	struct fixture *fx = *state;
	fx->pool = pool_new(fx->base, 2, 10);
	assert_non_null(fx->pool);
	struct work w = {0};
	struct outcome o = {0};
	submit(fx->pool, &w, &o, false);

	run_until(fx, &o.fired, 1);
	assert_true(o.on_loop_thread);
	assert_int_equal(atomic_load(&w.runs), 1);
	assert_false(pthread_equal(w.worker, loop_thread));
}

static void worker_result_value_reaches_the_callback_exactly(void **state)
{
	struct fixture *fx = *state;
	static const char value[] = "the worker's own string";
	fx->pool = pool_new(fx->base, 1, 10);
	assert_non_null(fx->pool);
	struct work w = {.value = value};
	struct outcome o = {0};
	submit(fx->pool, &w, &o, false);

	run_until(fx, &o.fired, 1);
	assert_int_equal(o.fired, 1);
	assert_false(o.failed);
	assert_ptr_equal(o.ptr, value);
	assert_int_equal(w.arg_frees, 1);
}

static struct deferred_val failing_fn(void *arg)
{
	(void)arg;
	return deferred_val_failure(failure_new("ValueError", "bad input %d", 7));
}

static void worker_failure_reaches_the_errback(void **state)
{
	struct fixture *fx = *state;
	fx->pool = pool_new(fx->base, 1, 10);
	assert_non_null(fx->pool);
	struct outcome o = {0};
	struct deferred *d = NULL;
	assert_int_equal(pool_defer_to_thread(fx->pool, failing_fn, NULL, NULL,
	                                      &d),
	                 0);
	assert_int_equal(deferred_add_both(d, record_cb, &o, NULL), 0);
	deferred_unref(d);

	run_until(fx, &o.fired, 1);
	assert_true(o.failed);
	assert_string_equal(o.type, "ValueError");
	assert_string_equal(o.msg, "bad input 7");
}

static void pool_of_two_runs_at_most_two_jobs_at_once(void **state)
{
	struct fixture *fx = *state;
	fx->pool = pool_new(fx->base, 2, 10);
	assert_non_null(fx->pool);
	struct gate g;
	gate_init(&g);
	struct work w[4] = {{.gate = &g}, {.gate = &g}, {.gate = &g},
	                    {.gate = &g}};
	struct outcome o = {0};
	for (int i = 0; i < 4; i++)
		submit(fx->pool, &w[i], &o, false);

	gate_wait_started(&g, 2);
	assert_int_equal(pool_busy(fx->pool), 2);
	assert_int_equal(pool_queued(fx->pool), 2);
	gate_open(&g);
	run_until(fx, &o.fired, 4);

	assert_int_equal(gate_max_running(&g), 2);
	assert_int_equal(pool_busy(fx->pool), 0);
	assert_int_equal(pool_queued(fx->pool), 0);
	gate_destroy(&g);
}

static void full_queue_returns_eagain_and_keeps_the_job_out(void **state)
{
	struct fixture *fx = *state;
	fx->pool = pool_new(fx->base, 1, 1);
	assert_non_null(fx->pool);
	struct gate g;
	gate_init(&g);
	struct work running = {.gate = &g}, waiting = {0}, refused = {0};
	struct outcome o = {0};
	submit(fx->pool, &running, &o, false);
	submit(fx->pool, &waiting, &o, false);

	struct deferred *d = NULL;
	assert_int_equal(pool_defer_to_thread(fx->pool, work_fn, &refused,
	                                      work_arg_free, &d),
	                 -EAGAIN);
	assert_null(d);
	gate_open(&g);
	run_until(fx, &o.fired, 2);

	assert_int_equal(atomic_load(&refused.runs), 0);
	assert_int_equal(refused.arg_frees, 0);
	assert_int_equal(atomic_load(&waiting.runs), 1);
	gate_destroy(&g);
}

static void zero_max_queue_accepts_a_job_only_while_a_worker_is_idle(
    void **state)
{
	struct fixture *fx = *state;
	fx->pool = pool_new(fx->base, 2, 0);
	assert_non_null(fx->pool);
	struct gate g;
	gate_init(&g);
	struct work busy1 = {.gate = &g}, busy2 = {.gate = &g}, refused = {0},
	            later = {0};
	struct outcome o = {0};
	submit(fx->pool, &busy1, &o, false);
	submit(fx->pool, &busy2, &o, false);

	struct deferred *d = NULL;
	assert_int_equal(pool_defer_to_thread(fx->pool, work_fn, &refused,
	                                      work_arg_free, &d),
	                 -EAGAIN);
	gate_open(&g);
	run_until(fx, &o.fired, 2);
	/* A delivered result means its worker is free again. */
	submit(fx->pool, &later, &o, false);
	run_until(fx, &o.fired, 3);

	assert_int_equal(atomic_load(&refused.runs), 0);
	assert_int_equal(refused.arg_frees, 0);
	assert_int_equal(atomic_load(&later.runs), 1);
	gate_destroy(&g);
}

static void cancelling_a_queued_job_skips_fn_and_frees_arg_once(void **state)
{
	struct fixture *fx = *state;
	fx->pool = pool_new(fx->base, 1, 4);
	assert_non_null(fx->pool);
	struct gate g;
	gate_init(&g);
	struct work running = {.gate = &g}, queued = {0};
	struct outcome ro = {0}, qo = {0};
	submit(fx->pool, &running, &ro, false);
	struct deferred *d = submit(fx->pool, &queued, &qo, true);
	gate_wait_started(&g, 1);
	assert_int_equal(pool_queued(fx->pool), 1);

	deferred_cancel(d);
	assert_int_equal(qo.fired, 1);
	assert_true(qo.failed);
	assert_string_equal(qo.type, FAILURE_CANCELLED);
	assert_int_equal(queued.arg_frees, 1);
	assert_int_equal(pool_queued(fx->pool), 0);
	deferred_unref(d);

	gate_open(&g);
	run_until(fx, &ro.fired, 1);
	pool_free(fx->pool);
	fx->pool = NULL;
	assert_int_equal(atomic_load(&queued.runs), 0);
	assert_int_equal(queued.arg_frees, 1);
	assert_int_equal(qo.fired, 1);
	gate_destroy(&g);
}

/* A heap result whose free is counted, to prove a dropped result is freed
 * exactly once. */
static unsigned late_frees;

static void late_free(void *ptr)
{
	late_frees++;
	free(ptr);
}

static struct deferred_val late_fn(void *arg)
{
	struct work *w = arg;
	atomic_fetch_add(&w->runs, 1);
	gate_pass(w->gate);
	return deferred_val_ptr(malloc(32), late_free);
}

static void cancelling_a_running_job_errbacks_at_once_and_frees_late_result(
    void **state)
{
	struct fixture *fx = *state;
	fx->pool = pool_new(fx->base, 1, 4);
	assert_non_null(fx->pool);
	struct gate g;
	gate_init(&g);
	struct work w = {.gate = &g};
	struct outcome o = {0};
	struct deferred *d = NULL;
	late_frees = 0;
	assert_int_equal(
	    pool_defer_to_thread(fx->pool, late_fn, &w, work_arg_free, &d), 0);
	assert_int_equal(deferred_add_both(d, record_cb, &o, NULL), 0);
	gate_wait_started(&g, 1);

	deferred_cancel(d);
	assert_int_equal(o.fired, 1);
	assert_string_equal(o.type, FAILURE_CANCELLED);
	/* The job's own reference must keep the Deferred alive until the
	 * late result arrives. */
	deferred_unref(d);

	gate_open(&g);
	run_until(fx, &w.arg_frees, 1);
	assert_int_equal(late_frees, 1);
	assert_int_equal(o.fired, 1);
	gate_destroy(&g);
}

static void cancelling_a_finished_undelivered_job_drops_its_result(
    void **state)
{
	struct fixture *fx = *state;
	fx->pool = pool_new(fx->base, 1, 4);
	assert_non_null(fx->pool);
	struct gate g;
	gate_init(&g);
	gate_open(&g);
	struct work w = {.gate = &g};
	struct outcome o = {0};
	struct deferred *d = NULL;
	late_frees = 0;
	assert_int_equal(
	    pool_defer_to_thread(fx->pool, late_fn, &w, work_arg_free, &d), 0);
	assert_int_equal(deferred_add_both(d, record_cb, &o, NULL), 0);
	/* The loop has not run, so the result is at best waiting in the done
	 * list. */
	gate_wait_started(&g, 1);
	while (pool_busy(fx->pool) != 0 || pool_queued(fx->pool) != 0)
		sched_yield();

	deferred_cancel(d);
	assert_int_equal(o.fired, 1);
	assert_string_equal(o.type, FAILURE_CANCELLED);
	deferred_unref(d);
	run_until(fx, &w.arg_frees, 1);
	assert_int_equal(late_frees, 1);
	gate_destroy(&g);
}

static void dropping_the_callers_reference_while_running_still_delivers(
    void **state)
{
	struct fixture *fx = *state;
	fx->pool = pool_new(fx->base, 1, 4);
	assert_non_null(fx->pool);
	struct gate g;
	gate_init(&g);
	struct work w = {.gate = &g, .value = "still here"};
	struct outcome o = {0};
	submit(fx->pool, &w, &o, false);
	gate_wait_started(&g, 1);

	gate_open(&g);
	run_until(fx, &o.fired, 1);
	assert_false(o.failed);
	assert_string_equal(o.ptr, "still here");
	gate_destroy(&g);
}

static void pool_stop_cancels_queued_jobs_then_refuses_new_ones(void **state)
{
	struct fixture *fx = *state;
	fx->pool = pool_new(fx->base, 1, 4);
	assert_non_null(fx->pool);
	struct gate g;
	gate_init(&g);
	struct work running = {.gate = &g}, q1 = {0}, q2 = {0}, refused = {0};
	struct outcome ro = {0}, qo = {0};
	submit(fx->pool, &running, &ro, false);
	submit(fx->pool, &q1, &qo, false);
	submit(fx->pool, &q2, &qo, false);
	gate_wait_started(&g, 1);

	pool_stop(fx->pool);
	assert_int_equal(qo.fired, 2);
	assert_true(qo.failed);
	assert_string_equal(qo.type, FAILURE_CANCELLED);
	assert_int_equal(q1.arg_frees, 1);
	assert_int_equal(q2.arg_frees, 1);
	assert_int_equal(pool_queued(fx->pool), 0);
	assert_int_equal(pool_busy(fx->pool), 1);

	struct deferred *d = NULL;
	assert_int_equal(pool_defer_to_thread(fx->pool, work_fn, &refused,
	                                      work_arg_free, &d),
	                 -ESHUTDOWN);
	assert_null(d);
	assert_int_equal(refused.arg_frees, 0);

	/* Running jobs go on after a stop. */
	gate_open(&g);
	run_until(fx, &ro.fired, 1);
	assert_false(ro.failed);
	assert_int_equal(atomic_load(&q1.runs) + atomic_load(&q2.runs), 0);
	assert_int_equal(atomic_load(&refused.runs), 0);
	gate_destroy(&g);
}

static void pool_free_waits_for_a_running_job_and_delivers_it(void **state)
{
	struct fixture *fx = *state;
	fx->pool = pool_new(fx->base, 1, 1);
	assert_non_null(fx->pool);
	struct gate g;
	gate_init(&g);
	/* The running job stays blocked until pool_free itself frees the
	 * queued job's arg, so it is still running when pool_free starts
	 * waiting. */
	struct work running = {.gate = &g}, queued = {.open_on_free = &g};
	struct outcome ro = {0}, qo = {0};
	submit(fx->pool, &running, &ro, false);
	submit(fx->pool, &queued, &qo, false);
	gate_wait_started(&g, 1);
	assert_int_equal(ro.fired, 0);

	pool_free(fx->pool);
	fx->pool = NULL;
	assert_int_equal(ro.fired, 1);
	assert_false(ro.failed);
	assert_true(ro.on_loop_thread);
	assert_int_equal(running.arg_frees, 1);
	assert_int_equal(qo.fired, 1);
	assert_string_equal(qo.type, FAILURE_CANCELLED);
	gate_destroy(&g);
}

static void pool_free_from_inside_a_result_callback_is_safe(void **state)
{
	struct fixture *fx = *state;
	fx->pool = pool_new(fx->base, 1, 2);
	assert_non_null(fx->pool);
	struct gate first, second;
	gate_init(&first);
	gate_init(&second);
	/* `first` finishes and its callback frees the pool while `second` is
	 * running and `queued` waits; cancelling `queued` lets `second` end. */
	struct work w1 = {.gate = &first}, w2 = {.gate = &second},
	            queued = {.open_on_free = &second};
	struct outcome o1 = {.free_pool = &fx->pool}, o2 = {0}, qo = {0};
	submit(fx->pool, &w1, &o1, false);
	submit(fx->pool, &w2, &o2, false);
	submit(fx->pool, &queued, &qo, false);
	gate_open(&first);
	gate_wait_started(&second, 1);

	run_until(fx, &o1.fired, 1);
	assert_null(fx->pool);
	assert_false(o1.failed);
	assert_int_equal(w1.arg_frees, 1);
	assert_int_equal(o2.fired, 1);
	assert_false(o2.failed);
	assert_int_equal(w2.arg_frees, 1);
	assert_int_equal(qo.fired, 1);
	assert_string_equal(qo.type, FAILURE_CANCELLED);
	assert_int_equal(queued.arg_frees, 1);
	assert_int_equal(atomic_load(&queued.runs), 0);
	gate_destroy(&first);
	gate_destroy(&second);
}

static void results_are_delivered_in_completion_order(void **state)
{
	struct fixture *fx = *state;
	enum { N = 16 };
	/* One worker completes jobs in submission order. */
	fx->pool = pool_new(fx->base, 1, N);
	assert_non_null(fx->pool);
	static const char *const names[N] = {
	    "0", "1", "2",  "3",  "4",  "5",  "6",  "7",
	    "8", "9", "10", "11", "12", "13", "14", "15"};
	struct work w[N];
	struct outcome o[N];
	memset(w, 0, sizeof(w));
	memset(o, 0, sizeof(o));
	for (int i = 0; i < N; i++) {
		w[i].value = names[i];
		submit(fx->pool, &w[i], &o[i], false);
	}
	run_until(fx, &o[N - 1].fired, 1);
	for (int i = 0; i < N; i++) {
		assert_int_equal(o[i].fired, 1);
		assert_string_equal(o[i].ptr, names[i]);
	}
}

static const int checked_signals[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGPIPE,
                                      SIGALRM, SIGTERM, SIGUSR1, SIGUSR2,
                                      SIGCHLD, SIGWINCH};

static struct deferred_val mask_fn(void *arg)
{
	(void)arg;
	sigset_t cur;
	if (pthread_sigmask(SIG_BLOCK, NULL, &cur) != 0)
		return deferred_val_static("sigmask failed");
	for (size_t i = 0; i < sizeof(checked_signals) / sizeof(int); i++)
		if (sigismember(&cur, checked_signals[i]) != 1)
			return deferred_val_static("unblocked");
	return deferred_val_static("blocked");
}

static void worker_threads_run_with_signals_blocked(void **state)
{
	struct fixture *fx = *state;
	sigset_t before, after;
	assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &before), 0);
	fx->pool = pool_new(fx->base, 2, 4);
	assert_non_null(fx->pool);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &after), 0);
	/* The creating thread's mask is restored. */
	for (size_t i = 0; i < sizeof(checked_signals) / sizeof(int); i++)
		assert_int_equal(sigismember(&after, checked_signals[i]),
		                 sigismember(&before, checked_signals[i]));

	struct outcome o = {0};
	struct deferred *d = NULL;
	assert_int_equal(
	    pool_defer_to_thread(fx->pool, mask_fn, NULL, NULL, &d), 0);
	assert_int_equal(deferred_add_both(d, record_cb, &o, NULL), 0);
	deferred_unref(d);
	run_until(fx, &o.fired, 1);
	assert_string_equal(o.ptr, "blocked");
}

enum { MANY = 10000 };

struct slot {
	atomic_uint runs;
	unsigned delivered;
};

static unsigned many_delivered;

static struct deferred_val slot_fn(void *arg)
{
	struct slot *s = arg;
	atomic_fetch_add(&s->runs, 1);
	return deferred_val_ptr(s, NULL);
}

static struct deferred_val slot_cb(struct deferred_val result, void *arg)
{
	(void)arg;
	struct slot *s = result.ptr;
	s->delivered++;
	many_delivered++;
	return deferred_val_none();
}

static void ten_thousand_jobs_each_run_and_deliver_exactly_once(void **state)
{
	struct fixture *fx = *state;
	fx->pool = pool_new(fx->base, 4, MANY);
	assert_non_null(fx->pool);
	struct slot *slots = calloc(MANY, sizeof(*slots));
	assert_non_null(slots);
	many_delivered = 0;
	for (int i = 0; i < MANY; i++) {
		struct deferred *d = NULL;
		assert_int_equal(pool_defer_to_thread(fx->pool, slot_fn,
		                                      &slots[i], NULL, &d),
		                 0);
		assert_int_equal(deferred_add_callback(d, slot_cb, NULL, NULL),
		                 0);
		deferred_unref(d);
	}
	run_until(fx, &many_delivered, MANY);
	for (int i = 0; i < MANY; i++) {
		assert_int_equal(atomic_load(&slots[i].runs), 1);
		assert_int_equal(slots[i].delivered, 1);
	}
	assert_int_equal(pool_busy(fx->pool), 0);
	assert_int_equal(pool_queued(fx->pool), 0);
	free(slots);
}

static void pool_free_accepts_null(void **state)
{
	(void)state;
	pool_free(NULL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	/* Workers call event_active on the loop's base; libevent needs its
	 * locking set up before the base exists. */
	if (evthread_use_pthreads() != 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    T(pool_new_rejects_zero_threads),
	    T(pool_reports_its_size),
	    T(result_is_delivered_on_the_loop_thread_not_the_worker),
	    T(worker_result_value_reaches_the_callback_exactly),
	    T(worker_failure_reaches_the_errback),
	    T(pool_of_two_runs_at_most_two_jobs_at_once),
	    T(full_queue_returns_eagain_and_keeps_the_job_out),
	    T(zero_max_queue_accepts_a_job_only_while_a_worker_is_idle),
	    T(cancelling_a_queued_job_skips_fn_and_frees_arg_once),
	    T(cancelling_a_running_job_errbacks_at_once_and_frees_late_result),
	    T(cancelling_a_finished_undelivered_job_drops_its_result),
	    T(dropping_the_callers_reference_while_running_still_delivers),
	    T(pool_stop_cancels_queued_jobs_then_refuses_new_ones),
	    T(pool_free_waits_for_a_running_job_and_delivers_it),
	    T(pool_free_from_inside_a_result_callback_is_safe),
	    T(results_are_delivered_in_completion_order),
	    T(worker_threads_run_with_signals_blocked),
	    T(ten_thousand_jobs_each_run_and_deliver_exactly_once),
	    T(pool_free_accepts_null),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	libevent_global_shutdown();
	return failed;
}
