/* Unit tests for the request: request_page (which operator page nginx
 * asked for), request_new, and the copies of peer-supplied tokens (nginx's
 * $request_id, the method), which go unquoted into log lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "request.h"

/* request_page on C strings (NULL: not set). */
static enum request_page page(const char *v, const char *q)
{
	return request_page(v, v ? strlen(v) : 0, q, q ? strlen(q) : 0);
}

static void test_pages(void **state)
{
	(void)state;
	assert_int_equal(page(NULL, NULL), REQUEST_PAGE_NONE);
	assert_int_equal(page(NULL, "json"), REQUEST_PAGE_NONE);
	assert_int_equal(page("1", NULL), REQUEST_PAGE_STATUS);
	assert_int_equal(page("1", ""), REQUEST_PAGE_STATUS);
	assert_int_equal(page("metrics", "json"), REQUEST_PAGE_METRICS);
	assert_int_equal(page("ping", NULL), REQUEST_PAGE_PING);
	/* Anything else is no page: the path is routed (404). */
	assert_int_equal(page("", NULL), REQUEST_PAGE_NONE);
	assert_int_equal(page("0", NULL), REQUEST_PAGE_NONE);
	assert_int_equal(page("11", NULL), REQUEST_PAGE_NONE);
	assert_int_equal(page("Metrics", NULL), REQUEST_PAGE_NONE);
	assert_int_equal(page("pingx", NULL), REQUEST_PAGE_NONE);
	/* The params are not NUL-terminated: only the given bytes count. */
	assert_int_equal(request_page("metricsX", 7, NULL, 0), REQUEST_PAGE_METRICS);
	assert_int_equal(request_page("1", 1, "json&x", 4), REQUEST_PAGE_STATUS_JSON);
	assert_int_equal(request_page("1", 1, "jsonx", 4), REQUEST_PAGE_STATUS_JSON);
	assert_int_equal(request_page("1", 1, "xjson", 4), REQUEST_PAGE_STATUS);
}

static void test_json_query(void **state)
{
	(void)state;
	static const char *const yes[] = {"json", "json=1", "json=", "a=b&json",
	                                  "json&a=b", "a&json=yes&b", "&json"};
	static const char *const no[] = {"jsonx", "xjson", "a=json", "JSON",
	                                 "json_x=1", "a=b", "&", "js"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		assert_int_equal(page("1", yes[i]), REQUEST_PAGE_STATUS_JSON);
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		assert_int_equal(page("1", no[i]), REQUEST_PAGE_STATUS);
}

static void test_new_sets_start(void **state)
{
	(void)state;
	struct request *r = request_new(7);
	assert_non_null(r);
	assert_int_equal(r->fd, 7);
	assert_true(r->start_us > 0);
	assert_int_equal(r->page, REQUEST_PAGE_NONE);
	request_free(r);
}

/* request_set_token on a C string (NULL: absent). */
static bool set(char *dst, size_t cap, const char *v)
{
	return request_set_token(dst, cap, v, v ? strlen(v) : 0);
}

static void token_is_copied(void **state)
{
	(void)state;
	struct request *r = request_new(-1);
	assert_non_null(r);
	assert_true(set(r->request_id, sizeof r->request_id,
	                "8c0b3f1e2d4a5b6c7d8e9f0a1b2c3d4e"));
	assert_string_equal(r->request_id, "8c0b3f1e2d4a5b6c7d8e9f0a1b2c3d4e");
	assert_true(set(r->method, sizeof r->method, "GET"));
	assert_string_equal(r->method, "GET");
	/* Every tchar of RFC 9110. */
	assert_true(set(r->request_id, sizeof r->request_id, "aZ09!#$%&'*+-.^_`|~"));
	assert_string_equal(r->request_id, "aZ09!#$%&'*+-.^_`|~");
	/* Only the given bytes count: the params are not NUL-terminated. */
	assert_true(request_set_token(r->method, sizeof r->method, "POSTX", 4));
	assert_string_equal(r->method, "POST");
	request_free(r);
}

static void longest_token_fits_and_one_more_is_refused(void **state)
{
	(void)state;
	struct request *r = request_new(-1);
	char v[REQUEST_ID_MAX + 2];
	memset(v, 'a', REQUEST_ID_MAX);
	v[REQUEST_ID_MAX] = '\0';
	assert_true(set(r->request_id, sizeof r->request_id, v));
	assert_int_equal(strlen(r->request_id), REQUEST_ID_MAX);
	v[REQUEST_ID_MAX] = 'a';
	v[REQUEST_ID_MAX + 1] = '\0';
	assert_false(set(r->request_id, sizeof r->request_id, v));
	assert_string_equal(r->request_id, "");
	assert_false(set(r->method, sizeof r->method, "VERYLONGMETHODNAME"));
	assert_string_equal(r->method, "");
	request_free(r);
}

/* Anything that could break a logfmt line, or forge a key, is refused
 * whole: the field is left empty. */
static void non_tokens_leave_the_field_empty(void **state)
{
	(void)state;
	struct request *r = request_new(-1);
	const char *bad[] = {"", "a b", "a=b", "a\"b", "a\nlevel=error",
	                     "a\\b", "\x7f", "caf\xc3\xa9", "a\tb", "(x)"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_true(set(r->request_id, sizeof r->request_id, "ok"));
		assert_false(set(r->request_id, sizeof r->request_id, bad[i]));
		assert_string_equal(r->request_id, "");
	}
	/* A NUL inside the given bytes is not a token character either. */
	assert_false(request_set_token(r->request_id, sizeof r->request_id,
	                               "ab\0cd", 5));
	assert_string_equal(r->request_id, "");
	assert_false(set(r->request_id, sizeof r->request_id, NULL));
	assert_string_equal(r->request_id, "");
	request_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pages),
		cmocka_unit_test(test_json_query),
		cmocka_unit_test(test_new_sets_start),
		cmocka_unit_test(token_is_copied),
		cmocka_unit_test(longest_token_fits_and_one_more_is_refused),
		cmocka_unit_test(non_tokens_leave_the_field_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
