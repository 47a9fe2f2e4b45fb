/* /coro: inlineCallbacks, unrolled. */
#include "demo.h"

/* Each `yield addTag(...)` of the page is a step whose result feeds the
 * next: a chain of callbacks is that coroutine unrolled (a step returning
 * a Deferred would pause it the way a yield does). */
struct deferred *demo_coro(struct fcgi_req *req, void *arg)
{
	static const char *const steps[] = {"i", "strong", "body", "html"};
	(void)req;
	(void)arg;
	struct deferred *d = deferred_succeed(
	    deferred_val_static("This is a coroutine-like function!"));
	if (d && demo_add_tags(d, steps, 4) < 0) {
		deferred_unref(d);
		return NULL;
	}
	return d;
}
