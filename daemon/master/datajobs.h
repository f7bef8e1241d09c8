#ifndef STRATA_MASTER_DATAJOBS_H
#define STRATA_MASTER_DATAJOBS_H

#include "daemon/master/jobs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct meta;
struct registry;
struct strata_conf;

/*
 * Data jobs: load (read every file below a path into the workers' caches,
 * where a normal read would put each block) and free (drop the cached
 * blocks of every file below a path). REST creates and cancels them;
 * one PERIODIC leader-only job of the runner (jobs.h) does the work.
 *
 * Restartable as jobs.h asks, with no state in memory at all: a job is a
 * row of the namespace (job_create), each step reads the next active job
 * and its next slice — up to `batch` files (and 256 MiB) with an inode id
 * above the job's cursor — sends the slice to the live workers in parallel (a small
 * file is one request to its first block's owner, a big file one request
 * per block to each block's owner), then journals the slice's errors
 * (job_error) and its progress (job_progress: the new cursor and the
 * counters so far). A new leader's first step continues from the last
 * journaled cursor: at most one slice is sent again, and loading a cached
 * block again is a cache hit. A cancel (job_end) makes the next progress
 * of the job stale, so a cancelled job does at most the slice in flight.
 */
struct datajobs;

struct datajobs_opts {
	struct meta *meta;
	struct registry *registry;
	const struct strata_conf *conf; /* worker token, TLS, request timeout */
	size_t batch;   /* files per slice; 0: 64 */
	int threads;    /* worker requests in flight; 0: 16 */
};

/* NULL on allocation failure; opts is copied. */
struct datajobs *datajobs_new(const struct datajobs_opts *opts);
void datajobs_free(struct datajobs *d);

/* The PERIODIC job that works on the active jobs (round robin, one slice
 * per step). */
void datajobs_spec(struct datajobs *d, int64_t period_ms, struct jobs_spec *out);

/* Creates a job (a job_create command); its id in *id. -EINVAL naming the
 * field (type, medium), -ENOENT (path), or what meta_submit returns. */
int datajobs_create(struct datajobs *d, const char *type, const char *path, bool recursive,
		    const char *medium, int64_t now_ms, uint64_t *id, char *err, size_t errlen);
/* Cancels an active job: -ENOENT (unknown id), ST_ESTALE (it ended). */
int datajobs_cancel(struct datajobs *d, uint64_t id, int64_t now_ms, char *err, size_t errlen);

/* {"job": {...}} with its errors, or {"jobs": [...]} newest first (at
 * most limit). NULL with *rc -ENOENT (unknown id) or -ENOMEM/-EIO. Rate
 * and ETA are computed at now_ms (wall). Caller owns. */
struct cJSON *datajobs_get_json(struct datajobs *d, uint64_t id, int64_t now_ms, int *rc);
struct cJSON *datajobs_list_json(struct datajobs *d, size_t limit, int64_t now_ms, int *rc);

/*
 * Drops the cached blocks of n files (blocks 0..nblocks-1 of content
 * data_id) from every live worker, pinned or not, with one request per
 * worker (the free job's request). For the TTL checker's free; call it on
 * the job runner's thread. 0 when every live worker answered (also when
 * none is live: nothing reachable caches anything); otherwise the first
 * failure, err naming the worker.
 */
struct datajobs_drop {
	uint64_t data_id;
	uint64_t nblocks;
};
int datajobs_drop(struct datajobs *d, const struct datajobs_drop *files, size_t n, char *err,
		  size_t errlen);
/* Drops blocks 0..nblocks-1 of content data_id on every live worker,
 * pinned or not: content nothing refers to any more (a file that was not
 * persisted, deleted or rewritten: its pinned blocks would stay for ever).
 * Best effort, from any thread: failures are logged. */
void datajobs_drop_blocks(struct datajobs *d, uint64_t data_id, uint64_t nblocks);

struct datajobs_stats {
	uint64_t slices, files_loaded, files_freed, files_failed, bytes_loaded;
	uint64_t files_persisted, bytes_persisted;
};
void datajobs_get_stats(struct datajobs *d, struct datajobs_stats *out);

#endif
