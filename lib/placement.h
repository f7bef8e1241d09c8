#ifndef STRATA_LIB_PLACEMENT_H
#define STRATA_LIB_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Blocks and where they live. A block is named by the content version of
 * its file (data_id, which changes whenever the content does) and its
 * index: id = data_id << PLACEMENT_INDEX_BITS | index. So a file holds at
 * most 2^24 blocks (64 TiB at 4 MiB blocks).
 *
 * Placement is rendezvous (highest-random-weight) hashing: every live
 * worker gets a pseudo-random weight for the block, the k highest are its
 * owners. Pure: same inputs, same owners on every node; adding one worker
 * to n moves about 1/(n+1) of the blocks.
 */
#define PLACEMENT_INDEX_BITS 24
#define PLACEMENT_MAX_INDEX ((UINT64_C(1) << PLACEMENT_INDEX_BITS) - 1)

static inline uint64_t placement_block_id(uint64_t data_id, uint64_t index)
{
	return data_id << PLACEMENT_INDEX_BITS | (index & PLACEMENT_MAX_INDEX);
}

/* Weight of worker for block (a 64-bit mix of both). */
uint64_t placement_weight(uint64_t block_id, uint64_t worker_id);

/*
 * Writes into owners[0..k) the indexes (into workers[]) of the k workers
 * with the highest weight for block_id, highest first; returns how many it
 * wrote (min(k, n)).
 */
size_t placement_owners(uint64_t block_id, const uint64_t *workers, size_t n, size_t k,
			size_t *owners);

/*
 * A data id that puts block `index` of new content on worker `self`: the
 * first id in [start, start + tries) whose block index the owner (k = 1
 * over workers[0..n)) is self; 0 when none is (or self is not among the
 * workers, or n < 2, or the id would not fit PLACEMENT_INDEX_BITS below 64
 * bits). The master names a lazily loaded file's content this way so the
 * worker that read it from the store is its owner and keeps it, instead
 * of pushing it to a peer (docs/s3-gateway.md, the cold GET).
 */
uint64_t placement_pick_data_id(uint64_t start, unsigned tries, uint64_t index, uint64_t self,
				const uint64_t *workers, size_t n);

#endif
