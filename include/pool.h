/*
 * pool: a bounded pool of worker threads and Twisted's deferToThread.
 *
 * Workers run only the blocking function; its result is handed back to the
 * loop thread through one locked queue and one event_active wake-up, and the
 * job's Deferred is fired there.  Workers never touch libevent state other
 * than that one event_active, never touch a Deferred, and run with every
 * signal blocked (so a blocking sleep() is not cut short by EINTR).
 *
 * Threads: every function here except the work function runs on the loop
 * thread (the thread that runs `base`).
 */
#ifndef FCGI_APP_POOL_H
#define FCGI_APP_POOL_H

#include <stddef.h>

#include "deferred.h"

struct pool;
struct event_base;

/* Runs on a worker thread.  Returns the job's result: a value
 * (DEFERRED_VAL_PTR / NONE) or a failure.  Must not return a Deferred. */
typedef struct deferred_val (*pool_work_fn)(void *arg);

/* Twisted's reactor pool has 10 threads. */
#define POOL_DEFAULT_THREADS 10
#define POOL_DEFAULT_QUEUE 1000

/* Starts `nthreads` workers (>= 1) with room for `max_queue` jobs waiting
 * (0 means none may wait: a job is taken only while a worker is idle).
 * NULL on error (errno set). */
struct pool *pool_new(struct event_base *base, unsigned nthreads,
                      unsigned max_queue);

/* deferToThread: queues fn(arg) and stores a new Deferred in *out (one
 * reference, the caller's).  The Deferred fires on the loop thread with the
 * function's result.  Cancelling it before a worker took the job removes
 * the job (fn never runs); cancelling it later errbacks at once with
 * FAILURE_CANCELLED and the late result is freed when it arrives.
 * arg_free(arg) (may be NULL) runs on the loop thread once the job is done
 * or dropped.
 * Returns 0, -EAGAIN when the queue is full, -ESHUTDOWN after pool_stop,
 * -ENOMEM.  On error fn never runs and the caller still owns arg. */
int pool_defer_to_thread(struct pool *p, pool_work_fn fn, void *arg,
                         void (*arg_free)(void *), struct deferred **out);

/* Jobs running on a worker / waiting in the queue right now. */
unsigned pool_busy(const struct pool *p);
unsigned pool_queued(const struct pool *p);
unsigned pool_size(const struct pool *p);

/* Refuses new jobs and cancels the queued ones (their Deferreds errback
 * with FAILURE_CANCELLED).  Running jobs go on. */
void pool_stop(struct pool *p);

/* Stops, waits for running jobs to end, joins the workers, frees the pool.
 * Results of jobs that finish meanwhile are delivered (their Deferreds
 * fire) before it returns.  Accepts NULL. */
void pool_free(struct pool *p);

#endif
