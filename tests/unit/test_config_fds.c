/* Unit tests for config's fd budget: --fd-reserve, and --max-pending
 * lowered to what the fd limit allows (config_fit_fds). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "config.h"

static void fit_lowers_max_pending_to_the_connections_that_fit(void **state)
{
	(void)state;
	struct config c;
	config_defaults(&c);
	assert_int_equal(c.fd_reserve, 256);
	assert_int_equal(c.max_pending, 20000);
	/* 20,000 fds, 30 the app's own, 256 kept free: 19,714 connections. */
	assert_int_equal(config_fit_fds(&c, 20000, 30), 1);
	assert_int_equal(c.max_conns, 19714);
	assert_int_equal(c.max_pending, 19714);
}

static void fit_keeps_a_max_pending_that_fits(void **state)
{
	(void)state;
	struct config c;
	config_defaults(&c);
	assert_int_equal(config_fit_fds(&c, 65536, 30), 0);
	assert_int_equal(c.max_conns, 65536 - 30 - 256);
	assert_int_equal(c.max_pending, 20000);
	/* Exactly at the bound is not lowered either. */
	config_defaults(&c);
	c.max_pending = 1000;
	assert_int_equal(config_fit_fds(&c, 1000 + 30 + 256, 30), 0);
	assert_int_equal(c.max_conns, 1000);
	assert_int_equal(c.max_pending, 1000);
}

static void fit_fails_when_no_connection_fits(void **state)
{
	(void)state;
	struct config c;
	config_defaults(&c);
	c.fd_reserve = 64;
	assert_int_equal(config_fit_fds(&c, 94, 30), -1); /* 0 left */
	assert_int_equal(c.max_conns, 0);
	assert_int_equal(c.max_pending, 20000);
	assert_int_equal(config_fit_fds(&c, 20, 30), -1); /* under the app's own */
	assert_int_equal(c.max_conns, 0);
	assert_int_equal(config_fit_fds(&c, 95, 30), 1); /* 1 left */
	assert_int_equal(c.max_conns, 1);
	assert_int_equal(c.max_pending, 1);
}

static void fit_saturates_an_unlimited_fd_limit(void **state)
{
	(void)state;
	struct config c;
	config_defaults(&c);
	assert_int_equal(config_fit_fds(&c, ~0ull, 30), 0);
	assert_int_equal(c.max_conns, UINT_MAX);
	assert_int_equal(c.max_pending, 20000);
}

/* config_load with argv {"fcgi_app", flag, value} (flag NULL: no args). */
static int load(struct config *c, const char *flag, const char *value)
{
	char prog[] = "fcgi_app", f[32] = "", v[32] = "";
	char *argv[] = {prog, f, v, NULL};
	if (flag) {
		snprintf(f, sizeof f, "%s", flag);
		snprintf(v, sizeof v, "%s", value);
	}
	return config_load(c, flag ? 3 : 1, argv);
}

static void fd_reserve_is_a_flag_and_a_variable_with_a_range(void **state)
{
	(void)state;
	struct config c;
	config_defaults(&c);
	setenv("FCGI_APP_FD_RESERVE", "40", 1);
	assert_int_equal(load(&c, NULL, NULL), 0);
	assert_int_equal(c.fd_reserve, 40);
	assert_int_equal(load(&c, "--fd-reserve", "7"), 0);
	assert_int_equal(c.fd_reserve, 7); /* the flag wins */
	unsetenv("FCGI_APP_FD_RESERVE");
	assert_int_equal(load(&c, "--fd-reserve", "0"), -1);
	assert_int_equal(load(&c, "--fd-reserve", "1000001"), -1);
	assert_int_equal(load(&c, "--fd-reserve", "1000000"), 0);
	assert_int_equal(c.fd_reserve, 1000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fit_lowers_max_pending_to_the_connections_that_fit),
		cmocka_unit_test(fit_keeps_a_max_pending_that_fits),
		cmocka_unit_test(fit_fails_when_no_connection_fits),
		cmocka_unit_test(fit_saturates_an_unlimited_fd_limit),
		cmocka_unit_test(fd_reserve_is_a_flag_and_a_variable_with_a_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
