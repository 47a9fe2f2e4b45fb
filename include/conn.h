/*
 * conn: the loop's requests, from the inbox to their one exit.
 *
 * A request the loop owns is in exactly one enum request_state (request.h),
 * and its list membership and event follow the state: conn_set_state
 * links, unlinks, arms and disarms.  Pending requests are kept oldest
 * first, which is deadline order (one timeout for all), each fd watched
 * for EOF (nginx closes the connection when its client goes away);
 * replies nginx did not take in one send wait for EV_WRITE.
 *
 * conn_end is the single exit of every request the loop owns: it closes
 * the fd or hands the kept connection back (opts.keep), drops the
 * Deferred and frees the request.  conn knows nothing of answers: a
 * request's Deferred callback answers it (conn_cancel runs the
 * cancellation), and opts.gone is told when nginx closed a pending one.
 *
 * Loop thread only.
 */
#ifndef FCGI_APP_CONN_H
#define FCGI_APP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"

struct event_base;
struct conn;

struct conn_opts {
	struct event_base *base;
	uint64_t pending_timeout_ms; /* pending longer: conn_cancel(EXPIRED) */
	unsigned write_timeout_s;   /* a reply nginx does not read: closed */
	/* Takes a kept connection's fd for its next request: 0, or < 0 (the
	 * fd is then closed).  NULL: always closed. */
	int (*keep)(void *ctx, int fd);
	/* nginx closed a pending request's connection (before it is
	 * cancelled and ended). */
	void (*gone)(void *ctx, struct request *r);
	/* A request ended (after it is freed). */
	void (*ended)(void *ctx);
	void *ctx;
};

/* Borrows opts' base.  NULL when out of memory. */
struct conn *conn_new(const struct conn_opts *opts);

/* Takes a request from the inbox: the loop owns it from here on. */
void conn_adopt(struct conn *c, struct request *r);

/* Moves r to `state`, linking it to the list and arming the event that
 * state has (PENDING: pending list, deadline, EOF watch; WRITING: writing
 * list, EV_WRITE on the rest in r->out) and undoing the old state's. */
void conn_set_state(struct conn *c, struct request *r,
                    enum request_state state);

/* The one exit: r's reply is out or its connection gone.  Closes the fd,
 * or hands it back when r->keep_conn; drops r->d; frees r. */
void conn_end(struct conn *c, struct request *r);

/* Cancels a pending request's Deferred in `state` (EXPIRED, CANCELLING or
 * GONE), whose callback answers it (or, GONE, drops the result); then
 * ends it unless its reply waits for EV_WRITE. */
void conn_cancel(struct conn *c, struct request *r, enum request_state state);

/* Cancels every pending request (CANCELLING): the drain. */
void conn_cancel_all(struct conn *c);

/* opts.ctx, for a request's callbacks (r->owner is its conn). */
void *conn_ctx(const struct conn *c);

size_t conn_pending(const struct conn *c);
/* Requests the loop owns. */
size_t conn_live(const struct conn *c);

/* Ends every request without a reply (their Deferreds cancelled as GONE
 * first), then frees c.  NULL is fine. */
void conn_free(struct conn *c);

#endif
