/* GET /sub/<channel>: wait for the channel's next message. */
#include <stdio.h>

#include "channels.h"

/* The first callback of a waiter's chain: the fire's value is a view of
 * the message, valid only while this runs, so the response gets its own
 * copy of the type and body. */
static struct deferred_val deliver(struct deferred_val v, void *arg)
{
	(void)arg;
	const struct channels_msg *m = v.ptr;
	struct fcgi_resp *resp = fcgi_resp_new(200);
	if (!resp || fcgi_resp_content_type(resp, m->type) < 0 ||
	    fcgi_resp_body(resp, m->body, m->len) < 0) {
		fcgi_resp_free(resp);
		deferred_val_free(v);
		return deferred_val_failure(failure_new("MemoryError", "out of memory"));
	}
	deferred_val_free(v); /* a view: frees nothing */
	return fcgi_resp_val(resp);
}

/* 503 with Retry-After, as the server's own caps answer. */
static struct deferred *full(const char *detail)
{
	struct fcgi_resp *resp = fcgi_resp_page(503, detail);
	if (resp && fcgi_resp_header(resp, "Retry-After", "1") < 0) {
		fcgi_resp_free(resp);
		return NULL;
	}
	return fcgi_reply(resp);
}

/* The request waits on the channel's named event; a client that goes
 * away (or --pending-timeout) cancels the Deferred, and the event's
 * canceller takes the waiter off the channel. */
struct deferred *channels_sub(struct fcgi_req *req, void *arg)
{
	const struct channels *ch = arg;
	struct fcgi_app *app = fcgi_req_app(req);
	size_t len;
	const char *name = channels_name(req, &len);
	if (!name)
		return channels_reply_bad_name();
	char detail[128];
	if (fcgi_event_waiting_named(app, name, len) >= ch->max_per_channel) {
		snprintf(detail, sizeof detail,
		         "This channel has %lu subscribers waiting, the most it takes.",
		         ch->max_per_channel);
		return full(detail);
	}
	if (fcgi_event_waiting_all(app) >= ch->max_waiters) {
		snprintf(detail, sizeof detail,
		         "%lu subscribers are waiting, the most the server takes.",
		         ch->max_waiters);
		return full(detail);
	}
	struct deferred *d = fcgi_event_wait_named(app, name, len);
	if (d && deferred_add_callback(d, deliver, NULL, NULL) < 0) {
		deferred_cancel(d); /* out of memory: leave the channel */
		deferred_unref(d);
		return NULL;
	}
	return d;
}
