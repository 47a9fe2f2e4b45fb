/*
 * fcgi_params: a request's FCGI_PARAMS stream, as the reader (fcgi_in)
 * collects it: joined from its records under a cap, checked to decode
 * into whole name-value pairs, and read, one param by name or the few the
 * app uses in one pass.  Pairs are decoded with fcgi_in_nv_next.
 */
#ifndef FCGI_APP_FCGI_PARAMS_H
#define FCGI_APP_FCGI_PARAMS_H

#include <stddef.h>

#include "fcgi_in.h"

/* The stream, at most `max` bytes.  The buffer grows as needed and is
 * kept for the next request. */
struct fcgi_params {
	unsigned char *buf;
	size_t len, alloc, max;
};

void fcgi_params_init(struct fcgi_params *p, size_t max);
void fcgi_params_free(struct fcgi_params *p);
/* 0, FCGI_IN_TOO_LARGE (len would pass max) or FCGI_IN_NOMEM. */
int fcgi_params_append(struct fcgi_params *p, const unsigned char *data,
                       size_t n);
/* 0 when the stream decodes into whole pairs exactly, else
 * FCGI_IN_BAD_LENGTH. */
int fcgi_params_check(const struct fcgi_params *p);
/* The value of the first param called `name` (NULL: none), as a C string
 * would have it: up to its first NUL byte (*vlen bytes, not terminated). */
const char *fcgi_params_get(const struct fcgi_params *p, const char *name,
                            size_t *vlen);
/* Fills what res holds of the params, from one pass over the checked
 * stream: head, page, query, method, request_id, path, bad_length, and
 * params (pointing into p's buffer).  Each value is the first of its name,
 * up to its first NUL.  *clen: CONTENT_LENGTH's number, 0 when absent,
 * empty or not digits, saturating at ULLONG_MAX. */
void fcgi_params_pick(const struct fcgi_params *p, struct fcgi_in_result *res,
                      unsigned long long *clen);

#endif
