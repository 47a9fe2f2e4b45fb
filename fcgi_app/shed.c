/* shed: 503 at the fd limit with the reserve fd (see shed.h). */
#include "shed.h"

#include <errno.h>
#include <fcntl.h>
#include <fastcgi.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "peer.h"
#include "response.h"

void shed_drain_request(int fd, int timeout_ms, size_t cap)
{
	unsigned char buf[4096], hdr[8];
	size_t hlen = 0, skip = 0, total = 0;
	uint64_t until = clock_ms() + (uint64_t)timeout_ms;
	for (;;) {
		uint64_t now = clock_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (now >= until || poll(&p, 1, (int)(until - now)) <= 0)
			return;
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n <= 0)
			return; /* EOF or error: nothing more will come */
		total += (size_t)n;
		for (ssize_t i = 0; i < n;) {
			if (skip > 0) {
				size_t k = (size_t)(n - i) < skip ? (size_t)(n - i) : skip;
				skip -= k;
				i += (ssize_t)k;
				continue;
			}
			hdr[hlen++] = buf[i++];
			if (hlen < sizeof hdr)
				continue;
			hlen = 0;
			size_t clen = (size_t)hdr[4] << 8 | hdr[5];
			if (hdr[1] == FCGI_STDIN && clen == 0)
				return;
			skip = clen + hdr[6];
		}
		if (total > cap)
			return;
	}
}

void shed_reserve_fill(int *reserve)
{
	if (*reserve < 0)
		*reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

enum shed_result shed_one(int listen_fd, int *reserve, size_t drain_cap,
                          int drain_ms)
{
	static const char detail[] =
	    "The server has run out of file descriptors; retry shortly.";
	shed_reserve_fill(reserve);
	if (*reserve < 0)
		return SHED_FAILED;
	close(*reserve);
	*reserve = -1;
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	int err = errno;
	if (fd >= 0 && peer_allowed(fd)) {
		/* nginx writes its request right after connecting.  A body
		 * that takes longer than drain_ms to arrive is cut off, and
		 * nginx then reports a 502, as for any reset. */
		shed_drain_request(fd, drain_ms, drain_cap);
		char body[256], out[512];
		size_t blen = response_page(body, sizeof body, 503, detail);
		struct response resp = {.status = 503, .body = body,
		                        .body_len = blen,
		                        .extra_headers = "Retry-After: 1\r\n"};
		/* nginx never multiplexes: its request id is always 1. */
		size_t n = response_encode(out, sizeof out, 1, &resp);
		if (n <= sizeof out)
			(void)send(fd, out, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	if (fd >= 0)
		close(fd);
	shed_reserve_fill(reserve);
	if (fd >= 0 || err == EINTR || err == ECONNABORTED || err == EPROTO)
		return SHED_ONE; /* progress: the next one may follow */
	if (err == EAGAIN || err == EWOULDBLOCK)
		return SHED_NONE;
	return SHED_FAILED; /* the freed number did not help (ENFILE, ENOMEM) */
}
