/* acceptor: the threads' start and stop, unlisten, the counts, and the
 * watchdog (see acceptor_internal.h). */
#include "acceptor.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acceptor_internal.h"
#include "clock.h"
#include "fcgi_in.h"
#include "idle.h"
#include "log.h"
#include "shed.h"

/* A peer that trickles its request one byte per read timeout would hold a
 * thread for ever: SO_RCVTIMEO bounds each read, not the request.  The
 * watchdog bounds the whole request to twice the read timeout by shutting
 * the connection down under the reading thread, whose read then fails. */
static void *watchdog_main(void *arg)
{
	struct acceptor *a = arg;
	uint64_t limit = 2 * (uint64_t)a->opts.read_timeout_ms;
	pthread_mutex_lock(&a->mu);
	while (!a->watchdog_quit) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until); /* the cv's clock */
		until.tv_nsec += 250 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&a->stop_cv, &a->mu, &until);
		uint64_t now = clock_ms();
		unsigned cut = 0;
		for (unsigned i = 0; i < a->started; i++) {
			struct slot *sl = &a->slots[i];
			if (sl->fd < 0)
				continue;
			/* Under mu the slot's fd is still its thread's open
			 * connection (struct slot). */
			if (now - sl->since_ms > limit) {
				shutdown(sl->fd, SHUT_RDWR);
				sl->since_ms = now; /* once per limit, not per tick */
				cut++;
			}
		}
		/* Unlinked entries are ours alone (their generation
		 * guards against a reused number), so the closes need not
		 * hold up the loop's acceptor_keep and the acceptors. */
		int expired[64];
		unsigned n, closed = 0;
		do {
			/* nginx closes first with the shipped settings; this
			 * bounds what a peer that never does can keep open. */
			n = idle_expire(a->idle, now, expired, 64);
			if (n == 0)
				break;
			pthread_mutex_unlock(&a->mu);
			for (unsigned i = 0; i < n; i++)
				close(expired[i]); /* also leaves the epoll set */
			closed += n;
			pthread_mutex_lock(&a->mu);
		} while (n == 64);
		if (closed) {
			pthread_mutex_unlock(&a->mu);
			log_debug("msg=\"idle kept connections closed\" count=%u",
			          closed);
			pthread_mutex_lock(&a->mu);
		}
		if (cut) {
			/* Not under the lock: a blocked stderr must not stall
			 * the acceptors and the loop behind it. */
			pthread_mutex_unlock(&a->mu);
			log_warn("msg=\"request read too slow, dropped\" count=%u "
			         "limit_ms=%llu", cut, (unsigned long long)limit);
			pthread_mutex_lock(&a->mu);
		}
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

int acceptor_start(struct acceptor **out, int listen_fd,
                   const struct acceptor_opts *o, acceptor_deliver_fn deliver,
                   void *ctx)
{
	*out = NULL;
	struct acceptor *a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	a->opts = *o;
	if (a->opts.threads == 0)
		a->opts.threads = 1;
	a->deliver = deliver;
	a->ctx = ctx;
	a->listen_fd = listen_fd;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof ss;
	a->tcp = getsockname(listen_fd, (struct sockaddr *)&ss, &sslen) == 0 &&
	         ss.ss_family != AF_UNIX;
	a->reserve_fd = -1;
	shed_reserve_fill(&a->reserve_fd);
	a->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
	a->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	/* One entry per possible fd (24 B each; untouched pages cost no RSS). */
	struct rlimit rl;
	size_t fd_cap = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
	                    ? (size_t)rl.rlim_cur : 65536;
	if (fd_cap > (1u << 20))
		fd_cap = 1u << 20;
	a->idle = idle_new(fd_cap, 1000ull * a->opts.idle_timeout_s);
	a->threads = calloc(a->opts.threads, sizeof *a->threads);
	a->slots = calloc(a->opts.threads, sizeof *a->slots);
	a->readers = calloc(a->opts.threads, sizeof *a->readers);
	a->in_opts = (struct fcgi_in_opts){
		.max_params = a->opts.max_params,
		.max_body = a->opts.max_body,
		.max_discard = a->opts.max_discard,
		/* The connections the fd budget allows (main.c), else the fd
		 * limit itself; requests held at once: --max-pending. */
		.max_conns = a->opts.max_conns ? a->opts.max_conns
		                               : (unsigned long)fd_cap,
		.max_reqs = a->opts.max_pending,
	};
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->accept_mu, NULL);
	pthread_condattr_t cattr;
	pthread_condattr_init(&cattr);
	/* A wall-clock step must not stall the watchdog. */
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&a->stop_cv, &cattr);
	pthread_condattr_destroy(&cattr);
	if (a->wake_fd < 0 || a->ep_fd < 0 || !a->threads || !a->slots ||
	    !a->readers || !a->idle)
		goto fail;
	for (unsigned i = 0; i < a->opts.threads; i++)
		if (!(a->readers[i] = fcgi_in_reader_new(a->opts.max_params)))
			goto fail;
	struct epoll_event lev = {.events = EPOLLIN, .data.u64 = TAG_LISTEN};
	struct epoll_event wev = {.events = EPOLLIN, .data.u64 = TAG_WAKE};
	if (epoll_ctl(a->ep_fd, EPOLL_CTL_ADD, listen_fd, &lev) < 0 ||
	    epoll_ctl(a->ep_fd, EPOLL_CTL_ADD, a->wake_fd, &wev) < 0)
		goto fail;
	for (unsigned i = 0; i < a->opts.threads; i++)
		a->slots[i].fd = -1;
	*out = a; /* pthread_create orders this before the threads' reads */

	/* Signals belong to the loop thread (libevent's evsignal). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int err = 0;
	for (; a->started < a->opts.threads; a->started++) {
		struct thread_arg *ta = malloc(sizeof *ta);
		if (!ta) {
			err = ENOMEM;
			break;
		}
		*ta = (struct thread_arg){a, a->started};
		err = pthread_create(&a->threads[a->started], NULL, acceptor__thread_main, ta);
		if (err) {
			free(ta);
			break;
		}
	}
	if (!err) {
		err = pthread_create(&a->watchdog, NULL, watchdog_main, a);
		a->watchdog_started = err == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		acceptor_stop(a); /* joins the threads that did start */
		*out = NULL;
		return -err;
	}
	return 0;

fail:;
	int saved = errno ? errno : ENOMEM;
	acceptor_stop(a);
	*out = NULL;
	return -saved;
}

void acceptor_stop(struct acceptor *a)
{
	if (!a)
		return;
	atomic_store(&a->stopping, true);
	/* A thread reading a request may be blocked on a slow peer: cut that
	 * connection so the join below is quick. */
	pthread_mutex_lock(&a->mu);
	for (unsigned i = 0; a->slots && i < a->started; i++)
		if (a->slots[i].fd >= 0)
			shutdown(a->slots[i].fd, SHUT_RDWR);
	pthread_mutex_unlock(&a->mu);
	if (a->wake_fd >= 0) {
		/* A large count wakes every poller; each then sees `stopping`. */
		uint64_t many = 1u << 20;
		(void)!write(a->wake_fd, &many, sizeof many);
	}
	for (unsigned i = 0; i < a->started; i++)
		pthread_join(a->threads[i], NULL);
	/* The watchdog goes last: while the threads finish, it still cuts a
	 * read that would otherwise hold their join. */
	pthread_mutex_lock(&a->mu);
	a->watchdog_quit = true;
	pthread_cond_signal(&a->stop_cv);
	pthread_mutex_unlock(&a->mu);
	if (a->watchdog_started)
		pthread_join(a->watchdog, NULL);
	int fd;
	while (acceptor__pop_ready(a, &fd))
		close(fd);
	/* The threads are joined: the table is ours alone. */
	int kept[64];
	unsigned n;
	while (a->idle && (n = idle_expire(a->idle, UINT64_MAX, kept, 64)) > 0)
		for (unsigned i = 0; i < n; i++)
			close(kept[i]);
	idle_free(a->idle);
	if (a->ep_fd >= 0)
		close(a->ep_fd);
	free(a->q);
	if (a->wake_fd >= 0)
		close(a->wake_fd);
	if (a->reserve_fd >= 0)
		close(a->reserve_fd);
	pthread_cond_destroy(&a->stop_cv);
	pthread_mutex_destroy(&a->mu);
	pthread_mutex_destroy(&a->accept_mu);
	free(a->threads);
	free(a->slots);
	for (unsigned i = 0; a->readers && i < a->opts.threads; i++)
		fcgi_in_reader_free(a->readers[i]);
	free(a->readers);
	free(a);
}

void acceptor_unlisten(struct acceptor *a)
{
	if (!a || atomic_exchange(&a->unlistened, true))
		return;
	/* Level-triggered and still readable while connections wait in the
	 * backlog: it must leave the set, or the threads would spin on it. */
	epoll_ctl(a->ep_fd, EPOLL_CTL_DEL, a->listen_fd, NULL);
	/* A pass of accepts under way sees the flag at its next accept, or
	 * has finished once the lock is ours. */
	pthread_mutex_lock(&a->accept_mu);
	pthread_mutex_unlock(&a->accept_mu);
}

bool acceptor_keeps(struct acceptor *a)
{
	return a && !atomic_load(&a->stopping) && !atomic_load(&a->unlistened);
}

size_t acceptor_busy(struct acceptor *a)
{
	if (!a)
		return 0;
	/* The queue and the idle set first, the threads second: a thread
	 * counts itself before it takes a connection from either. */
	pthread_mutex_lock(&a->mu);
	size_t n = a->q_len + idle_count(a->idle);
	pthread_mutex_unlock(&a->mu);
	return n + atomic_load(&a->serving);
}
