/* /simple and /simple/fire: requests pending on one event until a fire. */
#include "demo.h"

/* Each /simple waits on the one event; Klein's
 * request.notifyFinish().addErrback(lambda _: d.cancel()) is the server
 * cancelling this Deferred when nginx drops the request, which takes the
 * waiter off the event. */
struct deferred *demo_simple(struct fcgi_req *req, void *arg)
{
	static const char *const tags[] = {"i", "u"};
	struct demo *demo = arg;
	(void)req;
	struct deferred *d = fcgi_event_wait(demo->simple);
	if (d && demo_add_tags(d, tags, 2) < 0) {
		deferred_cancel(d); /* out of memory: leave the event */
		deferred_unref(d);
		return NULL;
	}
	return d;
}

struct deferred *demo_simple_fire(struct fcgi_req *req, void *arg)
{
	static const char fired[] =
	    "Look at the <a href=\"/simple\">/simple</a> request tab.";
	static const char not_set[] =
	    "The callback has already been fired or not set! Go back to "
	    "<a href=\"/async/simple\" target=\"new\">/async/simple</a> and "
	    "initiate the Deferred.";
	struct demo *demo = arg;
	(void)req;
	/* Every waiter shares the one static value: no copy per request;
	 * each chain's first addTag makes its own string. */
	long n = fcgi_event_fire(demo->simple, deferred_val_static(DEMO_FIRE_VALUE));
	if (n < 0)
		return NULL;
	return deferred_succeed(deferred_val_static(n > 0 ? fired : not_set));
}
