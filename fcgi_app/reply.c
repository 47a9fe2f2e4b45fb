/* reply: the error table, pages, encoding and send (see reply.h). */
#include "reply.h"

#include <errno.h>
#include <fastcgi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "failure.h"
#include "fcgi_app.h"
#include "metrics.h"

#define RETRY true
#define NO_REJECT (-1)

static const struct reply_error_kind kinds[REPLY_ERROR_COUNT] = {
	[REPLY_BAD_REQUEST] = {400, "The request could not be understood.",
	                       REPLY_PARAM_NONE, false, NO_REJECT,
	                       REPLY_COUNT_NONE},
	[REPLY_TOO_LARGE] = {413, "The request body is larger than %llu bytes.",
	                     REPLY_PARAM_MAX_BODY, false, NO_REJECT,
	                     REPLY_COUNT_NONE},
	[REPLY_NOT_FOUND] = {404, "No such resource.", REPLY_PARAM_NONE, false,
	                     NO_REJECT, REPLY_COUNT_NONE},
	[REPLY_NOT_ALLOWED] = {405,
	                       "The resource does not take this request method.",
	                       REPLY_PARAM_NONE, false, NO_REJECT,
	                       REPLY_COUNT_NONE},
	[REPLY_MAX_PENDING] = {503,
	                       "Too many pending requests (the limit is %llu).",
	                       REPLY_PARAM_MAX_PENDING, RETRY,
	                       METRICS_REJECT_MAX_PENDING, REPLY_COUNT_REJECTED},
	[REPLY_FD_LIMIT] = {503,
	                    "Too many open connections for the file descriptor "
	                    "limit (%llu).",
	                    REPLY_PARAM_MAX_CONNS, RETRY, METRICS_REJECT_FD_LIMIT,
	                    REPLY_COUNT_REJECTED},
	[REPLY_OUT_OF_MEMORY] = {503, "The server is out of memory.",
	                         REPLY_PARAM_NONE, RETRY,
	                         METRICS_REJECT_OUT_OF_MEMORY, REPLY_COUNT_REJECTED},
	[REPLY_QUEUE_FULL] = {503, "The server is restarting or stopping.",
	                      REPLY_PARAM_NONE, RETRY, METRICS_REJECT_QUEUE_FULL,
	                      REPLY_COUNT_REJECTED},
	[REPLY_SHUTDOWN] = {503, "The server is restarting or stopping.",
	                    REPLY_PARAM_NONE, RETRY, METRICS_REJECT_SHUTDOWN,
	                    REPLY_COUNT_REJECTED},
	[REPLY_TIMEOUT] = {504,
	                   "The request was pending for more than %llu seconds.",
	                   REPLY_PARAM_PENDING_TIMEOUT, false, NO_REJECT,
	                   REPLY_COUNT_TIMED_OUT},
	[REPLY_FAILED] = {500, "The request failed; see the app's log.",
	                  REPLY_PARAM_NONE, false, NO_REJECT, REPLY_COUNT_FAILED},
	[REPLY_NO_BODY] = {500, "The request produced no body.", REPLY_PARAM_NONE,
	                   false, NO_REJECT, REPLY_COUNT_FAILED},
	[REPLY_NOT_AT_ONCE] = {500, "The route did not complete at once.",
	                       REPLY_PARAM_NONE, false, NO_REJECT,
	                       REPLY_COUNT_FAILED},
	[REPLY_PAGE_NO_MEMORY] = {500, "The server is out of memory.",
	                          REPLY_PARAM_NONE, false, NO_REJECT,
	                          REPLY_COUNT_NONE},
};

const struct reply_error_kind *reply_error_kind(enum reply_error e)
{
	return &kinds[e < REPLY_ERROR_COUNT ? e : REPLY_FAILED];
}

enum reply_error reply_failure_error(const struct failure *f, bool expired,
                                     bool draining)
{
	bool cancelled = failure_check(f, FAILURE_CANCELLED);
	if (cancelled && expired)
		return REPLY_TIMEOUT;
	if (failure_check(f, FCGI_FAILURE_QUEUE_FULL))
		return REPLY_QUEUE_FULL;
	if (failure_check(f, FCGI_FAILURE_SHUTTING_DOWN) ||
	    (cancelled && draining))
		return REPLY_SHUTDOWN;
	return REPLY_FAILED;
}

void reply_error_page(struct reply_page *p, enum reply_error e,
                      unsigned long long param, const char *detail,
                      const char *allow, bool head)
{
	const struct reply_error_kind *k = reply_error_kind(e);
	if (!detail) {
		if (k->param != REPLY_PARAM_NONE) {
			/* The table's formats are literals with one %llu. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
			snprintf(p->sentence, sizeof p->sentence, k->detail, param);
#pragma GCC diagnostic pop
			detail = p->sentence;
		} else {
			detail = k->detail;
		}
	}
	p->detail = detail;
	p->headers[0] = '\0';
	if (k->retry_after)
		snprintf(p->headers, sizeof p->headers, "Retry-After: 1\r\n");
	else if (allow)
		snprintf(p->headers, sizeof p->headers, "Allow: %s\r\n", allow);
	size_t len = response_page(p->body, sizeof p->body, k->status, detail);
	p->resp = (struct response){.status = k->status, .body = p->body,
	                            .body_len = len,
	                            .extra_headers = p->headers[0] ? p->headers
	                                                           : NULL,
	                            .head = head};
}

/* FastCGI cannot say "this connection ends here", and closing a kept
 * connection right after its reply races with nginx, which may already
 * have put it back in its cache and sent the next request into it (a 502:
 * fastcgi_next_upstream is off).  But nginx keeps a connection only when
 * its read ends exactly with END_REQUEST; with any byte after it, nginx
 * finishes the reply and closes the connection itself
 * (ngx_http_fastcgi_input_filter).  So the last reply on a kept connection
 * carries one more record in the same send: a well-formed management
 * record (FCGI_UNKNOWN_TYPE, request id 0) that nginx never parses. */
static const unsigned char last_record[16] = {
	FCGI_VERSION_1, FCGI_UNKNOWN_TYPE, 0, 0, 0, 8, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0,
};

char *reply_encode(char *stack, size_t cap, uint16_t id,
                   const struct response *resp, bool last, size_t *len)
{
	size_t extra = last ? sizeof last_record : 0;
	*len = 0;
	if (cap < extra)
		return NULL;
	size_t n = response_encode(stack, cap - extra, id, resp);
	if (n == 0)
		return NULL; /* out of memory for a large header block */
	char *buf = stack;
	if (n > cap - extra) {
		buf = malloc(n + extra);
		if (!buf)
			return NULL;
		response_encode(buf, n, id, resp);
	}
	if (last)
		memcpy(buf + n, last_record, extra);
	*len = n + extra;
	return buf;
}

ssize_t reply_send(int fd, const char *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		return -1;
	}
	return (ssize_t)off;
}
