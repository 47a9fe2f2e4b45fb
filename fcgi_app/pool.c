/*
 * pool: fixed worker threads behind deferToThread (see pool.h).
 *
 * A job travels: loop thread (pool_defer_to_thread) -> run queue (mu, cv)
 * -> one worker runs fn -> `done` (a loopq) -> loop thread fires the job's
 * Deferred.  mu and the loopq's lock are never held together, so a worker
 * publishing a result can never deadlock against the loop submitting or
 * cancelling (libuv's threadpool note).  Workers touch nothing but the
 * job, the run queue, the counters and the loopq; because the loopq wakes
 * the loop from other threads, the base must have been created after
 * evthread_use_pthreads() (main does it first).
 *
 * Lifetimes:
 * - A job is one allocation owned by whichever list holds it (run queue,
 *   a worker, done list, or a local list in pool_stop) and is freed on the
 *   loop thread once its Deferred has fired.  It holds its own reference to
 *   the Deferred, so the caller may drop theirs at any time.
 * - The job is also the Deferred's canceller argument.  deferred.c calls a
 *   canceller only while the Deferred is unfired, so "fire before free" is
 *   the invariant that keeps that pointer valid; job_fire falls back to
 *   deferred_cancel whenever a normal fire fails.
 * - Users' code (Deferred callbacks, arg_free) may call back into the pool,
 *   even pool_free.  `depth` counts pool frames that are calling out; a
 *   pool_free inside one only stops and joins, and the outermost frame
 *   frees the pool when it leaves (hiredis's REDIS_IN_CALLBACK idea, STYLE
 *   habit 8).
 */
#include "pool.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "failure.h"
#include "list.h"
#include "loopq.h"

enum job_state {
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_DONE,      /* fn returned; result is set */
	JOB_CANCELLED, /* dropped before a worker took it; fn never ran */
};

struct job {
	/* On the run queue, then on `done` (or a local list in pool_stop). */
	struct list link;
	struct pool *pool;
	pool_work_fn fn;
	void *arg;
	void (*arg_free)(void *);
	struct deferred *d; /* the job's own reference */
	struct deferred_val result;
	enum job_state state; /* under pool->mu while queued or running */
};

struct pool {
	struct loopq *done; /* finished or dropped jobs, to the loop */
	pthread_t *threads;
	unsigned nthreads;
	unsigned max_queue;

	pthread_mutex_t mu; /* run queue, job states, stopping */
	pthread_cond_t cv;
	struct list queue; /* jobs waiting for a worker */
	/* Written under mu; atomic so the getters need no lock on a const
	 * pool. */
	atomic_uint nqueued;
	atomic_uint running;
	/* Written only by the loop thread (under mu); read by workers under mu
	 * and by the loop without it. */
	bool stopping;

	/* Loop thread only. */
	unsigned depth;    /* pool frames currently calling user code */
	bool joined;       /* workers have been joined */
	bool free_pending; /* pool_free was called; free when depth hits 0 */
	bool freeing;      /* pool_destroy is running */
};

static void pool_destroy(struct pool *p);

static void pool_enter(struct pool *p)
{
	p->depth++;
}

/* Leaves a calling-out frame; frees the pool if a nested pool_free asked for
 * it and this was the outermost frame.  The caller must not touch `p`
 * afterwards unless it holds another frame. */
static void pool_leave(struct pool *p)
{
	if (--p->depth == 0 && p->free_pending && !p->freeing)
		pool_destroy(p);
}

/* Under mu. */
static void queue_unlink(struct pool *p, struct job *job)
{
	list_remove(&job->link);
	atomic_fetch_sub(&p->nqueued, 1);
}

static void *worker_main(void *arg)
{
	struct pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (list_empty(&p->queue) && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		/* pool_stop empties the queue in the same critical section that
		 * sets stopping, so there is nothing left to run. */
		if (p->stopping)
			break;
		struct job *job = list_entry(p->queue.next, struct job, link);
		queue_unlink(p, job);
		atomic_fetch_add(&p->running, 1);
		job->state = JOB_RUNNING;
		pthread_mutex_unlock(&p->mu);

		job->result = job->fn(job->arg);

		pthread_mutex_lock(&p->mu);
		/* Before the hand-off, so by the time the loop sees the result
		 * this worker already counts as idle for admission. */
		atomic_fetch_sub(&p->running, 1);
		job->state = JOB_DONE;
		pthread_mutex_unlock(&p->mu);
		loopq_push(p->done, &job->link);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Fires the job's Deferred with the worker's result, taking the result.
 * Whatever happens, the Deferred has fired when this returns (see the
 * lifetime note at the top). */
static void job_fire(struct job *job)
{
	struct deferred_val v = job->result;
	job->result = deferred_val_none();

	if (v.kind == DEFERRED_VAL_DEFERRED) {
		/* Breaks pool.h's contract; deferred_callback would refuse it
		 * and leave the Deferred unfired, so report it instead. */
		deferred_val_free(v);
		struct failure *f = failure_new(
		    "TypeError", "deferToThread function returned a Deferred");
		if (!f) {
			deferred_cancel(job->d);
			return;
		}
		v = deferred_val_failure(f);
	}
	/* After a cancel this is swallowed (0, Twisted's
	 * _suppressAlreadyCalled) or refused (-EALREADY): either way the late
	 * result is dropped.  On -EALREADY and on any other error the value is
	 * still ours. */
	if (deferred_callback(job->d, v) != 0) {
		deferred_val_free(v);
		deferred_cancel(job->d); /* no-op when already fired */
	}
}

/* Loop thread.  Fires (unless dropped), frees arg and the job. */
static void job_deliver(struct job *job)
{
	if (job->state == JOB_DONE) {
		job_fire(job);
		/* After firing: a result may borrow from arg, and the callbacks
		 * that take it ran synchronously. */
		if (job->arg_free)
			job->arg_free(job->arg);
	}
	deferred_unref(job->d);
	free(job);
}

/* Loop thread; the caller holds a frame. */
static void deliver_list(struct list *jobs)
{
	for (struct list *n; (n = list_shift(jobs));)
		job_deliver(list_entry(n, struct job, link));
}

static void done_cb(void *arg)
{
	struct pool *p = arg;
	/* One take per wake-up, so a busy pool cannot starve the loop;
	 * anything pushed meanwhile woke it again. */
	struct list jobs;
	list_init(&jobs);
	loopq_take(p->done, &jobs);
	pool_enter(p);
	deliver_list(&jobs);
	pool_leave(p);
}

/* The Deferred's canceller.  Runs on the loop thread inside
 * deferred_cancel, which errbacks with CancelledError after it returns. */
static void job_cancel(struct deferred *d, void *arg)
{
	struct job *job = arg;
	struct pool *p = job->pool;
	(void)d;

	pthread_mutex_lock(&p->mu);
	bool queued = job->state == JOB_QUEUED;
	if (queued) {
		queue_unlink(p, job);
		job->state = JOB_CANCELLED;
	}
	pthread_mutex_unlock(&p->mu);
	/* A running job cannot be stopped (Twisted's deferToThread has no
	 * canceller at all): the Deferred errbacks now and job_fire drops the
	 * late result. */
	if (!queued)
		return;

	void *a = job->arg;
	void (*a_free)(void *) = job->arg_free;
	/* The job's Deferred reference must not be dropped here, inside that
	 * Deferred's own cancel; the loop drops it on a later turn.  The
	 * job belongs to `done` from now on. */
	loopq_push(p->done, &job->link);
	if (a_free) {
		pool_enter(p);
		a_free(a);
		pool_leave(p);
	}
}

int pool_defer_to_thread(struct pool *p, pool_work_fn fn, void *arg,
                         void (*arg_free)(void *), struct deferred **out)
{
	if (!p || !fn || !out)
		return -EINVAL;
	if (p->stopping)
		return -ESHUTDOWN;

	/* Admission counts every job whose fn has not returned yet, so that
	 * "a job taken by an idle worker does not wait" holds even before the
	 * worker has woken up.  Only this (loop) thread adds jobs and workers
	 * only retire them, so room found here is still there after the
	 * allocations below. */
	pthread_mutex_lock(&p->mu);
	uint64_t inflight = (uint64_t)atomic_load(&p->nqueued) +
	                    atomic_load(&p->running);
	pthread_mutex_unlock(&p->mu);
	if (inflight >= (uint64_t)p->nthreads + p->max_queue)
		return -EAGAIN;

	struct job *job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->d = deferred_new(job_cancel, job);
	if (!job->d) {
		free(job);
		return -ENOMEM;
	}
	deferred_ref(job->d); /* the job's; the first one is the caller's */
	job->pool = p;
	job->fn = fn;
	job->arg = arg;
	job->arg_free = arg_free;
	job->result = deferred_val_none();
	job->state = JOB_QUEUED;

	pthread_mutex_lock(&p->mu);
	list_push(&p->queue, &job->link);
	atomic_fetch_add(&p->nqueued, 1);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);

	*out = job->d;
	return 0;
}

unsigned pool_busy(const struct pool *p)
{
	return atomic_load(&p->running);
}

unsigned pool_queued(const struct pool *p)
{
	return atomic_load(&p->nqueued);
}

unsigned pool_size(const struct pool *p)
{
	return p->nthreads;
}

void pool_stop(struct pool *p)
{
	if (!p)
		return;

	struct list jobs;
	list_init(&jobs);
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	list_splice(&jobs, &p->queue);
	for (struct list *n = jobs.next; n != &jobs; n = n->next)
		list_entry(n, struct job, link)->state = JOB_CANCELLED;
	atomic_store(&p->nqueued, 0);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);

	/* The spliced jobs are reachable only from `jobs`, so user code run
	 * below (which may even pool_free) cannot free them under us. */
	pool_enter(p);
	for (struct list *n; (n = list_shift(&jobs));) {
		struct job *job = list_entry(n, struct job, link);
		if (job->arg_free)
			job->arg_free(job->arg);
		/* The canceller sees JOB_CANCELLED and leaves the errback to
		 * deferred_cancel. */
		deferred_cancel(job->d);
		deferred_unref(job->d);
		free(job);
	}
	pool_leave(p);
}

static void pool_join(struct pool *p)
{
	if (p->joined)
		return;
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	p->joined = true;
}

/* Delivers everything left, then frees.  Workers are joined, so the done
 * list only shrinks, except for what user callbacks add via cancels. */
static void pool_destroy(struct pool *p)
{
	p->freeing = true;
	pool_enter(p);
	struct list jobs;
	list_init(&jobs);
	while (loopq_take(p->done, &jobs))
		deliver_list(&jobs);
	loopq_free(p->done);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p);
}

void pool_free(struct pool *p)
{
	if (!p || p->freeing)
		return;
	p->free_pending = true;
	/* Our own frame, so pool_stop's callbacks cannot destroy the pool
	 * before we have joined. */
	pool_enter(p);
	pool_stop(p);
	pool_join(p);
	if (--p->depth == 0)
		pool_destroy(p);
	/* Otherwise we are nested in a pool frame that calls user code; that
	 * frame destroys the pool as it leaves, delivering what is left. */
}

struct pool *pool_new(struct event_base *base, unsigned nthreads,
                      unsigned max_queue)
{
	if (!base || nthreads == 0) {
		errno = EINVAL;
		return NULL;
	}
	struct pool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->max_queue = max_queue;
	list_init(&p->queue);
	atomic_init(&p->nqueued, 0);
	atomic_init(&p->running, 0);

	int err = ENOMEM;
	p->threads = calloc(nthreads, sizeof(*p->threads));
	if (!p->threads)
		goto fail_alloc;
	p->done = loopq_new(base, done_cb, p);
	if (!p->done)
		goto fail_alloc;
	if ((err = pthread_mutex_init(&p->mu, NULL)) != 0)
		goto fail_alloc;
	if ((err = pthread_cond_init(&p->cv, NULL)) != 0)
		goto fail_mu;

	/* Threads inherit the creator's mask: block everything so signals go
	 * to the loop thread (evsignal) and a worker's blocking call is never
	 * cut short by EINTR. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; p->nthreads < nthreads; p->nthreads++) {
		err = pthread_create(&p->threads[p->nthreads], NULL,
		                     worker_main, p);
		if (err != 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0)
		goto fail_threads;
	return p;

fail_threads:
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pool_join(p);
	pthread_cond_destroy(&p->cv);
fail_mu:
	pthread_mutex_destroy(&p->mu);
fail_alloc:
	loopq_free(p->done);
	free(p->threads);
	free(p);
	errno = err;
	return NULL;
}
