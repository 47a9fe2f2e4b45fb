/* POST /pub/<channel>: send the body to the channel's waiting subscribers. */
#include <errno.h>
#include <stdio.h>

#include "channels.h"

/* Whether the server would send `type` as a Content-Type: the rule
 * fcgi_resp_content_type applies, checked once here rather than failing
 * in every subscriber's chain. */
static int type_ok(const char *type)
{
	struct fcgi_resp *probe = fcgi_resp_new(200);
	if (!probe)
		return -ENOMEM;
	int rc = fcgi_resp_content_type(probe, type);
	fcgi_resp_free(probe);
	return rc;
}

struct deferred *channels_pub(struct fcgi_req *req, void *arg)
{
	(void)arg;
	size_t len;
	const char *name = channels_name(req, &len);
	if (!name)
		return channels_reply_bad_name();
	const char *type = fcgi_req_header(req, "Content-Type", NULL);
	if (!type || !*type)
		type = CHANNELS_DEFAULT_TYPE;
	int rc = type_ok(type);
	if (rc == -EINVAL)
		return fcgi_reply_page(400, "The Content-Type is not a valid header value.");
	if (rc < 0)
		return NULL;
	size_t body_len;
	const void *body = fcgi_req_body(req, &body_len);
	struct channels_msg *m = channels_msg_new(type, body, body_len);
	if (!m)
		return NULL;
	/* The event frees the message after its last waiter (at once when
	 * nobody waits); on an error it is still ours. */
	long n = fcgi_event_fire_named(fcgi_req_app(req), name, len,
	                               channels_msg_val(m));
	if (n < 0) {
		channels_msg_free(m);
		return NULL;
	}
	char json[48];
	snprintf(json, sizeof json, "{\"delivered\":%ld}", n);
	return fcgi_reply_text(200, FCGI_JSON, json);
}
