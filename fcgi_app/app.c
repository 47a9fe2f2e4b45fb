/* app: the public app object, its route table and its helpers (see
 * fcgi_app.h and app.h). */
#include "app.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fanout.h"
#include "log.h"
#include "pattern.h"
#include "pool.h"

#define MAX_MOUNTS 4
#define KNOWN_FLAGS (FCGI_ROUTE_ANY_THREAD | FCGI_ROUTE_KEEP_INPUT)
#define KNOWN_METHODS (FCGI_GET | FCGI_HEAD | FCGI_POST | FCGI_PUT | \
                       FCGI_DELETE | FCGI_PATCH | FCGI_OPTIONS)

struct error_handler {
	char *type; /* NULL: any */
	fcgi_error_fn fn;
	void *data;
};

struct fcgi_app {
	struct app_route *routes; /* [0] unused: index 0 is "no route" */
	size_t nroutes, routes_alloc;
	struct {
		char *s;
		size_t len;
	} mounts[MAX_MOUNTS];
	size_t nmounts;
	struct error_handler *errors;
	size_t nerrors;
	fcgi_start_fn on_start;
	void *start_data;
	fcgi_stop_fn on_stop;
	void *stop_data;
	struct config_extra *options;
	size_t noptions;
	const char *name, *description;
	/* Set by app_bind for the run; borrowed. */
	const struct config *cfg;
	struct event_base *base;
	struct pool *pool;
	struct fanout *fan;
};

struct fcgi_app *fcgi_app_new(void)
{
	struct fcgi_app *app = calloc(1, sizeof *app);
	if (app && !(app->routes = calloc(1, sizeof *app->routes))) {
		free(app);
		return NULL;
	}
	if (app)
		app->routes_alloc = 1;
	return app;
}

void fcgi_app_free(struct fcgi_app *app)
{
	if (!app)
		return;
	for (size_t i = 1; i <= app->nroutes; i++)
		pattern_free(app->routes[i].pattern);
	free(app->routes);
	for (size_t i = 0; i < app->nmounts; i++)
		free(app->mounts[i].s);
	for (size_t i = 0; i < app->nerrors; i++)
		free(app->errors[i].type);
	free(app->errors);
	free(app->options);
	free(app);
}

/* The label of a pattern: its literal segments joined by '_', captures
 * left out ("/simple/fire" -> "simple_fire", "/sleep/<int:n>" -> "sleep"),
 * bytes outside [A-Za-z0-9_] as '_'; "root" for "/".  Safe in a
 * Prometheus label and a logfmt value. */
static void make_label(const char *src, char *out, size_t cap)
{
	size_t n = 0;
	for (const char *p = src; *p && n + 1 < cap;) {
		if (*p == '/') {
			p++;
			continue;
		}
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (*p != '<') {
			if (n && n + 1 < cap)
				out[n++] = '_';
			for (size_t i = 0; i < len && n + 1 < cap; i++) {
				char c = p[i];
				bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				          (c >= '0' && c <= '9') || c == '_';
				out[n++] = ok ? c : '_';
			}
		}
		p += len;
	}
	if (n == 0)
		n = (size_t)snprintf(out, cap, "root");
	out[n] = '\0';
}

int fcgi_app_route(struct fcgi_app *app, unsigned methods, const char *pattern,
                   fcgi_handler_fn handler, void *data, unsigned flags)
{
	/* A bit no method maps to (app_method_bit) would never match, yet
	 * would show in a 405's Allow as nothing. */
	if (!app || !pattern || !handler || !methods ||
	    (methods != FCGI_ANY && (methods & ~KNOWN_METHODS)) ||
	    (flags & ~KNOWN_FLAGS)) {
		log_error("msg=\"route refused: known methods, a handler and known "
		          "flags are needed\" pattern=\"%s\"", pattern ? pattern : "");
		return -EINVAL;
	}
	if (methods & FCGI_GET)
		methods |= FCGI_HEAD;
	char err[160];
	struct pattern *p;
	int rc = pattern_compile(pattern, &p, err, sizeof err);
	if (rc < 0) {
		if (rc == -EINVAL)
			log_error("msg=\"route refused: malformed pattern\" "
			          "pattern=\"%s\" err=\"%s\"", pattern, err);
		return rc;
	}
	for (size_t i = 1; i <= app->nroutes; i++)
		if ((app->routes[i].methods & methods) &&
		    pattern_same(app->routes[i].pattern, p)) {
			log_error("msg=\"route refused: the same pattern and method "
			          "are registered already\" pattern=\"%s\" as=\"%s\"",
			          pattern, pattern_source(app->routes[i].pattern));
			pattern_free(p);
			return -EEXIST;
		}
	if (app->nroutes + 1 >= UINT16_MAX) {
		pattern_free(p);
		return -ENOSPC;
	}
	if (app->nroutes + 1 == app->routes_alloc) {
		size_t n = app->routes_alloc * 2;
		struct app_route *r = realloc(app->routes, n * sizeof *r);
		if (!r) {
			pattern_free(p);
			return -ENOMEM;
		}
		app->routes = r;
		app->routes_alloc = n;
	}
	struct app_route *r = &app->routes[++app->nroutes];
	*r = (struct app_route){.pattern = p, .methods = methods, .flags = flags,
	                        .handler = handler, .data = data};
	make_label(pattern, r->label, sizeof r->label);
	return 0;
}

int fcgi_app_mount(struct fcgi_app *app, const char *prefix)
{
	size_t len = prefix ? strlen(prefix) : 0;
	if (len < 2 || prefix[0] != '/' || prefix[len - 1] == '/' ||
	    strstr(prefix, "//") || strchr(prefix, '<') || len > 256) {
		log_error("msg=\"mount refused: a prefix is a literal path like "
		          "/async, without a trailing /\" prefix=\"%s\"",
		          prefix ? prefix : "");
		return -EINVAL;
	}
	if (app->nmounts == MAX_MOUNTS)
		return -ENOSPC;
	if (!(app->mounts[app->nmounts].s = strdup(prefix)))
		return -ENOMEM;
	app->mounts[app->nmounts++].len = len;
	return 0;
}

int fcgi_app_handle_errors(struct fcgi_app *app, const char *failure_type,
                           fcgi_error_fn fn, void *data)
{
	if (!app || !fn)
		return -EINVAL;
	struct error_handler *e =
	    realloc(app->errors, (app->nerrors + 1) * sizeof *e);
	if (!e)
		return -ENOMEM;
	app->errors = e;
	char *type = NULL;
	if (failure_type && !(type = strdup(failure_type)))
		return -ENOMEM;
	app->errors[app->nerrors++] = (struct error_handler){type, fn, data};
	return 0;
}

void fcgi_app_on_start(struct fcgi_app *app, fcgi_start_fn fn, void *data)
{
	app->on_start = fn;
	app->start_data = data;
}

void fcgi_app_on_stop(struct fcgi_app *app, fcgi_stop_fn fn, void *data)
{
	app->on_stop = fn;
	app->stop_data = data;
}

static bool option_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '-'))
			return false;
	return true;
}

int fcgi_app_add_option(struct fcgi_app *app, const char *name,
                        const char *env, unsigned long def,
                        unsigned long min, unsigned long max,
                        const char *help, unsigned long *value)
{
	if (!app || !option_name_ok(name) || !value || min > max || def < min ||
	    def > max) {
		log_error("msg=\"option refused: a name of [a-z0-9-], a value "
		          "pointer and min <= default <= max are needed\" "
		          "name=\"%s\"", option_name_ok(name) ? name : "?");
		return -EINVAL;
	}
	bool taken = config_is_option(name);
	for (size_t i = 0; i < app->noptions && !taken; i++)
		taken = strcmp(app->options[i].name, name) == 0;
	if (taken) {
		log_error("msg=\"option refused: the name is taken\" name=%s", name);
		return -EEXIST;
	}
	struct config_extra *o =
	    realloc(app->options, (app->noptions + 1) * sizeof *o);
	if (!o)
		return -ENOMEM;
	app->options = o;
	o[app->noptions++] = (struct config_extra){
		.name = name, .env = env, .help = help,
		.def = def, .min = min, .max = max, .value = value,
	};
	*value = def;
	return 0;
}

void fcgi_app_describe(struct fcgi_app *app, const char *name,
                       const char *description)
{
	app->name = name;
	app->description = description;
}

void app_configure(const struct fcgi_app *app, struct config *cfg,
                   const char *argv0)
{
	cfg->extra = app->options;
	cfg->nextra = app->noptions;
	const char *base = argv0 ? strrchr(argv0, '/') : NULL;
	cfg->prog = app->name ? app->name : base ? base + 1 : argv0;
	cfg->description = app->description;
}

int fcgi_app_option(const struct fcgi_app *app, const char *name,
                    unsigned long *value)
{
	if (!app->cfg)
		return -ENOENT;
	return config_value(app->cfg, name, value);
}

/* ---- matching ------------------------------------------------------------ */

unsigned app_method_bit(const char *m, size_t len)
{
	static const struct {
		const char *name;
		unsigned bit;
	} methods[] = {
		{"GET", FCGI_GET},       {"HEAD", FCGI_HEAD},
		{"POST", FCGI_POST},     {"PUT", FCGI_PUT},
		{"DELETE", FCGI_DELETE}, {"PATCH", FCGI_PATCH},
		{"OPTIONS", FCGI_OPTIONS},
	};
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (len == strlen(methods[i].name) &&
		    memcmp(m, methods[i].name, len) == 0)
			return methods[i].bit;
	return 0;
}

static struct app_match match_at(const struct fcgi_app *app, unsigned method,
                                 const char *path, size_t len, size_t skip)
{
	struct app_match m = {APP_NO_ROUTE, (uint16_t)skip, 0};
	struct pattern_capture caps[PATTERN_MAX_CAPTURES];
	for (size_t i = 1; i <= app->nroutes; i++) {
		const struct app_route *r = &app->routes[i];
		/* An unknown method (0) is taken only by FCGI_ANY routes. */
		bool takes = method ? (r->methods & method) != 0
		                    : r->methods == FCGI_ANY;
		if (!takes && (m.allow & r->methods) == r->methods)
			continue; /* adds nothing to Allow: skip the match */
		if (!pattern_match(r->pattern, path, len, caps))
			continue;
		if (takes) {
			m.route = (uint16_t)i;
			m.allow = 0;
			return m;
		}
		m.allow |= r->methods;
	}
	return m;
}

struct app_match app_match(const struct fcgi_app *app, unsigned method,
                           const char *path, size_t len)
{
	struct app_match m = match_at(app, method, path, len, 0);
	if (m.route)
		return m;
	for (size_t i = 0; i < app->nmounts; i++) {
		size_t pl = app->mounts[i].len;
		if (len > pl && path[pl] == '/' &&
		    memcmp(path, app->mounts[i].s, pl) == 0) {
			struct app_match mm =
			    match_at(app, method, path + pl, len - pl, pl);
			if (mm.route)
				return mm;
			m.allow |= mm.allow;
		}
	}
	return m;
}

size_t app_nroutes(const struct fcgi_app *app)
{
	return app->nroutes;
}

const struct app_route *app_route(const struct fcgi_app *app, unsigned route)
{
	return route >= 1 && route <= app->nroutes ? &app->routes[route] : NULL;
}

void app_allow_header(unsigned allow, char *buf, size_t cap)
{
	static const char *const names[] = {"GET", "HEAD", "POST", "PUT",
	                                    "DELETE", "PATCH", "OPTIONS"};
	size_t n = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
		if (allow & (1u << i)) {
			int k = snprintf(buf + n, cap - n, "%s%s", n ? ", " : "",
			                 names[i]);
			if (k < 0 || (size_t)k >= cap - n) {
				buf[n] = '\0'; /* whole names only */
				break;
			}
			n += (size_t)k;
		}
}

/* ---- run time ----------------------------------------------------------- */

void app_bind(struct fcgi_app *app, const struct config *cfg,
              struct event_base *base, struct pool *pool, struct fanout *fan)
{
	app->cfg = cfg;
	app->base = base;
	app->pool = pool;
	app->fan = fan;
}

int app_start(struct fcgi_app *app)
{
	return app->on_start ? app->on_start(app, app->start_data) : 0;
}

void app_stop(struct fcgi_app *app)
{
	if (app->on_stop)
		app->on_stop(app, app->stop_data);
}

struct fcgi_resp *app_error_response(struct fcgi_app *app, struct fcgi_req *req,
                                     const struct failure *f)
{
	for (size_t i = 0; i < app->nerrors; i++) {
		const struct error_handler *e = &app->errors[i];
		if (e->type && !failure_check(f, e->type))
			continue;
		struct fcgi_resp *resp = e->fn(req, f, e->data);
		if (resp)
			return resp;
	}
	return NULL;
}

struct event_base *app_base(const struct fcgi_app *app)
{
	return app->base;
}

struct pool *app_pool(const struct fcgi_app *app)
{
	return app->pool;
}

struct fanout *app_fanout(const struct fcgi_app *app)
{
	return app->fan;
}
