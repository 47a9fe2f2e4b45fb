/*
 * response: encodes a whole FastCGI reply (FastCGI spec §6.1, §5.5).
 *
 * A reply is the CGI header block and body as FCGI_STDOUT records of at most
 * 65535 content bytes each, an empty FCGI_STDOUT (end of stream) and
 * FCGI_END_REQUEST(FCGI_REQUEST_COMPLETE).  The loop sends it with one
 * non-blocking send(); libfcgi's own (blocking) writer is never used.
 * Pure and thread-safe.
 */
#ifndef FCGI_APP_RESPONSE_H
#define FCGI_APP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESPONSE_HTML "text/html; charset=utf-8"
#define RESPONSE_TEXT "text/plain; charset=utf-8"
#define RESPONSE_JSON "application/json"

struct response {
	int status;
	const char *content_type;  /* NULL: RESPONSE_HTML */
	const char *extra_headers; /* NULL, or lines each ending in "\r\n" */
	const char *body;          /* Borrowed. */
	size_t body_len;
	bool head;                 /* HEAD: the headers of GET, no body */
};

/* Writes the reply for request `id` into buf and returns its length.  When
 * the length is above `cap`, buf holds nothing useful: call again with a
 * buffer that large.  0 when out of memory (a header block over 512
 * bytes needs the heap). */
size_t response_encode(char *buf, size_t cap, uint16_t id,
                       const struct response *r);

/* Reason phrase nginx copies into the status line ("OK", "Not Found"). */
const char *response_reason(int status);

/* The app's own short HTML page for `status`, with a one-sentence `detail`
 * (app text, not request text: it is not escaped).  Returns the length
 * written (truncated to cap - 1, NUL-terminated). */
size_t response_page(char *buf, size_t cap, int status, const char *detail);

#endif
