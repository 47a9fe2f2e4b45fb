/*
 * deferred_internal.h: the hooks between the Deferred core (deferred.c,
 * deferred_chain.c) and the gather (deferred_list.c).  Internal: not part
 * of the API, not installed, included by those files only.  Names carry `deferred__`
 * (the core's side) or `deferred_list__` (the gather's side).
 *
 * What each side owns: the core owns every struct deferred, its pair queue
 * and its flags, and never looks inside the gather's state; the gather
 * owns that state (an opaque `state` here), which the core only stores in
 * the gather Deferred and hands back.  The core calls the
 * deferred_list__ hooks, so whatever links deferred links deferred_list.
 */
#ifndef FCGI_APP_DEFERRED_INTERNAL_H
#define FCGI_APP_DEFERRED_INTERNAL_H

#include <stddef.h>

#include "deferred.h"

/* ---- the core, for the gather ---- */

/* deferred_chain.c: */

/* Makes room for one more pair on ds[i] for each i (a Deferred listed
 * twice gets room for two), without adding any, so that attaching the
 * gather's pairs cannot fail once members start reporting.  All or
 * nothing: 0, or -ENOMEM with every queue as it was. */
int deferred__reserve_pairs(struct deferred **ds, size_t n);

/* deferred.c: */

/* Marks the unfired `d` as a gather with `state`: from now on cancelling
 * it calls deferred_list__cancel(state) (and does not errback it), and
 * firing or freeing it unfired calls deferred_list__release(state) once. */
void deferred__make_gather(struct deferred *d, void *state);

/* Marks `d` as possibly holding a gather's pair, so that the cycle check
 * looks at its pairs (deferred_list__pair_gather). */
void deferred__mark_member(struct deferred *d);

/* ---- the gather, for the core ---- */

/* DeferredList.cancel: cancels every member once.  The core then leaves
 * the gather unfired: members that cannot answer now (paused, or waiting
 * on a paused Deferred) still report later and fire it. */
void deferred_list__cancel(void *state);

/* The gather Deferred fired or is being freed unfired: drops the members
 * and the gather Deferred's reference to `state`. */
void deferred_list__release(void *state);

/* The state of the gather a pair (cb, arg) of a member belongs to, or
 * NULL when it is not a gather's pair. */
const void *deferred_list__pair_gather(deferred_cb_fn cb, void *arg);

#endif
