/*
 * The demo's route table: one line per recipe.  Every route is served
 * under /async too, as the page's own link to /async/simple expects, and
 * paths match for any method (ROUTES.md).
 */
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

int demo_register(struct fcgi_app *app, struct demo *demo)
{
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		int rc = fcgi_app_route(app, FCGI_ANY, routes[i].pattern,
		                        routes[i].handler, demo, routes[i].flags);
		if (rc < 0)
			return rc;
	}
	fcgi_app_on_start(app, demo_start, demo);
	fcgi_app_on_stop(app, demo_stop, demo);
	return fcgi_app_mount(app, "/async");
}
