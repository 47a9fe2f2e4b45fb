/* /error: an errback chain (maybeDeferred, addErrback, addCallback). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "demo.h"

/* The demo's raiseError: int('hello'), with Python's message. */
static struct deferred_val raise_error(void *arg)
{
	const char *text = arg;
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (end == text || *end || errno)
		return deferred_val_failure(failure_new(
		    "ValueError", "invalid literal for int() with base 10: '%s'",
		    text));
	return deferred_val_ptr((void *)(intptr_t)v, NULL);
}

static struct deferred_val error_callback(struct deferred_val v, void *arg)
{
	fcgi_req_set_status(arg, 400); /* request.setResponseCode(400) */
	char *text = failure_to_string(v.failure);
	char *out = NULL;
	int rc = text ? asprintf(&out, "Uh oh spaghetti-Os!<br><br>ERROR: %s", text)
	              : -1;
	free(text);
	deferred_val_free(v);
	if (rc < 0)
		return deferred_val_failure(failure_new("MemoryError", "out of memory"));
	return deferred_val_str(out);
}

struct deferred *demo_error(struct fcgi_req *req, void *arg)
{
	static const char *const strong[] = {"strong"};
	static char hello[] = "hello";
	(void)arg;
	struct deferred *d = deferred_maybe(raise_error, hello);
	if (d && (deferred_add_errback(d, error_callback, req, NULL) < 0 ||
	          demo_add_tags(d, strong, 1) < 0)) {
		deferred_unref(d);
		return NULL;
	}
	return d;
}
