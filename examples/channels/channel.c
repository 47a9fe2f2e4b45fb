/* Channel names and messages (channels.h). */
#include <stdlib.h>
#include <string.h>

#include "channels.h"

bool channels_name_ok(const char *name, size_t len)
{
	if (!name || len == 0 || len > CHANNELS_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

const char *channels_name(struct fcgi_req *req, size_t *len)
{
	const char *name = fcgi_req_capture(req, "channel", len);
	return name && channels_name_ok(name, *len) ? name : NULL;
}

struct deferred *channels_reply_bad_name(void)
{
	return fcgi_reply_page(404, "A channel name is 1 to 64 letters, digits, "
	                            "'_' or '-'.");
}

struct channels_msg *channels_msg_new(const char *type, const void *body,
                                      size_t len)
{
	struct channels_msg *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->type = strdup(type);
	m->body = malloc(len ? len : 1);
	if (!m->type || !m->body) {
		channels_msg_free(m);
		return NULL;
	}
	if (len)
		memcpy(m->body, body, len);
	m->len = len;
	return m;
}

void channels_msg_free(struct channels_msg *m)
{
	if (!m)
		return;
	free(m->type);
	free(m->body);
	free(m);
}

static void msg_free_cb(void *m)
{
	channels_msg_free(m);
}

struct deferred_val channels_msg_val(struct channels_msg *m)
{
	return deferred_val_ptr(m, msg_free_cb);
}
