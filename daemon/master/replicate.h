#ifndef STRATA_MASTER_REPLICATE_H
#define STRATA_MASTER_REPLICATE_H

#include "daemon/master/blockmap.h"
#include "daemon/master/jobs.h"
#include "daemon/master/registry.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct events;
struct meta;

/*
 * Replication and decommission (docs/replication.md): the leader keeps at
 * least `min` cached copies of each cached block on distinct live workers
 * and at most `max`, and drains decommissioning workers.
 *
 * The owners of a block are the first k workers of its rendezvous order
 * (lib/placement.h) over the eligible workers (live, not decommissioning
 * or decommissioned), k = max(file's repl_min, 1). A periodic leader job
 * compares the block map with that and queues orders for workers, which
 * take them with their next heartbeat reply:
 *   - copy: "fetch block B of file P from worker S" — the target reads the
 *     block from a live holder (the peer block route, cached copies only,
 *     never the store) and caches it;
 *   - drop: "remove your copy of B" — copies beyond max, the holders last
 *     in the rendezvous order first.
 * An order stays in flight until the block map shows it done or it times
 * out (then the next pass may order it again). Copies on decommissioning
 * workers are sources but do not count, so their blocks get copies on
 * their new owners; once a decommissioning worker holds no block short of
 * copies for two passes in a row, it becomes decommissioned (journaled)
 * and leaves placement: the workers then read from the new owners, which
 * hold the blocks already.
 *
 * Administrative states are journaled (worker_state, by address) and
 * reloaded into the registry when a master gains leadership. Thread-safe.
 */
struct repl;

struct repl_opts {
	struct meta *meta;
	struct registry *registry;
	struct blockmap *blocks;
	struct events *events;   /* may be NULL */
	int64_t order_timeout_ms; /* an order in flight is given up after this */
	size_t batch;             /* orders per worker per heartbeat reply */
};

/* NULL on allocation failure. */
struct repl *repl_new(const struct repl_opts *o);
void repl_free(struct repl *r);

/* The checker as a periodic job of the runner (jobs.h). */
void repl_spec(struct repl *r, int64_t period_ms, struct jobs_spec *out);

/* Adds the orders queued for worker_id to a heartbeat reply object:
 * "replicate": [{"block","path","data_id","source"}] and "drop": [block]
 * (ids as decimal strings); adds nothing when none is queued. 0 or
 * -ENOMEM. */
int repl_take_orders(struct repl *r, uint64_t worker_id, struct cJSON *reply);

/*
 * Starts draining worker id: journals worker_state "decommissioning" for
 * its address and marks it so in the registry. Setting it again (or on a
 * worker already decommissioned) changes nothing and succeeds. *out gets
 * the worker's entry after the change. -ENOENT (err names the field 'id')
 * for an unknown id, or what meta_submit returns.
 */
int repl_decommission(struct repl *r, uint64_t id, int64_t now_wall_ms,
		      struct registry_entry *out, char *err, size_t errlen);

struct repl_stats {
	uint64_t under_replicated;  /* blocks short of copies, last pass */
	uint64_t over_replicated;   /* blocks above max, last pass */
	uint64_t copies_ordered, copies_made, copies_timed_out;
	uint64_t drops_ordered, drops_made;
	uint64_t passes;
	uint64_t passes_skipped;    /* nothing it reads had changed since a pass with nothing to do */
	uint64_t decommissioning;   /* workers draining, last pass */
};
void repl_stats_get(struct repl *r, struct repl_stats *out);

/* ---- the pure core (unit tested) ---- */

#define REPL_MAX_COPIES 16

/* A worker as the planner sees it. */
struct repl_worker {
	uint64_t id;
	bool live;
	enum worker_admin admin;
};

struct repl_plan {
	size_t want;       /* copies wanted: min(k, eligible workers) */
	size_t have;       /* copies on eligible workers */
	size_t nfetch;
	uint64_t fetch_to[REPL_MAX_COPIES]; /* targets, in rendezvous order */
	uint64_t source;   /* a live holder to copy from (0: none) */
	size_t ndrop;
	uint64_t drop_from[BLOCKMAP_MAX_LOCS];
};

/* What to do about one block held at locs: min the file's repl_min (0 is
 * 1; at most BLOCKMAP_MAX_LOCS copies are kept track of), max its
 * repl_max (-1 unbounded). Pure. */
void repl_plan_block(uint64_t block, const struct block_loc *locs, size_t nloc,
		     const struct repl_worker *workers, size_t nworkers, int64_t min, int64_t max,
		     struct repl_plan *out);

#endif
