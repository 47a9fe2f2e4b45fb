/*
 * fcgi_in: the app's own reader of FastCGI input records.
 *
 * libfcgi parses nothing the socket sends (docs/ARCHITECTURE.md, "Input
 * records"): every byte a peer writes goes through this module first, and
 * most of it through nothing else.  Three layers, the first two pure:
 *
 *  - the record checker (fcgi_in_check): one 8-byte header, judged where it
 *    arrives (before BEGIN_REQUEST, in the params, in stdin);
 *  - name-value decoding (fcgi_in_nv_next): one pair of the params stream
 *    or an FCGI_GET_VALUES body, every length checked against what is
 *    there (the params stream itself, under its cap: fcgi_params.h);
 *  - the reader (fcgi_in_read): one request from a blocking fd, management
 *    records (request id 0) answered on the way, stdin read to its end
 *    under the body caps.
 *
 * Record layout and constants come from libfcgi's <fastcgi.h>.
 */
#ifndef FCGI_APP_FCGI_IN_H
#define FCGI_APP_FCGI_IN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a checked header is (positive), or why the connection is closed
 * (negative).  Each negative class but FCGI_IN_EOF and FCGI_IN_ABORTED is
 * one warn line (fcgi_in_warn). */
enum fcgi_in_kind {
	FCGI_IN_BEGIN = 1,  /* BEGIN_REQUEST of a new request */
	FCGI_IN_PARAMS,     /* FCGI_PARAMS of the begun request */
	FCGI_IN_STDIN,      /* FCGI_STDIN of the begun request */
	FCGI_IN_MGMT,       /* request id 0: answered by the app */

	FCGI_IN_EOF = -1,          /* peer gone, read failed or timed out */
	FCGI_IN_BAD_VERSION = -2,  /* version is not 1 */
	FCGI_IN_UNKNOWN_TYPE = -3, /* a type no web server sends */
	FCGI_IN_BAD_LENGTH = -4,   /* content or padding length, or a
	                              name-value length past its record */
	FCGI_IN_BAD_ID = -5,       /* request id other than the one begun */
	FCGI_IN_TOO_LARGE = -6,    /* params over the cap */
	FCGI_IN_UNEXPECTED = -7,   /* a known type out of order (STDIN before
	                              the params end, DATA, a second BEGIN) */
	FCGI_IN_BAD_ROLE = -8,     /* a role FastCGI does not define */
	FCGI_IN_ABORTED = -9,      /* FCGI_ABORT_REQUEST: the server gave up */
	FCGI_IN_NOMEM = -10,
};
#define FCGI_IN_KINDS 10 /* negative kinds, for per-class counters */

/* Padding longer than this closes the connection.  Every web server pads
 * to 8-byte alignment or not at all (0-7 bytes). */
#define FCGI_IN_MAX_PADDING 7

/* Where a connection is in its request. */
enum fcgi_in_phase {
	FCGI_IN_WANT_BEGIN, /* no request begun */
	FCGI_IN_IN_PARAMS,  /* begun; params not ended */
	FCGI_IN_IN_STDIN,   /* params ended; stdin not ended */
};

struct fcgi_in_hdr {
	uint8_t type;
	uint8_t padding;
	uint16_t id;
	uint16_t length;
};

/* Judges the header raw[0..7] arriving in `phase` of request `begun` (0
 * before BEGIN_REQUEST) and decodes it into *h.  A positive kind, or a
 * negative one (close). */
int fcgi_in_check(const unsigned char raw[8], enum fcgi_in_phase phase,
                  uint16_t begun, struct fcgi_in_hdr *h);

/* One decoded name-value pair; pointers into the buffer decoded. */
struct fcgi_in_nv {
	const unsigned char *name, *value;
	size_t name_len, value_len;
};

/* Decodes the pair at buf[*off] (buf holds len bytes) and advances *off.
 * 1: a pair; 0: *off == len (the end); FCGI_IN_BAD_LENGTH: a length runs
 * past len (nothing is read past it). */
int fcgi_in_nv_next(const unsigned char *buf, size_t len, size_t *off,
                    struct fcgi_in_nv *nv);

struct fcgi_in_opts {
	size_t max_params;   /* params stream bytes; more closes */
	size_t max_body;     /* stdin bytes; more is a 413 */
	size_t max_discard;  /* past max_body, stdin read and dropped */
	unsigned long max_conns; /* FCGI_MAX_CONNS in FCGI_GET_VALUES_RESULT */
	unsigned long max_reqs;  /* FCGI_MAX_REQS */
};

/* What the app needs of one request.  The pointers point into the
 * reader's buffers and are valid until its next fcgi_in_read. */
struct fcgi_in_result {
	uint16_t id;
	uint16_t role;
	bool keep_conn;   /* FCGI_KEEP_CONN was set */
	bool head;        /* REQUEST_METHOD is HEAD */
	const char *page; /* FCGI_APP_STATUS's value (page_len bytes), or NULL */
	size_t page_len;
	const char *query; /* QUERY_STRING (query_len bytes), or NULL */
	size_t query_len;
	/* REQUEST_METHOD and REQUEST_ID (nginx's $request_id), for the log;
	 * raw peer bytes, or NULL. */
	const char *method;
	size_t method_len;
	const char *request_id;
	size_t request_id_len;
	bool bad_length;  /* CONTENT_LENGTH present and not digits */
	bool too_big;     /* body (or its announced length) over max_body */
	bool at_end;      /* read to its empty STDIN record, nothing after */
	const char *path; /* DOCUMENT_URI, else REQUEST_URI up to '?'; NULL */
	size_t path_len;
	/* The whole params stream (checked: it decodes into whole pairs). */
	const unsigned char *params;
	size_t params_len;
	/* The body when it is within max_body (too_big false), else NULL;
	 * body_len counts every stdin byte read either way. */
	const unsigned char *body;
	size_t body_len;
};

/* Per-thread reader state: a read buffer and the params buffer.  Owned by
 * one acceptor thread; never shared. */
struct fcgi_in_reader;

struct fcgi_in_reader *fcgi_in_reader_new(size_t max_params);
void fcgi_in_reader_free(struct fcgi_in_reader *rd);

/* Reads one request from the blocking fd (its SO_RCVTIMEO bounds each
 * read): management records answered, BEGIN_REQUEST, the params, and
 * stdin to its end unless the announced or read body passes max_body +
 * max_discard.  Never closes fd.  0 with *res filled, or a negative kind
 * (the caller closes the connection: nothing more of it can be trusted).
 * A body past the budget is 0 with too_big set and at_end false. */
int fcgi_in_read(struct fcgi_in_reader *rd, int fd,
                 const struct fcgi_in_opts *o, struct fcgi_in_result *res);

/* A rate-limited warn line (one per class per second) for a negative kind;
 * FCGI_IN_EOF and FCGI_IN_ABORTED are debug lines. */
void fcgi_in_warn(int kind);
/* Stable name of a kind ("bad_version", ...), for logs and tests. */
const char *fcgi_in_kind_name(int kind);

#endif
