/* libFuzzer target: the whole input path.  The input is what a peer writes
 * to a fresh connection (a socketpair, written whole, then shut down for
 * writing); the app's side reads it as an acceptor thread would: requests
 * one after the other while the connection may be kept, each routed.
 * Every byte the app wrote back (management answers) must be a
 * well-formed FCGI_GET_VALUES_RESULT or FCGI_UNKNOWN_TYPE record with zero
 * padding and reserved bytes. */
#include <fastcgi.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "fcgi_in.h"
#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct fcgi_in_opts opts = {
	.max_params = 4096, .max_body = 100, .max_discard = 1000,
	.max_conns = 1048576, .max_reqs = 20000,
};

static void check_replies(int fd)
{
	static unsigned char got[1 << 20];
	size_t n = 0;
	ssize_t k;
	while (n < sizeof got &&
	       (k = recv(fd, got + n, sizeof got - n, MSG_DONTWAIT)) > 0)
		n += (size_t)k;
	for (size_t off = 0; off < n;) {
		if (n - off < 8)
			abort();
		const unsigned char *h = got + off;
		size_t clen = (size_t)h[4] << 8 | h[5], plen = h[6];
		if (h[0] != 1 || h[2] || h[3] || h[7] || off + 8 + clen + plen > n)
			abort();
		if (h[1] == FCGI_UNKNOWN_TYPE) {
			if (clen != 8 || plen || memcmp(h + 9, "\0\0\0\0\0\0\0", 7))
				abort();
		} else if (h[1] == FCGI_GET_VALUES_RESULT) {
			if ((clen + plen) % 8 || plen > 7)
				abort();
			for (size_t i = 0; i < plen; i++)
				if (h[8 + clen + i])
					abort();
		} else {
			abort();
		}
		off += 8 + clen + plen;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fcgi_in_reader *rd;
	if (!rd && !(rd = fcgi_in_reader_new(opts.max_params)))
		abort();
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	int big = 4 << 20;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	/* The app's side never waits long: the peer's bytes are all there. */
	struct timeval tv = {0, 100000};
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	size_t sent = 0;
	while (sent < size) {
		ssize_t k = send(sv[1], data + sent, size - sent, MSG_NOSIGNAL);
		if (k <= 0)
			break;
		sent += (size_t)k;
	}
	shutdown(sv[1], SHUT_WR);
	struct fcgi_in_result res;
	for (int i = 0; i < 64; i++) {
		if (fcgi_in_read(rd, sv[0], &opts, &res) < 0)
			break;
		if (res.path) {
			struct router_match m = router_match(res.path, res.path_len, 60);
			if (m.route == ROUTER_SLEEP && m.seconds > 60)
				abort();
		}
		if (res.role < FCGI_RESPONDER || res.role > FCGI_FILTER || res.id == 0)
			abort();
		/* The acceptor's rule: only a request read to its end keeps
		 * the connection. */
		if (!res.keep_conn || !res.at_end || res.role != FCGI_RESPONDER)
			break;
	}
	check_replies(sv[1]);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
