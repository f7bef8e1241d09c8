#ifndef STRATA_TIER_EVICT_H
#define STRATA_TIER_EVICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tier/tier.h"

/*
 * Eviction policy of one tier: pure code, no I/O, no clock. It is fed the
 * tier's events (a block arrived, was accessed, pinned, left) with the time
 * as an input, and answers which unpinned block is coldest.
 *
 *   LRU: coldest = oldest last access.
 *   LFU: coldest = fewest accesses; ties go to the oldest last access.
 * Remaining ties (same time, same count) go to the block whose last event
 * came first, so the order is total and deterministic whatever the clock's
 * resolution. Pinned blocks are kept out of the candidate heap entirely.
 *
 * A block's access count and last access travel with it on demotion
 * (tier_policy_info, then tier_policy_insert in the next tier), so a block
 * demoted long ago stays colder than the lower tier's recently used blocks.
 * O(1) per access (the heap is fixed up lazily, when the victim is asked
 * for), O(log n) per insert and removal; asking for the victim costs
 * O(log n) per access since its last sift.
 */
struct tier_policy;

/* *out is owned by the caller; free with tier_policy_destroy. 0 or -ENOMEM/-EINVAL. */
int tier_policy_create(enum tier_policy_kind kind, struct tier_policy **out);
void tier_policy_destroy(struct tier_policy *p);

/* A block arrives with its history. -EEXIST if tracked already, -ENOMEM. */
int tier_policy_insert(struct tier_policy *p, uint64_t id, int64_t last_access_ms,
		       uint64_t hits, bool pinned);
/* One access at time now_ms. -ENOENT if not tracked. */
int tier_policy_access(struct tier_policy *p, uint64_t id, int64_t now_ms);
/* A block leaves. -ENOENT if not tracked. */
int tier_policy_remove(struct tier_policy *p, uint64_t id);
/* -ENOENT if not tracked. Idempotent. */
int tier_policy_set_pinned(struct tier_policy *p, uint64_t id, bool pinned);
/* The coldest unpinned block, left in place (the heap's top is brought up
 * to date first). -ENOENT if there is none. */
int tier_policy_victim(struct tier_policy *p, uint64_t *id);
/* History of a tracked block (either out pointer may be NULL). -ENOENT. */
int tier_policy_info(const struct tier_policy *p, uint64_t id, int64_t *last_access_ms,
		     uint64_t *hits);
/* Blocks tracked, pinned ones included. */
size_t tier_policy_count(const struct tier_policy *p);

#endif
