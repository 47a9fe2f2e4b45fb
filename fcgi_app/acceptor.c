/* acceptor: libfcgi's side of each request, on threads of its own. */
#include "acceptor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fcgiapp.h>
#include <fastcgi.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "request.h"
#include "response.h"
#include "router.h"

/* We hand libfcgi an fd we accepted ourselves by writing ipcFd and
 * keepConnection, which fcgiapp.h lists below "Don't use anything below
 * here".  Pin the layout of the version we build against (2.4.2) so a
 * change breaks the build instead of corrupting requests. */
#include <stddef.h>
_Static_assert(sizeof(FCGX_Request) == 80, "libfcgi FCGX_Request layout");
_Static_assert(offsetof(FCGX_Request, ipcFd) == 48, "libfcgi ipcFd offset");
_Static_assert(offsetof(FCGX_Request, keepConnection) == 56,
               "libfcgi keepConnection offset");

struct kept {
	struct kept *next;
	int fd;
};

struct acceptor {
	struct acceptor_opts opts;
	acceptor_deliver_fn deliver;
	void *ctx;
	int listen_fd;
	int wake_fd;      /* eventfd (semaphore): one count per kept conn */
	int reserve_fd;   /* spare fd given up to shed a connection at EMFILE */
	atomic_bool stopping;
	pthread_mutex_t mu; /* kept queue and reserve_fd */
	struct kept *head, *tail;
	pthread_t *threads;
	unsigned started;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
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

/* FCGI_WEB_SERVER_ADDRS, as libfcgi's OS_Accept would have applied it:
 * for TCP, only the listed IPv4 peers may talk to us. */
static bool peer_allowed(int fd)
{
	const char *list = getenv("FCGI_WEB_SERVER_ADDRS");
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (!list || getpeername(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    ss.ss_family != AF_INET)
		return true;
	char peer[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, peer,
	          sizeof peer);
	size_t plen = strlen(peer);
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		if (n == plen && memcmp(p, peer, n) == 0)
			return true;
		p += n + (p[n] == ',');
	}
	log_warn("msg=\"peer not in FCGI_WEB_SERVER_ADDRS\" peer=%s", peer);
	return false;
}

static bool param_is(FCGX_ParamArray env, const char *name, const char *v)
{
	const char *p = FCGX_GetParam(name, env);
	return p && strcmp(p, v) == 0;
}

/* The path to route on: DOCUMENT_URI (nginx's normalised $document_uri);
 * else REQUEST_URI without its query. */
static const char *request_path(FCGX_ParamArray env, size_t *len)
{
	const char *p = FCGX_GetParam("DOCUMENT_URI", env);
	if (p) {
		*len = strlen(p);
		return p;
	}
	p = FCGX_GetParam("REQUEST_URI", env);
	if (p)
		*len = strcspn(p, "?");
	return p;
}

/* Reads stdin to EOF.  Returns the byte count, or -1 when the stream broke
 * (the connection cannot be answered reliably). */
static long drain_stdin(FCGX_Stream *in, size_t cap, bool *too_big)
{
	char buf[4096];
	long total = 0;
	int n;
	while ((n = FCGX_GetStr(buf, sizeof buf, in)) > 0) {
		total += n;
		if ((size_t)total > cap) {
			*too_big = true;
			return total;
		}
	}
	return FCGX_GetError(in) ? -1 : total;
}

static void serve(struct acceptor *a, int fd, bool reused)
{
	FCGX_Request fr;
	FCGX_InitRequest(&fr, -1, 0);
	fr.ipcFd = fd;
	/* FCGX_Accept_r starts by finishing the previous request on this
	 * struct; keepConnection stops that from closing our fd.  BEGIN_REQUEST
	 * then sets it from the record's FCGI_KEEP_CONN flag. */
	fr.keepConnection = 1;
	int rc = FCGX_Accept_r(&fr);
	if (rc < 0) {
		/* Protocol error, EOF or read timeout: libfcgi has closed the
		 * fd, then failed to accept on listen socket -1. */
		log_debug("msg=\"request not read\" rc=%d", rc);
		return;
	}

	struct request *r = request_new(fd);
	if (!r) {
		FCGX_Free(&fr, 0);
		close(fd);
		log_error("msg=\"out of memory for a request\"");
		return;
	}
	r->id = (uint16_t)fr.requestId;
	r->keep_conn = fr.keepConnection != 0;
	r->reused = reused;
	r->head = param_is(fr.envp, "REQUEST_METHOD", "HEAD");
	r->status_page = param_is(fr.envp, "FCGI_APP_STATUS", "1");

	const char *cl = FCGX_GetParam("CONTENT_LENGTH", fr.envp);
	bool too_big = cl && *cl && strtoull(cl, NULL, 10) > a->opts.max_body;
	if (!too_big) {
		long got = drain_stdin(fr.in, a->opts.max_body, &too_big);
		if (got < 0) {
			FCGX_Free(&fr, 0);
			close(fd);
			request_free(r);
			return;
		}
	}
	if (too_big) {
		/* The rest of the body is still unread: the connection cannot
		 * carry another request. */
		r->early_status = 413;
		r->keep_conn = false;
	} else if (fr.role != FCGI_RESPONDER) {
		r->early_status = 400;
	}

	size_t len = 0;
	const char *path = request_path(fr.envp, &len);
	if (!path && !r->early_status)
		r->early_status = 400;
	if (path) {
		struct router_match m = router_match(path, len, a->opts.max_sleep);
		r->route = (uint8_t)m.route;
		r->seconds = m.seconds;
	}
	FCGX_Free(&fr, 0); /* frees libfcgi's ~16 KB of buffers, keeps fd */
	a->deliver(a->ctx, r);
}

/* At the fd limit the pending connection would sit in the backlog until
 * nginx times out.  Give up the reserve fd, take the connection, answer 503
 * and close it, so nginx and its client learn at once. */
static void shed_one(struct acceptor *a)
{
	static const char detail[] =
	    "The server has run out of file descriptors; retry shortly.";
	pthread_mutex_lock(&a->mu);
	if (a->reserve_fd >= 0)
		close(a->reserve_fd);
	int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0) {
		char drain[4096];
		(void)recv(fd, drain, sizeof drain, MSG_DONTWAIT);
		char body[256], out[512];
		size_t blen = response_page(body, sizeof body, 503, detail);
		struct response resp = {.status = 503, .body = body,
		                        .body_len = blen,
		                        .extra_headers = "Retry-After: 1\r\n"};
		/* nginx never multiplexes: its request id is always 1. */
		size_t n = response_encode(out, sizeof out, 1, &resp);
		if (n <= sizeof out)
			(void)send(fd, out, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
	}
	a->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pthread_mutex_unlock(&a->mu);
	log_warn("msg=\"out of file descriptors, shed a connection\"");
	sleep_ms(10);
}

static int pop_kept(struct acceptor *a)
{
	pthread_mutex_lock(&a->mu);
	struct kept *k = a->head;
	if (k) {
		a->head = k->next;
		if (!a->head)
			a->tail = NULL;
	}
	pthread_mutex_unlock(&a->mu);
	if (!k)
		return -1;
	int fd = k->fd;
	free(k);
	return fd;
}

static void accept_one(struct acceptor *a)
{
	/* Without SOCK_NONBLOCK the new fd is blocking, as libfcgi needs; the
	 * loop only ever uses MSG_DONTWAIT on it. */
	int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		switch (errno) {
		case EAGAIN:
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
			return; /* another thread took it, or it went away */
		case EMFILE:
		case ENFILE:
			shed_one(a);
			return;
		default: {
			static _Atomic uint64_t last_log;
			uint64_t t = now_ms();
			if (t - atomic_load(&last_log) > 1000) {
				atomic_store(&last_log, t);
				log_error("msg=\"accept failed\" errno=%d err=\"%s\"",
				          errno, strerror(errno));
			}
			sleep_ms(10); /* never spin on a persistent error */
			return;
		}
		}
	}
	if (!peer_allowed(fd)) {
		close(fd);
		return;
	}
	set_timeouts(fd, a->opts.read_timeout_ms);
	serve(a, fd, false);
}

static void *acceptor_main(void *arg)
{
	struct acceptor *a = arg;
	struct pollfd pfd[2] = {
		{.fd = a->listen_fd, .events = POLLIN},
		{.fd = a->wake_fd, .events = POLLIN},
	};
	while (!atomic_load(&a->stopping)) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno != EINTR)
				sleep_ms(10);
			continue;
		}
		if (atomic_load(&a->stopping))
			break;
		/* Kept connections first: their next request is already here. */
		uint64_t one;
		if ((pfd[1].revents & POLLIN) &&
		    read(a->wake_fd, &one, sizeof one) == sizeof one) {
			int fd = pop_kept(a);
			if (fd >= 0)
				serve(a, fd, true);
			continue;
		}
		if (pfd[0].revents)
			accept_one(a);
	}
	return NULL;
}

int acceptor_resume(struct acceptor *a, int fd)
{
	if (atomic_load(&a->stopping))
		return -ESHUTDOWN;
	struct kept *k = malloc(sizeof *k);
	if (!k)
		return -ENOMEM;
	k->fd = fd;
	k->next = NULL;
	pthread_mutex_lock(&a->mu);
	if (a->tail)
		a->tail->next = k;
	else
		a->head = k;
	a->tail = k;
	pthread_mutex_unlock(&a->mu);
	uint64_t one = 1;
	if (write(a->wake_fd, &one, sizeof one) != sizeof one)
		log_error("msg=\"acceptor wake-up failed\" errno=%d", errno);
	return 0;
}

struct acceptor *acceptor_start(int listen_fd, const struct acceptor_opts *o,
                                acceptor_deliver_fn deliver, void *ctx)
{
	struct acceptor *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->opts = *o;
	if (a->opts.threads == 0)
		a->opts.threads = 1;
	a->deliver = deliver;
	a->ctx = ctx;
	a->listen_fd = listen_fd;
	a->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	a->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
	a->threads = calloc(a->opts.threads, sizeof *a->threads);
	pthread_mutex_init(&a->mu, NULL);
	if (a->wake_fd < 0 || !a->threads)
		goto fail;

	/* Signals belong to the loop thread (libevent's evsignal). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (; a->started < a->opts.threads; a->started++) {
		int err = pthread_create(&a->threads[a->started], NULL,
		                         acceptor_main, a);
		if (err) {
			errno = err;
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (a->started < a->opts.threads) {
		int saved = errno;
		acceptor_stop(a);
		errno = saved;
		return NULL;
	}
	return a;

fail:;
	int saved = errno;
	acceptor_stop(a);
	errno = saved;
	return NULL;
}

void acceptor_stop(struct acceptor *a)
{
	if (!a)
		return;
	atomic_store(&a->stopping, true);
	if (a->wake_fd >= 0) {
		/* A large count wakes every poller; each then sees `stopping`. */
		uint64_t many = 1u << 20;
		(void)!write(a->wake_fd, &many, sizeof many);
	}
	for (unsigned i = 0; i < a->started; i++)
		pthread_join(a->threads[i], NULL);
	int fd;
	while ((fd = pop_kept(a)) >= 0)
		close(fd);
	if (a->wake_fd >= 0)
		close(a->wake_fd);
	if (a->reserve_fd >= 0)
		close(a->reserve_fd);
	pthread_mutex_destroy(&a->mu);
	free(a->threads);
	free(a);
}
