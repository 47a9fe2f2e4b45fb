/* Unit tests for conn: a request's life on the loop over socketpairs and
 * a private event base.  The request's Deferred callback is the test's
 * stand-in for the server's: it records the state it saw and answers an
 * expired request with reply.h's page for the failure. */
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

#include "conn.h"
#include "deferred.h"
#include "failure.h"
#include "reply.h"
#include "request.h"

struct fix {
	struct event_base *base;
	struct conn *c;
	int keep_rc;   /* what keep returns */
	int kept_fd;   /* the fd keep was given, or -1 */
	int gone, ended, results;
	enum request_state seen;
	bool seen_cancelled;
};

static struct fix F;

static int keep(void *ctx, int fd)
{
	assert_ptr_equal(ctx, &F);
	F.kept_fd = fd;
	return F.keep_rc;
}

static void gone(void *ctx, struct request *r)
{
	(void)ctx;
	assert_int_equal(r->state, REQUEST_PENDING);
	F.gone++;
}

static void ended(void *ctx)
{
	(void)ctx;
	F.ended++;
}

static struct deferred_val on_result(struct deferred_val v, void *arg)
{
	struct request *r = arg;
	F.results++;
	F.seen = (enum request_state)r->state;
	F.seen_cancelled = v.kind == DEFERRED_VAL_FAILURE &&
	                   failure_check(v.failure, FAILURE_CANCELLED);
	if (r->state == REQUEST_EXPIRED && v.kind == DEFERRED_VAL_FAILURE) {
		struct reply_page p;
		reply_error_page(&p, reply_failure_error(v.failure, true, false), 30,
		                 NULL, NULL, false);
		char stack[4096];
		size_t len;
		char *b = reply_encode(stack, sizeof stack, r->id, &p.resp, false,
		                       &len);
		assert_ptr_equal(b, stack);
		assert_int_equal(reply_send(r->fd, b, len), (ssize_t)len);
		r->state = REQUEST_DONE;
	}
	deferred_val_free(v);
	return deferred_val_none();
}

static int setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof F);
	F.kept_fd = -1;
	F.base = event_base_new();
	assert_non_null(F.base);
	struct conn_opts o = {.base = F.base, .pending_timeout_ms = 20,
	                      .write_timeout_s = 5, .keep = keep, .gone = gone,
	                      .ended = ended, .ctx = &F};
	F.c = conn_new(&o);
	assert_non_null(F.c);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	conn_free(F.c);
	event_base_free(F.base);
	return 0;
}

/* A request on sv[0] the loop owns, with a Deferred (or none). */
static struct request *adopt(int sv[2], bool with_deferred)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct request *r = request_new(sv[0]);
	assert_non_null(r);
	r->id = 1;
	r->keep_conn = true;
	if (with_deferred) {
		r->d = deferred_new(NULL, NULL);
		assert_non_null(r->d);
		assert_int_equal(deferred_add_both(r->d, on_result, r, NULL), 0);
	}
	conn_adopt(F.c, r);
	return r;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

static void run_until_ended(int n)
{
	for (int i = 0; i < 500 && F.ended < n; i++)
		event_base_loop(F.base, EVLOOP_ONCE);
	assert_int_equal(F.ended, n);
}

static void pending_then_eof_cancels_and_frees(void **state)
{
	(void)state;
	int sv[2];
	struct request *r = adopt(sv, true);
	conn_set_state(F.c, r, REQUEST_PENDING);
	assert_int_equal(conn_pending(F.c), 1);
	assert_int_equal(conn_live(F.c), 1);
	close(sv[1]); /* nginx: the client went away */
	run_until_ended(1);
	assert_int_equal(F.gone, 1);
	assert_int_equal(F.results, 1);
	assert_int_equal(F.seen, REQUEST_GONE);
	assert_true(F.seen_cancelled);
	assert_int_equal(conn_pending(F.c), 0);
	assert_int_equal(conn_live(F.c), 0);
	assert_int_equal(F.kept_fd, -1); /* a gone connection is never kept */
	assert_false(fd_open(sv[0]));
}

static void pending_times_out_with_504_and_is_kept(void **state)
{
	(void)state;
	int sv[2];
	struct request *r = adopt(sv, true);
	conn_set_state(F.c, r, REQUEST_PENDING);
	run_until_ended(1);
	assert_int_equal(F.results, 1);
	assert_int_equal(F.seen, REQUEST_EXPIRED);
	assert_true(F.seen_cancelled);
	assert_int_equal(F.gone, 0);
	char buf[4096];
	ssize_t n = recv(sv[1], buf, sizeof buf - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(memmem(buf, (size_t)n, "Status: 504", 11));
	assert_non_null(memmem(buf, (size_t)n, "more than 30 seconds", 20));
	assert_int_equal(F.kept_fd, sv[0]); /* handed back, not closed */
	assert_true(fd_open(sv[0]));
	assert_int_equal(conn_live(F.c), 0);
	close(sv[0]);
	close(sv[1]);
}

static void short_send_is_written_then_kept(void **state)
{
	(void)state;
	int sv[2];
	struct request *r = adopt(sv, false);
	int small = 4096;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	size_t len = 1 << 20;
	r->out = malloc(len);
	for (size_t i = 0; i < len; i++)
		r->out[i] = (char)(i * 7);
	r->out_len = (uint32_t)len;
	conn_set_state(F.c, r, REQUEST_WRITING);
	assert_int_equal(conn_pending(F.c), 0);
	char *got = malloc(len);
	size_t have = 0;
	for (int i = 0; i < 100000 && (have < len || F.ended == 0); i++) {
		event_base_loop(F.base, EVLOOP_NONBLOCK);
		ssize_t m = recv(sv[1], got + have, len - have, MSG_DONTWAIT);
		if (m > 0)
			have += (size_t)m;
	}
	assert_int_equal(have, len);
	assert_int_equal(F.ended, 1);
	for (size_t i = 0; i < len; i++)
		if (got[i] != (char)(i * 7))
			fail_msg("byte %zu differs", i);
	assert_int_equal(F.kept_fd, sv[0]);
	free(got);
	close(sv[0]);
	close(sv[1]);
}

static void refused_keep_closes(void **state)
{
	(void)state;
	int sv[2];
	struct request *r = adopt(sv, false);
	F.keep_rc = -ESHUTDOWN;
	r->out = malloc(3);
	memcpy(r->out, "abc", 3);
	r->out_len = 3;
	conn_set_state(F.c, r, REQUEST_WRITING);
	run_until_ended(1);
	assert_int_equal(F.kept_fd, sv[0]);
	assert_false(fd_open(sv[0]));
	char buf[8];
	assert_int_equal(recv(sv[1], buf, sizeof buf, 0), 3);
	close(sv[1]);
}

static void drain_cancels_every_pending(void **state)
{
	(void)state;
	int a[2], b[2];
	struct request *r1 = adopt(a, true);
	struct request *r2 = adopt(b, true);
	conn_set_state(F.c, r1, REQUEST_PENDING);
	conn_set_state(F.c, r2, REQUEST_PENDING);
	assert_int_equal(conn_pending(F.c), 2);
	conn_cancel_all(F.c);
	assert_int_equal(F.results, 2);
	assert_int_equal(F.seen, REQUEST_CANCELLING);
	/* Not answered by the callback: dropped, closed. */
	assert_int_equal(F.ended, 2);
	assert_int_equal(conn_live(F.c), 0);
	assert_false(fd_open(a[0]));
	assert_false(fd_open(b[0]));
	close(a[1]);
	close(b[1]);
}

static void free_ends_what_is_left(void **state)
{
	(void)state;
	int a[2], b[2];
	struct request *r1 = adopt(a, true);
	struct request *r2 = adopt(b, false);
	conn_set_state(F.c, r1, REQUEST_PENDING);
	r2->out = malloc(1);
	r2->out[0] = 'x';
	r2->out_len = 1;
	/* Not yet sent: the loop has not run. */
	conn_set_state(F.c, r2, REQUEST_WRITING);
	conn_free(F.c);
	F.c = NULL;
	assert_int_equal(F.results, 1);
	assert_int_equal(F.seen, REQUEST_GONE);
	assert_int_equal(F.ended, 2);
	assert_int_equal(F.kept_fd, -1);
	assert_false(fd_open(a[0]));
	assert_false(fd_open(b[0]));
	close(a[1]);
	close(b[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(pending_then_eof_cancels_and_frees,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(pending_times_out_with_504_and_is_kept,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(short_send_is_written_then_kept,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(refused_keep_closes, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(drain_cancels_every_pending, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(free_ends_what_is_left, setup,
		                                teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
