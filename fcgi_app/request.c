/* request: allocation of the per-request struct (see request.h). */
#include "request.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"

struct request *request_new(int fd)
{
	struct request *r = calloc(1, sizeof *r);
	if (r) {
		r->fd = fd;
		r->start_us = clock_us();
	}
	return r;
}

void request_free(struct request *r)
{
	if (!r)
		return;
	free(r->out);
	free(r);
}

/* Whether the query has `key` as one of its &-separated items, bare or
 * with a value ("json", "json=1"). */
static bool query_has(const char *q, const char *key)
{
	size_t kl = strlen(key);
	while (q && *q) {
		size_t n = strcspn(q, "&");
		if (n >= kl && memcmp(q, key, kl) == 0 && (n == kl || q[kl] == '='))
			return true;
		q += n + (q[n] == '&');
	}
	return false;
}

enum request_page request_page(const char *v, const char *query)
{
	if (!v)
		return REQUEST_PAGE_NONE;
	if (strcmp(v, "1") == 0)
		return query_has(query, "json") ? REQUEST_PAGE_STATUS_JSON
		                                : REQUEST_PAGE_STATUS;
	if (strcmp(v, "metrics") == 0)
		return REQUEST_PAGE_METRICS;
	if (strcmp(v, "ping") == 0)
		return REQUEST_PAGE_PING;
	return REQUEST_PAGE_NONE;
}
