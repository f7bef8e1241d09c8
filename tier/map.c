#include "tier/map.h"

#include <errno.h>
#include <stdlib.h>

static uint64_t map_hash(uint64_t x)
{
	/* splitmix64 finalizer: ids like file << 24 | index spread evenly. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

void tier_map_init(struct tier_map *m)
{
	m->slots = NULL;
	m->cap = 0;
	m->count = 0;
}

void tier_map_free(struct tier_map *m)
{
	free(m->slots);
	tier_map_init(m);
}

static struct tier_map_slot *map_find(const struct tier_map *m, uint64_t key)
{
	if (m->cap == 0)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = map_hash(key) & mask;; i = (i + 1) & mask) {
		struct tier_map_slot *s = &m->slots[i];
		if (!s->used)
			return NULL;
		if (s->key == key)
			return s;
	}
}

void *tier_map_get(const struct tier_map *m, uint64_t key)
{
	struct tier_map_slot *s = map_find(m, key);
	return s ? s->val : NULL;
}

static void map_insert_new(struct tier_map_slot *slots, size_t cap, uint64_t key, void *val)
{
	size_t mask = cap - 1;
	size_t i = map_hash(key) & mask;
	while (slots[i].used)
		i = (i + 1) & mask;
	slots[i].key = key;
	slots[i].val = val;
	slots[i].used = 1;
}

static int map_grow(struct tier_map *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;
	struct tier_map_slot *nslots = calloc(ncap, sizeof(*nslots));
	if (!nslots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		if (m->slots[i].used)
			map_insert_new(nslots, ncap, m->slots[i].key, m->slots[i].val);
	}
	free(m->slots);
	m->slots = nslots;
	m->cap = ncap;
	return 0;
}

int tier_map_put(struct tier_map *m, uint64_t key, void *val)
{
	struct tier_map_slot *s = map_find(m, key);
	if (s) {
		s->val = val;
		return 0;
	}
	/* Keep the load factor under 3/4 so probes stay short. */
	if ((m->count + 1) * 4 > m->cap * 3) {
		int rc = map_grow(m);
		if (rc < 0)
			return rc;
	}
	map_insert_new(m->slots, m->cap, key, val);
	m->count++;
	return 0;
}

void *tier_map_del(struct tier_map *m, uint64_t key)
{
	struct tier_map_slot *s = map_find(m, key);
	if (!s)
		return NULL;
	void *val = s->val;
	size_t mask = m->cap - 1;
	size_t hole = (size_t)(s - m->slots);
	/* Backward shift: pull later entries of the probe run into the hole. */
	for (size_t i = (hole + 1) & mask; m->slots[i].used; i = (i + 1) & mask) {
		size_t home = map_hash(m->slots[i].key) & mask;
		/* Move it if its home is not cyclically within (hole, i]. */
		int stays = (hole < i) ? (home > hole && home <= i) : (home > hole || home <= i);
		if (!stays) {
			m->slots[hole] = m->slots[i];
			hole = i;
		}
	}
	m->slots[hole].used = 0;
	m->slots[hole].val = NULL;
	m->count--;
	return val;
}

int tier_map_next(const struct tier_map *m, size_t *pos, uint64_t *key, void **val)
{
	while (*pos < m->cap) {
		const struct tier_map_slot *s = &m->slots[(*pos)++];
		if (s->used) {
			if (key)
				*key = s->key;
			if (val)
				*val = s->val;
			return 1;
		}
	}
	return 0;
}
