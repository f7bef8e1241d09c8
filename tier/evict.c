#include "tier/evict.h"

#include <errno.h>
#include <stdlib.h>

#include "tier/map.h"

#define NOT_IN_HEAP SIZE_MAX

/*
 * An access only makes an entry hotter, so it is not sifted at once (that
 * would chase pointers through a large heap under the tier's lock on every
 * read): the heap is ordered by each entry's key as of its last sift (the
 * h_ fields, never hotter than the live ones), and the victim is checked
 * and sifted when asked for. The top is truly coldest once its live key is
 * the one it was placed by, since every key in the heap is at most live.
 */
struct policy_entry {
	uint64_t id;
	int64_t last_access_ms;
	uint64_t hits;
	uint64_t seq; /* order of the last event; breaks all ties */
	int64_t h_last_access_ms; /* the key the heap holds it by */
	uint64_t h_hits, h_seq;
	size_t heap_pos; /* NOT_IN_HEAP while pinned */
};

struct tier_policy {
	enum tier_policy_kind kind;
	struct tier_map entries; /* id -> struct policy_entry*, owned */
	struct policy_entry **heap; /* min-heap of unpinned entries, coldest first */
	size_t heap_len;
	size_t heap_cap;
	uint64_t next_seq;
};

/* true if a is colder than b. */
static bool colder(const struct tier_policy *p, const struct policy_entry *a,
		   const struct policy_entry *b)
{
	if (p->kind == TIER_POLICY_LFU && a->h_hits != b->h_hits)
		return a->h_hits < b->h_hits;
	if (a->h_last_access_ms != b->h_last_access_ms)
		return a->h_last_access_ms < b->h_last_access_ms;
	return a->h_seq < b->h_seq;
}

/* Places e in the heap by its live key. */
static void key_sync(struct policy_entry *e)
{
	e->h_last_access_ms = e->last_access_ms;
	e->h_hits = e->hits;
	e->h_seq = e->seq;
}

static void heap_set(struct tier_policy *p, size_t pos, struct policy_entry *e)
{
	p->heap[pos] = e;
	e->heap_pos = pos;
}

static void heap_up(struct tier_policy *p, size_t pos)
{
	struct policy_entry *e = p->heap[pos];
	while (pos > 0) {
		size_t parent = (pos - 1) / 2;
		if (!colder(p, e, p->heap[parent]))
			break;
		heap_set(p, pos, p->heap[parent]);
		pos = parent;
	}
	heap_set(p, pos, e);
}

static void heap_down(struct tier_policy *p, size_t pos)
{
	struct policy_entry *e = p->heap[pos];
	for (;;) {
		size_t child = 2 * pos + 1;
		if (child >= p->heap_len)
			break;
		if (child + 1 < p->heap_len && colder(p, p->heap[child + 1], p->heap[child]))
			child++;
		if (!colder(p, p->heap[child], e))
			break;
		heap_set(p, pos, p->heap[child]);
		pos = child;
	}
	heap_set(p, pos, e);
}

static int heap_push(struct tier_policy *p, struct policy_entry *e)
{
	if (p->heap_len == p->heap_cap) {
		size_t ncap = p->heap_cap ? p->heap_cap * 2 : 16;
		struct policy_entry **nheap = realloc(p->heap, ncap * sizeof(*nheap));
		if (!nheap)
			return -ENOMEM;
		p->heap = nheap;
		p->heap_cap = ncap;
	}
	key_sync(e);
	heap_set(p, p->heap_len++, e);
	heap_up(p, e->heap_pos);
	return 0;
}

static void heap_remove(struct tier_policy *p, struct policy_entry *e)
{
	size_t pos = e->heap_pos;
	struct policy_entry *last = p->heap[--p->heap_len];
	e->heap_pos = NOT_IN_HEAP;
	if (last == e)
		return;
	heap_set(p, pos, last);
	heap_up(p, pos);
	heap_down(p, last->heap_pos);
}

int tier_policy_create(enum tier_policy_kind kind, struct tier_policy **out)
{
	if (kind != TIER_POLICY_LRU && kind != TIER_POLICY_LFU)
		return -EINVAL;
	struct tier_policy *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->kind = kind;
	tier_map_init(&p->entries);
	*out = p;
	return 0;
}

void tier_policy_destroy(struct tier_policy *p)
{
	if (!p)
		return;
	void *val;
	for (size_t i = 0; tier_map_next(&p->entries, &i, NULL, &val);)
		free(val);
	tier_map_free(&p->entries);
	free(p->heap);
	free(p);
}

int tier_policy_insert(struct tier_policy *p, uint64_t id, int64_t last_access_ms,
		       uint64_t hits, bool pinned)
{
	int rc;
	if (tier_map_get(&p->entries, id))
		return -EEXIST;
	struct policy_entry *e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->id = id;
	e->last_access_ms = last_access_ms;
	e->hits = hits;
	e->seq = p->next_seq++;
	e->heap_pos = NOT_IN_HEAP;
	if (!pinned) {
		rc = heap_push(p, e);
		if (rc < 0)
			goto err_free_entry;
	}
	rc = tier_map_put(&p->entries, id, e);
	if (rc < 0)
		goto err_unheap;
	return 0;

err_unheap:
	if (e->heap_pos != NOT_IN_HEAP)
		heap_remove(p, e);
err_free_entry:
	free(e);
	return rc;
}

int tier_policy_access(struct tier_policy *p, uint64_t id, int64_t now_ms)
{
	struct policy_entry *e = tier_map_get(&p->entries, id);
	if (!e)
		return -ENOENT;
	e->hits++;
	/* A clock that steps back must not make a fresh access look old. */
	if (now_ms > e->last_access_ms)
		e->last_access_ms = now_ms;
	e->seq = p->next_seq++;
	/* Only ever hotter: its place is fixed when it reaches the top. */
	return 0;
}

int tier_policy_remove(struct tier_policy *p, uint64_t id)
{
	struct policy_entry *e = tier_map_del(&p->entries, id);
	if (!e)
		return -ENOENT;
	if (e->heap_pos != NOT_IN_HEAP)
		heap_remove(p, e);
	free(e);
	return 0;
}

int tier_policy_set_pinned(struct tier_policy *p, uint64_t id, bool pinned)
{
	struct policy_entry *e = tier_map_get(&p->entries, id);
	if (!e)
		return -ENOENT;
	bool is_pinned = e->heap_pos == NOT_IN_HEAP;
	if (pinned && !is_pinned)
		heap_remove(p, e);
	else if (!pinned && is_pinned)
		return heap_push(p, e);
	return 0;
}

int tier_policy_victim(struct tier_policy *p, uint64_t *id)
{
	if (p->heap_len == 0)
		return -ENOENT;
	for (;;) { /* each entry moves down at most once per access */
		struct policy_entry *top = p->heap[0];
		if (top->h_seq == top->seq)
			break;
		key_sync(top);
		heap_down(p, 0);
	}
	*id = p->heap[0]->id;
	return 0;
}

int tier_policy_info(const struct tier_policy *p, uint64_t id, int64_t *last_access_ms,
		     uint64_t *hits)
{
	const struct policy_entry *e = tier_map_get(&p->entries, id);
	if (!e)
		return -ENOENT;
	if (last_access_ms)
		*last_access_ms = e->last_access_ms;
	if (hits)
		*hits = e->hits;
	return 0;
}

size_t tier_policy_count(const struct tier_policy *p)
{
	return p->entries.count;
}
