/* The demo app: Klein's "Non-Blocking Recipes" behind nginx. */
#include <stdio.h>

#include "demo.h"

int main(int argc, char **argv)
{
	static struct demo demo;
	struct fcgi_app *app = fcgi_app_new();
	if (!app) {
		fprintf(stderr, "fcgi_app: out of memory\n");
		return 1;
	}
	if (demo_register(app, &demo) < 0) {
		fcgi_app_free(app);
		return 1;
	}
	return fcgi_app_run(app, argc, argv);
}
