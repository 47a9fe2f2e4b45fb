/*
 * deferred_list: Twisted's DeferredList and gatherResults (deferred_gather)
 * on the Deferred core, and the reference-counted shared values that let a
 * gather's list and a member's chain hold one value at once.  Runs on the
 * loop thread, apart from deferred_shared_unref.
 *
 * What this file owns: the gather state (struct gather, below), shared by
 * the gather Deferred and one pair on each member; the lists and
 * deferred_gather_first records until they are handed to the gather
 * Deferred; the shared-value header.  The core (deferred.c and
 * deferred_chain.c) owns the Deferreds and their pair queues and reaches
 * the gather state only through the deferred_list__* hooks of
 * deferred_internal.h: it releases the state when the gather fires or is
 * freed, forwards a cancel of the gather here, and asks which gather a
 * member's pair belongs to (its cycle check).
 *
 * Lifetime: a gather owns its members (one reference each, until it fires
 * or is freed); the members' pairs point back at the state, which is
 * reference counted because either side may go first.
 *
 * Deliberate differences from defer.py, each for a C reason:
 * - A NULL failure stands for MemoryError (see failure.c): a member whose
 *   pair cannot be attached (a callback run while the gather was being
 *   made used up the room reserved for it, and growing failed) reports a
 *   MemoryError.
 * - Only references keep a gather alive (deferred.h, "Where this differs
 *   from Twisted"): one nobody references is freed, detached from its
 *   members, and its callbacks never run.
 * - A value has one owner, so a gather cannot share a member's result with
 *   the member's chain the way Twisted shares one object.  The list keeps
 *   a copy of a failure and a reference to a deferred_val_shared value; a
 *   uniquely owned pointer moves into the list and the member goes on with
 *   None (deferred_list.h, "Results and ownership").  A FirstError's inner
 *   failure is a copy too.
 * - Once a gather has fired, members that report later do not write into
 *   the list its callbacks received (Twisted's resultList is the same
 *   object and keeps changing): that list belongs to its consumer now.
 */
#include "deferred_list.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "deferred_internal.h"
/* ---- shared values ---- */

/* The payload follows the header, so the header is found from the pointer
 * a value carries. */
struct shared {
	atomic_size_t refs;
	void (*dtor)(void *);
	alignas(max_align_t) unsigned char data[];
};

static struct shared *shared_of(void *p)
{
	return (struct shared *)(void *)((unsigned char *)p -
	                                 offsetof(struct shared, data));
}

void *deferred_shared_new(size_t size, void (*dtor)(void *))
{
	struct shared *sh;

	if (size > SIZE_MAX - sizeof(*sh))
		return NULL;
	sh = calloc(1, sizeof(*sh) + size);
	if (sh == NULL)
		return NULL;
	atomic_init(&sh->refs, 1);
	sh->dtor = dtor;
	return sh->data;
}

void deferred_shared_ref(void *p)
{
	atomic_fetch_add_explicit(&shared_of(p)->refs, 1, memory_order_relaxed);
}

void deferred_shared_unref(void *p)
{
	struct shared *sh;

	if (p == NULL)
		return;
	sh = shared_of(p);
	if (atomic_fetch_sub_explicit(&sh->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (sh->dtor != NULL)
		sh->dtor(sh->data);
	free(sh);
}

struct deferred_val deferred_val_shared(void *p)
{
	return deferred_val_ptr(p, deferred_shared_unref);
}

/* ---- DeferredList ---- */

struct gather;

struct gather_slot {
	struct gather *g;
	size_t index;
};

/*
 * Shared by the gather Deferred and one pair on each member.  References:
 * one for the gather Deferred until it fires or is freed, one per member
 * pair until that pair has run or is freed.  The gather Deferred's pointer
 * `d` is weak (NULL afterwards); member pairs only read it.
 */
struct gather {
	size_t refs;
	struct deferred *d;
	struct deferred_gather_result *list;  /* owned until handed over */
	struct deferred_gather_first *first;  /* FIRE_ON_ONE_CALLBACK only */
	struct deferred **members;            /* references until d is done */
	size_t n;
	size_t remaining;
	unsigned flags;
	bool cancelling; /* inside deferred_list__cancel */
	struct gather_slot slots[];
};

static void gather_list_free(void *p)
{
	struct deferred_gather_result *list = p;

	for (size_t i = 0; i < list->n; i++)
		deferred_val_free(list->entries[i].result);
	free(list);
}

static void gather_first_free(void *p)
{
	struct deferred_gather_first *first = p;

	deferred_val_free(first->result);
	free(first);
}

static void gather_unref(struct gather *g)
{
	if (--g->refs > 0)
		return;
	if (g->list != NULL)
		gather_list_free(g->list);
	if (g->first != NULL)
		gather_first_free(g->first);
	free(g);
}

static void gather_slot_done(void *arg)
{
	struct gather_slot *s = arg;

	gather_unref(s->g);
}

/* Members that have not reported yet are dropped: they can still fire
 * (whoever fires them holds them), and their pairs then see g->d == NULL.
 * members[] keeps its (now borrowed) pointers for deferred_list__cancel's
 * loop. */
void deferred_list__release(void *state)
{
	struct gather *g = state;

	g->d = NULL;
	for (size_t i = 0; i < g->n; i++)
		deferred_unref(g->members[i]);
	gather_unref(g);
}

/* Every member, even when an early one fires the gather (fireOnOneErrback)
 * and releases the rest; the extra references keep them alive until the
 * loop is over. */
void deferred_list__cancel(void *state)
{
	struct gather *g = state;

	/* A member waiting on this gather forwards the cancel back here;
	 * one pass over the members is all DeferredList.cancel does. */
	if (g->cancelling)
		return;
	g->cancelling = true;
	g->refs++;
	for (size_t i = 0; i < g->n; i++)
		deferred_ref(g->members[i]);
	for (size_t i = 0; i < g->n; i++)
		deferred_cancel(g->members[i]);
	for (size_t i = 0; i < g->n; i++)
		deferred_unref(g->members[i]);
	g->cancelling = false;
	gather_unref(g);
}

/* The list's own copy of a member's result, and what the member's chain
 * goes on with (*v); see "Results and ownership" in deferred_list.h. */
static struct deferred_val gather_share(struct deferred_val *v)
{
	struct deferred_val own = *v;

	switch (v->kind) {
	case DEFERRED_VAL_FAILURE:
		own.failure = failure_copy(v->failure);
		break;
	case DEFERRED_VAL_PTR:
		if (v->free == deferred_shared_unref && v->ptr != NULL)
			deferred_shared_ref(v->ptr);
		else if (v->free != NULL)
			*v = deferred_val_none();
		break;
	case DEFERRED_VAL_NONE:
	case DEFERRED_VAL_DEFERRED: /* a pair never gets one */
		break;
	}
	return own;
}

/* What a member's own chain continues with: consumeErrors turns a failure
 * into None. */
static struct deferred_val gather_pass_on(struct gather *g,
                                          struct deferred_val v)
{
	if (v.kind == DEFERRED_VAL_FAILURE &&
	    (g->flags & DEFERRED_GATHER_CONSUME_ERRORS)) {
		failure_free(v.failure);
		return deferred_val_none();
	}
	return v;
}

/* Hands the finished list to the gather Deferred. */
static void gather_fire_list(struct gather *g)
{
	struct deferred_val v = deferred_val_ptr(g->list, gather_list_free);

	g->list = NULL;
	/* With FIRE_ON_ONE_CALLBACK and no success (Twisted then fires with
	 * the list), the result keeps its declared type: index n, meaning no
	 * member, and the whole list as the value. */
	if (g->flags & DEFERRED_GATHER_FIRE_ON_ONE_CALLBACK) {
		struct deferred_gather_first *first = g->first;

		g->first = NULL;
		first->index = g->n;
		first->result = v;
		v = deferred_val_ptr(first, gather_first_free);
	}
	deferred_callback(g->d, v);
}

/* Records member `index`'s result (owned) and fires the gather when that
 * decides it (DeferredList._cbDeferred without the return value). */
static void gather_report(struct gather *g, size_t index,
                          struct deferred_val own)
{
	bool ok = own.kind != DEFERRED_VAL_FAILURE;

	g->remaining--;
	if (ok && (g->flags & DEFERRED_GATHER_FIRE_ON_ONE_CALLBACK)) {
		struct deferred_gather_first *first = g->first;

		g->first = NULL;
		first->index = index;
		first->result = own;
		deferred_callback(g->d,
		                  deferred_val_ptr(first, gather_first_free));
		return;
	}
	if (!ok && (g->flags & DEFERRED_GATHER_FIRE_ON_ONE_ERRBACK)) {
		deferred_errback(g->d,
		                 failure_first_error_new(index, own.failure));
		return;
	}
	g->list->entries[index] = (struct deferred_gather_entry){ ok, own };
	if (g->remaining == 0)
		gather_fire_list(g);
}

/* DeferredList._cbDeferred, a member's pair. */
static struct deferred_val gather_member_done(struct deferred_val v,
                                              void *arg)
{
	struct gather_slot *s = arg;
	struct gather *g = s->g;

	if (g->d != NULL)
		gather_report(g, s->index, gather_share(&v));
	return gather_pass_on(g, v);
}

const void *deferred_list__pair_gather(deferred_cb_fn cb, void *arg)
{
	const struct gather_slot *s = arg;

	return cb == gather_member_done ? s->g : NULL;
}

struct deferred *deferred_gather(struct deferred **ds, size_t n,
                                 unsigned flags)
{
	struct gather *g = NULL;
	struct deferred_gather_result *list = NULL;
	struct deferred_gather_first *first = NULL;
	struct deferred *d = NULL;
	size_t per_member = sizeof(struct gather_slot) + sizeof(struct deferred *);

	if (n > (SIZE_MAX - sizeof(*g)) / per_member ||
	    n > (SIZE_MAX - sizeof(*list)) / sizeof(list->entries[0]))
		goto fail;
	g = malloc(sizeof(*g) + n * per_member);
	list = malloc(sizeof(*list) + n * sizeof(list->entries[0]));
	if (flags & DEFERRED_GATHER_FIRE_ON_ONE_CALLBACK) {
		first = malloc(sizeof(*first));
		if (first != NULL)
			first->result = deferred_val_none();
	}
	d = deferred_new(NULL, NULL);
	if (g == NULL || list == NULL || d == NULL ||
	    ((flags & DEFERRED_GATHER_FIRE_ON_ONE_CALLBACK) && first == NULL))
		goto fail;
	/* Make room for every pair before any goes in, so that attaching
	 * cannot fail once members start reporting. */
	if (deferred__reserve_pairs(ds, n) != 0)
		goto fail;

	list->n = n;
	for (size_t i = 0; i < n; i++)
		list->entries[i] = (struct deferred_gather_entry){
			false, deferred_val_none()
		};
	/* The gather Deferred's reference, one per slot, and one for the
	 * loop below, which the gather firing must not free g under. */
	g->refs = 1 + n + 1;
	g->d = d;
	g->list = list;
	g->first = first;
	g->members = (struct deferred **)(void *)&g->slots[n];
	g->n = n;
	g->remaining = n;
	g->flags = flags;
	g->cancelling = false;
	for (size_t i = 0; i < n; i++) {
		g->slots[i] = (struct gather_slot){ g, i };
		g->members[i] = ds[i];
	}
	deferred__make_gather(d, g);
	for (size_t i = 0; i < n; i++)
		deferred__mark_member(ds[i]);
	/* Attach in index order, each member that already fired reporting at
	 * once, as Twisted's loop of addCallbacks does: a member listed twice
	 * reports its second slot after the members in between.  That can
	 * fire the gather and release the members; the extra references keep
	 * the ones not yet visited alive. */
	for (size_t i = 0; i < n; i++)
		deferred_ref(ds[i]);
	for (size_t i = 0; i < n; i++) {
		/* Fails only when a callback that ran since used up the room
		 * made above and memory ran out: the member then reports a
		 * MemoryError instead of its result. */
		if (deferred_add_callbacks(ds[i], gather_member_done,
		                           gather_member_done, &g->slots[i],
		                           gather_slot_done) != 0) {
			if (g->d != NULL)
				gather_report(g, i, deferred_val_failure(NULL));
			gather_unref(g);
		}
	}
	for (size_t i = 0; i < n; i++)
		deferred_unref(ds[i]);
	/* DeferredList([], fireOnOneCallback=True) never fires. */
	if (n == 0 && !(flags & DEFERRED_GATHER_FIRE_ON_ONE_CALLBACK))
		gather_fire_list(g);
	gather_unref(g);
	return d;
fail:
	deferred_unref(d);
	free(g);
	free(list);
	free(first);
	for (size_t i = 0; i < n; i++)
		deferred_unref(ds[i]);
	return NULL;
}
