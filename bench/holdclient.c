/* holdclient: holds N requests open through nginx, then fires (or
 * disconnects, or just waits), and times every completion.
 *
 * One thread, epoll, non-blocking sockets, all to 127.0.0.1:PORT.
 *
 *   holdclient --port P [--n 10000] [--path /simple] [--mode fire|disconnect|wait]
 *              [--fire-path /simple/fire] [--wait-key pending] [--wait-value N]
 *              [--extra-path /sleep/60 --extra-n 20] [--hold-seconds S]
 *              [--settle S] [--timeout S] [--rss-pid PID] [--connecting 1000]
 *              [--expect BODY] [--expect-type TYPE] [--spread K]
 *              [--fire-method M] [--fire-body BODY] [--fire-type TYPE]
 *              [--fire-expect BODY]
 *
 * 1. opens --extra-n connections to --extra-path (e.g. /sleep requests that
 *    keep the worker pool busy); they are only counted, and closed at the end;
 * 2. opens --n connections to --path (at most --connecting in flight at once,
 *    so nginx's backlog is never overrun), each sending one
 *    `GET PATH HTTP/1.1` with `Connection: close`;
 * 3. waits until the app's status page (/_fcgi_app/status through nginx)
 *    shows --wait-key >= --wait-value (default: pending >= n + extra-n), or,
 *    failing that, until --settle seconds after the last request was sent;
 * 4. waits --hold-seconds more, then:
 *    fire:       sends one GET --fire-path itself and times from just before
 *                that send to each held response's completion;
 *    disconnect: closes every held connection, then polls the status page
 *                until --wait-key is back to its value before step 2;
 *    wait:       just waits for the responses (e.g. the app's 504s);
 *    The fire is `--fire-method` (GET) with `--fire-body` as its body and
 *    `--fire-type` as its Content-Type when given;
 * 5. prints one `key=value ...` line: counts per status, how many 200s had
 *    exactly --expect as body (and, with --expect-type, exactly that
 *    Content-Type), Retry-After headers seen, the times, the app's VmRSS
 *    (--rss-pid) before/held/after, and this process's own CPU time
 *    (getrusage), so it can be seen not to be the bottleneck.
 *
 * --spread K spreads the held requests over K paths, e.g. K channels of a
 * pub/sub app: held request i goes to --path followed by the number
 * i % K ("/sub/ch" -> /sub/ch0 ... /sub/ch<K-1>), and expects --expect
 * followed by the same number as its body; the fire is then K requests,
 * one per path, to --fire-path followed by the number, with --fire-body
 * followed by the number (when given).  fires= and fire_ok= (fires whose
 * body is exactly --fire-expect) are printed with fire_status (the first
 * fire's status, or 0 when any differs).  Without --spread nothing is
 * appended.
 *
 * Everything is bounded by --timeout (default 60 s).
 */
#include "httpresp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define RBUF 1024

enum cstate { C_FREE, C_CONNECTING, C_SENDING, C_WAITING, C_DONE };

struct conn {
	int fd;
	enum cstate st;
	bool extra;
	int group; /* --spread: which path */
	uint16_t sent;
	uint16_t len;
	int64_t t_done;
	struct httpresp h;
	char *buf; /* RBUF bytes, allocated on first read */
};

static struct {
	int port;
	int n, extra_n, connecting_max;
	const char *path, *fire_path, *extra_path, *mode, *wait_key, *expect;
	const char *expect_type, *fire_method, *fire_body, *fire_type, *fire_expect;
	int spread; /* 0: no --spread */
	long wait_value;
	double hold_s, settle_s, timeout_s;
	int rss_pid;
} o = {
	.n = 10000, .connecting_max = 1000,
	.path = "/simple", .fire_path = "/simple/fire", .extra_path = "/sleep/60",
	.mode = "fire", .wait_key = "pending", .wait_value = -1,
	.expect = "<u><i>This is a simple callback...FIRE!</i></u>",
	.fire_method = "GET",
	.settle_s = 5, .timeout_s = 60, .rss_pid = 0,
};

static struct conn *conns;
static int nconns, epfd;
static char **req_main; /* one per --spread group (one without) */
static int *len_main;
static char req_extra[256];
static int len_extra;
static int in_flight; /* connecting or sending */
static int next_open;
static int sent_main, done_main, conn_errors;
static long codes[600];
static long body_ok, retry_after, bad_body, bad_type;
static int64_t t_fire, t_first = 0, t_last = 0;

static long rss_kb(int pid)
{
	if (pid <= 0)
		return -1;
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long v = -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "VmRSS:", 6)) {
			v = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static struct sockaddr_in target(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

/* One blocking request on its own connection (status page, fire): method,
 * path, and a body with its Content-Type when body is not NULL.  Returns
 * the HTTP status, fills body; -1 on error.  Bounded by 10 s. */
static int simple_req(const char *method, const char *path, const char *type,
                      const char *req_body, char *body, size_t cap)
{
	char *req = NULL;
	int n = req_body
	            ? asprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
	                             "%s%s%sContent-Length: %zu\r\n\r\n%s",
	                       method, path, type ? "Content-Type: " : "", type ? type : "",
	                       type ? "\r\n" : "", strlen(req_body), req_body)
	            : asprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
	                       method, path);
	if (n < 0)
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		free(req);
		return -1;
	}
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	struct sockaddr_in sa = target();
	char buf[8192];
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		free(req);
		close(fd);
		return -1;
	}
	free(req);
	size_t len = 0;
	struct httpresp h = {0};
	for (;;) {
		ssize_t r = recv(fd, buf + len, sizeof buf - len, 0);
		if (r <= 0)
			break;
		len += (size_t)r;
		if (httpresp_head(&h, buf, len) == 1 && httpresp_complete(&h, buf, len))
			break;
		if (len == sizeof buf)
			break;
	}
	close(fd);
	if (httpresp_head(&h, buf, len) != 1)
		return -1;
	if (body)
		httpresp_body(&h, buf, len, body, cap);
	return h.status;
}

static int simple_get(const char *path, char *body, size_t cap)
{
	return simple_req("GET", path, NULL, NULL, body, cap);
}

/* s followed by the group's number under --spread; s itself without.
 * NULL when out of memory. */
static char *with_group(const char *s, int group)
{
	char *out;
	if (!o.spread)
		return strdup(s);
	return asprintf(&out, "%s%d", s, group) < 0 ? NULL : out;
}

static long status_counter(const char *key)
{
	char body[2048];
	if (simple_get("/_fcgi_app/status", body, sizeof body) != 200)
		return -1;
	size_t kl = strlen(key);
	for (char *p = body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, kl) && p[kl] == ' ')
			return strtol(p + kl + 1, NULL, 10);
	return -1;
}

static void open_one(int i)
{
	struct conn *c = &conns[i];
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		perror("holdclient: socket");
		conn_errors++;
		c->st = C_DONE;
		return;
	}
	struct sockaddr_in sa = target();
	int rc = connect(c->fd, (struct sockaddr *)&sa, sizeof sa);
	if (rc != 0 && errno != EINPROGRESS) {
		conn_errors++;
		close(c->fd);
		c->fd = -1;
		c->st = C_DONE;
		return;
	}
	c->st = C_CONNECTING;
	in_flight++;
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i};
	epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

static void finish(struct conn *c, bool eof)
{
	if (c->st == C_DONE)
		return;
	if (c->st == C_CONNECTING || c->st == C_SENDING)
		in_flight--;
	int64_t t = now_ns();
	c->st = C_DONE;
	c->t_done = t;
	if (c->fd >= 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	if (c->extra)
		return;
	done_main++;
	if (c->buf && httpresp_head(&c->h, c->buf, c->len) == 1) {
		int s = c->h.status;
		codes[s >= 0 && s < 600 ? s : 0]++;
		if (c->h.retry_after)
			retry_after++;
		if (s == 200) {
			char body[RBUF], want[RBUF];
			httpresp_body(&c->h, c->buf, c->len, body, sizeof body);
			if (o.spread)
				snprintf(want, sizeof want, "%s%d", o.expect, c->group);
			else
				snprintf(want, sizeof want, "%s", o.expect);
			if (!strcmp(body, want))
				body_ok++;
			else
				bad_body++;
			if (o.expect_type &&
			    (c->h.ctype_len != strlen(o.expect_type) ||
			     memcmp(c->buf + c->h.ctype_off, o.expect_type, c->h.ctype_len)))
				bad_type++;
		}
	} else {
		(void)eof;
		conn_errors++;
	}
	if (!t_first || t < t_first)
		t_first = t;
	if (t > t_last)
		t_last = t;
	free(c->buf);
	c->buf = NULL;
}

static void on_event(int i, uint32_t evs)
{
	struct conn *c = &conns[i];
	if (c->st == C_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof err;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			finish(c, true);
			return;
		}
		if (!(evs & EPOLLOUT))
			return;
		c->st = C_SENDING;
	}
	if (c->st == C_SENDING) {
		const char *r = c->extra ? req_extra : req_main[c->group];
		int rl = c->extra ? len_extra : len_main[c->group];
		ssize_t w = send(c->fd, r + c->sent, (size_t)(rl - c->sent), MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN) {
			finish(c, true);
			return;
		}
		if (w > 0)
			c->sent = (uint16_t)(c->sent + w);
		if (c->sent < rl)
			return;
		c->st = C_WAITING;
		in_flight--;
		if (!c->extra)
			sent_main++;
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i};
		epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
		return;
	}
	if (c->st != C_WAITING)
		return;
	if (!c->buf) {
		c->buf = malloc(RBUF);
		if (!c->buf)
			abort();
	}
	for (;;) {
		if (c->len == RBUF) { /* too big for a bench answer */
			finish(c, true);
			return;
		}
		ssize_t r = recv(c->fd, c->buf + c->len, RBUF - c->len, 0);
		if (r > 0) {
			c->len = (uint16_t)(c->len + r);
			if (httpresp_head(&c->h, c->buf, c->len) == 1 &&
			    httpresp_complete(&c->h, c->buf, c->len)) {
				finish(c, false);
				return;
			}
			continue;
		}
		if (r == 0 || errno != EAGAIN)
			finish(c, true);
		return;
	}
}

static void pump(int timeout_ms)
{
	struct epoll_event evs[512];
	int k = epoll_wait(epfd, evs, 512, timeout_ms);
	for (int j = 0; j < k; j++)
		on_event((int)evs[j].data.u32, evs[j].events);
	while (next_open < nconns && in_flight < o.connecting_max)
		open_one(next_open++);
}

static double ms(int64_t ns) { return (double)ns / 1e6; }

static void usage(void)
{
	fprintf(stderr, "usage: holdclient --port P [--n N] [--path P] [--mode fire|disconnect|wait]\n"
	                "  [--fire-path P] [--wait-key K] [--wait-value V] [--extra-path P --extra-n M]\n"
	                "  [--hold-seconds S] [--settle S] [--timeout S] [--rss-pid PID]\n"
	                "  [--connecting N] [--expect BODY] [--expect-type TYPE] [--spread K]\n"
	                "  [--fire-method M] [--fire-body BODY] [--fire-type TYPE] [--fire-expect BODY]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--port")) o.port = atoi(v);
		else if (!strcmp(a, "--n")) o.n = atoi(v);
		else if (!strcmp(a, "--path")) o.path = v;
		else if (!strcmp(a, "--mode")) o.mode = v;
		else if (!strcmp(a, "--fire-path")) o.fire_path = v;
		else if (!strcmp(a, "--wait-key")) o.wait_key = v;
		else if (!strcmp(a, "--wait-value")) o.wait_value = atol(v);
		else if (!strcmp(a, "--extra-path")) o.extra_path = v;
		else if (!strcmp(a, "--extra-n")) o.extra_n = atoi(v);
		else if (!strcmp(a, "--hold-seconds")) o.hold_s = atof(v);
		else if (!strcmp(a, "--settle")) o.settle_s = atof(v);
		else if (!strcmp(a, "--timeout")) o.timeout_s = atof(v);
		else if (!strcmp(a, "--rss-pid")) o.rss_pid = atoi(v);
		else if (!strcmp(a, "--connecting")) o.connecting_max = atoi(v);
		else if (!strcmp(a, "--expect")) o.expect = v;
		else if (!strcmp(a, "--expect-type")) o.expect_type = v;
		else if (!strcmp(a, "--spread")) o.spread = atoi(v);
		else if (!strcmp(a, "--fire-method")) o.fire_method = v;
		else if (!strcmp(a, "--fire-body")) o.fire_body = v;
		else if (!strcmp(a, "--fire-type")) o.fire_type = v;
		else if (!strcmp(a, "--fire-expect")) o.fire_expect = v;
		else usage();
	}
	if (o.port <= 0 || o.n < 0 || o.extra_n < 0 || o.connecting_max < 1 ||
	    o.spread < 0 || o.spread > 100000)
		usage();
	bool m_fire = !strcmp(o.mode, "fire"), m_disc = !strcmp(o.mode, "disconnect"),
	     m_wait = !strcmp(o.mode, "wait");
	if (!m_fire && !m_disc && !m_wait)
		usage();

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int64_t t_start = now_ns(), deadline = t_start + (int64_t)(o.timeout_s * 1e9);
	int ngroups = o.spread ? o.spread : 1;
	req_main = calloc((size_t)ngroups, sizeof *req_main);
	len_main = calloc((size_t)ngroups, sizeof *len_main);
	if (!req_main || !len_main)
		return 1;
	for (int g = 0; g < ngroups; g++) {
		char *path = with_group(o.path, g);
		if (!path || (len_main[g] = asprintf(&req_main[g],
		                                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		                                     "Connection: close\r\n\r\n", path)) < 0)
			return 1;
		free(path);
	}
	len_extra = snprintf(req_extra, sizeof req_extra,
	                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", o.extra_path);

	long base = status_counter(o.wait_key);
	if (base < 0) {
		fprintf(stderr, "holdclient: no status page on 127.0.0.1:%d\n", o.port);
		return 1;
	}
	if (o.wait_value < 0)
		o.wait_value = base + o.n + o.extra_n;
	long rss_before = rss_kb(o.rss_pid);

	nconns = o.n + o.extra_n;
	conns = calloc((size_t)nconns + 1, sizeof *conns);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || epfd < 0)
		return 1;
	for (int i = 0; i < nconns; i++) {
		conns[i].fd = -1;
		conns[i].extra = i < o.extra_n; /* the extras go first */
		conns[i].group = conns[i].extra ? 0 : (i - o.extra_n) % ngroups;
	}

	/* Open everything; then wait for the app to count them. */
	int64_t t_all_sent = 0, t_held = 0, next_poll = 0;
	long counter = -1;
	while (now_ns() < deadline) {
		pump(20);
		if (!t_all_sent && next_open == nconns && in_flight == 0)
			t_all_sent = now_ns();
		int64_t t = now_ns();
		if (t >= next_poll) {
			counter = status_counter(o.wait_key);
			next_poll = now_ns() + 100000000;
			if (counter >= o.wait_value && (t_all_sent || m_wait)) {
				t_held = now_ns();
				break;
			}
		}
		if (t_all_sent && t - t_all_sent > (int64_t)(o.settle_s * 1e9)) {
			t_held = now_ns();
			break;
		}
	}
	int held_main = sent_main - done_main;
	long counter_held = counter;
	long rss_held = rss_kb(o.rss_pid);
	long pool_busy = status_counter("pool_busy"), pool_queued = status_counter("pool_queued");
	int64_t hold_until = now_ns() + (int64_t)(o.hold_s * 1e9);
	while (now_ns() < hold_until && now_ns() < deadline)
		pump(10);
	held_main = sent_main - done_main;
	int done_before_fire = done_main;

	int fire_status = 0, fires = 0, fire_ok = 0;
	char fire_body[512] = "";
	int64_t t_zero = 0;
	struct rusage ru0;
	getrusage(RUSAGE_SELF, &ru0);
	t_fire = now_ns();
	if (m_fire) {
		for (int g = 0; g < ngroups; g++) {
			char *path = with_group(o.fire_path, g);
			char *body = o.fire_body ? with_group(o.fire_body, g) : NULL;
			int st = path && (body || !o.fire_body)
			             ? simple_req(o.fire_method, path, o.fire_type, body,
			                          fire_body, sizeof fire_body)
			             : -1;
			free(path);
			free(body);
			fires++;
			if (o.fire_expect && !strcmp(fire_body, o.fire_expect))
				fire_ok++;
			if (g == 0)
				fire_status = st;
			else if (st != fire_status)
				fire_status = 0;
			/* Replies the fires so far released get their times now,
			 * not after the last fire. */
			if (g + 1 < ngroups)
				pump(0);
		}
	} else if (m_disc) {
		for (int i = o.extra_n; i < nconns; i++) {
			struct conn *c = &conns[i];
			if (c->fd >= 0) {
				epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				c->fd = -1;
				c->st = C_DONE;
			}
		}
		long want = o.wait_value - o.n; /* what the held ones added, gone */
		while (now_ns() < deadline) {
			counter = status_counter(o.wait_key);
			if (counter >= 0 && counter <= want) {
				t_zero = now_ns();
				break;
			}
			usleep(20000);
		}
	}
	if (!m_disc)
		while (done_main < sent_main && now_ns() < deadline)
			pump(50);
	long counter_after = m_disc ? counter : status_counter(o.wait_key);
	long rss_after = rss_kb(o.rss_pid);

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu_ms = (double)ru.ru_utime.tv_sec * 1e3 + (double)ru.ru_utime.tv_usec / 1e3 +
	                (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3;
	double cpu0_ms = (double)ru0.ru_utime.tv_sec * 1e3 + (double)ru0.ru_utime.tv_usec / 1e3 +
	                 (double)ru0.ru_stime.tv_sec * 1e3 + (double)ru0.ru_stime.tv_usec / 1e3;

	/* Completion times after the fire, for percentiles. */
	int64_t *lat = malloc(sizeof *lat * (size_t)(nconns + 1));
	size_t nl = 0;
	for (int i = o.extra_n; i < nconns && lat; i++)
		if (conns[i].t_done >= t_fire && conns[i].t_done)
			lat[nl++] = conns[i].t_done - t_fire;
	if (lat)
		qsort(lat, nl, sizeof *lat, cmp_i64);

	long non2xx = 0;
	printf("holdclient mode=%s path=%s n=%d extra=%d sent=%d held=%d counter_held=%ld "
	       "done_before_fire=%d done=%d errors=%d",
	       o.mode, o.path, o.n, o.extra_n, sent_main, held_main, counter_held,
	       done_before_fire, done_main, conn_errors);
	printf(" codes=");
	bool first = true;
	for (int s = 0; s < 600; s++)
		if (codes[s]) {
			printf("%s%d:%ld", first ? "" : ",", s, codes[s]);
			first = false;
			if (s < 200 || s > 299)
				non2xx += codes[s];
		}
	if (first)
		printf("none");
	printf(" ok200=%ld body_ok=%ld bad_body=%ld non2xx=%ld retry_after=%ld",
	       codes[200], body_ok, bad_body, non2xx, retry_after);
	if (o.expect_type)
		printf(" bad_type=%ld", bad_type);
	if (m_fire)
		printf(" fire_status=%d", fire_status);
	if (m_fire && o.spread)
		printf(" fires=%d fire_ok=%d", fires, fire_ok);
	if (nl)
		printf(" fire_to_first_ms=%.1f fire_to_p50_ms=%.1f fire_to_last_ms=%.1f",
		       ms(lat[0]), ms(quantile(lat, nl, 0.5)), ms(lat[nl - 1]));
	if (m_disc)
		printf(" counter_after=%ld disconnect_to_zero_ms=%.1f", counter_after,
		       t_zero ? ms(t_zero - t_fire) : -1.0);
	else
		printf(" counter_after=%ld", counter_after);
	printf(" hold_setup_ms=%.0f", ms((t_held ? t_held : t_fire) - t_start));
	if (o.rss_pid > 0) {
		printf(" rss_before_kb=%ld rss_held_kb=%ld rss_after_kb=%ld", rss_before, rss_held, rss_after);
		if (held_main > 0)
			printf(" rss_per_pending_b=%.0f",
			       (double)(rss_held - rss_before) * 1024.0 / held_main);
	}
	printf(" pool_busy_held=%ld pool_queued_held=%ld", pool_busy, pool_queued);
	printf(" client_cpu_after_fire_ms=%.0f", cpu_ms - cpu0_ms);
	printf(" client_cpu_ms=%.0f t_start_ns=%lld t_held_ns=%lld t_fire_ns=%lld t_last_ns=%lld\n", cpu_ms, (long long)t_start,
	       (long long)t_held, (long long)t_fire, (long long)(t_last ? t_last : t_fire));
	fflush(stdout);
	/* The extras (and anything unanswered) are closed by exit. */
	return 0;
}
