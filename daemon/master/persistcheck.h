#ifndef STRATA_MASTER_PERSISTCHECK_H
#define STRATA_MASTER_PERSISTCHECK_H

#include "daemon/master/jobs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct blockmap;
struct meta;
struct registry;

/*
 * The persistence checker: a periodic leader-only job (jobs.h) that finds
 * data nobody holds any more. A file that is not persisted (ASYNC_THROUGH
 * before its persist job, MUST_CACHE) exists only as cached blocks; when
 * some block of it has no copy on a live worker (its workers were lost, or
 * came back without it: a wiped tier), the file is marked `lost` (a
 * journaled set_persistence, which records the event persist_lost), never
 * silently dropped. A lost file whose blocks are all reported again (a
 * worker that was cut off returns) goes back to not_persisted.
 *
 * Block locations are soft state (blockmap.h) that workers report within a
 * heartbeat of a change, so nothing is judged within `grace_ms` of a file's
 * write (its mtime) nor of this master gaining the lead (workers register
 * with their full lists then). Nothing is kept between passes: a new
 * leader starts over from the namespace.
 */
struct persistcheck;

struct persistcheck_opts {
	struct meta *meta;
	struct registry *registry;
	struct blockmap *blocks;
	int64_t grace_ms;  /* see above; the worker timeout */
	size_t batch;      /* rows per query; 0: 256 */
	int64_t (*wall_ms)(void *arg); /* NULL: clock_wall_ms */
	int64_t (*mono_ms)(void *arg); /* NULL: clock_mono_ms */
	void *clock_arg;
};

struct persistcheck_stats {
	uint64_t passes;
	uint64_t lost;      /* files marked lost */
	uint64_t recovered; /* lost files whose blocks came back */
};

/* NULL on allocation failure; opts is copied. */
struct persistcheck *persistcheck_new(const struct persistcheck_opts *opts);
void persistcheck_free(struct persistcheck *p);

/* One pass: the number of files whose state changed, or a negative errno
 * with err. */
int persistcheck_run(struct persistcheck *p, char *err, size_t errlen);

/* A PERIODIC job spec running persistcheck_run every period_ms. */
void persistcheck_spec(struct persistcheck *p, int64_t period_ms, struct jobs_spec *out);

void persistcheck_get_stats(struct persistcheck *p, struct persistcheck_stats *out);

#endif
