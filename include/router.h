/*
 * router: maps a request path to one of the demo's routes.
 *
 * The routes are Klein-style patterns (pattern.h: "/simple",
 * "/sleep/<int:n>", ...), also mounted under "/async".  Thread-safe: the
 * acceptor threads route while they parse, so the loop receives a route id
 * and never a path; the table is compiled by the first call.  Paths match
 * exactly, for any method.  /sleep/<n> takes digits only (leading zeros
 * allowed) and never overflows: a value above `max_sleep`, however many
 * digits, is ROUTER_SLEEP_TOO_LONG.
 */
#ifndef FCGI_APP_ROUTER_H
#define FCGI_APP_ROUTER_H

#include <stddef.h>

enum router_route {
	ROUTER_NOT_FOUND,
	ROUTER_SIMPLE,
	ROUTER_SIMPLE_FIRE,
	ROUTER_ERROR,
	ROUTER_CORO,
	ROUTER_SLEEP,           /* `seconds` is set */
	ROUTER_SLEEP_TOO_LONG,  /* n > max_sleep: 400 */
};

struct router_match {
	enum router_route route;
	unsigned long seconds;
};

/* `path` need not be NUL-terminated. */
struct router_match router_match(const char *path, size_t len,
                                 unsigned long max_sleep);

/* Stable lower-case name for logs ("simple", "not_found", ...). */
const char *router_route_name(enum router_route route);

#endif
