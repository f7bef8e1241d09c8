#ifndef STRATA_MASTER_CLUSTER_H
#define STRATA_MASTER_CLUSTER_H

#include "daemon/master/blockmap.h"
#include "daemon/master/jobs.h"
#include "daemon/master/registry.h"

#include <stddef.h>
#include <stdint.h>

struct cJSON;

/*
 * The rules of cluster membership: what a worker's registration and
 * heartbeats change in the registry (who is live) and the block map (where
 * cached blocks are), and when a silent worker is lost. Both are soft state
 * (never journaled); the REST layer parses the worker RPC bodies into the
 * structs below and calls one function. Time is passed in (monotonic ms), so
 * every rule is testable without sleeping. Thread-safe as the registry and
 * block map are.
 */

/* One cached block a worker reports: its id and tier (0 = top, MEM). */
struct cluster_block {
	uint64_t block_id;
	int tier;
};

/* A registration: the worker's report and its full block list. */
struct cluster_registration {
	struct worker_report worker;
	const struct cluster_block *blocks;
	size_t nblocks;
};

/*
 * Registers (or re-registers, from the same host:port: same id) a worker and
 * replaces its block list with the one it sent. worker.host must be 1..255
 * characters (-EINVAL with the reason in err). Returns 0 and the id in *id,
 * or -ENOMEM.
 */
int cluster_register(struct registry *reg, struct blockmap *bm,
		     const struct cluster_registration *r, int64_t now_ms, uint64_t *id,
		     char *err, size_t errlen);

/* A heartbeat: capacity, counters and the block changes since the last one. */
struct cluster_heartbeat {
	uint64_t worker_id;
	int64_t capacity_bytes, used_bytes;
	const struct cJSON *metrics; /* object of numbers, or NULL; copied */
	const struct cluster_block *added;
	size_t nadded;
	const uint64_t *removed;
	size_t nremoved;
	/* The address the worker registered with (NULL: not sent). Another
	 * worker's id (this master restarted and numbered them anew) is
	 * -ENOENT as an unknown one. */
	const char *host;
	int data_port;
};

/*
 * Records a heartbeat and applies its block changes. -ENOENT (with err)
 * when the worker is unknown: it must register again (after a master
 * restart or a leader change) and send its full list then.
 */
int cluster_heartbeat(struct registry *reg, struct blockmap *bm,
		      const struct cluster_heartbeat *hb, int64_t now_ms, char *err,
		      size_t errlen);

/*
 * The reply to a heartbeat: {"status":"ok", "workers": the live workers
 * (the peers a worker places blocks over), "mounts": the mount paths (for
 * the worker's per-mount read counters)}. mounts_doc: fs_mounts_json's
 * document, or NULL to leave "mounts" out. NULL when out of memory.
 */
struct cJSON *cluster_heartbeat_reply(struct registry *reg, const struct cJSON *mounts_doc);

/* Marks workers lost that sent nothing for the registry's timeout; a lost
 * worker's blocks no longer count as locations. Returns how many became
 * lost. */
int cluster_check_lost(struct registry *reg, struct blockmap *bm, int64_t now_ms);

/* How often cluster_check_lost should run for a worker timeout: a quarter
 * of it, within [25 ms, 1 s], so a loss shows soon after it happens. */
int64_t cluster_check_period_ms(int64_t worker_timeout_ms);

/*
 * The lost-worker check as a job of the runner (jobs.h): periodic every
 * cluster_check_period_ms, no journaled state (resume and stop are NULL).
 * Leader-only like every job: workers report to the leader, so a follower's
 * registry only holds what it heard while it led; it is checked again (and
 * the workers that report elsewhere now are marked lost at once) when that
 * master leads again. *job must outlive the job.
 */
struct cluster_lost_job {
	struct registry *reg;
	struct blockmap *bm;
};
void cluster_lost_job_spec(struct cluster_lost_job *job, int64_t worker_timeout_ms,
			   struct jobs_spec *out);

#endif
