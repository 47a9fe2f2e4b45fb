/*
 * channels: long-poll pub/sub on fcgi_app (channels.h).
 *
 * Its own options are environment variables, read here before
 * fcgi_app_run parses the server's flags:
 *   CHANNELS_MAX_PER_CHANNEL  subscribers one channel holds (10000)
 *   CHANNELS_MAX_WAITERS      subscribers over every channel (100000)
 * Past either, a new subscriber gets 503 with Retry-After.  The server's
 * own --max-pending caps every pending request as well.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels.h"

#define OPT_MAX 10000000ul

static const struct {
	const char *env;
	unsigned long def;
	size_t offset;
	const char *help;
} options[] = {
	{"CHANNELS_MAX_PER_CHANNEL", 10000, offsetof(struct channels, max_per_channel),
	 "subscribers waiting on one channel; past it, 503 + Retry-After"},
	{"CHANNELS_MAX_WAITERS", 100000, offsetof(struct channels, max_waiters),
	 "subscribers waiting over every channel; past it, 503 + Retry-After"},
};
enum { NOPT = sizeof options / sizeof options[0] };

static unsigned long *option_field(struct channels *ch, size_t i)
{
	return (unsigned long *)(void *)((char *)ch + options[i].offset);
}

/* Digits only, 1 to OPT_MAX: the server's rule for its own numbers. */
static int parse(const char *s, unsigned long *out)
{
	if (*s < '0' || *s > '9')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || errno || v < 1 || v > OPT_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

static int load_options(struct channels *ch)
{
	for (size_t i = 0; i < NOPT; i++) {
		const char *v = getenv(options[i].env);
		*option_field(ch, i) = options[i].def;
		if (v && parse(v, option_field(ch, i)) < 0) {
			fprintf(stderr, "channels: %s=%s: not a number in 1-%lu\n",
			        options[i].env, v, OPT_MAX);
			return -1;
		}
	}
	return 0;
}

/* Printed ahead of the server's own --help table. */
static void help(void)
{
	printf("channels: long-poll pub/sub (GET /sub/<channel>, POST "
	       "/pub/<channel>).\nEnvironment:\n");
	for (size_t i = 0; i < NOPT; i++)
		printf("  %-26s %s [1-%lu, default %lu]\n", options[i].env,
		       options[i].help, OPT_MAX, options[i].def);
	printf("\n");
}

int main(int argc, char **argv)
{
	static struct channels ch;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			help();
			break;
		}
	if (load_options(&ch) < 0)
		return 2;
	struct fcgi_app *app = fcgi_app_new();
	if (!app) {
		fprintf(stderr, "channels: out of memory\n");
		return 1;
	}
	if (fcgi_app_route(app, FCGI_GET, "/sub/<channel>", channels_sub, &ch, 0) < 0 ||
	    fcgi_app_route(app, FCGI_POST, "/pub/<channel>", channels_pub, &ch, 0) < 0) {
		fcgi_app_free(app);
		return 1;
	}
	return fcgi_app_run(app, argc, argv);
}
