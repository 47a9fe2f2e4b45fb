/* request: allocation of the per-request struct (see request.h). */
#include "request.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "deferred.h"

struct request *request_new(int fd)
{
	struct request *r = calloc(1, sizeof *r);
	if (r) {
		list_init(&r->link);
		r->fd = fd;
		r->start_us = clock_us();
	}
	return r;
}

void request_end(struct request *r, int (*keep)(void *ctx, int fd), void *ctx)
{
	if (r->fd >= 0 && !(r->keep_conn && keep && keep(ctx, r->fd) == 0))
		close(r->fd);
	if (r->d)
		deferred_unref(r->d);
	request_free(r);
}

const char *request_rid(const struct request *r)
{
	return r->request_id[0] ? r->request_id : "-";
}

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

bool request_set_token(char *dst, size_t cap, const char *v, size_t vlen)
{
	if (cap == 0)
		return false;
	dst[0] = '\0';
	if (!v || vlen == 0 || vlen >= cap)
		return false;
	for (size_t i = 0; i < vlen; i++)
		if (!is_tchar((unsigned char)v[i]))
			return false;
	memcpy(dst, v, vlen);
	dst[vlen] = '\0';
	return true;
}

int request_input_own(struct request *r)
{
	struct fcgi_req *in = &r->in;
	if (!in->params || in->owned)
		return 0;
	size_t n = (size_t)in->params_len + in->body_len;
	unsigned char *b = malloc(n ? n : 1);
	if (!b) {
		request_input_free(r);
		return -ENOMEM;
	}
	memcpy(b, in->params, in->params_len);
	if (in->body)
		memcpy(b + in->params_len, in->body, in->body_len);
	in->params = b;
	in->body = in->body ? b + in->params_len : NULL;
	in->owned = b;
	return 0;
}

void request_input_free(struct request *r)
{
	struct fcgi_req *in = &r->in;
	free(in->view);
	free(in->owned);
	in->view = NULL;
	in->owned = NULL;
	in->params = NULL;
	in->body = NULL;
	in->params_len = in->body_len = 0;
}

void request_free(struct request *r)
{
	if (!r)
		return;
	request_input_free(r);
	free(r->out);
	free(r);
}

/* Whether the query has `key` as one of its &-separated items, bare or
 * with a value ("json", "json=1"). */
static bool query_has(const char *q, size_t len, const char *key)
{
	size_t kl = strlen(key);
	while (q && len > 0) {
		const char *amp = memchr(q, '&', len);
		size_t n = amp ? (size_t)(amp - q) : len;
		if (n >= kl && memcmp(q, key, kl) == 0 && (n == kl || q[kl] == '='))
			return true;
		q += n + (amp != NULL);
		len -= n + (amp != NULL);
	}
	return false;
}

static bool value_is(const char *v, size_t vlen, const char *word)
{
	return vlen == strlen(word) && memcmp(v, word, vlen) == 0;
}

enum request_page request_page(const char *v, size_t vlen, const char *query,
                               size_t qlen)
{
	if (!v)
		return REQUEST_PAGE_NONE;
	if (value_is(v, vlen, "1"))
		return query_has(query, qlen, "json") ? REQUEST_PAGE_STATUS_JSON
		                                      : REQUEST_PAGE_STATUS;
	if (value_is(v, vlen, "metrics"))
		return REQUEST_PAGE_METRICS;
	if (value_is(v, vlen, "ping"))
		return REQUEST_PAGE_PING;
	return REQUEST_PAGE_NONE;
}
