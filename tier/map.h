#ifndef STRATA_TIER_MAP_H
#define STRATA_TIER_MAP_H

#include <stddef.h>
#include <stdint.h>

/*
 * A hash map from uint64 ids to pointers: open addressing with linear
 * probing and backward-shift deletion (no tombstones). Values are borrowed;
 * the map never frees them. Not thread-safe. Any id, 0 included, is a key.
 */
struct tier_map_slot {
	uint64_t key;
	void *val;
	int used;
};

struct tier_map {
	struct tier_map_slot *slots; /* owned */
	size_t cap;		     /* power of two, or 0 before the first put */
	size_t count;
};

void tier_map_init(struct tier_map *m);
void tier_map_free(struct tier_map *m);
/* NULL if absent. */
void *tier_map_get(const struct tier_map *m, uint64_t key);
/* Inserts or replaces. 0 or -ENOMEM (the map is unchanged then). */
int tier_map_put(struct tier_map *m, uint64_t key, void *val);
/* Returns the removed value, or NULL if absent. */
void *tier_map_del(struct tier_map *m, uint64_t key);

/*
 * Iteration: for (size_t i = 0; tier_map_next(m, &i, &key, &val);) ...
 * The map must not change during the iteration.
 */
int tier_map_next(const struct tier_map *m, size_t *pos, uint64_t *key, void **val);

#endif
