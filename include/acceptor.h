/*
 * acceptor: the threads that let libfcgi read requests.
 *
 * libfcgi only parses from a blocking fd, so every FCGX_* call runs here,
 * never on the loop.  Each thread waits (poll) on the listening socket and
 * on a queue of kept-alive connections the loop found readable; it accepts
 * the connection itself (so EMFILE and peer checks are ours, not libfcgi's
 * OS_Accept), lets FCGX_Accept_r read BEGIN_REQUEST and the params from
 * that fd, drains stdin under a cap, routes, frees libfcgi's buffers with
 * FCGX_Free(req, 0) and hands a small struct request to the loop.
 */
#ifndef FCGI_APP_ACCEPTOR_H
#define FCGI_APP_ACCEPTOR_H

#include <stddef.h>

struct acceptor;
struct request;

struct acceptor_opts {
	unsigned threads;
	size_t max_body;          /* stdin bytes accepted; more is 413 */
	unsigned read_timeout_ms; /* a peer that stalls mid-request is dropped */
	unsigned long max_sleep;  /* for the router */
};

/* Runs on an acceptor thread; takes ownership of `r`. */
typedef void (*acceptor_deliver_fn)(void *ctx, struct request *r);

/* Starts the threads on `listen_fd` (non-blocking, owned by the caller).
 * NULL on error (errno set).  FCGX_Init must have run. */
struct acceptor *acceptor_start(int listen_fd, const struct acceptor_opts *o,
                                acceptor_deliver_fn deliver, void *ctx);

/* Hands a kept-alive connection whose next request has started to arrive
 * back to the threads.  Any thread.  0, or -errno when stopped or out of
 * memory (the caller still owns fd). */
int acceptor_resume(struct acceptor *a, int fd);

/* Stops accepting, joins the threads (a thread busy with a stalled peer
 * takes up to read_timeout_ms), closes queued connections, frees.  NULL is
 * fine. */
void acceptor_stop(struct acceptor *a);

#endif
