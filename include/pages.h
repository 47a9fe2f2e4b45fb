/*
 * pages: the operator pages nginx's loopback-only locations ask for
 * (request_page): the status counters (text or JSON), the Prometheus
 * metrics, ping.  They run on the loop and read the loop's own state, so
 * a ping that answers says the loop turns.
 */
#ifndef FCGI_APP_PAGES_H
#define FCGI_APP_PAGES_H

#include <stddef.h>

struct answer;
struct fanout;
struct pool;
struct request;

/* What the pages show, besides the answer's counters and metrics. */
struct pages_src {
	struct answer *ans;
	struct pool *pool;
	struct fanout *fan;
	size_t pending;    /* pending requests */
	size_t live;       /* requests the loop owns */
	double start_time; /* Unix time the server started */
};

/* Answers r (r->page set) with its page (answer_send). */
void pages_answer(const struct pages_src *src, struct request *r);

/* The status page's counters into body (cap bytes), as `name value`
 * lines or one JSON object; returns the length. */
size_t pages_status(const struct pages_src *src, char *body, size_t cap,
                    int json);

#endif
