/*
 * pattern: Klein-style path patterns with typed captures.
 *
 *   /simple               a literal path, matched exactly (no trailing-slash
 *                         or prefix match)
 *   /sleep/<int:n>        one or more ASCII digits; a value past UINT64_MAX
 *                         saturates there and sets `overflow`, so no digit
 *                         count wraps
 *   /user/<name>          same as <string:name>: one or more bytes, no '/'
 *   /files/<path:rest>    one or more bytes, '/' included; must end the
 *                         pattern
 *
 * A capture is a whole path segment (between two '/', or after the last
 * one).  Names are [A-Za-z_][A-Za-z0-9_]*, at most PATTERN_NAME_MAX bytes,
 * distinct within a pattern.  Matching walks the path once, with memcmp for
 * the literal parts: no regex, no allocation.
 *
 * A malformed pattern is refused by pattern_compile with a message that
 * says what is wrong and where, so an app fails at start, never at
 * request time.  Two patterns that match exactly the same paths (same
 * literals, same capture types in the same places, whatever the names) are
 * the same route: pattern_same tells, for duplicate checks.
 *
 * Ownership: a compiled pattern owns its copy of the source.  Captures
 * point into the matched path (their `s`) and into the pattern (their
 * `name`): valid while both are.  Pure and thread-safe once compiled.
 */
#ifndef FCGI_APP_PATTERN_H
#define FCGI_APP_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PATTERN_MAX_CAPTURES 8
#define PATTERN_NAME_MAX 32

enum pattern_type {
	PATTERN_STRING,
	PATTERN_INT,
	PATTERN_PATH,
};

struct pattern_capture {
	const char *name;       /* borrowed from the pattern, NUL-terminated */
	enum pattern_type type;
	const char *s;          /* the matched bytes, in the path; not NUL-terminated */
	size_t len;
	uint64_t n;             /* PATTERN_INT: the value (UINT64_MAX if larger) */
	bool overflow;          /* PATTERN_INT: the value is past UINT64_MAX */
};

struct pattern;

/* Compiles `src` (NUL-terminated).  0 and *out set, -EINVAL with a message
 * in err (what and at which byte), or -ENOMEM. */
int pattern_compile(const char *src, struct pattern **out, char *err,
                    size_t errlen);
/* Accepts NULL. */
void pattern_free(struct pattern *p);

/* The source as given to pattern_compile. */
const char *pattern_source(const struct pattern *p);
size_t pattern_ncaptures(const struct pattern *p);

/* Matches path[0..len) (need not be NUL-terminated) as a whole.  On a
 * match fills caps[0..pattern_ncaptures) in pattern order and returns
 * true; caps may be NULL when the pattern has no captures. */
bool pattern_match(const struct pattern *p, const char *path, size_t len,
                   struct pattern_capture *caps);

/* True when a and b match exactly the same paths. */
bool pattern_same(const struct pattern *a, const struct pattern *b);

#endif
