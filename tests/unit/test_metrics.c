/* Unit tests for the metrics table and its Prometheus exposition text. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

/* The routes as the server names them for the demo: route 0 is where a
 * route past the table counts, the last the operator pages.  In the
 * order of the router enum these tests were written against. */
enum {
	ROUTE_NOT_FOUND, ROUTE_SIMPLE, ROUTE_SIMPLE_FIRE, ROUTE_ERROR,
	ROUTE_CORO, ROUTE_SLEEP, ROUTE_SLEEP_TOO_LONG, ROUTE_OPERATOR,
	NROUTES
};
static const char *const labels[NROUTES] = {
	"not_found", "simple", "simple_fire", "error", "coro", "sleep",
	"sleep_too_long", "_fcgi_app",
};

static struct metrics *new_metrics(void)
{
	struct metrics *m = metrics_new(labels, NROUTES);
	assert_non_null(m);
	return m;
}

static const struct metrics_gauges known_gauges = {
	.pending = 3, .simple_waiting = 2, .pool_busy = 1, .pool_idle = 9,
	.pool_queued = 4, .idle_connections = 5, .timed_out_total = 6,
	.aborted_total = 7, .kept_alive_total = 8, .max_pending = 20000,
	.open_fds = 12, .max_fds = 1024, .start_time = 1700000000.25,
	.version = "0.1.0",
};

static char *render(const struct metrics *m, const struct metrics_gauges *g)
{
	size_t n = metrics_render(m, g, NULL, 0);
	char *buf = malloc(n + 1);
	assert_non_null(buf);
	assert_int_equal(metrics_render(m, g, buf, n + 1), n);
	assert_int_equal(strlen(buf), n);
	return buf;
}

/* The line of `text` that starts with `prefix` (the whole line, no
 * newline), or NULL. */
static char *line_of(const char *text, const char *prefix, char *out,
                     size_t cap)
{
	size_t pl = strlen(prefix);
	for (const char *p = text; *p;) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len >= pl && memcmp(p, prefix, pl) == 0 && len < cap) {
			memcpy(out, p, len);
			out[len] = '\0';
			return out;
		}
		p += len + (e != NULL);
	}
	return NULL;
}

static void test_exact_text(void **state)
{
	(void)state;
	struct metrics *m = new_metrics();
	metrics_record(m, ROUTE_CORO, 200, 1000);      /* le 0.001 */
	metrics_record(m, ROUTE_CORO, 200, 1500);      /* le 0.0025 */
	metrics_record(m, ROUTE_NOT_FOUND, 404, 70000000); /* +Inf */
	metrics_record(m, ROUTE_OPERATOR, 200, 250);
	metrics_record(m, ROUTE_SIMPLE, 299, 60000000); /* other; le 60 */
	metrics_reject(m, METRICS_REJECT_MAX_PENDING);
	metrics_reject(m, METRICS_REJECT_MAX_PENDING);
	metrics_reject(m, METRICS_REJECT_SHUTDOWN);
	char *text = render(m, &known_gauges);
	const char *want =
	    "# HELP fcgi_app_build_info The app's version, as a label; the value is always 1.\n"
	    "# TYPE fcgi_app_build_info gauge\n"
	    "fcgi_app_build_info{version=\"0.1.0\"} 1\n"
	    "# HELP fcgi_app_start_time_seconds When the app started, in seconds since the Unix epoch.\n"
	    "# TYPE fcgi_app_start_time_seconds gauge\n"
	    "fcgi_app_start_time_seconds 1700000000.250\n"
	    "# HELP fcgi_app_requests_total Requests answered, by route and HTTP status.\n"
	    "# TYPE fcgi_app_requests_total counter\n"
	    "fcgi_app_requests_total{route=\"not_found\",status=\"404\"} 1\n"
	    "fcgi_app_requests_total{route=\"simple\",status=\"other\"} 1\n"
	    "fcgi_app_requests_total{route=\"coro\",status=\"200\"} 2\n"
	    "fcgi_app_requests_total{route=\"_fcgi_app\",status=\"200\"} 1\n"
	    "# HELP fcgi_app_request_duration_seconds Time from a request's parameters read to its reply written, by route.\n"
	    "# TYPE fcgi_app_request_duration_seconds histogram\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"not_found\",le=\"0.001\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"not_found\",le=\"0.0025\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"not_found\",le=\"0.005\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"not_found\",le=\"0.01\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"not_found\",le=\"0.025\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"not_found\",le=\"0.05\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"not_found\",le=\"0.1\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"not_found\",le=\"0.25\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"not_found\",le=\"0.5\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"not_found\",le=\"1\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"not_found\",le=\"2.5\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"not_found\",le=\"5\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"not_found\",le=\"10\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"not_found\",le=\"30\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"not_found\",le=\"60\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"not_found\",le=\"+Inf\"} 1\n"
	    "fcgi_app_request_duration_seconds_sum{route=\"not_found\"} 70.000000\n"
	    "fcgi_app_request_duration_seconds_count{route=\"not_found\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"simple\",le=\"0.001\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"simple\",le=\"0.0025\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"simple\",le=\"0.005\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"simple\",le=\"0.01\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"simple\",le=\"0.025\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"simple\",le=\"0.05\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"simple\",le=\"0.1\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"simple\",le=\"0.25\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"simple\",le=\"0.5\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"simple\",le=\"1\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"simple\",le=\"2.5\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"simple\",le=\"5\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"simple\",le=\"10\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"simple\",le=\"30\"} 0\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"simple\",le=\"60\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"simple\",le=\"+Inf\"} 1\n"
	    "fcgi_app_request_duration_seconds_sum{route=\"simple\"} 60.000000\n"
	    "fcgi_app_request_duration_seconds_count{route=\"simple\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"coro\",le=\"0.001\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"coro\",le=\"0.0025\"} 2\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"coro\",le=\"0.005\"} 2\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"coro\",le=\"0.01\"} 2\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"coro\",le=\"0.025\"} 2\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"coro\",le=\"0.05\"} 2\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"coro\",le=\"0.1\"} 2\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"coro\",le=\"0.25\"} 2\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"coro\",le=\"0.5\"} 2\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"coro\",le=\"1\"} 2\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"coro\",le=\"2.5\"} 2\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"coro\",le=\"5\"} 2\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"coro\",le=\"10\"} 2\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"coro\",le=\"30\"} 2\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"coro\",le=\"60\"} 2\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"coro\",le=\"+Inf\"} 2\n"
	    "fcgi_app_request_duration_seconds_sum{route=\"coro\"} 0.002500\n"
	    "fcgi_app_request_duration_seconds_count{route=\"coro\"} 2\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"_fcgi_app\",le=\"0.001\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"_fcgi_app\",le=\"0.0025\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"_fcgi_app\",le=\"0.005\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"_fcgi_app\",le=\"0.01\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"_fcgi_app\",le=\"0.025\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"_fcgi_app\",le=\"0.05\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"_fcgi_app\",le=\"0.1\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"_fcgi_app\",le=\"0.25\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"_fcgi_app\",le=\"0.5\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"_fcgi_app\",le=\"1\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"_fcgi_app\",le=\"2.5\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"_fcgi_app\",le=\"5\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"_fcgi_app\",le=\"10\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"_fcgi_app\",le=\"30\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"_fcgi_app\",le=\"60\"} 1\n"
	    "fcgi_app_request_duration_seconds_bucket{route=\"_fcgi_app\",le=\"+Inf\"} 1\n"
	    "fcgi_app_request_duration_seconds_sum{route=\"_fcgi_app\"} 0.000250\n"
	    "fcgi_app_request_duration_seconds_count{route=\"_fcgi_app\"} 1\n"
	    "# HELP fcgi_app_pending_requests Requests held on a Deferred (/simple, /sleep waiting for the pool).\n"
	    "# TYPE fcgi_app_pending_requests gauge\n"
	    "fcgi_app_pending_requests 3\n"
	    "# HELP fcgi_app_simple_waiting /simple requests waiting for a fire, a fire in progress included.\n"
	    "# TYPE fcgi_app_simple_waiting gauge\n"
	    "fcgi_app_simple_waiting 2\n"
	    "# HELP fcgi_app_pool_workers Worker threads, busy running a job or idle.\n"
	    "# TYPE fcgi_app_pool_workers gauge\n"
	    "fcgi_app_pool_workers{state=\"busy\"} 1\n"
	    "fcgi_app_pool_workers{state=\"idle\"} 9\n"
	    "# HELP fcgi_app_pool_queue_length Jobs waiting for a worker thread.\n"
	    "# TYPE fcgi_app_pool_queue_length gauge\n"
	    "fcgi_app_pool_queue_length 4\n"
	    "# HELP fcgi_app_idle_connections Kept-alive connections from nginx waiting for their next request.\n"
	    "# TYPE fcgi_app_idle_connections gauge\n"
	    "fcgi_app_idle_connections 5\n"
	    "# HELP fcgi_app_rejected_total Requests answered 503, by reason.\n"
	    "# TYPE fcgi_app_rejected_total counter\n"
	    "fcgi_app_rejected_total{reason=\"max_pending\"} 2\n"
	    "fcgi_app_rejected_total{reason=\"fd_limit\"} 0\n"
	    "fcgi_app_rejected_total{reason=\"queue_full\"} 0\n"
	    "fcgi_app_rejected_total{reason=\"shutdown\"} 1\n"
	    "fcgi_app_rejected_total{reason=\"out_of_memory\"} 0\n"
	    "# HELP fcgi_app_timed_out_total Pending requests answered 504 after the pending timeout.\n"
	    "# TYPE fcgi_app_timed_out_total counter\n"
	    "fcgi_app_timed_out_total 6\n"
	    "# HELP fcgi_app_aborted_total Pending requests whose client went away.\n"
	    "# TYPE fcgi_app_aborted_total counter\n"
	    "fcgi_app_aborted_total 7\n"
	    "# HELP fcgi_app_kept_alive_total Requests that came on a connection kept from an earlier one.\n"
	    "# TYPE fcgi_app_kept_alive_total counter\n"
	    "fcgi_app_kept_alive_total 8\n"
	    "# HELP fcgi_app_max_pending The limit on pending requests (--max-pending).\n"
	    "# TYPE fcgi_app_max_pending gauge\n"
	    "fcgi_app_max_pending 20000\n"
	    "# HELP fcgi_app_open_fds File descriptors the app has open.\n"
	    "# TYPE fcgi_app_open_fds gauge\n"
	    "fcgi_app_open_fds 12\n"
	    "# HELP fcgi_app_max_fds The app's file descriptor limit (RLIMIT_NOFILE, soft).\n"
	    "# TYPE fcgi_app_max_fds gauge\n"
	    "fcgi_app_max_fds 1024\n";
	assert_string_equal(text, want);
	free(text);
	metrics_free(m);
}

/* Nothing recorded: the counter families are there with no series (the
 * rejected reasons with 0), and no histogram series. */
static void test_empty(void **state)
{
	(void)state;
	struct metrics *m = new_metrics();
	char *text = render(m, &known_gauges);
	char line[256];
	assert_null(line_of(text, "fcgi_app_requests_total{", line, sizeof line));
	assert_null(line_of(text, "fcgi_app_request_duration_seconds_bucket",
	                    line, sizeof line));
	assert_non_null(strstr(text, "# TYPE fcgi_app_requests_total counter\n"
	                             "# HELP fcgi_app_request_duration_seconds "));
	assert_non_null(strstr(text, "fcgi_app_rejected_total{reason=\"queue_full\"} 0\n"));
	free(text);
	metrics_free(m);
}

/* Each bound is inclusive: a value on the bound is in that bucket, one
 * microsecond more is in the next. */
static void test_bucket_edges(void **state)
{
	(void)state;
	static const char *const le[METRICS_BUCKETS] = {
		"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
		"0.25", "0.5", "1", "2.5", "5", "10", "30", "60",
	};
	for (unsigned i = 0; i < METRICS_BUCKETS; i++) {
		struct metrics *m = new_metrics();
		metrics_record(m, ROUTE_ERROR, 400, metrics_bucket_us[i]);
		metrics_record(m, ROUTE_ERROR, 400, metrics_bucket_us[i] + 1);
		char *text = render(m, &known_gauges);
		char prefix[128], line[256], want[256];
		for (unsigned j = 0; j < METRICS_BUCKETS; j++) {
			snprintf(prefix, sizeof prefix,
			         "fcgi_app_request_duration_seconds_bucket{route=\"error\",le=\"%s\"}",
			         le[j]);
			snprintf(want, sizeof want, "%s %u", prefix,
			         j < i ? 0u : j == i ? 1u : 2u);
			assert_non_null(line_of(text, prefix, line, sizeof line));
			assert_string_equal(line, want);
		}
		snprintf(want, sizeof want,
		         "fcgi_app_request_duration_seconds_bucket{route=\"error\",le=\"+Inf\"} 2");
		assert_non_null(line_of(text, "fcgi_app_request_duration_seconds_bucket{route=\"error\",le=\"+Inf\"}",
		                        line, sizeof line));
		assert_string_equal(line, want);
		free(text);
		metrics_free(m);
	}
	/* 0 is in the first bucket. */
	struct metrics *m = new_metrics();
	metrics_record(m, ROUTE_ERROR, 400, 0);
	char *text = render(m, &known_gauges);
	assert_non_null(strstr(text, "{route=\"error\",le=\"0.001\"} 1\n"));
	assert_non_null(strstr(text, "_sum{route=\"error\"} 0.000000\n"));
	free(text);
	metrics_free(m);
}

static void test_label_escaping(void **state)
{
	(void)state;
	struct metrics *m = new_metrics();
	struct metrics_gauges g = known_gauges;
	g.version = "1.0 \"rc\\1\"\nx";
	char *text = render(m, &g);
	assert_non_null(strstr(text, "\nfcgi_app_build_info{version=\"1.0 \\\"rc\\\\1\\\"\\nx\"} 1\n"));
	free(text);
	g.version = NULL;
	text = render(m, &g);
	assert_non_null(strstr(text, "\nfcgi_app_build_info{version=\"\"} 1\n"));
	free(text);
	metrics_free(m);
}

/* Out-of-range input is counted, not dropped or written out of bounds. */
static void test_out_of_range(void **state)
{
	(void)state;
	struct metrics *m = new_metrics();
	metrics_record(m, 200, 200, 5);
	metrics_record(m, ROUTE_CORO, -1, 5);
	metrics_reject(m, METRICS_REJECT_COUNT);
	char *text = render(m, &known_gauges);
	assert_non_null(strstr(text, "\nfcgi_app_requests_total{route=\"not_found\",status=\"200\"} 1\n"));
	assert_non_null(strstr(text, "\nfcgi_app_requests_total{route=\"coro\",status=\"other\"} 1\n"));
	assert_string_equal(metrics_route_name(m, NROUTES), "not_found");
	assert_string_equal(metrics_route_name(m, 200), "not_found");
	assert_string_equal(metrics_route_name(m, ROUTE_CORO), "coro");
	assert_string_equal(metrics_route_name(m, ROUTE_OPERATOR), "_fcgi_app");
	free(text);
	metrics_free(m);
}

/* The table is as long as the labels given: none is no table; one route
 * takes every record. */
static void test_table_size(void **state)
{
	(void)state;
	assert_null(metrics_new(labels, 0));
	static const char *const one[] = {"only"};
	struct metrics *m = metrics_new(one, 1);
	assert_non_null(m);
	metrics_record(m, 0, 200, 5);
	metrics_record(m, 1, 200, 5);
	metrics_record(m, 7, 404, 5);
	char *text = render(m, &known_gauges);
	assert_non_null(strstr(text, "\nfcgi_app_requests_total{route=\"only\",status=\"200\"} 2\n"
	                             "fcgi_app_requests_total{route=\"only\",status=\"404\"} 1\n"
	                             "# HELP fcgi_app_request_duration_seconds "));
	assert_string_equal(metrics_route_name(m, 5), "only");
	free(text);
	metrics_free(m);
	metrics_free(NULL);
}

/* A small buffer gets a NUL-terminated prefix and the full length. */
static void test_truncation(void **state)
{
	(void)state;
	struct metrics *m = new_metrics();
	metrics_record(m, ROUTE_CORO, 200, 10);
	char *full = render(m, &known_gauges);
	char small[100];
	size_t n = metrics_render(m, &known_gauges, small, sizeof small);
	assert_int_equal(n, strlen(full));
	assert_int_equal(strlen(small), sizeof small - 1);
	assert_memory_equal(small, full, sizeof small - 1);
	free(full);
	metrics_free(m);
}

/* Threads recording at once lose nothing (and TSan sees no race). */
#define THREADS 4
#define PER_THREAD 20000
static void *recorder(void *arg)
{
	struct metrics *m = arg;
	for (unsigned i = 0; i < PER_THREAD; i++) {
		metrics_record(m, ROUTE_CORO, 200, 3000);
		if (i % 100 == 0)
			metrics_reject(m, METRICS_REJECT_QUEUE_FULL);
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct metrics *m = new_metrics();
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, recorder, m), 0);
	/* A render while they record must not race either. */
	char *mid = render(m, &known_gauges);
	free(mid);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	char *text = render(m, &known_gauges);
	char want[256];
	snprintf(want, sizeof want,
	         "\nfcgi_app_requests_total{route=\"coro\",status=\"200\"} %u\n",
	         THREADS * PER_THREAD);
	assert_non_null(strstr(text, want));
	snprintf(want, sizeof want,
	         "{route=\"coro\",le=\"0.001\"} 0\n"
	         "fcgi_app_request_duration_seconds_bucket{route=\"coro\",le=\"0.0025\"} 0\n"
	         "fcgi_app_request_duration_seconds_bucket{route=\"coro\",le=\"0.005\"} %u\n",
	         THREADS * PER_THREAD);
	assert_non_null(strstr(text, want));
	snprintf(want, sizeof want, "_sum{route=\"coro\"} %u.000000\n",
	         THREADS * PER_THREAD * 3 / 1000);
	assert_non_null(strstr(text, want));
	snprintf(want, sizeof want, "{reason=\"queue_full\"} %u\n",
	         THREADS * PER_THREAD / 100);
	assert_non_null(strstr(text, want));
	free(text);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_text),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_bucket_edges),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_table_size),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
