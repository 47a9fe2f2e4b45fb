/* metrics: lock-free request counters and their Prometheus text (see
 * metrics.h). */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The statuses the app sends, each a column of the table; anything else
 * lands in the last one, "other". */
static const int statuses[] = {200, 400, 404, 405, 413, 500, 503, 504};
#define NSTATUS (sizeof statuses / sizeof statuses[0])
#define STATUS_OTHER NSTATUS

const uint64_t metrics_bucket_us[METRICS_BUCKETS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};
/* The same bounds as the `le` labels, written as Prometheus' own clients
 * write them, so a bucket's series name is stable. */
static const char *const bucket_le[METRICS_BUCKETS] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
	"0.5", "1", "2.5", "5", "10", "30", "60",
};

static const char *const reject_names[METRICS_REJECT_COUNT] = {
	[METRICS_REJECT_MAX_PENDING] = "max_pending",
	[METRICS_REJECT_FD_LIMIT] = "fd_limit",
	[METRICS_REJECT_QUEUE_FULL] = "queue_full",
	[METRICS_REJECT_SHUTDOWN] = "shutdown",
	[METRICS_REJECT_OUT_OF_MEMORY] = "out_of_memory",
};

/* More shards than the app has recording threads by default (acceptors +
 * the loop); past that, threads share shards, which is still correct. */
#define METRICS_SHARDS 8

/* One thread's (or a few threads') copy of every counter.  Buckets are
 * not cumulative here (one add per request); the last is +Inf.  The
 * count of a route is the sum of its buckets. */
struct shard {
	_Alignas(64) _Atomic uint64_t rejected[METRICS_REJECT_COUNT];
	/* One block per shard (cache-aligned, its own lines): */
	_Atomic uint64_t *requests; /* [route][NSTATUS + 1] */
	_Atomic uint64_t *buckets;  /* [route][METRICS_BUCKETS + 1] */
	_Atomic uint64_t *sum_us;   /* [route] */
};

struct metrics {
	struct shard shards[METRICS_SHARDS];
	unsigned nroutes;
	const char *const *labels; /* borrowed */
};

#define REQ(sh, r, c) (&(sh)->requests[(size_t)(r) * (NSTATUS + 1) + (c)])
#define BUCKET(sh, r, i) (&(sh)->buckets[(size_t)(r) * (METRICS_BUCKETS + 1) + (i)])

static _Atomic unsigned next_shard;
static _Thread_local unsigned my_shard = METRICS_SHARDS; /* unset */

static struct shard *shard_of(struct metrics *m)
{
	if (my_shard == METRICS_SHARDS)
		my_shard = atomic_fetch_add_explicit(&next_shard, 1,
		                                     memory_order_relaxed) %
		           METRICS_SHARDS;
	return &m->shards[my_shard];
}

static void add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

struct metrics *metrics_new(const char *const *labels, unsigned nroutes)
{
	if (nroutes == 0)
		return NULL;
	/* Aligned so no shard shares a cache line with another; all-zero
	 * bytes are a zero for these lock-free atomics. */
	struct metrics *m = aligned_alloc(64, sizeof(struct metrics));
	if (!m)
		return NULL;
	memset(m, 0, sizeof *m);
	m->nroutes = nroutes;
	m->labels = labels;
	size_t per = (size_t)nroutes * (NSTATUS + 1 + METRICS_BUCKETS + 1 + 1);
	size_t bytes = (per * sizeof(uint64_t) + 63) / 64 * 64;
	for (unsigned i = 0; i < METRICS_SHARDS; i++) {
		_Atomic uint64_t *b = aligned_alloc(64, bytes);
		if (!b) {
			metrics_free(m);
			return NULL;
		}
		memset(b, 0, bytes);
		m->shards[i].requests = b;
		m->shards[i].buckets = b + (size_t)nroutes * (NSTATUS + 1);
		m->shards[i].sum_us = m->shards[i].buckets +
		                      (size_t)nroutes * (METRICS_BUCKETS + 1);
	}
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (unsigned i = 0; i < METRICS_SHARDS; i++)
		free(m->shards[i].requests);
	free(m);
}

static unsigned status_column(int status)
{
	for (unsigned i = 0; i < NSTATUS; i++)
		if (statuses[i] == status)
			return i;
	return STATUS_OTHER;
}

static unsigned bucket_of(uint64_t us)
{
	/* `le` is inclusive: a value equal to a bound is in that bucket. */
	unsigned i = 0;
	while (i < METRICS_BUCKETS && us > metrics_bucket_us[i])
		i++;
	return i;
}

void metrics_record(struct metrics *m, unsigned route, int status,
                    uint64_t duration_us)
{
	if (route >= m->nroutes)
		route = 0;
	struct shard *sh = shard_of(m);
	add(REQ(sh, route, status_column(status)), 1);
	add(BUCKET(sh, route, bucket_of(duration_us)), 1);
	add(&sh->sum_us[route], duration_us);
}

void metrics_reject(struct metrics *m, enum metrics_reject reason)
{
	if ((unsigned)reason < METRICS_REJECT_COUNT)
		add(&shard_of(m)->rejected[reason], 1);
}

const char *metrics_route_name(const struct metrics *m, unsigned route)
{
	return m->labels[route < m->nroutes ? route : 0];
}

/* ---- rendering ------------------------------------------------------- */

/* An snprintf that keeps counting past the end, so the caller learns the
 * whole length in one pass. */
struct out {
	char *buf;
	size_t cap, len;
};

static void put(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = o->len < o->cap ? o->cap - o->len : 0;
	int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

/* A label value: backslash, double quote and newline escaped (format
 * 0.0.4). */
static void put_label_value(struct out *o, const char *v)
{
	for (const char *p = v; *p; p++) {
		if (*p == '\\')
			put(o, "\\\\");
		else if (*p == '"')
			put(o, "\\\"");
		else if (*p == '\n')
			put(o, "\\n");
		else
			put(o, "%c", *p);
	}
}

static void family(struct out *o, const char *name, const char *type,
                   const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge(struct out *o, const char *name, const char *help,
                  uint64_t v)
{
	family(o, name, "gauge", help);
	put(o, "%s %llu\n", name, (unsigned long long)v);
}

static void counter(struct out *o, const char *name, const char *help,
                    uint64_t v)
{
	family(o, name, "counter", help);
	put(o, "%s %llu\n", name, (unsigned long long)v);
}

static uint64_t load(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

size_t metrics_render(const struct metrics *m, const struct metrics_gauges *g,
                      char *buf, size_t cap)
{
	struct out o = {buf, cap, 0};
	if (cap)
		buf[0] = '\0';

	family(&o, "fcgi_app_build_info", "gauge",
	       "The app's version, as a label; the value is always 1.");
	put(&o, "fcgi_app_build_info{version=\"");
	put_label_value(&o, g->version ? g->version : "");
	put(&o, "\"} 1\n");
	family(&o, "fcgi_app_start_time_seconds", "gauge",
	       "When the app started, in seconds since the Unix epoch.");
	put(&o, "fcgi_app_start_time_seconds %.3f\n", g->start_time);

	family(&o, "fcgi_app_requests_total", "counter",
	       "Requests answered, by route and HTTP status.");
	for (unsigned r = 0; r < m->nroutes; r++) {
		for (unsigned c = 0; c <= NSTATUS; c++) {
			uint64_t n = 0;
			for (unsigned s = 0; s < METRICS_SHARDS; s++)
				n += load(REQ(&m->shards[s], r, c));
			if (!n)
				continue;
			put(&o, "fcgi_app_requests_total{route=\"%s\",status=\"",
			    metrics_route_name(m, r));
			if (c == STATUS_OTHER)
				put(&o, "other");
			else
				put(&o, "%d", statuses[c]);
			put(&o, "\"} %llu\n", (unsigned long long)n);
		}
	}

	family(&o, "fcgi_app_request_duration_seconds", "histogram",
	       "Time from a request's parameters read to its reply written, "
	       "by route.");
	for (unsigned r = 0; r < m->nroutes; r++) {
		uint64_t b[METRICS_BUCKETS + 1] = {0}, sum = 0, count = 0;
		for (unsigned s = 0; s < METRICS_SHARDS; s++) {
			for (unsigned i = 0; i <= METRICS_BUCKETS; i++)
				b[i] += load(BUCKET(&m->shards[s], r, i));
			sum += load(&m->shards[s].sum_us[r]);
		}
		for (unsigned i = 0; i <= METRICS_BUCKETS; i++)
			count += b[i];
		if (!count)
			continue;
		const char *name = metrics_route_name(m, r);
		uint64_t cum = 0;
		for (unsigned i = 0; i < METRICS_BUCKETS; i++) {
			cum += b[i];
			put(&o, "fcgi_app_request_duration_seconds_bucket"
			        "{route=\"%s\",le=\"%s\"} %llu\n",
			    name, bucket_le[i], (unsigned long long)cum);
		}
		put(&o, "fcgi_app_request_duration_seconds_bucket"
		        "{route=\"%s\",le=\"+Inf\"} %llu\n",
		    name, (unsigned long long)count);
		put(&o, "fcgi_app_request_duration_seconds_sum{route=\"%s\"} "
		        "%llu.%06llu\n",
		    name, (unsigned long long)(sum / 1000000),
		    (unsigned long long)(sum % 1000000));
		put(&o, "fcgi_app_request_duration_seconds_count{route=\"%s\"} "
		        "%llu\n",
		    name, (unsigned long long)count);
	}

	gauge(&o, "fcgi_app_pending_requests",
	      "Requests held on a Deferred (/simple, /sleep waiting for the "
	      "pool).",
	      g->pending);
	gauge(&o, "fcgi_app_simple_waiting",
	      "/simple requests waiting for a fire, a fire in progress "
	      "included.",
	      g->simple_waiting);
	family(&o, "fcgi_app_pool_workers", "gauge",
	       "Worker threads, busy running a job or idle.");
	put(&o, "fcgi_app_pool_workers{state=\"busy\"} %llu\n"
	        "fcgi_app_pool_workers{state=\"idle\"} %llu\n",
	    (unsigned long long)g->pool_busy, (unsigned long long)g->pool_idle);
	gauge(&o, "fcgi_app_pool_queue_length",
	      "Jobs waiting for a worker thread.", g->pool_queued);
	gauge(&o, "fcgi_app_idle_connections",
	      "Kept-alive connections from nginx waiting for their next "
	      "request.",
	      g->idle_connections);

	family(&o, "fcgi_app_rejected_total", "counter",
	       "Requests answered 503, by reason.");
	for (unsigned i = 0; i < METRICS_REJECT_COUNT; i++) {
		uint64_t n = 0;
		for (unsigned s = 0; s < METRICS_SHARDS; s++)
			n += load(&m->shards[s].rejected[i]);
		put(&o, "fcgi_app_rejected_total{reason=\"%s\"} %llu\n",
		    reject_names[i], (unsigned long long)n);
	}
	counter(&o, "fcgi_app_timed_out_total",
	        "Pending requests answered 504 after the pending timeout.",
	        g->timed_out_total);
	counter(&o, "fcgi_app_aborted_total",
	        "Pending requests whose client went away.", g->aborted_total);
	counter(&o, "fcgi_app_kept_alive_total",
	        "Requests that came on a connection kept from an earlier one.",
	        g->kept_alive_total);

	gauge(&o, "fcgi_app_max_pending",
	      "The limit on pending requests (--max-pending).", g->max_pending);
	gauge(&o, "fcgi_app_open_fds", "File descriptors the app has open.",
	      g->open_fds);
	gauge(&o, "fcgi_app_max_fds",
	      "The app's file descriptor limit (RLIMIT_NOFILE, soft).",
	      g->max_fds);
	return o.len;
}
