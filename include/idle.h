/*
 * idle: the table of kept-alive connections waiting for nginx's next
 * request.
 *
 * The table is indexed by fd, one 24-byte entry per possible fd (untouched
 * pages cost no RSS).  A kept connection's entry is live from idle_keep
 * until idle_claim or idle_expire takes it, and sits on a FIFO meanwhile:
 * every entry has the same timeout, so arrival order is deadline order and
 * expiry looks at the head only.  Each idle_keep returns a tag, (generation
 * << 32) | fd, that the acceptor stores as the fd's epoll data: the
 * generation tells a readiness event for this connection from a stale one
 * for an earlier connection that had the same fd number.  A tag's low 32
 * bits are below the table's capacity (at most 2^20), so no tag equals
 * UINT64_MAX or UINT64_MAX - 1, which the acceptor uses for its own fds.
 *
 * Times are milliseconds on the caller's clock (the acceptor: clock_ms),
 * passed in, so the table reads no clock.
 *
 * Threads: the table has no lock of its own.  The caller serializes every
 * call but idle_new, idle_free and idle_cap (the acceptor holds its `mu`:
 * acceptor_keep on the loop or an acceptor thread, claims on the acceptor
 * threads, expiry on the watchdog).  idle_cap reads a constant, from any
 * thread.  idle_new and idle_free run with no other thread using the table.
 *
 * Ownership: the table never opens, closes or polls an fd.  The caller
 * hands an fd's ownership to the table's entry with idle_keep, and gets it
 * back from idle_claim or idle_expire; from then on the entry no longer
 * names it, so the caller may close it without the lock.
 */
#ifndef FCGI_APP_IDLE_H
#define FCGI_APP_IDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct idle;

/* A table for fds 0 .. cap - 1 (cap at most 2^20), whose entries expire
 * timeout_ms after their idle_keep.  NULL when out of memory. */
struct idle *idle_new(size_t cap, uint64_t timeout_ms);
/* Frees the table, not the fds still in it (take them with idle_expire at
 * UINT64_MAX first).  NULL is fine. */
void idle_free(struct idle *t);

/* The number of fds the table can hold: fds from 0 to this minus 1. */
size_t idle_cap(const struct idle *t);
/* Live entries. */
size_t idle_count(const struct idle *t);

/* Adds fd (not in the table already) at the FIFO's tail, due at
 * now_ms + timeout_ms, and stores its new tag in *tag.  0, or -ERANGE when
 * fd is negative or not below idle_cap. */
int idle_keep(struct idle *t, int fd, uint64_t now_ms, uint64_t *tag);

/* Takes the entry a tag names out of the table, if it is still that
 * entry: true and *fd_out is the fd (the caller's again).  False when the
 * tag is stale (the entry was claimed or expired meanwhile, or the number
 * was kept again since) or names no fd of the table; *fd_out is then the
 * tag's fd number, which the caller must not touch. */
bool idle_claim(struct idle *t, uint64_t tag, int *fd_out);

/* Takes up to `max` entries due at now_ms (deadline <= now_ms) off the
 * FIFO, oldest first, into out[]; returns how many.  At UINT64_MAX it
 * takes every entry. */
unsigned idle_expire(struct idle *t, uint64_t now_ms, int *out, unsigned max);

#endif
