/*
 * reply: what an answer is made of, with no state: the table of the app's
 * own errors (status, page, Retry-After, metrics reason, counter), their
 * pages, the encoding of a reply (with the last-record trick) and its
 * non-blocking send.
 *
 * Every error the app itself answers (not a handler's response) is one
 * enum reply_error; reply_error_kind says everything about it, so its
 * status is decided in one place.  Pure and thread-safe, except
 * reply_send, which writes to a socket.
 */
#ifndef FCGI_APP_REPLY_H
#define FCGI_APP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "response.h"

struct failure;

enum reply_error {
	REPLY_BAD_REQUEST,   /* 400: the acceptor's verdict */
	REPLY_TOO_LARGE,     /* 413: a body over --max-body */
	REPLY_NOT_FOUND,     /* 404: no route takes the path */
	REPLY_NOT_ALLOWED,   /* 405: routes take the path, not the method */
	REPLY_MAX_PENDING,   /* 503: --max-pending reached */
	REPLY_FD_LIMIT,      /* 503: pending would take the fd reserve */
	REPLY_OUT_OF_MEMORY, /* 503: no memory to run the handler */
	REPLY_QUEUE_FULL,    /* 503: the pool's queue is full */
	REPLY_SHUTDOWN,      /* 503: the app or its pool is stopping */
	REPLY_TIMEOUT,       /* 504: pending past --pending-timeout */
	REPLY_FAILED,        /* 500: a handler's failure no error handler took */
	REPLY_NO_BODY,       /* 500: a handler's result was no response */
	REPLY_NOT_AT_ONCE,   /* 500: an any-thread route left its Deferred */
	REPLY_PAGE_NO_MEMORY, /* 500: an operator page out of memory */
	REPLY_ERROR_COUNT,
};

/* Which counter of the status page an error adds to. */
enum reply_counter {
	REPLY_COUNT_NONE,
	REPLY_COUNT_REJECTED,
	REPLY_COUNT_FAILED,
	REPLY_COUNT_TIMED_OUT,
};

/* The number a page's detail quotes (from the config). */
enum reply_param {
	REPLY_PARAM_NONE,
	REPLY_PARAM_MAX_BODY,
	REPLY_PARAM_MAX_PENDING,
	REPLY_PARAM_MAX_CONNS,
	REPLY_PARAM_PENDING_TIMEOUT,
};

struct reply_error_kind {
	int status;
	const char *detail;       /* the page's sentence; a printf format with
	                             one %llu when param is set */
	enum reply_param param;
	bool retry_after;         /* "Retry-After: 1" */
	int reject;               /* enum metrics_reject, or -1: none */
	enum reply_counter counter;
};

const struct reply_error_kind *reply_error_kind(enum reply_error e);

/* The default for a failure no error handler took: 504 for a pending
 * timeout's cancellation (`expired`), 503 for a full pool queue, a
 * stopping pool or a drain's cancellation (`draining`), else 500. */
enum reply_error reply_failure_error(const struct failure *f, bool expired,
                                     bool draining);

/* An error's page, ready for response_encode: body and headers live in
 * the struct, resp points at them. */
struct reply_page {
	struct response resp;
	const char *detail;  /* the page's sentence */
	char body[1024];
	char headers[128];
	char sentence[256];
};

/* Fills p for error e.  `param` is the number the detail quotes,
 * `detail` (NULL: the table's) replaces the sentence, `allow` (405: the
 * methods, "GET, HEAD") goes in an Allow header. */
void reply_error_page(struct reply_page *p, enum reply_error e,
                      unsigned long long param, const char *detail,
                      const char *allow, bool head);

/* Encodes the reply for request `id` into `stack` (cap bytes) or, when it
 * does not fit, a malloc'd buffer (the caller frees it when it is not
 * `stack`).  `last`: the reply is the last of a kept connection, so one
 * more record follows it (see reply.c).  NULL when out of memory; *len
 * is the length. */
char *reply_encode(char *stack, size_t cap, uint16_t id,
                   const struct response *resp, bool last, size_t *len);

/* Non-blocking sends of buf until all is out or the socket is full.
 * Returns the bytes sent (len when all), or -1 when the connection is
 * broken. */
ssize_t reply_send(int fd, const char *buf, size_t len);

#endif
