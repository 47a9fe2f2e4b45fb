/* latprobe: per-request latency of one path at a fixed request rate.
 *
 *   latprobe --port P [--path /coro] [--rate 1000] [--conns 4] [--duration S]
 *            [--out FILE]
 *   latprobe --fcgi SOCKET ...   the same, but straight to the app's FastCGI
 *            socket, one connection per request (as nginx without keep-alive):
 *            the app's own latency, without nginx
 *   latprobe --stall CPU [--duration S] [--out FILE]
 *            the machine's own stalls, for reference: no request at all, a
 *            thread pinned to CPU that sleeps to the next millisecond again
 *            and again; each wake-up's lateness is one sample
 *   latprobe --analyze FILE [--from NS] [--to NS] [--label L]
 *
 * Probe mode: --conns kept-alive HTTP/1.1 connections to 127.0.0.1:PORT;
 * request k is scheduled at start + k/rate and goes out on its connection
 * as soon as that is free.  A request's latency is counted from its
 * *scheduled* time to the end of its response, so a stall of the server
 * shows up in every request it delays (no coordinated omission).  Prints
 * percentiles, non-2xx and errors; --out writes every sample
 * (`sched_ns latency_ns status` per line, CLOCK_MONOTONIC) for --analyze.
 *
 * Stall mode: wake-ups are scheduled on a 1 ms grid (absolute times), so a
 * CPU taken away for 7 ms gives samples late by 7, 6, 5 ... ms, as a probe
 * request scheduled then would have been: its percentiles compare with
 * the probe's.  What delays it belongs to neither nginx nor the app (they
 * may still be what holds its CPU; run it beside them to tell).
 *
 * Analyze mode: the same summary over the samples scheduled in [from, to).
 */
#include "httpresp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#define RBUF 4096

struct sample {
	int64_t sched, lat;
	int status;
};

struct pconn {
	int fd;
	bool busy;
	int64_t sched;
	size_t idx; /* its sample */
	size_t len;
	struct httpresp h;
	char buf[RBUF];
};

static void summary(const char *label, const struct sample *s, size_t n, double dur_s)
{
	int64_t *v = malloc(sizeof *v * (n + 1));
	long non2xx = 0, errs = 0;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i].status <= 0)
			errs++;
		else if (s[i].status < 200 || s[i].status > 299)
			non2xx++;
		if (v)
			v[k++] = s[i].lat;
	}
	if (!v)
		return;
	qsort(v, k, sizeof *v, cmp_i64);
	printf("latprobe %s n=%zu rate=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f "
	       "max_ms=%.3f non2xx=%ld errors=%ld\n",
	       label, k, dur_s > 0 ? (double)k / dur_s : 0.0,
	       (double)quantile(v, k, 0.5) / 1e6, (double)quantile(v, k, 0.9) / 1e6,
	       (double)quantile(v, k, 0.99) / 1e6, (double)quantile(v, k, 0.999) / 1e6,
	       k ? (double)v[k - 1] / 1e6 : 0.0, non2xx, errs);
	free(v);
}

static int analyze(const char *file, int64_t from, int64_t to, const char *label)
{
	FILE *f = fopen(file, "r");
	if (!f) {
		perror(file);
		return 1;
	}
	size_t cap = 1 << 16, n = 0;
	struct sample *s = malloc(cap * sizeof *s);
	long long a, b;
	int st;
	int64_t lo = INT64_MAX, hi = 0;
	while (s && fscanf(f, "%lld %lld %d", &a, &b, &st) == 3) {
		if (a < from || a >= to)
			continue;
		if (n == cap) {
			cap *= 2;
			struct sample *t = realloc(s, cap * sizeof *s);
			if (!t)
				break;
			s = t;
		}
		s[n++] = (struct sample){a, b, st};
		if (a < lo) lo = a;
		if (a > hi) hi = a;
	}
	fclose(f);
	summary(label, s, n, n > 1 ? (double)(hi - lo) / 1e9 : 0);
	free(s);
	return 0;
}

static int write_samples(const char *file, const struct sample *s, size_t n)
{
	FILE *f = fopen(file, "w");
	if (!f) {
		perror(file);
		return 1;
	}
	for (size_t q = 0; q < n; q++)
		fprintf(f, "%lld %lld %d\n", (long long)s[q].sched, (long long)s[q].lat, s[q].status);
	return fclose(f) == 0 ? 0 : 1;
}

/* Wake-up lateness of a thread pinned to `cpu`, sleeping to each next
 * millisecond for `duration` s; written as samples with status 200. */
static int stall_probe(int cpu, double duration, const char *out)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0) {
		perror("latprobe: sched_setaffinity");
		return 1;
	}
	size_t total = (size_t)(duration * 1000), n = 0;
	struct sample *s = calloc(total + 1, sizeof *s);
	if (!s)
		return 1;
	int64_t t0 = now_ns() + 1000000;
	for (; n < total; n++) {
		int64_t due = t0 + (int64_t)n * 1000000;
		struct timespec ts = {(time_t)(due / 1000000000), (long)(due % 1000000000)};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		s[n] = (struct sample){due, now_ns() - due, 200};
	}
	char label[32];
	snprintf(label, sizeof label, "stall-cpu%d", cpu);
	summary(label, s, n, duration);
	int rc = out ? write_samples(out, s, n) : 0;
	free(s);
	return rc;
}

static const char *fcgi_sock;
static char fcgi_req[512];
static size_t fcgi_req_len;

static size_t put_rec(char *p, int type, const char *c, size_t n)
{
	p[0] = 1;
	p[1] = (char)type;
	p[2] = 0;
	p[3] = 1;
	p[4] = (char)(n >> 8);
	p[5] = (char)(n & 0xff);
	p[6] = 0;
	p[7] = 0;
	if (n)
		memcpy(p + 8, c, n);
	return 8 + n;
}

static size_t put_nv(char *p, const char *name, const char *value)
{
	size_t a = strlen(name), b = strlen(value);
	p[0] = (char)a;
	p[1] = (char)b;
	memcpy(p + 2, name, a);
	memcpy(p + 2 + a, value, b);
	return 2 + a + b;
}

/* BEGIN_REQUEST (responder, no keep-conn), the params the app routes on,
 * empty PARAMS, empty STDIN. */
static void fcgi_build(const char *path)
{
	static const char begin[8] = {0, 1, 0, 0, 0, 0, 0, 0};
	char params[300];
	size_t pn = put_nv(params, "REQUEST_METHOD", "GET");
	pn += put_nv(params + pn, "DOCUMENT_URI", path);
	pn += put_nv(params + pn, "REQUEST_URI", path);
	size_t n = put_rec(fcgi_req, 1, begin, 8);
	n += put_rec(fcgi_req + n, 4, params, pn);
	n += put_rec(fcgi_req + n, 4, NULL, 0);
	n += put_rec(fcgi_req + n, 5, NULL, 0);
	fcgi_req_len = n;
}

/* 1 when buf holds an END_REQUEST record; *status from "Status: NNN". */
static int fcgi_complete(const char *buf, size_t len, int *status)
{
	size_t off = 0;
	while (off + 8 <= len) {
		size_t n = ((size_t)(unsigned char)buf[off + 4] << 8) | (unsigned char)buf[off + 5];
		size_t pad = (unsigned char)buf[off + 6];
		if (off + 8 + n + pad > len)
			return 0;
		if (buf[off + 1] == 6 && *status == 0) {
			const char *st = memmem(buf + off + 8, n, "Status: ", 8);
			*status = st ? atoi(st + 8) : 200;
		}
		if (buf[off + 1] == 3)
			return 1;
		off += 8 + n + pad;
	}
	return 0;
}

static int dial_unix(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", fcgi_sock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    send(fd, fcgi_req, fcgi_req_len, MSG_NOSIGNAL) != (ssize_t)fcgi_req_len) {
		close(fd);
		return -1;
	}
	return fd;
}

static int dial(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	int port = 0, conns = 4;
	double rate = 1000, duration = 5;
	const char *path = "/coro", *out = NULL, *an = NULL, *label = "all";
	int64_t from = INT64_MIN, to = INT64_MAX;
	int stall_cpu = -1;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--port")) port = atoi(v);
		else if (!strcmp(a, "--path")) path = v;
		else if (!strcmp(a, "--rate")) rate = atof(v);
		else if (!strcmp(a, "--conns")) conns = atoi(v);
		else if (!strcmp(a, "--duration")) duration = atof(v);
		else if (!strcmp(a, "--out")) out = v;
		else if (!strcmp(a, "--analyze")) an = v;
		else if (!strcmp(a, "--from")) from = atoll(v);
		else if (!strcmp(a, "--to")) to = atoll(v);
		else if (!strcmp(a, "--label")) label = v;
		else if (!strcmp(a, "--fcgi")) fcgi_sock = v;
		else if (!strcmp(a, "--stall")) stall_cpu = atoi(v);
		else {
			fprintf(stderr, "latprobe: unknown %s\n", a);
			return 2;
		}
	}
	if (argc % 2 == 0) {
		fprintf(stderr, "latprobe: every option takes a value\n");
		return 2;
	}
	if (an)
		return analyze(an, from, to, label);
	if (stall_cpu >= 0) {
		if (duration <= 0 || duration > 600) {
			fprintf(stderr, "latprobe: duration <= 600\n");
			return 2;
		}
		return stall_probe(stall_cpu, duration, out);
	}
	if (fcgi_sock)
		port = 1; /* unused */
	if (port <= 0 || rate <= 0 || conns < 1 || duration <= 0 || duration > 600) {
		fprintf(stderr, "latprobe: --port P required; rate, conns > 0; duration <= 600\n");
		return 2;
	}

	size_t total = (size_t)(rate * duration);
	struct sample *s = calloc(total + 1, sizeof *s);
	struct pconn *pc = calloc((size_t)conns, sizeof *pc);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!s || !pc || ep < 0 || tfd < 0)
		return 1;
	char req[256];
	int rl = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
	if (fcgi_sock)
		fcgi_build(path);
	for (int i = 0; i < conns; i++) {
		pc[i].fd = -1;
		if (fcgi_sock)
			continue;
		pc[i].fd = dial(port);
		if (pc[i].fd < 0) {
			perror("latprobe: connect");
			return 1;
		}
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i};
		epoll_ctl(ep, EPOLL_CTL_ADD, pc[i].fd, &ev);
	}
	struct epoll_event tev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);
	usleep(50000); /* let the connects finish */

	int64_t t0 = now_ns() + 1000000, deadline = t0 + (int64_t)(duration * 1e9) + 5000000000LL;
	size_t next = 0, done = 0;
	/* FIFO of scheduled-but-unsent requests is implicit: next is the oldest. */
	while (done < total && now_ns() < deadline) {
		int64_t t = now_ns();
		/* Send every due request on a free connection. */
		for (int i = 0; i < conns && next < total; i++) {
			int64_t due = t0 + (int64_t)((double)next * 1e9 / rate);
			if (due > t)
				break;
			if (fcgi_sock && !pc[i].busy) {
				pc[i].fd = dial_unix();
				if (pc[i].fd < 0) {
					s[next++] = (struct sample){due, t - due, -1};
					done++;
					continue;
				}
				struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i};
				epoll_ctl(ep, EPOLL_CTL_ADD, pc[i].fd, &ev);
			} else if (pc[i].busy || pc[i].fd < 0) {
				continue;
			} else if (send(pc[i].fd, req, (size_t)rl, MSG_NOSIGNAL) != rl) {
				/* reconnect once; count the request as an error */
				s[next++] = (struct sample){due, t - due, -1};
				done++;
				close(pc[i].fd);
				pc[i].fd = dial(port);
				if (pc[i].fd >= 0) {
					struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP,
					                         .data.u32 = (uint32_t)i};
					epoll_ctl(ep, EPOLL_CTL_ADD, pc[i].fd, &ev);
				}
				continue;
			}
			pc[i].busy = true;
			pc[i].sched = due;
			pc[i].h.status = 0;
			pc[i].len = 0;
			memset(&pc[i].h, 0, sizeof pc[i].h);
			pc[i].idx = next;
			s[next].sched = due;
			s[next].status = -2; /* in flight */
			next++;
		}
		/* Wake for the next due request only while a connection is free
		 * to send it.  With every connection busy and the next request
		 * already due, an armed timer would fire at once, over and over:
		 * the probe would spin on a core exactly while the server is
		 * slow, and make the stall it measures (4 probes ate 640 ms of
		 * CPU in a 730 ms fire before this).  A reply wakes it instead. */
		bool can_send = false;
		for (int i = 0; i < conns; i++)
			can_send |= !pc[i].busy && (fcgi_sock || pc[i].fd >= 0);
		struct itimerspec its = {{0, 0}, {0, 0}}; /* zero disarms */
		if (next < total && can_send) {
			int64_t due = t0 + (int64_t)((double)next * 1e9 / rate);
			its.it_value = (struct timespec){.tv_sec = due / 1000000000,
			                                 .tv_nsec = due % 1000000000};
		}
		timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
		struct epoll_event evs[64];
		int k = epoll_wait(ep, evs, 64, 100);
		for (int j = 0; j < k; j++) {
			uint32_t i = evs[j].data.u32;
			if (i == UINT32_MAX) {
				uint64_t x;
				ssize_t rr = read(tfd, &x, sizeof x);
				(void)rr;
				continue;
			}
			struct pconn *c = &pc[i];
			for (;;) {
				ssize_t r = recv(c->fd, c->buf + c->len, RBUF - c->len, 0);
				if (r > 0 && fcgi_sock) {
					c->len += (size_t)r;
					int st = 0;
					if (c->busy && fcgi_complete(c->buf, c->len, &st)) {
						s[c->idx].lat = now_ns() - c->sched;
						s[c->idx].status = st;
						done++;
						c->busy = false;
						epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
						close(c->fd);
						c->fd = -1;
						c->len = 0;
						break;
					}
					if (c->len == RBUF)
						c->len = 0;
					continue;
				}
				if (r > 0) {
					c->len += (size_t)r;
					if (c->busy && httpresp_head(&c->h, c->buf, c->len) == 1 &&
					    httpresp_complete(&c->h, c->buf, c->len)) {
						int64_t te = now_ns();
						s[c->idx].lat = te - c->sched;
						s[c->idx].status = c->h.status;
						done++;
						c->busy = false;
						c->len = 0;
						memset(&c->h, 0, sizeof c->h);
					}
					if (c->len == RBUF)
						c->len = 0;
					continue;
				}
				if (r == 0 || errno != EAGAIN) {
					/* closed: an error for the in-flight one, then redial */
					if (c->busy) {
						s[c->idx].lat = now_ns() - c->sched;
						s[c->idx].status = -1;
						done++;
						c->busy = false;
					}
					epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
					close(c->fd);
					c->fd = fcgi_sock ? -1 : dial(port);
					c->len = 0;
					memset(&c->h, 0, sizeof c->h);
					if (c->fd >= 0) {
						struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP,
						                         .data.u32 = i};
						epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
					}
				}
				break;
			}
		}
	}
	/* Anything still in flight at the deadline is an error. */
	for (size_t q = 0; q < next; q++)
		if (s[q].status == -2) {
			s[q].lat = now_ns() - s[q].sched;
			s[q].status = -1;
		}
	if (out)
		write_samples(out, s, next);
	summary(label, s, next, duration);
	if (next < total)
		printf("latprobe: only %zu of %zu requests went out\n", next, total);
	return 0;
}
