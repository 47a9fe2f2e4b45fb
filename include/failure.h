/*
 * failure: the C counterpart of twisted.python.failure.Failure.
 *
 * A failure carries a type name (Python's exception class name, e.g.
 * "ValueError"), a message and an optional list of frames.  Its string form
 * is Twisted's str(Failure):
 *
 *   no frames:   [Failure instance: Traceback (failure with no frames): <class 'T'>: msg\n]
 *   with frames: [Failure instance: Traceback: <class 'T'>: msg\nfile:line:func\n...]
 *
 * Ownership: a failure has exactly one owner.  Functions that "take" a
 * failure free it (now or later); everything else borrows it.
 * Out of memory: constructors return NULL; nothing else allocates except
 * failure_to_string and failure_add_frame, which report it.
 */
#ifndef FCGI_APP_FAILURE_H
#define FCGI_APP_FAILURE_H

#include <stdbool.h>

/* Type names the library itself produces (Twisted's class paths). */
#define FAILURE_CANCELLED "twisted.internet.defer.CancelledError"
#define FAILURE_TIMEOUT "twisted.internet.defer.TimeoutError"
#define FAILURE_FIRST_ERROR "twisted.internet.defer.FirstError"

struct failure;

/* Returns a new failure, or NULL when out of memory.  printf-style message. */
struct failure *failure_new(const char *type, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends a frame (innermost last, as Twisted prints them).  0 or -ENOMEM. */
int failure_add_frame(struct failure *f, const char *file, int line,
                      const char *func);

/* Borrowed; valid until the failure is freed. */
const char *failure_type(const struct failure *f);
const char *failure_message(const struct failure *f);

/* True when the failure's type name equals `type` (Twisted's f.check). */
bool failure_check(const struct failure *f, const char *type);

/* Twisted's str(failure).  Returns a malloc'd string the caller frees, or
 * NULL when out of memory. */
char *failure_to_string(const struct failure *f);

/* Accepts NULL. */
void failure_free(struct failure *f);

#endif
