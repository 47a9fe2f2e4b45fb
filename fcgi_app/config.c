/* config: flags and environment (see config.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum opt_kind { OPT_STR, OPT_UINT, OPT_ULONG, OPT_SIZE, OPT_MODE, OPT_LEVEL,
                OPT_FLAG };

struct option_spec {
	const char *name;
	const char *env;
	enum opt_kind kind;
	size_t offset;
	unsigned long min, max;
	const char *help;
};

#define F(field) offsetof(struct config, field)

/* One table drives parsing, the environment and --help. */
static const struct option_spec specs[] = {
	{"socket", "FCGI_APP_SOCKET", OPT_STR, F(socket_path), 0, 0,
	 "unix socket to create (default /run/fcgi_app/app.sock)"},
	{"listen", "FCGI_APP_LISTEN", OPT_STR, F(listen_addr), 0, 0,
	 "HOST:PORT, TCP instead of the unix socket (keep it loopback)"},
	{"socket-mode", "FCGI_APP_SOCKET_MODE", OPT_MODE, F(socket_mode), 0, 0777,
	 "octal permissions of the socket (default 0660); a mode that lets "
	 "others write is refused unless --socket-mode-force"},
	{"socket-mode-force", "FCGI_APP_SOCKET_MODE_FORCE", OPT_FLAG,
	 F(socket_mode_force), 0, 0,
	 "allow a --socket-mode that lets others write (o+w): any local user "
	 "could then talk FastCGI to the app"},
	{"socket-group", "FCGI_APP_SOCKET_GROUP", OPT_STR, F(socket_group), 0, 0,
	 "group of the socket, e.g. www-data (default: unchanged)"},
	{"backlog", "FCGI_APP_BACKLOG", OPT_UINT, F(backlog), 1, 65535,
	 "listen backlog; a full one is a 502 from nginx (default 4096)"},
	{"acceptors", "FCGI_APP_ACCEPTORS", OPT_UINT, F(acceptors), 1, 64,
	 "threads that read requests (default 2)"},
	{"workers", "FCGI_APP_WORKERS", OPT_UINT, F(workers), 1, 1024,
	 "thread pool size for blocking work (default 10)"},
	{"queue", "FCGI_APP_QUEUE", OPT_UINT, F(queue), 0, 1000000,
	 "jobs that may wait for a worker; more is 503 (default 1000)"},
	{"max-pending", "FCGI_APP_MAX_PENDING", OPT_UINT, F(max_pending), 1,
	 10000000, "requests held at once; more is 503; lowered at start to "
	 "what the fd limit allows (default 20000)"},
	{"fd-reserve", "FCGI_APP_FD_RESERVE", OPT_UINT, F(fd_reserve), 1, 1000000,
	 "fds held requests and idle connections leave free, for requests that "
	 "do not pend (default 256)"},
	{"pending-timeout", "FCGI_APP_PENDING_TIMEOUT", OPT_UINT,
	 F(pending_timeout), 1, 86400,
	 "seconds a request may be held before a 504 (default 300)"},
	{"max-sleep", "FCGI_APP_MAX_SLEEP", OPT_ULONG, F(max_sleep), 0, 86400,
	 "largest n for /sleep/<n>; more is 400 (default 60)"},
	{"max-body", "FCGI_APP_MAX_BODY", OPT_SIZE, F(max_body), 0, 1 << 30,
	 "request body bytes; more is 413 (default 65536)"},
	{"max-discard", "FCGI_APP_MAX_DISCARD", OPT_SIZE, F(max_discard), 0, 1 << 30,
	 "bytes past --max-body read and dropped so the 413 reaches nginx; a "
	 "larger body is cut off (default 16777216)"},
	{"max-params", "FCGI_APP_MAX_PARAMS", OPT_SIZE, F(max_params), 1024,
	 16777216, "bytes of FastCGI params one request may send; more closes "
	 "the connection (default 65536)"},
	{"read-timeout-ms", "FCGI_APP_READ_TIMEOUT_MS", OPT_UINT,
	 F(read_timeout_ms), 1, 600000,
	 "ms a request read may stall before it is dropped (default 5000)"},
	{"write-timeout", "FCGI_APP_WRITE_TIMEOUT", OPT_UINT, F(write_timeout), 1,
	 3600, "seconds nginx may take to read a reply (default 30)"},
	{"idle-timeout", "FCGI_APP_IDLE_TIMEOUT", OPT_UINT, F(idle_timeout), 1,
	 86400, "seconds a kept-alive connection may idle (default 120)"},
	{"fire-rate", "FCGI_APP_FIRE_RATE", OPT_UINT, F(fire_rate), 0, 100000000,
	 "pending /simple completed per second by a fire; 0: unpaced "
	 "(default 25000)"},
	{"fire-batch", "FCGI_APP_FIRE_BATCH", OPT_UINT, F(fire_batch), 1,
	 1000000, "most pending /simple completed per batch (default 128)"},
	{"fire-interval-us", "FCGI_APP_FIRE_INTERVAL_US", OPT_UINT,
	 F(fire_interval_us), 0, 1000000,
	 "microseconds between paced batches (default 1000)"},
	{"fire-rate-busy", "FCGI_APP_FIRE_RATE_BUSY", OPT_UINT, F(fire_rate_busy),
	 0, 100000000,
	 "the fire's rate while other requests arrive, so they keep their "
	 "latency; 0: always --fire-rate (default 5000)"},
	{"fire-busy-ms", "FCGI_APP_FIRE_BUSY_MS", OPT_UINT, F(fire_busy_ms), 1,
	 60000, "ms after a request other than /simple or /simple/fire that "
	 "the fire keeps --fire-rate-busy (default 50)"},
	{"shutdown-grace", "FCGI_APP_SHUTDOWN_GRACE", OPT_UINT,
	 F(shutdown_grace), 0, 3600,
	 "seconds to finish replies after SIGTERM, SIGINT or SIGQUIT "
	 "(default 10)"},
	{"handover-ms", "FCGI_APP_HANDOVER_MS", OPT_UINT, F(handover_ms), 0,
	 60000, "with an inherited socket, ms after SIGTERM that accepted and "
	 "kept-alive connections are still served, each closed after its "
	 "reply, before the drain (default 1000)"},
	{"log-level", "FCGI_APP_LOG_LEVEL", OPT_LEVEL, F(log_level), 0, 0,
	 "error, warn, info or debug (default info)"},
	{"log-file", "FCGI_APP_LOG_FILE", OPT_STR, F(log_file), 0, 0,
	 "append the log to this file, reopened on SIGHUP or SIGUSR1 "
	 "(default: stderr)"},
	{"access-log", "FCGI_APP_ACCESS_LOG", OPT_FLAG, F(access_log), 0, 0,
	 "one info line per request: method, route, status, duration, "
	 "request id (variable: 1 or 0; default off)"},
	{"error-log-rate", "FCGI_APP_ERROR_LOG_RATE", OPT_UINT, F(error_log_rate),
	 0, 1000000, "most lines a second about 500, 503 or 504 answers, per "
	 "status; the rest are counted; 0: none (default 10)"},
	{"health", NULL, OPT_FLAG, F(health), 0, 0,
	 "probe the app on --socket/--listen with GET /coro; exit 0 if 200"},
};

void config_defaults(struct config *c)
{
	*c = (struct config){
		.socket_path = "/run/fcgi_app/app.sock",
		.socket_mode = 0660,
		.backlog = 4096,
		.acceptors = 2,
		.workers = 10,
		.queue = 1000,
		.max_pending = 20000,
		.fd_reserve = 256,
		.pending_timeout = 300,
		.max_sleep = 60,
		.max_body = 65536,
		.max_discard = 16777216,
		.max_params = 65536,
		.read_timeout_ms = 5000,
		.write_timeout = 30,
		.idle_timeout = 120,
		.fire_batch = 128,
		.fire_rate = 25000,
		.fire_interval_us = 1000,
		.fire_rate_busy = 5000,
		.fire_busy_ms = 50,
		.shutdown_grace = 10,
		.handover_ms = 1000,
		.log_level = LOG_LEVEL_INFO,
		.error_log_rate = 10,
	};
}

static const char *prog(const struct config *c)
{
	return c->prog ? c->prog : "fcgi_app";
}

/* v as a decimal (or octal) number from min to max; -1 after a message. */
static int parse_number(const struct config *c, const char *v, bool octal,
                        unsigned long min, unsigned long max,
                        const char *origin, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, octal ? 8 : 10);
	if (errno || end == v || *end || *v == '-' || n < min || n > max) {
		fprintf(stderr, "%s: %s: '%s' is not %s from %lu to %lu\n", prog(c),
		        origin, v, octal ? "an octal mode" : "a number", min, max);
		return -1;
	}
	*out = n;
	return 0;
}

static int set_extra(const struct config *c, const struct config_extra *e,
                     const char *v, const char *origin)
{
	unsigned long long n;
	if (parse_number(c, v, false, e->min, e->max, origin, &n) < 0)
		return -1;
	*e->value = (unsigned long)n;
	return 0;
}

static int set_value(struct config *c, const struct option_spec *s,
                     const char *v, const char *origin)
{
	char *base = (char *)c + s->offset;
	if (s->kind == OPT_STR) {
		*(const char **)(void *)base = *v ? v : NULL;
		return 0;
	}
	if (s->kind == OPT_FLAG) {
		/* A flag given on the command line is v == NULL; from the
		 * environment, 1 or 0. */
		if (v && strcmp(v, "1") != 0 && strcmp(v, "0") != 0) {
			fprintf(stderr, "%s: %s: '%s' is not 0 or 1\n", prog(c), origin, v);
			return -1;
		}
		*(bool *)(void *)base = !v || strcmp(v, "1") == 0;
		return 0;
	}
	if (s->kind == OPT_LEVEL) {
		int lvl = log_parse_level(v);
		if (lvl < 0) {
			fprintf(stderr, "%s: %s: unknown log level '%s'\n", prog(c),
			        origin, v);
			return -1;
		}
		*(int *)(void *)base = lvl;
		return 0;
	}
	unsigned long long n;
	if (parse_number(c, v, s->kind == OPT_MODE, s->min, s->max, origin, &n) < 0)
		return -1;
	switch (s->kind) {
	case OPT_UINT:
	case OPT_MODE:
		*(unsigned *)(void *)base = (unsigned)n;
		break;
	case OPT_ULONG:
		*(unsigned long *)(void *)base = (unsigned long)n;
		break;
	case OPT_SIZE:
		*(size_t *)(void *)base = (size_t)n;
		break;
	default:
		break;
	}
	return 0;
}

static void usage(const struct config *c, FILE *out)
{
	fprintf(out,
	        "usage: %s [options]\n%s\nRuns in the foreground and logs to "
	        "stderr or --log-file.\nSIGTERM, SIGINT or SIGQUIT drains and "
	        "exits; SIGHUP or SIGUSR1 reopens the log\nfile; SIGUSR2 is "
	        "ignored.\n\n", prog(c),
	        c->description ? c->description
	                       : "A non-blocking FastCGI backend for nginx "
	                         "(Klein's Non-Blocking Recipes in C).");
	if (c->nextra) {
		fprintf(out, "Options of %s:\n", prog(c));
		for (size_t i = 0; i < c->nextra; i++) {
			const struct config_extra *e = &c->extra[i];
			fprintf(out, "  --%-18s %-26s %s [%lu-%lu, default %lu]\n",
			        e->name, e->env ? e->env : "", e->help ? e->help : "",
			        e->min, e->max, e->def);
		}
		fprintf(out, "\nOptions of the server:\n");
	}
	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		const struct option_spec *s = &specs[i];
		fprintf(out, "  --%-18s %-26s %s", s->name, s->env ? s->env : "",
		        s->help);
		if (s->kind == OPT_UINT || s->kind == OPT_ULONG || s->kind == OPT_SIZE)
			fprintf(out, " [%lu-%lu]", s->min, s->max);
		fputc('\n', out);
	}
	fprintf(out, "  --%-18s %-26s %s\n  --%-18s %-26s %s\n", "help", "",
	        "this text", "version", "", "print the version");
}

enum { NSPEC = sizeof specs / sizeof specs[0] };
_Static_assert(NSPEC <= 64, "config.given has one bit per option");

bool config_is_option(const char *name)
{
	for (size_t i = 0; i < NSPEC; i++)
		if (strcmp(specs[i].name, name) == 0)
			return true;
	return strcmp(name, "help") == 0 || strcmp(name, "version") == 0;
}

bool config_given(const struct config *c, const char *name)
{
	for (size_t i = 0; i < NSPEC; i++)
		if (strcmp(specs[i].name, name) == 0)
			return c->given >> i & 1;
	return false;
}

static int parse_argv(struct config *c, int argc, char **argv,
                      struct option *longopts);

int config_value(const struct config *c, const char *name, unsigned long *out)
{
	for (size_t i = 0; i < c->nextra; i++)
		if (strcmp(c->extra[i].name, name) == 0) {
			*out = *c->extra[i].value;
			return 0;
		}
	for (size_t i = 0; i < NSPEC; i++) {
		if (strcmp(specs[i].name, name) != 0)
			continue;
		const char *base = (const char *)c + specs[i].offset;
		switch (specs[i].kind) {
		case OPT_UINT:
		case OPT_MODE:
			*out = *(const unsigned *)(const void *)base;
			return 0;
		case OPT_ULONG:
			*out = *(const unsigned long *)(const void *)base;
			return 0;
		case OPT_SIZE:
			*out = *(const size_t *)(const void *)base;
			return 0;
		case OPT_FLAG:
			*out = *(const bool *)(const void *)base;
			return 0;
		default:
			return -ENOENT;
		}
	}
	return -ENOENT;
}

int config_load(struct config *c, int argc, char **argv)
{
	for (size_t i = 0; i < NSPEC; i++) {
		const char *v = specs[i].env ? getenv(specs[i].env) : NULL;
		if (v && set_value(c, &specs[i], v, specs[i].env) < 0)
			return -1;
		if (v)
			c->given |= 1ull << i;
	}

	for (size_t i = 0; i < c->nextra; i++) {
		const struct config_extra *e = &c->extra[i];
		const char *v = e->env ? getenv(e->env) : NULL;
		*e->value = e->def;
		if (v && set_extra(c, e, v, e->env) < 0)
			return -1;
	}

	/* The server's options, help and version, then the app's: getopt's
	 * value is the index in this table. */
	size_t nlong = NSPEC + 2 + c->nextra;
	struct option *longopts = calloc(nlong + 1, sizeof *longopts);
	if (!longopts) {
		fprintf(stderr, "%s: out of memory\n", prog(c));
		return -1;
	}
	int rc = parse_argv(c, argc, argv, longopts);
	free(longopts);
	return rc;
}

static int parse_argv(struct config *c, int argc, char **argv,
                      struct option *longopts)
{
	for (size_t i = 0; i < NSPEC; i++)
		longopts[i] = (struct option){
		    specs[i].name,
		    specs[i].kind == OPT_FLAG ? no_argument : required_argument,
		    NULL, (int)i};
	longopts[NSPEC] = (struct option){"help", no_argument, NULL, 'h'};
	longopts[NSPEC + 1] = (struct option){"version", no_argument, NULL, 'V'};
	for (size_t i = 0; i < c->nextra; i++)
		longopts[NSPEC + 2 + i] = (struct option){
		    c->extra[i].name, required_argument, NULL, (int)(NSPEC + 2 + i)};

	optind = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		if (ch == 'h') {
			usage(c, stdout);
			return 1;
		}
		if (ch == 'V') {
			printf("%s %s\n", prog(c), FCGI_APP_VERSION);
			return 1;
		}
		if (ch >= (int)(NSPEC + 2) && (size_t)ch < NSPEC + 2 + c->nextra) {
			const struct config_extra *e = &c->extra[ch - (int)(NSPEC + 2)];
			char origin[80];
			snprintf(origin, sizeof origin, "--%s", e->name);
			if (set_extra(c, e, optarg ? optarg : "", origin) < 0)
				return -1;
			continue;
		}
		if (ch < 0 || (size_t)ch >= NSPEC) {
			usage(c, stderr);
			return -1;
		}
		char origin[64];
		snprintf(origin, sizeof origin, "--%s", specs[ch].name);
		if (set_value(c, &specs[ch],
		              specs[ch].kind == OPT_FLAG ? NULL : optarg ? optarg : "",
		              origin) < 0)
			return -1;
		c->given |= 1ull << ch;
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog(c), argv[optind]);
		return -1;
	}
	if (!c->listen_addr && (c->socket_mode & 0002) && !c->socket_mode_force) {
		fprintf(stderr,
		        "%s: --socket-mode %04o lets every local user write to "
		        "the socket, so any local process could talk FastCGI to the "
		        "app; give the socket a group only nginx's user is in "
		        "(--socket-group, mode 0660), or pass --socket-mode-force "
		        "(FCGI_APP_SOCKET_MODE_FORCE=1) to allow it\n",
		        prog(c), c->socket_mode);
		return -1;
	}
	if (!c->socket_path && !c->listen_addr) {
		fprintf(stderr, "%s: the socket path is empty; give --socket "
		                "PATH or --listen HOST:PORT\n", prog(c));
		return -1;
	}
	return 0;
}

long config_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	long n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n > 0 ? n - 1 : 0;
}

int config_fit_fds(struct config *c, unsigned long long nofile,
                   unsigned long long used)
{
	c->max_conns = 0;
	if (nofile <= used || nofile - used <= c->fd_reserve)
		return -1;
	unsigned long long conns = nofile - used - c->fd_reserve;
	c->max_conns = conns > UINT_MAX ? UINT_MAX : (unsigned)conns;
	if (c->max_pending <= c->max_conns)
		return 0;
	c->max_pending = c->max_conns;
	return 1;
}
