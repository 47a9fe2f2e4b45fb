/*
 * list: one intrusive doubly linked list, circular around a sentinel.
 *
 * Embed a `struct list` in the element and recover the element with
 * list_entry.  Every operation is O(1).  A node that is on no list points
 * at itself (list_remove leaves it so), which makes list_linked a cheap
 * "still queued?" test.  No allocation, no locking: the owner of the list
 * decides who may touch it.
 */
#ifndef FCGI_APP_LIST_H
#define FCGI_APP_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list {
	struct list *prev, *next;
};

#define list_entry(node, type, member) \
	((type *)(void *)((char *)(node) - offsetof(type, member)))

static inline void list_init(struct list *l)
{
	l->prev = l->next = l;
}

static inline bool list_empty(const struct list *head)
{
	return head->next == head;
}

/* For a node: whether it is on some list now. */
static inline bool list_linked(const struct list *node)
{
	return node->next != node;
}

/* Appends node at the tail. */
static inline void list_push(struct list *head, struct list *node)
{
	node->prev = head->prev;
	node->next = head;
	head->prev->next = node;
	head->prev = node;
}

static inline void list_remove(struct list *node)
{
	node->prev->next = node->next;
	node->next->prev = node->prev;
	list_init(node);
}

/* Takes the first node off (NULL when empty). */
static inline struct list *list_shift(struct list *head)
{
	if (list_empty(head))
		return NULL;
	struct list *node = head->next;
	list_remove(node);
	return node;
}

/* Moves every node of `from` to the tail of `to`; `from` ends empty. */
static inline void list_splice(struct list *to, struct list *from)
{
	if (list_empty(from))
		return;
	from->next->prev = to->prev;
	to->prev->next = from->next;
	from->prev->next = to;
	to->prev = from->prev;
	list_init(from);
}

#endif
