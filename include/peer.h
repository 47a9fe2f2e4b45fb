/*
 * peer: the address check on an accepted connection (FCGI_WEB_SERVER_ADDRS).
 *
 * libfcgi's OS_Accept applied that variable; the acceptors accept the
 * connections themselves, so this module applies it the same way.  It
 * reads the environment on each call and keeps no state: safe from any
 * thread while nothing changes the environment (the app sets nothing
 * after its threads start).
 */
#ifndef FCGI_APP_PEER_H
#define FCGI_APP_PEER_H

#include <stdbool.h>

/* Whether the peer of the connected socket fd may talk to the app.  When
 * FCGI_WEB_SERVER_ADDRS is unset or empty, every peer may; a unix-socket
 * peer always may, as may an fd whose peer address cannot be read.
 * Otherwise only a TCP peer whose IPv4 address is in the comma-separated
 * list may (an IPv4-mapped IPv6 peer, from a dual-stack listener, is
 * checked as IPv4; any other IPv6 peer is refused, since the list cannot
 * name it).  Items that are not IPv4 addresses match nothing.  A refusal
 * is logged (warn); the caller closes fd. */
bool peer_allowed(int fd);

#endif
