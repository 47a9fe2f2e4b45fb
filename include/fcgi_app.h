/*
 * fcgi_app: non-blocking FastCGI handlers behind nginx, on Deferreds.
 *
 * The shape of Klein's app.route + app.run, in C:
 *
 *     static struct deferred *hello(struct fcgi_req *req, void *data)
 *     {
 *         return fcgi_reply_text(200, NULL, "Hello, world!");
 *     }
 *
 *     int main(int argc, char **argv)
 *     {
 *         struct fcgi_app *app = fcgi_app_new();
 *         fcgi_app_route(app, FCGI_GET, "/hello", hello, NULL, 0);
 *         return fcgi_app_run(app, argc, argv);  // frees app
 *     }
 *
 * A handler returns a Deferred (deferred.h) whose result is the response:
 * a struct fcgi_resp (fcgi_resp_val), or a NUL-terminated string (the body,
 * sent as text/html with the status fcgi_req_set_status chose, 200 by
 * default), or a failure (an error page: see fcgi_app_handle_errors).  The
 * Deferred may fire at once (fcgi_reply, deferred_succeed) or later: the
 * request then stays pending, holding its connection, until something
 * fires it (an event, a timer, a worker thread, another request), the
 * client goes away (the Deferred is cancelled: its cancellers run), or
 * --pending-timeout passes (cancelled, and the client gets 504).
 *
 * Threads.  Everything here runs on one thread, the loop, unless a route
 * asks otherwise: handlers, their callbacks and cancellers, error
 * handlers, the start and stop hooks, timers and events.  Nothing in this
 * API locks, and none of it may be called from another thread.  Blocking
 * work goes to fcgi_defer_to_thread, whose function runs on a worker
 * thread and touches only its own argument; its result comes back to the
 * loop.  A route registered with FCGI_ROUTE_ANY_THREAD runs instead on the
 * thread that read the request (one of --acceptors), never waking the
 * loop: for handlers that complete at once and touch nothing but their
 * request and their own Deferreds (no event, timer, pool or app state
 * without your own locking).  Such a route is faster under load; the rule
 * is yours to keep.
 *
 * Lifetimes.
 * - The app: fcgi_app_new's caller owns it until fcgi_app_run, which
 *   frees it whatever it returns.  `data` pointers are borrowed.
 * - A request (struct fcgi_req) is the server's.  A handler may use it,
 *   and so may the callbacks on the Deferred the handler returned, until
 *   that Deferred's chain has run to its end (the reply, or the
 *   cancellation after an abort or a timeout).  Nothing may keep it past
 *   that.
 * - The request's input (path, query, params, headers, captures, body) is
 *   readable while the handler runs.  It is freed when the handler
 *   returns, so that a pending request costs only its connection, the
 *   server's few hundred bytes and its Deferred; the accessors return NULL
 *   from then on.  Copy what a later callback needs, or register the route
 *   with FCGI_ROUTE_KEEP_INPUT to keep it until the reply.  The method and
 *   the request id stay readable throughout.
 * - A response (struct fcgi_resp) belongs to its creator until given away:
 *   fcgi_resp_val and fcgi_reply take it.
 *
 * Errors.  Functions returning int give 0 or a negative errno: -EINVAL
 * for a malformed argument (what was wrong is logged at registration),
 * -EEXIST for a duplicate route, -ENOMEM.  Functions returning a Deferred
 * give NULL only when out of memory; a handler that returns NULL gets its
 * client a 503.
 */
#ifndef FCGI_APP_FCGI_APP_H
#define FCGI_APP_FCGI_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deferred.h"
#include "failure.h"

struct fcgi_app;
struct fcgi_req;
struct fcgi_resp;
struct fcgi_event;

/* ---- the app ----------------------------------------------------------- */

/* Request methods, or-ed into a route's mask.  A route that takes GET
 * takes HEAD too (the reply's headers, no body: done for you).
 * FCGI_ANY takes every method, those not listed here included. */
#define FCGI_GET 0x01u
#define FCGI_HEAD 0x02u
#define FCGI_POST 0x04u
#define FCGI_PUT 0x08u
#define FCGI_DELETE 0x10u
#define FCGI_PATCH 0x20u
#define FCGI_OPTIONS 0x40u
#define FCGI_ANY 0xffffffffu

/* Route flags. */
/* The handler runs on the thread that read the request, not the loop (see
 * Threads above).  Its Deferred must have fired when it returns; one that
 * has not is cancelled and the client gets 500. */
#define FCGI_ROUTE_ANY_THREAD 0x1u
/* The request's input stays readable until the reply instead of being
 * freed when the handler returns. */
#define FCGI_ROUTE_KEEP_INPUT 0x2u

typedef struct deferred *(*fcgi_handler_fn)(struct fcgi_req *req, void *data);

/* NULL when out of memory. */
struct fcgi_app *fcgi_app_new(void);
/* Only for an app that fcgi_app_run never got.  NULL is fine. */
void fcgi_app_free(struct fcgi_app *app);

/* Registers `handler` for the methods in `methods` on the paths `pattern`
 * matches.  Patterns are Klein's: "/simple", "/sleep/<int:n>" (one or more
 * digits), "/user/<name>" or "<string:name>" (one path segment, no '/'),
 * "/files/<path:rest>" (the rest of the path, '/' included; last only); at
 * most 8 captures.  Paths match exactly: no trailing slash, no prefix.
 * Routes are tried in registration order.  The same pattern may be
 * registered again for other methods; a path whose routes all take other
 * methods gets 405 with an Allow header, one no route matches 404.
 * -EINVAL (malformed pattern, empty method mask or a bit not defined
 * above, unknown flag; the log says what and where), -EEXIST (same pattern and a shared method), or
 * -ENOMEM. */
int fcgi_app_route(struct fcgi_app *app, unsigned methods, const char *pattern,
                   fcgi_handler_fn handler, void *data, unsigned flags);

/* Serves every route under `prefix` too ("/async": /async/simple is
 * /simple).  The prefix is a literal path of one or more segments, without
 * a trailing '/'.  At most 4 prefixes.  0, -EINVAL or -ENOSPC. */
int fcgi_app_mount(struct fcgi_app *app, const char *prefix);

/* Klein's handle_errors: a failure of `failure_type` (failure_check's
 * rule; NULL: any type) that reaches the end of a handler's chain becomes
 * the response `fn` returns.  Tried in registration order; when fn returns
 * NULL, or no handler takes the type, the default applies: 503 with
 * Retry-After for FCGI_FAILURE_QUEUE_FULL and FCGI_FAILURE_SHUTTING_DOWN,
 * else 500, with a line in the log.  The server's own cancellations (the
 * client went away, --pending-timeout's 504, a stop's 503) never reach
 * these handlers.  `req`'s input may already be freed (see Lifetimes). */
typedef struct fcgi_resp *(*fcgi_error_fn)(struct fcgi_req *req,
                                           const struct failure *f,
                                           void *data);
int fcgi_app_handle_errors(struct fcgi_app *app, const char *failure_type,
                           fcgi_error_fn fn, void *data);

/* Called on the loop once the app is configured and before it serves
 * (make events, timers and state here), and once it has stopped serving
 * (free them; pending requests are gone by then).  A start hook that
 * returns nonzero stops the app with exit status 1. */
typedef int (*fcgi_start_fn)(struct fcgi_app *app, void *data);
typedef void (*fcgi_stop_fn)(struct fcgi_app *app, void *data);
void fcgi_app_on_start(struct fcgi_app *app, fcgi_start_fn fn, void *data);
void fcgi_app_on_stop(struct fcgi_app *app, fcgi_stop_fn fn, void *data);

/* An option of the app's own, read the way the server's are: the flag
 * --name and the environment variable `env` (NULL: none; the flag wins),
 * a decimal number from min to max, `def` when not given; --help lists it
 * with `help`, out of range is exit status 2 with a message.  Its value is
 * in *value (and fcgi_app_option) from the start hook on.  Names are
 * [a-z0-9-], 1-32 bytes, not one of the server's.  Before fcgi_app_run;
 * `name`, `env`, `help` and `value` are borrowed until it returns.  0,
 * -EINVAL, -EEXIST or -ENOMEM. */
int fcgi_app_add_option(struct fcgi_app *app, const char *name,
                        const char *env, unsigned long def,
                        unsigned long min, unsigned long max,
                        const char *help, unsigned long *value);
/* The program name --help, --version and errors show (default: the
 * basename of argv[0]) and --help's one-line description.  Borrowed. */
void fcgi_app_describe(struct fcgi_app *app, const char *name,
                       const char *description);

/* Reads the flags and FCGI_APP_* variables (--help lists them), listens,
 * serves until SIGTERM, SIGINT or SIGQUIT (then drains: see README), and
 * frees `app`.  SIGHUP and SIGUSR1 reopen --log-file.  Returns the
 * process's exit status: 0 after a clean stop, 1 when it could not start,
 * 2 for bad flags. */
int fcgi_app_run(struct fcgi_app *app, int argc, char **argv);

/* The value of a numeric option by its flag name ("max-sleep",
 * "pending-timeout", ..., or one of fcgi_app_add_option's), as
 * configured.  Valid from the start hook on.
 * 0, or -ENOENT for an unknown or non-numeric option. */
int fcgi_app_option(const struct fcgi_app *app, const char *name,
                    unsigned long *value);

/* ---- the request --------------------------------------------------------- */

/* "GET", "POST", ...; "" when the method is not a token. */
const char *fcgi_req_method(const struct fcgi_req *req);
/* nginx's $request_id (nginx/fcgi_app_params.conf), "" when absent. */
const char *fcgi_req_id(const struct fcgi_req *req);

/* Each returns a NUL-terminated string and, when `len` is not NULL, its
 * length; NULL when absent or when the input is freed.  A value holding a
 * NUL byte ends there. */
/* The path routed on (nginx's $document_uri), prefix included. */
const char *fcgi_req_path(struct fcgi_req *req, size_t *len);
/* The query string without '?'; "" when there is none. */
const char *fcgi_req_query(struct fcgi_req *req, size_t *len);
/* Any FastCGI param, by its exact name ("SCRIPT_NAME", "HTTP_ACCEPT"). */
const char *fcgi_req_param(struct fcgi_req *req, const char *name, size_t *len);
/* A request header by its HTTP name, any case ("Content-Type",
 * "x-forwarded-for"): the HTTP_* param nginx made of it, or CONTENT_TYPE
 * and CONTENT_LENGTH for those two. */
const char *fcgi_req_header(struct fcgi_req *req, const char *name, size_t *len);
/* A capture of the route's pattern by name, its bytes as in the path (no
 * percent-decoding: nginx's $document_uri is decoded already). */
const char *fcgi_req_capture(struct fcgi_req *req, const char *name, size_t *len);
/* An <int:...> capture's value: 0, -ENOENT (no such capture, or the input
 * is freed) or -ERANGE (more than UINT64_MAX; *value is UINT64_MAX). */
int fcgi_req_capture_int(struct fcgi_req *req, const char *name, uint64_t *value);
/* The body nginx sent (at most --max-body bytes: more is answered 413
 * before any handler runs); its length in *len.  Not NUL-terminated;
 * NULL with *len 0 when there was none or the input is freed. */
const void *fcgi_req_body(struct fcgi_req *req, size_t *len);

/* The status a string result is sent with (default 200): Klein's
 * request.setResponseCode.  100-599, else ignored. */
void fcgi_req_set_status(struct fcgi_req *req, int status);
struct fcgi_app *fcgi_req_app(const struct fcgi_req *req);

/* ---- the response ---------------------------------------------------------- */

#define FCGI_HTML "text/html; charset=utf-8"
#define FCGI_TEXT "text/plain; charset=utf-8"
#define FCGI_JSON "application/json"

/* A response with `status` (100-599, else 500), Content-Type FCGI_HTML
 * and no body.  NULL when out of memory. */
struct fcgi_resp *fcgi_resp_new(int status);
/* Adds a header line.  The name must be a token (RFC 9110), not Status,
 * Content-Length or Content-Type (set by the server and
 * fcgi_resp_content_type); the value printable (tab allowed), with no
 * CR, LF or NUL: -EINVAL otherwise, and the response is unchanged. At
 * most 8 KiB of headers: -ENOSPC. */
int fcgi_resp_header(struct fcgi_resp *resp, const char *name,
                     const char *value);
/* The Content-Type (NULL: back to FCGI_HTML).  Same rule as a header
 * value. */
int fcgi_resp_content_type(struct fcgi_resp *resp, const char *type);
/* The body, copied.  Replaces any body set before. */
int fcgi_resp_body(struct fcgi_resp *resp, const void *body, size_t len);
/* The body, borrowed: `body` stays valid until `done(arg)` is called,
 * exactly once, when the response no longer needs it (sent, or freed).
 * `done` may be NULL for a body that outlives every response. */
void fcgi_resp_body_borrow(struct fcgi_resp *resp, const void *body,
                           size_t len, void (*done)(void *arg), void *arg);
/* NULL is fine. */
void fcgi_resp_free(struct fcgi_resp *resp);

/* The response as a Deferred's value (takes it), to return from a
 * callback.  NULL (a constructor out of memory) gives a MemoryError
 * failure, so `return fcgi_resp_val(fcgi_resp_text(...));` is safe. */
struct deferred_val fcgi_resp_val(struct fcgi_resp *resp);
/* A fired Deferred with the response (takes it; NULL gives NULL). */
struct deferred *fcgi_reply(struct fcgi_resp *resp);
/* A response with `status`, `type` (NULL: FCGI_HTML) and a copy of the
 * NUL-terminated `body`; NULL when out of memory or `type` is refused. */
struct fcgi_resp *fcgi_resp_text(int status, const char *type,
                                 const char *body);
/* fcgi_reply(fcgi_resp_text(status, type, body)). */
struct deferred *fcgi_reply_text(int status, const char *type,
                                 const char *body);

/* The app's own short HTML page for `status`, the one its 404, 503 and
 * 504 use, saying `detail` (HTML-escaped here).  NULL when out of
 * memory. */
struct fcgi_resp *fcgi_resp_page(int status, const char *detail);
struct deferred *fcgi_reply_page(int status, const char *detail);

/* ---- helpers ----------------------------------------------------------------- */

/* Failure types the default error mapping answers 503 + Retry-After. */
#define FCGI_FAILURE_QUEUE_FULL "fcgi_app.QueueFull"
#define FCGI_FAILURE_SHUTTING_DOWN "fcgi_app.ShuttingDown"

/* Twisted's deferLater: a Deferred that fires with None after `ms`
 * milliseconds.  Cancelling it (as the server does when the client of a
 * request waiting on it goes away) stops the timer. */
struct deferred *fcgi_call_later(struct fcgi_app *app, uint64_t ms);

/* deferToThread: runs fn(arg) on a worker thread; the Deferred fires on the
 * loop with fn's result (a value or a failure).  fn touches nothing of the
 * loop's (no Deferred, request or app state).  arg_free(arg) (may be NULL)
 * runs on the loop once fn is done or the job dropped.  When --workers are
 * busy and --queue jobs wait, the Deferred fails with
 * FCGI_FAILURE_QUEUE_FULL (a 503 by default); while stopping, with
 * FCGI_FAILURE_SHUTTING_DOWN.  Cancelling it drops a job not yet started;
 * one already running finishes and its result is dropped. */
struct deferred *fcgi_defer_to_thread(struct fcgi_app *app,
                                      struct deferred_val (*fn)(void *arg),
                                      void *arg, void (*arg_free)(void *));

/* ---- events: one fire completes many waiting requests -------------------- */

/*
 * An event's waiters are Deferreds its next fire completes, each with a
 * borrowed view of the fire's value (DEFERRED_VAL_PTR without a free
 * function, or None): valid while the first callback runs, so copy what
 * you keep.  A fire takes the waiters the event has at that moment and
 * completes them oldest first, paced at --fire-rate per second in batches
 * of --fire-batch (so a fire to 10,000 neither holds the loop nor floods
 * nginx); later waiters wait for the next fire.  Cancelling a waiter (its
 * client went away) removes it at once.
 */

/* Made on the loop (from the start hook on); freed by fcgi_event_free or
 * when the app stops, which cancel its waiters.  NULL when out of memory
 * or before the start hook. */
struct fcgi_event *fcgi_event_new(struct fcgi_app *app);
void fcgi_event_free(struct fcgi_event *e);
/* A Deferred the event's next fire completes.  NULL when out of memory. */
struct deferred *fcgi_event_wait(struct fcgi_event *e);
/* Completes every current waiter with `v` (None or DEFERRED_VAL_PTR),
 * which the event takes and frees after the last of them.  Returns how
 * many waited (0: nobody, and v is freed), or -EINVAL / -ENOMEM (v is
 * still yours). */
long fcgi_event_fire(struct fcgi_event *e, struct deferred_val v);
/* Waiters that the next fire would complete. */
size_t fcgi_event_waiting(const struct fcgi_event *e);

/* Events by name, made on the first wait and freed with their last
 * waiter: a name costs memory only while someone waits on it.  Names are
 * any bytes (`len` of them); check what you accept before. */
struct deferred *fcgi_event_wait_named(struct fcgi_app *app, const char *name,
                                       size_t len);
long fcgi_event_fire_named(struct fcgi_app *app, const char *name, size_t len,
                           struct deferred_val v);
size_t fcgi_event_waiting_named(const struct fcgi_app *app, const char *name,
                                size_t len);
/* Waiters not yet completed, over every event of the app. */
size_t fcgi_event_waiting_all(const struct fcgi_app *app);

#endif
