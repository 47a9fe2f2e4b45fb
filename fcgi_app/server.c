/* server: the loop's side of every request (see server.h). */
#include "server.h"

#include <errno.h>
#include <event2/event.h>
#include <fastcgi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acceptor.h"
#include "app.h"
#include "config.h"
#include "deferred.h"
#include "failure.h"
#include "clock.h"
#include "fanout.h"
#include "fcgi_resp.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "request.h"
#include "response.h"

/* Atomic: the acceptor threads count the requests they answer. */
struct server_stats {
	_Atomic uint64_t requests;  /* dispatched */
	_Atomic uint64_t aborted;   /* client went away while pending */
	_Atomic uint64_t timed_out; /* pending timeout: 504 */
	_Atomic uint64_t rejected;  /* 503: a cap, a full queue, or shutdown */
	_Atomic uint64_t failed;    /* 500: a handler's unexpected failure */
	_Atomic uint64_t kept;      /* requests that came on a kept connection */
};

/* A list of requests, linked through their prev/next. */
struct rlist {
	struct request *head, *tail;
	size_t n;
};

enum { LIST_NONE, LIST_PENDING, LIST_WRITING, LIST_COUNT };

struct server {
	struct event_base *base;
	const struct config *cfg;
	struct pool *pool;
	struct fcgi_app *app;
	struct fanout *fan;
	struct acceptor *acceptor;

	pthread_mutex_t inbox_mu; /* the only lock on the request path */
	struct request *inbox_head, *inbox_tail;
	struct event *inbox_ev;

	/* Indexed by request->list.  Pending is oldest first, which is
	 * deadline order, so one timer serves every pending request. */
	struct rlist lists[LIST_COUNT];
	struct event *timeout_ev;
	struct event *grace_ev;
	size_t live; /* requests the loop owns */
	atomic_bool draining; /* written by the loop, read by acceptors too */
	struct server_stats stats;
	struct event *handover_ev; /* server_handover's check; NULL before */
	uint64_t handover_until_ms;
	struct metrics *metrics; /* recorded by both sides, lock-free */
	const char **labels;     /* the metrics' route labels: not_found, the
	                            app's routes, _fcgi_app (the operator
	                            pages); the strings are the app's */
	double start_time;       /* Unix time of server_new */
	/* Lines about 500, 503 and 504 answers (error_limit_index). */
	struct log_limit error_limits[3];
};

#define PENDING(s) (&(s)->lists[LIST_PENDING])

static void on_pending_readable(evutil_socket_t fd, short what, void *arg);
static void on_writable(evutil_socket_t fd, short what, void *arg);

/* ---- log lines about requests ---------------------------------------------- */

/* nginx's $request_id, for every line about r. */
static const char *rid(const struct request *r)
{
	return r->request_id[0] ? r->request_id : "-";
}

static const char *route_name(const struct server *s, const struct request *r)
{
	switch ((enum request_page)r->page) {
	case REQUEST_PAGE_NONE:
		break;
	case REQUEST_PAGE_STATUS:
		return "status";
	case REQUEST_PAGE_STATUS_JSON:
		return "status_json";
	case REQUEST_PAGE_METRICS:
		return "metrics";
	case REQUEST_PAGE_PING:
		return "ping";
	}
	if (r->route)
		return app_route(s->app, r->route)->label;
	return r->allow ? "method_not_allowed" : "not_found";
}

/* --access-log: one line per request, when its answer is sent (or, for
 * status 499, nginx's code for it, when its client went away first). */
static void log_access(const struct server *s, const struct request *r,
                       int status)
{
	if (!s->cfg->access_log)
		return;
	uint64_t us = clock_us() - r->start_us;
	log_info("msg=access method=%s route=%s status=%d duration_ms=%llu.%03llu "
	         "request_id=%s",
	         r->method[0] ? r->method : "-", route_name(s, r), status,
	         (unsigned long long)(us / 1000), (unsigned long long)(us % 1000),
	         rid(r));
}

static int error_limit_index(int status)
{
	return status == 500 ? 0 : status == 503 ? 1 : status == 504 ? 2 : -1;
}

/* A 500, 503 or 504 answer: one line, at most --error-log-rate a second
 * per status (a shed burst or a drain answers thousands at once).  The
 * first line let through after a refusal says how many were refused. */
static void log_error_answer(struct server *s, const struct request *r,
                             int status, const char *why)
{
	int i = error_limit_index(status);
	unsigned long suppressed;
	if (i < 0 || s->cfg->error_log_rate == 0 || /* 0: no lines, no count */
	    !log_limit_allow(&s->error_limits[i], s->cfg->error_log_rate,
	                     &suppressed))
		return;
	char q[512];
	char more[48] = "";
	if (suppressed)
		snprintf(more, sizeof more, " suppressed=%lu", suppressed);
	log_msg(status == 500 ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN,
	        "msg=\"answered %d\" status=%d route=%s request_id=%s "
	        "reason=\"%s\"%s",
	        status, status, route_name(s, r), rid(r), log_quote(q, sizeof q, why),
	        more);
}

static void rlist_push(struct rlist *l, struct request *r)
{
	r->next = NULL;
	r->prev = l->tail;
	if (l->tail)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
	l->n++;
}

static void rlist_unlink(struct rlist *l, struct request *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		l->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		l->tail = r->prev;
	r->prev = r->next = NULL;
	l->n--;
}

static void maybe_exit_loop(struct server *s)
{
	if (s->draining && s->live == 0)
		event_base_loopexit(s->base, NULL);
}

static void stop_watching(struct request *r)
{
	if (r->ev_set) {
		event_del(&r->ev);
		r->ev_set = false;
	}
}

static void watch(struct server *s, struct request *r, short what,
                  event_callback_fn cb, unsigned timeout_s)
{
	stop_watching(r);
	event_assign(&r->ev, s->base, r->fd, what, cb, r);
	r->ev_set = true;
	struct timeval tv = {(time_t)timeout_s, 0};
	event_add(&r->ev, timeout_s ? &tv : NULL);
}

static void unlink_lists(struct server *s, struct request *r)
{
	if (r->list != LIST_NONE) {
		rlist_unlink(&s->lists[r->list], r);
		r->list = LIST_NONE;
	}
}

static void link_list(struct server *s, struct request *r, int list)
{
	unlink_lists(s, r);
	rlist_push(&s->lists[list], r);
	r->list = (uint8_t)list;
}

/* The one place a request is freed.  `holds` keeps it alive while a frame
 * that may have fired its Deferred still looks at it (hiredis' rule: a
 * callback never frees its caller). */
static void release(struct server *s, struct request *r)
{
	if (r->holds > 0 || r->state != REQUEST_DONE)
		return;
	stop_watching(r);
	unlink_lists(s, r);
	if (r->fd >= 0)
		close(r->fd);
	if (r->d)
		deferred_unref(r->d);
	request_free(r);
	s->live--;
	maybe_exit_loop(s);
}

/* The reply is out (or cannot be sent): close, or keep the connection
 * for nginx's next request. */
static void finish(struct server *s, struct request *r, bool close_conn)
{
	if (r->here) {
		/* An acceptor's: nothing of the loop's to undo, and the caller
		 * (answer_here) frees r. */
		r->state = REQUEST_DONE;
		if (!close_conn && r->keep_conn && !r->last_reply &&
		    acceptor_keep(s->acceptor, r->fd) == 0)
			r->fd = -1;
		return;
	}
	stop_watching(r);
	unlink_lists(s, r);
	r->state = REQUEST_DONE;
	if (close_conn || !r->keep_conn || r->last_reply) {
		release(s, r);
		return;
	}
	/* The acceptors wait for nginx's next request on it: no loop event,
	 * no struct request while it idles. */
	int fd = r->fd;
	r->fd = -1;
	release(s, r);
	if (acceptor_keep(s->acceptor, fd) < 0)
		close(fd);
}

/* Sends what is left of r->out; true when all of it is out or the
 * connection is broken (then `broken` is set). */
static bool flush_out(struct request *r, bool *broken)
{
	while (r->out_off < r->out_len) {
		ssize_t n = send(r->fd, r->out + r->out_off, r->out_len - r->out_off,
		                 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			r->out_off += (uint32_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		*broken = true;
		return true;
	}
	return true;
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct request *r = arg;
	struct server *s = r->owner;
	(void)fd;
	bool broken = false;
	if (what & EV_TIMEOUT) {
		log_warn("msg=\"reply not read by nginx, closing\" fd=%d "
		         "request_id=%s", r->fd, rid(r));
		finish(s, r, true);
		return;
	}
	if (flush_out(r, &broken))
		finish(s, r, broken);
}

static void wait_writable(struct server *s, struct request *r)
{
	link_list(s, r, LIST_WRITING);
	watch(s, r, EV_WRITE | EV_PERSIST, on_writable, s->cfg->write_timeout);
}

/* FastCGI cannot say "this connection ends here", and closing a kept
 * connection right after its reply races with nginx, which may already
 * have put it back in its cache and sent the next request into it (a 502:
 * fastcgi_next_upstream is off).  But nginx keeps a connection only when
 * its read ends exactly with END_REQUEST; with any byte after it, nginx
 * finishes the reply and closes the connection itself
 * (ngx_http_fastcgi_input_filter).  So the last reply on a kept connection
 * carries one more record in the same send: a well-formed management
 * record (FCGI_UNKNOWN_TYPE, request id 0) that nginx never parses. */
static const unsigned char last_record[16] = {
	FCGI_VERSION_1, FCGI_UNKNOWN_TYPE, 0, 0, 0, 8, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0,
};

/* Sends a whole reply.  Most go out in one send() from a stack buffer;
 * only a short send leaves a heap copy behind for EV_WRITE. */
static void respond(struct server *s, struct request *r,
                    const struct response *resp)
{
	metrics_record(s->metrics,
	               r->page ? app_nroutes(s->app) + 1 : (size_t)r->route,
	               resp->status, clock_us() - r->start_us);
	/* Closed after this reply instead of kept (see finish): draining, or
	 * handing over (the acceptors keep nothing any more). */
	bool last = r->keep_conn && (s->draining || !acceptor_keeps(s->acceptor));
	r->last_reply = last; /* finish closes it, whatever changed meanwhile */
	size_t extra = last ? sizeof last_record : 0;
	log_access(s, r, resp->status);
	char stack[8192];
	size_t cap = sizeof stack - sizeof last_record;
	size_t len = response_encode(stack, cap, r->id, resp);
	if (len == 0) {
		finish(s, r, true); /* out of memory for a large header block */
		return;
	}
	size_t need = len + extra;
	char *buf = stack;
	if (len > cap) {
		buf = malloc(need);
		if (!buf) {
			log_error("msg=\"out of memory for a reply\" bytes=%zu "
			          "request_id=%s", need, rid(r));
			finish(s, r, true);
			return;
		}
		response_encode(buf, len, r->id, resp);
	}
	if (last)
		memcpy(buf + len, last_record, extra);
	ssize_t n;
	do
		n = send(r->fd, buf, need, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)need || (n < 0 && errno != EAGAIN)) {
		if (buf != stack)
			free(buf);
		finish(s, r, n < 0);
		return;
	}
	size_t sent = n > 0 ? (size_t)n : 0;
	if (buf == stack) {
		buf = malloc(need - sent);
		if (!buf) {
			finish(s, r, true);
			return;
		}
		memcpy(buf, stack + sent, need - sent);
		r->out_len = (uint32_t)(need - sent);
		r->out_off = 0;
	} else {
		r->out_len = (uint32_t)need;
		r->out_off = (uint32_t)sent;
	}
	r->out = buf;
	r->state = REQUEST_WRITING;
	if (!r->here) /* else answer_here hands r to the loop for the rest */
		wait_writable(s, r);
}

/* An error page; `why` (NULL: the page's `detail`) is what the log line
 * about a 500, 503 or 504 says. */
static void respond_page_why(struct server *s, struct request *r, int status,
                             const char *detail, const char *extra_headers,
                             const char *why)
{
	log_error_answer(s, r, status, why ? why : detail);
	char body[1024];
	size_t len = response_page(body, sizeof body, status, detail);
	struct response resp = {.status = status, .body = body, .body_len = len,
	                        .extra_headers = extra_headers, .head = r->head};
	respond(s, r, &resp);
}

static void respond_page(struct server *s, struct request *r, int status,
                         const char *detail, const char *extra_headers)
{
	respond_page_why(s, r, status, detail, extra_headers, NULL);
}

/* A failure at the end of a handler's chain: the one place an error's
 * status and page are decided.  The server's own cancellations first (a
 * timeout's 504, a stop's 503), then the app's error handlers, then the
 * default: 503 for a full pool or a stop, else 500. */
static void respond_failure(struct server *s, struct request *r,
                            const struct failure *f)
{
	char detail[256];
	bool cancelled = failure_check(f, FAILURE_CANCELLED);
	if (cancelled && r->timed_out) {
		s->stats.timed_out++;
		snprintf(detail, sizeof detail,
		         "The request was pending for more than %u seconds.",
		         s->cfg->pending_timeout);
		respond_page(s, r, 504, detail, NULL);
		return;
	}
	if (!(cancelled && s->draining)) {
		struct fcgi_resp *resp = app_error_response(s->app, &r->in, f);
		if (resp) {
			struct response view;
			fcgi_resp_encode_view(resp, &view);
			view.head = r->head;
			respond(s, r, &view);
			fcgi_resp_free(resp);
			return;
		}
	}
	bool full = failure_check(f, FCGI_FAILURE_QUEUE_FULL);
	if (full || failure_check(f, FCGI_FAILURE_SHUTTING_DOWN) ||
	    (cancelled && s->draining)) {
		s->stats.rejected++;
		metrics_reject(s->metrics, full ? METRICS_REJECT_QUEUE_FULL
		                                : METRICS_REJECT_SHUTDOWN);
		respond_page(s, r, 503,
		             s->draining ? "The server is restarting or stopping."
		                         : failure_message(f),
		             "Retry-After: 1\r\n");
		return;
	}
	s->stats.failed++;
	char *text = failure_to_string(f);
	respond_page_why(s, r, 500, "The request failed; see the app's log.", NULL,
	                 text ? text : failure_type(f));
	free(text);
}

/* The callback the server appends to every handler's Deferred, as Klein
 * appends write_response: a response object, a string (the body), or a
 * failure. */
static struct deferred_val on_result(struct deferred_val v, void *arg)
{
	struct request *r = arg;
	struct server *s = r->owner;
	struct fcgi_resp *resp = fcgi_resp_of(v);

	if (r->aborted || r->state == REQUEST_DONE) {
		deferred_val_free(v); /* nobody to answer: Klein suppresses it */
		return deferred_val_none();
	}
	if (v.kind == DEFERRED_VAL_FAILURE) {
		respond_failure(s, r, v.failure);
	} else if (resp) {
		struct response view;
		fcgi_resp_encode_view(resp, &view);
		view.head = r->head;
		respond(s, r, &view);
	} else if (v.kind == DEFERRED_VAL_PTR && v.ptr) {
		const char *body = v.ptr;
		struct response view = {.status = r->status, .body = body,
		                        .body_len = strlen(body), .head = r->head};
		respond(s, r, &view);
	} else {
		s->stats.failed++;
		respond_page(s, r, 500, "The request produced no body.", NULL);
	}
	deferred_val_free(v);
	return deferred_val_none();
}

/* ---- pending requests --------------------------------------------------- */

static void arm_timeout(struct server *s)
{
	if (!PENDING(s)->head) {
		evtimer_del(s->timeout_ev);
		return;
	}
	uint64_t now = clock_ms(), due = PENDING(s)->head->deadline_ms;
	uint64_t wait = due > now ? due - now : 0;
	struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
	evtimer_add(s->timeout_ev, &tv);
}

/* Cancels r's Deferred with r held, so on_result may answer it; then
 * frees it if that finished it. */
static void cancel_request(struct server *s, struct request *r)
{
	r->holds++;
	deferred_cancel(r->d);
	r->holds--;
	if (r->state == REQUEST_PENDING) {
		/* Defensive: deferred_cancel always fires (it errbacks with
		 * CancelledError when nothing else does), so on_result has run;
		 * should that ever change, drop the request rather than leak. */
		finish(s, r, true);
		return;
	}
	release(s, r);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	(void)fd;
	(void)what;
	uint64_t now = clock_ms();
	while (PENDING(s)->head && PENDING(s)->head->deadline_ms <= now) {
		struct request *r = PENDING(s)->head;
		unlink_lists(s, r);
		r->timed_out = true;
		cancel_request(s, r);
	}
	arm_timeout(s);
}

/* EV_READ on a pending request: nginx closed the connection because its
 * client went away (it never sends FCGI_ABORT_REQUEST), or a peer broke
 * the protocol.  Either way the request is over. */
static void on_pending_readable(evutil_socket_t fd, short what, void *arg)
{
	struct request *r = arg;
	struct server *s = r->owner;
	(void)what;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		watch(s, r, EV_READ, on_pending_readable, 0);
		return;
	}
	s->stats.aborted++;
	log_debug("msg=\"client went away\" route=%s request_id=%s",
	          route_name(s, r), rid(r));
	log_access(s, r, 499);
	r->aborted = true;
	r->keep_conn = false;
	unlink_lists(s, r);
	cancel_request(s, r); /* on_result skips it; r is freed after this */
}

static void make_pending(struct server *s, struct request *r)
{
	r->state = REQUEST_PENDING;
	r->deadline_ms = clock_ms() + (uint64_t)s->cfg->pending_timeout * 1000;
	bool was_empty = PENDING(s)->head == NULL;
	link_list(s, r, LIST_PENDING);
	if (was_empty)
		arm_timeout(s);
	watch(s, r, EV_READ, on_pending_readable, 0);
}

/* ---- dispatch ------------------------------------------------------------- */

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
	       s->live + acceptor_idle(s->acceptor) > s->cfg->max_conns;
}

/* The status page's counters, as `name value` lines or as one JSON
 * object with the same names. */
static size_t format_status(struct server *s, char *body, size_t cap,
                            bool json)
{
	const struct {
		const char *name;
		unsigned long long v;
	} c[] = {
		{"pending", PENDING(s)->n},
		{"simple_waiting", fanout_unfired(s->fan)},
		{"idle_connections", acceptor_idle(s->acceptor)},
		{"live_requests", s->live},
		{"pool_size", pool_size(s->pool)},
		{"pool_busy", pool_busy(s->pool)},
		{"pool_queued", pool_queued(s->pool)},
		{"requests_total", s->stats.requests},
		{"aborted_total", s->stats.aborted},
		{"timed_out_total", s->stats.timed_out},
		{"rejected_total", s->stats.rejected},
		{"failed_total", s->stats.failed},
		{"kept_alive_total", s->stats.kept},
	};
	size_t len = 0, n = sizeof c / sizeof c[0];
	for (size_t i = 0; i < n && len < cap; i++) {
		int w = json ? snprintf(body + len, cap - len, "%s\"%s\":%llu%s",
		                        i ? "," : "{", c[i].name, c[i].v,
		                        i + 1 < n ? "" : "}\n")
		             : snprintf(body + len, cap - len, "%s %llu\n",
		                        c[i].name, c[i].v);
		len += w > 0 ? (size_t)w : 0;
	}
	return len < cap ? len : cap - 1; /* the page's 1 KB holds it all */
}

/* Open fds: the entries of /proc/self/fd, less the one reading it.  A
 * scrape with 20,000 held requests reads 20,000 entries: a few ms, on
 * the operator's request only.  With no fd left to read it, every fd is
 * open: `limit`. */
/* At the fd limit /proc/self/fd cannot be opened: the app has them all. */
static uint64_t open_fds_at(uint64_t limit)
{
	long n = config_open_fds();
	if (n >= 0)
		return (uint64_t)n;
	return errno == EMFILE || errno == ENFILE ? limit : 0;
}

static void respond_metrics(struct server *s, struct request *r)
{
	struct rlimit rl = {0};
	getrlimit(RLIMIT_NOFILE, &rl);
	uint64_t max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
	unsigned busy = pool_busy(s->pool), size = pool_size(s->pool);
	struct metrics_gauges g = {
		.pending = PENDING(s)->n,
		.simple_waiting = fanout_unfired(s->fan),
		.pool_busy = busy,
		.pool_idle = size > busy ? size - busy : 0,
		.pool_queued = pool_queued(s->pool),
		.idle_connections = acceptor_idle(s->acceptor),
		.timed_out_total = s->stats.timed_out,
		.aborted_total = s->stats.aborted,
		.kept_alive_total = s->stats.kept,
		.max_pending = s->cfg->max_pending,
		.open_fds = open_fds_at(max_fds),
		.max_fds = max_fds,
		.start_time = s->start_time,
		.version = FCGI_APP_VERSION,
	};
	/* The acceptor threads go on recording while this renders, so a
	 * second render may need more than the first asked for: grow until
	 * the text fits (with slack, so one more line does not cost a third
	 * pass), never sending more than the buffer holds. */
	size_t cap = 16384;
	char *body = malloc(cap);
	size_t n = body ? metrics_render(s->metrics, &g, body, cap) : 0;
	while (body && n >= cap) {
		free(body);
		cap = n + 1 + 1024;
		body = malloc(cap);
		if (body)
			n = metrics_render(s->metrics, &g, body, cap);
	}
	if (!body) {
		log_error("msg=\"out of memory for the metrics\"");
		respond_page(s, r, 500, "The server is out of memory.", NULL);
		return;
	}
	struct response resp = {.status = 200,
	                        .content_type = METRICS_CONTENT_TYPE,
	                        .body = body, .body_len = n, .head = r->head};
	respond(s, r, &resp);
	free(body); /* respond copied what it could not send */
}

/* The pages nginx's loopback-only locations ask for (request_page).  They
 * run on the loop, which reads the loop's own state for them: a ping
 * that answers says the loop turns. */
static void respond_operator_page(struct server *s, struct request *r)
{
	char body[1024];
	struct response resp = {.status = 200, .content_type = RESPONSE_TEXT,
	                        .body = body, .head = r->head};
	switch ((enum request_page)r->page) {
	case REQUEST_PAGE_METRICS:
		respond_metrics(s, r);
		return;
	case REQUEST_PAGE_PING:
		resp.body = "pong";
		resp.body_len = 4;
		break;
	case REQUEST_PAGE_STATUS_JSON:
		resp.content_type = RESPONSE_JSON;
		resp.body_len = format_status(s, body, sizeof body, true);
		break;
	default:
		resp.body_len = format_status(s, body, sizeof body, false);
		break;
	}
	respond(s, r, &resp);
}

static void begin(struct server *s, struct request *r)
{
	s->stats.requests++;
	s->stats.kept += r->reused;
	r->owner = s;
	r->status = 200;
}

/* Answers what needs no handler: the acceptor's own verdict (400, 413),
 * then (unless r asks for an operator page) a path no route takes (404,
 * or 405 with Allow). */
static bool answer_early(struct server *s, struct request *r)
{
	if (r->early_status == 413) {
		char detail[128];
		snprintf(detail, sizeof detail,
		         "The request body is larger than %zu bytes.",
		         s->cfg->max_body);
		respond_page(s, r, 413, detail, NULL);
		return true;
	}
	if (r->early_status) {
		respond_page(s, r, 400, "The request could not be understood.", NULL);
		return true;
	}
	if (r->page)
		return false;
	if (r->route == APP_NO_ROUTE && r->allow) {
		char allow[96], line[128];
		app_allow_header(r->allow, allow, sizeof allow);
		snprintf(line, sizeof line, "Allow: %s\r\n", allow);
		respond_page(s, r, 405,
		             "The resource does not take this request method.", line);
		return true;
	}
	if (r->route == APP_NO_ROUTE) {
		respond_page(s, r, 404, "No such resource.", NULL);
		return true;
	}
	return false;
}

/* Whether pending one more request would pass --max-pending or the fd
 * budget; answers it 503 if so. */
static bool refuse_pending(struct server *s, struct request *r)
{
	bool too_many = PENDING(s)->n >= s->cfg->max_pending;
	if (!too_many && !conns_full(s))
		return false;
	s->stats.rejected++;
	metrics_reject(s->metrics, too_many ? METRICS_REJECT_MAX_PENDING
	                                    : METRICS_REJECT_FD_LIMIT);
	char detail[128];
	if (too_many)
		snprintf(detail, sizeof detail,
		         "Too many pending requests (the limit is %u).",
		         s->cfg->max_pending);
	else
		snprintf(detail, sizeof detail,
		         "Too many open connections for the file descriptor "
		         "limit (%u).", s->cfg->max_conns);
	respond_page(s, r, 503, detail, "Retry-After: 1\r\n");
	return true;
}

/* Runs r's handler with on_result appended.  When this returns, r is
 * answered, or pending (REQUEST_NEW: the caller makes it so).  A request
 * whose Deferred has not fired is admitted only within --max-pending and
 * the fd budget: past them it is answered 503 and its Deferred cancelled
 * (its cancellers undo what the handler started).  On an acceptor thread
 * (r->here) it must have fired: else 500. */
static void run_route(struct server *s, struct request *r)
{
	const struct app_route *rt = app_route(s->app, r->route);
	bool loop = !r->here;
	uint64_t fires = loop ? fanout_fire_calls(s->fan) : 0;
	r->in.app = s->app;
	r->holds++;
	r->d = rt->handler(&r->in, rt->data);
	if (!r->d || deferred_add_both(r->d, on_result, r, NULL) < 0) {
		if (r->d) {
			deferred_cancel(r->d);
			deferred_unref(r->d);
			r->d = NULL;
		}
		s->stats.rejected++;
		metrics_reject(s->metrics, METRICS_REJECT_OUT_OF_MEMORY);
		respond_page(s, r, 503, "The server is out of memory.",
		             "Retry-After: 1\r\n");
	}
	if (!(rt->flags & FCGI_ROUTE_KEEP_INPUT))
		request_input_free(r);
	if (r->state == REQUEST_NEW) {
		bool refused = false;
		if (r->here) {
			log_error("msg=\"route did not complete at once\" route=%s "
			          "request_id=%s", rt->label, rid(r));
			s->stats.failed++;
			respond_page(s, r, 500, "The route did not complete at once.",
			             NULL);
			refused = true;
		} else {
			refused = refuse_pending(s, r);
		}
		if (refused)
			deferred_cancel(r->d); /* on_result sees it answered */
	} else if (!loop || fanout_fire_calls(s->fan) == fires) {
		/* Answered at once without firing an event: a request someone
		 * waits for now, which a fire in progress lets go first. */
		fanout_note_foreground(s->fan);
	}
	r->holds--;
}

static void dispatch(struct server *s, struct request *r)
{
	if (r->state == REQUEST_WRITING) {
		/* An acceptor answered it; the rest of the reply waits for
		 * nginx to read. */
		wait_writable(s, r);
		return;
	}
	begin(s, r);
	if (answer_early(s, r))
		return;
	if (r->page) {
		respond_operator_page(s, r);
		return;
	}
	if (s->draining) {
		s->stats.rejected++;
		metrics_reject(s->metrics, METRICS_REJECT_SHUTDOWN);
		respond_page(s, r, 503, "The server is restarting or stopping.",
		             "Retry-After: 1\r\n");
		return;
	}
	run_route(s, r);
	if (r->state == REQUEST_NEW)
		make_pending(s, r); /* its Deferred has not fired */
	else
		release(s, r);
}

static void on_inbox(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	(void)fd;
	(void)what;
	/* Activations merge, so take everything queued since the last run. */
	pthread_mutex_lock(&s->inbox_mu);
	struct request *r = s->inbox_head;
	s->inbox_head = s->inbox_tail = NULL;
	pthread_mutex_unlock(&s->inbox_mu);
	while (r) {
		struct request *next = r->next;
		r->next = NULL;
		s->live++;
		dispatch(s, r);
		r = next;
	}
}

/* Acceptor thread: answers r right here when nothing of the loop's is
 * needed: the acceptor's own 400/413, a 404 or 405, or a route registered
 * FCGI_ROUTE_ANY_THREAD.  Such a request never wakes the loop, nor waits
 * behind it (a fire's batches, say): one thread hand-off less per request.
 * The loop keeps what may wait, the counters page (its state) and
 * everything once it drains.  False: the loop must take r (then r is
 * either untouched or, its reply partly sent, REQUEST_WRITING). */
static bool answer_here(struct server *s, struct request *r)
{
	const struct app_route *rt = app_route(s->app, r->route);
	if (r->page || s->draining ||
	    (!r->early_status && rt && !(rt->flags & FCGI_ROUTE_ANY_THREAD)))
		return false;
	r->here = true;
	begin(s, r);
	if (!answer_early(s, r))
		run_route(s, r);
	r->here = false;
	if (r->state == REQUEST_WRITING)
		return false;
	if (r->fd >= 0)
		close(r->fd);
	if (r->d)
		deferred_unref(r->d);
	request_free(r);
	return true;
}

void server_deliver(void *server, struct request *r)
{
	struct server *s = server;
	if (answer_here(s, r))
		return;
	/* The reader's buffers are the acceptor's next request's: the loop
	 * gets its own copy of what the handler may read. */
	if (r->in.params && r->state == REQUEST_NEW && !r->page &&
	    !r->early_status && r->route)
		request_input_own(r);
	else
		request_input_free(r);
	r->next = NULL;
	pthread_mutex_lock(&s->inbox_mu);
	if (s->inbox_tail)
		s->inbox_tail->next = r;
	else
		s->inbox_head = r;
	s->inbox_tail = r;
	pthread_mutex_unlock(&s->inbox_mu);
	event_active(s->inbox_ev, EV_READ, 0);
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
	s->app = app;
	s->fan = fan;
	for (size_t i = 0; i < 3; i++)
		s->error_limits[i] = (struct log_limit)LOG_LIMIT_INIT;
	pthread_mutex_init(&s->inbox_mu, NULL);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	s->start_time = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	size_t n = app_nroutes(app);
	s->labels = malloc((n + 2) * sizeof *s->labels);
	if (s->labels) {
		s->labels[0] = "not_found";
		for (size_t i = 1; i <= n; i++)
			s->labels[i] = app_route(app, (unsigned)i)->label;
		s->labels[n + 1] = "_fcgi_app";
		s->metrics = metrics_new(s->labels, (unsigned)n + 2);
	}
	s->inbox_ev = event_new(base, -1, 0, on_inbox, s);
	s->timeout_ev = evtimer_new(base, on_timeout, s);
	if (!s->metrics || !s->inbox_ev || !s->timeout_ev) {
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
		.app = s->app,
		.idle_timeout_s = s->cfg->idle_timeout,
		.max_params = s->cfg->max_params,
		.max_pending = s->cfg->max_pending,
		.max_conns = s->cfg->max_conns,
	};
	return acceptor_start(&s->acceptor, listen_fd, &o, server_deliver, s);
}

size_t server_pending(const struct server *s)
{
	return PENDING(s)->n;
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	(void)fd;
	(void)what;
	log_warn("msg=\"shutdown grace over\" unfinished=%zu", s->live);
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
	size_t busy = acceptor_busy(s->acceptor);
	if (busy > 0 && clock_ms() < s->handover_until_ms)
		return;
	if (busy > 0)
		log_warn("msg=\"handover time over\" connections=%zu", busy);
	server_drain(s);
}

void server_handover(struct server *s)
{
	if (s->draining || s->handover_ev) {
		server_drain(s);
		return;
	}
	s->handover_until_ms = clock_ms() + s->cfg->handover_ms;
	s->handover_ev = event_new(s->base, -1, EV_PERSIST, on_handover, s);
	acceptor_unlisten(s->acceptor);
	log_info("msg=\"handing over\" connections=%zu pending=%zu "
	         "handover_ms=%u", acceptor_busy(s->acceptor), PENDING(s)->n,
	         s->cfg->handover_ms);
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
	if (s->draining) {
		log_warn("msg=\"second stop signal, exiting now\" unfinished=%zu",
		         s->live);
		event_base_loopexit(s->base, NULL);
		return;
	}
	s->draining = true;
	log_info("msg=draining pending=%zu idle=%zu", PENDING(s)->n,
	         acceptor_idle(s->acceptor));
	/* Joining is quick: the threads sit in epoll_wait(); one in the middle
	 * of a stalled read takes at most read_timeout_ms.  Idle kept
	 * connections are closed with it. */
	acceptor_stop(s->acceptor);
	s->acceptor = NULL;
	on_inbox(-1, 0, s); /* requests parsed before the stop: 503 */
	pool_stop(s->pool); /* queued jobs errback: 503 */
	while (PENDING(s)->head)
		cancel_request(s, PENDING(s)->head);
	s->grace_ev = evtimer_new(s->base, on_grace, s);
	struct timeval tv = {(time_t)s->cfg->shutdown_grace, 0};
	if (s->grace_ev)
		evtimer_add(s->grace_ev, &tv);
	maybe_exit_loop(s);
}

/* At exit: no replies, but no Deferred may call back into a freed
 * request either, so each is cancelled while marked aborted. */
static void drop_list(struct server *s, struct rlist *l)
{
	while (l->head) {
		struct request *r = l->head;
		unlink_lists(s, r);
		r->aborted = true;
		if (r->d && r->state == REQUEST_PENDING)
			deferred_cancel(r->d);
		r->state = REQUEST_DONE;
		r->holds = 0;
		release(s, r);
	}
}

void server_free(struct server *s)
{
	if (!s)
		return;
	acceptor_stop(s->acceptor);
	s->acceptor = NULL; /* a reply finished below closes, never keeps */
	for (int i = LIST_PENDING; i < LIST_COUNT; i++)
		drop_list(s, &s->lists[i]);
	struct request *r = s->inbox_head;
	while (r) {
		struct request *next = r->next;
		close(r->fd);
		if (r->d) /* a reply an acceptor handed over part-sent */
			deferred_unref(r->d);
		request_free(r);
		r = next;
	}
	if (s->inbox_ev)
		event_free(s->inbox_ev);
	if (s->timeout_ev)
		event_free(s->timeout_ev);
	if (s->grace_ev)
		event_free(s->grace_ev);
	if (s->handover_ev)
		event_free(s->handover_ev);
	/* What the limits held back since their last line. */
	static const int statuses[] = {500, 503, 504};
	for (size_t i = 0; i < 3; i++) {
		unsigned long n = log_limit_take_suppressed(&s->error_limits[i]);
		if (n)
			log_warn("msg=\"lines about answers suppressed\" status=%d "
			         "suppressed=%lu", statuses[i], n);
		pthread_mutex_destroy(&s->error_limits[i].mu);
	}
	pthread_mutex_destroy(&s->inbox_mu);
	metrics_free(s->metrics);
	free(s->labels);
	free(s);
}
