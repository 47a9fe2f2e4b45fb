/*
 * fcgi_resp: the response object of fcgi_app.h, and what the server needs
 * of it.  The public functions are declared in fcgi_app.h.
 */
#ifndef FCGI_APP_FCGI_RESP_H
#define FCGI_APP_FCGI_RESP_H

#include <stddef.h>

#include "fcgi_app.h"

struct response;

/* The response a value holds (made by fcgi_resp_val), or NULL for any
 * other value.  Borrowed: the value still owns it. */
struct fcgi_resp *fcgi_resp_of(struct deferred_val v);

/* Fills *out to encode r (response_encode); out borrows r's strings. */
void fcgi_resp_encode_view(const struct fcgi_resp *r, struct response *out);

/* s with < > & " ' as HTML entities, into out (NUL-terminated, cut to
 * fit cap); returns the length. */
size_t fcgi_resp_escape(const char *s, char *out, size_t cap);

#endif
