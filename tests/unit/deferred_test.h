/*
 * What the Deferred unit tests share (test_deferred.c, test_deferred_list.c,
 * test_deferred_timeout.c): the trace of what callbacks saw, the
 * unhandled-error counter, setup/teardown, and the callbacks more than one
 * of them uses.  Each test file gets its own copy of this state.
 *
 * Integer results travel as DEFERRED_VAL_PTR with no free function (INT);
 * callbacks note what they see in `trace`, so each test compares one
 * string with the exact order of events.
 */
#ifndef FCGI_APP_TEST_DEFERRED_TEST_H
#define FCGI_APP_TEST_DEFERRED_TEST_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deferred.h"

#define INT(n) deferred_val_ptr((void *)(intptr_t)(n), NULL)
/* A string literal as a callback arg (literals are const here). */
#define S(lit) ((void *)(uintptr_t)(lit))

static char trace[4096];
static int unhandled_calls;
static char unhandled_type[128];
static char unhandled_message[256];
static int arg_frees;

static inline void note(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static inline void note(const char *fmt, ...)
{
	size_t len = strlen(trace);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(trace + len, sizeof(trace) - len, fmt, ap);
	va_end(ap);
	len = strlen(trace);
	snprintf(trace + len, sizeof(trace) - len, ";");
}

static inline void count_unhandled(const struct failure *f)
{
	unhandled_calls++;
	snprintf(unhandled_type, sizeof(unhandled_type), "%s", failure_type(f));
	snprintf(unhandled_message, sizeof(unhandled_message), "%s",
	         failure_message(f));
}

static inline int setup(void **state)
{
	(void)state;
	trace[0] = '\0';
	unhandled_calls = 0;
	unhandled_type[0] = '\0';
	unhandled_message[0] = '\0';
	arg_frees = 0;
	deferred_set_unhandled_hook(count_unhandled);
	return 0;
}

static inline int teardown(void **state)
{
	(void)state;
	deferred_set_unhandled_hook(NULL);
	return 0;
}

static inline intptr_t as_int(struct deferred_val v)
{
	assert_int_equal(v.kind, DEFERRED_VAL_PTR);
	return (intptr_t)v.ptr;
}

static inline struct failure *value_error(const char *msg)
{
	return failure_new("ValueError", "%s", msg);
}

/* ---- callbacks ---- */

/* Notes "<tag>=<what it got>" and passes the result on. */
static inline struct deferred_val cb_note(struct deferred_val v,
                                         void *tag)
{
	switch (v.kind) {
	case DEFERRED_VAL_NONE:
		note("%s=None", (const char *)tag);
		break;
	case DEFERRED_VAL_PTR:
		note("%s=%ld", (const char *)tag, (long)(intptr_t)v.ptr);
		break;
	case DEFERRED_VAL_FAILURE:
		note("%s=%s", (const char *)tag, failure_type(v.failure));
		break;
	case DEFERRED_VAL_DEFERRED:
		note("%s=Deferred", (const char *)tag);
		break;
	}
	return v;
}

/* An errback that handles the failure and returns the int in arg. */
static inline struct deferred_val cb_recover(struct deferred_val v,
                                            void *n)
{
	deferred_val_free(v);
	return INT((intptr_t)n);
}

/* Returns a new reference to the Deferred in arg (chaining). */
static inline struct deferred_val cb_return_deferred(struct deferred_val v,
                                                    void *inner)
{
	deferred_val_free(v);
	deferred_ref(inner);
	return deferred_val_deferred(inner);
}

static inline void canceller_note(struct deferred *d, void *tag)
{
	(void)d;
	note("cancel:%s", (const char *)tag);
}

static inline void canceller_fires(struct deferred *d, void *arg)
{
	(void)arg;
	note("cancel:fires");
	assert_int_equal(deferred_callback(d, INT(5)), 0);
}

#endif
