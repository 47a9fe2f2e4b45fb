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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
