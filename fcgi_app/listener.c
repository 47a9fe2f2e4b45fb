/* listener: listening sockets without libfcgi's exit() (see listener.h). */
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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
