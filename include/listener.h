/*
 * listener: the listening socket, created by the app or inherited.
 *
 * libfcgi's FCGX_OpenSocket exit()s the process on a bind error and
 * unlinks the path blindly (stealing a live instance's socket); this module
 * refuses to start over a live socket, removes only a stale one, sets the
 * mode and group, and returns errors instead of exiting.  It also takes
 * a socket the app inherits (systemd socket activation, or fd 0).
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

/* A listening socket the app was started with instead of creating one:
 *   - systemd socket activation (sd_listen_fds: LISTEN_FDS/LISTEN_PID,
 *     exactly one stream socket; the variables are unset after reading);
 *   - else fd 0, if it is a listening stream socket (the spawn-fcgi and
 *     inetd-wait convention); it is moved to a new fd and fd 0 becomes
 *     /dev/null.
 * Returns 1 with the fd (made non-blocking and close-on-exec) in *fd and
 * its origin ("systemd" or "stdin") in *how, 0 when there is none, -1 with
 * a sentence in err.  The caller owns *fd, but the socket is shared with
 * whoever passed it: never unlink its path or shut it down, only close. */
int listener_inherited(int *fd, const char **how, char *err, size_t errlen);

/* Connects (blocking) to the unix path or, if hostport is set, to TCP.
 * Returns the fd or -1 with err filled. */
int listener_connect(const char *path, const char *hostport, char *err,
                     size_t errlen);

#endif
