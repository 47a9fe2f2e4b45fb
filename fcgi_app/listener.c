/* listener: listening sockets without libfcgi's exit() (see listener.h). */
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

static int fill_unix(struct sockaddr_un *sa, const char *path, char *err,
                     size_t errlen)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa->sun_path) {
		snprintf(err, errlen, "socket path is longer than %zu bytes: %s",
		         sizeof sa->sun_path - 1, path);
		return -1;
	}
	strcpy(sa->sun_path, path);
	return 0;
}

/* Splits "host:port" / "[v6]:port" into host and port strings. */
static int split_hostport(const char *hp, char *host, size_t hostlen,
                          const char **port, char *err, size_t errlen)
{
	const char *colon = strrchr(hp, ':');
	if (!colon || colon == hp || !colon[1]) {
		snprintf(err, errlen, "listen address must be HOST:PORT: %s", hp);
		return -1;
	}
	const char *h = hp;
	size_t n = (size_t)(colon - hp);
	if (h[0] == '[' && n >= 2 && h[n - 1] == ']') {
		h++;
		n -= 2;
	}
	if (n >= hostlen) {
		snprintf(err, errlen, "host name too long: %s", hp);
		return -1;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	*port = colon + 1;
	return 0;
}

static struct addrinfo *resolve(const char *hp, int passive, char *err,
                                size_t errlen)
{
	char host[256];
	const char *port;
	if (split_hostport(hp, host, sizeof host, &port, err, errlen) < 0)
		return NULL;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	                         .ai_flags = passive ? AI_PASSIVE : 0};
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "cannot resolve %s: %s", hp, gai_strerror(rc));
		return NULL;
	}
	return ai;
}

int listener_unix(const char *path, unsigned mode, const char *group,
                  int backlog, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	if (fill_unix(&sa, path, err, errlen) < 0)
		return -1;

	/* A socket file that still answers belongs to a running instance. */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		int live = connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
		close(probe);
		if (live) {
			snprintf(err, errlen,
			         "another process is listening on %s", path);
			return -1;
		}
	}
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket", path);
			return -1;
		}
		unlink(path); /* stale socket of a process that is gone */
	}

	gid_t gid = (gid_t)-1;
	if (group) {
		struct group *g = getgrnam(group);
		if (!g) {
			snprintf(err, errlen, "unknown group '%s'", group);
			return -1;
		}
		gid = g->gr_gid;
	}

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* No window in which the socket exists with looser permissions. */
	mode_t old = umask(0777 & ~mode);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (rc < 0)
		goto fail;
	if (chmod(path, mode) < 0 ||
	    (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) ||
	    listen(fd, backlog) < 0) {
		int saved = errno;
		unlink(path);
		errno = saved;
		goto fail;
	}
	return fd;

fail:
	snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

int listener_tcp(const char *hostport, int backlog, char *err, size_t errlen)
{
	struct addrinfo *ai = resolve(hostport, 1, err, errlen);
	if (!ai)
		return -1;
	int fd = -1, saved = 0;
	for (struct addrinfo *p = ai; p; p = p->ai_next) {
		fd = socket(p->ai_family,
		            p->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, p->ai_addr, p->ai_addrlen) == 0 &&
		    listen(fd, backlog) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		snprintf(err, errlen, "cannot listen on %s: %s", hostport,
		         strerror(saved));
	return fd;
}

/* A listening stream socket?  (SO_ACCEPTCONN: listen() was called.) */
static bool is_listening_stream(int fd)
{
	int v = 0, type = 0;
	socklen_t len = sizeof v, tlen = sizeof type;
	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v &&
	       getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 &&
	       type == SOCK_STREAM;
}

/* The acceptors poll it; its open file description is shared with the
 * process that passed it, which only polls or holds it, so O_NONBLOCK
 * there is harmless. */
static int prepare(int fd, char *err, size_t errlen)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot set up inherited fd %d: %s", fd,
		         strerror(errno));
		return -1;
	}
	return 0;
}

int listener_inherited(int *fd, const char **how, char *err, size_t errlen)
{
	*fd = -1;
	*how = NULL;
	int n = sd_listen_fds(1);
	if (n < 0) {
		snprintf(err, errlen, "LISTEN_FDS: %s", strerror(-n));
		return -1;
	}
	if (n > 1) {
		snprintf(err, errlen,
		         "systemd passed %d sockets; the app takes exactly one "
		         "(one ListenStream= in the .socket unit)", n);
		return -1;
	}
	if (n == 1) {
		if (!is_listening_stream(SD_LISTEN_FDS_START)) {
			snprintf(err, errlen, "the fd systemd passed (%d) is not a "
			         "listening stream socket (Accept=yes?)",
			         SD_LISTEN_FDS_START);
			return -1;
		}
		if (prepare(SD_LISTEN_FDS_START, err, errlen) < 0)
			return -1;
		*fd = SD_LISTEN_FDS_START;
		*how = "systemd";
		return 1;
	}
	if (!is_listening_stream(0))
		return 0;
	/* Off fd 0, so that stdin is not the socket and no later open()
	 * gets number 0 once the socket is closed. */
	int moved = fcntl(0, F_DUPFD_CLOEXEC, 3);
	int null = moved >= 0 ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
	if (null < 0 || dup2(null, 0) < 0) {
		snprintf(err, errlen, "cannot move the socket off fd 0: %s",
		         strerror(errno));
		if (moved >= 0)
			close(moved);
		if (null >= 0)
			close(null);
		return -1;
	}
	close(null);
	if (prepare(moved, err, errlen) < 0) {
		close(moved);
		return -1;
	}
	*fd = moved;
	*how = "stdin";
	return 1;
}

int listener_connect(const char *path, const char *hostport, char *err,
                     size_t errlen)
{
	int fd = -1;
	if (hostport) {
		struct addrinfo *ai = resolve(hostport, 0, err, errlen);
		if (!ai)
			return -1;
		for (struct addrinfo *p = ai; p; p = p->ai_next) {
			fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, 0);
			if (fd >= 0 && connect(fd, p->ai_addr, p->ai_addrlen) == 0)
				break;
			if (fd >= 0)
				close(fd);
			fd = -1;
		}
		freeaddrinfo(ai);
	} else {
		struct sockaddr_un sa;
		if (fill_unix(&sa, path, err, errlen) < 0)
			return -1;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0)
		snprintf(err, errlen, "cannot connect to %s: %s",
		         hostport ? hostport : path, strerror(errno));
	return fd;
}
