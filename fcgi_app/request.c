/* request: allocation of the per-request struct (see request.h). */
#include "request.h"

#include <stdlib.h>

struct request *request_new(int fd)
{
	struct request *r = calloc(1, sizeof *r);
	if (r)
		r->fd = fd;
	return r;
}

void request_free(struct request *r)
{
	if (!r)
		return;
	free(r->out);
	free(r);
}
