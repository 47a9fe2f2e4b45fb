/*
 * Unit tests for failure: Twisted's str(Failure) byte for byte, and the
 * accessors the Deferred library and the routes rely on.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "failure.h"

static void failure_without_frames_prints_twisted_brief_traceback(void **state)
{
	struct failure *f = failure_new("ValueError",
	    "invalid literal for int() with base 10: '%s'", "hello");
	char *s;

	(void)state;
	assert_non_null(f);
	s = failure_to_string(f);
	assert_string_equal(s,
	    "[Failure instance: Traceback (failure with no frames): "
	    "<class 'ValueError'>: invalid literal for int() with base 10: "
	    "'hello'\n]");
	free(s);
	failure_free(f);
}

static void failure_with_frames_prints_one_line_per_frame(void **state)
{
	struct failure *f = failure_new("T", "msg");
	char *s;

	(void)state;
	assert_int_equal(failure_add_frame(f, "file", 12, "func"), 0);
	assert_int_equal(failure_add_frame(f, "file2", 34, "func2"), 0);
	s = failure_to_string(f);
	assert_string_equal(s, "[Failure instance: Traceback: <class 'T'>: msg\n"
	                       "file:12:func\nfile2:34:func2\n]");
	free(s);
	failure_free(f);
}

static void failure_keeps_type_and_formatted_message(void **state)
{
	struct failure *f = failure_new("twisted.internet.defer.CancelledError",
	                                "%d of %s", 3, "four");

	(void)state;
	assert_string_equal(failure_type(f),
	                    "twisted.internet.defer.CancelledError");
	assert_string_equal(failure_message(f), "3 of four");
	failure_free(f);
}

static void failure_with_empty_message_prints_nothing_after_colon(void **state)
{
	struct failure *f = failure_new(FAILURE_CANCELLED, "%s", "");
	char *s = failure_to_string(f);

	(void)state;
	assert_string_equal(s, "[Failure instance: Traceback (failure with no "
	                       "frames): <class "
	                       "'twisted.internet.defer.CancelledError'>: \n]");
	free(s);
	failure_free(f);
}

static void failure_check_matches_the_exact_type_name(void **state)
{
	struct failure *f = failure_new("ValueError", "x");

	(void)state;
	assert_true(failure_check(f, "ValueError"));
	assert_false(failure_check(f, "Value"));
	assert_false(failure_check(f, "ValueErrors"));
	assert_false(failure_check(f, NULL));
	failure_free(f);
}

static void failure_add_frame_copies_its_strings(void **state)
{
	struct failure *f = failure_new("T", "m");
	char file[] = "a.c", func[] = "main";
	char *s;

	(void)state;
	assert_int_equal(failure_add_frame(f, file, 1, func), 0);
	file[0] = 'X';
	func[0] = 'X';
	s = failure_to_string(f);
	assert_string_equal(s, "[Failure instance: Traceback: <class 'T'>: m\n"
	                       "a.c:1:main\n]");
	free(s);
	failure_free(f);
}

static void failure_add_frame_on_null_is_einval(void **state)
{
	(void)state;
	assert_int_equal(failure_add_frame(NULL, "f", 1, "g"), -EINVAL);
}

static void null_failure_reads_as_memory_error(void **state)
{
	char *s = failure_to_string(NULL);

	(void)state;
	assert_string_equal(failure_type(NULL), "MemoryError");
	assert_string_equal(failure_message(NULL), "out of memory");
	assert_true(failure_check(NULL, "MemoryError"));
	assert_string_equal(s, "[Failure instance: Traceback (failure with no "
	                       "frames): <class 'MemoryError'>: out of memory\n]");
	free(s);
	failure_free(NULL);
}

static void first_error_keeps_index_and_inner_failure(void **state)
{
	struct failure *inner = failure_new("ValueError", "boom");
	struct failure *f;

	(void)state;
	assert_int_equal(failure_add_frame(inner, "a.c", 1, "fa"), 0);
	f = failure_first_error_new(3, inner);
	assert_non_null(f);
	assert_true(failure_check(f, FAILURE_FIRST_ERROR));
	assert_string_equal(failure_message(f),
	    "FirstError[#3, [Failure instance: Traceback: <class "
	    "'ValueError'>: boom\na.c:1:fa\n]]");
	assert_int_equal(failure_first_error_index(f), 3);
	assert_ptr_equal(failure_first_error_inner(f), inner);
	failure_free(f);
}

static void plain_failure_has_no_first_error_fields(void **state)
{
	struct failure *f = failure_new(FAILURE_FIRST_ERROR, "made by hand");

	(void)state;
	assert_int_equal(failure_first_error_index(f), SIZE_MAX);
	assert_null(failure_first_error_inner(f));
	assert_int_equal(failure_first_error_index(NULL), SIZE_MAX);
	failure_free(f);
}

static void failure_copy_is_deep(void **state)
{
	struct failure *inner = failure_new("KeyError", "k");
	struct failure *f, *c;
	char *a, *b;

	(void)state;
	assert_int_equal(failure_add_frame(inner, "b.c", 2, "fb"), 0);
	f = failure_first_error_new(0, inner);
	assert_int_equal(failure_add_frame(f, "c.c", 3, "fc"), 0);
	c = failure_copy(f);
	assert_non_null(c);
	a = failure_to_string(f);
	b = failure_to_string(c);
	assert_string_equal(a, b);
	free(a);
	free(b);
	assert_int_equal(failure_first_error_index(c), 0);
	assert_ptr_not_equal(failure_first_error_inner(c), inner);
	failure_free(f);
	a = failure_to_string(failure_first_error_inner(c));
	assert_string_equal(a, "[Failure instance: Traceback: <class "
	                       "'KeyError'>: k\nb.c:2:fb\n]");
	free(a);
	failure_free(c);
	assert_null(failure_copy(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(failure_without_frames_prints_twisted_brief_traceback),
		cmocka_unit_test(failure_with_frames_prints_one_line_per_frame),
		cmocka_unit_test(failure_keeps_type_and_formatted_message),
		cmocka_unit_test(failure_with_empty_message_prints_nothing_after_colon),
		cmocka_unit_test(failure_check_matches_the_exact_type_name),
		cmocka_unit_test(failure_add_frame_copies_its_strings),
		cmocka_unit_test(failure_add_frame_on_null_is_einval),
		cmocka_unit_test(null_failure_reads_as_memory_error),
		cmocka_unit_test(first_error_keeps_index_and_inner_failure),
		cmocka_unit_test(plain_failure_has_no_first_error_fields),
		cmocka_unit_test(failure_copy_is_deep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
