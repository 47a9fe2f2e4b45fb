/*
 * server: the loop's side of every request, and the hand-off to it.
 *
 * server_deliver runs on the acceptor thread that read a request.  What
 * needs nothing of the loop's (a route registered FCGI_ROUTE_ANY_THREAD,
 * 404s and 405s, the acceptor's own 400/413) is answered right there
 * (answer_quick) and never wakes the loop.  The rest goes on the loop's
 * inbox (one loopq): the loop runs the route's handler and admits a
 * request whose Deferred has not fired as pending within --max-pending
 * and the fd budget (conn.h: the EOF watch and the pending timeout's 504).
 * Replies go out with non-blocking send()s (answer.h); a kept-alive
 * connection then goes straight back to the acceptors (acceptor_keep),
 * which wait for its next request in their epoll set.  The operator pages
 * (pages.h) and the drain and handover are here too.
 *
 * Runs on the loop thread, except server_deliver (acceptor threads).
 */
#ifndef FCGI_APP_SERVER_H
#define FCGI_APP_SERVER_H

#include <stddef.h>

struct config;
struct event_base;
struct fanout;
struct fcgi_app;
struct pool;
struct request;
struct server;

/* Borrows everything for its lifetime.  NULL on error (errno set). */
struct server *server_new(struct event_base *base, const struct config *cfg,
                          struct pool *pool, struct fcgi_app *app,
                          struct fanout *fan);

/* Starts the acceptor threads on `listen_fd` (borrowed).  0 or -errno. */
int server_start(struct server *s, int listen_fd);

/* Any thread: answers r at once if nothing of the loop's is needed, else
 * hands it to the loop.  Takes ownership. */
void server_deliver(void *server, struct request *r);

/* SIGTERM: stop accepting, answer every held request 503, finish the
 * replies in flight, then leave the loop (after at most shutdown_grace
 * seconds). */
void server_drain(struct server *s);

/* SIGTERM with an inherited socket, whose backlog outlives the app: stop
 * accepting (new connections wait there for the next instance), keep
 * serving what was accepted and the kept connections, closing each after
 * its reply (nginx then opens a new one, which the next instance takes),
 * and server_drain once none is left or handover_ms have passed.  A
 * second call drains at once. */
void server_handover(struct server *s);

size_t server_pending(const struct server *s);

/* Frees what is left (closing fds without replies).  NULL is fine. */
void server_free(struct server *s);

#endif
