/* Unit tests for request_page: which operator page nginx asked for. */
#include <setjmp.h>
#include <stdarg.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pages),
		cmocka_unit_test(test_json_query),
		cmocka_unit_test(test_new_sets_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
