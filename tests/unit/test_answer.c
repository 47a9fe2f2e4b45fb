/* Unit tests for answer: the acceptor's quick path over a socketpair,
 * with a real app's route table.  A route registered ANY_THREAD is
 * answered there, with its response, the app's error handlers or the
 * table's page; a route that does not complete at once is 500 and
 * cancelled; what needs the loop is left untouched.  With no acceptor
 * (acceptor_keeps is false) every reply on a kept connection is its last:
 * it carries the extra record and the fd is closed, never kept. */
#include <errno.h>
#include <event2/event.h>
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

#include "answer.h"
#include "app.h"
#include "config.h"
#include "failure.h"
#include "fanout.h"
#include "fcgi_app.h"
#include "request.h"

static struct {
	struct config cfg;
	struct fcgi_app *app;
	struct event_base *base;
	struct fanout *fan;
	struct answer a;
	int cancels, keeps;
} T;

static struct deferred *h_now(struct fcgi_req *req, void *data)
{
	(void)req;
	(void)data;
	return fcgi_reply_text(200, "text/plain", "now");
}

static void count_cancel(struct deferred *d, void *arg)
{
	(void)d;
	(void)arg;
	T.cancels++;
}

static struct deferred *h_late(struct fcgi_req *req, void *data)
{
	(void)req;
	(void)data;
	return deferred_new(count_cancel, NULL);
}

static struct deferred *h_fail(struct fcgi_req *req, void *data)
{
	(void)req;
	const char *type = data;
	struct deferred *d = deferred_new(NULL, NULL);
	deferred_errback(d, failure_new(type, "it broke"));
	return d;
}

static struct fcgi_resp *on_teapot(struct fcgi_req *req,
                                   const struct failure *f, void *data)
{
	(void)req;
	(void)f;
	(void)data;
	return fcgi_resp_text(418, "text/plain", "teapot");
}

static struct deferred *h_loop(struct fcgi_req *req, void *data)
{
	(void)req;
	(void)data;
	fail_msg("a loop route ran on the quick path");
	return NULL;
}

static int keep(void *ctx, int fd)
{
	(void)ctx;
	(void)fd;
	T.keeps++;
	return 0;
}

static int setup(void **state)
{
	(void)state;
	memset(&T, 0, sizeof T);
	config_defaults(&T.cfg);
	T.cfg.error_log_rate = 0;
	T.app = fcgi_app_new();
	assert_non_null(T.app);
	assert_int_equal(fcgi_app_route(T.app, FCGI_GET, "/now", h_now, NULL,
	                                FCGI_ROUTE_ANY_THREAD), 0);
	assert_int_equal(fcgi_app_route(T.app, FCGI_GET, "/late", h_late, NULL,
	                                FCGI_ROUTE_ANY_THREAD), 0);
	assert_int_equal(fcgi_app_route(T.app, FCGI_GET, "/fail", h_fail,
	                                (void *)"test.Boom",
	                                FCGI_ROUTE_ANY_THREAD), 0);
	assert_int_equal(fcgi_app_route(T.app, FCGI_GET, "/teapot", h_fail,
	                                (void *)"test.Teapot",
	                                FCGI_ROUTE_ANY_THREAD), 0);
	assert_int_equal(fcgi_app_route(T.app, FCGI_GET, "/loop", h_loop, NULL, 0),
	                 0);
	assert_int_equal(fcgi_app_route(T.app, FCGI_POST, "/post", h_loop, NULL,
	                                FCGI_ROUTE_ANY_THREAD), 0);
	assert_int_equal(fcgi_app_handle_errors(T.app, "test.Teapot", on_teapot,
	                                        NULL), 0);
	T.base = event_base_new();
	struct fanout_opts fo = {.fire_batch = 1};
	T.fan = fanout_new(T.base, &fo);
	assert_non_null(T.fan);
	assert_int_equal(answer_init(&T.a, &T.cfg, T.app, T.fan), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	answer_fini(&T.a);
	fanout_free(T.fan);
	event_base_free(T.base);
	fcgi_app_free(T.app);
	return 0;
}

/* A GET of `path` read on sv[0] of a fresh socketpair. */
static struct request *req(int sv[2], const char *method, const char *path)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct request *r = request_new(sv[0]);
	assert_non_null(r);
	r->id = 5;
	r->keep_conn = true;
	struct app_match m =
	    app_match(T.app, app_method_bit(method, strlen(method)), path,
	              strlen(path));
	r->route = m.route;
	r->allow = (uint16_t)m.allow;
	return r;
}

/* Reads what the peer got: the STDOUT content into out (NUL-terminated),
 * and whether the last record followed END_REQUEST. */
static void received(int fd, char *out, size_t cap, bool *last)
{
	unsigned char buf[16384];
	ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
	assert_true(n > 0);
	size_t off = 0, o = 0;
	*last = false;
	bool ended = false;
	while (off + FCGI_HEADER_LEN <= (size_t)n) {
		const unsigned char *h = buf + off;
		size_t clen = (size_t)((h[4] << 8) | h[5]), pad = h[6];
		if (ended) {
			assert_int_equal(h[1], FCGI_UNKNOWN_TYPE);
			*last = true;
		} else if (h[1] == FCGI_STDOUT && clen && o + clen < cap) {
			memcpy(out + o, h + FCGI_HEADER_LEN, clen);
			o += clen;
		} else if (h[1] == FCGI_END_REQUEST) {
			ended = true;
		}
		off += FCGI_HEADER_LEN + clen + pad;
	}
	assert_int_equal(off, (size_t)n);
	assert_true(ended);
	out[o] = '\0';
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

static void any_thread_route_answers_at_once(void **state)
{
	(void)state;
	int sv[2];
	struct request *r = req(sv, "GET", "/now");
	assert_int_equal(answer_quick(&T.a, r, keep, NULL), ANSWER_QUICK_DONE);
	char body[4096];
	bool last;
	received(sv[1], body, sizeof body, &last);
	assert_non_null(strstr(body, "Status: 200"));
	assert_non_null(strstr(body, "\r\n\r\nnow"));
	assert_true(last);            /* no acceptor keeps connections */
	assert_int_equal(T.keeps, 0);
	assert_false(fd_open(sv[0]));
	assert_int_equal(T.a.stats.requests, 1);
	close(sv[1]);
}

static void unfired_route_is_500_and_cancelled(void **state)
{
	(void)state;
	int sv[2];
	struct request *r = req(sv, "GET", "/late");
	assert_int_equal(answer_quick(&T.a, r, keep, NULL), ANSWER_QUICK_DONE);
	char body[4096];
	bool last;
	received(sv[1], body, sizeof body, &last);
	assert_non_null(strstr(body, "Status: 500"));
	assert_non_null(strstr(body, "The route did not complete at once."));
	assert_int_equal(T.cancels, 1);
	assert_int_equal(T.a.stats.failed, 1);
	close(sv[1]);
}

static void failures_go_to_error_handlers_then_the_table(void **state)
{
	(void)state;
	int sv[2];
	char body[4096];
	bool last;
	struct request *r = req(sv, "GET", "/teapot");
	assert_int_equal(answer_quick(&T.a, r, keep, NULL), ANSWER_QUICK_DONE);
	received(sv[1], body, sizeof body, &last);
	assert_non_null(strstr(body, "Status: 418"));
	assert_non_null(strstr(body, "teapot"));
	assert_int_equal(T.a.stats.failed, 0);
	close(sv[1]);

	r = req(sv, "GET", "/fail");
	assert_int_equal(answer_quick(&T.a, r, keep, NULL), ANSWER_QUICK_DONE);
	received(sv[1], body, sizeof body, &last);
	assert_non_null(strstr(body, "Status: 500"));
	assert_non_null(strstr(body, "The request failed; see the app"));
	assert_int_equal(T.a.stats.failed, 1);
	close(sv[1]);
}

static void early_answers_are_quick(void **state)
{
	(void)state;
	int sv[2];
	char body[4096];
	bool last;
	struct request *r = req(sv, "GET", "/post");
	assert_int_equal(answer_quick(&T.a, r, keep, NULL), ANSWER_QUICK_DONE);
	received(sv[1], body, sizeof body, &last);
	assert_non_null(strstr(body, "Status: 405"));
	assert_non_null(strstr(body, "Allow: POST\r\n"));
	close(sv[1]);

	r = req(sv, "GET", "/nowhere");
	assert_int_equal(answer_quick(&T.a, r, keep, NULL), ANSWER_QUICK_DONE);
	received(sv[1], body, sizeof body, &last);
	assert_non_null(strstr(body, "Status: 404"));
	close(sv[1]);

	r = req(sv, "GET", "/loop");
	r->early_status = 413;
	assert_int_equal(answer_quick(&T.a, r, keep, NULL), ANSWER_QUICK_DONE);
	received(sv[1], body, sizeof body, &last);
	assert_non_null(strstr(body, "Status: 413"));
	assert_non_null(strstr(body, "larger than"));
	close(sv[1]);
}

static void loop_routes_pages_and_drains_are_left_alone(void **state)
{
	(void)state;
	int sv[2];
	struct request *r = req(sv, "GET", "/loop");
	assert_int_equal(answer_quick(&T.a, r, keep, NULL), ANSWER_QUICK_NO);
	assert_int_equal(r->state, REQUEST_NEW);
	r->route = APP_NO_ROUTE;
	r->page = REQUEST_PAGE_PING;
	assert_int_equal(answer_quick(&T.a, r, keep, NULL), ANSWER_QUICK_NO);
	r->page = REQUEST_PAGE_NONE;
	T.a.draining = true;
	assert_int_equal(answer_quick(&T.a, r, keep, NULL), ANSWER_QUICK_NO);
	assert_int_equal(T.a.stats.requests, 0);
	char c;
	assert_int_equal(recv(sv[1], &c, 1, MSG_DONTWAIT), -1); /* nothing sent */
	request_end(r, NULL, NULL);
	close(sv[1]);
}

static void short_send_leaves_the_rest_unsent(void **state)
{
	(void)state;
	int sv[2];
	struct request *r = req(sv, "GET", "/now");
	int small = 4096;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	size_t blen = 1 << 20;
	char *big = malloc(blen + 1);
	memset(big, 'z', blen);
	big[blen] = '\0';
	struct response resp = {.status = 200, .body = big, .body_len = blen};
	answer_send(&T.a, r, &resp);
	assert_int_equal(r->state, REQUEST_UNSENT);
	assert_non_null(r->out);
	assert_true(r->out_off < r->out_len);
	assert_false(r->keep_conn); /* its last reply: no acceptor keeps */
	request_end(r, keep, NULL);
	assert_int_equal(T.keeps, 0);
	free(big);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(any_thread_route_answers_at_once,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(unfired_route_is_500_and_cancelled,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(
		    failures_go_to_error_handlers_then_the_table, setup, teardown),
		cmocka_unit_test_setup_teardown(early_answers_are_quick, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(
		    loop_routes_pages_and_drains_are_left_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(short_send_leaves_the_rest_unsent,
		                                setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
