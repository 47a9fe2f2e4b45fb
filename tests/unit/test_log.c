/* Unit tests for the log: journal priority prefixes, the log file and its
 * reopen, the rate limit, quoting.  Lines are read back from a pipe put in
 * stderr's place, or from the file. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"

/* stderr replaced by a pipe's write end while a test runs.  A failed
 * assertion jumps past capture_stop: the teardown puts stderr back. */
struct capture {
	int saved_stderr;
	int rd;
	bool active;
};
static struct capture cap;

static void capture_start(struct capture *c)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	c->saved_stderr = dup(STDERR_FILENO);
	assert_true(c->saved_stderr >= 0);
	assert_true(dup2(p[1], STDERR_FILENO) == STDERR_FILENO);
	close(p[1]);
	c->rd = p[0];
	c->active = true;
	assert_int_equal(fcntl(c->rd, F_SETFL, O_NONBLOCK), 0);
}

/* What the pipe holds now (malloc'd, NUL-terminated). */
static char *capture_read(struct capture *c)
{
	char *buf = calloc(1, 65536);
	size_t n = 0;
	ssize_t r;
	while ((r = read(c->rd, buf + n, 65535 - n)) > 0)
		n += (size_t)r;
	return buf;
}

static void capture_stop(struct capture *c)
{
	if (c->active) {
		dup2(c->saved_stderr, STDERR_FILENO);
		close(c->saved_stderr);
		close(c->rd);
		c->active = false;
	}
	log_close();
	unsetenv("JOURNAL_STREAM");
	log_set_level(LOG_LEVEL_INFO);
}

static int teardown(void **state)
{
	(void)state;
	capture_stop(&cap);
	return 0;
}

/* JOURNAL_STREAM naming the current stderr, as systemd sets it. */
static void set_journal_stream_to_stderr(long long ino_delta)
{
	struct stat st;
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	char v[64];
	snprintf(v, sizeof v, "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino + (unsigned long long)ino_delta);
	setenv("JOURNAL_STREAM", v, 1);
}

static void log_every_level(void)
{
	log_set_level(LOG_LEVEL_DEBUG);
	log_error("msg=e n=%d", 1);
	log_warn("msg=w n=%d", 2);
	log_info("msg=i n=%d", 3);
	log_debug("msg=d n=%d", 4);
}

/* Checks the four lines of log_every_level, with or without prefixes. */
static void assert_every_level(const char *out, bool prefixed)
{
	static const char *const want[][2] = {
	    {"<3>", "level=error msg=e n=1\n"},
	    {"<4>", "level=warn msg=w n=2\n"},
	    {"<6>", "level=info msg=i n=3\n"},
	    {"<7>", "level=debug msg=d n=4\n"},
	};
	const char *p = out;
	for (size_t i = 0; i < 4; i++) {
		if (prefixed) {
			assert_memory_equal(p, want[i][0], 3);
			p += 3;
		}
		/* ts=YYYY-MM-DDTHH:MM:SS.mmmZ, then the level. */
		assert_memory_equal(p, "ts=", 3);
		assert_int_equal(p[26], 'Z');
		assert_int_equal(p[27], ' ');
		size_t len = strlen(want[i][1]);
		assert_memory_equal(p + 28, want[i][1], len);
		p += 28 + len;
	}
	assert_int_equal(*p, '\0');
}

static void journal_stderr_gets_priority_prefixes(void **state)
{
	(void)state;
	capture_start(&cap);
	set_journal_stream_to_stderr(0);
	assert_int_equal(log_open(NULL), 0);
	assert_true(log_prefixed());
	log_every_level();
	char *out = capture_read(&cap);
	capture_stop(&cap);
	assert_every_level(out, true);
	free(out);
}

/* A child whose stderr went elsewhere inherits the variable: no prefix. */
static void journal_stream_of_another_file_gets_no_prefix(void **state)
{
	(void)state;
	capture_start(&cap);
	set_journal_stream_to_stderr(1);
	assert_int_equal(log_open(NULL), 0);
	assert_false(log_prefixed());
	log_every_level();
	char *out = capture_read(&cap);
	capture_stop(&cap);
	assert_every_level(out, false);
	free(out);
}

static void malformed_or_absent_journal_stream_gets_no_prefix(void **state)
{
	(void)state;
	struct stat st;
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	char good[64], trail[80], noino[64];
	snprintf(good, sizeof good, "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino);
	snprintf(trail, sizeof trail, "%sx", good);
	snprintf(noino, sizeof noino, "%llu:", (unsigned long long)st.st_dev);
	const char *bad[] = {"", "abc", noino, trail, ":1", "1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		setenv("JOURNAL_STREAM", bad[i], 1);
		assert_int_equal(log_open(NULL), 0);
		assert_false(log_prefixed());
	}
	/* The same stderr, well-formed: the control. */
	setenv("JOURNAL_STREAM", good, 1);
	assert_int_equal(log_open(NULL), 0);
	assert_true(log_prefixed());
	unsetenv("JOURNAL_STREAM");
	assert_int_equal(log_open(NULL), 0);
	assert_false(log_prefixed());
}

static void level_filters_lines(void **state)
{
	(void)state;
	capture_start(&cap);
	assert_int_equal(log_open(NULL), 0);
	log_set_level(LOG_LEVEL_WARN);
	log_info("msg=hidden");
	log_debug("msg=hidden");
	log_warn("msg=shown");
	char *out = capture_read(&cap);
	capture_stop(&cap);
	assert_null(strstr(out, "hidden"));
	assert_non_null(strstr(out, "level=warn msg=shown\n"));
	free(out);
}

/* A file's contents (malloc'd), or NULL when it does not exist. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = calloc(1, 65536);
	size_t n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* A reopen that fails keeps the old file; journal prefixes never go to a
 * file, even when stderr is the journal. */
static void failed_reopen_keeps_the_old_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/fcgi_app-test_log.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128], moved[128];
	snprintf(path, sizeof path, "%s/app.log", dir);
	snprintf(moved, sizeof moved, "%s/app.log.1", dir);

	capture_start(&cap);
	set_journal_stream_to_stderr(0);
	assert_int_equal(log_open(path), 0);
	assert_false(log_prefixed());
	log_info("msg=first");
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(mkdir(path, 0700), 0); /* cannot be opened for writing */
	assert_int_equal(log_reopen(), -EISDIR);
	log_info("msg=second");
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(log_reopen(), 0);
	log_info("msg=third");
	char *out = capture_read(&cap);
	capture_stop(&cap); /* closes the file */

	char *old = slurp(moved), *cur = slurp(path);
	assert_non_null(old);
	assert_non_null(cur);
	assert_int_equal(count(old, "\n"), 2);
	assert_memory_equal(old, "ts=", 3);
	assert_int_equal(count(old, " level=info msg=first\n"), 1);
	assert_int_equal(count(old, " level=info msg=second\n"), 1);
	assert_int_equal(count(cur, "\n"), 1);
	assert_memory_equal(cur, "ts=", 3);
	assert_int_equal(count(cur, " level=info msg=third\n"), 1);
	assert_string_equal(out, ""); /* nothing went to stderr */
	free(old);
	free(cur);
	free(out);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(unlink(moved), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void first_and_second_lines_stay_in_the_renamed_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/fcgi_app-test_log.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128], moved[128];
	snprintf(path, sizeof path, "%s/app.log", dir);
	snprintf(moved, sizeof moved, "%s/app.log.1", dir);
	/* Appends to what is there. */
	FILE *f = fopen(path, "w");
	fputs("earlier\n", f);
	fclose(f);
	assert_int_equal(log_open(path), 0);
	log_info("msg=first");
	assert_int_equal(rename(path, moved), 0);
	log_info("msg=second");
	assert_int_equal(log_reopen(), 0);
	log_info("msg=third");
	log_close();
	char *old = slurp(moved), *cur = slurp(path);
	assert_non_null(old);
	assert_non_null(cur);
	assert_memory_equal(old, "earlier\n", 8);
	assert_int_equal(count(old, "msg=first\n"), 1);
	assert_int_equal(count(old, "msg=second\n"), 1);
	assert_int_equal(count(old, "msg=third"), 0);
	assert_int_equal(count(cur, "msg=third\n"), 1);
	assert_int_equal(count(cur, "\n"), 1);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0022, 0); /* never group/world-writable */
	free(old);
	free(cur);
	unlink(path);
	unlink(moved);
	rmdir(dir);
}

static void unopenable_log_file_is_an_error(void **state)
{
	(void)state;
	assert_int_equal(log_open("/nonexistent-dir-fcgi_app/app.log"), -ENOENT);
	/* On stderr there is nothing to reopen. */
	assert_int_equal(log_open(NULL), 0);
	assert_int_equal(log_reopen(), 0);
}

static void limit_lets_per_second_through_and_counts_the_rest(void **state)
{
	(void)state;
	struct log_limit l = LOG_LIMIT_INIT;
	unsigned long sup = 99;
	for (int i = 0; i < 3; i++) {
		assert_true(log_limit_allow(&l, 3, &sup));
		assert_int_equal(sup, 0);
	}
	for (int i = 0; i < 5; i++)
		assert_false(log_limit_allow(&l, 3, &sup));
	/* The next window (a second later) lets lines through again, the
	 * first one reporting the five refused. */
	struct timespec ts = {1, 100 * 1000000L};
	nanosleep(&ts, NULL);
	assert_true(log_limit_allow(&l, 3, &sup));
	assert_int_equal(sup, 5);
	assert_true(log_limit_allow(&l, 3, &sup));
	assert_int_equal(sup, 0);
	assert_true(log_limit_allow(&l, 3, &sup));
	assert_false(log_limit_allow(&l, 3, &sup));
	assert_false(log_limit_allow(&l, 3, &sup));
	assert_int_equal(log_limit_take_suppressed(&l), 2);
	assert_int_equal(log_limit_take_suppressed(&l), 0);
	pthread_mutex_destroy(&l.mu);
}

static void limit_of_zero_lets_nothing_through(void **state)
{
	(void)state;
	struct log_limit l = LOG_LIMIT_INIT;
	unsigned long sup = 0;
	for (int i = 0; i < 4; i++)
		assert_false(log_limit_allow(&l, 0, &sup));
	assert_int_equal(log_limit_take_suppressed(&l), 4);
	pthread_mutex_destroy(&l.mu);
}

static void quote_escapes_and_cuts(void **state)
{
	(void)state;
	char buf[64];
	assert_string_equal(log_quote(buf, sizeof buf, "plain text."), "plain text.");
	assert_string_equal(log_quote(buf, sizeof buf, "a \"b\" \\c"),
	                    "a \\\"b\\\" \\\\c");
	assert_string_equal(log_quote(buf, sizeof buf, "1\n2\t3\r\x7f"),
	                    "1\\n2\\t3\\x0d\\x7f");
	/* Cut at an escape's start, never inside it. */
	assert_string_equal(log_quote(buf, 6, "abc\"d"), "abc\\\"");
	assert_string_equal(log_quote(buf, 5, "abc\"d"), "abc");
	assert_string_equal(log_quote(buf, 1, "abc"), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(journal_stderr_gets_priority_prefixes, teardown),
	    cmocka_unit_test_teardown(journal_stream_of_another_file_gets_no_prefix, teardown),
	    cmocka_unit_test_teardown(malformed_or_absent_journal_stream_gets_no_prefix, teardown),
	    cmocka_unit_test_teardown(level_filters_lines, teardown),
	    cmocka_unit_test_teardown(failed_reopen_keeps_the_old_file, teardown),
	    cmocka_unit_test_teardown(first_and_second_lines_stay_in_the_renamed_file, teardown),
	    cmocka_unit_test_teardown(unopenable_log_file_is_an_error, teardown),
	    cmocka_unit_test_teardown(limit_lets_per_second_through_and_counts_the_rest, teardown),
	    cmocka_unit_test_teardown(limit_of_zero_lets_nothing_through, teardown),
	    cmocka_unit_test_teardown(quote_escapes_and_cuts, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
