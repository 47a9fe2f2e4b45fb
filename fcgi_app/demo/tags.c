/* The demo's addTag, and its start and stop hooks (demo.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "demo.h"

static struct deferred_val add_tag(struct deferred_val v, void *arg)
{
	const char *tag = arg;
	const char *text = v.kind == DEFERRED_VAL_PTR && v.ptr ? v.ptr : "None";
	char *out;
	int rc = asprintf(&out, "<%s>%s</%s>", tag, text, tag);
	deferred_val_free(v);
	if (rc < 0)
		return deferred_val_failure(failure_new("MemoryError", "out of memory"));
	return deferred_val_str(out);
}

int demo_add_tags(struct deferred *d, const char *const *tags, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (deferred_add_callback(d, add_tag, (void *)tags[i], NULL) < 0)
			return -ENOMEM;
	return 0;
}

int demo_start(struct fcgi_app *app, void *arg)
{
	struct demo *demo = arg;
	if (fcgi_app_option(app, "max-sleep", &demo->max_sleep) < 0)
		return -1;
	demo->simple = fcgi_event_new(app);
	return demo->simple ? 0 : -1;
}

void demo_stop(struct fcgi_app *app, void *arg)
{
	struct demo *demo = arg;
	(void)app;
	fcgi_event_free(demo->simple); /* cancels any /simple still waiting */
	demo->simple = NULL;
}
