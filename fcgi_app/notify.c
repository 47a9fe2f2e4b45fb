/* notify: sd_notify for Type=notify units (see notify.h). */
#include "notify.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "log.h"

/* Without a watchdog, STATUS= is refreshed this often (`systemctl status`
 * shows the line). */
#define STATUS_PERIOD_USEC 10000000ull

struct notify {
	notify_count_fn pending;
	void *ctx;
	struct event *tick;
	unsigned long long watchdog_usec; /* 0: no WatchdogSec= */
	bool enabled;                     /* NOTIFY_SOCKET is set */
	bool stopping;
};

/* Sends one message; a failure is logged once (systemd may be gone). */
__attribute__((format(printf, 1, 2)))
static void send_state(const char *fmt, ...)
{
	static bool warned;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (sd_notify(0, msg) < 0 && !warned) {
		warned = true;
		log_warn("msg=\"sd_notify failed\"");
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct notify *n = arg;
	(void)fd;
	(void)what;
	size_t pending = n->pending(n->ctx);
	if (n->watchdog_usec)
		send_state(n->stopping
		               ? "WATCHDOG=1\nSTATUS=Draining: %zu pending requests"
		               : "WATCHDOG=1\nSTATUS=Serving: %zu pending requests",
		           pending);
	else
		send_state(n->stopping ? "STATUS=Draining: %zu pending requests"
		                       : "STATUS=Serving: %zu pending requests",
		           pending);
}

struct notify *notify_new(struct event_base *base, notify_count_fn pending,
                          void *ctx)
{
	struct notify *n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->pending = pending;
	n->ctx = ctx;
	n->enabled = getenv("NOTIFY_SOCKET") != NULL;
	uint64_t usec = 0;
	if (n->enabled && sd_watchdog_enabled(0, &usec) > 0)
		n->watchdog_usec = usec;
	if (n->enabled) {
		n->tick = event_new(base, -1, EV_PERSIST, on_tick, n);
		if (!n->tick) {
			free(n);
			return NULL;
		}
	}
	return n;
}

unsigned long long notify_watchdog_usec(const struct notify *n)
{
	return n ? n->watchdog_usec : 0;
}

void notify_ready(struct notify *n)
{
	if (!n || !n->enabled)
		return;
	send_state("READY=1\nSTATUS=Serving: %zu pending requests",
	           n->pending(n->ctx));
	unsigned long long period = n->watchdog_usec ? n->watchdog_usec / 2
	                                             : STATUS_PERIOD_USEC;
	struct timeval tv = {(time_t)(period / 1000000),
	                     (suseconds_t)(period % 1000000)};
	event_add(n->tick, &tv);
	if (n->watchdog_usec)
		log_info("msg=\"systemd watchdog\" interval_ms=%llu ping_ms=%llu",
		         n->watchdog_usec / 1000, period / 1000);
}

void notify_stopping(struct notify *n)
{
	if (!n || !n->enabled || n->stopping)
		return;
	n->stopping = true;
	send_state("STOPPING=1\nSTATUS=Draining: %zu pending requests",
	           n->pending(n->ctx));
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	if (n->tick)
		event_free(n->tick);
	free(n);
}
