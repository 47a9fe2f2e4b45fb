/* fcgi_params: a request's params stream (see fcgi_params.h). */
#include "fcgi_params.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void fcgi_params_init(struct fcgi_params *p, size_t max)
{
	*p = (struct fcgi_params){.max = max};
}

void fcgi_params_free(struct fcgi_params *p)
{
	free(p->buf);
	*p = (struct fcgi_params){0};
}

int fcgi_params_append(struct fcgi_params *p, const unsigned char *data,
                       size_t n)
{
	if (n > p->max - p->len)
		return FCGI_IN_TOO_LARGE;
	if (n > p->alloc - p->len) {
		size_t want = p->alloc ? p->alloc : 4096;
		while (want - p->len < n)
			want *= 2;
		if (want > p->max)
			want = p->max;
		unsigned char *b = realloc(p->buf, want);
		if (!b)
			return FCGI_IN_NOMEM;
		p->buf = b;
		p->alloc = want;
	}
	if (n)
		memcpy(p->buf + p->len, data, n);
	p->len += n;
	return 0;
}

int fcgi_params_check(const struct fcgi_params *p)
{
	size_t off = 0;
	struct fcgi_in_nv nv;
	int rc;
	while ((rc = fcgi_in_nv_next(p->buf, p->len, &off, &nv)) > 0)
		;
	return rc;
}

/* A value as libfcgi's C strings had it: up to its first NUL. */
static size_t c_len(const unsigned char *v, size_t n)
{
	const unsigned char *z = memchr(v, '\0', n);
	return z ? (size_t)(z - v) : n;
}

static bool name_is(const struct fcgi_in_nv *nv, const char *name, size_t n)
{
	return nv->name_len == n && memcmp(nv->name, name, n) == 0;
}

const char *fcgi_params_get(const struct fcgi_params *p, const char *name,
                            size_t *vlen)
{
	size_t off = 0, n = strlen(name);
	struct fcgi_in_nv nv;
	while (fcgi_in_nv_next(p->buf, p->len, &off, &nv) > 0)
		if (name_is(&nv, name, n)) {
			*vlen = c_len(nv.value, nv.value_len);
			return (const char *)nv.value;
		}
	return NULL;
}

/* CONTENT_LENGTH as nginx sends it: empty or absent for no body, else
 * decimal digits.  Anything else is -1 (a 400).  A number past what fits
 * saturates: it is over any --max-body either way. */
static int parse_content_length(const char *v, size_t len, unsigned long long *out)
{
	unsigned long long n = 0;
	*out = 0;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		unsigned d = (unsigned)(v[i] - '0');
		n = n > (ULLONG_MAX - d) / 10 ? ULLONG_MAX : n * 10 + d;
	}
	*out = n;
	return 0;
}

/* The few params the app uses, from one pass over the stream; the first of
 * a repeated name counts (as libfcgi's FCGX_GetParam had it). */
enum { P_DOC, P_URI, P_METHOD, P_STATUS, P_CLEN, P_QUERY, P_ID, P_N };
static const struct {
	const char *name;
	size_t len;
} wanted[P_N] = {
	[P_DOC] = {"DOCUMENT_URI", 12},
	[P_URI] = {"REQUEST_URI", 11},
	[P_METHOD] = {"REQUEST_METHOD", 14},
	[P_STATUS] = {"FCGI_APP_STATUS", 15},
	[P_CLEN] = {"CONTENT_LENGTH", 14},
	[P_QUERY] = {"QUERY_STRING", 12},
	[P_ID] = {"REQUEST_ID", 10},
};

void fcgi_params_pick(const struct fcgi_params *p, struct fcgi_in_result *res,
                      unsigned long long *clen)
{
	const char *v[P_N] = {0};
	size_t vl[P_N] = {0};
	size_t off = 0;
	struct fcgi_in_nv nv;
	while (fcgi_in_nv_next(p->buf, p->len, &off, &nv) > 0)
		for (int i = 0; i < P_N; i++)
			if (!v[i] && name_is(&nv, wanted[i].name, wanted[i].len)) {
				v[i] = (const char *)nv.value;
				vl[i] = c_len(nv.value, nv.value_len);
				break;
			}
	res->head = v[P_METHOD] && vl[P_METHOD] == 4 &&
	            memcmp(v[P_METHOD], "HEAD", 4) == 0;
	res->page = v[P_STATUS];
	res->page_len = vl[P_STATUS];
	res->query = v[P_QUERY];
	res->query_len = vl[P_QUERY];
	res->method = v[P_METHOD];
	res->method_len = vl[P_METHOD];
	res->request_id = v[P_ID];
	res->request_id_len = vl[P_ID];
	res->params = p->buf;
	res->params_len = p->len;
	*clen = 0;
	res->bad_length = v[P_CLEN] &&
	                  parse_content_length(v[P_CLEN], vl[P_CLEN], clen) < 0;
	/* The path to route on: DOCUMENT_URI (nginx's normalised
	 * $document_uri); else REQUEST_URI without its query. */
	if (v[P_DOC]) {
		res->path = v[P_DOC];
		res->path_len = vl[P_DOC];
	} else if (v[P_URI]) {
		const char *q = memchr(v[P_URI], '?', vl[P_URI]);
		res->path = v[P_URI];
		res->path_len = q ? (size_t)(q - v[P_URI]) : vl[P_URI];
	}
}
