#ifndef STRATA_WORKER_PATHSTATS_H
#define STRATA_WORKER_PATHSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;

/*
 * Where a worker's reads go, by mount and by path, for the monitor's
 * worker detail and the console (GET /api/v1/metrics "mounts" and
 * "top_paths").
 *
 * Per mount (the longest mount path that is a prefix of the file's path;
 * the list comes with heartbeat replies), cumulative counters that split
 * the worker-wide ones: read requests clients sent to this worker, and the
 * block reads it served as the block's owner (hits from the tiers, misses
 * read through from the store, with their bytes). Reads under no known
 * mount count under "" (the mount list not received yet).
 *
 * Top paths: a bounded sketch (Space-Saving, PATHSTATS_TOP entries) of the
 * paths that received the most requests recently: counts halve every
 * PATHSTATS_HALF_LIFE_MS, so a path read once an hour ago drops out. The
 * counts of a path that entered the sketch by replacing another are
 * overestimates by at most the replaced count (reported as "error").
 *
 * Thread-safe (one mutex; every call is a few comparisons).
 */
#define PATHSTATS_MAX_MOUNTS 256
#define PATHSTATS_TOP 64
#define PATHSTATS_HALF_LIFE_MS 60000

struct pathstats;

int pathstats_new(struct pathstats **out);
void pathstats_free(struct pathstats *ps);

/* Replaces the mount list (normal paths; at most PATHSTATS_MAX_MOUNTS are
 * kept). Counters of mounts still listed are kept. 0 or -ENOMEM. */
int pathstats_set_mounts(struct pathstats *ps, const char *const *paths, size_t n);

/* A read request for path (bytes: the length asked for), at now_ms
 * (monotonic). */
void pathstats_request(struct pathstats *ps, const char *path, uint64_t bytes, int64_t now_ms);
/* A read request for path served whole from this worker's tiers (the S3
 * fast path): pathstats_request and pathstats_blocks(hit) under one lock. */
void pathstats_cached_read(struct pathstats *ps, const char *path, uint64_t bytes,
			   uint64_t nblocks, int64_t now_ms);
/* Block reads of path this worker served as owner: from the tiers (hit) or
 * read through from the store. */
void pathstats_blocks(struct pathstats *ps, const char *path, bool hit, uint64_t nblocks,
		      uint64_t bytes);

struct pathstats_mount {
	char path[4097];
	uint64_t requests, bytes_requested;
	uint64_t block_hits, block_misses, bytes_from_cache, bytes_from_ufs;
};
struct pathstats_path {
	char path[4097];
	double requests, bytes; /* decayed */
	double error;           /* requests may be over by this much */
};

/* Copies up to max mounts (list order, then "" if it was used); returns
 * how many. */
size_t pathstats_mounts(struct pathstats *ps, struct pathstats_mount *out, size_t max);
/* Copies up to max top paths, most requests first, decayed to now_ms;
 * returns how many. */
size_t pathstats_top(struct pathstats *ps, int64_t now_ms, struct pathstats_path *out,
		     size_t max);

/* {"mounts": [...], "top_paths": [...]} members added to o (the worker's
 * GET /api/v1/metrics); top: how many paths (<= PATHSTATS_TOP). */
int pathstats_add_json(struct pathstats *ps, struct cJSON *o, size_t top, int64_t now_ms);

#endif
