/*
 * answer: turns a request's outcome into its reply, on either thread that
 * may answer: the loop, or the acceptor that read a request it can answer
 * at once (answer_quick).
 *
 * Everything the reply depends on is here once: the result -> response
 * conversion (a response object, a string body, or a failure through the
 * app's error handlers and then reply.h's table), the counters and
 * metrics, the access and error log lines, the decision that a reply is
 * its connection's last, the encode and the first send.  An answer leaves
 * the request REQUEST_DONE (reply out, or the connection broken: then
 * keep_conn is false) or REQUEST_UNSENT (the rest in r->out, for the
 * loop's conn_set_state(WRITING)); its owner then ends it.
 *
 * Threads: every function may run on the loop or, inside server_deliver,
 * on an acceptor thread; the counters are atomic and the log limits
 * locked.  The app's error handlers run on the thread that answers.
 */
#ifndef FCGI_APP_ANSWER_H
#define FCGI_APP_ANSWER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "deferred.h"
#include "log.h"
#include "reply.h"

struct acceptor;
struct config;
struct fanout;
struct fcgi_app;
struct metrics;
struct request;

struct answer_stats {
	_Atomic uint64_t requests;  /* dispatched */
	_Atomic uint64_t aborted;   /* client went away while pending */
	_Atomic uint64_t timed_out; /* pending timeout: 504 */
	_Atomic uint64_t rejected;  /* 503: a cap, a full queue, or shutdown */
	_Atomic uint64_t failed;    /* 500: a handler's unexpected failure */
	_Atomic uint64_t kept;      /* requests that came on a kept connection */
};

struct answer {
	const struct config *cfg;
	struct fcgi_app *app;
	struct fanout *fan;
	struct metrics *metrics;  /* recorded by both sides, lock-free */
	const char **labels;      /* the metrics' route labels: not_found, the
	                             app's routes, _fcgi_app (the operator
	                             pages); the strings are the app's */
	/* Set before the acceptor threads start, NULL once they are joined
	 * (the drain): the loop writes it only when no acceptor runs. */
	struct acceptor *acceptor;
	atomic_bool draining;     /* written by the loop, read by both */
	struct answer_stats stats;
	struct log_limit error_limits[3]; /* 500, 503, 504 lines */
};

/* Borrows cfg, app and fan.  0, or -ENOMEM. */
int answer_init(struct answer *a, const struct config *cfg,
                struct fcgi_app *app, struct fanout *fan);
/* Logs what the error limits held back; frees the metrics. */
void answer_fini(struct answer *a);

/* A request starts being answered (counted once). */
void answer_begin(struct answer *a, struct request *r);

/* Sends resp as r's reply (see above). */
void answer_send(struct answer *a, struct request *r,
                 const struct response *resp);

/* Sends error e's page.  `detail` (NULL: the table's) replaces the page's
 * sentence; `why` (NULL: the sentence) is what the log line about a 500,
 * 503 or 504 says. */
void answer_error(struct answer *a, struct request *r, enum reply_error e,
                  const char *detail, const char *why);

/* Answers what needs no handler: the acceptor's 400/413, then (unless r
 * asks for an operator page) a path no route takes (404, or 405 with
 * Allow).  False when r needs more. */
bool answer_early(struct answer *a, struct request *r);

/* Answers r with a handler's result (borrowed: the caller frees it): a
 * response object, a string body with r->status, or a failure: a pending
 * timeout's cancellation (`expired`) is 504, else the app's error handlers
 * decide, else reply_failure_error. */
void answer_value(struct answer *a, struct request *r, struct deferred_val v,
                  bool expired);

/* nginx closed a pending request's connection: counted and logged
 * (status 499, nginx's code for it). */
void answer_gone(struct answer *a, struct request *r);

/* The route name of log lines and the metrics' label of r. */
const char *answer_route_name(const struct answer *a, const struct request *r);

enum answer_quick {
	ANSWER_QUICK_NO,     /* r needs the loop: untouched */
	ANSWER_QUICK_DONE,   /* answered and freed (its kept connection back
	                        with the acceptors) */
	ANSWER_QUICK_UNSENT, /* answered, reply partly sent: the loop must
	                        take r (REQUEST_UNSENT) */
};

/* Acceptor thread, inside server_deliver: answers r right there when
 * nothing of the loop's is needed: the acceptor's own 400/413, a 404 or
 * 405, or a route registered FCGI_ROUTE_ANY_THREAD (which must complete
 * at once, else 500).  `keep` takes the kept connection back. */
enum answer_quick answer_quick(struct answer *a, struct request *r,
                               int (*keep)(void *ctx, int fd), void *ctx);

#endif
