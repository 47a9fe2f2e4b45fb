/*
 * req_build: requests for the unit tests, made the way the acceptor's
 * serve() makes them (fcgi_app/acceptor.c): a FastCGI params block encoded
 * here, DOCUMENT_URI as the path, QUERY_STRING as the query, the method
 * and nginx's request id copied as tokens, and the route app_match picks.
 * Header-only: each test that includes it gets its own static copies.
 */
#ifndef FCGI_APP_TESTS_REQ_BUILD_H
#define FCGI_APP_TESTS_REQ_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "fcgi_in.h"
#include "request.h"

/* A params stream under construction. */
struct params {
	unsigned char buf[16384];
	size_t len;
};

/* FastCGI's name-value length: one byte below 128, else four with the
 * high bit set (FastCGI spec §3.4). */
static inline void params_len(struct params *p, size_t n)
{
	if (n < 128) {
		p->buf[p->len++] = (unsigned char)n;
		return;
	}
	p->buf[p->len++] = (unsigned char)(0x80 | (n >> 24));
	p->buf[p->len++] = (unsigned char)(n >> 16);
	p->buf[p->len++] = (unsigned char)(n >> 8);
	p->buf[p->len++] = (unsigned char)n;
}

/* Appends the pair name = value[0..vlen); value may hold NUL bytes. */
static inline void params_add_n(struct params *p, const char *name, const void *value,
                         size_t vlen)
{
	size_t nl = strlen(name);
	if (p->len + 8 + nl + vlen > sizeof p->buf)
		abort(); /* a test's own mistake */
	params_len(p, nl);
	params_len(p, vlen);
	memcpy(p->buf + p->len, name, nl);
	p->len += nl;
	memcpy(p->buf + p->len, value, vlen);
	p->len += vlen;
}

static inline void params_add(struct params *p, const char *name, const char *value)
{
	params_add_n(p, name, value, strlen(value));
}

/* The value of the first pair called `name` in p: its offset in the
 * block, and its length; false when there is none. */
static inline bool params_find(const struct params *p, const char *name, size_t *off,
                        size_t *len)
{
	size_t at = 0;
	struct fcgi_in_nv nv;
	while (fcgi_in_nv_next(p->buf, p->len, &at, &nv) > 0)
		if (nv.name_len == strlen(name) &&
		    memcmp(nv.name, name, nv.name_len) == 0) {
			*off = (size_t)(nv.value - p->buf);
			*len = nv.value_len;
			return true;
		}
	return false;
}

/* A request whose input borrows p (which must outlive it, or be copied
 * with request_input_own) and, when not NULL, body[0..body_len).  The
 * route is app's match for the method and path (app may be NULL: no
 * route); status 200 as the server's begin() sets it. */
static inline struct request *req_build(struct fcgi_app *app, const struct params *p,
                                 const void *body, size_t body_len)
{
	struct request *r = request_new(-1);
	if (!r)
		abort();
	r->status = 200;
	size_t off, len;
	if (params_find(p, "REQUEST_METHOD", &off, &len))
		request_set_token(r->method, sizeof r->method,
		                  (const char *)p->buf + off, len);
	if (params_find(p, "REQUEST_ID", &off, &len))
		request_set_token(r->request_id, sizeof r->request_id,
		                  (const char *)p->buf + off, len);
	r->in.app = app;
	r->in.params = p->buf;
	r->in.params_len = (uint32_t)p->len;
	r->in.body = body;
	r->in.body_len = body ? (uint32_t)body_len : 0;
	if (params_find(p, "DOCUMENT_URI", &off, &len)) {
		r->in.path_off = (uint32_t)off;
		r->in.path_len = (uint32_t)len;
		r->in.has_path = true;
		if (app) {
			struct app_match m = app_match(
			    app, app_method_bit(r->method, strlen(r->method)),
			    (const char *)p->buf + off, len);
			r->route = m.route;
			r->allow = (uint16_t)m.allow;
			r->in.skip = m.skip;
		}
	}
	if (params_find(p, "QUERY_STRING", &off, &len)) {
		r->in.query_off = (uint32_t)off;
		r->in.query_len = (uint32_t)len;
		r->in.has_query = true;
	}
	return r;
}

/* A request for `method` on `path` (query: NULL for none) with its own
 * copy of its input, as the loop gets it (server_deliver). */
static inline struct request *req_new(struct fcgi_app *app, const char *method,
                               const char *path, const char *query)
{
	struct params p = {.len = 0};
	params_add(&p, "REQUEST_METHOD", method);
	params_add(&p, "DOCUMENT_URI", path);
	if (query)
		params_add(&p, "QUERY_STRING", query);
	struct request *r = req_build(app, &p, NULL, 0);
	if (request_input_own(r) < 0)
		abort();
	return r;
}

#endif
