#ifndef STRATA_TESTS_RAFT_SIM_H
#define STRATA_TESTS_RAFT_SIM_H

/*
 * A whole Raft cluster in one process on logical time: an in-memory
 * "durable" store per node (term, vote, log, snapshot), a network that can
 * drop, duplicate, delay, reorder and partition, crashes that lose
 * whatever a node had not yet made durable, and a one-register state
 * machine. Everything random comes from one seed, so a failing run
 * reproduces exactly. Invariant checks run after every step and record the
 * first violation in sim->failure.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"
#include "raft/storage.h"

#define SIM_MAX_NODES 7

struct sim_faults {
	uint32_t drop_pct;       /* per message, percent */
	uint32_t dup_pct;
	uint32_t max_delay;      /* extra delivery delay in steps: [0, max] */
	uint32_t crash_permille; /* per step */
	uint32_t restart_pct;    /* per step, for a down node */
	uint32_t torn_pct;       /* crash in the middle of persisting a ready */
	uint32_t partition_permille;
	uint32_t heal_pct;
	uint32_t write_pct;      /* client writes per step */
	uint32_t read_pct;       /* client ReadIndex reads per step */
	uint32_t conf_permille;  /* membership changes */
	uint32_t transfer_permille;
	uint32_t snapshot_every; /* compact when applied - snap >= this; 0 off */
};

struct sim_node {
	uint64_t id;
	struct raft *r; /* NULL while crashed */
	struct raft_storage *st; /* real storage (sim->storage_root), or NULL */
	uint32_t incarnation;
	/* "durable" state: what survives a crash */
	struct raft_hard_state hs;
	struct raft_snapshot snap; /* snap.index == 0: none */
	struct raft_entry *log;    /* entries after snap.index */
	size_t nlog, log_cap;
	/* state machine: one register */
	uint64_t value;
	uint64_t applied;
	/* confirmed reads waiting for apply: op ids and indexes */
	uint64_t *wait_op, *wait_index;
	size_t nwait, wait_cap;
	bool saw_snapshot_install;
	bool torn_pending;      /* crashed torn, not yet restarted */
	uint64_t timeout_now_term; /* term when a TimeoutNow arrived; 0: none */
	enum raft_role last_role; /* for tracing role changes */
	uint64_t last_term;
};

struct sim_msg {
	struct raft_msg m;
	uint64_t deliver_at;
};

enum sim_op_kind { SIM_OP_WRITE, SIM_OP_READ };

struct sim_op {
	enum sim_op_kind kind;
	uint64_t value;     /* written, or read */
	uint64_t invoke;
	uint64_t complete;  /* 0: never answered */
	uint64_t node;
	uint32_t incarnation;
	uint64_t index, term; /* write: where the leader put it */
};

struct sim_kv; /* private hash tables */

struct sim {
	uint64_t seed;
	uint64_t rng;
	uint64_t now;
	size_t n;
	struct sim_node nodes[SIM_MAX_NODES];
	struct raft_options opts;
	struct raft_config initial;
	struct sim_faults faults;
	/* When set, nodes also persist through raft/storage.h in
	 * storage_root/n<id> and restart from it; a torn crash then cuts the
	 * newest segment somewhere inside the bytes of the unfinished append. */
	char storage_root[128];
	int group[SIM_MAX_NODES]; /* partition id; messages cross no groups */
	bool cut[SIM_MAX_NODES][SIM_MAX_NODES]; /* manual link cuts */
	struct sim_msg *net;
	size_t nnet, net_cap;
	uint64_t delivered, dropped;
	/* history */
	struct sim_op *ops;
	size_t nops, ops_cap;
	uint64_t next_value;
	/* invariants */
	uint64_t *leader_of_term; /* by term; 0: none seen */
	size_t leader_terms;
	struct sim_kv *kv; /* (index, term) -> digest; index -> applied digest */
	uint64_t max_applied;
	uint64_t last_checked_leader, last_checked_term;
	bool failed;
	char failure[512];
	bool trace; /* print every event to stdout (for replaying a seed) */
	/* stats */
	uint64_t leader_changes, crashes, restarts, torn, snapshots, installs;
	uint64_t commits_seen, reads_done, writes_done, conf_changes, transfers;
	/* What the faults above actually did (conf_changes and transfers
	 * count only proposals the leader accepted), so a test can assert
	 * that the fault it is named after happened. */
	uint64_t snapshot_msgs;  /* InstallSnapshot messages stepped into a live node */
	uint64_t confs_applied;  /* configuration entries applied (once per index) */
	uint64_t transfers_done; /* a TimeoutNow receiver won the next term */
	uint64_t torn_recovered; /* a node restarted after a torn crash */
	uint64_t torn_tails_cut; /* real storage: a reopen truncated a torn tail */
};

/* nnodes nodes with ids 1..nnodes; the first nvoters form the initial
 * configuration (the rest start empty and can be added). */
int sim_init(struct sim *s, uint64_t seed, size_t nnodes, size_t nvoters,
	     const struct raft_options *base, const struct sim_faults *faults);
/* The same with real storage under storage_root (an existing, empty dir). */
int sim_init_storage(struct sim *s, uint64_t seed, size_t nnodes, size_t nvoters,
		     const struct raft_options *base, const struct sim_faults *faults,
		     const char *storage_root);
void sim_free(struct sim *s);

uint64_t sim_rand(struct sim *s, uint64_t bound);

/* One logical step: random faults and client ops (per s->faults), one
 * tick for every live node, delivery of due messages, invariant checks. */
void sim_step(struct sim *s);
/* Runs steps; stops early on failure. */
void sim_run(struct sim *s, uint64_t steps);

/* Manual control for focused tests. */
struct sim_node *sim_node(struct sim *s, uint64_t id);
void sim_tick(struct sim *s, uint64_t id);
void sim_tick_all(struct sim *s, uint32_t ticks); /* ticks + deliveries */
void sim_deliver_all(struct sim *s);  /* until the network is quiet */
void sim_process(struct sim *s, uint64_t id); /* drain readies */
void sim_isolate(struct sim *s, uint64_t id, bool isolated);
void sim_cut(struct sim *s, uint64_t a, uint64_t b, bool cut);
void sim_crash(struct sim *s, uint64_t id);
void sim_restart(struct sim *s, uint64_t id);
uint64_t sim_leader(struct sim *s); /* highest-term live leader, or 0 */
/* Client write through node id; returns the raft_propose rc. */
int sim_write(struct sim *s, uint64_t id, uint64_t value);
int sim_read(struct sim *s, uint64_t id);
/* Invariant checks that are not per-step: linearizability of the history
 * and that all live nodes agree once quiet. */
void sim_check_history(struct sim *s);
void sim_fail(struct sim *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
