/*
 * acceptor: the threads that read requests.
 *
 * Requests are read from blocking fds (fcgi_in), so that work runs here,
 * never on the loop.  The threads share one epoll set: the listening
 * socket, and the kept-alive connections the loop handed back after a
 * reply (acceptor_keep), each waiting for nginx's next request (their
 * table: idle.h).  A thread accepts the connection itself (shedding at
 * EMFILE: shed.h; FCGI_WEB_SERVER_ADDRS: peer.h),
 * reads BEGIN_REQUEST, the params and stdin with fcgi_in_read (which
 * checks every record and answers management records), routes, and hands
 * a small struct request to the loop.
 *
 * An idle kept connection costs an fd, an epoll registration and a 24-byte
 * table entry; never a thread.  The watchdog thread closes those idle past
 * idle_timeout_s.
 */
#ifndef FCGI_APP_ACCEPTOR_H
#define FCGI_APP_ACCEPTOR_H

#include <stdbool.h>
#include <stddef.h>

struct acceptor;
struct fcgi_app;
struct request;

struct acceptor_opts {
	unsigned threads;
	size_t max_body;          /* stdin bytes accepted; more is 413 */
	size_t max_discard;       /* bytes past max_body read and dropped for a clean 413 */
	unsigned read_timeout_ms; /* a peer that stalls mid-request is dropped */
	const struct fcgi_app *app; /* its routes, matched while reading */
	unsigned idle_timeout_s;  /* a kept connection idle longer is closed */
	size_t max_params;        /* a request's params stream; more closes */
	unsigned max_pending;     /* FCGI_MAX_REQS, for FCGI_GET_VALUES */
	unsigned max_conns;       /* FCGI_MAX_CONNS; 0: the fd limit */
};

/* Runs on an acceptor thread; takes ownership of `r`. */
typedef void (*acceptor_deliver_fn)(void *ctx, struct request *r);

/* Starts the threads on `listen_fd` (non-blocking, owned by the caller)
 * and stores the acceptor in *out before the first of them starts, since
 * `deliver` may need it (acceptor_keep) from the first request on; *out is
 * NULL again on error.  0 or -errno. */
int acceptor_start(struct acceptor **out, int listen_fd,
                   const struct acceptor_opts *o, acceptor_deliver_fn deliver,
                   void *ctx);

/* Takes a kept-alive connection whose reply is out: the threads read its
 * next request when nginx sends one.  The caller must no longer watch or
 * use fd.  From the loop, or from an acceptor thread inside `deliver`;
 * never concurrently with acceptor_stop from elsewhere (the loop calls
 * both; the acceptor threads are joined before acceptor_stop touches the
 * idle set).  0 (fd is the acceptor's now), or -errno when
 * stopped or out of resources (the caller still owns fd and closes it). */
int acceptor_keep(struct acceptor *a, int fd);

/* Kept connections waiting for their next request; 0 for NULL.  (acceptor_keep
 * on NULL is -ESHUTDOWN.) */
size_t acceptor_idle(struct acceptor *a);

/* Stops taking connections from the listening socket, which stays open
 * and listening: what arrives from now on waits in its backlog (for the
 * next instance, when the socket is shared).  Connections already accepted
 * and kept ones are still read and answered (acceptor_keeps turns false:
 * the server makes each next reply the connection's last).  When it
 * returns, no thread touches the listening fd any more.  NULL is fine. */
void acceptor_unlisten(struct acceptor *a);

/* False once stopping or unlistened, and for NULL: a reply should then
 * be its connection's last. */
bool acceptor_keeps(struct acceptor *a);

/* Connections not answered yet: accepted and queued, being read, or kept
 * and idle (a connection the loop owns is not counted).  0 for NULL. */
size_t acceptor_busy(struct acceptor *a);

/* Stops accepting, joins the threads (a thread busy with a stalled peer
 * takes up to read_timeout_ms), closes queued and idle connections, frees.
 * NULL is fine. */
void acceptor_stop(struct acceptor *a);

#endif
