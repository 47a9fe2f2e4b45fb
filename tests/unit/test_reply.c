/* Unit tests for reply: the error table (status, page, Retry-After,
 * metrics reason, counter of every error the app answers itself), the
 * failure -> error default, the pages, the encoding with and without the
 * last-record trick, and the non-blocking send over a socketpair. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <fastcgi.h>

#include "failure.h"
#include "fcgi_app.h"
#include "metrics.h"
#include "reply.h"

static void table_decides_every_error(void **state)
{
	(void)state;
	static const struct {
		enum reply_error e;
		int status;
		bool retry;
		int reject;
		enum reply_counter counter;
	} want[] = {
		{REPLY_BAD_REQUEST, 400, false, -1, REPLY_COUNT_NONE},
		{REPLY_TOO_LARGE, 413, false, -1, REPLY_COUNT_NONE},
		{REPLY_NOT_FOUND, 404, false, -1, REPLY_COUNT_NONE},
		{REPLY_NOT_ALLOWED, 405, false, -1, REPLY_COUNT_NONE},
		{REPLY_MAX_PENDING, 503, true, METRICS_REJECT_MAX_PENDING,
		 REPLY_COUNT_REJECTED},
		{REPLY_FD_LIMIT, 503, true, METRICS_REJECT_FD_LIMIT,
		 REPLY_COUNT_REJECTED},
		{REPLY_OUT_OF_MEMORY, 503, true, METRICS_REJECT_OUT_OF_MEMORY,
		 REPLY_COUNT_REJECTED},
		{REPLY_QUEUE_FULL, 503, true, METRICS_REJECT_QUEUE_FULL,
		 REPLY_COUNT_REJECTED},
		{REPLY_SHUTDOWN, 503, true, METRICS_REJECT_SHUTDOWN,
		 REPLY_COUNT_REJECTED},
		{REPLY_TIMEOUT, 504, false, -1, REPLY_COUNT_TIMED_OUT},
		{REPLY_FAILED, 500, false, -1, REPLY_COUNT_FAILED},
		{REPLY_NO_BODY, 500, false, -1, REPLY_COUNT_FAILED},
		{REPLY_NOT_AT_ONCE, 500, false, -1, REPLY_COUNT_FAILED},
		{REPLY_PAGE_NO_MEMORY, 500, false, -1, REPLY_COUNT_NONE},
	};
	assert_int_equal(sizeof want / sizeof want[0], REPLY_ERROR_COUNT);
	for (size_t i = 0; i < REPLY_ERROR_COUNT; i++) {
		const struct reply_error_kind *k = reply_error_kind(want[i].e);
		assert_int_equal(k->status, want[i].status);
		assert_int_equal(k->retry_after, want[i].retry);
		assert_int_equal(k->reject, want[i].reject);
		assert_int_equal(k->counter, want[i].counter);
		assert_non_null(k->detail);
	}
}

static enum reply_error for_failure(const char *type, bool expired,
                                    bool draining)
{
	struct failure *f = failure_new(type, "msg");
	assert_non_null(f);
	enum reply_error e = reply_failure_error(f, expired, draining);
	failure_free(f);
	return e;
}

static void failures_map_to_errors(void **state)
{
	(void)state;
	assert_int_equal(for_failure(FAILURE_CANCELLED, true, false), REPLY_TIMEOUT);
	assert_int_equal(for_failure(FAILURE_CANCELLED, true, true), REPLY_TIMEOUT);
	assert_int_equal(for_failure(FAILURE_CANCELLED, false, true),
	                 REPLY_SHUTDOWN);
	assert_int_equal(for_failure(FAILURE_CANCELLED, false, false),
	                 REPLY_FAILED);
	assert_int_equal(for_failure(FCGI_FAILURE_QUEUE_FULL, false, false),
	                 REPLY_QUEUE_FULL);
	assert_int_equal(for_failure(FCGI_FAILURE_QUEUE_FULL, true, true),
	                 REPLY_QUEUE_FULL);
	assert_int_equal(for_failure(FCGI_FAILURE_SHUTTING_DOWN, false, false),
	                 REPLY_SHUTDOWN);
	assert_int_equal(for_failure("builtins.ValueError", false, false),
	                 REPLY_FAILED);
	assert_int_equal(for_failure("builtins.ValueError", true, true),
	                 REPLY_FAILED);
}

static void pages_quote_the_config_and_headers(void **state)
{
	(void)state;
	struct reply_page p;
	reply_error_page(&p, REPLY_TOO_LARGE, 1048576, NULL, NULL, false);
	assert_int_equal(p.resp.status, 413);
	assert_string_equal(p.detail,
	                    "The request body is larger than 1048576 bytes.");
	assert_non_null(strstr(p.body, "The request body is larger than 1048576 "
	                                "bytes."));
	assert_non_null(strstr(p.body, "413"));
	assert_int_equal(p.resp.body_len, strlen(p.body));
	assert_null(p.resp.extra_headers);
	assert_false(p.resp.head);

	reply_error_page(&p, REPLY_MAX_PENDING, 20000, NULL, NULL, true);
	assert_int_equal(p.resp.status, 503);
	assert_string_equal(p.detail,
	                    "Too many pending requests (the limit is 20000).");
	assert_string_equal(p.resp.extra_headers, "Retry-After: 1\r\n");
	assert_true(p.resp.head);

	reply_error_page(&p, REPLY_NOT_ALLOWED, 0, NULL, "GET, HEAD", false);
	assert_int_equal(p.resp.status, 405);
	assert_string_equal(p.resp.extra_headers, "Allow: GET, HEAD\r\n");
	assert_string_equal(p.detail,
	                    "The resource does not take this request method.");

	reply_error_page(&p, REPLY_QUEUE_FULL, 0, "The queue is full (64).", NULL,
	                 false);
	assert_string_equal(p.detail, "The queue is full (64).");
	assert_non_null(strstr(p.body, "The queue is full (64)."));

	reply_error_page(&p, REPLY_TIMEOUT, 30, NULL, NULL, false);
	assert_string_equal(p.detail,
	                    "The request was pending for more than 30 seconds.");
	assert_null(p.resp.extra_headers);
}

static const unsigned char last_record[16] = {
	FCGI_VERSION_1, FCGI_UNKNOWN_TYPE, 0, 0, 0, 8, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0,
};

static void encode_appends_the_last_record(void **state)
{
	(void)state;
	struct response r = {.status = 200, .body = "hello", .body_len = 5};
	char plain[512], stack[512];
	size_t n = response_encode(plain, sizeof plain, 7, &r);
	size_t len;
	char *b = reply_encode(stack, sizeof stack, 7, &r, false, &len);
	assert_ptr_equal(b, stack);
	assert_int_equal(len, n);
	assert_memory_equal(b, plain, n);
	b = reply_encode(stack, sizeof stack, 7, &r, true, &len);
	assert_ptr_equal(b, stack);
	assert_int_equal(len, n + 16);
	assert_memory_equal(b, plain, n);
	assert_memory_equal(b + n, last_record, 16);
}

static void encode_goes_to_the_heap_when_large(void **state)
{
	(void)state;
	size_t blen = 100000;
	char *body = malloc(blen);
	memset(body, 'x', blen);
	struct response r = {.status = 200, .body = body, .body_len = blen};
	size_t n = response_encode(NULL, 0, 3, &r);
	char *plain = malloc(n);
	response_encode(plain, n, 3, &r);
	char stack[8192];
	size_t len;
	char *b = reply_encode(stack, sizeof stack, 3, &r, true, &len);
	assert_non_null(b);
	assert_ptr_not_equal(b, stack);
	assert_int_equal(len, n + 16);
	assert_memory_equal(b, plain, n);
	assert_memory_equal(b + n, last_record, 16);
	free(b);
	free(plain);
	free(body);
}

static void send_stops_at_a_full_socket_and_sees_a_broken_one(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	int small = 4096;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	size_t len = 1 << 20;
	char *buf = malloc(len);
	memset(buf, 'y', len);
	ssize_t n = reply_send(sv[0], buf, len);
	assert_true(n > 0);
	assert_true((size_t)n < len);
	/* What went out arrives whole. */
	char *got = malloc((size_t)n);
	size_t have = 0;
	while (have < (size_t)n) {
		ssize_t m = recv(sv[1], got + have, (size_t)n - have, MSG_DONTWAIT);
		assert_true(m > 0);
		have += (size_t)m;
	}
	assert_memory_equal(got, buf, (size_t)n);
	assert_int_equal(reply_send(sv[0], "abc", 3), 3);
	close(sv[1]);
	assert_int_equal(reply_send(sv[0], "abc", 3), -1);
	close(sv[0]);
	free(got);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_decides_every_error),
		cmocka_unit_test(failures_map_to_errors),
		cmocka_unit_test(pages_quote_the_config_and_headers),
		cmocka_unit_test(encode_appends_the_last_record),
		cmocka_unit_test(encode_goes_to_the_heap_when_large),
		cmocka_unit_test(send_stops_at_a_full_socket_and_sees_a_broken_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
