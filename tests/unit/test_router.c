/* Unit tests for the router: exact matching and /sleep/<n> parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "router.h"

static struct router_match match(const char *path)
{
	return router_match(path, strlen(path), 60);
}

static void router_matches_each_demo_route_exactly(void **state)
{
	(void)state;
	assert_int_equal(match("/simple").route, ROUTER_SIMPLE);
	assert_int_equal(match("/simple/fire").route, ROUTER_SIMPLE_FIRE);
	assert_int_equal(match("/error").route, ROUTER_ERROR);
	assert_int_equal(match("/coro").route, ROUTER_CORO);
}

static void router_serves_the_same_routes_under_async(void **state)
{
	(void)state;
	assert_int_equal(match("/async/simple").route, ROUTER_SIMPLE);
	assert_int_equal(match("/async/simple/fire").route, ROUTER_SIMPLE_FIRE);
	assert_int_equal(match("/async/error").route, ROUTER_ERROR);
	assert_int_equal(match("/async/coro").route, ROUTER_CORO);
	struct router_match m = match("/async/sleep/7");
	assert_int_equal(m.route, ROUTER_SLEEP);
	assert_int_equal(m.seconds, 7);
}

static void router_unknown_paths_are_not_found(void **state)
{
	(void)state;
	static const char *const paths[] = {
		"", "/", "/simple/", "/simplex", "/simple/fire/", "/Simple",
		"/coro/", "/async", "/async/", "/async/async/coro", "simple",
		"//simple", "/error?x=1", "/async/nope",
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		assert_int_equal(match(paths[i]).route, ROUTER_NOT_FOUND);
}

static void router_does_not_read_past_the_given_length(void **state)
{
	(void)state;
	/* "/corox" cut to 5 bytes is "/coro". */
	assert_int_equal(router_match("/corox", 5, 60).route, ROUTER_CORO);
	assert_int_equal(router_match("/coro", 4, 60).route, ROUTER_NOT_FOUND);
}

static void router_sleep_takes_digits(void **state)
{
	(void)state;
	struct router_match m = match("/sleep/3");
	assert_int_equal(m.route, ROUTER_SLEEP);
	assert_int_equal(m.seconds, 3);
	m = match("/sleep/0");
	assert_int_equal(m.route, ROUTER_SLEEP);
	assert_int_equal(m.seconds, 0);
	m = match("/sleep/60");
	assert_int_equal(m.route, ROUTER_SLEEP);
	assert_int_equal(m.seconds, 60);
}

static void router_sleep_allows_leading_zeros(void **state)
{
	(void)state;
	struct router_match m = match("/sleep/01");
	assert_int_equal(m.route, ROUTER_SLEEP);
	assert_int_equal(m.seconds, 1);
	m = match("/sleep/000000000000000000000000000000000000000005");
	assert_int_equal(m.route, ROUTER_SLEEP);
	assert_int_equal(m.seconds, 5);
}

static void router_sleep_rejects_non_digits_as_not_found(void **state)
{
	(void)state;
	static const char *const paths[] = {
		"/sleep/", "/sleep", "/sleep/abc", "/sleep/-1", "/sleep/+1",
		"/sleep/1.5", "/sleep/1a", "/sleep/ 1", "/sleep/1 ", "/sleep/1/",
		"/sleep//1", "/sleep/0x10", "/sleep/１",
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		assert_int_equal(match(paths[i]).route, ROUTER_NOT_FOUND);
}

static void router_sleep_above_the_maximum_is_too_long(void **state)
{
	(void)state;
	assert_int_equal(match("/sleep/61").route, ROUTER_SLEEP_TOO_LONG);
	assert_int_equal(router_match("/sleep/6", 8, 5).route,
	                 ROUTER_SLEEP_TOO_LONG);
	assert_int_equal(router_match("/sleep/5", 8, 5).route, ROUTER_SLEEP);
	assert_int_equal(router_match("/sleep/1", 8, 0).route,
	                 ROUTER_SLEEP_TOO_LONG);
}

static void router_sleep_never_overflows(void **state)
{
	(void)state;
	/* 20 digits: above ULONG_MAX's 18446744073709551615 and below it. */
	assert_int_equal(match("/sleep/99999999999999999999").route,
	                 ROUTER_SLEEP_TOO_LONG);
	assert_int_equal(match("/sleep/18446744073709551616").route,
	                 ROUTER_SLEEP_TOO_LONG);
	/* A value that would wrap to 1 modulo 2^64 is still too long. */
	assert_int_equal(match("/sleep/18446744073709551617").route,
	                 ROUTER_SLEEP_TOO_LONG);
	struct router_match m =
	    router_match("/sleep/18446744073709551615", 27, (unsigned long)-1);
	assert_int_equal(m.route, ROUTER_SLEEP);
	assert_true(m.seconds == (unsigned long)-1);
	assert_int_equal(
	    router_match("/sleep/18446744073709551616", 27, (unsigned long)-1)
	        .route,
	    ROUTER_SLEEP_TOO_LONG);
}

static void router_sleep_with_too_many_digits_and_a_letter_is_not_found(void **state)
{
	(void)state;
	assert_int_equal(match("/sleep/99999999999999999999x").route,
	                 ROUTER_NOT_FOUND);
}

static void router_names_routes_for_logs(void **state)
{
	(void)state;
	assert_string_equal(router_route_name(ROUTER_SIMPLE_FIRE), "simple_fire");
	assert_string_equal(router_route_name(ROUTER_NOT_FOUND), "not_found");
	assert_string_equal(router_route_name((enum router_route)99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(router_matches_each_demo_route_exactly),
		cmocka_unit_test(router_serves_the_same_routes_under_async),
		cmocka_unit_test(router_unknown_paths_are_not_found),
		cmocka_unit_test(router_does_not_read_past_the_given_length),
		cmocka_unit_test(router_sleep_takes_digits),
		cmocka_unit_test(router_sleep_allows_leading_zeros),
		cmocka_unit_test(router_sleep_rejects_non_digits_as_not_found),
		cmocka_unit_test(router_sleep_above_the_maximum_is_too_long),
		cmocka_unit_test(router_sleep_never_overflows),
		cmocka_unit_test(router_sleep_with_too_many_digits_and_a_letter_is_not_found),
		cmocka_unit_test(router_names_routes_for_logs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
