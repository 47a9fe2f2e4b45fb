/*
 * metrics: the counters behind /_fcgi_app/metrics, and their rendering in
 * the Prometheus text exposition format 0.0.4.
 *
 * Requests are recorded where they are answered: on an acceptor thread
 * for the routes answered at once, on the loop thread for the others.  So
 * recording is lock-free and cheap: relaxed atomic adds into a fixed
 * route x status table and a fixed-bucket histogram per route, in one of
 * METRICS_SHARDS cache-aligned copies picked per thread, so threads that
 * record at once do not bounce one cache line between cores.  Rendering
 * sums the shards; a scrape taken while requests are recorded may see a
 * histogram's _sum a request ahead of or behind its buckets, never a
 * bucket count that is not cumulative.
 *
 * What the table does not hold (gauges, the server's own totals, the
 * limits) the caller passes in at render time: the module reads no
 * process state, so a known state renders to known text.
 *
 * Thread-safe: metrics_record and metrics_reject from any thread,
 * metrics_render from any thread (the loop's, in the app).
 */
#ifndef FCGI_APP_METRICS_H
#define FCGI_APP_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct metrics;

/* Why a request got 503 (fcgi_app_rejected_total{reason}). */
enum metrics_reject {
	METRICS_REJECT_MAX_PENDING,   /* "max_pending": --max-pending reached */
	METRICS_REJECT_FD_LIMIT,      /* "fd_limit": no fd to spare (--fd-reserve) */
	METRICS_REJECT_QUEUE_FULL,    /* "queue_full": the pool's --queue */
	METRICS_REJECT_SHUTDOWN,      /* "shutdown": the app is stopping */
	METRICS_REJECT_OUT_OF_MEMORY, /* "out_of_memory" */
	METRICS_REJECT_COUNT,
};

/* Finite upper bounds of fcgi_app_request_duration_seconds, in
 * microseconds: 1 ms to 60 s (then +Inf). */
#define METRICS_BUCKETS 15
extern const uint64_t metrics_bucket_us[METRICS_BUCKETS];

/* Everything the render needs that the table does not count. */
struct metrics_gauges {
	uint64_t pending;          /* requests held on a Deferred */
	uint64_t simple_waiting;   /* /simple waiting for a fire */
	uint64_t pool_busy, pool_idle, pool_queued;
	uint64_t idle_connections; /* kept connections between requests */
	uint64_t timed_out_total, aborted_total, kept_alive_total;
	uint64_t max_pending;      /* --max-pending */
	uint64_t open_fds, max_fds;
	double start_time;         /* Unix time, seconds */
	const char *version;       /* build_info's label; escaped on output */
};

/* Zeroed counters for routes 0..nroutes-1, whose `route` labels are
 * labels[i] (borrowed for the metrics' life; safe in a label value: the
 * server's are [A-Za-z0-9_]).  Route 0 is where a route past the table
 * is counted (the server's "not_found").  NULL when out of memory or
 * nroutes is 0.  Freed by metrics_free. */
struct metrics *metrics_new(const char *const *labels, unsigned nroutes);
void metrics_free(struct metrics *m);

/* One answered request: route in [0, nroutes) (others are counted as
 * route 0), its HTTP status (one the table does not name counts as
 * status="other"), and the time from parsing it to its reply. */
void metrics_record(struct metrics *m, unsigned route, int status,
                    uint64_t duration_us);

void metrics_reject(struct metrics *m, enum metrics_reject reason);

/* The exposition text (no NUL counted) into buf, and its length; like
 * snprintf, a length of cap or more means buf was too small (it then holds
 * a truncated, NUL-terminated prefix): call again with length + 1. */
size_t metrics_render(const struct metrics *m, const struct metrics_gauges *g,
                      char *buf, size_t cap);

/* The route label for `route` (route 0's past the table). */
const char *metrics_route_name(const struct metrics *m, unsigned route);

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
