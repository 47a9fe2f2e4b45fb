/*
 * deferred_timeout: Twisted's Deferred.addTimeout on a libevent timer.
 * Built on the public Deferred API (deferred.h) alone.  Runs on the thread
 * that owns the Deferred and the event_base.
 */
#ifndef FCGI_APP_DEFERRED_TIMEOUT_H
#define FCGI_APP_DEFERRED_TIMEOUT_H

#include <sys/time.h>

#include "deferred.h"

struct event_base;

/* Twisted's addTimeout: if `d` has not fired after `tv`, cancel it and turn
 * the resulting CancelledError into FAILURE_TIMEOUT.  Covers the callbacks
 * added before the call.  The timer goes away when `d` fires, or when `d`
 * is freed unfired.  Uses `base` for the timer, which must outlive `d`'s
 * pairs; 0, -ENOMEM, or -EINVAL (no base or tv, or libevent refused the
 * timer). */
int deferred_add_timeout(struct deferred *d, struct event_base *base,
                         const struct timeval *tv);

#endif
