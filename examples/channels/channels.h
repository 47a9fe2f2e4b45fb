/*
 * channels: long-poll publish/subscribe on fcgi_app.h, the job nchan does
 * inside nginx.
 *
 *   GET  /sub/<channel>   waits for the next message on the channel
 *   POST /pub/<channel>   sends its body (and Content-Type) to every
 *                         subscriber waiting on the channel; answers
 *                         {"delivered":N}
 *
 * A channel is a named event (fcgi_event_wait_named): it costs memory only
 * while someone waits on it, and nothing is stored for a channel nobody
 * waits on (a message published there is dropped).  One handler per file;
 * main.c has the route table and the options.
 *
 * Threads: every route runs on the loop, which owns the named events and
 * `struct channels`.
 */
#ifndef FCGI_APP_CHANNELS_H
#define FCGI_APP_CHANNELS_H

#include <stdbool.h>
#include <stddef.h>

#include "fcgi_app.h"

#define CHANNELS_NAME_MAX 64
/* The Content-Type of a message published without one. */
#define CHANNELS_DEFAULT_TYPE "application/octet-stream"

/* The app's options (main.c reads them from the environment). */
struct channels {
	unsigned long max_per_channel; /* --max-per-channel */
	unsigned long max_waiters;     /* --max-waiters */
};

/* A published message: what every waiter on the channel gets.  Fired as
 * the event's value (channels_msg_val), which the event frees once the
 * last waiter has made its own copy. */
struct channels_msg {
	char *type;  /* the publisher's Content-Type */
	void *body;  /* len bytes, not NUL-terminated */
	size_t len;
};

/* True for a channel name the app accepts: 1 to CHANNELS_NAME_MAX bytes
 * of [A-Za-z0-9_-]. */
bool channels_name_ok(const char *name, size_t len);
/* The channel capture of the request's path when it is a good name, else
 * NULL (and *len is unspecified). */
const char *channels_name(struct fcgi_req *req, size_t *len);
/* The app's 404 page for a path whose channel name is not one. */
struct deferred *channels_reply_bad_name(void);

/* A message with copies of type and body.  NULL when out of memory. */
struct channels_msg *channels_msg_new(const char *type, const void *body,
                                      size_t len);
void channels_msg_free(struct channels_msg *m);
/* The message as an event's value (takes it). */
struct deferred_val channels_msg_val(struct channels_msg *m);

struct deferred *channels_sub(struct fcgi_req *req, void *channels);
struct deferred *channels_pub(struct fcgi_req *req, void *channels);

#endif
