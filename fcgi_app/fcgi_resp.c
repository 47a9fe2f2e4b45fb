/* fcgi_resp: the response a handler builds (fcgi_app.h). */
#include "fcgi_resp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "response.h"

#define HEADERS_MAX 8192

struct fcgi_resp {
	int status;
	char *type;       /* NULL: FCGI_HTML */
	char *headers;    /* "Name: value\r\n" lines, NUL-terminated */
	size_t headers_len;
	const void *body;
	size_t body_len;
	void *body_owned;                /* a copy (fcgi_resp_body) */
	void (*done)(void *);            /* a borrowed body's release */
	void *done_arg;
};

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Printable ASCII, tab, and bytes >= 0x80 (obs-text); never CR, LF, NUL
 * or another control byte, which would end or split the header block. */
static bool value_ok(const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return false;
	return true;
}

struct fcgi_resp *fcgi_resp_new(int status)
{
	struct fcgi_resp *r = calloc(1, sizeof *r);
	if (r)
		r->status = status >= 100 && status <= 599 ? status : 500;
	return r;
}

int fcgi_resp_header(struct fcgi_resp *r, const char *name, const char *value)
{
	if (!r || !name || !value || !*name)
		return -EINVAL;
	for (const char *p = name; *p; p++)
		if (!is_tchar((unsigned char)*p))
			return -EINVAL;
	if (!strcasecmp(name, "Status") || !strcasecmp(name, "Content-Length") ||
	    !strcasecmp(name, "Content-Type") || !value_ok(value))
		return -EINVAL;
	size_t add = strlen(name) + 2 + strlen(value) + 2;
	if (r->headers_len + add > HEADERS_MAX)
		return -ENOSPC;
	char *h = realloc(r->headers, r->headers_len + add + 1);
	if (!h)
		return -ENOMEM;
	snprintf(h + r->headers_len, add + 1, "%s: %s\r\n", name, value);
	r->headers = h;
	r->headers_len += add;
	return 0;
}

int fcgi_resp_content_type(struct fcgi_resp *r, const char *type)
{
	if (!r || (type && (!*type || !value_ok(type))))
		return -EINVAL;
	char *t = NULL;
	if (type && !(t = strdup(type)))
		return -ENOMEM;
	free(r->type);
	r->type = t;
	return 0;
}

static void drop_body(struct fcgi_resp *r)
{
	free(r->body_owned);
	if (r->done)
		r->done(r->done_arg);
	r->body_owned = NULL;
	r->done = NULL;
	r->body = NULL;
	r->body_len = 0;
}

int fcgi_resp_body(struct fcgi_resp *r, const void *body, size_t len)
{
	if (!r || (!body && len))
		return -EINVAL;
	void *copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, body, len);
	drop_body(r);
	r->body = r->body_owned = copy;
	r->body_len = len;
	return 0;
}

void fcgi_resp_body_borrow(struct fcgi_resp *r, const void *body, size_t len,
                           void (*done)(void *arg), void *arg)
{
	drop_body(r);
	r->body = body;
	r->body_len = body ? len : 0;
	r->done = done;
	r->done_arg = arg;
}

void fcgi_resp_free(struct fcgi_resp *r)
{
	if (!r)
		return;
	drop_body(r);
	free(r->type);
	free(r->headers);
	free(r);
}

static void resp_free_cb(void *p)
{
	fcgi_resp_free(p);
}

struct deferred_val fcgi_resp_val(struct fcgi_resp *r)
{
	if (!r)
		return deferred_val_failure(failure_new("MemoryError", "out of memory"));
	return deferred_val_ptr(r, resp_free_cb);
}

struct fcgi_resp *fcgi_resp_of(struct deferred_val v)
{
	return v.kind == DEFERRED_VAL_PTR && v.free == resp_free_cb ? v.ptr : NULL;
}

void fcgi_resp_encode_view(const struct fcgi_resp *r, struct response *out)
{
	*out = (struct response){
		.status = r->status,
		.content_type = r->type,
		.extra_headers = r->headers,
		.body = r->body,
		.body_len = r->body_len,
	};
}

struct deferred *fcgi_reply(struct fcgi_resp *r)
{
	if (!r)
		return NULL;
	struct deferred *d = deferred_succeed(fcgi_resp_val(r));
	if (!d)
		fcgi_resp_free(r);
	return d;
}

struct fcgi_resp *fcgi_resp_text(int status, const char *type, const char *body)
{
	struct fcgi_resp *r = fcgi_resp_new(status);
	if (r && ((type && fcgi_resp_content_type(r, type) < 0) ||
	          fcgi_resp_body(r, body, body ? strlen(body) : 0) < 0)) {
		fcgi_resp_free(r);
		return NULL;
	}
	return r;
}

struct deferred *fcgi_reply_text(int status, const char *type, const char *body)
{
	return fcgi_reply(fcgi_resp_text(status, type, body));
}

size_t fcgi_resp_escape(const char *s, char *out, size_t cap)
{
	size_t n = 0;
	for (; s && *s && n + 7 < cap; s++) {
		const char *e = NULL;
		switch (*s) {
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '&': e = "&amp;"; break;
		case '"': e = "&quot;"; break;
		case '\'': e = "&#39;"; break;
		}
		if (e) {
			memcpy(out + n, e, strlen(e));
			n += strlen(e);
		} else {
			out[n++] = *s;
		}
	}
	if (cap)
		out[n] = '\0';
	return n;
}

struct fcgi_resp *fcgi_resp_page(int status, const char *detail)
{
	char esc[768], page[1024];
	fcgi_resp_escape(detail, esc, sizeof esc);
	size_t len = response_page(page, sizeof page, status, esc);
	struct fcgi_resp *r = fcgi_resp_new(status);
	if (r && fcgi_resp_body(r, page, len) < 0) {
		fcgi_resp_free(r);
		return NULL;
	}
	return r;
}

struct deferred *fcgi_reply_page(int status, const char *detail)
{
	return fcgi_reply(fcgi_resp_page(status, detail));
}
