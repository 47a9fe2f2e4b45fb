/* libFuzzer target: the whole input path.  The input is what a peer writes
 * to a fresh connection (a socketpair, written whole, then shut down for
 * writing); the app's side reads it as an acceptor thread would: requests
 * one after the other while the connection may be kept, each routed on
 * the demo's table (fcgi_app/demo/main.c) and read through the request
 * accessors a handler uses.
 * Every byte the app wrote back (management answers) must be a
 * well-formed FCGI_GET_VALUES_RESULT or FCGI_UNKNOWN_TYPE record with zero
 * padding and reserved bytes. */
#include <errno.h>
#include <fastcgi.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "app.h"
#include "fcgi_app.h"
#include "fcgi_in.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct fcgi_in_opts opts = {
	.max_params = 4096, .max_body = 100, .max_discard = 1000,
	.max_conns = 1048576, .max_reqs = 20000,
};

static struct deferred *dummy(struct fcgi_req *req, void *data)
{
	(void)req;
	(void)data;
	return NULL;
}

/* The demo's table: every pattern for FCGI_ANY, mounted under /async. */
#define SLEEP 5
static struct fcgi_app *demo_app(void)
{
	static const char *const patterns[] = {
		"/simple", "/simple/fire", "/error", "/coro", "/sleep/<int:n>",
	};
	struct fcgi_app *app = fcgi_app_new();
	if (!app)
		abort();
	for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++)
		if (fcgi_app_route(app, FCGI_ANY, patterns[i], dummy, NULL, 0) < 0)
			abort();
	if (fcgi_app_mount(app, "/async") < 0)
		abort();
	return app;
}

/* What the acceptor's serve() does with a request read whole, then what a
 * handler may read of it; every answer must agree with the input. */
static void route_and_read(struct fcgi_app *app, const struct fcgi_in_result *res)
{
	struct request *r = request_new(-1);
	if (!r)
		abort();
	request_set_token(r->method, sizeof r->method, res->method, res->method_len);
	request_set_token(r->request_id, sizeof r->request_id, res->request_id,
	                  res->request_id_len);
	struct app_match m = app_match(app, app_method_bit(res->method, res->method_len),
	                               res->path, res->path_len);
	/* FCGI_ANY routes take every method: a 404 or a route, never 405. */
	if (m.route > app_nroutes(app) || m.allow || m.skip > res->path_len)
		abort();
	r->route = m.route;
	r->in.app = app;
	r->in.params = res->params;
	r->in.params_len = (uint32_t)res->params_len;
	r->in.body = res->body;
	r->in.body_len = res->body ? (uint32_t)res->body_len : 0;
	r->in.path_off = (uint32_t)((const unsigned char *)res->path - res->params);
	r->in.path_len = (uint32_t)res->path_len;
	r->in.has_path = true;
	r->in.skip = m.skip;
	if (res->query) {
		r->in.query_off = (uint32_t)((const unsigned char *)res->query - res->params);
		r->in.query_len = (uint32_t)res->query_len;
		r->in.has_query = true;
	}
	/* Twice: borrowed as on the acceptor, then owned as on the loop. */
	for (int pass = 0; pass < 2; pass++) {
		size_t len;
		const char *p = fcgi_req_path(&r->in, &len);
		const char *nul = memchr(res->path, 0, res->path_len);
		size_t want = nul ? (size_t)(nul - res->path) : res->path_len;
		if (!p || len != want || strlen(p) != len || memcmp(p, res->path, len))
			abort();
		const char *q = fcgi_req_query(&r->in, &len);
		if (!q || strlen(q) != len || (!res->query && len))
			abort();
		fcgi_req_header(&r->in, "Content-Type", NULL);
		fcgi_req_header(&r->in, "X-Forwarded-For", NULL);
		fcgi_req_param(&r->in, "SCRIPT_NAME", NULL);
		uint64_t n;
		int rc = fcgi_req_capture_int(&r->in, "n", &n);
		const char *c = fcgi_req_capture(&r->in, "n", &len);
		if (m.route == SLEEP) {
			if ((rc != 0 && rc != -ERANGE) || !c || !len ||
			    strspn(c, "0123456789") != len ||
			    (rc == -ERANGE && n != UINT64_MAX))
				abort();
		} else if (rc != -ENOENT || c) {
			abort();
		}
		size_t blen;
		const void *b = fcgi_req_body(&r->in, &blen);
		if ((b == NULL) != (res->body == NULL) || blen != r->in.body_len)
			abort();
		if (request_input_own(r) < 0)
			break;
	}
	request_free(r);
}

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
	static struct fcgi_app *app;
	if (!rd && !(rd = fcgi_in_reader_new(opts.max_params)))
		abort();
	if (!app)
		app = demo_app();
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
		if (res.path)
			route_and_read(app, &res);
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
