/*
 * loopq: hands nodes from any thread to the event loop's thread.
 *
 * A locked list plus one libevent event that is only ever event_active'd:
 * loopq_push appends and wakes the loop; the loop's callback runs once for
 * any number of pushes since it last ran (activations merge) and takes the
 * whole batch with loopq_take, one lock per batch.  Used by the pool
 * (finished jobs) and the server (requests from the acceptors).
 *
 * The base must have been made after evthread_use_pthreads(), since
 * event_active is called from other threads.  The lock is never held while
 * calling out (event_active runs after it is released), so it nests under
 * no other lock.
 *
 * Ownership: a pushed node belongs to the queue until loopq_take moves it
 * to the caller.  loopq_free frees the queue, not nodes left in it: take
 * them first.
 */
#ifndef FCGI_APP_LOOPQ_H
#define FCGI_APP_LOOPQ_H

#include "list.h"

struct event_base;
struct loopq;

/* `fn(arg)` runs on the loop thread after pushes.  NULL on error. */
struct loopq *loopq_new(struct event_base *base, void (*fn)(void *arg),
                        void *arg);

/* Any thread.  `node` must be on no list. */
void loopq_push(struct loopq *q, struct list *node);

/* Moves everything queued now to the tail of `out` (an initialised list
 * head).  Returns whether anything was taken. */
bool loopq_take(struct loopq *q, struct list *out);

/* Accepts NULL. */
void loopq_free(struct loopq *q);

#endif
