/* Unit tests for listener_inherited: the socket systemd or fd 0 passes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listener.h"

/* A listening (or, with listen_too false, only bound) unix socket, placed
 * on fd `at`. */
static void socket_at(int at, bool listen_too)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	/* An abstract address: nothing on the filesystem. */
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "fcgi_app-test-%d-%d",
	         (int)getpid(), at);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	                            strlen(sa.sun_path + 1));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
	if (listen_too)
		assert_int_equal(listen(fd, 8), 0);
	if (fd != at) {
		assert_int_equal(dup2(fd, at), at);
		close(fd);
	}
}

static void set_listen_env(const char *fds)
{
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	setenv("LISTEN_FDS", fds, 1);
	setenv("LISTEN_PID", pid, 1);
}

/* fd 0 back to /dev/null and fd 3 closed after each test. */
static int reset(void **state)
{
	(void)state;
	int null = open("/dev/null", O_RDONLY);
	dup2(null, 0);
	close(null);
	close(3);
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	return 0;
}

static void test_nothing_inherited(void **state)
{
	(void)state;
	int fd = 7;
	const char *how = "x";
	char err[256] = "";
	assert_int_equal(listener_inherited(&fd, &how, err, sizeof err), 0);
	assert_int_equal(fd, -1);
	assert_null(how);
}

static void test_fd0_listening_socket_is_taken_and_moved(void **state)
{
	(void)state;
	socket_at(0, true);
	int fd = -1;
	const char *how = NULL;
	char err[256] = "";
	assert_int_equal(listener_inherited(&fd, &how, err, sizeof err), 1);
	assert_string_equal(how, "stdin");
	assert_true(fd >= 3);
	int v = 0;
	socklen_t len = sizeof v;
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len), 0);
	assert_int_equal(v, 1);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* fd 0 is no longer the socket. */
	struct stat st;
	assert_int_equal(fstat(0, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	close(fd);
}

static void test_fd0_socket_not_listening_is_ignored(void **state)
{
	(void)state;
	socket_at(0, false);
	int fd = -1;
	const char *how = NULL;
	char err[256] = "";
	assert_int_equal(listener_inherited(&fd, &how, err, sizeof err), 0);
	assert_int_equal(fd, -1);
}

static void test_systemd_socket_is_taken(void **state)
{
	(void)state;
	socket_at(3, true);
	set_listen_env("1");
	int fd = -1;
	const char *how = NULL;
	char err[256] = "";
	assert_int_equal(listener_inherited(&fd, &how, err, sizeof err), 1);
	assert_string_equal(how, "systemd");
	assert_int_equal(fd, 3);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	/* Read once: a child would not see them. */
	assert_null(getenv("LISTEN_FDS"));
	assert_null(getenv("LISTEN_PID"));
}

static void test_systemd_for_another_pid_is_ignored(void **state)
{
	(void)state;
	socket_at(3, true);
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_PID", "1", 1);
	int fd = -1;
	const char *how = NULL;
	char err[256] = "";
	assert_int_equal(listener_inherited(&fd, &how, err, sizeof err), 0);
}

static void test_systemd_two_sockets_is_an_error(void **state)
{
	(void)state;
	socket_at(3, true);
	socket_at(4, true);
	set_listen_env("2");
	int fd = -1;
	const char *how = NULL;
	char err[256] = "";
	assert_int_equal(listener_inherited(&fd, &how, err, sizeof err), -1);
	assert_non_null(strstr(err, "passed 2 sockets"));
	close(4);
}

static void test_systemd_socket_not_listening_is_an_error(void **state)
{
	(void)state;
	socket_at(3, false);
	set_listen_env("1");
	int fd = -1;
	const char *how = NULL;
	char err[256] = "";
	assert_int_equal(listener_inherited(&fd, &how, err, sizeof err), -1);
	assert_non_null(strstr(err, "not a listening stream socket"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_nothing_inherited, reset),
		cmocka_unit_test_teardown(test_fd0_listening_socket_is_taken_and_moved, reset),
		cmocka_unit_test_teardown(test_fd0_socket_not_listening_is_ignored, reset),
		cmocka_unit_test_teardown(test_systemd_socket_is_taken, reset),
		cmocka_unit_test_teardown(test_systemd_for_another_pid_is_ignored, reset),
		cmocka_unit_test_teardown(test_systemd_two_sockets_is_an_error, reset),
		cmocka_unit_test_teardown(test_systemd_socket_not_listening_is_an_error, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
