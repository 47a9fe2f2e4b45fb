/* server: the inbox, dispatch, admission and the drain (see server.h). */
#include "server.h"

#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acceptor.h"
#include "answer.h"
#include "app.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "deferred.h"
#include "fanout.h"
#include "list.h"
#include "log.h"
#include "loopq.h"
#include "pages.h"
#include "pool.h"
#include "request.h"

struct server {
	struct event_base *base;
	const struct config *cfg;
	struct pool *pool;
	struct fanout *fan;
	struct answer ans;   /* what both threads answer with */
	struct conn *conns;  /* the requests the loop owns */
	struct loopq *inbox; /* acceptors -> loop: the only lock on the path */
	struct event *grace_ev;
	struct event *handover_ev; /* server_handover's check; NULL before */
	uint64_t handover_until_ms;
	double start_time;   /* Unix time of server_new */
};

static int keep_conn(void *ctx, int fd)
{
	struct server *s = ctx;
	return acceptor_keep(s->ans.acceptor, fd);
}

static void on_gone(void *ctx, struct request *r)
{
	struct server *s = ctx;
	answer_gone(&s->ans, r);
}

static void maybe_exit_loop(void *ctx)
{
	struct server *s = ctx;
	if (s->ans.draining && conn_live(s->conns) == 0)
		event_base_loopexit(s->base, NULL);
}

/* After an answer on the loop: the rest of a short send waits for
 * EV_WRITE; a finished reply ends r unless a frame below holds it. */
static void settle(struct server *s, struct request *r, bool held)
{
	if (r->state == REQUEST_UNSENT)
		conn_set_state(s->conns, r, REQUEST_WRITING);
	else if (r->state == REQUEST_DONE && !held)
		conn_end(s->conns, r);
}

/* The callback the server appends to every handler's Deferred on the
 * loop, as Klein appends write_response.  It answers r in the states
 * where an answer is due; a request that is answered already or whose
 * connection is gone drops the result (Klein suppresses it).  Only a
 * PENDING request is nobody's frame's, so only then does it end r. */
static struct deferred_val on_result(struct deferred_val v, void *arg)
{
	struct request *r = arg;
	struct server *s = conn_ctx(r->owner);
	enum request_state was = (enum request_state)r->state;
	if (was == REQUEST_RUNNING || was == REQUEST_PENDING ||
	    was == REQUEST_EXPIRED || was == REQUEST_CANCELLING) {
		if (was == REQUEST_PENDING)
			conn_set_state(s->conns, r, REQUEST_RUNNING);
		answer_value(&s->ans, r, v, was == REQUEST_EXPIRED);
		settle(s, r, was != REQUEST_PENDING);
	}
	deferred_val_free(v);
	return deferred_val_none();
}

/* Whether pending r would take an fd of --fd-reserve: every request the
 * loop owns (r included) and every idle kept connection holds one, and
 * together they stay within max_conns (main.c, fit_fd_limit), so that a
 * /simple/fire or the status page on a new connection finds a free fd.
 * The reserve covers what is not counted here: connections an acceptor is
 * reading, and those opened for requests that do not pend, which nginx
 * may then keep idle. */
static bool conns_full(struct server *s)
{
	return s->cfg->max_conns &&
	       conn_live(s->conns) + acceptor_idle(s->ans.acceptor) >
	           s->cfg->max_conns;
}

/* Runs r's handler with on_result appended.  A request whose Deferred
 * has not fired when the handler returns is admitted (PENDING) only
 * within --max-pending and the fd budget: past them it is answered 503
 * and its Deferred cancelled (its cancellers undo what the handler
 * started). */
static void run_route(struct server *s, struct request *r)
{
	const struct app_route *rt = app_route(s->ans.app, r->route);
	uint64_t fires = fanout_fire_calls(s->fan);
	r->in.app = s->ans.app;
	conn_set_state(s->conns, r, REQUEST_RUNNING);
	r->d = rt->handler(&r->in, rt->data);
	if (!r->d || deferred_add_both(r->d, on_result, r, NULL) < 0) {
		if (r->d) {
			deferred_cancel(r->d);
			deferred_unref(r->d);
			r->d = NULL;
		}
		answer_error(&s->ans, r, REPLY_OUT_OF_MEMORY, NULL, NULL);
		settle(s, r, true);
	}
	if (!(rt->flags & FCGI_ROUTE_KEEP_INPUT))
		request_input_free(r);
	if (r->state == REQUEST_RUNNING) {
		bool too_many = conn_pending(s->conns) >= s->cfg->max_pending;
		if (!too_many && !conns_full(s)) {
			conn_set_state(s->conns, r, REQUEST_PENDING);
			return;
		}
		answer_error(&s->ans, r,
		             too_many ? REPLY_MAX_PENDING : REPLY_FD_LIMIT, NULL,
		             NULL);
		settle(s, r, true);
		deferred_cancel(r->d); /* on_result sees it answered */
	} else if (fanout_fire_calls(s->fan) == fires) {
		/* Answered at once without firing an event: a request someone
		 * waits for now, which a fire in progress lets go first. */
		fanout_note_foreground(s->fan);
	}
	if (r->state == REQUEST_DONE)
		conn_end(s->conns, r);
}

static void pages_of(struct server *s, struct pages_src *src)
{
	*src = (struct pages_src){
		.ans = &s->ans,
		.pool = s->pool,
		.fan = s->fan,
		.pending = conn_pending(s->conns),
		.live = conn_live(s->conns),
		.start_time = s->start_time,
	};
}

static void dispatch(struct server *s, struct request *r)
{
	conn_adopt(s->conns, r);
	if (r->state == REQUEST_UNSENT) {
		/* Answered at once by an acceptor: the rest of its reply
		 * waits for nginx to read. */
		conn_set_state(s->conns, r, REQUEST_WRITING);
		return;
	}
	answer_begin(&s->ans, r);
	if (answer_early(&s->ans, r)) {
		/* answered */
	} else if (r->page) {
		struct pages_src src;
		pages_of(s, &src);
		pages_answer(&src, r);
	} else if (s->ans.draining) {
		answer_error(&s->ans, r, REPLY_SHUTDOWN, NULL, NULL);
	} else {
		run_route(s, r);
		return;
	}
	settle(s, r, false);
}

static void on_inbox(void *arg)
{
	struct server *s = arg;
	struct list batch;
	list_init(&batch);
	loopq_take(s->inbox, &batch);
	struct list *node;
	while ((node = list_shift(&batch)))
		dispatch(s, list_entry(node, struct request, link));
}

void server_deliver(void *server, struct request *r)
{
	struct server *s = server;
	switch (answer_quick(&s->ans, r, keep_conn, s)) {
	case ANSWER_QUICK_DONE:
		return;
	case ANSWER_QUICK_UNSENT:
		request_input_free(r);
		break;
	case ANSWER_QUICK_NO:
		/* The reader's buffers are the acceptor's next request's: the
		 * loop gets its own copy of what the handler may read. */
		if (r->in.params && !r->page && !r->early_status && r->route)
			request_input_own(r);
		else
			request_input_free(r);
		break;
	}
	loopq_push(s->inbox, &r->link);
}

/* ---- lifecycle ------------------------------------------------------------ */

struct server *server_new(struct event_base *base, const struct config *cfg,
                          struct pool *pool, struct fcgi_app *app,
                          struct fanout *fan)
{
	struct server *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->base = base;
	s->cfg = cfg;
	s->pool = pool;
	s->fan = fan;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	s->start_time = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	int rc = answer_init(&s->ans, cfg, app, fan);
	struct conn_opts co = {
		.base = base,
		.pending_timeout_ms = (uint64_t)cfg->pending_timeout * 1000,
		.write_timeout_s = cfg->write_timeout,
		.keep = keep_conn,
		.gone = on_gone,
		.ended = maybe_exit_loop,
		.ctx = s,
	};
	s->conns = conn_new(&co);
	s->inbox = loopq_new(base, on_inbox, s);
	if (rc < 0 || !s->conns || !s->inbox) {
		server_free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

int server_start(struct server *s, int listen_fd)
{
	struct acceptor_opts o = {
		.threads = s->cfg->acceptors,
		.max_body = s->cfg->max_body,
		.max_discard = s->cfg->max_discard,
		.read_timeout_ms = s->cfg->read_timeout_ms,
		.app = s->ans.app,
		.idle_timeout_s = s->cfg->idle_timeout,
		.max_params = s->cfg->max_params,
		.max_pending = s->cfg->max_pending,
		.max_conns = s->cfg->max_conns,
	};
	return acceptor_start(&s->ans.acceptor, listen_fd, &o, server_deliver, s);
}

size_t server_pending(const struct server *s)
{
	return conn_pending(s->conns);
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	(void)fd;
	(void)what;
	log_warn("msg=\"shutdown grace over\" unfinished=%zu", conn_live(s->conns));
	event_base_loopexit(s->base, NULL);
}

/* The handover ends when the acceptors hold no connection any more: every
 * kept one was closed after a reply (or by nginx), nothing accepted waits.
 * Only then does the drain's acceptor_stop cut nothing mid-request. */
static void on_handover(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	(void)fd;
	(void)what;
	size_t busy = acceptor_busy(s->ans.acceptor);
	if (busy > 0 && clock_ms() < s->handover_until_ms)
		return;
	if (busy > 0)
		log_warn("msg=\"handover time over\" connections=%zu", busy);
	server_drain(s);
}

void server_handover(struct server *s)
{
	if (s->ans.draining || s->handover_ev) {
		server_drain(s);
		return;
	}
	s->handover_until_ms = clock_ms() + s->cfg->handover_ms;
	s->handover_ev = event_new(s->base, -1, EV_PERSIST, on_handover, s);
	acceptor_unlisten(s->ans.acceptor);
	log_info("msg=\"handing over\" connections=%zu pending=%zu "
	         "handover_ms=%u", acceptor_busy(s->ans.acceptor),
	         conn_pending(s->conns), s->cfg->handover_ms);
	struct timeval tick = {0, 10000};
	if (!s->handover_ev || event_add(s->handover_ev, &tick) < 0) {
		server_drain(s);
		return;
	}
	on_handover(-1, 0, s);
}

void server_drain(struct server *s)
{
	if (s->handover_ev)
		event_del(s->handover_ev);
	if (s->ans.draining) {
		log_warn("msg=\"second stop signal, exiting now\" unfinished=%zu",
		         conn_live(s->conns));
		event_base_loopexit(s->base, NULL);
		return;
	}
	s->ans.draining = true;
	log_info("msg=draining pending=%zu idle=%zu", conn_pending(s->conns),
	         acceptor_idle(s->ans.acceptor));
	/* Joining is quick: the threads sit in epoll_wait(); one in the middle
	 * of a stalled read takes at most read_timeout_ms.  Idle kept
	 * connections are closed with it. */
	acceptor_stop(s->ans.acceptor);
	s->ans.acceptor = NULL;
	on_inbox(s);        /* requests parsed before the stop: 503 */
	pool_stop(s->pool); /* queued jobs errback: 503 */
	conn_cancel_all(s->conns);
	s->grace_ev = evtimer_new(s->base, on_grace, s);
	struct timeval tv = {(time_t)s->cfg->shutdown_grace, 0};
	if (s->grace_ev)
		evtimer_add(s->grace_ev, &tv);
	maybe_exit_loop(s);
}

void server_free(struct server *s)
{
	if (!s)
		return;
	acceptor_stop(s->ans.acceptor);
	s->ans.acceptor = NULL; /* a reply finished below closes, never keeps */
	conn_free(s->conns);
	if (s->inbox) {
		/* Requests the loop never took: closed without a reply. */
		struct list left;
		list_init(&left);
		loopq_take(s->inbox, &left);
		struct list *node;
		while ((node = list_shift(&left))) {
			struct request *r = list_entry(node, struct request, link);
			r->keep_conn = false;
			request_end(r, NULL, NULL);
		}
		loopq_free(s->inbox);
	}
	if (s->grace_ev)
		event_free(s->grace_ev);
	if (s->handover_ev)
		event_free(s->handover_ev);
	answer_fini(&s->ans);
	free(s);
}
