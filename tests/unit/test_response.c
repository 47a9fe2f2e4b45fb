/* Unit tests for FastCGI reply encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fastcgi.h>

#include "response.h"

/* Walks the records of a reply: concatenates STDOUT content, checks the
 * stream end and END_REQUEST, and returns the content (malloc'd). */
static char *decode(const char *buf, size_t len, uint16_t id, size_t *out_len,
                    size_t *records)
{
	char *content = malloc(len);
	size_t n = 0, off = 0;
	int saw_empty = 0, saw_end = 0;
	*records = 0;
	while (off < len) {
		assert_true(off + FCGI_HEADER_LEN <= len);
		const unsigned char *h = (const unsigned char *)buf + off;
		assert_int_equal(h[0], FCGI_VERSION_1);
		assert_int_equal((h[2] << 8) | h[3], id);
		size_t clen = (size_t)((h[4] << 8) | h[5]);
		size_t pad = h[6];
		off += FCGI_HEADER_LEN;
		assert_true(off + clen + pad <= len);
		assert_false(saw_end); /* nothing after END_REQUEST */
		if (h[1] == FCGI_STDOUT && clen > 0) {
			assert_false(saw_empty);
			memcpy(content + n, buf + off, clen);
			n += clen;
			(*records)++;
		} else if (h[1] == FCGI_STDOUT) {
			saw_empty = 1;
		} else {
			assert_int_equal(h[1], FCGI_END_REQUEST);
			assert_int_equal(clen, 8);
			assert_int_equal((unsigned char)buf[off + 4],
			                 FCGI_REQUEST_COMPLETE);
			saw_end = 1;
		}
		off += clen + pad;
	}
	assert_true(saw_empty);
	assert_true(saw_end);
	*out_len = n;
	return content;
}

static void response_encodes_headers_and_body_in_one_record(void **state)
{
	(void)state;
	struct response r = {.status = 200, .body = "hello", .body_len = 5};
	char buf[512];
	size_t len = response_encode(buf, sizeof buf, 1, &r);
	assert_true(len <= sizeof buf);
	size_t n, records;
	char *c = decode(buf, len, 1, &n, &records);
	static const char want[] = "Status: 200 OK\r\n"
	                           "Content-Type: text/html; charset=utf-8\r\n"
	                           "Content-Length: 5\r\n\r\nhello";
	assert_int_equal(records, 1);
	assert_int_equal(n, sizeof want - 1);
	assert_memory_equal(c, want, n);
	free(c);
}

static void response_keeps_the_request_id(void **state)
{
	(void)state;
	struct response r = {.status = 404, .body = "x", .body_len = 1};
	char buf[512];
	size_t len = response_encode(buf, sizeof buf, 0x1234, &r);
	size_t n, records;
	free(decode(buf, len, 0x1234, &n, &records));
}

static void response_head_has_get_headers_and_no_body(void **state)
{
	(void)state;
	struct response r = {.status = 200, .body = "hello", .body_len = 5,
	                     .head = true};
	char buf[512];
	size_t len = response_encode(buf, sizeof buf, 1, &r);
	size_t n, records;
	char *c = decode(buf, len, 1, &n, &records);
	static const char want[] = "Status: 200 OK\r\n"
	                           "Content-Type: text/html; charset=utf-8\r\n"
	                           "Content-Length: 5\r\n\r\n";
	assert_int_equal(n, sizeof want - 1);
	assert_memory_equal(c, want, n);
	free(c);
}

static void response_adds_extra_headers_and_content_type(void **state)
{
	(void)state;
	struct response r = {.status = 503, .body = "b", .body_len = 1,
	                     .content_type = RESPONSE_TEXT,
	                     .extra_headers = "Retry-After: 1\r\n"};
	char buf[512];
	size_t len = response_encode(buf, sizeof buf, 1, &r);
	size_t n, records;
	char *c = decode(buf, len, 1, &n, &records);
	static const char want[] = "Status: 503 Service Unavailable\r\n"
	                           "Content-Type: text/plain; charset=utf-8\r\n"
	                           "Content-Length: 1\r\nRetry-After: 1\r\n\r\nb";
	assert_int_equal(n, sizeof want - 1);
	assert_memory_equal(c, want, n);
	free(c);
}

static void response_splits_content_at_65535_bytes(void **state)
{
	(void)state;
	size_t blen = 200000;
	char *body = malloc(blen);
	for (size_t i = 0; i < blen; i++)
		body[i] = (char)('a' + i % 26);
	struct response r = {.status = 200, .body = body, .body_len = blen};
	size_t need = response_encode(NULL, 0, 1, &r);
	char *buf = malloc(need);
	assert_int_equal(response_encode(buf, need, 1, &r), need);
	size_t n, records;
	char *c = decode(buf, need, 1, &n, &records);
	/* Header block + 200000 bytes need 4 records of at most 65535. */
	assert_int_equal(records, 4);
	assert_true(n > blen);
	assert_memory_equal(c + (n - blen), body, blen);
	free(c);
	free(buf);
	free(body);
}

static void response_reports_the_size_it_needs(void **state)
{
	(void)state;
	struct response r = {.status = 200, .body = "hello", .body_len = 5};
	char small[16];
	size_t need = response_encode(small, sizeof small, 1, &r);
	assert_true(need > sizeof small);
	char *buf = malloc(need);
	assert_int_equal(response_encode(buf, need, 1, &r), need);
	free(buf);
}

static void response_reason_phrases(void **state)
{
	(void)state;
	assert_string_equal(response_reason(200), "OK");
	assert_string_equal(response_reason(400), "Bad Request");
	assert_string_equal(response_reason(404), "Not Found");
	assert_string_equal(response_reason(413), "Payload Too Large");
	assert_string_equal(response_reason(503), "Service Unavailable");
	assert_string_equal(response_reason(504), "Gateway Timeout");
}

static void response_page_is_short_html_and_truncates_safely(void **state)
{
	(void)state;
	char buf[256];
	size_t n = response_page(buf, sizeof buf, 504, "Too slow.");
	assert_string_equal(buf, "<html><head><title>504 Gateway Timeout</title>"
	                         "</head><body><h1>504 Gateway Timeout</h1>"
	                         "<p>Too slow.</p></body></html>");
	assert_int_equal(n, strlen(buf));
	char tiny[10];
	n = response_page(tiny, sizeof tiny, 504, "Too slow.");
	assert_int_equal(n, 9);
	assert_int_equal(strlen(tiny), 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(response_encodes_headers_and_body_in_one_record),
		cmocka_unit_test(response_keeps_the_request_id),
		cmocka_unit_test(response_head_has_get_headers_and_no_body),
		cmocka_unit_test(response_adds_extra_headers_and_content_type),
		cmocka_unit_test(response_splits_content_at_65535_bytes),
		cmocka_unit_test(response_reports_the_size_it_needs),
		cmocka_unit_test(response_reason_phrases),
		cmocka_unit_test(response_page_is_short_html_and_truncates_safely),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
