/*
 * Unit tests for the request accessors (fcgi_req.c) over a params block
 * crafted here: method and id, path and query, params by exact name,
 * headers by HTTP name, the route's captures, the body; NULL once the
 * input is freed; request_input_own's copy; values cut at a NUL byte.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "app.h"
#include "req_build.h"
#include "request.h"

static struct deferred *dummy(struct fcgi_req *req, void *data)
{
	(void)req;
	(void)data;
	return NULL;
}

enum { FILES = 1, NUM };

static int setup(void **state)
{
	struct fcgi_app *app = fcgi_app_new();
	assert_non_null(app);
	assert_int_equal(fcgi_app_route(app, FCGI_POST | FCGI_GET,
	                                "/users/<int:id>/files/<path:rest>",
	                                dummy, NULL, 0), 0);
	assert_int_equal(fcgi_app_route(app, FCGI_ANY, "/n/<int:n>/<name>", dummy,
	                                NULL, 0), 0);
	assert_int_equal(fcgi_app_mount(app, "/v1"), 0);
	*state = app;
	return 0;
}

static int teardown(void **state)
{
	fcgi_app_free(*state);
	return 0;
}

/* More than 127 bytes: a four-byte length. */
static char long_accept[300];

/* The block nginx would send for POST /users/42/files/a/b.txt?x=1&y. */
static void crafted(struct params *p, const char *path, const char *query)
{
	memset(long_accept, 'a', sizeof long_accept - 1);
	memcpy(long_accept, "text/", 5);
	p->len = 0;
	params_add(p, "SCRIPT_NAME", "/script");
	params_add(p, "REQUEST_METHOD", "POST");
	params_add(p, "REQUEST_ID", "0123456789abcdef0123456789abcdef");
	params_add(p, "DOCUMENT_URI", path);
	if (query)
		params_add(p, "QUERY_STRING", query);
	params_add(p, "CONTENT_TYPE", "application/json");
	params_add(p, "CONTENT_LENGTH", "5");
	params_add(p, "HTTP_X_FOO_BAR", "baz");
	params_add(p, "HTTP_ACCEPT", long_accept);
	params_add_n(p, "HTTP_X_NUL", "ab\0cd", 5);
	params_add(p, "HTTP_EMPTY", "");
	/* A second pair of a name: the first one counts. */
	params_add(p, "HTTP_X_FOO_BAR", "second");
}

static void method_and_id(void **state)
{
	struct fcgi_app *app = *state;
	struct params p;
	crafted(&p, "/users/42/files/a/b.txt", "x=1&y");
	struct request *r = req_build(app, &p, NULL, 0);
	assert_string_equal(fcgi_req_method(&r->in), "POST");
	assert_string_equal(fcgi_req_id(&r->in), "0123456789abcdef0123456789abcdef");
	assert_ptr_equal(fcgi_req_app(&r->in), app);
	request_free(r);
	/* Not a token, or absent: "". */
	p.len = 0;
	params_add(&p, "REQUEST_METHOD", "GE T");
	params_add(&p, "DOCUMENT_URI", "/x");
	r = req_build(app, &p, NULL, 0);
	assert_string_equal(fcgi_req_method(&r->in), "");
	assert_string_equal(fcgi_req_id(&r->in), "");
	request_free(r);
}

static void path_and_query(void **state)
{
	struct fcgi_app *app = *state;
	struct params p;
	crafted(&p, "/users/42/files/a/b.txt", "x=1&y");
	struct request *r = req_build(app, &p, NULL, 0);
	assert_int_equal(r->route, FILES);
	size_t len = 99;
	assert_string_equal(fcgi_req_path(&r->in, &len), "/users/42/files/a/b.txt");
	assert_int_equal(len, 23);
	assert_string_equal(fcgi_req_query(&r->in, &len), "x=1&y");
	assert_int_equal(len, 5);
	/* len may be NULL. */
	assert_string_equal(fcgi_req_path(&r->in, NULL), "/users/42/files/a/b.txt");
	request_free(r);

	/* No QUERY_STRING: "", not NULL. */
	crafted(&p, "/users/42/files/a", NULL);
	r = req_build(app, &p, NULL, 0);
	len = 99;
	assert_string_equal(fcgi_req_query(&r->in, &len), "");
	assert_int_equal(len, 0);
	request_free(r);

	/* No path at all (the acceptor answers such a request 400; the
	 * accessors still hold). */
	p.len = 0;
	params_add(&p, "REQUEST_METHOD", "GET");
	r = req_build(app, &p, NULL, 0);
	len = 99;
	assert_null(fcgi_req_path(&r->in, &len));
	assert_int_equal(len, 0);
	assert_string_equal(fcgi_req_query(&r->in, NULL), "");
	request_free(r);
}

static void params_by_exact_name(void **state)
{
	struct fcgi_app *app = *state;
	struct params p;
	crafted(&p, "/users/42/files/a/b.txt", "x=1&y");
	struct request *r = req_build(app, &p, NULL, 0);
	size_t len = 99;
	assert_string_equal(fcgi_req_param(&r->in, "SCRIPT_NAME", &len), "/script");
	assert_int_equal(len, 7);
	assert_string_equal(fcgi_req_param(&r->in, "HTTP_ACCEPT", &len), long_accept);
	assert_int_equal(len, sizeof long_accept - 1);
	assert_string_equal(fcgi_req_param(&r->in, "HTTP_X_FOO_BAR", NULL), "baz");
	assert_string_equal(fcgi_req_param(&r->in, "HTTP_EMPTY", &len), "");
	assert_int_equal(len, 0);
	/* Exact: no case folding, no prefix. */
	len = 99;
	assert_null(fcgi_req_param(&r->in, "script_name", &len));
	assert_int_equal(len, 0);
	assert_null(fcgi_req_param(&r->in, "SCRIPT", NULL));
	assert_null(fcgi_req_param(&r->in, "SCRIPT_NAMEX", NULL));
	assert_null(fcgi_req_param(&r->in, "", NULL));
	assert_null(fcgi_req_param(&r->in, NULL, NULL));
	request_free(r);
}

static void headers_by_http_name(void **state)
{
	struct fcgi_app *app = *state;
	struct params p;
	crafted(&p, "/users/42/files/a/b.txt", NULL);
	struct request *r = req_build(app, &p, NULL, 0);
	size_t len = 0;
	assert_string_equal(fcgi_req_header(&r->in, "Content-Type", &len),
	                    "application/json");
	assert_int_equal(len, 16);
	assert_string_equal(fcgi_req_header(&r->in, "content-type", NULL),
	                    "application/json");
	assert_string_equal(fcgi_req_header(&r->in, "CONTENT-LENGTH", NULL), "5");
	assert_string_equal(fcgi_req_header(&r->in, "X-Foo-Bar", &len), "baz");
	assert_int_equal(len, 3);
	assert_string_equal(fcgi_req_header(&r->in, "x-foo-bar", NULL), "baz");
	assert_string_equal(fcgi_req_header(&r->in, "Accept", NULL), long_accept);
	/* Content-Type is CONTENT_TYPE, never HTTP_CONTENT_TYPE; and a
	 * header is never a param by its bare name. */
	len = 99;
	assert_null(fcgi_req_header(&r->in, "Script-Name", &len));
	assert_int_equal(len, 0);
	assert_null(fcgi_req_header(&r->in, "X-Missing", NULL));
	assert_null(fcgi_req_header(&r->in, "", NULL));
	assert_null(fcgi_req_header(&r->in, NULL, NULL));
	/* A name too long for any param: absent, not cut to a shorter one. */
	char longname[400];
	memset(longname, 'A', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	assert_null(fcgi_req_header(&r->in, longname, NULL));
	request_free(r);
}

static void captures(void **state)
{
	struct fcgi_app *app = *state;
	struct params p;
	crafted(&p, "/users/0042/files/a/b.txt", NULL);
	struct request *r = req_build(app, &p, NULL, 0);
	size_t len = 0;
	assert_string_equal(fcgi_req_capture(&r->in, "id", &len), "0042");
	assert_int_equal(len, 4);
	uint64_t n = 0;
	assert_int_equal(fcgi_req_capture_int(&r->in, "id", &n), 0);
	assert_int_equal(n, 42);
	assert_string_equal(fcgi_req_capture(&r->in, "rest", &len), "a/b.txt");
	assert_int_equal(len, 7);
	/* Not an int capture, or none of that name. */
	assert_int_equal(fcgi_req_capture_int(&r->in, "rest", &n), -ENOENT);
	assert_int_equal(fcgi_req_capture_int(&r->in, "nope", &n), -ENOENT);
	len = 99;
	assert_null(fcgi_req_capture(&r->in, "nope", &len));
	assert_int_equal(len, 0);
	assert_null(fcgi_req_capture(&r->in, NULL, NULL));
	request_free(r);

	/* Under the mount: the path keeps its prefix, the captures are
	 * the route's. */
	crafted(&p, "/v1/n/18446744073709551616/bob", NULL);
	r = req_build(app, &p, NULL, 0);
	assert_int_equal(r->route, NUM);
	assert_int_equal(r->in.skip, 3);
	assert_string_equal(fcgi_req_path(&r->in, NULL),
	                    "/v1/n/18446744073709551616/bob");
	assert_string_equal(fcgi_req_capture(&r->in, "name", NULL), "bob");
	assert_string_equal(fcgi_req_capture(&r->in, "n", NULL),
	                    "18446744073709551616");
	n = 0;
	assert_int_equal(fcgi_req_capture_int(&r->in, "n", &n), -ERANGE);
	assert_true(n == UINT64_MAX);
	request_free(r);

	/* No route: no captures. */
	crafted(&p, "/nowhere", NULL);
	r = req_build(app, &p, NULL, 0);
	assert_int_equal(r->route, APP_NO_ROUTE);
	assert_null(fcgi_req_capture(&r->in, "id", NULL));
	assert_int_equal(fcgi_req_capture_int(&r->in, "id", &n), -ENOENT);
	assert_string_equal(fcgi_req_path(&r->in, NULL), "/nowhere");
	request_free(r);
}

static void body(void **state)
{
	struct fcgi_app *app = *state;
	struct params p;
	crafted(&p, "/users/1/files/x", NULL);
	static const unsigned char data[5] = {'h', 0, 'l', 'l', 'o'};
	struct request *r = req_build(app, &p, data, sizeof data);
	size_t len = 0;
	const unsigned char *b = fcgi_req_body(&r->in, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(b, data, 5); /* bytes, NUL included */
	assert_ptr_equal(b, data); /* borrowed until owned */
	assert_ptr_equal(fcgi_req_body(&r->in, NULL), b);
	request_free(r);

	r = req_build(app, &p, NULL, 0);
	len = 99;
	assert_null(fcgi_req_body(&r->in, &len));
	assert_int_equal(len, 0);
	request_free(r);
}

/* The accessors give NULL (and 0) once the input is freed; the method and
 * the id stay. */
static void nothing_after_input_free(void **state)
{
	struct fcgi_app *app = *state;
	struct params p;
	crafted(&p, "/users/42/files/a/b.txt", "x=1");
	static const char data[] = "body";
	for (int decoded = 0; decoded < 2; decoded++) {
		struct request *r = req_build(app, &p, data, 4);
		if (decoded) /* with a view made, and without */
			assert_non_null(fcgi_req_path(&r->in, NULL));
		request_input_free(r);
		size_t len = 99;
		assert_null(fcgi_req_path(&r->in, &len));
		assert_int_equal(len, 0);
		len = 99;
		assert_null(fcgi_req_query(&r->in, &len));
		assert_int_equal(len, 0);
		assert_null(fcgi_req_param(&r->in, "SCRIPT_NAME", NULL));
		assert_null(fcgi_req_header(&r->in, "Content-Type", NULL));
		assert_null(fcgi_req_capture(&r->in, "id", NULL));
		uint64_t n;
		assert_int_equal(fcgi_req_capture_int(&r->in, "id", &n), -ENOENT);
		len = 99;
		assert_null(fcgi_req_body(&r->in, &len));
		assert_int_equal(len, 0);
		assert_string_equal(fcgi_req_method(&r->in), "POST");
		assert_string_equal(fcgi_req_id(&r->in),
		                    "0123456789abcdef0123456789abcdef");
		request_free(r);
	}
}

/* request_input_own copies params and body: the reader's buffers may be
 * overwritten by its next request. */
static void own_copies_the_input(void **state)
{
	struct fcgi_app *app = *state;
	for (int decoded = 0; decoded < 2; decoded++) {
		struct params p;
		crafted(&p, "/users/42/files/a/b.txt", "x=1");
		char data[] = "hello";
		struct request *r = req_build(app, &p, data, 5);
		if (decoded)
			assert_non_null(fcgi_req_query(&r->in, NULL));
		assert_int_equal(request_input_own(r), 0);
		assert_ptr_not_equal(r->in.params, p.buf);
		memset(p.buf, 'X', sizeof p.buf);
		memset(data, 'Y', sizeof data);
		assert_string_equal(fcgi_req_path(&r->in, NULL),
		                    "/users/42/files/a/b.txt");
		assert_string_equal(fcgi_req_query(&r->in, NULL), "x=1");
		assert_string_equal(fcgi_req_header(&r->in, "X-Foo-Bar", NULL), "baz");
		assert_string_equal(fcgi_req_capture(&r->in, "rest", NULL), "a/b.txt");
		size_t len;
		const char *b = fcgi_req_body(&r->in, &len);
		assert_int_equal(len, 5);
		assert_memory_equal(b, "hello", 5);
		/* Owning twice is a no-op. */
		assert_int_equal(request_input_own(r), 0);
		assert_ptr_equal(fcgi_req_body(&r->in, NULL), b);
		request_free(r);
	}
}

/* A value holding a NUL byte ends there, its length too. */
static void nul_ends_a_value(void **state)
{
	struct fcgi_app *app = *state;
	struct params p;
	crafted(&p, "/users/42/files/a/b.txt", NULL);
	params_add_n(&p, "QUERY_STRING", "q=1\0rest", 8);
	struct request *r = req_build(app, &p, NULL, 0);
	size_t len = 0;
	assert_string_equal(fcgi_req_header(&r->in, "X-Nul", &len), "ab");
	assert_int_equal(len, 2);
	assert_string_equal(fcgi_req_param(&r->in, "HTTP_X_NUL", &len), "ab");
	assert_int_equal(len, 2);
	assert_string_equal(fcgi_req_query(&r->in, &len), "q=1");
	assert_int_equal(len, 3);
	/* The pairs after it are still there. */
	assert_string_equal(fcgi_req_param(&r->in, "HTTP_EMPTY", NULL), "");
	request_free(r);
}

static void set_status(void **state)
{
	struct fcgi_app *app = *state;
	struct request *r = req_new(app, "GET", "/x", NULL);
	assert_int_equal(r->status, 200);
	fcgi_req_set_status(&r->in, 404);
	assert_int_equal(r->status, 404);
	fcgi_req_set_status(&r->in, 100);
	assert_int_equal(r->status, 100);
	fcgi_req_set_status(&r->in, 599);
	assert_int_equal(r->status, 599);
	/* Out of range: ignored. */
	fcgi_req_set_status(&r->in, 99);
	fcgi_req_set_status(&r->in, 600);
	fcgi_req_set_status(&r->in, -200);
	assert_int_equal(r->status, 599);
	request_free(r);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(method_and_id),
		T(path_and_query),
		T(params_by_exact_name),
		T(headers_by_http_name),
		T(captures),
		T(body),
		T(nothing_after_input_free),
		T(own_copies_the_input),
		T(nul_ends_a_value),
		T(set_status),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
