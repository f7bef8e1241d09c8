#ifndef STRATA_WORKER_BLOCKSVC_H
#define STRATA_WORKER_BLOCKSVC_H

#include "daemon/worker/filecache.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tier_store;
struct worker_node;

/*
 * The worker's read path. A read of any byte range touches only the blocks
 * it covers. Each block's owner is chosen by rendezvous hashing over the
 * live workers (the list comes with heartbeat replies). This worker serves
 * blocks it owns from its tiers, reading a missing one through from the
 * under-store once (concurrent misses on one block wait for the first) and
 * caching it; blocks owned by another worker are pulled from that worker,
 * and read straight from the store if the owner does not answer.
 * Thread-safe.
 */
struct bsvc;

typedef int (*bsvc_sink_fn)(void *arg, const void *data, size_t len);

struct bsvc_stats {
	uint64_t requests;
	uint64_t block_hits, block_misses;
	uint64_t bytes_from_cache, bytes_from_ufs, bytes_from_peers;
	uint64_t ufs_block_reads;     /* whole-block read-throughs */
	uint64_t peer_fallbacks;      /* owner unreachable: read from the store */
	uint64_t blocks_pushed;       /* read from the store here, owned by a peer */
	uint64_t cache_put_errors;    /* block read but not cached (no room, I/O) */
	uint64_t store_read_errors;   /* reads from an under-store that failed */
	uint64_t latency_le_ms[8];    /* requests finished within 1,2,5,10,50,100,500,inf ms */
	uint64_t latency_sum_us;
};

int bsvc_new(struct worker_node *w, struct tier_store *tiers, struct fcache *fc,
	     struct bsvc **out);
void bsvc_free(struct bsvc *b);

/* Streams [off, off+len) of the file (clipped to its length) to sink.
 * A sink error (client gone) stops the read and is returned. */
int bsvc_read(struct bsvc *b, const struct file_info *fi, uint64_t off, uint64_t len,
	      bsvc_sink_fn sink, void *arg, char *err, size_t errlen);
/* For peers: the same for one block this worker owns (never forwarded). */
int bsvc_read_block(struct bsvc *b, const struct file_info *fi, uint64_t index, uint64_t off,
		    uint64_t len, bsvc_sink_fn sink, void *arg, char *err, size_t errlen);

/* Serves a range of block id if it is cached (blocks are immutable: an id
 * names one content version); -ENOENT on a miss. path: the file it belongs
 * to, for the per-mount counters. */
int bsvc_read_cached(struct bsvc *b, uint64_t id, const char *path, uint64_t off, uint64_t len,
		     bsvc_sink_fn sink, void *arg);

/*
 * Caches block `index` of the file, read by the caller from the store (a
 * lazy load's first read: daemon/worker/objects.c), as a read-through of
 * that block would: only when this worker owns it and data is the whole
 * block. Counted as a miss read from the store. 0, or -EREMOTE when
 * another worker owns it (not cached here), -EINVAL on a partial block, or
 * the tier's error.
 */
/* Keeps s (a reference, owned from here on; daemon/worker/coldstream.h)
 * as block block_id for the next bsvc_read on this thread, which serves
 * that block from it as it arrives instead of the cache or a peer (a lazy
 * load's block, counted once as the miss it was). bsvc_drop_cold lets go
 * of it unused. */
struct cstream;
void bsvc_hold_cold(uint64_t block_id, struct cstream *s);
void bsvc_drop_cold(void);

/* Marks block id as being read from the store (readers of it wait for
 * bsvc_flight_end, then find it cached); false when a read of it is under
 * way already. */
bool bsvc_flight_try(struct bsvc *b, uint64_t id);
void bsvc_flight_end(struct bsvc *b, uint64_t id);

int bsvc_put_block(struct bsvc *b, const struct file_info *fi, uint64_t index, const void *data,
		   uint64_t len);

/* Moves cached block id up to medium ("MEM", "SSD", "HDD") or a faster
 * tier of this worker if it sits lower (tier_block_raise): a pin's or a
 * load job's medium. 0 also when this worker has no tier that fast;
 * -EINVAL for an unknown medium, else tier_block_raise's error. */
int bsvc_raise(struct bsvc *b, uint64_t id, const char *medium);

/* Pins cached blocks again after a restart (the master's answer to a
 * registration: blocks of files not persisted yet, or pinned). Absent ones
 * are skipped. Returns how many were pinned. */
size_t bsvc_pin_again(struct bsvc *b, const uint64_t *ids, size_t n);

void bsvc_stats_get(struct bsvc *b, struct bsvc_stats *out);

/* For the S3 front's fast path, which sends cached blocks itself
 * (sendfile): counts one read as bsvc_read counts a read served from the
 * cache (a request, nblocks hits, bytes from the cache) with its latency
 * since start_us (bsvc_now_us). */
void bsvc_count_cached_read(struct bsvc *b, uint64_t nblocks, uint64_t bytes, int64_t start_us);
int64_t bsvc_now_us(void);

#endif
