/*
 * failure: the C counterpart of twisted.python.failure.Failure, reduced to
 * what the demo prints: a type name, a message and an optional list of
 * frames, plus Twisted's str(Failure) (failure.py getBriefTraceback).
 *
 * NULL is accepted everywhere a failure is read and stands for a
 * MemoryError: failure_new returns NULL when it cannot allocate, and a
 * Deferred errbacked with that NULL must still be printable and checkable
 * instead of crashing the errback that reports it.
 */
#include "failure.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OOM_TYPE "MemoryError"
#define OOM_MESSAGE "out of memory"

struct failure_frame {
	char *file;
	char *func;
	int line;
};

struct failure {
	char *message;
	struct failure_frame *frames;
	size_t nframes;
	/* FirstError's index and subFailure; index SIZE_MAX on any other
	 * failure.  `inner` is owned. */
	size_t first_index;
	struct failure *inner;
	char type[]; /* the message follows it in the same allocation */
};

struct failure *failure_new(const char *type, const char *fmt, ...)
{
	struct failure *f;
	va_list ap;
	size_t tlen;
	int mlen;

	if (type == NULL)
		type = "Exception";
	tlen = strlen(type);

	va_start(ap, fmt);
	mlen = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (mlen < 0)
		return NULL;

	f = malloc(sizeof(*f) + tlen + 1 + (size_t)mlen + 1);
	if (f == NULL)
		return NULL;
	memcpy(f->type, type, tlen + 1);
	f->message = f->type + tlen + 1;
	va_start(ap, fmt);
	vsnprintf(f->message, (size_t)mlen + 1, fmt, ap);
	va_end(ap);
	f->frames = NULL;
	f->nframes = 0;
	f->first_index = SIZE_MAX;
	f->inner = NULL;
	return f;
}

struct failure *failure_copy(const struct failure *f)
{
	struct failure *c;

	if (f == NULL)
		return NULL;
	c = failure_new(f->type, "%s", f->message);
	if (c == NULL)
		return NULL;
	for (size_t i = 0; i < f->nframes; i++)
		if (failure_add_frame(c, f->frames[i].file, f->frames[i].line,
		                      f->frames[i].func) != 0)
			goto oom;
	if (f->first_index != SIZE_MAX) {
		/* A NULL inner is a MemoryError and copies as itself. */
		c->inner = failure_copy(f->inner);
		if (f->inner != NULL && c->inner == NULL)
			goto oom;
		c->first_index = f->first_index;
	}
	return c;
oom:
	failure_free(c);
	return NULL;
}

struct failure *failure_first_error_new(size_t index, struct failure *inner)
{
	char *s = failure_to_string(inner);
	struct failure *f = NULL;

	/* FirstError.__str__: "FirstError[#%d, %s]" % (index, subFailure). */
	if (s != NULL)
		f = failure_new(FAILURE_FIRST_ERROR, "FirstError[#%zu, %s]",
		                index, s);
	free(s);
	if (f == NULL) {
		failure_free(inner);
		return NULL;
	}
	f->first_index = index;
	f->inner = inner;
	return f;
}

size_t failure_first_error_index(const struct failure *f)
{
	return f != NULL ? f->first_index : SIZE_MAX;
}

const struct failure *failure_first_error_inner(const struct failure *f)
{
	return f != NULL ? f->inner : NULL;
}

int failure_add_frame(struct failure *f, const char *file, int line,
                      const char *func)
{
	struct failure_frame *frames;
	char *file_copy = NULL, *func_copy = NULL;

	if (f == NULL)
		return -EINVAL;
	file_copy = strdup(file != NULL ? file : "?");
	func_copy = strdup(func != NULL ? func : "?");
	if (file_copy == NULL || func_copy == NULL)
		goto oom;
	/* Frames are added a handful at a time while building a failure, so
	 * growing by one keeps the code simple without a measurable cost. */
	frames = realloc(f->frames, (f->nframes + 1) * sizeof(*frames));
	if (frames == NULL)
		goto oom;
	f->frames = frames;
	frames[f->nframes].file = file_copy;
	frames[f->nframes].func = func_copy;
	frames[f->nframes].line = line;
	f->nframes++;
	return 0;
oom:
	free(file_copy);
	free(func_copy);
	return -ENOMEM;
}

const char *failure_type(const struct failure *f)
{
	return f != NULL ? f->type : OOM_TYPE;
}

const char *failure_message(const struct failure *f)
{
	return f != NULL ? f->message : OOM_MESSAGE;
}

bool failure_check(const struct failure *f, const char *type)
{
	return type != NULL && strcmp(failure_type(f), type) == 0;
}

/* Appends printf output to a malloc'd buffer; on failure frees it and
 * leaves *buf NULL so one check at the end covers every step. */
static void append(char **buf, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void append(char **buf, size_t *len, const char *fmt, ...)
{
	va_list ap;
	char *grown;
	int n;

	if (*buf == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (grown = realloc(*buf, *len + (size_t)n + 1)) == NULL) {
		free(*buf);
		*buf = NULL;
		return;
	}
	*buf = grown;
	va_start(ap, fmt);
	vsnprintf(*buf + *len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	*len += (size_t)n;
}

/* "[Failure instance: %s]" % getBriefTraceback(): the brief traceback is
 * the header line, then one "file:line:func" line per frame, each line
 * ending in a newline (twisted/python/failure.py printBriefTraceback). */
char *failure_to_string(const struct failure *f)
{
	size_t len = 0;
	size_t nframes = f != NULL ? f->nframes : 0;
	char *buf = calloc(1, 1);

	append(&buf, &len, "[Failure instance: Traceback%s: <class '%s'>: %s\n",
	       nframes == 0 ? " (failure with no frames)" : "",
	       failure_type(f), failure_message(f));
	for (size_t i = 0; i < nframes; i++)
		append(&buf, &len, "%s:%d:%s\n", f->frames[i].file,
		       f->frames[i].line, f->frames[i].func);
	append(&buf, &len, "]");
	return buf;
}

void failure_free(struct failure *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->nframes; i++) {
		free(f->frames[i].file);
		free(f->frames[i].func);
	}
	free(f->frames);
	failure_free(f->inner);
	free(f);
}
