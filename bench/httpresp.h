/* httpresp: the little HTTP/1.1 response parsing and clock helpers shared by
 * the bench clients (holdclient, latprobe).  Header-only, static functions.
 * A response is complete when its Content-Length is in, its last chunk is
 * in (chunked), or the peer closed (neither). */
#ifndef BENCH_HTTPRESP_H
#define BENCH_HTTPRESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static inline int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct httpresp {
	int status;        /* 0 until the status line is in */
	bool retry_after;  /* a Retry-After header was present */
	bool chunked;
	long clen;         /* -1: none */
	size_t ctype_off, ctype_len; /* the Content-Type value in the buffer; len 0: none */
	size_t body_off;   /* where the body starts in the buffer; 0: no head yet */
};

/* Parses the head of buf[0..len) once it is complete.  0: need more,
 * 1: head parsed, -1: malformed. */
static inline int httpresp_head(struct httpresp *h, const char *buf, size_t len)
{
	if (h->body_off)
		return 1;
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	if (!end)
		return 0;
	if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
		return -1;
	h->status = atoi(buf + 9);
	h->clen = -1;
	const char *p = memchr(buf, '\n', (size_t)(end - buf)) + 1;
	while (p < end) {
		const char *eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		if (!eol)
			break;
		size_t n = (size_t)(eol - p);
		if (n > 15 && !strncasecmp(p, "content-length:", 15))
			h->clen = strtol(p + 15, NULL, 10);
		else if (n > 18 && !strncasecmp(p, "transfer-encoding:", 18))
			h->chunked = memmem(p, n, "chunked", 7) != NULL;
		else if (n > 12 && !strncasecmp(p, "retry-after:", 12))
			h->retry_after = true;
		else if (n > 13 && !strncasecmp(p, "content-type:", 13)) {
			const char *v = p + 13, *ve = eol;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			h->ctype_off = (size_t)(v - buf);
			h->ctype_len = (size_t)(ve - v);
		}
		p = eol + 2;
	}
	h->body_off = (size_t)(end + 4 - buf);
	return 1;
}

/* True when the whole response is in buf[0..len). */
static inline bool httpresp_complete(const struct httpresp *h, const char *buf, size_t len)
{
	if (!h->body_off)
		return false;
	if (h->clen >= 0)
		return len - h->body_off >= (size_t)h->clen;
	if (h->chunked)
		return len - h->body_off >= 5 &&
		       memcmp(buf + len - 5, "0\r\n\r\n", 5) == 0;
	return false; /* until EOF */
}

/* Copies the (de-chunked) body into out, NUL-terminated; returns its length. */
static inline size_t httpresp_body(const struct httpresp *h, const char *buf, size_t len,
                            char *out, size_t cap)
{
	size_t o = 0;
	if (!h->body_off || cap == 0)
		return 0;
	const char *p = buf + h->body_off, *e = buf + len;
	if (!h->chunked) {
		size_t n = (size_t)(e - p);
		if (h->clen >= 0 && (size_t)h->clen < n)
			n = (size_t)h->clen;
		if (n >= cap)
			n = cap - 1;
		memcpy(out, p, n);
		o = n;
	} else {
		while (p < e) {
			char *q;
			unsigned long sz = strtoul(p, &q, 16);
			const char *eol = memmem(q, (size_t)(e - q), "\r\n", 2);
			if (!eol || sz == 0)
				break;
			p = eol + 2;
			if ((size_t)(e - p) < sz)
				sz = (unsigned long)(e - p);
			if (o + sz >= cap)
				sz = cap - 1 - o;
			memcpy(out + o, p, sz);
			o += sz;
			p += sz + 2;
		}
	}
	out[o] = 0;
	return o;
}

static inline int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The q-quantile (0..1) of n sorted values, nearest rank. */
static inline int64_t quantile(const int64_t *v, size_t n, double q)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(q * (double)n);
	if (i >= n)
		i = n - 1;
	return v[i];
}

#endif
