/* Unit tests for pattern: Klein-style patterns, typed captures, and the
 * errors a malformed pattern gets at registration. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pattern.h"

static struct pattern *compile(const char *src)
{
	struct pattern *p = NULL;
	char err[160];
	int rc = pattern_compile(src, &p, err, sizeof err);
	if (rc != 0)
		fail_msg("compile %s: %s", src, err);
	return p;
}

static bool matches(struct pattern *p, const char *path,
                    struct pattern_capture *caps)
{
	return pattern_match(p, path, strlen(path), caps);
}

static void pattern_literal_matches_exactly(void **state)
{
	(void)state;
	struct pattern *p = compile("/simple/fire");
	assert_int_equal(pattern_ncaptures(p), 0);
	assert_string_equal(pattern_source(p), "/simple/fire");
	assert_true(matches(p, "/simple/fire", NULL));
	static const char *const no[] = {"/simple", "/simple/fire/", "/simple/firex",
	                                 "/simple/fir", "", "/", "simple/fire",
	                                 "/Simple/fire"};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		assert_false(matches(p, no[i], NULL));
	pattern_free(p);
}

static void pattern_int_takes_digits_only(void **state)
{
	(void)state;
	struct pattern *p = compile("/sleep/<int:n>");
	struct pattern_capture c[PATTERN_MAX_CAPTURES];
	assert_true(matches(p, "/sleep/42", c));
	assert_string_equal(c[0].name, "n");
	assert_int_equal(c[0].type, PATTERN_INT);
	assert_int_equal(c[0].n, 42);
	assert_false(c[0].overflow);
	assert_int_equal(c[0].len, 2);
	assert_memory_equal(c[0].s, "42", 2);
	assert_true(matches(p, "/sleep/0007", c));
	assert_int_equal(c[0].n, 7);
	static const char *const no[] = {"/sleep/", "/sleep", "/sleep/-1", "/sleep/+1",
	                                 "/sleep/1.5", "/sleep/1a", "/sleep/0x1",
	                                 "/sleep/1/", "/sleep/ 1"};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		assert_false(matches(p, no[i], c));
	pattern_free(p);
}

static void pattern_int_saturates_and_says_so(void **state)
{
	(void)state;
	struct pattern *p = compile("/n/<int:n>");
	struct pattern_capture c[1];
	assert_true(matches(p, "/n/18446744073709551615", c));
	assert_true(c[0].n == UINT64_MAX);
	assert_false(c[0].overflow);
	/* One more, and a value that would wrap to 1 modulo 2^64. */
	assert_true(matches(p, "/n/18446744073709551616", c));
	assert_true(c[0].n == UINT64_MAX && c[0].overflow);
	assert_true(matches(p, "/n/36893488147419103233", c));
	assert_true(c[0].n == UINT64_MAX && c[0].overflow);
	assert_true(matches(p, "/n/000000000000000000000000000000000000000000005", c));
	assert_true(c[0].n == 5 && !c[0].overflow);
	pattern_free(p);
}

static void pattern_string_is_one_segment(void **state)
{
	(void)state;
	struct pattern *p = compile("/user/<name>/posts/<string:post>");
	struct pattern_capture c[2];
	assert_int_equal(pattern_ncaptures(p), 2);
	assert_true(matches(p, "/user/ada/posts/first-one", c));
	assert_string_equal(c[0].name, "name");
	assert_int_equal(c[0].type, PATTERN_STRING);
	assert_int_equal(c[0].len, 3);
	assert_memory_equal(c[0].s, "ada", 3);
	assert_string_equal(c[1].name, "post");
	assert_int_equal(c[1].len, 9);
	assert_memory_equal(c[1].s, "first-one", 9);
	assert_false(matches(p, "/user//posts/x", c));
	assert_false(matches(p, "/user/a/b/posts/x", c));
	assert_false(matches(p, "/user/ada/posts/", c));
	assert_false(matches(p, "/user/ada/posts/x/", c));
	pattern_free(p);
}

static void pattern_path_takes_the_rest(void **state)
{
	(void)state;
	struct pattern *p = compile("/files/<path:rest>");
	struct pattern_capture c[1];
	assert_true(matches(p, "/files/a/b/c.txt", c));
	assert_int_equal(c[0].type, PATTERN_PATH);
	assert_int_equal(c[0].len, 9);
	assert_memory_equal(c[0].s, "a/b/c.txt", 9);
	assert_true(matches(p, "/files/x/", c));
	assert_int_equal(c[0].len, 2);
	assert_false(matches(p, "/files/", c));
	assert_false(matches(p, "/files", c));
	pattern_free(p);
}

static void pattern_does_not_read_past_the_length(void **state)
{
	(void)state;
	struct pattern *p = compile("/coro");
	assert_true(pattern_match(p, "/corox", 5, NULL));
	assert_false(pattern_match(p, "/coro", 4, NULL));
	pattern_free(p);
	p = compile("/a/<int:n>");
	struct pattern_capture c[1];
	assert_true(pattern_match(p, "/a/12345", 6, c));
	assert_int_equal(c[0].n, 123);
	pattern_free(p);
}

static void pattern_same_ignores_names_only(void **state)
{
	(void)state;
	struct pattern *a = compile("/u/<int:id>/x"), *b = compile("/u/<int:n>/x"),
	               *c = compile("/u/<id>/x"), *d = compile("/u/<int:id>/y"),
	               *e = compile("/u/<int:id>");
	assert_true(pattern_same(a, b));
	assert_false(pattern_same(a, c));
	assert_false(pattern_same(a, d));
	assert_false(pattern_same(a, e));
	pattern_free(a);
	pattern_free(b);
	pattern_free(c);
	pattern_free(d);
	pattern_free(e);
}

/* Each malformed pattern is refused with a message naming what is wrong. */
static void pattern_refuses_malformed_patterns(void **state)
{
	(void)state;
	static const struct {
		const char *src, *says;
	} bad[] = {
		{"", "starts with '/'"},
		{"simple", "starts with '/'"},
		{"/a/<int:n", "never closed"},
		{"/a/<float:n>", "unknown capture type 'float'"},
		{"/a/<int:>", "1 to 32 characters"},
		{"/a/<>", "1 to 32 characters"},
		{"/a/<1n>", "[A-Za-z_]"},
		{"/a/<n-1>", "[A-Za-z_]"},
		{"/a/<abcdefghijklmnopqrstuvwxyz0123456>", "1 to 32 characters"},
		{"/a/<n>/<int:n>", "'n' is used twice"},
		{"/a<n>", "whole path segment"},
		{"/a/<n>b", "whole path segment"},
		{"/a/<path:p>/b", "must end the pattern"},
		{"/a>b", "'>' without '<'"},
		{"/a?b=1", "not '?'"},
		{"/a#top", "not '#'"},
		{"/a//b", "empty path segment"},
		{"/<a>/<b>/<c>/<d>/<e>/<f>/<g>/<h>/<i>", "more than 8 captures"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct pattern *p = (struct pattern *)1;
		char err[160];
		assert_int_equal(pattern_compile(bad[i].src, &p, err, sizeof err), -EINVAL);
		assert_null(p);
		if (!strstr(err, bad[i].says))
			fail_msg("%s: \"%s\" does not say \"%s\"", bad[i].src, err, bad[i].says);
	}
	/* Eight is the limit, not seven. */
	struct pattern *p = compile("/<a>/<b>/<c>/<d>/<e>/<f>/<g>/<h>");
	assert_int_equal(pattern_ncaptures(p), 8);
	pattern_free(p);
	pattern_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pattern_literal_matches_exactly),
		cmocka_unit_test(pattern_int_takes_digits_only),
		cmocka_unit_test(pattern_int_saturates_and_says_so),
		cmocka_unit_test(pattern_string_is_one_segment),
		cmocka_unit_test(pattern_path_takes_the_rest),
		cmocka_unit_test(pattern_does_not_read_past_the_length),
		cmocka_unit_test(pattern_same_ignores_names_only),
		cmocka_unit_test(pattern_refuses_malformed_patterns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
