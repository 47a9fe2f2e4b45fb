/*
 * The demo app: Klein's "Non-Blocking Recipes" behind nginx.
 *
 * Every route is served under /async too, as the page's own link to
 * /async/simple expects.  Paths match for any method (ROUTES.md).
 */
#include <stdio.h>

#include "demo.h"

static const struct {
	const char *pattern;
	fcgi_handler_fn handler;
	unsigned flags;
} routes[] = {
	{"/simple", demo_simple, 0},
	{"/simple/fire", demo_simple_fire, 0},
	{"/error", demo_error, FCGI_ROUTE_ANY_THREAD},
	{"/coro", demo_coro, FCGI_ROUTE_ANY_THREAD},
	{"/sleep/<int:n>", demo_sleep, 0},
};

int main(int argc, char **argv)
{
	static struct demo demo;
	struct fcgi_app *app = fcgi_app_new();
	if (!app) {
		fprintf(stderr, "fcgi_app: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
		if (fcgi_app_route(app, FCGI_ANY, routes[i].pattern,
		                   routes[i].handler, &demo, routes[i].flags) < 0) {
			fcgi_app_free(app);
			return 1;
		}
	if (fcgi_app_mount(app, "/async") < 0) {
		fcgi_app_free(app);
		return 1;
	}
	fcgi_app_on_start(app, demo_start, &demo);
	fcgi_app_on_stop(app, demo_stop, &demo);
	return fcgi_app_run(app, argc, argv);
}
