/* Unit tests for fcgi_params: the params stream under its cap, one param
 * by name, and the params the reader picks for its result. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fcgi_params.h"

static void params_cap_lookup_and_check(void **state)
{
	(void)state;
	struct fcgi_params p;
	fcgi_params_init(&p, 64);
	static const unsigned char a[] = "\x0e\x04REQUEST_METHODHEAD"
	                                 "\x0c\x07" "DOCUMENT_URI/c\0oro!"
	                                 "\x0e\x03REQUEST_METHODGET";
	assert_int_equal(fcgi_params_append(&p, a, 30), 0);
	assert_int_equal(fcgi_params_append(&p, a + 30, 30), 0);
	assert_int_equal(fcgi_params_check(&p), 0);
	size_t vl;
	const char *v = fcgi_params_get(&p, "REQUEST_METHOD", &vl);
	assert_non_null(v);
	assert_int_equal(vl, 4); /* the first of a repeated name */
	assert_memory_equal(v, "HEAD", 4);
	v = fcgi_params_get(&p, "DOCUMENT_URI", &vl);
	assert_int_equal(vl, 2); /* up to the NUL, as a C string */
	assert_memory_equal(v, "/c", 2);
	assert_null(fcgi_params_get(&p, "REQUEST", &vl));
	/* 60 of 64 bytes: 4 more fit, 5 do not, and nothing is added. */
	assert_int_equal(fcgi_params_append(&p, a, 5), FCGI_IN_TOO_LARGE);
	assert_int_equal(p.len, 60);
	assert_int_equal(fcgi_params_append(&p, a, 4), 0);
	assert_int_equal(fcgi_params_check(&p), FCGI_IN_BAD_LENGTH);
	fcgi_params_free(&p);
}

/* Appends one pair with 1-byte lengths (both under 128 here). */
static void add(struct fcgi_params *p, const char *name, const char *value,
                size_t vlen)
{
	size_t nl = strlen(name);
	unsigned char b[260] = {(unsigned char)nl, (unsigned char)vlen};
	memcpy(b + 2, name, nl);
	memcpy(b + 2 + nl, value, vlen);
	assert_int_equal(fcgi_params_append(p, b, 2 + nl + vlen), 0);
}

#define ADD(p, name, lit) add(p, name, lit, sizeof lit - 1)

static void pick(const struct fcgi_params *p, struct fcgi_in_result *r,
                 unsigned long long *clen)
{
	assert_int_equal(fcgi_params_check(p), 0);
	*r = (struct fcgi_in_result){0};
	fcgi_params_pick(p, r, clen);
}

static void pick_fills_what_the_app_uses(void **state)
{
	(void)state;
	struct fcgi_params p;
	fcgi_params_init(&p, 4096);
	ADD(&p, "HTTP_HOST", "example");
	ADD(&p, "REQUEST_URI", "/raw/path?q=1");
	ADD(&p, "DOCUMENT_URI", "/norm/path");
	ADD(&p, "REQUEST_METHOD", "HEAD");
	ADD(&p, "FCGI_APP_STATUS", "on");
	ADD(&p, "QUERY_STRING", "q=1");
	ADD(&p, "REQUEST_ID", "abc123");
	ADD(&p, "CONTENT_LENGTH", "42");
	ADD(&p, "REQUEST_METHOD", "GET"); /* the first counts */
	struct fcgi_in_result r;
	unsigned long long clen = 7;
	pick(&p, &r, &clen);
	assert_true(r.head);
	assert_int_equal(r.method_len, 4);
	assert_memory_equal(r.method, "HEAD", 4);
	assert_int_equal(r.page_len, 2);
	assert_memory_equal(r.page, "on", 2);
	assert_int_equal(r.query_len, 3);
	assert_memory_equal(r.query, "q=1", 3);
	assert_int_equal(r.request_id_len, 6);
	assert_memory_equal(r.request_id, "abc123", 6);
	/* DOCUMENT_URI (nginx's normalised path) over REQUEST_URI. */
	assert_int_equal(r.path_len, 10);
	assert_memory_equal(r.path, "/norm/path", 10);
	assert_false(r.bad_length);
	assert_true(clen == 42);
	/* The whole stream, in the params' own buffer. */
	assert_ptr_equal(r.params, p.buf);
	assert_int_equal(r.params_len, p.len);
	fcgi_params_free(&p);
}

static void pick_routes_on_request_uri_without_its_query(void **state)
{
	(void)state;
	struct fcgi_params p;
	fcgi_params_init(&p, 4096);
	struct fcgi_in_result r;
	unsigned long long clen;
	pick(&p, &r, &clen); /* an empty stream: nothing found */
	assert_null(r.path);
	assert_null(r.method);
	assert_null(r.page);
	assert_false(r.head);
	assert_false(r.bad_length);
	assert_true(clen == 0);
	ADD(&p, "REQUEST_METHOD", "head"); /* methods are case-sensitive */
	ADD(&p, "REQUEST_URI", "/a/b?x=1?y");
	pick(&p, &r, &clen);
	assert_false(r.head);
	assert_int_equal(r.path_len, 4);
	assert_memory_equal(r.path, "/a/b", 4);
	p.len = 0;
	ADD(&p, "REQUEST_URI", "/whole");
	ADD(&p, "REQUEST_METHOD", "HEAD\0X"); /* HEAD as a C string */
	pick(&p, &r, &clen);
	assert_true(r.head);
	assert_int_equal(r.path_len, 6);
	assert_memory_equal(r.path, "/whole", 6);
	fcgi_params_free(&p);
}

/* CONTENT_LENGTH: digits or empty; anything else is bad (a 400); a number
 * past what fits saturates; a value ends at its first NUL. */
static void pick_reads_content_length(void **state)
{
	(void)state;
	static const struct {
		const char *v;
		size_t len;
		unsigned long long clen;
		bool bad;
	} cases[] = {
		{"", 0, 0, false},
		{"0", 1, 0, false},
		{"1048576", 7, 1048576, false},
		{"99999999999999999999999", 23, ULLONG_MAX, false},
		{"18446744073709551615", 20, ULLONG_MAX, false},
		{"18446744073709551614", 20, ULLONG_MAX - 1, false},
		{"12\0" "99", 5, 12, false},
		{"12a", 3, 0, true},
		{"-1", 2, 0, true},
		{" 5", 2, 0, true},
		{"+5", 2, 0, true},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fcgi_params p;
		fcgi_params_init(&p, 4096);
		add(&p, "CONTENT_LENGTH", cases[i].v, cases[i].len);
		ADD(&p, "CONTENT_LENGTH", "x"); /* the first counts */
		struct fcgi_in_result r;
		unsigned long long clen = 7;
		pick(&p, &r, &clen);
		assert_int_equal(r.bad_length, cases[i].bad);
		assert_true(clen == cases[i].clen);
		fcgi_params_free(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(params_cap_lookup_and_check),
		cmocka_unit_test(pick_fills_what_the_app_uses),
		cmocka_unit_test(pick_routes_on_request_uri_without_its_query),
		cmocka_unit_test(pick_reads_content_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
