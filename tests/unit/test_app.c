/*
 * Unit tests for app.c: the route table the acceptors match on (the demo's
 * table, exact matching, the /async mount, <int:n> captures that never
 * overflow), methods and the 405's Allow, what fcgi_app_route and
 * fcgi_app_mount refuse, route labels, the error handlers' order, and
 * fcgi_app_option before and after the app is bound.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "app.h"
#include "config.h"
#include "fcgi_resp.h"
#include "req_build.h"
#include "request.h"
#include "response.h"

static struct deferred *dummy(struct fcgi_req *req, void *data)
{
	(void)req;
	(void)data;
	return NULL;
}

/* The demo's table (fcgi_app/demo/main.c), in its order, so route i is
 * routes[i - 1]. */
enum { SIMPLE = 1, SIMPLE_FIRE, ERROR, CORO, SLEEP };
static const char *const demo_patterns[] = {
	"/simple", "/simple/fire", "/error", "/coro", "/sleep/<int:n>",
};

static struct fcgi_app *demo_app(void)
{
	struct fcgi_app *app = fcgi_app_new();
	assert_non_null(app);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(fcgi_app_route(app, FCGI_ANY, demo_patterns[i],
		                                 dummy, NULL, 0), 0);
	assert_int_equal(fcgi_app_mount(app, "/async"), 0);
	assert_int_equal(app_nroutes(app), 5);
	return app;
}

static int setup(void **state)
{
	*state = demo_app();
	return 0;
}

static int teardown(void **state)
{
	fcgi_app_free(*state);
	return 0;
}

static unsigned route_of(struct fcgi_app *app, const char *path)
{
	return app_match(app, FCGI_GET, path, strlen(path)).route;
}

/* `path` goes to /sleep, and its <int:n> capture read through the request
 * accessors, as a handler reads it, gives `rc` and `n`. */
static void expect_sleep(struct fcgi_app *app, const char *path, int rc,
                         uint64_t n)
{
	struct request *r = req_new(app, "GET", path, NULL);
	assert_int_equal(r->route, SLEEP);
	uint64_t got = 12345;
	assert_int_equal(fcgi_req_capture_int(&r->in, "n", &got), rc);
	assert_true(got == n);
	request_free(r);
}

static void matches_each_demo_route_exactly(void **state)
{
	struct fcgi_app *app = *state;
	assert_int_equal(route_of(app, "/simple"), SIMPLE);
	assert_int_equal(route_of(app, "/simple/fire"), SIMPLE_FIRE);
	assert_int_equal(route_of(app, "/error"), ERROR);
	assert_int_equal(route_of(app, "/coro"), CORO);
	struct app_match m = app_match(app, FCGI_GET, "/coro", 5);
	assert_int_equal(m.skip, 0);
	assert_int_equal(m.allow, 0);
}

static void serves_the_same_routes_under_async(void **state)
{
	struct fcgi_app *app = *state;
	assert_int_equal(route_of(app, "/async/simple"), SIMPLE);
	assert_int_equal(route_of(app, "/async/simple/fire"), SIMPLE_FIRE);
	assert_int_equal(route_of(app, "/async/error"), ERROR);
	assert_int_equal(route_of(app, "/async/coro"), CORO);
	assert_int_equal(app_match(app, FCGI_GET, "/async/coro", 11).skip, 6);
	expect_sleep(app, "/async/sleep/7", 0, 7);
}

static void unknown_paths_are_not_found(void **state)
{
	struct fcgi_app *app = *state;
	static const char *const paths[] = {
		"", "/", "/simple/", "/simplex", "/simple/fire/", "/Simple",
		"/coro/", "/async", "/async/", "/async/async/coro", "simple",
		"//simple", "/error?x=1", "/async/nope",
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		struct app_match m = app_match(app, FCGI_GET, paths[i],
		                               strlen(paths[i]));
		assert_int_equal(m.route, APP_NO_ROUTE);
		assert_int_equal(m.allow, 0); /* 404, not 405 */
	}
}

static void does_not_read_past_the_given_length(void **state)
{
	struct fcgi_app *app = *state;
	/* "/corox" cut to 5 bytes is "/coro". */
	assert_int_equal(app_match(app, FCGI_GET, "/corox", 5).route, CORO);
	assert_int_equal(app_match(app, FCGI_GET, "/coro", 4).route,
	                 APP_NO_ROUTE);
	/* And under the mount: "/async/corox" cut to 11. */
	assert_int_equal(app_match(app, FCGI_GET, "/async/corox", 11).route, CORO);
}

static void sleep_takes_digits(void **state)
{
	struct fcgi_app *app = *state;
	expect_sleep(app, "/sleep/3", 0, 3);
	expect_sleep(app, "/sleep/0", 0, 0);
	expect_sleep(app, "/sleep/60", 0, 60);
}

static void sleep_allows_leading_zeros(void **state)
{
	struct fcgi_app *app = *state;
	expect_sleep(app, "/sleep/01", 0, 1);
	expect_sleep(app, "/sleep/000000000000000000000000000000000000000005", 0, 5);
}

static void sleep_rejects_non_digits_as_not_found(void **state)
{
	struct fcgi_app *app = *state;
	static const char *const paths[] = {
		"/sleep/", "/sleep", "/sleep/abc", "/sleep/-1", "/sleep/+1",
		"/sleep/1.5", "/sleep/1a", "/sleep/ 1", "/sleep/1 ", "/sleep/1/",
		"/sleep//1", "/sleep/0x10", "/sleep/１",
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		assert_int_equal(route_of(app, paths[i]), APP_NO_ROUTE);
}

/* Above --max-sleep is the handler's verdict now (test_demo.c): the table
 * routes every number to /sleep, with its value. */
static void sleep_above_the_maximum_is_still_sleep(void **state)
{
	struct fcgi_app *app = *state;
	expect_sleep(app, "/sleep/61", 0, 61);
	expect_sleep(app, "/sleep/6", 0, 6);
}

static void sleep_never_overflows(void **state)
{
	struct fcgi_app *app = *state;
	/* 20 digits: above UINT64_MAX's 18446744073709551615 and below it. */
	expect_sleep(app, "/sleep/99999999999999999999", -ERANGE, UINT64_MAX);
	expect_sleep(app, "/sleep/18446744073709551616", -ERANGE, UINT64_MAX);
	/* A value that would wrap to 1 modulo 2^64 is still too large. */
	expect_sleep(app, "/sleep/18446744073709551617", -ERANGE, UINT64_MAX);
	expect_sleep(app, "/sleep/18446744073709551615", 0, UINT64_MAX);
	/* Leading zeros do not count towards the overflow. */
	expect_sleep(app, "/sleep/00018446744073709551615", 0, UINT64_MAX);
}

static void sleep_with_too_many_digits_and_a_letter_is_not_found(void **state)
{
	struct fcgi_app *app = *state;
	assert_int_equal(route_of(app, "/sleep/99999999999999999999x"),
	                 APP_NO_ROUTE);
}

/* Route indexes name routes for the logs and the metrics by label. */
static void names_routes_for_logs(void **state)
{
	struct fcgi_app *app = *state;
	assert_string_equal(app_route(app, SIMPLE_FIRE)->label, "simple_fire");
	assert_string_equal(app_route(app, SIMPLE)->label, "simple");
	assert_string_equal(app_route(app, ERROR)->label, "error");
	assert_string_equal(app_route(app, CORO)->label, "coro");
	assert_string_equal(app_route(app, SLEEP)->label, "sleep");
	/* No route (0) and past the table: no entry. */
	assert_null(app_route(app, APP_NO_ROUTE));
	assert_null(app_route(app, 6));
	assert_null(app_route(app, 99));
}

/* ---- methods ------------------------------------------------------------ */

static void methods_and_allow(void **state)
{
	(void)state;
	struct fcgi_app *app = fcgi_app_new();
	assert_non_null(app);
	assert_int_equal(fcgi_app_route(app, FCGI_GET, "/get", dummy, NULL, 0), 0);
	assert_int_equal(fcgi_app_route(app, FCGI_POST, "/post", dummy, NULL, 0), 0);
	assert_int_equal(fcgi_app_route(app, FCGI_PUT | FCGI_DELETE, "/post",
	                                dummy, NULL, 0), 0);
	assert_int_equal(fcgi_app_route(app, FCGI_ANY, "/any", dummy, NULL, 0), 0);
	assert_int_equal(fcgi_app_mount(app, "/m"), 0);

	/* A GET route takes HEAD, and nothing else. */
	assert_int_equal(app_match(app, FCGI_GET, "/get", 4).route, 1);
	assert_int_equal(app_match(app, FCGI_HEAD, "/get", 4).route, 1);
	struct app_match m = app_match(app, FCGI_POST, "/get", 4);
	assert_int_equal(m.route, APP_NO_ROUTE);
	assert_int_equal(m.allow, FCGI_GET | FCGI_HEAD);

	/* A POST-only path asked with GET: no route, and what it takes. */
	assert_int_equal(app_match(app, FCGI_POST, "/post", 5).route, 2);
	assert_int_equal(app_match(app, FCGI_DELETE, "/post", 5).route, 3);
	m = app_match(app, FCGI_GET, "/post", 5);
	assert_int_equal(m.route, APP_NO_ROUTE);
	assert_int_equal(m.allow, FCGI_POST | FCGI_PUT | FCGI_DELETE);
	/* HEAD is not implied by POST. */
	assert_int_equal(app_match(app, FCGI_HEAD, "/post", 5).route, APP_NO_ROUTE);
	/* The same through the mount. */
	m = app_match(app, FCGI_GET, "/m/post", 7);
	assert_int_equal(m.route, APP_NO_ROUTE);
	assert_int_equal(m.allow, FCGI_POST | FCGI_PUT | FCGI_DELETE);
	assert_int_equal(app_match(app, FCGI_PUT, "/m/post", 7).route, 3);
	assert_int_equal(app_match(app, FCGI_PUT, "/m/post", 7).skip, 2);

	/* A method the app does not know (0) only matches FCGI_ANY routes,
	 * and is a 405 elsewhere. */
	assert_int_equal(app_method_bit("BREW", 4), 0);
	assert_int_equal(app_match(app, 0, "/any", 4).route, 4);
	m = app_match(app, 0, "/get", 4);
	assert_int_equal(m.route, APP_NO_ROUTE);
	assert_int_equal(m.allow, FCGI_GET | FCGI_HEAD);
	for (unsigned bit = FCGI_GET; bit <= FCGI_OPTIONS; bit <<= 1)
		assert_int_equal(app_match(app, bit, "/any", 4).route, 4);
	/* No path matched: 404 whatever the method. */
	m = app_match(app, FCGI_GET, "/nope", 5);
	assert_int_equal(m.route, APP_NO_ROUTE);
	assert_int_equal(m.allow, 0);
	fcgi_app_free(app);
}

static void method_bits(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		unsigned bit;
	} cases[] = {
		{"GET", FCGI_GET}, {"HEAD", FCGI_HEAD}, {"POST", FCGI_POST},
		{"PUT", FCGI_PUT}, {"DELETE", FCGI_DELETE}, {"PATCH", FCGI_PATCH},
		{"OPTIONS", FCGI_OPTIONS}, {"get", 0}, {"GETX", 0}, {"GE", 0},
		{"", 0}, {"TRACE", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_int_equal(app_method_bit(cases[i].name, strlen(cases[i].name)),
		                 cases[i].bit);
	/* Only the given bytes count. */
	assert_int_equal(app_method_bit("GETX", 3), FCGI_GET);
}

static void allow_header_text(void **state)
{
	(void)state;
	char buf[96];
	app_allow_header(FCGI_GET | FCGI_HEAD, buf, sizeof buf);
	assert_string_equal(buf, "GET, HEAD");
	app_allow_header(FCGI_POST, buf, sizeof buf);
	assert_string_equal(buf, "POST");
	app_allow_header(FCGI_OPTIONS | FCGI_GET | FCGI_DELETE, buf, sizeof buf);
	assert_string_equal(buf, "GET, DELETE, OPTIONS");
	app_allow_header(0x7f, buf, sizeof buf);
	assert_string_equal(buf, "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS");
	app_allow_header(0, buf, sizeof buf);
	assert_string_equal(buf, "");
	/* A small buffer holds whole names only. */
	char small[12];
	app_allow_header(FCGI_GET | FCGI_HEAD | FCGI_POST, small, sizeof small);
	assert_string_equal(small, "GET, HEAD");
}

/* ---- what registration refuses ------------------------------------------ */

static void duplicate_routes(void **state)
{
	(void)state;
	struct fcgi_app *app = fcgi_app_new();
	assert_non_null(app);
	assert_int_equal(fcgi_app_route(app, FCGI_GET, "/a/<x>", dummy, NULL, 0), 0);
	/* The same shape under other names, and a shared method. */
	assert_int_equal(fcgi_app_route(app, FCGI_GET, "/a/<string:y>", dummy,
	                                NULL, 0), -EEXIST);
	assert_int_equal(fcgi_app_route(app, FCGI_GET | FCGI_POST, "/a/<z>",
	                                dummy, NULL, 0), -EEXIST);
	/* HEAD is shared through GET. */
	assert_int_equal(fcgi_app_route(app, FCGI_HEAD, "/a/<x>", dummy, NULL, 0),
	                 -EEXIST);
	assert_int_equal(fcgi_app_route(app, FCGI_ANY, "/a/<x>", dummy, NULL, 0),
	                 -EEXIST);
	/* Other methods are fine, and so are other shapes. */
	assert_int_equal(fcgi_app_route(app, FCGI_POST, "/a/<x>", dummy, NULL, 0), 0);
	assert_int_equal(fcgi_app_route(app, FCGI_PUT | FCGI_PATCH, "/a/<x>",
	                                dummy, NULL, 0), 0);
	assert_int_equal(fcgi_app_route(app, FCGI_POST, "/a/<x>", dummy, NULL, 0),
	                 -EEXIST);
	assert_int_equal(fcgi_app_route(app, FCGI_GET, "/a/<int:x>", dummy, NULL, 0),
	                 0);
	assert_int_equal(fcgi_app_route(app, FCGI_GET, "/a", dummy, NULL, 0), 0);
	assert_int_equal(app_nroutes(app), 5);
	/* A refused route left the table as it was: GET still goes to the
	 * first. */
	assert_int_equal(app_match(app, FCGI_GET, "/a/b", 4).route, 1);
	assert_int_equal(app_match(app, FCGI_PATCH, "/a/b", 4).route, 3);
	fcgi_app_free(app);
}

static void malformed_routes(void **state)
{
	(void)state;
	struct fcgi_app *app = fcgi_app_new();
	assert_non_null(app);
	static const char *const bad[] = {
		"", "simple", "/a/<", "/a/<x", "/a/<>", "/a/<int:>",
		"/a/<float:x>", "/a/x<y>", "/a/<x>y", "/a/<x>/<x>",
		"/a/<path:p>/b",
		"/<a>/<b>/<c>/<d>/<e>/<f>/<g>/<h>/<i>", /* 9 captures */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(fcgi_app_route(app, FCGI_GET, bad[i], dummy, NULL, 0),
		                 -EINVAL);
	assert_int_equal(fcgi_app_route(app, FCGI_GET, NULL, dummy, NULL, 0),
	                 -EINVAL);
	assert_int_equal(fcgi_app_route(app, FCGI_GET, "/ok", NULL, NULL, 0),
	                 -EINVAL);
	/* No method. */
	assert_int_equal(fcgi_app_route(app, 0, "/ok", dummy, NULL, 0), -EINVAL);
	/* Bits no method has: they would never match, and a 405 would
	 * name nothing in Allow. */
	assert_int_equal(fcgi_app_route(app, 0x80, "/ok", dummy, NULL, 0), -EINVAL);
	assert_int_equal(fcgi_app_route(app, FCGI_GET | 0x10000, "/ok", dummy,
	                                NULL, 0), -EINVAL);
	/* Unknown flags. */
	assert_int_equal(fcgi_app_route(app, FCGI_GET, "/ok", dummy, NULL, 0x4),
	                 -EINVAL);
	assert_int_equal(fcgi_app_route(app, FCGI_GET, "/ok", dummy, NULL,
	                                FCGI_ROUTE_ANY_THREAD | 0x100), -EINVAL);
	assert_int_equal(app_nroutes(app), 0);
	/* The known flags are kept. */
	assert_int_equal(fcgi_app_route(app, FCGI_GET, "/ok", dummy, NULL,
	                                FCGI_ROUTE_ANY_THREAD | FCGI_ROUTE_KEEP_INPUT),
	                 0);
	assert_int_equal(app_route(app, 1)->flags,
	                 FCGI_ROUTE_ANY_THREAD | FCGI_ROUTE_KEEP_INPUT);
	assert_int_equal(app_route(app, 1)->methods, FCGI_GET | FCGI_HEAD);
	fcgi_app_free(app);
}

static void mount_prefixes(void **state)
{
	(void)state;
	struct fcgi_app *app = fcgi_app_new();
	assert_non_null(app);
	static const char *const bad[] = {
		"", "/", "async", "/async/", "/a//b", "/<x>", "/a/<int:n>",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(fcgi_app_mount(app, bad[i]), -EINVAL);
	assert_int_equal(fcgi_app_mount(app, NULL), -EINVAL);
	char longp[300];
	memset(longp, 'a', sizeof longp - 1);
	longp[0] = '/';
	longp[sizeof longp - 1] = '\0';
	assert_int_equal(fcgi_app_mount(app, longp), -EINVAL);
	/* One or more segments; at most 4 prefixes. */
	assert_int_equal(fcgi_app_mount(app, "/a"), 0);
	assert_int_equal(fcgi_app_mount(app, "/b/c"), 0);
	assert_int_equal(fcgi_app_mount(app, "/d"), 0);
	assert_int_equal(fcgi_app_mount(app, "/e"), 0);
	assert_int_equal(fcgi_app_mount(app, "/f"), -ENOSPC);
	assert_int_equal(fcgi_app_route(app, FCGI_GET, "/x", dummy, NULL, 0), 0);
	assert_int_equal(app_match(app, FCGI_GET, "/b/c/x", 6).route, 1);
	assert_int_equal(app_match(app, FCGI_GET, "/b/c/x", 6).skip, 4);
	assert_int_equal(app_match(app, FCGI_GET, "/e/x", 4).route, 1);
	/* A prefix is a whole segment: "/ax" is not "/a" + "x". */
	assert_int_equal(app_match(app, FCGI_GET, "/ax", 3).route, APP_NO_ROUTE);
	assert_int_equal(app_match(app, FCGI_GET, "/b/x", 4).route, APP_NO_ROUTE);
	/* The refused prefix serves nothing. */
	assert_int_equal(app_match(app, FCGI_GET, "/f/x", 4).route, APP_NO_ROUTE);
	fcgi_app_free(app);
}

static void labels(void **state)
{
	(void)state;
	static const struct {
		const char *pattern, *label;
	} cases[] = {
		{"/simple/fire", "simple_fire"},
		{"/sleep/<int:n>", "sleep"},
		{"/", "root"},
		{"/<name>", "root"},
		{"/users/<int:id>/posts/<path:rest>", "users_posts"},
		{"/a-b/c.d", "a_b_c_d"},
	};
	struct fcgi_app *app = fcgi_app_new();
	assert_non_null(app);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(fcgi_app_route(app, FCGI_GET, cases[i].pattern,
		                                 dummy, NULL, 0), 0);
		assert_string_equal(app_route(app, (unsigned)i + 1)->label,
		                    cases[i].label);
	}
	/* A long pattern's label is cut to fit, NUL-terminated. */
	char longp[200];
	memset(longp, 'x', sizeof longp - 1);
	longp[0] = '/';
	longp[sizeof longp - 1] = '\0';
	assert_int_equal(fcgi_app_route(app, FCGI_GET, longp, dummy, NULL, 0), 0);
	const char *l = app_route(app, app_nroutes(app))->label;
	assert_int_equal(strlen(l), sizeof app_route(app, 1)->label - 1);
	fcgi_app_free(app);
}

/* ---- error handlers ------------------------------------------------------ */

static struct fcgi_resp *err_status(struct fcgi_req *req,
                                    const struct failure *f, void *data)
{
	(void)req;
	(void)f;
	return fcgi_resp_new((int)(intptr_t)data);
}

static struct fcgi_resp *err_decline(struct fcgi_req *req,
                                     const struct failure *f, void *data)
{
	(void)req;
	(void)f;
	++*(int *)data;
	return NULL;
}

/* The status of the response app_error_response gives for a failure of
 * `type`, or 0 for none. */
static int error_status(struct fcgi_app *app, const char *type)
{
	struct failure *f = failure_new(type, "boom");
	assert_non_null(f);
	struct fcgi_resp *resp = app_error_response(app, NULL, f);
	failure_free(f);
	if (!resp)
		return 0;
	struct response view;
	fcgi_resp_encode_view(resp, &view);
	fcgi_resp_free(resp);
	return view.status;
}

static void error_handlers_in_order(void **state)
{
	(void)state;
	struct fcgi_app *app = fcgi_app_new();
	assert_non_null(app);
	/* None registered: the server's default applies. */
	assert_int_equal(error_status(app, "ValueError"), 0);
	int declined = 0;
	assert_int_equal(fcgi_app_handle_errors(app, "ValueError", err_decline,
	                                        &declined), 0);
	assert_int_equal(fcgi_app_handle_errors(app, "ValueError", err_status,
	                                        (void *)(intptr_t)422), 0);
	assert_int_equal(fcgi_app_handle_errors(app, "KeyError", err_status,
	                                        (void *)(intptr_t)404), 0);
	assert_int_equal(fcgi_app_handle_errors(app, NULL, err_status,
	                                        (void *)(intptr_t)502), 0);
	/* Registered later for a type an earlier one took: never reached. */
	assert_int_equal(fcgi_app_handle_errors(app, "ValueError", err_status,
	                                        (void *)(intptr_t)418), 0);
	/* The first handler of the type declines; the next one answers. */
	assert_int_equal(error_status(app, "ValueError"), 422);
	assert_int_equal(declined, 1);
	assert_int_equal(error_status(app, "KeyError"), 404);
	assert_int_equal(declined, 1);
	/* Any other type: the catch-all. */
	assert_int_equal(error_status(app, "fcgi_app.QueueFull"), 502);
	assert_int_equal(fcgi_app_handle_errors(app, NULL, NULL, NULL), -EINVAL);
	fcgi_app_free(app);

	/* Only declining handlers: none takes it. */
	app = fcgi_app_new();
	assert_non_null(app);
	declined = 0;
	assert_int_equal(fcgi_app_handle_errors(app, NULL, err_decline, &declined),
	                 0);
	assert_int_equal(error_status(app, "ValueError"), 0);
	assert_int_equal(declined, 1);
	fcgi_app_free(app);
}

/* ---- options -------------------------------------------------------------- */

static void option_before_and_after_binding(void **state)
{
	(void)state;
	struct fcgi_app *app = fcgi_app_new();
	assert_non_null(app);
	unsigned long v = 77;
	assert_int_equal(fcgi_app_option(app, "max-sleep", &v), -ENOENT);
	assert_int_equal(v, 77);
	struct config cfg;
	config_defaults(&cfg);
	cfg.max_sleep = 1234;
	cfg.pending_timeout = 9;
	cfg.max_body = 4096;
	app_bind(app, &cfg, NULL, NULL, NULL);
	assert_int_equal(fcgi_app_option(app, "max-sleep", &v), 0);
	assert_int_equal(v, 1234);
	assert_int_equal(fcgi_app_option(app, "pending-timeout", &v), 0);
	assert_int_equal(v, 9);
	assert_int_equal(fcgi_app_option(app, "max-body", &v), 0);
	assert_int_equal(v, 4096);
	/* Unknown, and not numeric. */
	v = 77;
	assert_int_equal(fcgi_app_option(app, "no-such-option", &v), -ENOENT);
	assert_int_equal(fcgi_app_option(app, "socket", &v), -ENOENT);
	assert_int_equal(v, 77);
	fcgi_app_free(app);
}

/* fcgi_app_add_option: refused names and ranges, then the value read from
 * the environment and from a flag (the flag wins) by config_load, as
 * fcgi_app_run does, and fcgi_app_option sees it. */
static void app_options_load_like_the_servers(void **state)
{
	(void)state;
	struct fcgi_app *app = fcgi_app_new();
	assert_non_null(app);
	unsigned long a = 0, b = 0;
	assert_int_equal(fcgi_app_add_option(app, "Bad_Name", NULL, 1, 1, 2, "", &a), -EINVAL);
	assert_int_equal(fcgi_app_add_option(app, "x", NULL, 5, 1, 2, "", &a), -EINVAL);
	assert_int_equal(fcgi_app_add_option(app, "x", NULL, 1, 3, 2, "", &a), -EINVAL);
	assert_int_equal(fcgi_app_add_option(app, "x", NULL, 1, 1, 2, "", NULL), -EINVAL);
	assert_int_equal(fcgi_app_add_option(app, "max-sleep", NULL, 1, 1, 2, "", &a), -EEXIST);
	assert_int_equal(fcgi_app_add_option(app, "help", NULL, 1, 1, 2, "", &a), -EEXIST);
	assert_int_equal(fcgi_app_add_option(app, "per-room", "TEST_APP_PER_ROOM",
	                                     10, 1, 100, "per room", &a), 0);
	assert_int_equal(a, 10);
	assert_int_equal(fcgi_app_add_option(app, "per-room", NULL, 1, 1, 2, "", &b), -EEXIST);
	assert_int_equal(fcgi_app_add_option(app, "rooms", "TEST_APP_ROOMS", 7,
	                                     1, 100, "rooms", &b), 0);

	struct config cfg;
	config_defaults(&cfg);
	app_configure(app, &cfg, "/usr/bin/myapp");
	assert_string_equal(cfg.prog, "myapp");
	assert_int_equal(cfg.nextra, 2);
	setenv("TEST_APP_PER_ROOM", "20", 1);
	setenv("TEST_APP_ROOMS", "30", 1);
	char a0[] = "myapp", a1[] = "--per-room", a2[] = "40", a3[] = "--max-sleep",
	     a4[] = "5", a5[] = "0";
	char *argv[] = {a0, a1, a2, a3, a4, NULL};
	assert_int_equal(config_load(&cfg, 5, argv), 0);
	assert_int_equal(a, 40); /* the flag wins over the environment */
	assert_int_equal(b, 30);
	assert_int_equal(cfg.max_sleep, 5);
	app_bind(app, &cfg, NULL, NULL, NULL);
	unsigned long v = 0;
	assert_int_equal(fcgi_app_option(app, "rooms", &v), 0);
	assert_int_equal(v, 30);

	/* Out of range, from either source: config_load refuses (exit 2). */
	setenv("TEST_APP_ROOMS", "101", 1);
	char *argv2[] = {a0, NULL};
	config_defaults(&cfg);
	app_configure(app, &cfg, "myapp");
	assert_int_equal(config_load(&cfg, 1, argv2), -1);
	unsetenv("TEST_APP_ROOMS");
	char *argv3[] = {a0, a1, a5, NULL};
	config_defaults(&cfg);
	app_configure(app, &cfg, "myapp");
	assert_int_equal(config_load(&cfg, 3, argv3), -1);
	unsetenv("TEST_APP_PER_ROOM");

	/* fcgi_app_describe names the program instead of argv[0]. */
	fcgi_app_describe(app, "rooms-app", "Rooms.");
	config_defaults(&cfg);
	app_configure(app, &cfg, "/x/y");
	assert_string_equal(cfg.prog, "rooms-app");
	assert_string_equal(cfg.description, "Rooms.");
	app_bind(app, NULL, NULL, NULL, NULL);
	fcgi_app_free(app);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(matches_each_demo_route_exactly, setup, teardown),
		cmocka_unit_test_setup_teardown(serves_the_same_routes_under_async, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_paths_are_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(does_not_read_past_the_given_length, setup, teardown),
		cmocka_unit_test_setup_teardown(sleep_takes_digits, setup, teardown),
		cmocka_unit_test_setup_teardown(sleep_allows_leading_zeros, setup, teardown),
		cmocka_unit_test_setup_teardown(sleep_rejects_non_digits_as_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(sleep_above_the_maximum_is_still_sleep, setup, teardown),
		cmocka_unit_test_setup_teardown(sleep_never_overflows, setup, teardown),
		cmocka_unit_test_setup_teardown(sleep_with_too_many_digits_and_a_letter_is_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(names_routes_for_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(methods_and_allow, setup, teardown),
		cmocka_unit_test(method_bits),
		cmocka_unit_test(allow_header_text),
		cmocka_unit_test_setup_teardown(duplicate_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(mount_prefixes, setup, teardown),
		cmocka_unit_test_setup_teardown(labels, setup, teardown),
		cmocka_unit_test_setup_teardown(error_handlers_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(option_before_and_after_binding, setup, teardown),
		cmocka_unit_test(app_options_load_like_the_servers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
