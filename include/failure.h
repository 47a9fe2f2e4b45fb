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
#include <stddef.h>

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

/* A deep copy (frames and, for a FirstError, its inner failure), or NULL
 * when out of memory or when f is NULL (a copy of a MemoryError is one). */
struct failure *failure_copy(const struct failure *f);

/* Twisted's FirstError(inner, index): a FAILURE_FIRST_ERROR whose message
 * is FirstError.__str__, "FirstError[#<index>, <str(inner)>]", and which
 * keeps `index` and `inner` as fields.  Takes ownership of `inner` (NULL
 * stands for a MemoryError, as everywhere); returns NULL, having freed
 * `inner`, when out of memory. */
struct failure *failure_first_error_new(size_t index, struct failure *inner);

/* A FirstError's fields (FirstError.index and .subFailure).  The index is
 * SIZE_MAX when f was not made by failure_first_error_new (including a
 * failure_new with the FirstError type name, or NULL).  The inner failure
 * is borrowed from f; it is NULL when f is not such a FirstError or when
 * the inner failure is a MemoryError. */
size_t failure_first_error_index(const struct failure *f);
const struct failure *failure_first_error_inner(const struct failure *f);

/* Accepts NULL.  Frees a FirstError's inner failure with it. */
void failure_free(struct failure *f);

#endif
