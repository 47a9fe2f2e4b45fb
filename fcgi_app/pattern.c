/* pattern: Klein-style path patterns with typed captures (see pattern.h). */
#include "pattern.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A pattern is a run of tokens: literal bytes (slashes included) and
 * captures, each capture a whole segment, so a literal after a capture
 * always starts with '/'.  That is what lets a string or int capture end
 * at the next '/' without backtracking. */
struct tok {
	const char *lit; /* literal: points into the pattern's source copy */
	size_t len;      /* 0 for a capture */
	enum pattern_type type;
	char name[PATTERN_NAME_MAX + 1];
};

#define MAX_TOKS (2 * PATTERN_MAX_CAPTURES + 1)

struct pattern {
	char *src;
	size_t ntok, ncap;
	struct tok toks[MAX_TOKS];
};

static int fail(char *err, size_t errlen, const char *src, size_t at,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(char *err, size_t errlen, const char *src, size_t at,
                const char *fmt, ...)
{
	char what[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (errlen)
		snprintf(err, errlen, "pattern \"%s\": %s (at byte %zu)", src, what, at);
	return -EINVAL;
}

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

/* Parses the capture that starts at src[i] == '<' into t; returns the
 * index just past its '>', or 0 after writing err. */
static size_t parse_capture(const char *src, size_t i, struct tok *t,
                            char *err, size_t errlen)
{
	const char *close = strchr(src + i, '>');
	if (!close) {
		fail(err, errlen, src, i, "'<' is never closed by '>'");
		return 0;
	}
	const char *body = src + i + 1, *colon = memchr(body, ':', (size_t)(close - body));
	const char *name = colon ? colon + 1 : body;
	t->type = PATTERN_STRING;
	if (colon) {
		static const struct {
			const char *word;
			enum pattern_type type;
		} types[] = {{"string", PATTERN_STRING}, {"int", PATTERN_INT},
		             {"path", PATTERN_PATH}};
		size_t n = (size_t)(colon - body), k;
		for (k = 0; k < sizeof types / sizeof types[0]; k++)
			if (strlen(types[k].word) == n && memcmp(types[k].word, body, n) == 0)
				break;
		if (k == sizeof types / sizeof types[0]) {
			fail(err, errlen, src, i + 1,
			     "unknown capture type '%.*s' (string, int or path)",
			     (int)(n > 32 ? 32 : n), body);
			return 0;
		}
		t->type = types[k].type;
	}
	size_t nlen = (size_t)(close - name);
	if (nlen == 0 || nlen > PATTERN_NAME_MAX) {
		fail(err, errlen, src, (size_t)(name - src),
		     "a capture name has 1 to %d characters", PATTERN_NAME_MAX);
		return 0;
	}
	for (size_t k = 0; k < nlen; k++)
		if (!name_char(name[k], k == 0)) {
			fail(err, errlen, src, (size_t)(name - src) + k,
			     "a capture name is [A-Za-z_][A-Za-z0-9_]*");
			return 0;
		}
	memcpy(t->name, name, nlen);
	t->name[nlen] = '\0';
	return (size_t)(close - src) + 1;
}

int pattern_compile(const char *src, struct pattern **out, char *err,
                    size_t errlen)
{
	*out = NULL;
	if (errlen)
		err[0] = '\0';
	if (src[0] != '/')
		return fail(err, errlen, src, 0, "a pattern starts with '/'");
	struct pattern *p = calloc(1, sizeof *p);
	if (!p || !(p->src = strdup(src))) {
		free(p);
		return -ENOMEM;
	}
	const char *s = p->src;
	size_t i = 0, lit_start = 0;
	int rc = 0;
	while (s[i] && rc == 0) {
		char c = s[i];
		if (c == '<') {
			if (s[i - 1] != '/') {
				rc = fail(err, errlen, src, i,
				          "a capture must be a whole path segment");
				break;
			}
			if (p->ncap == PATTERN_MAX_CAPTURES) {
				rc = fail(err, errlen, src, i, "more than %d captures",
				          PATTERN_MAX_CAPTURES);
				break;
			}
			p->toks[p->ntok++] = (struct tok){.lit = s + lit_start,
			                                  .len = i - lit_start};
			struct tok *t = &p->toks[p->ntok];
			size_t next = parse_capture(s, i, t, err, errlen);
			if (next == 0) {
				rc = -EINVAL;
				break;
			}
			for (size_t k = 0; k < p->ntok; k++)
				if (p->toks[k].len == 0 && strcmp(p->toks[k].name, t->name) == 0) {
					rc = fail(err, errlen, src, i,
					          "the capture name '%s' is used twice", t->name);
					break;
				}
			if (rc)
				break;
			if (s[next] != '\0' && s[next] != '/') {
				rc = fail(err, errlen, src, next,
				          "a capture must be a whole path segment");
				break;
			}
			if (t->type == PATTERN_PATH && s[next] != '\0') {
				rc = fail(err, errlen, src, next,
				          "a <path:...> capture must end the pattern");
				break;
			}
			p->ntok++;
			p->ncap++;
			i = lit_start = next;
			continue;
		}
		if (c == '>')
			rc = fail(err, errlen, src, i, "'>' without '<'");
		else if (c == '?' || c == '#')
			rc = fail(err, errlen, src, i,
			          "a pattern matches the path only, not '%c'", c);
		else if (c == '/' && s[i + 1] == '/')
			rc = fail(err, errlen, src, i, "an empty path segment ('//')");
		i++;
	}
	if (rc == 0 && i > lit_start)
		p->toks[p->ntok++] = (struct tok){.lit = s + lit_start,
		                                  .len = i - lit_start};
	if (rc) {
		pattern_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void pattern_free(struct pattern *p)
{
	if (!p)
		return;
	free(p->src);
	free(p);
}

const char *pattern_source(const struct pattern *p)
{
	return p->src;
}

size_t pattern_ncaptures(const struct pattern *p)
{
	return p->ncap;
}

bool pattern_match(const struct pattern *p, const char *path, size_t len,
                   struct pattern_capture *caps)
{
	size_t pos = 0, c = 0;
	for (size_t k = 0; k < p->ntok; k++) {
		const struct tok *t = &p->toks[k];
		if (t->len) {
			if (len - pos < t->len || memcmp(path + pos, t->lit, t->len) != 0)
				return false;
			pos += t->len;
			continue;
		}
		size_t end = len;
		if (t->type != PATTERN_PATH) {
			const char *slash = memchr(path + pos, '/', len - pos);
			if (slash)
				end = (size_t)(slash - path);
		}
		if (end == pos)
			return false; /* a capture takes at least one byte */
		uint64_t n = 0;
		bool overflow = false;
		if (t->type == PATTERN_INT) {
			for (size_t j = pos; j < end; j++) {
				if (path[j] < '0' || path[j] > '9')
					return false;
				unsigned d = (unsigned)(path[j] - '0');
				if (overflow || n > (UINT64_MAX - d) / 10) {
					overflow = true;
					n = UINT64_MAX;
				} else {
					n = n * 10 + d;
				}
			}
		}
		if (caps)
			caps[c] = (struct pattern_capture){.name = t->name, .type = t->type,
			                                   .s = path + pos,
			                                   .len = end - pos, .n = n,
			                                   .overflow = overflow};
		c++;
		pos = end;
	}
	return pos == len;
}

bool pattern_same(const struct pattern *a, const struct pattern *b)
{
	if (a->ntok != b->ntok)
		return false;
	for (size_t k = 0; k < a->ntok; k++) {
		const struct tok *x = &a->toks[k], *y = &b->toks[k];
		if (x->len != y->len || (x->len && memcmp(x->lit, y->lit, x->len) != 0) ||
		    (!x->len && x->type != y->type))
			return false;
	}
	return true;
}
