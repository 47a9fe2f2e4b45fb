/* idle: the kept connections' table (see idle.h). */
#include "idle.h"

#include <errno.h>
#include <stdlib.h>

/* An entry is live while `waiting` is set, and then on the FIFO. */
struct idle_ent {
	uint64_t deadline_ms;
	uint32_t gen;
	int32_t prev, next; /* fds on the FIFO, -1 at its ends */
	bool waiting;
};

struct idle {
	struct idle_ent *ent; /* [cap] */
	size_t cap, n;
	uint64_t timeout_ms;
	int32_t head, tail; /* oldest, newest; -1 when empty */
};

struct idle *idle_new(size_t cap, uint64_t timeout_ms)
{
	struct idle *t = malloc(sizeof *t);
	if (!t)
		return NULL;
	*t = (struct idle){.ent = calloc(cap, sizeof *t->ent), .cap = cap,
	                   .timeout_ms = timeout_ms, .head = -1, .tail = -1};
	if (!t->ent) {
		free(t);
		return NULL;
	}
	return t;
}

void idle_free(struct idle *t)
{
	if (!t)
		return;
	free(t->ent);
	free(t);
}

size_t idle_cap(const struct idle *t)
{
	return t->cap;
}

size_t idle_count(const struct idle *t)
{
	return t->n;
}

static void unlink_ent(struct idle *t, int fd)
{
	struct idle_ent *e = &t->ent[fd];
	if (e->prev >= 0)
		t->ent[e->prev].next = e->next;
	else
		t->head = e->next;
	if (e->next >= 0)
		t->ent[e->next].prev = e->prev;
	else
		t->tail = e->prev;
	e->waiting = false;
	t->n--;
}

int idle_keep(struct idle *t, int fd, uint64_t now_ms, uint64_t *tag)
{
	if (fd < 0 || (size_t)fd >= t->cap)
		return -ERANGE;
	struct idle_ent *e = &t->ent[fd];
	uint32_t gen = ++e->gen;
	e->deadline_ms = now_ms + t->timeout_ms;
	e->waiting = true;
	e->next = -1;
	e->prev = t->tail;
	if (t->tail >= 0)
		t->ent[t->tail].next = fd;
	else
		t->head = fd;
	t->tail = fd;
	t->n++;
	*tag = ((uint64_t)gen << 32) | (uint32_t)fd;
	return 0;
}

bool idle_claim(struct idle *t, uint64_t tag, int *fd_out)
{
	int fd = (int)(uint32_t)tag;
	uint32_t gen = (uint32_t)(tag >> 32);
	bool ok = (size_t)fd < t->cap && t->ent[fd].waiting &&
	          t->ent[fd].gen == gen;
	if (ok)
		unlink_ent(t, fd);
	*fd_out = fd;
	return ok;
}

unsigned idle_expire(struct idle *t, uint64_t now_ms, int *out, unsigned max)
{
	unsigned n = 0;
	while (n < max && t->head >= 0 && t->ent[t->head].deadline_ms <= now_ms) {
		out[n++] = t->head;
		unlink_ent(t, t->head);
	}
	return n;
}
