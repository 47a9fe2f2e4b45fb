/*
 * deferred_chain.h: struct deferred and the chain runner, shared by the
 * two files of the Deferred core, deferred.c (the API: life cycle, adding
 * pairs, firing, cancel, pause) and deferred_chain.c (the pair queue,
 * waiting on another Deferred, the cycle check and running a chain).
 * Internal: not installed, included by those two files only; the gather
 * (deferred_list.c) and the timeout never see the struct.
 */
#ifndef FCGI_APP_DEFERRED_CHAIN_H
#define FCGI_APP_DEFERRED_CHAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "deferred.h"

enum {
	F_CALLED = 1 << 0,   /* callback/errback/cancel fired it */
	F_SUPPRESS = 1 << 1, /* eat the next fire (_suppressAlreadyCalled) */
	F_ON_CHAIN = 1 << 2, /* on a run's stack; u.chain_prev is valid */
	F_RUNNING = 1 << 3,  /* inside one of its own callbacks */
	F_HEAP = 1 << 4,     /* pairs live in p.heap */
	F_GATHER = 1 << 5,   /* a gather; its state is u.cancel.arg until called */
	F_MEMBER = 1 << 6,   /* may hold a gather's pair (see waits_on) */
};

struct pair {
	deferred_cb_fn cb;
	deferred_cb_fn eb;
	void *arg;
	void (*arg_free)(void *);
};

#define INLINE_PAIRS 4

/*
 * 192 bytes on LP64: 4 inline pairs (128), the result (16 + kind), the
 * canceller / wait / stack link union (16), the waiter list (8) and five
 * 32-bit counters.  The result is stored unpacked so its kind fits in a
 * byte instead of an enum plus padding.  A waiter's position in its list
 * lives in the result's free-function slot, which is dead while the result
 * is a Deferred, so the list is doubly linked at no cost in size.
 */
struct deferred {
	union {
		struct pair inline_pairs[INLINE_PAIRS];
		struct {
			struct pair *v;
			uint32_t cap;
		} heap;
	} p;
	union {
		void *ptr;
		struct failure *failure;
		struct deferred *deferred;
	} res;
	union {
		void (*free)(void *); /* kind PTR: releases res.ptr; NULL: borrowed */
		uint32_t wait_seq;    /* waiting: value of the waited-on `popped`
		                         at which this waiter gets the result */
	} aux;
	/* Which member is live follows from the state: the canceller until
	 * the Deferred is called (it is never needed after); `wait` while it
	 * waits on res.deferred; `chain_prev` while it is on a run's stack.
	 * A Deferred leaves the stack before it starts waiting, and a waiter
	 * is taken off its list before it is pushed. */
	union {
		struct {
			deferred_canceller_fn fn;
			void *arg;
		} cancel;
		struct {
			/* The waiters on one Deferred: `next` ends in NULL,
			 * the first one's `prev` is the last one, so appending
			 * and unlinking are O(1). */
			struct deferred *next;
			struct deferred *prev;
		} wait;
		struct deferred *chain_prev; /* the Deferred below on the stack */
	} u;
	struct deferred *waiters; /* Deferreds waiting on this one, in order */
	uint32_t head;   /* index of the first pending pair */
	uint32_t count;  /* pending pairs */
	uint32_t popped; /* pairs taken off the queue so far (wraps) */
	uint32_t refcnt;
	uint32_t paused;
	uint8_t kind; /* enum deferred_val_kind of res */
	uint8_t flags;
};

_Static_assert(sizeof(void *) != 8 || sizeof(struct deferred) <= 200,
               "struct deferred grew past its size budget");

/* ---- result slot and pair queue, for both files ---- */

/* A waiting Deferred must be unlinked from its waiter list first: the
 * slot's aux field is its list position then. */
static inline struct deferred_val result_take(struct deferred *d)
{
	struct deferred_val v = { .kind = d->kind };

	v.ptr = d->res.ptr;
	if (d->kind == DEFERRED_VAL_PTR)
		v.free = d->aux.free;
	d->kind = DEFERRED_VAL_NONE;
	d->res.ptr = NULL;
	d->aux.free = NULL;
	return v;
}

/* Overwrites the slot without releasing what it held. */
static inline void result_set(struct deferred *d, struct deferred_val v)
{
	d->kind = (uint8_t)v.kind;
	d->res.ptr = v.ptr;
	d->aux.free = v.kind == DEFERRED_VAL_PTR ? v.free : NULL;
}

static inline bool is_waiting(const struct deferred *d)
{
	return d->kind == DEFERRED_VAL_DEFERRED;
}

static inline struct pair *pairs(struct deferred *d)
{
	return (d->flags & F_HEAP) ? d->p.heap.v : d->p.inline_pairs;
}

/* Appends after deferred__pair_reserve succeeded. */
static inline void pair_push(struct deferred *d, deferred_cb_fn cb,
                             deferred_cb_fn eb, void *arg,
                             void (*arg_free)(void *))
{
	pairs(d)[d->head + d->count] = (struct pair){ cb, eb, arg, arg_free };
	d->count++;
}

/* Makes room for one more pair at pairs(d)[head + count] without changing
 * the queue.  Run-time pops copy a pair out before calling it, so moving
 * the array under a running chain is safe.  0 or -ENOMEM. */
int deferred__pair_reserve(struct deferred *d);

/* Takes w off the list of Deferreds waiting on `inner`. */
void deferred__waiter_unlink(struct deferred *inner, struct deferred *w);

/* defer.py _runCallbacks: runs d's pending pairs, and those of the
 * Deferreds that get their results from d, unless d is paused, waiting,
 * or already on a run's stack (whoever has it there gets to the pairs). */
void deferred__run_callbacks(struct deferred *d);

#endif
