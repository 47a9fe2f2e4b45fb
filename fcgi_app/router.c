/* router: the demo's routes as Klein-style patterns (see router.h). */
#include "router.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "log.h"
#include "pattern.h"

/* The demo's own prefix: every route is served under it too. */
#define ASYNC_PREFIX "/async"

static struct {
	const char *pattern;
	enum router_route route;
	struct pattern *p;
} table[] = {
	{"/simple", ROUTER_SIMPLE, NULL},
	{"/simple/fire", ROUTER_SIMPLE_FIRE, NULL},
	{"/error", ROUTER_ERROR, NULL},
	{"/coro", ROUTER_CORO, NULL},
	{"/sleep/<int:n>", ROUTER_SLEEP, NULL},
};
#define NROUTES (sizeof table / sizeof table[0])

static const char *const route_names[] = {
	[ROUTER_NOT_FOUND] = "not_found",
	[ROUTER_SIMPLE] = "simple",
	[ROUTER_SIMPLE_FIRE] = "simple_fire",
	[ROUTER_ERROR] = "error",
	[ROUTER_CORO] = "coro",
	[ROUTER_SLEEP] = "sleep",
	[ROUTER_SLEEP_TOO_LONG] = "sleep_too_long",
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool ready;

/* Compiled once, by whichever thread routes first; never freed (a few
 * hundred bytes for the life of the process).  The patterns are
 * constants the unit tests compile, so only out of memory can fail here,
 * and then every path is a 404 rather than a crash. */
static void compile_table(void)
{
	char err[160];
	for (size_t i = 0; i < NROUTES; i++)
		if (pattern_compile(table[i].pattern, &table[i].p, err, sizeof err) < 0) {
			log_error("msg=\"cannot compile the routes\" err=\"%s\"",
			          err[0] ? err : "out of memory");
			return;
		}
	ready = true;
}

struct router_match router_match(const char *path, size_t len,
                                 unsigned long max_sleep)
{
	struct router_match m = {ROUTER_NOT_FOUND, 0};
	pthread_once(&once, compile_table);
	if (!ready)
		return m;
	size_t plen = strlen(ASYNC_PREFIX);
	if (len > plen && memcmp(path, ASYNC_PREFIX, plen) == 0 && path[plen] == '/') {
		path += plen;
		len -= plen;
	}
	struct pattern_capture cap[PATTERN_MAX_CAPTURES];
	for (size_t i = 0; i < NROUTES; i++) {
		if (!pattern_match(table[i].p, path, len, cap))
			continue;
		m.route = table[i].route;
		if (m.route == ROUTER_SLEEP) {
			if (cap[0].overflow || cap[0].n > max_sleep)
				m.route = ROUTER_SLEEP_TOO_LONG;
			else
				m.seconds = (unsigned long)cap[0].n;
		}
		return m;
	}
	return m;
}

const char *router_route_name(enum router_route route)
{
	if ((size_t)route >= sizeof route_names / sizeof route_names[0])
		return "unknown";
	return route_names[route];
}
