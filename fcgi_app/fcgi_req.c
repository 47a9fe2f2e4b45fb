/* fcgi_req: what a handler reads of its request (fcgi_app.h).
 *
 * The params stream stays as nginx sent it until a handler asks for a
 * string; the first accessor call decodes it once into a view of
 * NUL-terminated copies (path, query, captures, every param), owned by the
 * request and freed with its input.  A handler that reads nothing costs
 * nothing here. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "fcgi_in.h"
#include "pattern.h"
#include "request.h"

struct fcgi_req_view {
	const char *path, *query;
	size_t path_len, query_len;
	size_t ncaps;
	struct {
		const char *name; /* the pattern's, which the app owns */
		const char *s;
		size_t len;
		uint64_t n;
		bool overflow;
		bool is_int;
	} caps[PATTERN_MAX_CAPTURES];
	const char *pairs, *pairs_end; /* name\0value\0 ... */
	char data[];
};

/* Copies n bytes (up to a NUL) to *w as a C string; returns the copy. */
static const char *put(char **w, const unsigned char *s, size_t n)
{
	const unsigned char *nul = memchr(s, 0, n);
	if (nul)
		n = (size_t)(nul - s);
	char *out = *w;
	memcpy(out, s, n);
	out[n] = '\0';
	*w += n + 1;
	return out;
}

static struct fcgi_req_view *view_of(struct fcgi_req *req)
{
	if (req->view || !req->params)
		return req->view;
	/* Every pair takes at least 2 length bytes, so name\0value\0 fits
	 * in what it had; path, query and captures are copies of the path's
	 * and query's bytes, each with its NUL. */
	size_t cap = req->params_len + 2 * (size_t)req->path_len +
	             req->query_len + 2 + PATTERN_MAX_CAPTURES;
	struct fcgi_req_view *v = malloc(sizeof *v + cap);
	if (!v)
		return NULL;
	char *w = v->data;
	const unsigned char *p = req->params;
	v->path = req->has_path ? put(&w, p + req->path_off, req->path_len) : NULL;
	v->path_len = v->path ? strlen(v->path) : 0;
	v->query = put(&w, p + req->query_off, req->has_query ? req->query_len : 0);
	v->query_len = strlen(v->query);
	v->ncaps = 0;
	const struct app_route *rt = app_route(req->app, request_of(req)->route);
	struct pattern_capture caps[PATTERN_MAX_CAPTURES];
	if (rt && v->path && req->skip <= req->path_len &&
	    pattern_match(rt->pattern, (const char *)p + req->path_off + req->skip,
	                  req->path_len - req->skip, caps)) {
		v->ncaps = pattern_ncaptures(rt->pattern);
		for (size_t i = 0; i < v->ncaps; i++) {
			v->caps[i].name = caps[i].name;
			v->caps[i].s = put(&w, (const unsigned char *)caps[i].s,
			                   caps[i].len);
			v->caps[i].len = strlen(v->caps[i].s);
			v->caps[i].n = caps[i].n;
			v->caps[i].overflow = caps[i].overflow;
			v->caps[i].is_int = caps[i].type == PATTERN_INT;
		}
	}
	v->pairs = w;
	size_t off = 0;
	struct fcgi_in_nv nv;
	while (fcgi_in_nv_next(p, req->params_len, &off, &nv) > 0) {
		put(&w, nv.name, nv.name_len);
		put(&w, nv.value, nv.value_len);
	}
	v->pairs_end = w;
	req->view = v;
	return v;
}

static const char *with_len(const char *s, size_t n, size_t *len)
{
	if (len)
		*len = s ? n : 0;
	return s;
}

const char *fcgi_req_method(const struct fcgi_req *req)
{
	return request_of(req)->method;
}

const char *fcgi_req_id(const struct fcgi_req *req)
{
	return request_of(req)->request_id;
}

const char *fcgi_req_path(struct fcgi_req *req, size_t *len)
{
	struct fcgi_req_view *v = view_of(req);
	return v ? with_len(v->path, v->path_len, len) : with_len(NULL, 0, len);
}

const char *fcgi_req_query(struct fcgi_req *req, size_t *len)
{
	struct fcgi_req_view *v = view_of(req);
	return v ? with_len(v->query, v->query_len, len) : with_len(NULL, 0, len);
}

const char *fcgi_req_param(struct fcgi_req *req, const char *name, size_t *len)
{
	struct fcgi_req_view *v = view_of(req);
	if (v && name)
		for (const char *s = v->pairs; s < v->pairs_end;) {
			const char *val = s + strlen(s) + 1;
			if (strcmp(s, name) == 0)
				return with_len(val, strlen(val), len);
			s = val + strlen(val) + 1;
		}
	return with_len(NULL, 0, len);
}

const char *fcgi_req_header(struct fcgi_req *req, const char *name, size_t *len)
{
	char key[256];
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n + 6 > sizeof key)
		return with_len(NULL, 0, len);
	size_t k = 0;
	if (strcasecmp(name, "Content-Type") != 0 &&
	    strcasecmp(name, "Content-Length") != 0) {
		memcpy(key, "HTTP_", 5);
		k = 5;
	}
	for (size_t i = 0; i < n; i++)
		key[k++] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
	key[k] = '\0';
	return fcgi_req_param(req, key, len);
}

const char *fcgi_req_capture(struct fcgi_req *req, const char *name, size_t *len)
{
	struct fcgi_req_view *v = view_of(req);
	for (size_t i = 0; v && name && i < v->ncaps; i++)
		if (strcmp(v->caps[i].name, name) == 0)
			return with_len(v->caps[i].s, v->caps[i].len, len);
	return with_len(NULL, 0, len);
}

int fcgi_req_capture_int(struct fcgi_req *req, const char *name, uint64_t *value)
{
	struct fcgi_req_view *v = view_of(req);
	for (size_t i = 0; v && name && i < v->ncaps; i++) {
		if (!v->caps[i].is_int || strcmp(v->caps[i].name, name) != 0)
			continue;
		*value = v->caps[i].n;
		return v->caps[i].overflow ? -ERANGE : 0;
	}
	return -ENOENT;
}

const void *fcgi_req_body(struct fcgi_req *req, size_t *len)
{
	if (len)
		*len = req->body ? req->body_len : 0;
	return req->body;
}

void fcgi_req_set_status(struct fcgi_req *req, int status)
{
	if (status >= 100 && status <= 599)
		request_of(req)->status = status;
}

struct fcgi_app *fcgi_req_app(const struct fcgi_req *req)
{
	return req->app;
}
