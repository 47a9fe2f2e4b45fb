/*
 * channels: long-poll pub/sub on fcgi_app (channels.h).
 *
 * Its own options, read with the server's flags (fcgi_app_add_option):
 *   --max-per-channel  CHANNELS_MAX_PER_CHANNEL  subscribers one channel
 *                                                holds (10000)
 *   --max-waiters      CHANNELS_MAX_WAITERS      subscribers over every
 *                                                channel (100000)
 * Past either, a new subscriber gets 503 with Retry-After.  The server's
 * own --max-pending caps every pending request as well.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels.h"

#define OPT_MAX 10000000ul

int main(int argc, char **argv)
{
	static struct channels ch;
	struct fcgi_app *app = fcgi_app_new();
	if (!app) {
		fprintf(stderr, "channels: out of memory\n");
		return 1;
	}
	fcgi_app_describe(app, "channels",
	                  "Long-poll pub/sub: GET /sub/<channel> waits for the "
	                  "next POST /pub/<channel>.");
	if (fcgi_app_add_option(app, "max-per-channel", "CHANNELS_MAX_PER_CHANNEL",
	                        10000, 1, OPT_MAX,
	                        "subscribers waiting on one channel; past it, "
	                        "503 + Retry-After", &ch.max_per_channel) < 0 ||
	    fcgi_app_add_option(app, "max-waiters", "CHANNELS_MAX_WAITERS", 100000,
	                        1, OPT_MAX,
	                        "subscribers waiting over every channel; past "
	                        "it, 503 + Retry-After", &ch.max_waiters) < 0 ||
	    fcgi_app_route(app, FCGI_GET, "/sub/<channel>", channels_sub, &ch, 0) < 0 ||
	    fcgi_app_route(app, FCGI_POST, "/pub/<channel>", channels_pub, &ch, 0) < 0) {
		fcgi_app_free(app);
		return 1;
	}
	return fcgi_app_run(app, argc, argv);
}
