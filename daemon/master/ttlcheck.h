#ifndef STRATA_MASTER_TTLCHECK_H
#define STRATA_MASTER_TTLCHECK_H

#include "daemon/master/datajobs.h"
#include "daemon/master/jobs.h"

#include <stddef.h>
#include <stdint.h>

struct events;
struct fs;
struct meta;

/*
 * The TTL checker: a periodic leader-only job (jobs.h) that acts on files
 * whose TTL expired (docs/decisions.md, "TTL checker").
 *
 * One pass (ttlcheck_run):
 *   1. finishes TTL deletes that fired earlier (ttl_fired_ms set: by this
 *      leader or one before it): fs_delete of the file — the store, then a
 *      journaled delete; a store object already gone counts as deleted;
 *   2. pages through the expired files (an indexed query, `batch` rows at a
 *      time: memory does not grow with their number) and proposes one
 *      ttl_fire command for each; a delete that fired is finished at once
 *      as in 1. A file on a read-only mount is never deleted (it is skipped
 *      with a warning; setting such a TTL is refused anyway). Before the
 *      free files of a page fire, their cached blocks are dropped on every
 *      live worker (opts.drop, one request per worker for the page; a
 *      pinned file keeps its blocks); if a worker fails, those files are
 *      not fired and the next pass tries again. Dropping is idempotent, so
 *      a failover between the drop and the firing drops again and fires
 *      once.
 * The firing is journaled before the store is touched and the pass keeps
 * nothing in memory between steps, so a new leader continues from the
 * namespace: a fired delete is finished exactly once (the store delete is
 * idempotent, the namespace delete is one command), and a decision proposed
 * twice applies once (ttl_fire's check fails with ST_ESTALE the second time).
 *
 * The files of a page are worked on by 8 threads at once, so their
 * commands share the metadata service's batched commits. A pass stops
 * after budget_ms (the runner's other jobs wait while it runs); the rest is
 * found by the next pass.
 */
struct ttlcheck;

struct ttlcheck_opts {
	struct meta *meta;
	struct fs *fs;
	struct events *events;         /* leader-side events (the end of a delete); may be NULL */
	int64_t (*wall_ms)(void *arg); /* Unix ms (expiries are wall time); NULL: clock_wall_ms */
	void *clock_arg;
	/* Drops cached blocks on the workers (datajobs_drop); NULL: a free
	 * only clears the TTL. */
	int (*drop)(struct datajobs *arg, const struct datajobs_drop *files, size_t n, char *err,
		    size_t errlen);
	struct datajobs *drop_arg;
	size_t batch;       /* rows per query; 0: 256 */
	int64_t budget_ms;  /* per pass, monotonic; 0: 2000 */
};

struct ttlcheck_stats {
	uint64_t passes;
	uint64_t fired_free, fired_delete; /* ttl_fire commands applied */
	uint64_t dropped_files;            /* free: files whose blocks were dropped */
	uint64_t deleted;                  /* fired deletes finished */
	uint64_t stale;                    /* decisions that no longer held */
	uint64_t skipped_readonly;
	uint64_t errors;
};

/* NULL on allocation failure; opts is copied. */
struct ttlcheck *ttlcheck_new(const struct ttlcheck_opts *opts);
void ttlcheck_free(struct ttlcheck *t);

/* One pass; the number of files acted on, or a negative errno (err says
 * why: ST_ENOTLEADER when leadership was lost mid-way). */
int ttlcheck_run(struct ttlcheck *t, char *err, size_t errlen);

/* A PERIODIC job spec running ttlcheck_run every period_ms. */
void ttlcheck_spec(struct ttlcheck *t, int64_t period_ms, struct jobs_spec *out);

void ttlcheck_get_stats(struct ttlcheck *t, struct ttlcheck_stats *out);

#endif
