/* router: exact path matching for the demo's routes (see router.h). */
#include "router.h"

#include <limits.h>
#include <string.h>

#define ASYNC_PREFIX "/async"
#define SLEEP_PREFIX "/sleep/"

static const struct {
	const char *path;
	enum router_route route;
} fixed_routes[] = {
	{"/simple", ROUTER_SIMPLE},
	{"/simple/fire", ROUTER_SIMPLE_FIRE},
	{"/error", ROUTER_ERROR},
	{"/coro", ROUTER_CORO},
};

static const char *const route_names[] = {
	[ROUTER_NOT_FOUND] = "not_found",
	[ROUTER_SIMPLE] = "simple",
	[ROUTER_SIMPLE_FIRE] = "simple_fire",
	[ROUTER_ERROR] = "error",
	[ROUTER_CORO] = "coro",
	[ROUTER_SLEEP] = "sleep",
	[ROUTER_SLEEP_TOO_LONG] = "sleep_too_long",
};

static int has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(s, prefix, n) == 0;
}

/* werkzeug's <int:n>: one or more ASCII digits and nothing else. */
static struct router_match match_sleep(const char *digits, size_t len,
                                       unsigned long max_sleep)
{
	struct router_match m = {ROUTER_NOT_FOUND, 0};
	if (len == 0)
		return m;
	unsigned long value = 0;
	int too_big = 0;
	for (size_t i = 0; i < len; i++) {
		if (digits[i] < '0' || digits[i] > '9')
			return m;
		unsigned d = (unsigned)(digits[i] - '0');
		/* Stop accumulating once past the limit, so no digit count can
		 * overflow; keep scanning to reject trailing non-digits. */
		if (!too_big) {
			if (value > (ULONG_MAX - d) / 10) {
				too_big = 1;
				continue;
			}
			value = value * 10 + d;
			if (value > max_sleep)
				too_big = 1;
		}
	}
	m.route = too_big ? ROUTER_SLEEP_TOO_LONG : ROUTER_SLEEP;
	m.seconds = too_big ? 0 : value;
	return m;
}

struct router_match router_match(const char *path, size_t len,
                                 unsigned long max_sleep)
{
	struct router_match m = {ROUTER_NOT_FOUND, 0};
	if (has_prefix(path, len, ASYNC_PREFIX "/")) {
		path += strlen(ASYNC_PREFIX);
		len -= strlen(ASYNC_PREFIX);
	}
	for (size_t i = 0; i < sizeof fixed_routes / sizeof fixed_routes[0]; i++) {
		if (strlen(fixed_routes[i].path) == len &&
		    memcmp(fixed_routes[i].path, path, len) == 0) {
			m.route = fixed_routes[i].route;
			return m;
		}
	}
	if (has_prefix(path, len, SLEEP_PREFIX))
		return match_sleep(path + strlen(SLEEP_PREFIX),
		                   len - strlen(SLEEP_PREFIX), max_sleep);
	return m;
}

const char *router_route_name(enum router_route route)
{
	if ((size_t)route >= sizeof route_names / sizeof route_names[0])
		return "unknown";
	return route_names[route];
}
