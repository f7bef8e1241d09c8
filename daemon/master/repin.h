#ifndef STRATA_MASTER_REPIN_H
#define STRATA_MASTER_REPIN_H

#include <stddef.h>
#include <stdint.h>

struct meta;

/*
 * Pins lost by a worker restart. A worker's tiers keep their blocks across
 * a restart but not their pins (a pin is memory state, set as blocks are
 * written or read), so the blocks of a file not yet persisted (ASYNC_THROUGH,
 * MUST_CACHE: perhaps the only copy) would be the first evicted by pressure
 * before anyone reads them again. A registration carries the worker's full
 * block list; the leader answers with the blocks of it to pin again: those
 * whose file (by content id, the current content only) is not persisted
 * and not lost, or is pinned by policy.
 *
 * blocks: the registered block ids, in any order. *out (caller frees;
 * NULL when *nout is 0) gets the ids to pin, ascending. 0 or -ENOMEM.
 * One namespace lookup per distinct content id, each under its own read
 * lock.
 */
int repin_select(struct meta *meta, const uint64_t *blocks, size_t n, uint64_t **out,
		 size_t *nout);

#endif
