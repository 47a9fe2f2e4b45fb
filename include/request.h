/*
 * request: one FastCGI request, from the acceptor that parsed it to the
 * reply that ends it.
 *
 * One owner at a time, and ownership moves only at these hand-offs:
 *   1. an acceptor thread allocates it (request_new) and fills in what it
 *      read: the fd, id, route, captures, early status, flags;
 *   2. server_deliver (same thread) either answers it at once there
 *      (answer_quick) and frees it, or pushes it on the loop's inbox
 *      (loopq), after which only the loop thread touches it;
 *   3. answer_quick may also push a request whose reply nginx did not take
 *      in one send (REQUEST_UNSENT); the loop adopts it straight into
 *      REQUEST_WRITING.
 * On the loop, conn.c drives it through enum request_state and ends it in
 * one place (conn_end): the fd is closed or handed back to the acceptors
 * for the next request of a kept connection, the Deferred dropped, the
 * struct freed.  Worker threads never see it.
 *
 * A held request costs this struct (an embedded struct event included) and
 * its Deferred; the buffers it was read with belong to the acceptor thread.
 */
#ifndef FCGI_APP_REQUEST_H
#define FCGI_APP_REQUEST_H

#include <event2/event_struct.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "list.h"

struct deferred;
struct fcgi_app;
struct fcgi_req_view;

/* The handler's view of its request: fcgi_app.h's struct fcgi_req, which
 * is this member of struct request (request_of goes back).  The input
 * (params stream, body) is either borrowed from the acceptor's reader
 * (the request is answered on that thread before the reader reads again)
 * or copied into `owned` for the loop (request_input_own); it is freed by
 * request_input_free, at the latest by request_free. */
struct fcgi_req {
	const unsigned char *params; /* NULL once freed */
	const unsigned char *body;   /* NULL: none */
	void *owned;                 /* params + body (malloc), or NULL */
	struct fcgi_req_view *view;  /* decoded strings (fcgi_req.c), lazily */
	struct fcgi_app *app;
	uint32_t params_len, body_len;
	uint32_t path_off, path_len; /* within params */
	uint32_t query_off, query_len;
	uint16_t skip;               /* mount prefix bytes before the route's
	                                part of the path */
	bool has_path : 1;
	bool has_query : 1;
};

/* The operator pages.  nginx asks for one with the FCGI_APP_STATUS param,
 * which only the shipped loopback-only locations set: "1" the status page
 * ("?json" in the query: as JSON), "metrics", "ping". */
enum request_page {
	REQUEST_PAGE_NONE,
	REQUEST_PAGE_STATUS,
	REQUEST_PAGE_STATUS_JSON,
	REQUEST_PAGE_METRICS,
	REQUEST_PAGE_PING,
};

/* Longest request id kept (nginx's $request_id is 32 hex digits), and
 * longest method. */
#define REQUEST_ID_MAX 64
#define REQUEST_METHOD_MAX 15

/* The whole life of a request.  Its list membership follows the state
 * (conn_set_state links and unlinks): PENDING on the pending list, WRITING
 * on the writing list, every other state on none; the embedded event is
 * armed exactly in those two states.  The states between RUNNING and DONE
 * mark a request a frame of the loop is working on: that frame, not the
 * Deferred's callback, ends it. */
enum request_state {
	REQUEST_NEW,        /* read; its acceptor's, or in the loop's inbox */
	REQUEST_UNSENT,     /* answered at once, reply partly sent (out): in
	                       the inbox, for the loop to write the rest */
	REQUEST_RUNNING,    /* the loop runs its handler */
	REQUEST_PENDING,    /* its Deferred has not fired: listed by deadline,
	                       fd watched for EOF; nobody's frame holds it */
	REQUEST_EXPIRED,    /* pending timeout: its Deferred is being
	                       cancelled, and its failure is answered 504 */
	REQUEST_CANCELLING, /* drain: its Deferred is being cancelled */
	REQUEST_GONE,       /* nginx closed the connection: its Deferred is
	                       being cancelled, its result dropped */
	REQUEST_DONE,       /* reply out (or the connection broken): the frame
	                       that holds it ends it */
	REQUEST_WRITING,    /* reply partly sent: fd watched for EV_WRITE */
};

struct request {
	struct list link;            /* the inbox, then a conn list (state) */
	struct event ev;             /* EOF watch (PENDING) or write (WRITING) */
	struct deferred *d;          /* one reference, while answering */
	void *owner;                 /* the conn set, for event callbacks */
	char *out;                   /* unsent rest of the reply (malloc) */
	uint64_t deadline_ms;        /* pending timeout (monotonic) */
	uint64_t start_us;           /* parsed at (clock_us), for the metrics */
	uint32_t out_len, out_off;
	int fd;
	int status;                  /* HTTP status the handlers set */
	uint16_t id;                 /* FastCGI request id */
	uint16_t early_status;       /* acceptor's verdict: 400/413, else 0 */
	uint16_t route;              /* app route index (app.h), 0: none */
	uint16_t allow;              /* no route: methods allowed (405), or 0 */
	uint8_t state;               /* enum request_state */
	uint8_t page;                /* enum request_page */
	bool keep_conn : 1;          /* the connection goes back to the
	                                acceptors after the reply (FCGI_KEEP_CONN,
	                                unless the reply is its last) */
	bool reused : 1;             /* came on a kept connection */
	bool head : 1;               /* HEAD: no body */
	/* nginx's REQUEST_ID param and the method, for the log; empty when
	 * absent or not a token (request_set_token). */
	char request_id[REQUEST_ID_MAX + 1];
	char method[REQUEST_METHOD_MAX + 1];
	struct fcgi_req in;
};

#define request_of(req) \
	((struct request *)(void *)((char *)(req) - offsetof(struct request, in)))

/* Zeroed request for `fd`, start_us set to now; NULL when out of
 * memory. */
struct request *request_new(int fd);
/* Copies `v` (`vlen` bytes from the peer: untrusted; NULL: none) into
 * `dst` (r->request_id or r->method, `cap` its size) if it is 1 to cap - 1
 * token characters (RFC 9110's tchar: letters, digits and
 * !#$%&'*+-.^_`|~), safe to print in a logfmt line unquoted; else leaves
 * `dst` empty.  True when copied. */
bool request_set_token(char *dst, size_t cap, const char *v, size_t vlen);
/* Copies a borrowed input into memory the request owns, for a hand-off
 * to another thread.  0 or -ENOMEM (the input is then dropped). */
int request_input_own(struct request *r);
/* Drops the input and its decoded view; the accessors return NULL after. */
void request_input_free(struct request *r);
/* Frees the struct, its buffer and its input; the fd and Deferred are the
 * caller's business (conn_end closes or hands on the fd, drops the
 * Deferred). */
void request_free(struct request *r);

/* Where every request ends, on whichever thread owns it: the fd goes
 * back to the acceptors through `keep` (0: taken) when r->keep_conn, else
 * is closed; the Deferred reference is dropped; r is freed. */
void request_end(struct request *r, int (*keep)(void *ctx, int fd),
                 void *ctx);

/* nginx's $request_id for log lines about r, "-" when it sent none. */
const char *request_rid(const struct request *r);

/* The page FCGI_APP_STATUS's value `v` (vlen bytes; NULL: not set) asks
 * for, given the request's QUERY_STRING (qlen bytes; may be NULL).  Neither
 * need be NUL-terminated.  Unknown values are REQUEST_PAGE_NONE: the path
 * is routed as usual. */
enum request_page request_page(const char *v, size_t vlen, const char *query,
                               size_t qlen);

#endif
