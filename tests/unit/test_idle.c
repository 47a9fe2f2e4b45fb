/* Unit tests for the kept connections' table: keep, claim, FIFO expiry
 * and stale tags, with explicit times.  The fds are numbers only: the
 * table never touches them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "idle.h"

static uint64_t keep(struct idle *t, int fd, uint64_t now)
{
	uint64_t tag = 0;
	assert_int_equal(idle_keep(t, fd, now, &tag), 0);
	assert_int_equal((int)(uint32_t)tag, fd);
	return tag;
}

static void keep_then_claim_gives_the_fd_back_once(void **state)
{
	(void)state;
	struct idle *t = idle_new(16, 1000);
	assert_non_null(t);
	assert_int_equal(idle_cap(t), 16);
	assert_int_equal(idle_count(t), 0);
	uint64_t a = keep(t, 3, 0), b = keep(t, 5, 0);
	assert_int_equal(idle_count(t), 2);
	int fd = -1;
	assert_true(idle_claim(t, b, &fd));
	assert_int_equal(fd, 5);
	assert_int_equal(idle_count(t), 1);
	/* A second event for the same connection (or a late one) is stale. */
	fd = -1;
	assert_false(idle_claim(t, b, &fd));
	assert_int_equal(fd, 5);
	assert_int_equal(idle_count(t), 1);
	assert_true(idle_claim(t, a, &fd));
	assert_int_equal(fd, 3);
	assert_int_equal(idle_count(t), 0);
	idle_free(t);
}

/* The same number kept again is a new connection: the old tag names the
 * earlier one and is refused, the new one is taken. */
static void a_reused_number_rejects_the_earlier_tag(void **state)
{
	(void)state;
	struct idle *t = idle_new(16, 1000);
	uint64_t first = keep(t, 7, 0);
	int fd;
	assert_true(idle_claim(t, first, &fd));
	uint64_t second = keep(t, 7, 10);
	assert_int_not_equal(first, second);
	assert_false(idle_claim(t, first, &fd));
	assert_int_equal(idle_count(t), 1);
	assert_true(idle_claim(t, second, &fd));
	assert_int_equal(fd, 7);
	idle_free(t);
}

static void tags_outside_the_table_are_rejected(void **state)
{
	(void)state;
	struct idle *t = idle_new(16, 1000);
	uint64_t tag = 99;
	assert_int_equal(idle_keep(t, -1, 0, &tag), -ERANGE);
	assert_int_equal(idle_keep(t, 16, 0, &tag), -ERANGE);
	assert_int_equal(tag, 99);
	assert_int_equal(idle_count(t), 0);
	keep(t, 15, 0);
	int fd;
	/* fd 16 with generation 1: past the table. */
	assert_false(idle_claim(t, ((uint64_t)1 << 32) | 16, &fd));
	/* The acceptor's own two epoll tags name no entry. */
	assert_false(idle_claim(t, UINT64_MAX, &fd));
	assert_false(idle_claim(t, UINT64_MAX - 1, &fd));
	/* Never kept: generation 0 is no tag idle_keep gives. */
	assert_false(idle_claim(t, 4, &fd));
	assert_int_equal(idle_count(t), 1);
	idle_free(t);
}

static void expiry_takes_the_due_entries_oldest_first(void **state)
{
	(void)state;
	struct idle *t = idle_new(16, 1000);
	keep(t, 9, 0);
	keep(t, 2, 100);
	keep(t, 4, 200);
	int out[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
	assert_int_equal(idle_expire(t, 999, out, 8), 0);
	/* Due at exactly its deadline. */
	assert_int_equal(idle_expire(t, 1000, out, 8), 1);
	assert_int_equal(out[0], 9);
	assert_int_equal(idle_count(t), 2);
	assert_int_equal(idle_expire(t, 1250, out, 8), 2);
	assert_int_equal(out[0], 2);
	assert_int_equal(out[1], 4);
	assert_int_equal(idle_count(t), 0);
	assert_int_equal(idle_expire(t, UINT64_MAX, out, 8), 0);
	idle_free(t);
}

static void expiry_takes_at_most_max(void **state)
{
	(void)state;
	struct idle *t = idle_new(16, 50);
	for (int fd = 10; fd > 4; fd--)
		keep(t, fd, (uint64_t)(10 - fd));
	int out[4];
	assert_int_equal(idle_expire(t, 1000, out, 4), 4);
	assert_int_equal(out[0], 10);
	assert_int_equal(out[3], 7);
	assert_int_equal(idle_expire(t, 1000, out, 4), 2);
	assert_int_equal(out[0], 6);
	assert_int_equal(out[1], 5);
	idle_free(t);
}

/* Claims from the head, the middle and the tail keep the FIFO whole: the
 * rest still expire in arrival order, and a claimed entry never does. */
static void claims_anywhere_keep_the_fifo_in_order(void **state)
{
	(void)state;
	struct idle *t = idle_new(16, 1000);
	uint64_t tags[6];
	for (int i = 0; i < 6; i++)
		tags[i] = keep(t, i + 1, (uint64_t)i * 10); /* fds 1..6 */
	int fd;
	assert_true(idle_claim(t, tags[0], &fd)); /* head */
	assert_true(idle_claim(t, tags[3], &fd)); /* middle */
	assert_true(idle_claim(t, tags[5], &fd)); /* tail */
	assert_int_equal(idle_count(t), 3);
	/* A claimed number kept again goes to the tail, due later. */
	keep(t, 1, 60);
	int out[8];
	assert_int_equal(idle_expire(t, 1030, out, 8), 2);
	assert_int_equal(out[0], 2);
	assert_int_equal(out[1], 3);
	assert_int_equal(idle_expire(t, 1059, out, 8), 1);
	assert_int_equal(out[0], 5);
	assert_int_equal(idle_expire(t, 1060, out, 8), 1);
	assert_int_equal(out[0], 1);
	assert_int_equal(idle_count(t), 0);
	/* An expired entry's tag is stale too. */
	assert_false(idle_claim(t, tags[1], &fd));
	idle_free(t);
}

/* What acceptor_stop does: every entry out, whatever its deadline. */
static void expiry_at_the_end_of_time_takes_everything(void **state)
{
	(void)state;
	struct idle *t = idle_new(8, UINT64_MAX / 2);
	keep(t, 0, 0);
	keep(t, 7, UINT64_MAX / 4);
	int out[8];
	assert_int_equal(idle_expire(t, UINT64_MAX, out, 8), 2);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 7);
	idle_free(t);
	idle_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keep_then_claim_gives_the_fd_back_once),
		cmocka_unit_test(a_reused_number_rejects_the_earlier_tag),
		cmocka_unit_test(tags_outside_the_table_are_rejected),
		cmocka_unit_test(expiry_takes_the_due_entries_oldest_first),
		cmocka_unit_test(expiry_takes_at_most_max),
		cmocka_unit_test(claims_anywhere_keep_the_fifo_in_order),
		cmocka_unit_test(expiry_at_the_end_of_time_takes_everything),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
