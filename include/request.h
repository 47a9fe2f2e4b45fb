/*
 * request: one FastCGI request, from the acceptor that parsed it to the
 * loop that answers it.
 *
 * Ownership: an acceptor thread allocates it with request_new and hands
 * it to the server (server_deliver), which frees it exactly once: on that
 * acceptor thread when it answers it there (a route that completes at
 * once, its reply sent whole), else on the loop thread, which owns it from
 * the hand-off on.  Worker threads never see it.  The fd belongs to the
 * request (closed by the server, or handed back to the acceptors for the
 * next request of a kept connection).
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

enum request_state {
	REQUEST_NEW,     /* parsed, not yet answered */
	REQUEST_PENDING, /* waiting on its Deferred; fd watched for EOF */
	REQUEST_WRITING, /* reply partly sent; fd watched for EV_WRITE */
	REQUEST_DONE,    /* answered (or aborted); freed when not held */
};

struct request {
	struct request *prev, *next; /* inbox (next only), then a server list */
	struct event ev;             /* EOF watch or write */
	struct deferred *d;          /* one reference, while answering */
	void *owner;                 /* the server, for event callbacks */
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
	uint8_t holds;               /* frames that still use it */
	uint8_t list;                /* which server list holds it, 0: none */
	uint8_t page;                /* enum request_page */
	bool keep_conn : 1;          /* FCGI_KEEP_CONN was set */
	bool reused : 1;             /* came on a kept connection */
	bool head : 1;               /* HEAD: no body */
	bool aborted : 1;            /* nginx closed the connection */
	bool timed_out : 1;          /* pending timeout hit */
	bool ev_set : 1;             /* ev was assigned */
	bool here : 1;               /* being answered on its acceptor thread */
	bool last_reply : 1;         /* its reply ends the connection (server.c) */
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
/* Frees the struct, its buffer and its input; the fd and Deferred are the caller's
 * business (the server closes or hands on the fd, drops the Deferred). */
void request_free(struct request *r);

/* The page FCGI_APP_STATUS's value `v` (vlen bytes; NULL: not set) asks
 * for, given the request's QUERY_STRING (qlen bytes; may be NULL).  Neither
 * need be NUL-terminated.  Unknown values are REQUEST_PAGE_NONE: the path
 * is routed as usual. */
enum request_page request_page(const char *v, size_t vlen, const char *query,
                               size_t qlen);

#endif
