/*
 * shed: answering 503 at the fd limit, with a reserve fd.
 *
 * At EMFILE accept4 cannot take a pending connection, which then sits in
 * the listening socket's backlog until nginx times out.  The caller keeps
 * one spare fd open (the reserve, on /dev/null); shed_one gives it up,
 * takes the connection into the freed number, answers 503 with
 * Retry-After, closes it and takes the reserve back, so nginx and its
 * client learn at once.
 *
 * Threads: every call on one reserve is serialized by the caller, and so
 * is every accept on the listening socket it sheds from (the acceptor
 * holds its accept_mu around both): otherwise another thread's accept
 * could take the number the reserve freed.  Nothing else in the app opens
 * fds once it runs, so at EMFILE the reserve comes back; at ENFILE another
 * process may take it, and the reserve stays -1 until shed_reserve_fill
 * gets it again.  shed_drain_request is pure and thread-safe.
 */
#ifndef FCGI_APP_SHED_H
#define FCGI_APP_SHED_H

#include <stddef.h>

/* What shed_one did. */
enum shed_result {
	SHED_NONE,   /* the backlog was empty (accept fails with EMFILE first) */
	SHED_ONE,    /* took a connection: answered 503, or refused its peer */
	SHED_FAILED, /* no reserve to give up, or accept failed otherwise */
};

/* Opens the reserve (on /dev/null, close-on-exec) into *reserve if it is
 * -1; it stays -1 while no fd is free.  The caller owns *reserve and
 * closes it when done (if >= 0). */
void shed_reserve_fill(int *reserve);

/* Sheds one connection from listen_fd (non-blocking): gives up *reserve,
 * accepts, checks the peer (peer_allowed: a refused peer is closed
 * without an answer), reads nginx's request for at most drain_ms and
 * drain_cap bytes (shed_drain_request), answers 503 as request id 1 (nginx
 * never multiplexes) and closes; then refills *reserve. */
enum shed_result shed_one(int listen_fd, int *reserve, size_t drain_cap,
                          int drain_ms);

/* Reads what the peer sends on fd up to a request's empty FCGI_STDIN
 * record (the end of a request), at EOF, or once more than cap bytes or
 * timeout_ms have gone by; the bytes are dropped.  Closing a unix socket
 * with bytes unread resets it, and a close before nginx has written its
 * request fails nginx's write: either way nginx answers 502 instead of
 * relaying ours.  fd may be blocking (each read is MSG_DONTWAIT). */
void shed_drain_request(int fd, int timeout_ms, size_t cap);

#endif
