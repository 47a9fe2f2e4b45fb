/*
 * notify: systemd's service notifications (sd_notify), for Type=notify.
 *
 * READY=1 once the app serves, STOPPING=1 when it drains, STATUS= lines
 * with the pending count, and WATCHDOG=1 from a loop timer at half of
 * WatchdogSec=: a loop that stops turning stops the pings, and systemd
 * restarts the app.  Without NOTIFY_SOCKET (not under systemd, or
 * NotifyAccess=none) nothing is sent and no timer runs.
 *
 * Loop thread only.
 */
#ifndef FCGI_APP_NOTIFY_H
#define FCGI_APP_NOTIFY_H

#include <stddef.h>

struct event_base;
struct notify;

/* The number the STATUS= lines report, read on the loop thread. */
typedef size_t (*notify_count_fn)(void *ctx);

/* Borrows base, pending and ctx for its lifetime.  NULL on error. */
struct notify *notify_new(struct event_base *base, notify_count_fn pending,
                          void *ctx);

/* READY=1 and a first STATUS=; starts the watchdog and status timer. */
void notify_ready(struct notify *n);

/* STOPPING=1 and STATUS=; the watchdog keeps pinging while the app
 * drains (TimeoutStopSec= bounds that).  NULL is fine. */
void notify_stopping(struct notify *n);

/* The watchdog interval systemd asked for, in microseconds; 0: none. */
unsigned long long notify_watchdog_usec(const struct notify *n);

/* NULL is fine. */
void notify_free(struct notify *n);

#endif
