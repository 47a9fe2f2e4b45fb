/* Unit tests for fcgi_in: the record checker, name-value decoding and the
 * reader over a socketpair (the params stream: test_fcgi_params.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include <fastcgi.h>

#include "fcgi_in.h"

static int check(unsigned version, unsigned type, unsigned id, unsigned clen,
                 unsigned plen, enum fcgi_in_phase phase, uint16_t begun)
{
	unsigned char raw[8] = {(unsigned char)version, (unsigned char)type,
	                        (unsigned char)(id >> 8), (unsigned char)id,
	                        (unsigned char)(clen >> 8), (unsigned char)clen,
	                        (unsigned char)plen, 0};
	struct fcgi_in_hdr h;
	return fcgi_in_check(raw, phase, begun, &h);
}

static void check_accepts_what_nginx_sends(void **state)
{
	(void)state;
	assert_int_equal(check(1, FCGI_BEGIN_REQUEST, 1, 8, 0, FCGI_IN_WANT_BEGIN, 0),
	                 FCGI_IN_BEGIN);
	assert_int_equal(check(1, FCGI_PARAMS, 1, 700, 4, FCGI_IN_IN_PARAMS, 1),
	                 FCGI_IN_PARAMS);
	assert_int_equal(check(1, FCGI_PARAMS, 1, 0, 0, FCGI_IN_IN_PARAMS, 1),
	                 FCGI_IN_PARAMS);
	assert_int_equal(check(1, FCGI_STDIN, 1, 65535, 1, FCGI_IN_IN_STDIN, 1),
	                 FCGI_IN_STDIN);
	/* Management records in any phase, whatever their type. */
	assert_int_equal(check(1, FCGI_GET_VALUES, 0, 30, 2, FCGI_IN_WANT_BEGIN, 0),
	                 FCGI_IN_MGMT);
	assert_int_equal(check(1, 200, 0, 3, 5, FCGI_IN_IN_STDIN, 1), FCGI_IN_MGMT);
}

static void check_refuses_each_class(void **state)
{
	(void)state;
	assert_int_equal(check(0, FCGI_BEGIN_REQUEST, 1, 8, 0, FCGI_IN_WANT_BEGIN, 0),
	                 FCGI_IN_BAD_VERSION);
	assert_int_equal(check(2, FCGI_BEGIN_REQUEST, 1, 8, 0, FCGI_IN_WANT_BEGIN, 0),
	                 FCGI_IN_BAD_VERSION);
	/* Types no web server sends, and types past the spec's. */
	assert_int_equal(check(1, 0, 1, 0, 0, FCGI_IN_IN_PARAMS, 1),
	                 FCGI_IN_UNKNOWN_TYPE);
	assert_int_equal(check(1, FCGI_STDOUT, 1, 0, 0, FCGI_IN_IN_PARAMS, 1),
	                 FCGI_IN_UNKNOWN_TYPE);
	assert_int_equal(check(1, FCGI_END_REQUEST, 1, 8, 0, FCGI_IN_IN_STDIN, 1),
	                 FCGI_IN_UNKNOWN_TYPE);
	assert_int_equal(check(1, 12, 1, 0, 0, FCGI_IN_IN_STDIN, 1),
	                 FCGI_IN_UNKNOWN_TYPE);
	/* Lengths and padding. */
	assert_int_equal(check(1, FCGI_BEGIN_REQUEST, 1, 9, 0, FCGI_IN_WANT_BEGIN, 0),
	                 FCGI_IN_BAD_LENGTH);
	assert_int_equal(check(1, FCGI_BEGIN_REQUEST, 1, 0, 0, FCGI_IN_WANT_BEGIN, 0),
	                 FCGI_IN_BAD_LENGTH);
	assert_int_equal(check(1, FCGI_PARAMS, 1, 10, 8, FCGI_IN_IN_PARAMS, 1),
	                 FCGI_IN_BAD_LENGTH);
	assert_int_equal(check(1, FCGI_GET_VALUES, 0, 10, 255, FCGI_IN_WANT_BEGIN, 0),
	                 FCGI_IN_BAD_LENGTH);
	assert_int_equal(check(1, FCGI_ABORT_REQUEST, 1, 1, 0, FCGI_IN_IN_STDIN, 1),
	                 FCGI_IN_BAD_LENGTH);
	/* Request ids: none begun, another one, BEGIN with id 0, a
	 * management type with an id. */
	assert_int_equal(check(1, FCGI_PARAMS, 1, 10, 0, FCGI_IN_WANT_BEGIN, 0),
	                 FCGI_IN_BAD_ID);
	assert_int_equal(check(1, FCGI_PARAMS, 2, 10, 0, FCGI_IN_IN_PARAMS, 1),
	                 FCGI_IN_BAD_ID);
	assert_int_equal(check(1, FCGI_BEGIN_REQUEST, 2, 8, 0, FCGI_IN_IN_STDIN, 1),
	                 FCGI_IN_BAD_ID);
	assert_int_equal(check(1, FCGI_BEGIN_REQUEST, 0, 8, 0, FCGI_IN_WANT_BEGIN, 0),
	                 FCGI_IN_BAD_ID);
	assert_int_equal(check(1, FCGI_GET_VALUES, 1, 0, 0, FCGI_IN_IN_PARAMS, 1),
	                 FCGI_IN_BAD_ID);
	/* Known types out of order; an abort. */
	assert_int_equal(check(1, FCGI_STDIN, 1, 0, 0, FCGI_IN_IN_PARAMS, 1),
	                 FCGI_IN_UNEXPECTED);
	assert_int_equal(check(1, FCGI_PARAMS, 1, 0, 0, FCGI_IN_IN_STDIN, 1),
	                 FCGI_IN_UNEXPECTED);
	assert_int_equal(check(1, FCGI_DATA, 1, 0, 0, FCGI_IN_IN_STDIN, 1),
	                 FCGI_IN_UNEXPECTED);
	assert_int_equal(check(1, FCGI_BEGIN_REQUEST, 1, 8, 0, FCGI_IN_IN_PARAMS, 1),
	                 FCGI_IN_UNEXPECTED);
	assert_int_equal(check(1, FCGI_ABORT_REQUEST, 1, 0, 0, FCGI_IN_IN_STDIN, 1),
	                 FCGI_IN_ABORTED);
}

static void nv_decodes_short_and_long_lengths(void **state)
{
	(void)state;
	unsigned char buf[300] = {4, 0x80, 0, 0, 200, 'N', 'A', 'M', 'E'};
	memset(buf + 9, 'v', 200);
	size_t len = 209, off = 0;
	struct fcgi_in_nv nv;
	assert_int_equal(fcgi_in_nv_next(buf, len, &off, &nv), 1);
	assert_int_equal(nv.name_len, 4);
	assert_memory_equal(nv.name, "NAME", 4);
	assert_int_equal(nv.value_len, 200);
	assert_ptr_equal(nv.value, buf + 9);
	assert_int_equal(off, 209);
	assert_int_equal(fcgi_in_nv_next(buf, len, &off, &nv), 0);
}

static void nv_refuses_lengths_past_the_buffer(void **state)
{
	(void)state;
	struct fcgi_in_nv nv;
	/* The CVE-2025-23016 lengths: each 0x7ffffffe once the top bit is
	 * cleared; their sum overflowed libfcgi's int. */
	static const unsigned char cve[] = {0xff, 0xff, 0xff, 0xfe,
	                                    0xff, 0xff, 0xff, 0xfe};
	size_t off = 0;
	assert_int_equal(fcgi_in_nv_next(cve, sizeof cve, &off, &nv), FCGI_IN_BAD_LENGTH);
	assert_int_equal(off, 0);
	/* A value one byte short; a 4-byte length cut short; a lone length. */
	static const unsigned char shortv[] = {1, 2, 'A', 'b'};
	off = 0;
	assert_int_equal(fcgi_in_nv_next(shortv, sizeof shortv, &off, &nv),
	                 FCGI_IN_BAD_LENGTH);
	static const unsigned char cut[] = {1, 0x80, 0};
	off = 0;
	assert_int_equal(fcgi_in_nv_next(cut, sizeof cut, &off, &nv), FCGI_IN_BAD_LENGTH);
	static const unsigned char lone[] = {1};
	off = 0;
	assert_int_equal(fcgi_in_nv_next(lone, sizeof lone, &off, &nv), FCGI_IN_BAD_LENGTH);
}

/* ---- the reader ---- */

static size_t rec(unsigned char *out, unsigned type, unsigned id,
                  const void *content, size_t clen, unsigned plen)
{
	unsigned char h[8] = {1, (unsigned char)type, (unsigned char)(id >> 8),
	                      (unsigned char)id, (unsigned char)(clen >> 8),
	                      (unsigned char)clen, (unsigned char)plen, 0};
	memcpy(out, h, 8);
	if (clen)
		memcpy(out + 8, content, clen);
	memset(out + 8 + clen, 0xAA, plen);
	return 8 + clen + plen;
}

static const unsigned char begin_keep[8] = {0, FCGI_RESPONDER, FCGI_KEEP_CONN};

static const struct fcgi_in_opts opts = {
	.max_params = 4096, .max_body = 100, .max_discard = 1000,
	.max_conns = 1024, .max_reqs = 20000,
};

struct pair {
	int app, peer;
	struct fcgi_in_reader *rd;
};

static void pair_open(struct pair *p)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p->app = sv[0];
	p->peer = sv[1];
	struct timeval tv = {1, 0};
	setsockopt(p->app, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	p->rd = fcgi_in_reader_new(opts.max_params);
	assert_non_null(p->rd);
}

static void pair_close(struct pair *p)
{
	close(p->app);
	close(p->peer);
	fcgi_in_reader_free(p->rd);
}

static void send_all(int fd, const unsigned char *b, size_t n)
{
	assert_int_equal(send(fd, b, n, 0), (ssize_t)n);
}

static void reader_reads_an_nginx_request(void **state)
{
	(void)state;
	struct pair p;
	pair_open(&p);
	static const char params[] = "\x0e\x04REQUEST_METHODPOST"
	                             "\x0b\x09" "REQUEST_URI/coro?x=1"
	                             "\x0e\x02" "CONTENT_LENGTH10";
	unsigned char msg[512];
	size_t n = rec(msg, FCGI_BEGIN_REQUEST, 1, begin_keep, 8, 0);
	n += rec(msg + n, FCGI_PARAMS, 1, params, sizeof params - 1, 3);
	n += rec(msg + n, FCGI_PARAMS, 1, NULL, 0, 0);
	n += rec(msg + n, FCGI_STDIN, 1, "0123456789", 10, 6);
	n += rec(msg + n, FCGI_STDIN, 1, NULL, 0, 0);
	send_all(p.peer, msg, n);
	struct fcgi_in_result r;
	assert_int_equal(fcgi_in_read(p.rd, p.app, &opts, &r), 0);
	assert_int_equal(r.id, 1);
	assert_int_equal(r.role, FCGI_RESPONDER);
	assert_true(r.keep_conn);
	assert_false(r.head);
	assert_false(r.bad_length);
	assert_false(r.too_big);
	assert_true(r.at_end);
	assert_int_equal(r.body_len, 10);
	assert_non_null(r.body);
	assert_memory_equal(r.body, "0123456789", 10);
	assert_int_equal(r.params_len, sizeof params - 1);
	assert_memory_equal(r.params, params, sizeof params - 1);
	assert_int_equal(r.path_len, 5);
	assert_memory_equal(r.path, "/coro", 5);
	pair_close(&p);
}

static void reader_answers_get_values_with_zero_padding(void **state)
{
	(void)state;
	struct pair p;
	pair_open(&p);
	/* libfcgi's overflow: the same name four times; and an unknown
	 * management type. */
	unsigned char body[64], msg[256];
	for (int i = 0; i < 4; i++)
		memcpy(body + 16 * i, "\x0e\x00" "FCGI_MAX_CONNS", 16);
	size_t n = rec(msg, FCGI_GET_VALUES, 0, body, 64, 0);
	n += rec(msg + n, 77, 0, "xy", 2, 6);
	send_all(p.peer, msg, n);
	shutdown(p.peer, SHUT_WR);
	struct fcgi_in_result r;
	assert_int_equal(fcgi_in_read(p.rd, p.app, &opts, &r), FCGI_IN_EOF);
	unsigned char got[128];
	ssize_t k = recv(p.peer, got, sizeof got, MSG_DONTWAIT);
	/* FCGI_MAX_CONNS=1024 once: 2 + 14 + 4 = 20 bytes, padded to 24. */
	static const unsigned char want[] =
	    "\x01\x0a\x00\x00\x00\x14\x04\x00"
	    "\x0e\x04" "FCGI_MAX_CONNS1024" "\0\0\0\0"
	    "\x01\x0b\x00\x00\x00\x08\x00\x00"
	    "\x4d\0\0\0\0\0\0\0";
	assert_int_equal(k, sizeof want - 1);
	assert_memory_equal(got, want, sizeof want - 1);
	pair_close(&p);
}

static void reader_closes_on_bad_records(void **state)
{
	(void)state;
	struct fcgi_in_result r;
	unsigned char msg[70000];
	/* The 40-byte CVE remnant: no reply, the connection refused. */
	struct pair p;
	pair_open(&p);
	size_t n = rec(msg, FCGI_BEGIN_REQUEST, 1, begin_keep, 8, 0);
	n += rec(msg + n, FCGI_GET_VALUES, 0, "\xff\xff\xff\xfe\xff\xff\xff\xfe", 8, 0);
	n += rec(msg + n, FCGI_PARAMS, 1, NULL, 0, 0);
	assert_int_equal(n, 40);
	send_all(p.peer, msg, n);
	assert_int_equal(fcgi_in_read(p.rd, p.app, &opts, &r), FCGI_IN_BAD_LENGTH);
	assert_int_equal(recv(p.peer, msg, 8, MSG_DONTWAIT), -1);
	pair_close(&p);
	/* Params over the cap, in records that are each under it. */
	pair_open(&p);
	unsigned char big[3000];
	memset(big, 'x', sizeof big);
	n = rec(msg, FCGI_BEGIN_REQUEST, 1, begin_keep, 8, 0);
	n += rec(msg + n, FCGI_PARAMS, 1, big, sizeof big, 0);
	n += rec(msg + n, FCGI_PARAMS, 1, big, sizeof big, 0);
	send_all(p.peer, msg, n);
	assert_int_equal(fcgi_in_read(p.rd, p.app, &opts, &r), FCGI_IN_TOO_LARGE);
	pair_close(&p);
	/* Malformed params that fit: refused when they end. */
	pair_open(&p);
	n = rec(msg, FCGI_BEGIN_REQUEST, 1, begin_keep, 8, 0);
	n += rec(msg + n, FCGI_PARAMS, 1, "\x05\x01" "AB", 4, 0);
	n += rec(msg + n, FCGI_PARAMS, 1, NULL, 0, 0);
	send_all(p.peer, msg, n);
	assert_int_equal(fcgi_in_read(p.rd, p.app, &opts, &r), FCGI_IN_BAD_LENGTH);
	pair_close(&p);
	/* A role FastCGI does not define. */
	pair_open(&p);
	static const unsigned char begin_role9[8] = {0, 9};
	n = rec(msg, FCGI_BEGIN_REQUEST, 1, begin_role9, 8, 0);
	send_all(p.peer, msg, n);
	assert_int_equal(fcgi_in_read(p.rd, p.app, &opts, &r), FCGI_IN_BAD_ROLE);
	pair_close(&p);
}

/* A request for /coro whose body, in STDIN records of `sizes` bytes, is
 * over the 100-byte cap and within the discard: read to its end, too big,
 * and no body (not the bytes of a first record within the cap with the
 * whole count). */
static void read_too_big(const size_t *sizes, size_t nrec)
{
	unsigned char msg[4096], body[600];
	memset(body, 'b', sizeof body);
	struct pair p;
	pair_open(&p);
	size_t n = rec(msg, FCGI_BEGIN_REQUEST, 1, begin_keep, 8, 0);
	n += rec(msg + n, FCGI_PARAMS, 1, "\x0c\x05" "DOCUMENT_URI/coro", 19, 5);
	n += rec(msg + n, FCGI_PARAMS, 1, NULL, 0, 0);
	size_t total = 0;
	for (size_t i = 0; i < nrec; i++) {
		n += rec(msg + n, FCGI_STDIN, 1, body, sizes[i], 4);
		total += sizes[i];
	}
	n += rec(msg + n, FCGI_STDIN, 1, NULL, 0, 0);
	send_all(p.peer, msg, n);
	struct fcgi_in_result r;
	assert_int_equal(fcgi_in_read(p.rd, p.app, &opts, &r), 0);
	assert_true(r.too_big);
	assert_true(r.at_end);
	assert_null(r.body);
	assert_int_equal(r.body_len, total);
	pair_close(&p);
}

static void reader_bounds_the_body(void **state)
{
	(void)state;
	struct fcgi_in_result r;
	unsigned char msg[4096], body[600];
	memset(body, 'b', sizeof body);
	static const size_t one[] = {600}, two[] = {60, 60};
	read_too_big(one, 1);
	read_too_big(two, 2);
	struct pair p;
	size_t n;
	/* Past max_body + max_discard (1100): cut off, not at its end. */
	pair_open(&p);
	n = rec(msg, FCGI_BEGIN_REQUEST, 1, begin_keep, 8, 0);
	n += rec(msg + n, FCGI_PARAMS, 1, NULL, 0, 0);
	for (int i = 0; i < 2; i++)
		n += rec(msg + n, FCGI_STDIN, 1, body, sizeof body, 0);
	send_all(p.peer, msg, n);
	assert_int_equal(fcgi_in_read(p.rd, p.app, &opts, &r), 0);
	assert_true(r.too_big);
	assert_false(r.at_end);
	assert_null(r.path);
	pair_close(&p);
	/* A CONTENT_LENGTH past the budget is not read at all; junk in it
	 * is bad_length; bytes after the end leave at_end false. */
	pair_open(&p);
	n = rec(msg, FCGI_BEGIN_REQUEST, 1, begin_keep, 8, 0);
	n += rec(msg + n, FCGI_PARAMS, 1, "\x0e\x04" "CONTENT_LENGTH9999", 20, 4);
	n += rec(msg + n, FCGI_PARAMS, 1, NULL, 0, 0);
	send_all(p.peer, msg, n);
	assert_int_equal(fcgi_in_read(p.rd, p.app, &opts, &r), 0);
	assert_true(r.too_big);
	assert_false(r.at_end);
	assert_int_equal(r.body_len, 0);
	pair_close(&p);
	pair_open(&p);
	n = rec(msg, FCGI_BEGIN_REQUEST, 1, begin_keep, 8, 0);
	n += rec(msg + n, FCGI_PARAMS, 1, "\x0e\x02" "CONTENT_LENGTH1x", 18, 6);
	n += rec(msg + n, FCGI_PARAMS, 1, NULL, 0, 0);
	n += rec(msg + n, FCGI_STDIN, 1, NULL, 0, 0);
	n += rec(msg + n, FCGI_BEGIN_REQUEST, 1, begin_keep, 8, 0);
	send_all(p.peer, msg, n);
	assert_int_equal(fcgi_in_read(p.rd, p.app, &opts, &r), 0);
	assert_true(r.bad_length);
	assert_false(r.too_big);
	assert_false(r.at_end);
	pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_accepts_what_nginx_sends),
		cmocka_unit_test(check_refuses_each_class),
		cmocka_unit_test(nv_decodes_short_and_long_lengths),
		cmocka_unit_test(nv_refuses_lengths_past_the_buffer),
		cmocka_unit_test(reader_reads_an_nginx_request),
		cmocka_unit_test(reader_answers_get_values_with_zero_padding),
		cmocka_unit_test(reader_closes_on_bad_records),
		cmocka_unit_test(reader_bounds_the_body),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
