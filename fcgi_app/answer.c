/* answer: a request's outcome -> its reply, on either thread (see
 * answer.h). */
#include "answer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acceptor.h"
#include "app.h"
#include "clock.h"
#include "config.h"
#include "failure.h"
#include "fanout.h"
#include "fcgi_resp.h"
#include "metrics.h"
#include "request.h"

int answer_init(struct answer *a, const struct config *cfg,
                struct fcgi_app *app, struct fanout *fan)
{
	memset(a, 0, sizeof *a);
	a->cfg = cfg;
	a->app = app;
	a->fan = fan;
	for (size_t i = 0; i < 3; i++)
		a->error_limits[i] = (struct log_limit)LOG_LIMIT_INIT;
	size_t n = app_nroutes(app);
	a->labels = malloc((n + 2) * sizeof *a->labels);
	if (!a->labels)
		return -ENOMEM;
	a->labels[0] = "not_found";
	for (size_t i = 1; i <= n; i++)
		a->labels[i] = app_route(app, (unsigned)i)->label;
	a->labels[n + 1] = "_fcgi_app";
	a->metrics = metrics_new(a->labels, (unsigned)n + 2);
	return a->metrics ? 0 : -ENOMEM;
}

void answer_fini(struct answer *a)
{
	static const int statuses[] = {500, 503, 504};
	for (size_t i = 0; i < 3; i++) {
		unsigned long n = log_limit_take_suppressed(&a->error_limits[i]);
		if (n)
			log_warn("msg=\"lines about answers suppressed\" status=%d "
			         "suppressed=%lu", statuses[i], n);
		pthread_mutex_destroy(&a->error_limits[i].mu);
	}
	metrics_free(a->metrics);
	free(a->labels);
	a->metrics = NULL;
	a->labels = NULL;
}

const char *answer_route_name(const struct answer *a, const struct request *r)
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
		return app_route(a->app, r->route)->label;
	return r->allow ? "method_not_allowed" : "not_found";
}

/* --access-log: one line per request, when its answer is sent (or, for
 * status 499, nginx's code for it, when its client went away first). */
static void log_access(const struct answer *a, const struct request *r,
                       int status)
{
	if (!a->cfg->access_log)
		return;
	uint64_t us = clock_us() - r->start_us;
	log_info("msg=access method=%s route=%s status=%d duration_ms=%llu.%03llu "
	         "request_id=%s",
	         r->method[0] ? r->method : "-", answer_route_name(a, r), status,
	         (unsigned long long)(us / 1000), (unsigned long long)(us % 1000),
	         request_rid(r));
}

static int error_limit_index(int status)
{
	return status == 500 ? 0 : status == 503 ? 1 : status == 504 ? 2 : -1;
}

/* A 500, 503 or 504 answer: one line, at most --error-log-rate a second
 * per status (a shed burst or a drain answers thousands at once).  The
 * first line let through after a refusal says how many were refused. */
static void log_error_answer(struct answer *a, const struct request *r,
                             int status, const char *why)
{
	int i = error_limit_index(status);
	unsigned long suppressed;
	if (i < 0 || a->cfg->error_log_rate == 0 || /* 0: no lines, no count */
	    !log_limit_allow(&a->error_limits[i], a->cfg->error_log_rate,
	                     &suppressed))
		return;
	char q[512];
	char more[48] = "";
	if (suppressed)
		snprintf(more, sizeof more, " suppressed=%lu", suppressed);
	log_msg(status == 500 ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN,
	        "msg=\"answered %d\" status=%d route=%s request_id=%s "
	        "reason=\"%s\"%s",
	        status, status, answer_route_name(a, r), request_rid(r),
	        log_quote(q, sizeof q, why), more);
}

void answer_begin(struct answer *a, struct request *r)
{
	a->stats.requests++;
	a->stats.kept += r->reused;
	r->status = 200;
}

void answer_send(struct answer *a, struct request *r,
                 const struct response *resp)
{
	metrics_record(a->metrics,
	               r->page ? app_nroutes(a->app) + 1 : (size_t)r->route,
	               resp->status, clock_us() - r->start_us);
	/* Closed after this reply instead of kept: draining, or handing over
	 * (the acceptors keep nothing any more).  Decided here, whatever
	 * changes before the reply is out. */
	bool last = r->keep_conn && (a->draining || !acceptor_keeps(a->acceptor));
	if (last)
		r->keep_conn = false;
	log_access(a, r, resp->status);
	r->state = REQUEST_DONE;
	char stack[8192];
	size_t len;
	char *buf = reply_encode(stack, sizeof stack, r->id, resp, last, &len);
	if (!buf) {
		log_error("msg=\"out of memory for a reply\" request_id=%s",
		          request_rid(r));
		r->keep_conn = false;
		return;
	}
	ssize_t n = reply_send(r->fd, buf, len);
	if (n < 0 || (size_t)n == len) {
		if (buf != stack)
			free(buf);
		if (n < 0)
			r->keep_conn = false;
		return;
	}
	/* nginx took part of it: the rest waits for EV_WRITE on the loop. */
	size_t sent = (size_t)n;
	if (buf == stack) {
		buf = malloc(len - sent);
		if (!buf) {
			r->keep_conn = false;
			return;
		}
		memcpy(buf, stack + sent, len - sent);
		r->out_len = (uint32_t)(len - sent);
		r->out_off = 0;
	} else {
		r->out_len = (uint32_t)len;
		r->out_off = (uint32_t)sent;
	}
	r->out = buf;
	r->state = REQUEST_UNSENT;
}

static unsigned long long error_param(const struct answer *a,
                                      enum reply_param p)
{
	switch (p) {
	case REPLY_PARAM_NONE:
		break;
	case REPLY_PARAM_MAX_BODY:
		return a->cfg->max_body;
	case REPLY_PARAM_MAX_PENDING:
		return a->cfg->max_pending;
	case REPLY_PARAM_MAX_CONNS:
		return a->cfg->max_conns;
	case REPLY_PARAM_PENDING_TIMEOUT:
		return a->cfg->pending_timeout;
	}
	return 0;
}

void answer_error(struct answer *a, struct request *r, enum reply_error e,
                  const char *detail, const char *why)
{
	const struct reply_error_kind *k = reply_error_kind(e);
	switch (k->counter) {
	case REPLY_COUNT_NONE:
		break;
	case REPLY_COUNT_REJECTED:
		a->stats.rejected++;
		break;
	case REPLY_COUNT_FAILED:
		a->stats.failed++;
		break;
	case REPLY_COUNT_TIMED_OUT:
		a->stats.timed_out++;
		break;
	}
	if (k->reject >= 0)
		metrics_reject(a->metrics, (enum metrics_reject)k->reject);
	char allow[96];
	if (e == REPLY_NOT_ALLOWED)
		app_allow_header(r->allow, allow, sizeof allow);
	struct reply_page p;
	reply_error_page(&p, e, error_param(a, k->param), detail,
	                 e == REPLY_NOT_ALLOWED ? allow : NULL, r->head);
	log_error_answer(a, r, k->status, why ? why : p.detail);
	answer_send(a, r, &p.resp);
}

bool answer_early(struct answer *a, struct request *r)
{
	if (r->early_status == 413)
		answer_error(a, r, REPLY_TOO_LARGE, NULL, NULL);
	else if (r->early_status)
		answer_error(a, r, REPLY_BAD_REQUEST, NULL, NULL);
	else if (r->page)
		return false;
	else if (r->route == APP_NO_ROUTE)
		answer_error(a, r, r->allow ? REPLY_NOT_ALLOWED : REPLY_NOT_FOUND,
		             NULL, NULL);
	else
		return false;
	return true;
}

static void answer_failure(struct answer *a, struct request *r,
                           const struct failure *f, bool expired)
{
	bool cancelled = failure_check(f, FAILURE_CANCELLED);
	/* The server's own cancellations first (a timeout's 504, a stop's
	 * 503), then the app's error handlers, then the table's default. */
	if (!(cancelled && (expired || a->draining))) {
		struct fcgi_resp *resp = app_error_response(a->app, &r->in, f);
		if (resp) {
			struct response view;
			fcgi_resp_encode_view(resp, &view);
			view.head = r->head;
			answer_send(a, r, &view);
			fcgi_resp_free(resp);
			return;
		}
	}
	enum reply_error e = reply_failure_error(f, expired, a->draining);
	if (e == REPLY_QUEUE_FULL || e == REPLY_SHUTDOWN) {
		answer_error(a, r, e, a->draining ? NULL : failure_message(f), NULL);
	} else if (e == REPLY_FAILED) {
		char *text = failure_to_string(f);
		answer_error(a, r, e, NULL, text ? text : failure_type(f));
		free(text);
	} else {
		answer_error(a, r, e, NULL, NULL);
	}
}

void answer_value(struct answer *a, struct request *r, struct deferred_val v,
                  bool expired)
{
	struct fcgi_resp *resp = fcgi_resp_of(v);
	if (v.kind == DEFERRED_VAL_FAILURE) {
		answer_failure(a, r, v.failure, expired);
	} else if (resp) {
		struct response view;
		fcgi_resp_encode_view(resp, &view);
		view.head = r->head;
		answer_send(a, r, &view);
	} else if (v.kind == DEFERRED_VAL_PTR && v.ptr) {
		const char *body = v.ptr;
		struct response view = {.status = r->status, .body = body,
		                        .body_len = strlen(body), .head = r->head};
		answer_send(a, r, &view);
	} else {
		answer_error(a, r, REPLY_NO_BODY, NULL, NULL);
	}
}

void answer_gone(struct answer *a, struct request *r)
{
	a->stats.aborted++;
	log_debug("msg=\"client went away\" route=%s request_id=%s",
	          answer_route_name(a, r), request_rid(r));
	log_access(a, r, 499);
}

/* The quick path's Deferred callback: keeps the result for the caller,
 * which answers after the handler has returned. */
struct quick_slot {
	bool fired;
	struct deferred_val v;
};

static struct deferred_val quick_capture(struct deferred_val v, void *arg)
{
	struct quick_slot *slot = arg;
	if (slot->fired) {
		deferred_val_free(v); /* cancelled after the answer */
	} else {
		slot->fired = true;
		slot->v = v;
	}
	return deferred_val_none();
}

/* Runs an any-thread route's handler and answers its result, which must
 * be there when the handler returns. */
static void quick_route(struct answer *a, struct request *r,
                        const struct app_route *rt)
{
	struct quick_slot slot = {0};
	r->in.app = a->app;
	r->d = rt->handler(&r->in, rt->data);
	if (!r->d || deferred_add_both(r->d, quick_capture, &slot, NULL) < 0) {
		if (r->d) {
			deferred_cancel(r->d);
			deferred_unref(r->d);
			r->d = NULL;
		}
		answer_error(a, r, REPLY_OUT_OF_MEMORY, NULL, NULL);
		return;
	}
	if (!slot.fired) {
		log_error("msg=\"route did not complete at once\" route=%s "
		          "request_id=%s", rt->label, request_rid(r));
		answer_error(a, r, REPLY_NOT_AT_ONCE, NULL, NULL);
		slot.fired = true; /* the cancellation's result is dropped */
		deferred_cancel(r->d);
		return;
	}
	answer_value(a, r, slot.v, false);
	deferred_val_free(slot.v);
	/* Answered at once: a request someone waits for now, which a fire in
	 * progress lets go first. */
	fanout_note_foreground(a->fan);
}

enum answer_quick answer_quick(struct answer *a, struct request *r,
                               int (*keep)(void *ctx, int fd), void *ctx)
{
	const struct app_route *rt = app_route(a->app, r->route);
	if (r->page || a->draining ||
	    (!r->early_status && rt && !(rt->flags & FCGI_ROUTE_ANY_THREAD)))
		return ANSWER_QUICK_NO;
	answer_begin(a, r);
	if (!answer_early(a, r))
		quick_route(a, r, rt);
	if (r->state == REQUEST_UNSENT)
		return ANSWER_QUICK_UNSENT;
	request_end(r, keep, ctx);
	return ANSWER_QUICK_DONE;
}
