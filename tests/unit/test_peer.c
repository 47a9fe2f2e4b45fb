/* Unit tests for peer_allowed (FCGI_WEB_SERVER_ADDRS) over real sockets:
 * a unix socketpair, loopback TCP over IPv4, a dual-stack listener (an
 * IPv4-mapped peer) and IPv6 loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer.h"

#define ENV "FCGI_WEB_SERVER_ADDRS"

/* A connected TCP pair over loopback: *accepted is the accepted side (the
 * one the acceptor checks), *client the connecting one.  The listener is
 * bound to `listen_addr` of `family`; the client connects to
 * `connect_addr` of `cfamily`.  False when the machine has no such address
 * (IPv6). */
static bool tcp_pair(int family, const char *listen_addr, int cfamily,
                     const char *connect_addr, int *accepted, int *client)
{
	int l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return false;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t len;
	if (family == AF_INET6) {
		int off = 0;
		assert_int_equal(setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &off,
		                            sizeof off), 0);
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, listen_addr, &s6->sin6_addr), 1);
		len = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, listen_addr, &s4->sin_addr), 1);
		len = sizeof *s4;
	}
	if (bind(l, (struct sockaddr *)&ss, len) < 0) {
		close(l);
		return false;
	}
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&ss, &len), 0);
	in_port_t port = family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                    : ((struct sockaddr_in *)&ss)->sin_port;

	struct sockaddr_storage cs;
	memset(&cs, 0, sizeof cs);
	socklen_t clen;
	if (cfamily == AF_INET6) {
		struct sockaddr_in6 *c6 = (struct sockaddr_in6 *)&cs;
		c6->sin6_family = AF_INET6;
		c6->sin6_port = port;
		assert_int_equal(inet_pton(AF_INET6, connect_addr, &c6->sin6_addr), 1);
		clen = sizeof *c6;
	} else {
		struct sockaddr_in *c4 = (struct sockaddr_in *)&cs;
		c4->sin_family = AF_INET;
		c4->sin_port = port;
		assert_int_equal(inet_pton(AF_INET, connect_addr, &c4->sin_addr), 1);
		clen = sizeof *c4;
	}
	*client = socket(cfamily, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*client >= 0);
	if (connect(*client, (struct sockaddr *)&cs, clen) < 0) {
		close(*client);
		*client = -1;
		close(l);
		return false;
	}
	*accepted = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(*accepted >= 0);
	close(l);
	return true;
}

static bool allowed_with(const char *list, int fd)
{
	if (list)
		setenv(ENV, list, 1);
	else
		unsetenv(ENV);
	return peer_allowed(fd);
}

/* The connection a test checks: srv is the accepted side, cli the
 * client's; -1 when unused.  The teardown closes both. */
static int srv = -1, cli = -1;

static int v4_pair(void **state)
{
	(void)state;
	assert_true(tcp_pair(AF_INET, "127.0.0.1", AF_INET, "127.0.0.1", &srv, &cli));
	return 0;
}

static int reset(void **state)
{
	(void)state;
	unsetenv(ENV);
	if (srv >= 0)
		close(srv);
	if (cli >= 0)
		close(cli);
	srv = cli = -1;
	return 0;
}

static void unix_peers_are_always_allowed(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_true(allowed_with(NULL, sv[0]));
	assert_true(allowed_with("10.9.8.7", sv[0]));
	assert_true(allowed_with("10.9.8.7", sv[1]));
	close(sv[0]);
	close(sv[1]);
}

/* Not a socket: no peer address to check, as libfcgi let it be. */
static void an_fd_without_a_peer_is_allowed(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_true(allowed_with("10.9.8.7", p[0]));
	close(p[0]);
	close(p[1]);
}

static void unset_or_empty_list_allows_any_tcp_peer(void **state)
{
	(void)state;
	assert_true(allowed_with(NULL, srv));
	assert_true(allowed_with("", srv));
}

static void a_listed_ipv4_peer_is_allowed(void **state)
{
	(void)state;
	assert_true(allowed_with("127.0.0.1", srv));
	assert_true(allowed_with("10.0.0.1,127.0.0.1", srv));
	assert_true(allowed_with("127.0.0.1,10.0.0.1", srv));
	/* Empty items, and items too long for an address, match nothing
	 * and do not stop the walk. */
	assert_true(allowed_with(",,127.0.0.1", srv));
	assert_true(allowed_with("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,127.0.0.1", srv));
}

static void an_unlisted_ipv4_peer_is_refused(void **state)
{
	(void)state;
	assert_false(allowed_with("10.0.0.1", srv));
	assert_false(allowed_with("127.0.0.2,10.0.0.1", srv));
	/* Exact addresses only: no prefixes, masks or stray spaces. */
	assert_false(allowed_with("127.0.0.10", srv));
	assert_false(allowed_with("127.0.0.1/8", srv));
	assert_false(allowed_with(" 127.0.0.1", srv));
	assert_false(allowed_with("127.0.0.1 ", srv));
	assert_false(allowed_with("localhost", srv));
}

/* A dual-stack listener sees an IPv4 client as ::ffff:a.b.c.d: the list
 * names it as a.b.c.d. */
static void an_ipv4_mapped_peer_is_checked_as_ipv4(void **state)
{
	(void)state;
	if (!tcp_pair(AF_INET6, "::", AF_INET, "127.0.0.1", &srv, &cli))
		skip();
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	assert_int_equal(getpeername(srv, (struct sockaddr *)&ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_true(IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr));
	assert_true(allowed_with("127.0.0.1", srv));
	assert_false(allowed_with("10.0.0.1", srv));
	assert_false(allowed_with("::ffff:127.0.0.1", srv));
}

static void an_ipv6_peer_is_refused_when_a_list_is_set(void **state)
{
	(void)state;
	if (!tcp_pair(AF_INET6, "::1", AF_INET6, "::1", &srv, &cli))
		skip();
	assert_true(allowed_with(NULL, srv));
	assert_false(allowed_with("127.0.0.1", srv));
	assert_false(allowed_with("::1", srv));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(unix_peers_are_always_allowed, reset),
		cmocka_unit_test_teardown(an_fd_without_a_peer_is_allowed, reset),
		cmocka_unit_test_setup_teardown(unset_or_empty_list_allows_any_tcp_peer, v4_pair, reset),
		cmocka_unit_test_setup_teardown(a_listed_ipv4_peer_is_allowed, v4_pair, reset),
		cmocka_unit_test_setup_teardown(an_unlisted_ipv4_peer_is_refused, v4_pair, reset),
		cmocka_unit_test_teardown(an_ipv4_mapped_peer_is_checked_as_ipv4, reset),
		cmocka_unit_test_teardown(an_ipv6_peer_is_refused_when_a_list_is_set, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
