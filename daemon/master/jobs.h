#ifndef STRATA_MASTER_JOBS_H
#define STRATA_MASTER_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The master's job runner: background work only the leader does (the
 * lost-worker check, a pending master.root_ufs mount, the TTL checker and
 * the data jobs of datajobs.h; next the replication policies).
 *
 * Every master registers the same jobs at start; only the one that leads
 * runs them. The runner reads leadership and time through the hooks in
 * struct jobs_opts, so jobs_tick — one step of the runner — is driven by
 * tests on virtual time; jobs_start runs it on a thread.
 *
 * A job is a step function the runner calls when the job is due:
 *   PERIODIC  due every period_ms (first step at once when leadership is
 *             gained, then period_ms after each step began);
 *   ONESHOT   due period_ms after it was added (or after leadership was
 *             gained), again period_ms after each step that returned
 *             JOBS_AGAIN, finished by JOBS_DONE.
 * A step that fails (negative return) is logged with its err and retried
 * when due again; it does not end the job.
 *
 * The contract that makes jobs restartable (docs/decisions.md, "Jobs"):
 *   - Nothing a job keeps in memory survives a change of leader. On every
 *     leadership gain the runner calls resume() before the job's first step:
 *     it rebuilds the job's progress from the namespace, the replicated
 *     state every master has.
 *   - A step does one bounded slice of work and, when that slice made
 *     progress that must not be redone (blocks loaded, files expired),
 *     journals it with its own command (meta_submit) before returning. So
 *     a new leader's resume() continues where the old leader's last journaled
 *     step ended, and a step is idempotent from there.
 *   - On step-down (and on cancel) the runner calls stop(): drop in-memory
 *     state; no step runs until leadership returns (and resume() again).
 *   - Periodic checkers that only read soft state (the lost-worker check)
 *     need no state: resume and stop may be NULL.
 * Steps, resume and stop run on the runner's thread with its lock held:
 * they must not call jobs_add or jobs_cancel (a step ends its own job by
 * returning JOBS_DONE), and should return within a fraction of a second.
 */
struct jobs;

enum jobs_kind { JOBS_PERIODIC, JOBS_ONESHOT };

/* What a step returns besides a negative error. */
enum { JOBS_AGAIN = 0, JOBS_DONE = 1 };

struct jobs_spec {
	const char *name; /* for logs; copied */
	enum jobs_kind kind;
	int64_t period_ms; /* PERIODIC: >= 1; ONESHOT: >= 0 */
	/* Rebuild progress from the namespace; 0, or negative with err (the
	 * runner retries it when the job is next due). May be NULL. */
	int (*resume)(void *arg, char *err, size_t errlen);
	/* One slice of work at now_ms: JOBS_AGAIN, JOBS_DONE or negative. */
	int (*step)(void *arg, int64_t now_ms, char *err, size_t errlen);
	/* Step-down or cancel: forget in-memory state. May be NULL. */
	void (*stop)(void *arg);
	void *arg; /* the job's; outlives the job */
};

struct jobs_opts {
	/* Monotonic milliseconds (clock_mono_ms in the master). */
	int64_t (*now_ms)(void *arg);
	/* Whether this master leads now. */
	bool (*leading)(void *arg);
	void *arg;
	/* jobs_start's thread: how often it looks at leadership when no job is
	 * due sooner. 0: 100 ms. */
	int64_t poll_ms;
};

/* NULL on allocation failure. opts is copied. */
struct jobs *jobs_new(const struct jobs_opts *opts);
/* Stops the thread if started, calls stop() of the jobs that were resumed,
 * frees. NULL is fine. */
void jobs_free(struct jobs *j);

/* Adds a job; its id in *id (may be NULL). -EINVAL (no step, a period out
 * of range), -ENOMEM. Finished and cancelled jobs stay listed (jobs_info)
 * until jobs_free. */
int jobs_add(struct jobs *j, const struct jobs_spec *spec, uint64_t *id);
/* Cancels a job: when this returns its step is not running and never runs
 * again, and its stop() has been called if it had been resumed. -ENOENT
 * for an unknown (or already finished or cancelled) id. */
int jobs_cancel(struct jobs *j, uint64_t id);

/*
 * One step of the runner: reads the clock and leadership, handles a gain
 * (resume) or loss (stop) of leadership, and runs every job that is due.
 * Returns how many steps ran. jobs_start's thread calls it; tests call it
 * directly instead of starting the thread.
 */
int jobs_tick(struct jobs *j);

/* Starts the runner's thread; 0 or a negative errno. */
int jobs_start(struct jobs *j);

enum jobs_state { JOBS_WAITING, JOBS_FINISHED, JOBS_CANCELLED };

struct jobs_info {
	enum jobs_state state;
	uint64_t steps;    /* steps run, failed ones included */
	uint64_t failures; /* steps and resumes that returned an error */
};
/* A job's state; -ENOENT for an id never given out. */
int jobs_info(struct jobs *j, uint64_t id, struct jobs_info *out);

#endif
