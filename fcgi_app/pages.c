/* pages: the operator pages (see pages.h). */
#include "pages.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "acceptor.h"
#include "answer.h"
#include "config.h"
#include "fanout.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "request.h"
#include "response.h"

size_t pages_status(const struct pages_src *src, char *body, size_t cap,
                    int json)
{
	const struct answer_stats *st = &src->ans->stats;
	const struct {
		const char *name;
		unsigned long long v;
	} c[] = {
		{"pending", src->pending},
		{"simple_waiting", fanout_unfired(src->fan)},
		{"idle_connections", acceptor_idle(src->ans->acceptor)},
		{"live_requests", src->live},
		{"pool_size", pool_size(src->pool)},
		{"pool_busy", pool_busy(src->pool)},
		{"pool_queued", pool_queued(src->pool)},
		{"requests_total", st->requests},
		{"aborted_total", st->aborted},
		{"timed_out_total", st->timed_out},
		{"rejected_total", st->rejected},
		{"failed_total", st->failed},
		{"kept_alive_total", st->kept},
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

/* Open fds (config_open_fds).  A scrape with 20,000 held requests reads
 * 20,000 entries of /proc/self/fd: a few ms, on the operator's request
 * only.  At the fd limit /proc/self/fd cannot be opened: the app has them
 * all, `limit`. */
static uint64_t open_fds_at(uint64_t limit)
{
	long n = config_open_fds();
	if (n >= 0)
		return (uint64_t)n;
	return errno == EMFILE || errno == ENFILE ? limit : 0;
}

static void answer_metrics(const struct pages_src *src, struct request *r)
{
	struct answer *a = src->ans;
	struct rlimit rl = {0};
	getrlimit(RLIMIT_NOFILE, &rl);
	uint64_t max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
	unsigned busy = pool_busy(src->pool), size = pool_size(src->pool);
	struct metrics_gauges g = {
		.pending = src->pending,
		.simple_waiting = fanout_unfired(src->fan),
		.pool_busy = busy,
		.pool_idle = size > busy ? size - busy : 0,
		.pool_queued = pool_queued(src->pool),
		.idle_connections = acceptor_idle(a->acceptor),
		.timed_out_total = a->stats.timed_out,
		.aborted_total = a->stats.aborted,
		.kept_alive_total = a->stats.kept,
		.max_pending = a->cfg->max_pending,
		.open_fds = open_fds_at(max_fds),
		.max_fds = max_fds,
		.start_time = src->start_time,
		.version = FCGI_APP_VERSION,
	};
	/* The acceptor threads go on recording while this renders, so a
	 * second render may need more than the first asked for: grow until
	 * the text fits (with slack, so one more line does not cost a third
	 * pass), never sending more than the buffer holds. */
	size_t cap = 16384;
	char *body = malloc(cap);
	size_t n = body ? metrics_render(a->metrics, &g, body, cap) : 0;
	while (body && n >= cap) {
		free(body);
		cap = n + 1 + 1024;
		body = malloc(cap);
		if (body)
			n = metrics_render(a->metrics, &g, body, cap);
	}
	if (!body) {
		log_error("msg=\"out of memory for the metrics\"");
		answer_error(a, r, REPLY_PAGE_NO_MEMORY, NULL, NULL);
		return;
	}
	struct response resp = {.status = 200,
	                        .content_type = METRICS_CONTENT_TYPE,
	                        .body = body, .body_len = n, .head = r->head};
	answer_send(a, r, &resp);
	free(body); /* answer_send copied what it could not send */
}

void pages_answer(const struct pages_src *src, struct request *r)
{
	char body[1024];
	struct response resp = {.status = 200, .content_type = RESPONSE_TEXT,
	                        .body = body, .head = r->head};
	switch ((enum request_page)r->page) {
	case REQUEST_PAGE_METRICS:
		answer_metrics(src, r);
		return;
	case REQUEST_PAGE_PING:
		resp.body = "pong";
		resp.body_len = 4;
		break;
	case REQUEST_PAGE_STATUS_JSON:
		resp.content_type = RESPONSE_JSON;
		resp.body_len = pages_status(src, body, sizeof body, 1);
		break;
	default:
		resp.body_len = pages_status(src, body, sizeof body, 0);
		break;
	}
	answer_send(src->ans, r, &resp);
}
