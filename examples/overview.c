/*
 * The "Deferred Overview" snippets of Klein's Non-Blocking Recipes page,
 * in C on fcgi_app's Deferred library.  Each scenario prints what the
 * Python prints:
 *
 *   overview callback 100            d.callback(100)             -> 110
 *   overview callback "one hundred"  d.callback("one hundred")   -> the errback path
 *   overview succeed-fail            succeed(200) ... fail(...)  -> 230, Errback executed
 *
 * The Python:
 *
 *   def addition(result, *numbers, **kw):
 *       return result + sum(numbers)
 *   def errorHasHappened(failure, msg):
 *       print(msg)
 *   d = defer.Deferred()
 *   d.addCallback(addition, 1, 2, 3, 4)
 *   d.addErrback(print, 'This is an error!')
 *   d.addBoth(print)
 *   d.callback(100)
 *
 *   d = defer.succeed(200).addCallback(addition, 10, 20).addCallback(print)
 *   defer.fail(Exception()).addErrback(errorHasHappened, 'Errback executed')
 *
 * Python values are dynamically typed; here a value is a small tagged box
 * (struct pyval) carried as a DEFERRED_VAL_PTR that owns it.  A failure
 * made in C carries no stack frames, so str(failure) is Twisted's "failure
 * with no frames" form, where Python's would list the frames of the
 * traceback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deferred.h"
#include "failure.h"

struct pyval {
	enum { PY_INT, PY_STR } kind;
	long i;
	const char *s; /* a literal */
};

static struct deferred_val box_int(long i)
{
	struct pyval *v = malloc(sizeof *v);
	if (!v)
		return deferred_val_failure(failure_new("MemoryError", "out of memory"));
	*v = (struct pyval){.kind = PY_INT, .i = i};
	return deferred_val_ptr(v, free);
}

static struct deferred_val box_str(const char *s)
{
	struct pyval *v = malloc(sizeof *v);
	if (!v)
		return deferred_val_failure(failure_new("MemoryError", "out of memory"));
	*v = (struct pyval){.kind = PY_STR, .s = s};
	return deferred_val_ptr(v, free);
}

/* The numbers after `result` in addCallback(addition, 1, 2, 3, 4). */
struct numbers {
	size_t n;
	long v[4];
};

/* addition(result, *numbers): result + sum(numbers).  A str result makes
 * Python raise TypeError, which the Deferred turns into a failure. */
static struct deferred_val addition(struct deferred_val result, void *arg)
{
	const struct numbers *nums = arg;
	const struct pyval *r = result.ptr;
	long sum = 0;
	for (size_t i = 0; i < nums->n; i++)
		sum += nums->v[i];
	if (r->kind == PY_STR) {
		deferred_val_free(result);
		return deferred_val_failure(failure_new(
		    "TypeError", "can only concatenate str (not \"int\") to str"));
	}
	long total = r->i + sum;
	deferred_val_free(result);
	return box_int(total);
}

/* Python's print(result, *args): the value's str(), then the extra
 * arguments, separated by spaces.  Returns None, as print does. */
static struct deferred_val print(struct deferred_val result, void *arg)
{
	const char *extra = arg;
	if (result.kind == DEFERRED_VAL_FAILURE) {
		char *text = failure_to_string(result.failure);
		fputs(text ? text : "[Failure instance]", stdout);
		free(text);
	} else if (result.kind == DEFERRED_VAL_PTR) {
		const struct pyval *v = result.ptr;
		if (v->kind == PY_INT)
			printf("%ld", v->i);
		else
			fputs(v->s, stdout);
	} else {
		fputs("None", stdout);
	}
	if (extra)
		printf(" %s", extra);
	putchar('\n');
	deferred_val_free(result);
	return deferred_val_none();
}

/* errorHasHappened(failure, msg): print(msg). */
static struct deferred_val error_has_happened(struct deferred_val failure,
                                              void *arg)
{
	puts(arg);
	deferred_val_free(failure);
	return deferred_val_none();
}

static int chain(struct deferred_val first)
{
	static const struct numbers one_to_four = {4, {1, 2, 3, 4}};
	struct deferred *d = deferred_new(NULL, NULL);
	if (!d || deferred_add_callback(d, addition, (void *)&one_to_four, NULL) < 0 ||
	    deferred_add_errback(d, print, (void *)"This is an error!", NULL) < 0 ||
	    deferred_add_both(d, print, NULL, NULL) < 0 ||
	    deferred_callback(d, first) < 0) {
		deferred_unref(d);
		return 1;
	}
	deferred_unref(d);
	return 0;
}

static int succeed_fail(void)
{
	static const struct numbers ten_twenty = {2, {10, 20}};
	struct deferred *d = deferred_succeed(box_int(200));
	int rc = !d || deferred_add_callback(d, addition, (void *)&ten_twenty, NULL) < 0 ||
	         deferred_add_callback(d, print, NULL, NULL) < 0;
	deferred_unref(d);
	/* Exception() has no message: str(Exception()) is empty. */
	struct deferred *e = deferred_fail(failure_new("Exception", "%s", ""));
	rc |= !e || deferred_add_errback(e, error_has_happened,
	                                 (void *)"Errback executed", NULL) < 0;
	deferred_unref(e);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "callback") == 0) {
		char *end;
		long n = strtol(argv[2], &end, 10);
		return chain(*argv[2] && !*end ? box_int(n) : box_str(argv[2]));
	}
	if (argc == 2 && strcmp(argv[1], "succeed-fail") == 0)
		return succeed_fail();
	fprintf(stderr, "usage: overview callback VALUE | overview succeed-fail\n");
	return 2;
}
