/* acceptor: reading each request, on threads of its own (the threads'
 * side; their start, stop and watchdog: acceptor_life.c). */
#include "acceptor.h"

#include <errno.h>
#include <fastcgi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acceptor_internal.h"
#include "app.h"
#include "clock.h"
#include "fcgi_in.h"
#include "idle.h"
#include "log.h"
#include "peer.h"
#include "request.h"
#include "shed.h"

/* At most this many accepts per wake-up, so one thread cannot spend long
 * away from the queue it also serves. */
#define ACCEPT_BATCH 64

/* The longest one pass of accepts spends shedding at the fd limit, most
 * of it waiting for nginx's requests (which normally are there at once). */
#define SHED_BUDGET_MS 50

/* True at most once a second per `last`: errors that repeat under load
 * (EMFILE, a failing accept) are logged, not flooded. */
static bool once_a_second(_Atomic uint64_t *last)
{
	uint64_t t = clock_ms(), prev = atomic_load(last);
	return t - prev > 1000 && atomic_compare_exchange_strong(last, &prev, t);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void set_timeouts(int fd, unsigned ms)
{
	struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Publishes (fd >= 0) or clears what thread i reads, for the watchdog and
 * acceptor_stop.  Refuses to publish once stopping: acceptor_stop cuts the
 * published fds under the same lock, so a read that starts later would be
 * cut by no one and could hold the join for ever. */
static bool set_slot(struct acceptor *a, unsigned i, int fd)
{
	pthread_mutex_lock(&a->mu);
	bool ok = fd < 0 || !atomic_load(&a->stopping);
	a->slots[i].fd = ok ? fd : -1;
	a->slots[i].since_ms = clock_ms();
	pthread_mutex_unlock(&a->mu);
	return ok;
}

static void serve(struct acceptor *a, unsigned self, int fd, bool reused)
{
	if (!set_slot(a, self, fd)) {
		close(fd);
		return;
	}
	struct fcgi_in_result in;
	int rc = fcgi_in_read(a->readers[self], fd, &a->in_opts, &in);
	/* Reading is over: from here the watchdog must not touch this fd,
	 * whose number may be reused once it is closed. */
	set_slot(a, self, -1);
	if (rc < 0) {
		/* A protocol error, EOF or a read timeout: nothing more of
		 * this connection can be trusted. */
		fcgi_in_warn(rc);
		close(fd);
		return;
	}

	struct request *r = request_new(fd);
	if (!r) {
		close(fd);
		log_error("msg=\"out of memory for a request\"");
		return;
	}
	r->id = in.id;
	r->keep_conn = in.keep_conn;
	r->reused = reused;
	r->head = in.head;
	r->page = (uint8_t)request_page(in.page, in.page_len, in.query, in.query_len);
	/* For the log: nginx's $request_id (nginx/fcgi_app_params.conf). */
	request_set_token(r->request_id, sizeof r->request_id, in.request_id,
	                  in.request_id_len);
	request_set_token(r->method, sizeof r->method, in.method, in.method_len);
	if (in.too_big)
		r->early_status = 413;
	else if (in.role != FCGI_RESPONDER || in.bad_length || !in.path)
		r->early_status = 400;
	/* Unless the request was read to its end, bytes may follow (a body
	 * left unread, a FILTER's data stream): the connection is closed after
	 * the answer rather than trusted with another request.  A request
	 * read whole may keep it, 413 or not: a close nginx has not seen yet
	 * when it reuses the connection would turn its next request into a
	 * 502. */
	if (!in.at_end || in.role != FCGI_RESPONDER)
		r->keep_conn = false;
	if (in.path) {
		struct app_match m = app_match(a->opts.app,
		                               app_method_bit(in.method, in.method_len),
		                               in.path, in.path_len);
		r->route = m.route;
		r->allow = (uint16_t)m.allow;
		/* What the handler may read: borrowed from the reader until the
		 * request leaves this thread (server_deliver). */
		r->in.params = in.params;
		r->in.params_len = (uint32_t)in.params_len;
		r->in.body = in.body;
		r->in.body_len = in.body ? (uint32_t)in.body_len : 0;
		r->in.path_off = (uint32_t)((const unsigned char *)in.path - in.params);
		r->in.path_len = (uint32_t)in.path_len;
		r->in.has_path = true;
		r->in.skip = m.skip;
		if (in.query) {
			r->in.query_off =
			    (uint32_t)((const unsigned char *)in.query - in.params);
			r->in.query_len = (uint32_t)in.query_len;
			r->in.has_query = true;
		}
	}
	a->deliver(a->ctx, r);
}

/* Appends under the lock; the caller wakes the threads.  0 or -ENOMEM. */
static int push_ready_locked(struct acceptor *a, int fd)
{
	if (a->q_len == a->q_cap) {
		size_t cap = a->q_cap ? 2 * a->q_cap : 256;
		int *q = malloc(cap * sizeof *q);
		if (!q)
			return -ENOMEM;
		for (size_t i = 0; i < a->q_len; i++)
			q[i] = a->q[(a->q_head + i) % a->q_cap];
		free(a->q);
		a->q = q;
		a->q_cap = cap;
		a->q_head = 0;
	}
	a->q[(a->q_head + a->q_len) % a->q_cap] = fd;
	a->q_len++;
	return 0;
}

bool acceptor__pop_ready(struct acceptor *a, int *out)
{
	pthread_mutex_lock(&a->mu);
	bool got = a->q_len > 0;
	if (got) {
		*out = a->q[a->q_head];
		a->q_head = (a->q_head + 1) % a->q_cap;
		a->q_len--;
	}
	pthread_mutex_unlock(&a->mu);
	return got;
}

static void wake(struct acceptor *a, uint64_t n)
{
	if (n && write(a->wake_fd, &n, sizeof n) != sizeof n)
		log_error("msg=\"acceptor wake-up failed\" errno=%d", errno);
}

/* Accepts what the backlog holds (up to ACCEPT_BATCH) into the queue.
 * (Serving the first one on the spot, skipping the eventfd round trip,
 * measured slower: the other thread no longer parses while this one
 * accepts.) */
static void accept_batch(struct acceptor *a)
{
	int fds[ACCEPT_BATCH];
	unsigned n = 0, shed = 0;
	int fail_err = 0;
	/* Shedding holds accept_mu while it waits for nginx's requests, and
	 * the other acceptor waits for it; one budget per pass bounds both. */
	uint64_t shed_until = 0;
	pthread_mutex_lock(&a->accept_mu);
	while (n < ACCEPT_BATCH && !atomic_load(&a->stopping) &&
	       !atomic_load(&a->unlistened)) {
		/* Without SOCK_NONBLOCK the new fd is blocking, as the
		 * reader needs (SO_RCVTIMEO bounds each read); the loop only
		 * ever uses MSG_DONTWAIT on it. */
		int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			fds[n++] = fd;
			continue;
		}
		int err = errno;
		if (err == EINTR || err == ECONNABORTED || err == EPROTO)
			continue; /* that one went away; try the next */
		if (err == EAGAIN || err == EWOULDBLOCK)
			break; /* backlog empty */
		if (err == EMFILE || err == ENFILE) {
			uint64_t now = clock_ms();
			if (shed_until == 0)
				shed_until = now + SHED_BUDGET_MS;
			if (now >= shed_until)
				break; /* epoll reports the rest again */
			enum shed_result r = shed_one(
			    a->listen_fd, &a->reserve_fd,
			    a->opts.max_body + a->opts.max_discard + 64 * 1024,
			    (int)(shed_until - now));
			if (r == SHED_ONE) {
				shed++;
				continue; /* the backlog may hold more */
			}
			if (r == SHED_NONE)
				break;
		}
		fail_err = err;
		break;
	}
	/* One a failed reopen lost comes back once fds are free. */
	shed_reserve_fill(&a->reserve_fd);
	pthread_mutex_unlock(&a->accept_mu);
	/* Logged after unlocking: a blocked stderr must not stop accepting. */
	static _Atomic uint64_t last_shed_log, last_fail_log;
	if (shed && once_a_second(&last_shed_log))
		log_warn("msg=\"out of file descriptors, shedding connections\"");
	if (fail_err) {
		if (once_a_second(&last_fail_log)) {
			if (fail_err == EMFILE || fail_err == ENFILE)
				log_error("msg=\"out of file descriptors, cannot shed\"");
			else
				log_error("msg=\"accept failed\" errno=%d err=\"%s\"",
				          fail_err, strerror(fail_err));
		}
		sleep_ms(10); /* never spin on a persistent error */
	}
	unsigned kept = 0;
	for (unsigned i = 0; i < n; i++) {
		int fd = fds[i];
		if (!peer_allowed(fd)) {
			close(fd);
			continue;
		}
		if (a->tcp) {
			int one = 1;
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		}
		set_timeouts(fd, a->opts.read_timeout_ms);
		fds[kept++] = fd;
	}
	unsigned queued = 0;
	pthread_mutex_lock(&a->mu);
	for (; queued < kept; queued++)
		if (push_ready_locked(a, fds[queued]) < 0)
			break;
	pthread_mutex_unlock(&a->mu);
	for (unsigned i = queued; i < kept; i++)
		close(fds[i]); /* out of memory: nginx sees a reset */
	wake(a, queued);
}

int acceptor_keep(struct acceptor *a, int fd)
{
	if (!a || atomic_load(&a->stopping))
		return -ESHUTDOWN;
	uint64_t tag;
	pthread_mutex_lock(&a->mu);
	int rc = idle_keep(a->idle, fd, clock_ms(), &tag);
	pthread_mutex_unlock(&a->mu);
	if (rc < 0)
		return rc;
	/* Once armed, any thread may claim it, so the entry is ready first.
	 * ONESHOT: the event disarms itself, and the fd stays quiet while the
	 * loop owns it.  An fd used before is still registered (MOD); a new
	 * one, or a number whose old file was closed, is not (ADD). */
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT,
	                         .data.u64 = tag};
	if (epoll_ctl(a->ep_fd, EPOLL_CTL_MOD, fd, &ev) == 0 ||
	    (errno == ENOENT && epoll_ctl(a->ep_fd, EPOLL_CTL_ADD, fd, &ev) == 0))
		return 0;
	int err = errno;
	/* Still the entry this call made: take it out again. */
	pthread_mutex_lock(&a->mu);
	bool ours = idle_claim(a->idle, tag, &fd);
	pthread_mutex_unlock(&a->mu);
	/* Not ours: nothing was armed, so only the watchdog can have taken
	 * it in between (an idle timeout); it closed the fd. */
	return ours ? -err : 0;
}

size_t acceptor_idle(struct acceptor *a)
{
	if (!a)
		return 0;
	pthread_mutex_lock(&a->mu);
	size_t n = idle_count(a->idle);
	pthread_mutex_unlock(&a->mu);
	return n;
}

/* Claims the kept connection a readiness event names; false when the
 * event is stale (timed out meanwhile, or the number was reused). */
static bool claim_idle(struct acceptor *a, uint64_t tag, int *fd_out)
{
	pthread_mutex_lock(&a->mu);
	bool ok = idle_claim(a->idle, tag, fd_out);
	pthread_mutex_unlock(&a->mu);
	return ok;
}

void *acceptor__thread_main(void *arg)
{
	struct thread_arg *ta = arg;
	struct acceptor *a = ta->a;
	unsigned self = ta->index;
	free(ta);
	while (!atomic_load(&a->stopping)) {
		/* One event per call: the listen and wake fds are level-
		 * triggered, so epoll hands them out in turn with the kept
		 * connections, and none starves the others. */
		struct epoll_event ev;
		int n = epoll_wait(a->ep_fd, &ev, 1, -1);
		if (n < 0 && errno != EINTR)
			sleep_ms(10);
		if (n <= 0 || atomic_load(&a->stopping))
			continue;
		/* Before the event's connection leaves the queue or the idle
		 * set, so that acceptor_busy never misses it. */
		atomic_fetch_add(&a->serving, 1);
		uint64_t one;
		int fd;
		if (ev.data.u64 == TAG_LISTEN) {
			accept_batch(a);
		} else if (ev.data.u64 == TAG_WAKE) {
			if (read(a->wake_fd, &one, sizeof one) == sizeof one &&
			    acceptor__pop_ready(a, &fd))
				serve(a, self, fd, false);
		} else if (claim_idle(a, ev.data.u64, &fd)) {
			/* nginx closed a kept connection with nothing unread:
			 * close it here.  After a fire in keep-alive mode nginx
			 * closes thousands (all but its `keepalive` cache); going
			 * through the reader (the slot, an EOF read) for each one held every other event in this epoll set,
			 * new requests included, behind them.  Bytes still unread
			 * (a request sent before a half-close) are served. */
			int unread = 0;
			if ((ev.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) &&
			    ioctl(fd, FIONREAD, &unread) == 0 && unread == 0)
				close(fd);
			else
				serve(a, self, fd, true);
		}
		atomic_fetch_sub(&a->serving, 1);
	}
	return NULL;
}
