/*
 * acceptor_internal.h: struct acceptor, shared by the two files of the
 * acceptor, acceptor.c (the threads: accepting into the ready queue,
 * reading and delivering requests, kept connections back in the epoll
 * set) and acceptor_life.c (start, stop, unlisten, the counts, and the
 * watchdog thread).  Internal: not installed, included by those two files
 * only.  Names carry `acceptor__`.
 *
 * Locks (see the fields): `mu` guards the ready queue, the idle table
 * (idle.h: no lock of its own), the slots and the watchdog's wait; any
 * thread takes it briefly (the loop too, in acceptor_keep, acceptor_idle
 * and acceptor_busy), and nothing under it blocks: closes and log lines
 * wait until it is released.  `accept_mu` serializes accept4 and every
 * use of the reserve fd (shed.h), on the acceptor threads; shedding holds
 * it up to SHED_BUDGET_MS (acceptor.c) a pass, and acceptor_unlisten takes
 * it once to wait such a pass out.  The two are never held together.  The
 * flags are atomics, read without a lock.
 */
#ifndef FCGI_APP_ACCEPTOR_INTERNAL_H
#define FCGI_APP_ACCEPTOR_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acceptor.h"
#include "fcgi_in.h"

/* epoll data of the two fixed fds; a kept connection's is its idle tag. */
#define TAG_LISTEN UINT64_MAX
#define TAG_WAKE (UINT64_MAX - 1)

/* What one thread is reading, for the watchdog.  While a slot names an
 * fd, only its thread may close it, and only after clearing the slot (under
 * mu): so the number always names the connection being read. */
struct slot {
	int fd;            /* -1 when the thread is not reading a request */
	uint64_t since_ms; /* when it started reading this request */
};

struct acceptor {
	struct acceptor_opts opts;
	struct fcgi_in_opts in_opts;
	acceptor_deliver_fn deliver;
	void *ctx;
	int listen_fd;
	bool tcp;         /* listen_fd is TCP (TCP_NODELAY on each connection) */
	int ep_fd;        /* the threads wait here: listen fd, wake fd, idle conns */
	int wake_fd;      /* eventfd (semaphore): one count per queued conn */
	/* Accepting is serialized (accept_mu), so that shedding's close of the
	 * reserve, accept, close and reopen cannot lose the freed number to
	 * another thread's accept.  Nothing else in the app opens fds once it
	 * runs, so at EMFILE the reserve always comes back (at ENFILE another
	 * process may take the slot; the next pass retries). */
	pthread_mutex_t accept_mu;
	int reserve_fd; /* under accept_mu: spare fd given up to shed at EMFILE */
	atomic_bool stopping;
	pthread_mutex_t mu; /* ready queue, idle table, slots, watchdog wait */
	pthread_cond_t stop_cv;
	/* FIFO ring of ready connections.  Accepting drains the kernel's
	 * backlog (capped by somaxconn; a full one is a 502 from nginx) into
	 * this queue, which only the fd limit bounds. */
	int *q; /* accepted fds, not yet read */
	size_t q_cap, q_head, q_len;
	pthread_t *threads;
	struct slot *slots;
	struct fcgi_in_reader **readers; /* one per thread, its own */
	unsigned started;
	pthread_t watchdog;
	bool watchdog_started;
	bool watchdog_quit; /* under mu; set after the threads are joined */
	/* Kept connections waiting for nginx's next request (under mu). */
	struct idle *idle;
	/* acceptor_unlisten: no more accepts (read under accept_mu), and
	 * acceptor_keeps turns false, so replies from then on end their
	 * connection.  acceptor_keep itself still takes a connection whose
	 * reply began before (finished later on EV_WRITE): closing it without
	 * the closing record would race nginx's reuse of it. */
	atomic_bool unlistened;
	atomic_uint serving; /* threads between an event and its end */
};

struct thread_arg {
	struct acceptor *a;
	unsigned index;
};

/* acceptor.c: */

/* An acceptor thread; `arg` is a struct thread_arg it frees. */
void *acceptor__thread_main(void *arg);
/* Takes the oldest queued connection under mu; false when none is. */
bool acceptor__pop_ready(struct acceptor *a, int *out);

#endif
