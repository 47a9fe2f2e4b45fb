/* conn: the loop's requests and their states (see conn.h). */
#include "conn.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "deferred.h"
#include "list.h"
#include "log.h"
#include "reply.h"

struct conn {
	struct conn_opts o;
	struct list pending; /* PENDING, oldest (= earliest deadline) first */
	struct list writing; /* WRITING */
	size_t npending;
	size_t live;         /* requests the loop owns */
	struct event *timeout_ev;
};

static void on_timeout(evutil_socket_t fd, short what, void *arg);
static void on_pending_readable(evutil_socket_t fd, short what, void *arg);
static void on_writable(evutil_socket_t fd, short what, void *arg);

struct conn *conn_new(const struct conn_opts *opts)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->o = *opts;
	list_init(&c->pending);
	list_init(&c->writing);
	c->timeout_ev = evtimer_new(opts->base, on_timeout, c);
	if (!c->timeout_ev) {
		free(c);
		return NULL;
	}
	return c;
}

void conn_adopt(struct conn *c, struct request *r)
{
	r->owner = c;
	c->live++;
}

static void arm_timeout(struct conn *c)
{
	if (list_empty(&c->pending)) {
		evtimer_del(c->timeout_ev);
		return;
	}
	struct request *r = list_entry(c->pending.next, struct request, link);
	uint64_t now = clock_ms(), due = r->deadline_ms;
	uint64_t wait = due > now ? due - now : 0;
	struct timeval tv = {(time_t)(wait / 1000),
	                     (suseconds_t)(wait % 1000) * 1000};
	evtimer_add(c->timeout_ev, &tv);
}

static void watch(struct conn *c, struct request *r, short what,
                  event_callback_fn cb, unsigned timeout_s)
{
	event_assign(&r->ev, c->o.base, r->fd, what, cb, r);
	struct timeval tv = {(time_t)timeout_s, 0};
	event_add(&r->ev, timeout_s ? &tv : NULL);
}

/* Undoes what r's state armed. */
static void leave_state(struct conn *c, struct request *r)
{
	switch ((enum request_state)r->state) {
	case REQUEST_PENDING:
		event_del(&r->ev);
		list_remove(&r->link);
		c->npending--;
		break;
	case REQUEST_WRITING:
		event_del(&r->ev);
		list_remove(&r->link);
		break;
	default:
		break;
	}
}

void conn_set_state(struct conn *c, struct request *r,
                    enum request_state state)
{
	leave_state(c, r);
	r->state = (uint8_t)state;
	switch (state) {
	case REQUEST_PENDING: {
		r->deadline_ms =
		    clock_ms() + c->o.pending_timeout_ms;
		bool was_empty = list_empty(&c->pending);
		list_push(&c->pending, &r->link);
		c->npending++;
		if (was_empty)
			arm_timeout(c);
		watch(c, r, EV_READ, on_pending_readable, 0);
		break;
	}
	case REQUEST_WRITING:
		list_push(&c->writing, &r->link);
		watch(c, r, EV_WRITE | EV_PERSIST, on_writable,
		      c->o.write_timeout_s);
		break;
	default:
		break;
	}
}

void conn_end(struct conn *c, struct request *r)
{
	leave_state(c, r);
	r->state = REQUEST_DONE;
	request_end(r, c->o.keep, c->o.ctx);
	c->live--;
	if (c->o.ended)
		c->o.ended(c->o.ctx);
}

void conn_cancel(struct conn *c, struct request *r, enum request_state state)
{
	conn_set_state(c, r, state);
	deferred_cancel(r->d);
	if (r->state == REQUEST_WRITING)
		return; /* answered; the rest of the reply goes out later */
	if (r->state != REQUEST_DONE)
		/* deferred_cancel always fires (it errbacks with
		 * CancelledError when nothing else does), so the callback has
		 * answered it; should that ever change, drop the request
		 * rather than leak it. */
		r->keep_conn = false;
	conn_end(c, r);
}

void conn_cancel_all(struct conn *c)
{
	while (!list_empty(&c->pending))
		conn_cancel(c, list_entry(c->pending.next, struct request, link),
		            REQUEST_CANCELLING);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	uint64_t now = clock_ms();
	while (!list_empty(&c->pending)) {
		struct request *r = list_entry(c->pending.next, struct request, link);
		if (r->deadline_ms > now)
			break;
		conn_cancel(c, r, REQUEST_EXPIRED);
	}
	arm_timeout(c);
}

/* EV_READ on a pending request: nginx closed the connection because its
 * client went away (it never sends FCGI_ABORT_REQUEST), or a peer broke
 * the protocol.  Either way the request is over. */
static void on_pending_readable(evutil_socket_t fd, short what, void *arg)
{
	struct request *r = arg;
	struct conn *c = r->owner;
	(void)what;
	char ch;
	ssize_t n = recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		event_add(&r->ev, NULL);
		return;
	}
	if (c->o.gone)
		c->o.gone(c->o.ctx, r);
	r->keep_conn = false;
	conn_cancel(c, r, REQUEST_GONE);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct request *r = arg;
	struct conn *c = r->owner;
	(void)fd;
	if (what & EV_TIMEOUT) {
		log_warn("msg=\"reply not read by nginx, closing\" fd=%d "
		         "request_id=%s", r->fd, request_rid(r));
		r->keep_conn = false;
		conn_end(c, r);
		return;
	}
	ssize_t n = reply_send(r->fd, r->out + r->out_off, r->out_len - r->out_off);
	if (n >= 0 && (size_t)n < r->out_len - r->out_off) {
		r->out_off += (uint32_t)n;
		return;
	}
	if (n < 0)
		r->keep_conn = false;
	conn_end(c, r);
}

void *conn_ctx(const struct conn *c)
{
	return c->o.ctx;
}

size_t conn_pending(const struct conn *c)
{
	return c->npending;
}

size_t conn_live(const struct conn *c)
{
	return c->live;
}

/* At exit: no replies, but no Deferred may call back into a freed
 * request either, so each pending one is cancelled as GONE. */
void conn_free(struct conn *c)
{
	if (!c)
		return;
	while (!list_empty(&c->pending)) {
		struct request *r = list_entry(c->pending.next, struct request, link);
		r->keep_conn = false;
		conn_cancel(c, r, REQUEST_GONE);
	}
	while (!list_empty(&c->writing)) {
		struct request *r = list_entry(c->writing.next, struct request, link);
		r->keep_conn = false;
		conn_end(c, r);
	}
	event_free(c->timeout_ev);
	free(c);
}
