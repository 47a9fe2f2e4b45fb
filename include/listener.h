/*
 * listener: the listening socket, created by the app itself.
 *
 * libfcgi's FCGX_OpenSocket exit()s the process on a bind error and
 * unlinks the path blindly (stealing a live instance's socket); this module
 * refuses to start over a live socket, removes only a stale one, sets the
 * mode and group, and returns errors instead of exiting.
 */
#ifndef FCGI_APP_LISTENER_H
#define FCGI_APP_LISTENER_H

#include <stddef.h>

/* Creates a non-blocking unix listening socket at `path` with permission
 * bits `mode` and, if `group` is set, that group.  Returns the fd, or -1
 * with a sentence in err. */
int listener_unix(const char *path, unsigned mode, const char *group,
                  int backlog, char *err, size_t errlen);

/* Same for TCP "HOST:PORT" (IPv4 or [IPv6]). */
int listener_tcp(const char *hostport, int backlog, char *err,
                 size_t errlen);

/* Connects (blocking) to the unix path or, if hostport is set, to TCP.
 * Returns the fd or -1 with err filled. */
int listener_connect(const char *path, const char *hostport, char *err,
                     size_t errlen);

#endif
