#ifndef STRATA_MASTER_REVALIDATE_H
#define STRATA_MASTER_REVALIDATE_H

#include <stddef.h>
#include <stdint.h>

struct blockmap;
struct fs;
struct meta;

/*
 * Background revalidation (docs/namespace.md, "Freshness"): the leader
 * keeps the metadata of the files workers look up fresh ahead of need, so
 * a read never waits for the store unless this fell behind.
 *
 * reval_want records a worker's lookup of a file (the internal file
 * routes call it); a file stays wanted for keep_intervals sync intervals
 * after its last lookup (a worker keeping a file warm looks it up again
 * about once an interval). Files with cached blocks are wanted too, read
 * or not: every cached_scan_ms the thread finds them in the block map
 * (reval_scan_cached) and keeps them wanted for three scans. Files are grouped by directory; each directory
 * is checked once it was last checked half its mount's sync interval ago,
 * so verification never lapses while the store answers: one LIST for a
 * directory of more than FS_REVAL_HEADS_MAX wanted files, a HEAD each
 * otherwise (fs_revalidate). Only changes reach the Raft log.
 *
 * Leader only: the thread checks this master's role before each pass; a
 * master that stops leading forgets its verified times (fs_verified_clear)
 * and a new leader checks every wanted directory at once. Thread-safe.
 */
struct reval;

struct reval_opts {
	struct fs *fs;
	struct meta *meta;
	int64_t keep_intervals;      /* 0: 4 */
	int64_t default_interval_ms; /* before a directory's mount is known; 0: 30 s */
	int64_t tick_ms;             /* the thread's period; 0: 100 */
	struct blockmap *blocks;     /* NULL: only looked-up files are wanted */
	int64_t cached_scan_ms;      /* 0: a third of default_interval_ms, 1-10 s */
};

/* NULL on allocation failure; opts is copied. */
struct reval *reval_new(const struct reval_opts *opts);
/* Stops the thread if started; NULL is fine. */
void reval_free(struct reval *r);
/* Starts the thread; 0 or a negative errno. */
int reval_start(struct reval *r);

/* A worker looked up path (normal, a file) at now_wall_ms. Out of memory:
 * not recorded (the request path checks the file when it must). */
void reval_want(struct reval *r, const char *path, int64_t now_wall_ms);

/* Marks the files that have cached blocks wanted until three scans from
 * now_wall_ms: how many files, or a negative errno. Skips the namespace
 * lookups when neither the block map nor the namespace moved since the
 * last scan. The thread calls it on the leader; tests call it. */
int reval_scan_cached(struct reval *r, int64_t now_wall_ms);

/* One pass at now_wall_ms over the directories that are due: how many
 * were checked. The thread calls it on the leader; tests call it. */
int reval_pass(struct reval *r, int64_t now_wall_ms);

struct reval_stats {
	uint64_t passes;     /* passes that checked at least one directory */
	uint64_t dirs;       /* directory checks */
	uint64_t errors;     /* checks that failed (store down, ...) */
	uint64_t wanted;     /* files wanted now */
	uint64_t wanted_dirs; /* their directories */
	uint64_t cached;     /* files wanted because they have cached blocks */
	uint64_t scans;      /* block map scans that looked files up */
};
void reval_get_stats(struct reval *r, struct reval_stats *out);

#endif
