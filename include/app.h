/*
 * app: the server's side of struct fcgi_app (fcgi_app.h): the route table
 * the acceptors match on, the error handlers, the hooks, and what the
 * helpers need at run time.
 *
 * Threads: the table is built before fcgi_app_run starts any thread and
 * never changes after, so app_match and app_route may run on any thread
 * without a lock.  app_bind, app_error_response and the hooks run on the
 * loop.
 */
#ifndef FCGI_APP_APP_H
#define FCGI_APP_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fcgi_app.h"

struct config;
struct event_base;
struct fanout;
struct pattern;
struct pool;

/* Route index 0 is "no route"; routes are 1..app_nroutes. */
#define APP_NO_ROUTE 0

struct app_route {
	struct pattern *pattern;
	unsigned methods;
	unsigned flags;
	fcgi_handler_fn handler;
	void *data;
	char label[48]; /* metrics and log name: "simple_fire", "sleep" */
};

struct app_match {
	uint16_t route;  /* APP_NO_ROUTE: see allow */
	uint16_t skip;   /* bytes of mount prefix before the pattern's path */
	unsigned allow;  /* no route: methods the path's routes take (405),
	                    0 when none matched the path (404) */
};

/* The method's bit (FCGI_GET...), or 0 for another method. */
unsigned app_method_bit(const char *method, size_t len);

/* Matches `path` (len bytes, need not be NUL-terminated) for `method`
 * (app_method_bit's value; HEAD is taken by GET routes). */
struct app_match app_match(const struct fcgi_app *app, unsigned method,
                           const char *path, size_t len);

size_t app_nroutes(const struct fcgi_app *app);
/* Route 1..app_nroutes. */
const struct app_route *app_route(const struct fcgi_app *app, unsigned route);
/* "GET, HEAD, POST" for an allow mask, into buf. */
void app_allow_header(unsigned allow, char *buf, size_t cap);

/* Puts the app's own options, name and description into cfg (borrowed
 * from the app) for config_load; `argv0` names the program by default. */
void app_configure(const struct fcgi_app *app, struct config *cfg,
                   const char *argv0);

/* Binds the app to the run's loop, pool, fanout and config (borrowed). */
void app_bind(struct fcgi_app *app, const struct config *cfg,
              struct event_base *base, struct pool *pool, struct fanout *fan);
/* What app_bind bound (NULL before, and after the run): for helpers.c,
 * the module behind fcgi_call_later, fcgi_defer_to_thread and events. */
struct event_base *app_base(const struct fcgi_app *app);
struct pool *app_pool(const struct fcgi_app *app);
struct fanout *app_fanout(const struct fcgi_app *app);

int app_start(struct fcgi_app *app);
void app_stop(struct fcgi_app *app);

/* The error handlers' response for failure f (the caller owns it), or
 * NULL when none took it. */
struct fcgi_resp *app_error_response(struct fcgi_app *app, struct fcgi_req *req,
                                     const struct failure *f);

#endif
