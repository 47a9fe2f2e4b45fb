/* fcgi_in: FastCGI input records, checked and parsed by the app (see
 * fcgi_in.h). */
#include "fcgi_in.h"

#include <errno.h>
#include <fastcgi.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "fcgi_params.h"
#include "log.h"

_Static_assert(sizeof(FCGI_Header) == 8, "FastCGI header size");
_Static_assert(FCGI_MAXTYPE == 11, "FastCGI record types");

/* One read() fills at most this much; nginx's requests (params, a small
 * body) come whole in the first. */
#define READ_BUF 16384

struct fcgi_in_reader {
	struct fcgi_params params;
	unsigned char *body; /* the request body, up to max_body; grown */
	size_t body_alloc;
	unsigned char *mgmt; /* an FCGI_GET_VALUES body (up to 65,535 B), lazily */
	size_t head, tail;   /* unread bytes: buf[head..tail) */
	unsigned char buf[READ_BUF];
};

/* ---- the record checker ------------------------------------------------ */

int fcgi_in_check(const unsigned char raw[8], enum fcgi_in_phase phase,
                  uint16_t begun, struct fcgi_in_hdr *h)
{
	h->type = raw[1];
	h->id = (uint16_t)(raw[2] << 8 | raw[3]);
	h->length = (uint16_t)(raw[4] << 8 | raw[5]);
	h->padding = raw[6];
	if (raw[0] != FCGI_VERSION_1)
		return FCGI_IN_BAD_VERSION;
	if (h->padding > FCGI_IN_MAX_PADDING)
		return FCGI_IN_BAD_LENGTH;
	if (h->id == FCGI_NULL_REQUEST_ID) {
		/* Management records: the spec has the application answer
		 * any type it does not understand with FCGI_UNKNOWN_TYPE. */
		return h->type == FCGI_BEGIN_REQUEST ? FCGI_IN_BAD_ID : FCGI_IN_MGMT;
	}
	switch (h->type) {
	case FCGI_BEGIN_REQUEST:
		if (phase != FCGI_IN_WANT_BEGIN)
			return h->id == begun ? FCGI_IN_UNEXPECTED : FCGI_IN_BAD_ID;
		return h->length == sizeof(FCGI_BeginRequestBody) ? FCGI_IN_BEGIN
		                                                  : FCGI_IN_BAD_LENGTH;
	case FCGI_ABORT_REQUEST:
	case FCGI_PARAMS:
	case FCGI_STDIN:
	case FCGI_DATA:
		break;
	case FCGI_GET_VALUES:
		return FCGI_IN_BAD_ID; /* a management type needs id 0 */
	default:
		/* 0, past FCGI_MAXTYPE, or a type only applications send */
		return FCGI_IN_UNKNOWN_TYPE;
	}
	if (phase == FCGI_IN_WANT_BEGIN || h->id != begun)
		return FCGI_IN_BAD_ID;
	if (h->type == FCGI_ABORT_REQUEST)
		return h->length == 0 ? FCGI_IN_ABORTED : FCGI_IN_BAD_LENGTH;
	if (h->type == FCGI_PARAMS && phase == FCGI_IN_IN_PARAMS)
		return FCGI_IN_PARAMS;
	if (h->type == FCGI_STDIN && phase == FCGI_IN_IN_STDIN)
		return FCGI_IN_STDIN;
	return FCGI_IN_UNEXPECTED;
}

/* ---- name-value pairs -------------------------------------------------- */

/* One length: a byte below 0x80, else four bytes, the top bit cleared. */
static int nv_len(const unsigned char *buf, size_t len, size_t *off, size_t *out)
{
	if (*off >= len)
		return FCGI_IN_BAD_LENGTH;
	const unsigned char *p = buf + *off;
	if (!(p[0] & 0x80)) {
		*out = p[0];
		*off += 1;
		return 0;
	}
	if (len - *off < 4)
		return FCGI_IN_BAD_LENGTH;
	*out = (size_t)(p[0] & 0x7f) << 24 | (size_t)p[1] << 16 |
	       (size_t)p[2] << 8 | p[3];
	*off += 4;
	return 0;
}

int fcgi_in_nv_next(const unsigned char *buf, size_t len, size_t *off,
                    struct fcgi_in_nv *nv)
{
	if (*off == len)
		return 0;
	size_t o = *off, nl, vl;
	if (*off > len || nv_len(buf, len, &o, &nl) < 0 ||
	    nv_len(buf, len, &o, &vl) < 0 || nl > len - o || vl > len - o - nl)
		return FCGI_IN_BAD_LENGTH;
	nv->name = buf + o;
	nv->name_len = nl;
	nv->value = buf + o + nl;
	nv->value_len = vl;
	*off = o + nl + vl;
	return 1;
}

/* ---- the reader -------------------------------------------------------- */

struct fcgi_in_reader *fcgi_in_reader_new(size_t max_params)
{
	struct fcgi_in_reader *rd = malloc(sizeof *rd);
	if (rd) {
		fcgi_params_init(&rd->params, max_params);
		rd->mgmt = NULL;
		rd->body = NULL;
		rd->body_alloc = 0;
		rd->head = rd->tail = 0;
	}
	return rd;
}

void fcgi_in_reader_free(struct fcgi_in_reader *rd)
{
	if (!rd)
		return;
	fcgi_params_free(&rd->params);
	free(rd->mgmt);
	free(rd->body);
	free(rd);
}

/* One read() into the emptied buffer. */
static int fill(struct fcgi_in_reader *rd, int fd)
{
	rd->head = rd->tail = 0;
	for (;;) {
		ssize_t n = read(fd, rd->buf, sizeof rd->buf);
		if (n > 0) {
			rd->tail = (size_t)n;
			return 0;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return FCGI_IN_EOF; /* EOF, error, or SO_RCVTIMEO */
	}
}

enum sink { SINK_DROP, SINK_COPY, SINK_PARAMS };

/* Room for `need` body bytes, doubling; the buffer is kept for the next
 * request of the thread. */
static int body_room(struct fcgi_in_reader *rd, size_t need)
{
	if (need <= rd->body_alloc)
		return 0;
	size_t n = rd->body_alloc ? rd->body_alloc : 4096;
	while (n < need)
		n *= 2;
	unsigned char *b = realloc(rd->body, n);
	if (!b)
		return FCGI_IN_NOMEM;
	rd->body = b;
	rd->body_alloc = n;
	return 0;
}

/* Consumes n bytes of the stream: dropped, copied to dst, or appended to
 * the params. */
static int consume(struct fcgi_in_reader *rd, int fd, size_t n, enum sink sink,
                   unsigned char *dst)
{
	while (n > 0) {
		if (rd->head == rd->tail) {
			int rc = fill(rd, fd);
			if (rc < 0)
				return rc;
		}
		size_t k = rd->tail - rd->head;
		if (k > n)
			k = n;
		if (sink == SINK_COPY) {
			memcpy(dst, rd->buf + rd->head, k);
			dst += k;
		} else if (sink == SINK_PARAMS) {
			int rc = fcgi_params_append(&rd->params, rd->buf + rd->head, k);
			if (rc < 0)
				return rc;
		}
		rd->head += k;
		n -= k;
	}
	return 0;
}

static int send_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return FCGI_IN_EOF;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void put_header(unsigned char *out, int type, size_t clen, size_t plen)
{
	FCGI_Header h = {
		.version = FCGI_VERSION_1,
		.type = (unsigned char)type,
		.requestIdB1 = 0,
		.requestIdB0 = 0,
		.contentLengthB1 = (unsigned char)(clen >> 8),
		.contentLengthB0 = (unsigned char)clen,
		.paddingLength = (unsigned char)plen,
		.reserved = 0,
	};
	memcpy(out, &h, sizeof h);
}

/* Answers a management record as the spec says: FCGI_GET_VALUES with the
 * values the app knows (each once, whatever the request repeats), any other
 * type with FCGI_UNKNOWN_TYPE.  The reply is built in a zeroed buffer, so
 * its padding is zeros. */
static int answer_mgmt(int fd, const struct fcgi_in_hdr *h,
                       const unsigned char *body, const struct fcgi_in_opts *o)
{
	unsigned char out[128] = {0};
	if (h->type != FCGI_GET_VALUES) {
		FCGI_UnknownTypeBody b = {.type = h->type};
		put_header(out, FCGI_UNKNOWN_TYPE, sizeof b, 0);
		memcpy(out + FCGI_HEADER_LEN, &b, sizeof b);
		return send_all(fd, out, FCGI_HEADER_LEN + sizeof b);
	}
	static const char *const names[] = {FCGI_MAX_CONNS, FCGI_MAX_REQS,
	                                    FCGI_MPXS_CONNS};
	char values[3][24];
	snprintf(values[0], sizeof values[0], "%lu", o->max_conns);
	snprintf(values[1], sizeof values[1], "%lu", o->max_reqs);
	snprintf(values[2], sizeof values[2], "0"); /* one request per conn */
	bool asked[3] = {false, false, false};
	size_t off = 0;
	struct fcgi_in_nv nv;
	int rc;
	while ((rc = fcgi_in_nv_next(body, h->length, &off, &nv)) > 0)
		for (int i = 0; i < 3; i++)
			if (nv.name_len == strlen(names[i]) &&
			    memcmp(nv.name, names[i], nv.name_len) == 0)
				asked[i] = true;
	if (rc < 0)
		return rc;
	/* 3 names of at most 15 bytes and values of at most 20: under 80. */
	size_t n = FCGI_HEADER_LEN;
	for (int i = 0; i < 3; i++) {
		if (!asked[i])
			continue;
		size_t nl = strlen(names[i]), vl = strlen(values[i]);
		out[n++] = (unsigned char)nl;
		out[n++] = (unsigned char)vl;
		memcpy(out + n, names[i], nl);
		memcpy(out + n + nl, values[i], vl);
		n += nl + vl;
	}
	size_t clen = n - FCGI_HEADER_LEN, pad = (8 - clen % 8) % 8;
	put_header(out, FCGI_GET_VALUES_RESULT, clen, pad);
	return send_all(fd, out, n + pad);
}

int fcgi_in_read(struct fcgi_in_reader *rd, int fd, const struct fcgi_in_opts *o,
                 struct fcgi_in_result *res)
{
	*res = (struct fcgi_in_result){0};
	/* Whatever an earlier request left buffered was not trusted with a
	 * kept connection (at_end false), so it is never read here. */
	rd->head = rd->tail = 0;
	rd->params.len = 0;
	rd->params.max = o->max_params;
	size_t budget = o->max_body + o->max_discard; /* both <= 1 GiB */
	enum fcgi_in_phase phase = FCGI_IN_WANT_BEGIN;
	uint16_t id = 0;
	for (;;) {
		unsigned char raw[FCGI_HEADER_LEN];
		int rc = consume(rd, fd, sizeof raw, SINK_COPY, raw);
		if (rc < 0)
			return rc;
		struct fcgi_in_hdr h;
		int kind = fcgi_in_check(raw, phase, id, &h);
		if (kind < 0)
			return kind;
		switch (kind) {
		case FCGI_IN_MGMT:
			if (h.type == FCGI_GET_VALUES) {
				if (!rd->mgmt && !(rd->mgmt = malloc(UINT16_MAX)))
					return FCGI_IN_NOMEM;
				rc = consume(rd, fd, h.length, SINK_COPY, rd->mgmt);
			} else {
				rc = consume(rd, fd, h.length, SINK_DROP, NULL);
			}
			if (rc == 0)
				rc = answer_mgmt(fd, &h, rd->mgmt, o);
			break;
		case FCGI_IN_BEGIN: {
			FCGI_BeginRequestBody b;
			rc = consume(rd, fd, sizeof b, SINK_COPY, (unsigned char *)&b);
			if (rc < 0)
				return rc;
			res->role = (uint16_t)(b.roleB1 << 8 | b.roleB0);
			if (res->role < FCGI_RESPONDER || res->role > FCGI_FILTER)
				return FCGI_IN_BAD_ROLE;
			res->keep_conn = (b.flags & FCGI_KEEP_CONN) != 0;
			res->id = id = h.id;
			phase = FCGI_IN_IN_PARAMS;
			break;
		}
		case FCGI_IN_PARAMS:
			if (h.length > 0) {
				rc = consume(rd, fd, h.length, SINK_PARAMS, NULL);
				break;
			}
			if (fcgi_params_check(&rd->params) < 0)
				return FCGI_IN_BAD_LENGTH;
			phase = FCGI_IN_IN_STDIN;
			unsigned long long clen;
			fcgi_params_pick(&rd->params, res, &clen);
			res->too_big = clen > o->max_body;
			if (clen > budget)
				return 0; /* not read at all; the caller closes */
			break;
		case FCGI_IN_STDIN:
			if (h.length == 0) {
				rc = consume(rd, fd, h.padding, SINK_DROP, NULL);
				if (rc < 0)
					return rc;
				/* Bytes after the request's end (nginx never sends
				 * any before our reply) keep the connection from
				 * being trusted again. */
				res->at_end = rd->head == rd->tail;
				return 0;
			}
			/* A body within max_body is kept for the handler.  One
			 * over it is still read to its end and dropped, up to
			 * max_discard more: closing a unix socket with bytes
			 * unread resets it, and nginx, still writing the body or
			 * reading our reply, would answer 502 instead of our
			 * 413.  Past the budget reading stops (the reply may be
			 * lost that way): it bounds what a peer can make an
			 * acceptor copy, as the watchdog bounds the time. */
			size_t had = res->body_len;
			res->body_len += h.length;
			if (res->body_len > o->max_body) {
				/* The bytes kept so far are not the body: a
				 * body_len past them must not be read there. */
				res->too_big = true;
				res->body = NULL;
			}
			if (res->body_len > budget)
				return 0; /* cut off; the caller closes */
			if (!res->too_big) {
				rc = body_room(rd, res->body_len);
				if (rc == 0)
					rc = consume(rd, fd, h.length, SINK_COPY,
					             rd->body + had);
				res->body = rd->body;
			} else {
				rc = consume(rd, fd, h.length, SINK_DROP, NULL);
			}
			break;
		}
		if (rc == 0)
			rc = consume(rd, fd, h.padding, SINK_DROP, NULL);
		if (rc < 0)
			return rc;
	}
}

/* ---- logging ----------------------------------------------------------- */

const char *fcgi_in_kind_name(int kind)
{
	switch (kind) {
	case FCGI_IN_BEGIN: return "begin";
	case FCGI_IN_PARAMS: return "params";
	case FCGI_IN_STDIN: return "stdin";
	case FCGI_IN_MGMT: return "management";
	case FCGI_IN_EOF: return "eof";
	case FCGI_IN_BAD_VERSION: return "bad_version";
	case FCGI_IN_UNKNOWN_TYPE: return "unknown_type";
	case FCGI_IN_BAD_LENGTH: return "bad_length";
	case FCGI_IN_BAD_ID: return "bad_request_id";
	case FCGI_IN_TOO_LARGE: return "params_too_large";
	case FCGI_IN_UNEXPECTED: return "unexpected_record";
	case FCGI_IN_BAD_ROLE: return "bad_role";
	case FCGI_IN_ABORTED: return "aborted";
	case FCGI_IN_NOMEM: return "out_of_memory";
	default: return "unknown";
	}
}

void fcgi_in_warn(int kind)
{
	static _Atomic uint64_t last[FCGI_IN_KINDS + 1];
	if (kind == FCGI_IN_EOF || kind == FCGI_IN_ABORTED) {
		log_debug("msg=\"request not read\" reason=%s", fcgi_in_kind_name(kind));
		return;
	}
	if (kind >= 0 || -kind > FCGI_IN_KINDS)
		return;
	/* One line per class per second: a peer that repeats itself must not
	 * flood the log. */
	uint64_t now = clock_ms(), prev = atomic_load(&last[-kind]);
	if ((prev == 0 || now - prev >= 1000) &&
	    atomic_compare_exchange_strong(&last[-kind], &prev, now))
		log_warn("msg=\"FastCGI input refused, connection closed\" reason=%s",
		         fcgi_in_kind_name(kind));
}
