/*
 * run: fcgi_app_run, the process around an app (fcgi_app.h).
 *
 * Start order: options -> log file -> fd limit -> signals -> event_base
 * with pthreads -> listening socket -> worker pool -> fanout -> server ->
 * the app's start hook -> acceptor threads -> loop.  Teardown runs in
 * reverse.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fastcgi.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app.h"
#include "config.h"
#include "fanout.h"
#include "listener.h"
#include "log.h"
#include "notify.h"
#include "pool.h"
#include "server.h"

/* Ten thousand held requests need ten thousand fds: take the hard limit. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("msg=\"cannot raise the fd limit\" errno=%d", errno);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_info("msg=\"fd limit\" nofile=%llu",
		         (unsigned long long)rl.rlim_cur);
}

/* Fds the app opens after fit_fd_limit counts: the acceptors' epoll set,
 * eventfd and shedding reserve (3), and room for a log file reopened. */
#define FDS_OPENED_LATER 8

/* Every held request keeps its connection's fd, and so does every idle
 * kept connection.  Were they allowed to take every fd, a /simple/fire
 * or the status page on a new connection could only be shed (the
 * acceptor's 503 at EMFILE) until the pending timeout freed some.  So
 * --fd-reserve fds stay free: connections are bounded to the rest
 * (max_conns, checked before a request pends) and --max-pending is
 * lowered to fit, said in one warn line.  0, or -1 when the limit leaves
 * no room for any connection. */
static int fit_fd_limit(struct config *cfg)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0; /* cannot tell: no bound, as before */
	unsigned long long nofile = rl.rlim_cur == RLIM_INFINITY
	                                ? ~0ull : (unsigned long long)rl.rlim_cur;
	long open = config_open_fds();
	unsigned used = (unsigned)(open < 0 ? 64 : open) + FDS_OPENED_LATER;
	unsigned asked = cfg->max_pending;
	int rc = config_fit_fds(cfg, nofile, used);
	if (rc < 0) {
		log_error("msg=\"the fd limit leaves no fd for connections: raise "
		          "it or lower --fd-reserve\" nofile=%llu fds_used=%u "
		          "fd_reserve=%u", nofile, used, cfg->fd_reserve);
		return -1;
	}
	/* A value the user asked for is worth a warning; the default is
	 * simply fitted to the machine. */
	if (rc > 0)
		log_msg(config_given(cfg, "max-pending") ? LOG_LEVEL_WARN : LOG_LEVEL_INFO,
		        "msg=\"--max-pending lowered to what the fd limit allows\" "
		        "max_pending=%u requested=%u nofile=%llu fds_used=%u "
		        "fd_reserve=%u", cfg->max_pending, asked, nofile, used,
		        cfg->fd_reserve);
	else
		log_info("msg=\"fd budget\" max_conns=%u nofile=%llu fds_used=%u "
		         "fd_reserve=%u", cfg->max_conns, nofile, used,
		         cfg->fd_reserve);
	return 0;
}

/* What the signal handler and the teardown share. */
struct run {
	const struct config *cfg;
	struct server *server;
	struct notify *notify;
	int listen_fd;
	bool inherited; /* from systemd or fd 0: the socket outlives the app */
};

/* Closes the listening socket and removes its path, so that nginx is
 * refused at once instead of queueing in a backlog nobody reads.  Only
 * after the acceptors stopped polling it.  An inherited socket is only
 * closed here: whoever passed it still holds it, nginx's new connections
 * wait in its backlog, and the next instance takes them. */
static void close_listener(struct run *app)
{
	if (app->listen_fd < 0)
		return;
	/* Unlink while still listening: a new instance that starts now sees
	 * a live socket and refuses, instead of binding a path we would then
	 * remove. */
	if (!app->inherited && !app->cfg->listen_addr)
		unlink(app->cfg->socket_path);
	close(app->listen_fd);
	app->listen_fd = -1;
}

static size_t pending_count(void *server)
{
	return server_pending(server);
}

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGTERM: return "TERM";
	case SIGINT: return "INT";
	case SIGQUIT: return "QUIT";
	case SIGHUP: return "HUP";
	case SIGUSR1: return "USR1";
	case SIGUSR2: return "USR2";
	default: return "?";
	}
}

/* TERM, INT, QUIT: drain and exit (QUIT too, as php-fpm users expect a
 * stop from it, not a core dump). */
static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct run *app = arg;
	(void)what;
	log_info("msg=\"signal received\" signal=%s", signal_name((int)sig));
	notify_stopping(app->notify);
	/* A second signal: leave the loop now. */
	if (app->inherited)
		server_handover(app->server); /* stops polling the socket */
	else
		server_drain(app->server);
	close_listener(app);
}

/* HUP, USR1: logrotate moved the log file; write to a new one at its
 * path.  Requests go on as if nothing happened. */
static void on_reopen(evutil_socket_t sig, short what, void *arg)
{
	const struct run *app = arg;
	(void)what;
	int rc = log_reopen();
	if (rc < 0)
		log_error("msg=\"cannot reopen the log file, still writing the "
		          "old one\" signal=%s path=\"%s\" err=\"%s\"",
		          signal_name((int)sig), app->cfg->log_file, strerror(-rc));
	else if (app->cfg->log_file)
		log_info("msg=\"log reopened\" signal=%s to=file",
		         signal_name((int)sig));
	else
		log_info("msg=\"log on stderr, nothing to reopen\" signal=%s",
		         signal_name((int)sig));
}

/* USR2: php-fpm's in-place reload.  The app has no reload in place (a
 * restart on an inherited socket loses no request instead), so it says so
 * and goes on. */
static void on_ignored(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	log_warn("msg=\"signal ignored: no reload in place; restart the app to "
	         "apply new settings\" signal=%s", signal_name((int)sig));
}

/* --health: one FastCGI request for the ping page (FCGI_APP_STATUS=ping,
 * which every app answers, from its loop) over the configured socket.
 * Exit 0 when the reply's status is 200.  Used by Docker's HEALTHCHECK. */
static int health_check(const struct config *cfg)
{
	char err[256];
	int fd = listener_connect(cfg->socket_path, cfg->listen_addr, err,
	                          sizeof err);
	if (fd < 0) {
		fprintf(stderr, "fcgi_app: health: %s\n", err);
		return 1;
	}
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

	static const char params[] = "\x0e\x03REQUEST_METHODGET"
	                             "\x0c\x05" "DOCUMENT_URI/ping"
	                             "\x0f\x04" "FCGI_APP_STATUSping";
	const size_t plen = sizeof params - 1;
	unsigned char msg[64 + sizeof params];
	size_t n = 0;
	FCGI_BeginRequestRecord begin = {
		.header = {FCGI_VERSION_1, FCGI_BEGIN_REQUEST, 0, 1, 0,
		           sizeof(FCGI_BeginRequestBody), 0, 0},
		.body = {.roleB1 = 0, .roleB0 = FCGI_RESPONDER},
	};
	memcpy(msg, &begin, sizeof begin);
	n += sizeof begin;
	FCGI_Header h = {FCGI_VERSION_1, FCGI_PARAMS, 0, 1, 0,
	                 (unsigned char)plen, 0, 0};
	memcpy(msg + n, &h, sizeof h);
	n += sizeof h;
	memcpy(msg + n, params, plen);
	n += plen;
	h.contentLengthB0 = 0;
	memcpy(msg + n, &h, sizeof h); /* empty PARAMS */
	n += sizeof h;
	h.type = FCGI_STDIN;
	memcpy(msg + n, &h, sizeof h); /* empty STDIN */
	n += sizeof h;

	char reply[4096];
	size_t got = 0;
	int ok = send(fd, msg, n, MSG_NOSIGNAL) == (ssize_t)n;
	while (ok && got < sizeof reply - 1) {
		ssize_t r = recv(fd, reply + got, sizeof reply - 1 - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	reply[got] = '\0';
	/* The first STDOUT record's content starts after its 8-byte header. */
	if (got > FCGI_HEADER_LEN &&
	    strncmp(reply + FCGI_HEADER_LEN, "Status: 200 ", 12) == 0)
		return 0;
	fprintf(stderr, "fcgi_app: health: no 200 reply from the app\n");
	return 1;
}

static int run(struct fcgi_app *fa, int argc, char **argv)
{
	struct config cfg;
	config_defaults(&cfg);
	app_configure(fa, &cfg, argc > 0 ? argv[0] : NULL);
	int rc = config_load(&cfg, argc, argv);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	log_set_level((enum log_level)cfg.log_level);
	if (cfg.health)
		return health_check(&cfg);
	if ((rc = log_open(cfg.log_file)) < 0) {
		fprintf(stderr, "fcgi_app: --log-file %s: %s\n", cfg.log_file,
		        strerror(-rc));
		return 1;
	}

	int status = 1;
	struct run app = {.cfg = &cfg, .listen_fd = -1};
	struct event_base *base = NULL;
	struct pool *pool = NULL;
	struct fanout *fan = NULL;
	struct server *server = NULL;
	bool started = false;
	static const struct {
		int sig;
		event_callback_fn cb;
	} handlers[] = {
		{SIGTERM, on_stop}, {SIGINT, on_stop},     {SIGQUIT, on_stop},
		{SIGHUP, on_reopen}, {SIGUSR1, on_reopen}, {SIGUSR2, on_ignored},
	};
	enum { NSIG_HANDLED = sizeof handlers / sizeof handlers[0] };
	struct event *sigs[NSIG_HANDLED] = {0};

	raise_fd_limit();
	/* A broken pipe is an error code.  The loop takes the signals below
	 * (evsignal); until it does, a stray SIGUSR1 or a logrotate's SIGHUP
	 * must not kill the app. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);

	if (evthread_use_pthreads() < 0 || !(base = event_base_new())) {
		log_error("msg=\"cannot create the event loop\"");
		goto out;
	}

	char err[256];
	int listen_fd = -1;
	const char *inherited_from = NULL;
	int got = listener_inherited(&listen_fd, &inherited_from, err, sizeof err);
	if (got < 0) {
		log_error("msg=\"cannot use the inherited socket\" err=\"%s\"", err);
		goto out;
	}
	if (got == 0 && cfg.listen_addr)
		listen_fd = listener_tcp(cfg.listen_addr, (int)cfg.backlog, err,
		                         sizeof err);
	else if (got == 0)
		listen_fd = listener_unix(cfg.socket_path, cfg.socket_mode,
		                          cfg.socket_group, (int)cfg.backlog, err,
		                          sizeof err);
	if (listen_fd < 0) {
		log_error("msg=\"cannot listen\" err=\"%s\"", err);
		goto out;
	}
	app.listen_fd = listen_fd;
	app.inherited = got > 0;

	pool = pool_new(base, cfg.workers, cfg.queue);
	struct fanout_opts fo = {
		.fire_batch = cfg.fire_batch,
		.fire_rate = cfg.fire_rate,
		.fire_interval_us = cfg.fire_interval_us,
		.fire_rate_busy = cfg.fire_rate_busy,
		.fire_busy_us = cfg.fire_busy_ms * 1000u,
	};
	fan = pool ? fanout_new(base, &fo) : NULL;
	server = fan ? server_new(base, &cfg, pool, fa, fan) : NULL;
	if (!server) {
		log_error("msg=\"cannot start\" err=\"%s\"", strerror(errno));
		goto out;
	}
	app.server = server;
	app.notify = notify_new(base, pending_count, server);
	if (!app.notify) {
		log_error("msg=\"cannot start\" err=\"out of memory\"");
		goto out;
	}
	for (size_t i = 0; i < NSIG_HANDLED; i++) {
		sigs[i] = evsignal_new(base, handlers[i].sig, handlers[i].cb, &app);
		if (!sigs[i] || evsignal_add(sigs[i], NULL) < 0) {
			log_error("msg=\"cannot handle signals\"");
			goto out;
		}
	}
	if (fit_fd_limit(&cfg) < 0)
		goto out;
	app_bind(fa, &cfg, base, pool, fan);
	if (app_start(fa) != 0) {
		log_error("msg=\"the app's start hook failed\"");
		goto out;
	}
	started = true;
	if ((rc = server_start(server, listen_fd)) < 0) {
		log_error("msg=\"cannot start acceptors\" err=\"%s\"", strerror(-rc));
		goto out;
	}
	if (cfg.idle_timeout <= 60)
		log_warn("msg=\"--idle-timeout should exceed nginx's upstream "
		         "keepalive_timeout (60 s), or nginx may reuse a connection "
		         "the app is closing (a 502)\" idle_timeout=%u",
		         cfg.idle_timeout);
	char where[64];
	if (app.inherited)
		snprintf(where, sizeof where, "inherited=%s fd=%d", inherited_from,
		         listen_fd);
	log_info("msg=listening %s%s%s workers=%u queue=%u acceptors=%u "
	         "max_pending=%u pending_timeout=%u max_sleep=%lu max_conns=%u",
	         app.inherited ? where : cfg.listen_addr ? "tcp" : "socket",
	         app.inherited ? "" : "=",
	         app.inherited ? "" : cfg.listen_addr ? cfg.listen_addr
	                                               : cfg.socket_path,
	         cfg.workers, cfg.queue, cfg.acceptors, cfg.max_pending,
	         cfg.pending_timeout, cfg.max_sleep, cfg.max_conns);
	notify_ready(app.notify);

	if (event_base_dispatch(base) < 0)
		log_error("msg=\"event loop failed\"");
	else
		status = 0;
	log_info("msg=stopped");

out:
	server_free(server); /* stops the acceptors before the listener goes */
	close_listener(&app);
	if (started)
		app_stop(fa);
	fanout_free(fan); /* events the app left: their waiters are cancelled */
	/* A worker still inside a long blocking call cannot be interrupted;
	 * exiting ends it, joining would wait for it (and the pool's event
	 * must outlive its workers, so the base stays too). */
	bool stuck = pool && pool_busy(pool) > 0;
	if (!stuck)
		pool_free(pool);
	for (size_t i = 0; i < NSIG_HANDLED; i++)
		if (sigs[i])
			event_free(sigs[i]);
	notify_free(app.notify);
	if (base && !stuck)
		event_base_free(base);
	app_bind(fa, NULL, NULL, NULL, NULL);
	log_close();
	return status;
}

int fcgi_app_run(struct fcgi_app *app, int argc, char **argv)
{
	int status = app ? run(app, argc, argv) : 1;
	fcgi_app_free(app);
	return status;
}
