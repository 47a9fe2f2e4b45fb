/* Unit tests for shed: draining a request to its end over a socketpair,
 * and shed_one on a real listening socket, at the real fd limit (a low
 * RLIMIT_NOFILE) with the reserve fd given up and taken back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fastcgi.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "shed.h"

/* Appends one record (content `c`, `clen` bytes, `plen` padding bytes of
 * 'p') to buf at *len. */
static void rec(unsigned char *buf, size_t *len, unsigned type,
                const void *c, size_t clen, unsigned plen)
{
	unsigned char *p = buf + *len;
	p[0] = FCGI_VERSION_1;
	p[1] = (unsigned char)type;
	p[2] = 0;
	p[3] = 1;
	p[4] = (unsigned char)(clen >> 8);
	p[5] = (unsigned char)clen;
	p[6] = (unsigned char)plen;
	p[7] = 0;
	if (clen)
		memcpy(p + 8, c, clen);
	memset(p + 8 + clen, 'p', plen);
	*len += 8 + clen + plen;
}

/* An nginx-like request: BEGIN_REQUEST, params, a body, and stdin's end
 * (the empty FCGI_STDIN record) unless `whole` is false. */
static size_t request(unsigned char *buf, bool whole)
{
	static const unsigned char begin[8] = {0, FCGI_RESPONDER, FCGI_KEEP_CONN};
	static const char params[] = "\x0b\x07SCRIPT_NAME/simple";
	size_t len = 0;
	rec(buf, &len, FCGI_BEGIN_REQUEST, begin, sizeof begin, 0);
	rec(buf, &len, FCGI_PARAMS, params, sizeof params - 1, 5);
	rec(buf, &len, FCGI_PARAMS, NULL, 0, 0);
	rec(buf, &len, FCGI_STDIN, "body", 4, 4);
	if (whole)
		rec(buf, &len, FCGI_STDIN, NULL, 0, 0);
	return len;
}

static void send_all(int fd, const void *buf, size_t len)
{
	assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

static size_t unread(int fd)
{
	int n = -1;
	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	return (size_t)n;
}

static void drain_stops_at_the_end_of_the_request(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	unsigned char buf[256];
	send_all(sv[1], buf, request(buf, true));
	/* The peer stays open and sends nothing more: only the end record
	 * can end the drain before its timeout. */
	uint64_t t0 = clock_ms();
	shed_drain_request(sv[0], 10000, 1 << 20);
	assert_true(clock_ms() - t0 < 5000);
	assert_int_equal(unread(sv[0]), 0);
	close(sv[0]);
	close(sv[1]);
}

/* Record contents and padding are skipped: bytes in them that look like
 * the empty FCGI_STDIN header do not end the request. */
static void drain_skips_contents_and_padding(void **state)
{
	(void)state;
	static const unsigned char fake_end[8] = {1, FCGI_STDIN, 0, 1, 0, 0, 0, 0};
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	unsigned char buf[256];
	size_t len = request(buf, false);
	rec(buf, &len, FCGI_STDIN, fake_end, sizeof fake_end, 0);
	/* Padding of 8 bytes, overwritten with the fake header. */
	rec(buf, &len, FCGI_STDIN, "x", 1, 8);
	memcpy(buf + len - 8, fake_end, 8);
	send_all(sv[1], buf, len);
	uint64_t t0 = clock_ms();
	shed_drain_request(sv[0], 300, 1 << 20);
	assert_true(clock_ms() - t0 >= 300);
	assert_int_equal(unread(sv[0]), 0);
	close(sv[0]);
	close(sv[1]);
}

struct late_write {
	int fd;
	const unsigned char *p;
	size_t len;
};

static void *write_later(void *arg)
{
	struct late_write *w = arg;
	struct timespec ts = {0, 100 * 1000000L};
	nanosleep(&ts, NULL);
	assert_int_equal(send(w->fd, w->p, w->len, MSG_NOSIGNAL), (ssize_t)w->len);
	return NULL;
}

/* The end record's header split across two reads still ends it. */
static void drain_joins_a_header_split_across_reads(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	unsigned char buf[256];
	size_t len = request(buf, true);
	send_all(sv[1], buf, len - 5);
	struct late_write w = {sv[1], buf + len - 5, 5};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, write_later, &w), 0);
	uint64_t t0 = clock_ms();
	shed_drain_request(sv[0], 10000, 1 << 20);
	uint64_t took = clock_ms() - t0;
	pthread_join(th, NULL);
	assert_true(took < 5000);
	assert_int_equal(unread(sv[0]), 0);
	close(sv[0]);
	close(sv[1]);
}

static void drain_ends_at_eof(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	unsigned char buf[256];
	send_all(sv[1], buf, request(buf, false));
	close(sv[1]);
	uint64_t t0 = clock_ms();
	shed_drain_request(sv[0], 10000, 1 << 20);
	assert_true(clock_ms() - t0 < 5000);
	close(sv[0]);
}

/* Past `cap` bytes the drain gives up, the rest unread. */
static void drain_stops_past_its_cap(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	static unsigned char buf[70000], big[60000];
	size_t len = request(buf, false);
	rec(buf, &len, FCGI_STDIN, big, sizeof big, 0);
	int sz = 1 << 20;
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	send_all(sv[1], buf, len);
	uint64_t t0 = clock_ms();
	shed_drain_request(sv[0], 10000, 1000);
	assert_true(clock_ms() - t0 < 5000);
	assert_true(unread(sv[0]) > 0);
	assert_true(unread(sv[0]) < len);
	close(sv[0]);
	close(sv[1]);
}

/* A listening unix socket (abstract, non-blocking, as the acceptor's). */
static int listen_unix(struct sockaddr_un *sa, socklen_t *len)
{
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(l >= 0);
	*sa = (struct sockaddr_un){.sun_family = AF_UNIX};
	static int n;
	snprintf(sa->sun_path + 1, sizeof sa->sun_path - 1,
	         "fcgi_app-test-shed-%d-%d", (int)getpid(), n++);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	                   strlen(sa->sun_path + 1));
	assert_int_equal(bind(l, (struct sockaddr *)sa, *len), 0);
	assert_int_equal(listen(l, 8), 0);
	return l;
}

static int connect_unix(const struct sockaddr_un *sa, socklen_t len)
{
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	assert_int_equal(connect(c, (const struct sockaddr *)sa, len), 0);
	return c;
}

/* Reads the client's side to EOF and checks it is one 503 reply to request
 * 1: STDOUT records holding the status and Retry-After, the empty STDOUT,
 * END_REQUEST(FCGI_REQUEST_COMPLETE). */
static void expect_503(int c)
{
	struct timeval tv = {5, 0};
	assert_int_equal(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
	static unsigned char in[4096];
	size_t len = 0;
	for (;;) {
		ssize_t n = recv(c, in + len, sizeof in - len, 0);
		if (n < 0)
			fail_msg("recv: %s after %zu bytes", strerror(errno), len);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	char stdout_text[2048];
	size_t tlen = 0, off = 0;
	bool ended_stdout = false, ended = false;
	while (off + 8 <= len) {
		unsigned char *h = in + off;
		size_t clen = (size_t)h[4] << 8 | h[5];
		assert_int_equal(h[0], FCGI_VERSION_1);
		assert_int_equal(h[2] << 8 | h[3], 1);
		assert_true(off + 8 + clen + h[6] <= len);
		if (h[1] == FCGI_STDOUT && clen > 0) {
			assert_false(ended_stdout);
			assert_true(tlen + clen < sizeof stdout_text);
			memcpy(stdout_text + tlen, h + 8, clen);
			tlen += clen;
		} else if (h[1] == FCGI_STDOUT) {
			ended_stdout = true;
		} else {
			assert_int_equal(h[1], FCGI_END_REQUEST);
			assert_true(ended_stdout);
			assert_int_equal(clen, 8);
			assert_int_equal(h[8 + 4], FCGI_REQUEST_COMPLETE);
			ended = true;
		}
		off += 8 + clen + h[6];
	}
	assert_int_equal(off, len);
	assert_true(ended);
	stdout_text[tlen] = '\0';
	static const char status[] = "Status: 503 Service Unavailable\r\n";
	assert_memory_equal(stdout_text, status, sizeof status - 1);
	assert_non_null(strstr(stdout_text, "\r\nRetry-After: 1\r\n"));
	assert_non_null(strstr(stdout_text, "retry shortly"));
}

/* Whether fd is open on /dev/null. */
static bool is_dev_null(int fd)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat("/dev/null", &b) == 0 &&
	       a.st_rdev == b.st_rdev && S_ISCHR(a.st_mode);
}

/* A listening unix socket, a filled reserve and `nclients` connected
 * clients that have each sent a whole request. */
struct rig {
	struct sockaddr_un sa;
	socklen_t salen;
	int l, reserve, was, c[2];
};

static void rig_up(struct rig *r, int nclients)
{
	r->l = listen_unix(&r->sa, &r->salen);
	r->reserve = -1;
	shed_reserve_fill(&r->reserve);
	assert_true(r->reserve >= 0);
	assert_true(is_dev_null(r->reserve));
	r->was = r->reserve;
	unsigned char buf[256];
	size_t len = request(buf, true);
	for (int i = 0; i < 2; i++) {
		r->c[i] = i < nclients ? connect_unix(&r->sa, r->salen) : -1;
		if (r->c[i] >= 0)
			send_all(r->c[i], buf, len);
	}
}

static void rig_down(struct rig *r)
{
	for (int i = 0; i < 2; i++)
		if (r->c[i] >= 0)
			close(r->c[i]);
	if (r->reserve >= 0)
		close(r->reserve);
	close(r->l);
}

static void shed_answers_503_and_takes_the_reserve_back(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r, 1);
	assert_int_equal(shed_one(r.l, &r.reserve, 1 << 20, 2000), SHED_ONE);
	assert_int_equal(r.reserve, r.was);
	assert_true(is_dev_null(r.reserve));
	expect_503(r.c[0]);
	/* The backlog is empty now. */
	assert_int_equal(shed_one(r.l, &r.reserve, 1 << 20, 2000), SHED_NONE);
	assert_int_equal(r.reserve, r.was);
	rig_down(&r);
}

/* The fd limit a test lowered, and the files that filled it, for the
 * teardown to undo even when the test fails half-way. */
static struct rlimit saved_limit;
static bool limit_lowered;
static int fill[32], nfill;

static int restore_limit(void **state)
{
	(void)state;
	for (int i = 0; i < nfill; i++)
		close(fill[i]);
	nfill = 0;
	if (limit_lowered)
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved_limit), 0);
	limit_lowered = false;
	return 0;
}

/* The case shedding is for: accept fails with EMFILE, and only the
 * reserve's number lets the connection in. */
static void shed_works_at_the_fd_limit(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r, 2);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved_limit), 0);
	struct rlimit low = saved_limit;
	low.rlim_cur = (rlim_t)r.c[1] + 16;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	limit_lowered = true;
	for (;;) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			assert_int_equal(errno, EMFILE);
			break;
		}
		assert_true(nfill < 32);
		fill[nfill++] = fd;
	}
	/* accept4 fails with EMFILE now (not tried here: valgrind emulates
	 * the limit by closing what the kernel accepted above it, which
	 * would lose c1). */

	assert_int_equal(shed_one(r.l, &r.reserve, 1 << 20, 2000), SHED_ONE);
	assert_int_equal(r.reserve, r.was);
	expect_503(r.c[0]);

	/* The reserve lost (another file took its number): nothing to give
	 * up, and the connection waits in the backlog. */
	close(r.reserve);
	r.reserve = -1;
	int thief = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(thief, r.was);
	assert_int_equal(shed_one(r.l, &r.reserve, 1 << 20, 2000), SHED_FAILED);
	assert_int_equal(r.reserve, -1);
	/* Once a number is free again, the reserve comes back first and is
	 * given up for the waiting connection. */
	close(thief);
	assert_int_equal(shed_one(r.l, &r.reserve, 1 << 20, 2000), SHED_ONE);
	assert_int_equal(r.reserve, r.was);
	expect_503(r.c[1]);

	restore_limit(NULL);
	rig_down(&r);
}

/* A peer FCGI_WEB_SERVER_ADDRS does not list is closed unanswered. */
static void shed_closes_a_refused_peer_without_an_answer(void **state)
{
	(void)state;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t salen = sizeof sa;
	assert_int_equal(bind(l, (struct sockaddr *)&sa, salen), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &salen), 0);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, salen), 0);
	unsigned char buf[256];
	send_all(c, buf, request(buf, true));
	setenv("FCGI_WEB_SERVER_ADDRS", "10.0.0.1", 1);
	int reserve = -1;
	shed_reserve_fill(&reserve);
	int was = reserve;
	assert_int_equal(shed_one(l, &reserve, 1 << 20, 2000), SHED_ONE);
	unsetenv("FCGI_WEB_SERVER_ADDRS");
	assert_int_equal(reserve, was);
	struct timeval tv = {5, 0};
	assert_int_equal(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
	/* Closed with the request unread: a reset, or EOF; never a reply. */
	ssize_t n = recv(c, buf, sizeof buf, 0);
	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
	close(c);
	close(reserve);
	close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(drain_stops_at_the_end_of_the_request),
		cmocka_unit_test(drain_skips_contents_and_padding),
		cmocka_unit_test(drain_joins_a_header_split_across_reads),
		cmocka_unit_test(drain_ends_at_eof),
		cmocka_unit_test(drain_stops_past_its_cap),
		cmocka_unit_test(shed_answers_503_and_takes_the_reserve_back),
		cmocka_unit_test_teardown(shed_works_at_the_fd_limit, restore_limit),
		cmocka_unit_test(shed_closes_a_refused_peer_without_an_answer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
