/*
 * config: command-line flags and FCGI_APP_* environment variables.
 *
 * Every limit the app enforces is here, with its default; flags win over
 * the environment.  `fcgi_app --help` prints the same table.
 */
#ifndef FCGI_APP_CONFIG_H
#define FCGI_APP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef FCGI_APP_VERSION
#define FCGI_APP_VERSION "0.1.0"
#endif

/* An option an app adds (fcgi_app_add_option): a number, like the
 * server's own, written to *value. */
struct config_extra {
	const char *name, *env, *help; /* borrowed from the app */
	unsigned long def, min, max;
	unsigned long *value;
};

struct config {
	const char *socket_path;   /* unix socket to create */
	const char *listen_addr;   /* HOST:PORT: TCP instead (NULL: unix) */
	unsigned socket_mode;      /* permission bits of the socket file */
	bool socket_mode_force;    /* allow o+w in socket_mode */
	const char *socket_group;  /* group of the socket file, or NULL */
	unsigned backlog;          /* listen() backlog */
	unsigned acceptors;        /* request reader threads */
	unsigned workers;          /* thread pool size */
	unsigned queue;            /* jobs that may wait for a worker */
	unsigned max_pending;      /* requests held at once; 503 past it
	                              (lowered to max_conns at start) */
	unsigned fd_reserve;       /* fds kept free for requests that do not
	                              pend (/simple/fire, the status page) */
	unsigned max_conns;        /* not an option: connections the fd limit
	                              allows with fd_reserve kept free, set by
	                              config_fit_fds; 0: not bounded */
	unsigned pending_timeout;  /* seconds before a held request gets 504 */
	unsigned long max_sleep;   /* /sleep/<n> above it: 400 */
	size_t max_body;           /* request body bytes; 413 past it */
	size_t max_discard;        /* past max_body, bytes read to answer 413 */
	size_t max_params;         /* params stream bytes of one request */
	unsigned read_timeout_ms;  /* a stalled request read is dropped */
	unsigned write_timeout;    /* seconds nginx may take to read a reply */
	unsigned idle_timeout;     /* seconds a kept connection may idle */
	unsigned fire_batch;       /* most /simple fired per batch */
	unsigned fire_rate;        /* /simple fired per second; 0: unpaced */
	unsigned fire_interval_us; /* pause between batches of a fire */
	unsigned fire_rate_busy;   /* /simple fired per second while other
	                              requests arrive; 0: no such priority */
	unsigned fire_busy_ms;     /* how long one such request counts */
	unsigned shutdown_grace;   /* seconds to finish replies on SIGTERM */
	unsigned handover_ms;      /* inherited socket: ms of serving kept
	                              connections after SIGTERM, before the
	                              drain */
	int log_level;             /* enum log_level */
	const char *log_file;      /* log here instead of stderr, or NULL */
	bool access_log;           /* one line per request */
	unsigned error_log_rate;   /* lines/s about 500/503/504, per status */
	bool health;               /* --health: probe a running app, exit */
	uint64_t given;            /* bit i: option i was set by a flag or
	                              the environment (config_given) */
	/* The app's own options, its name and its --help line (all borrowed;
	 * NULL/0: none, the program's name, the demo's line). */
	const struct config_extra *extra;
	size_t nextra;
	const char *prog;
	const char *description;
};

void config_defaults(struct config *c);

/* Applies FCGI_APP_* variables, then argv.  Returns 0 to run, 1 when it
 * printed --help or --version (exit 0), -1 after printing an error to
 * stderr (exit 2). */
int config_load(struct config *c, int argc, char **argv);

/* Whether `name` is one of the server's own options (or help, version). */
bool config_is_option(const char *name);

/* Whether the option `name` ("max-pending") was set by a flag or the
 * environment rather than left at its default. */
bool config_given(const struct config *c, const char *name);

/* The value of the numeric option `name` ("max-sleep"): 0 and *out set,
 * or -ENOENT for an unknown name or a string option. */
int config_value(const struct config *c, const char *name, unsigned long *out);

/* Fits the fd-bound limits to an fd limit of `nofile` (RLIMIT_NOFILE's
 * soft value) when `used` fds are taken by the app itself (listener, loop,
 * pool, acceptors, logs): sets max_conns to the connections that fit with
 * fd_reserve fds still free, and lowers max_pending to it.  Returns 1 when
 * max_pending was lowered, 0 when it fits, -1 when no connection fits
 * (max_conns is 0 then). */
/* File descriptors the process has open now (/proc/self/fd, less the one
 * reading it), or -1 with errno set when that cannot be read (EMFILE at
 * the limit, or no /proc).  For the fd budget and the metrics. */
long config_open_fds(void);

int config_fit_fds(struct config *c, unsigned long long nofile,
                   unsigned long long used);

#endif
