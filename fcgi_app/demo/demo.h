/*
 * demo: Klein's "Non-Blocking Recipes" (../shared/spec/ROUTES.md) as an
 * app on fcgi_app.h.  Each recipe is one handler in its own file and one
 * line of routes.c's table.
 *
 * Threads: /error and /coro are registered FCGI_ROUTE_ANY_THREAD (they
 * touch nothing but their own Deferreds and request); the others run on
 * the loop, which owns `struct demo`.
 */
#ifndef FCGI_APP_DEMO_H
#define FCGI_APP_DEMO_H

#include <stddef.h>

#include "fcgi_app.h"

/* The value /simple/fire fires every pending /simple with. */
#define DEMO_FIRE_VALUE "This is a simple callback...FIRE!"

/* The demo's state, made by demo_start on the loop. */
struct demo {
	struct fcgi_event *simple; /* every /simple waits on it */
	unsigned long max_sleep;   /* --max-sleep */
};

/* Registers the demo's routes (routes.c: one line per recipe), its
 * /async mount and its start and stop hooks on app.  0 or a negative
 * errno from fcgi_app_route / fcgi_app_mount. */
int demo_register(struct fcgi_app *app, struct demo *demo);

int demo_start(struct fcgi_app *app, void *demo);
void demo_stop(struct fcgi_app *app, void *demo);

/* The page's addTag(text, tag), '<{0}>{1}</{0}>'.format(tag, text), as
 * callbacks appended to d: one per tag, in order.  0 or -ENOMEM. */
int demo_add_tags(struct deferred *d, const char *const *tags, size_t n);

struct deferred *demo_simple(struct fcgi_req *req, void *demo);
struct deferred *demo_simple_fire(struct fcgi_req *req, void *demo);
struct deferred *demo_error(struct fcgi_req *req, void *demo);
struct deferred *demo_coro(struct fcgi_req *req, void *demo);
struct deferred *demo_sleep(struct fcgi_req *req, void *demo);

#endif
