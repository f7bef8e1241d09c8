#ifndef STRATA_MASTER_BLOCKMAP_H
#define STRATA_MASTER_BLOCKMAP_H

#include <stddef.h>
#include <stdint.h>

/*
 * Where cached blocks are: block id -> the workers (and tiers) holding it.
 * Soft state, rebuilt from worker registrations (full lists) and heartbeats
 * (changes); never journaled. Thread-safe.
 */
struct blockmap;

#define BLOCKMAP_MAX_LOCS 4

struct block_loc {
	uint64_t worker_id;
	int tier; /* 0 = top tier (MEM) */
};

struct blockmap *blockmap_new(void);
void blockmap_free(struct blockmap *bm);

/* Records that worker holds block on tier (replacing an older tier). A
 * block already on BLOCKMAP_MAX_LOCS workers keeps the first ones. */
int blockmap_add(struct blockmap *bm, uint64_t block, uint64_t worker_id, int tier);
void blockmap_remove(struct blockmap *bm, uint64_t block, uint64_t worker_id);
/* Forgets everything worker held (lost, or about to send a full list). */
void blockmap_drop_worker(struct blockmap *bm, uint64_t worker_id);
/* Copies up to max locations of block into out; returns how many. */
size_t blockmap_get(struct blockmap *bm, uint64_t block, struct block_loc *out, size_t max);
size_t blockmap_count(struct blockmap *bm);
/* A number that moves whenever a location is added, removed or changes
 * tier (and only then): whoever saw it unchanged saw the same map. */
uint64_t blockmap_version(struct blockmap *bm);

/* One block and its holders, as blockmap_list copies them out. */
struct blockmap_entry {
	uint64_t block;
	uint32_t nloc;
	struct block_loc locs[BLOCKMAP_MAX_LOCS];
};
/* A copy of every entry (in no order) into *out, which the caller frees;
 * -ENOMEM. */
int blockmap_list(struct blockmap *bm, struct blockmap_entry **out, size_t *n);

#endif
