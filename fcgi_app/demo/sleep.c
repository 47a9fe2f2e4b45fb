/* /sleep/<n>: a blocking task on a worker thread. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "demo.h"

/* The demo's blockingTask: runs on a worker thread. */
static struct deferred_val blocking_task(void *arg)
{
	unsigned long n = (unsigned long)(uintptr_t)arg;
	struct timespec ts = {(time_t)n, 0};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	char *out;
	if (asprintf(&out, "Slept for %lu seconds", n) < 0)
		return deferred_val_failure(failure_new("MemoryError", "out of memory"));
	return deferred_val_str(out);
}

struct deferred *demo_sleep(struct fcgi_req *req, void *arg)
{
	struct demo *demo = arg;
	uint64_t n;
	if (fcgi_req_capture_int(req, "n", &n) < 0 || n > demo->max_sleep) {
		char detail[96];
		snprintf(detail, sizeof detail, "/sleep/<n> takes at most %lu seconds.",
		         demo->max_sleep);
		return fcgi_reply_page(400, detail);
	}
	return fcgi_defer_to_thread(fcgi_req_app(req), blocking_task,
	                            (void *)(uintptr_t)n, NULL);
}
